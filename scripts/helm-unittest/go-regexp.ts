// Go (RE2) regular expressions in JavaScript. The syntaxes nearly coincide; this bridges the
// differences suites actually use: leading inline flags `(?i)`, `(?s)`, `(?m)`, named groups
// `(?P<name>...)`, and the text anchors `\A` and `\z`.
export class GoRegExpError extends Error {
  override readonly name = 'GoRegExpError';
}

/** A JavaScript RegExp that searches like Go's regexp.MatchString (unanchored). */
export function goRegExp(pattern: string): RegExp {
  let source = pattern;
  let flags = 'u';
  const inline = /^\(\?([imsU]+)\)/.exec(source);
  if (inline !== null) {
    const modifiers = inline[1] ?? '';
    if (modifiers.includes('U')) throw new GoRegExpError(`unsupported flag U in ${pattern}`);
    for (const flag of modifiers) if (!flags.includes(flag)) flags += flag;
    source = source.slice(inline[0].length);
  }
  source = source.replaceAll('(?P<', '(?<').replaceAll('\\A', '^').replaceAll('\\z', '$(?![\\s\\S])');
  try {
    return new RegExp(source, flags);
  } catch (error) {
    try {
      // Go accepts some escapes (e.g. `\-` outside a class) that the `u` flag rejects.
      return new RegExp(source, flags.replace('u', ''));
    } catch {
      throw new GoRegExpError(`error parsing regexp: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
}
