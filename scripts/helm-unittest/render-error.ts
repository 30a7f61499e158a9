// Where a template error came from and what `failedTemplate.errorMessage` compares, parsed the
// way upstream does (pkg/unittest/test_job.go): the file is the path before `:LINE:COL`; the
// message is the text after the first `: ` that comes at least one character past `FILE:L:C`
// (so `...:7:8: executing ... <include ...>: MSG` and `(...:3:5): MSG` both give MSG), up to the
// end of that line; for a multi-line error the message is everything after the first line.
// Upstream's Go pattern is `(?msU)^(?:.+: |.+ \()(?:(.+):\d+:\d+).+(?:.+>)*: (.+)$`; `U` swaps
// greediness, which is spelled out below with lazy quantifiers.
const ERROR_PATTERN = /^(?:[\s\S]+?: |[\s\S]+? \()(?:([\s\S]+?):\d+:\d+)[\s\S]+?(?:[\s\S]+?>)*?: ([\s\S]+?)$/m;

export interface ParsedRenderError {
  /** Template path as Helm names it (e.g. `chart/templates/x.yaml`); "" when none was found. */
  readonly file: string;
  /** The message failedTemplate compares; "" when the error could not be parsed. */
  readonly message: string;
}

export function parseRenderError(error: string): ParsedRenderError {
  const match = ERROR_PATTERN.exec(error);
  if (match === null) return { file: '', message: '' };
  const newline = error.indexOf('\n');
  const message = newline >= 0 ? error.slice(newline + 1) : (match[2] ?? '');
  return { file: match[1] ?? '', message };
}
