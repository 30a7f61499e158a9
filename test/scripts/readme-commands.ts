// The README's release section as data: its fenced blocks under their headings, each shell
// line split into words the way sh would (quotes, $VAR, `&&`, a trailing `&`), so that a test
// can run the commands an operator would type, exactly as written.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { projectRoot } from '../../app/config.js';

export interface Command {
  readonly words: readonly string[];
  /** The line ended in `&` (started in the background). */
  readonly background: boolean;
  /** The source line, for messages. */
  readonly line: string;
}

export interface Block {
  /** The nearest `###` heading above the block. */
  readonly heading: string;
  /** The fence's language: sh blocks are commands, console blocks are transcripts. */
  readonly lang: string;
  readonly lines: readonly string[];
}

/** The fenced blocks of the README section that starts with `## <title>`. */
export async function readmeSection(title: string): Promise<Block[]> {
  const readme = await readFile(path.join(projectRoot(), 'README.md'), 'utf8');
  const start = readme.indexOf(`\n## ${title}\n`);
  if (start < 0) throw new Error(`README.md has no "## ${title}" section`);
  const end = readme.indexOf('\n## ', start + 1);
  const section = readme.slice(start, end < 0 ? undefined : end);
  const blocks: Block[] = [];
  let heading = title;
  let fence: { lang: string; lines: string[] } | undefined;
  for (const line of section.split('\n')) {
    if (fence === undefined) {
      if (line.startsWith('### ')) heading = line.slice(4).trim();
      const open = /^```(\w*)\s*$/.exec(line);
      if (open !== null) fence = { lang: open[1] ?? '', lines: [] };
    } else if (line.startsWith('```')) {
      blocks.push({ heading, lang: fence.lang, lines: fence.lines });
      fence = undefined;
    } else {
      fence.lines.push(line);
    }
  }
  return blocks;
}

/**
 * The commands of an sh block: comments and blank lines dropped, `\` continuations joined,
 * `a && b` split in two. `$NAME` and `${NAME}` expand from `env`; `$(...)` is kept as one
 * word, unexpanded (the caller decides what such a line means).
 */
export function commands(block: Block, env: Readonly<Record<string, string>>): Command[] {
  const joined: string[] = [];
  let pending = '';
  for (const raw of block.lines) {
    const line = raw.trimEnd();
    if (pending === '' && (line.trim() === '' || line.trim().startsWith('#'))) continue;
    if (line.endsWith('\\')) {
      pending += `${line.slice(0, -1)} `;
      continue;
    }
    joined.push(pending + line);
    pending = '';
  }
  const out: Command[] = [];
  for (const line of joined) {
    const words = shellWords(line, env);
    const background = words.at(-1) === '&';
    const all = background ? words.slice(0, -1) : words;
    let current: string[] = [];
    for (const w of all) {
      if (w === '&&') {
        out.push({ words: current, background: false, line });
        current = [];
      } else {
        current.push(w);
      }
    }
    out.push({ words: current, background, line });
  }
  return out;
}

/** sh word splitting for the subset the README uses: '...', "...", $VAR, $(...), #comments. */
export function shellWords(line: string, env: Readonly<Record<string, string>>): string[] {
  const words: string[] = [];
  let word = '';
  let inWord = false;
  let i = 0;
  const expand = (): void => {
    const m = /^\$(?:\{([A-Za-z_]\w*)\}|([A-Za-z_]\w*))/.exec(line.slice(i));
    if (m === null) {
      word += '$';
      i++;
      return;
    }
    const name = m[1] ?? m[2] ?? '';
    if (!(name in env)) throw new Error(`README line uses $${name}, which is not set: ${line}`);
    word += env[name];
    i += m[0].length;
  };
  while (i < line.length) {
    const c = line[i] ?? '';
    if (c === "'") {
      const close = line.indexOf("'", i + 1);
      if (close < 0) throw new Error(`unclosed ' in: ${line}`);
      word += line.slice(i + 1, close);
      inWord = true;
      i = close + 1;
    } else if (c === '"') {
      i++;
      while (i < line.length && line[i] !== '"') {
        if (line[i] === '$') expand();
        else word += line[i++];
      }
      if (i >= line.length) throw new Error(`unclosed " in: ${line}`);
      i++;
      inWord = true;
    } else if (c === '$' && line[i + 1] === '(') {
      const close = line.indexOf(')', i);
      word += line.slice(i, close + 1);
      inWord = true;
      i = close + 1;
    } else if (c === '$') {
      expand();
      inWord = true;
    } else if (c === '#' && !inWord) {
      break;
    } else if (/\s/.test(c)) {
      if (inWord) words.push(word);
      word = '';
      inWord = false;
      i++;
    } else {
      word += c;
      inWord = true;
      i++;
    }
  }
  if (inWord) words.push(word);
  return words;
}

/** `npm run --silent NAME -- ARGS` -> the script file package.json runs for NAME, and ARGS. */
export async function npmScript(words: readonly string[]): Promise<{ script: string; args: string[] }> {
  if (words[0] !== 'npm' || words[1] !== 'run') throw new Error(`not an npm run command: ${words.join(' ')}`);
  if (words[2] !== '--silent')
    throw new Error(`${words.join(' ')}: a README example whose stdout is read must use npm run --silent`);
  const name = words[3] ?? '';
  const pkg = JSON.parse(await readFile(path.join(projectRoot(), 'package.json'), 'utf8')) as {
    scripts: Record<string, string>;
  };
  const body = pkg.scripts[name];
  const m = body === undefined ? null : /^node --import tsx scripts\/(\S+\.ts)$/.exec(body);
  if (m === null)
    throw new Error(`npm run ${name}: package.json runs ${JSON.stringify(body)}, not one scripts/*.ts file`);
  const rest = words.slice(4);
  if (rest.length > 0 && rest[0] !== '--') throw new Error(`${words.join(' ')}: arguments must follow --`);
  return { script: m[1] ?? '', args: rest.slice(1) };
}
