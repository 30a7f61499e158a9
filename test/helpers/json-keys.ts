// JSON.parse keeps the last of two equal keys without a word, and log stores differ on what
// they do with such a line (some refuse it whole), so the test of log lines reads the raw text.
// Written by hand: no well-kept library reports duplicate keys of a parsed text.

/** Keys that occur more than once at the top level of one JSON object text. */
export function duplicateTopLevelKeys(text: string): string[] {
  const seen = new Set<string>();
  const duplicates = new Set<string>();
  let depth = 0;
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    if (c === '"') {
      let j = i + 1;
      while (j < text.length && text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
      const raw = text.slice(i, j + 1);
      let k = j + 1;
      while (text[k] === ' ') k++;
      if (depth === 1 && text[k] === ':') {
        const key = JSON.parse(raw) as string;
        if (seen.has(key)) duplicates.add(key);
        seen.add(key);
      }
      i = j + 1;
      continue;
    }
    if (c === '{' || c === '[') depth++;
    else if (c === '}' || c === ']') depth--;
    i++;
  }
  return [...duplicates];
}
