// Known-answer canaries: texts with the label and score the locked model gave at release.
// The lock carries them (`canaries`), MODEL_CANARIES overrides them; this is their shape.

export interface Canary {
  readonly text: string;
  /** Label without the `__label__` prefix. */
  readonly label: string;
  /** The top score the released model gave, in [0, 1]. */
  readonly score: number;
}

/** At most this many: every canary is a call on every started tier, at every run. */
export const MAX_CANARIES = 32;
const MAX_TEXT_CHARS = 1000;

/** Validates a parsed `canaries` value; returns the problems found (empty when valid). */
export function canaryProblems(value: unknown, what: string): string[] {
  if (!Array.isArray(value)) return [`${what} must be an array of {"text", "label", "score"}`];
  const problems: string[] = [];
  if (value.length > MAX_CANARIES) problems.push(`${what} has ${value.length} entries; at most ${MAX_CANARIES}`);
  value.forEach((c: unknown, i) => {
    const at = `${what}[${i}]`;
    if (typeof c !== 'object' || c === null || Array.isArray(c)) {
      problems.push(`${at} must be an object {"text", "label", "score"}`);
      return;
    }
    const entry = c as Record<string, unknown>;
    for (const key of Object.keys(entry)) if (!['text', 'label', 'score'].includes(key)) problems.push(`${at}: unknown field ${JSON.stringify(key)}`);
    if (typeof entry.text !== 'string' || entry.text.trim() === '' || entry.text.length > MAX_TEXT_CHARS || /[\r\n]/.test(entry.text)) {
      problems.push(`${at}.text must be a non-empty single-line string of at most ${MAX_TEXT_CHARS} characters`);
    }
    if (typeof entry.label !== 'string' || entry.label === '' || entry.label.startsWith('__label__') || /\s/.test(entry.label)) {
      problems.push(`${at}.label must be a label without the __label__ prefix and without spaces`);
    }
    if (typeof entry.score !== 'number' || !Number.isFinite(entry.score) || entry.score < 0 || entry.score > 1) {
      problems.push(`${at}.score must be a number in [0, 1]`);
    }
  });
  return problems;
}

/** The canaries of a valid value (call canaryProblems first). */
export function toCanaries(value: readonly Canary[]): Canary[] {
  return value.map(({ text, label, score }) => ({ text, label, score }));
}
