// Sentences for load: a few languages the bundled language-identification model knows, each
// made unique by a counter so the service's prediction cache never answers for the engine.
const WORDS: readonly (readonly string[])[] = [
  [
    'the',
    'quick',
    'brown',
    'fox',
    'jumps',
    'over',
    'lazy',
    'dog',
    'while',
    'people',
    'watch',
    'from',
    'their',
    'windows',
    'every',
    'morning',
  ],
  [
    'le',
    'renard',
    'brun',
    'saute',
    'par',
    'dessus',
    'chien',
    'paresseux',
    'pendant',
    'que',
    'les',
    'gens',
    'regardent',
    'depuis',
    'leurs',
    'fenetres',
  ],
  [
    'der',
    'schnelle',
    'braune',
    'fuchs',
    'springt',
    'uber',
    'den',
    'faulen',
    'hund',
    'während',
    'die',
    'leute',
    'aus',
    'ihren',
    'fenstern',
    'schauen',
  ],
  [
    'el',
    'rapido',
    'zorro',
    'marron',
    'salta',
    'sobre',
    'perro',
    'perezoso',
    'mientras',
    'la',
    'gente',
    'mira',
    'desde',
    'sus',
    'ventanas',
    'cada',
  ],
];

/** The n-th text: about 12 words of one language, and the number n in words' clothing. */
export function textNumber(n: number): string {
  const words = WORDS[n % WORDS.length] as readonly string[];
  const out: string[] = [];
  let x = n;
  for (let i = 0; i < 12; i++) {
    out.push(words[(x + i * 7) % words.length] as string);
    x = Math.floor(x / 3) + i;
  }
  return `${out.join(' ')} ${n.toString(36)}`;
}
