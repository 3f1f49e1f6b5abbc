// Writes lib/tokenization/bert-unicode-tables.ts: how Hugging Face's Rust tokenizer (the npm package
// `tokenizers`, a devDependency) classifies every code point U+0000–U+10FFFF for BERT's normalizer
// and pre-tokenizer. The tables are read off the oracle itself, one aspect at a time, rather than
// from Unicode data files: Rust's `unicode_categories` and `unicode-normalization-alignments` crates
// are older than the ICU inside V8, so `\p{P}`, `\p{Mn}`, `\p{Cc}`… in JS give other answers.
//
//   npx ts-node --transpile-only scripts/tokenization/generate-bert-unicode-tables.ts
//
// Each BertNormalizer option is probed on its own (the others off) over every code point, separated
// by '|' (which no option changes), and the pre-tokenizer over 'x{c}x' words. Where an option does
// something the rules of lib/tokenization/bert-normalizer.ts cannot express, the script fails; the
// exception lists are computed against those rules, so rules + tables reproduce every code point.
// test/tokenization/rust-oracle.test.ts verifies the whole tokenizer against the oracle independently.
import * as fs from 'fs';
import * as path from 'path';
import { bertNormalizer, bertPreTokenizer, Normalizer } from 'tokenizers';

const OUT = path.join(__dirname, '..', '..', 'lib', 'tokenization', 'bert-unicode-tables.ts');
const ORACLE_VERSION = (JSON.parse(fs.readFileSync(require.resolve('tokenizers/package.json'), 'utf8')) as { version: string }).version;

// Every Unicode scalar value (no surrogates: a Rust string cannot hold them) except '|', the separator.
const codePoints: number[] = [];
for (let c = 0; c <= 0x10ffff; c++) if ((c < 0xd800 || c > 0xdfff) && c !== 0x7c) codePoints.push(c);

function probe(options: Parameters<typeof bertNormalizer>[0]): string[] {
  const normalizer: Normalizer = bertNormalizer(options);
  const parts = normalizer.normalizeString(codePoints.map((c) => '|' + String.fromCodePoint(c)).join('')).split('|');
  parts.shift();
  if (parts.length !== codePoints.length) throw new Error(`probe ${JSON.stringify(options)}: ${parts.length} outputs for ${codePoints.length} code points`);
  return parts;
}

const off = { cleanText: false, handleChineseChars: false, stripAccents: false, lowercase: false };
const clean = probe({ ...off, cleanText: true });
const chinese = probe({ ...off, handleChineseChars: true });
const strip = probe({ ...off, stripAccents: true });
const lower = probe({ ...off, lowercase: true });

// Pre-tokenizer: 'x{c}x' stays one word, splits into x, c, x (punctuation) or x, x (whitespace).
const words = bertPreTokenizer()
  .preTokenizeString(codePoints.map((c) => `x${String.fromCodePoint(c)}x`).join(' '))
  .map(([word]) => word);
const punctuation = new Set<number>();
const whitespace = new Set<number>([0x20]);
let k = 0;
for (const c of codePoints) {
  const ch = String.fromCodePoint(c);
  if (words[k] === `x${ch}x`) k += 1;
  else if (words[k] === 'x' && words[k + 1] === ch && words[k + 2] === 'x') (punctuation.add(c), (k += 3));
  else if (words[k] === 'x' && words[k + 1] === 'x') (whitespace.add(c), (k += 2));
  else throw new Error(`pre-tokenizer output not understood at U+${hex(c)}: ${JSON.stringify(words.slice(k, k + 4))}`);
}
punctuation.add(0x7c); // '|' (skipped above) is ASCII punctuation

function hex(c: number): string {
  return c.toString(16).toUpperCase().padStart(4, '0');
}

// Sorted code points → flat [first, last, first, last, …] ranges.
function toRanges(set: Iterable<number>): number[] {
  const out: number[] = [];
  for (const c of [...set].sort((a, b) => a - b)) {
    if (out.length > 0 && out[out.length - 1] === c - 1) out[out.length - 1] = c;
    else out.push(c, c);
  }
  return out;
}
const pick = (outputs: string[], test: (out: string, ch: string) => boolean) =>
  codePoints.filter((c, i) => test(outputs[i], String.fromCodePoint(c)));

const removedByClean = pick(clean, (out) => out === '');
const odd = pick(clean, (out, ch) => out !== '' && out !== ch && !(out === ' ' && whitespace.has(ch.codePointAt(0)!)));
if (odd.length > 0) throw new Error(`clean_text does something else than remove/space/keep at U+${odd.map(hex).join(', U+')}`);
const chineseChars = pick(chinese, (out, ch) => out === ` ${ch} `);
if (pick(chinese, (out, ch) => out !== ch && out !== ` ${ch} `).length > 0) throw new Error('handle_chinese_chars does something unexpected');
const nonspacingMarks = pick(strip, (out) => out === '');

// strip_accents = Rust's NFD, then drop Mn. The runtime uses V8's NFD (decompositions of assigned
// characters never change, Unicode's stability policy) and lists where the oracle still differs:
// characters assigned after Rust's tables, which Rust leaves whole.
const markSet = new Set(nonspacingMarks);
const stripRule = (ch: string) => [...ch.normalize('NFD')].filter((x) => !markSet.has(x.codePointAt(0)!)).join('');
const stripExceptions = codePoints.map((c, i) => [c, strip[i]] as const).filter(([c, out]) => out !== stripRule(String.fromCodePoint(c)));
// lowercase = Rust's char::to_lowercase, one character at a time (no final-sigma rule).
const lowerExceptions = codePoints.map((c, i) => [c, lower[i]] as const).filter(([c, out]) => out !== String.fromCodePoint(c).toLowerCase());

function rangesSource(name: string, doc: string, set: Iterable<number>): string {
  const flat = toRanges(set);
  const lines: string[] = [];
  for (let i = 0; i < flat.length; i += 12) lines.push('  ' + flat.slice(i, i + 12).map((c) => '0x' + c.toString(16)).join(', ') + ',');
  return `/** ${doc} (${flat.length / 2} ranges) */\nexport const ${name}: readonly number[] = [\n${lines.join('\n')}\n];\n`;
}
function mapSource(name: string, doc: string, entries: readonly (readonly [number, string])[]): string {
  const escape = (out: string) => `'${[...out].map((x) => `\\u{${x.codePointAt(0)!.toString(16)}}`).join('')}'`;
  const body = entries.map(([c, out]) => `  0x${c.toString(16)}: ${escape(out)},`).join('\n');
  return `/** ${doc} (${entries.length} entries) */\nexport const ${name}: Readonly<Record<number, string>> = {\n${body}${body ? '\n' : ''}};\n`;
}

const source = [
  `// GENERATED by scripts/tokenization/generate-bert-unicode-tables.ts from the npm package tokenizers@${ORACLE_VERSION}`,
  `// (Hugging Face's Rust tokenizer) and Node ${process.version} (ICU ${process.versions.icu}, Unicode ${process.versions.unicode}). Do not edit;`,
  '// run the script again after upgrading either. Ranges are flat [first, last, first, last, …] inclusive pairs.',
  '',
  rangesSource('CLEAN_TEXT_REMOVES', "Dropped by BertNormalizer's clean_text: NUL, U+FFFD and Rust's Cc/Cf/Co, which exclude Cn", removedByClean),
  rangesSource('WHITESPACE', "Rust's char::is_whitespace: split points of BertPreTokenizer; clean_text turns those it keeps into ' '", whitespace),
  rangesSource('PUNCTUATION', "BertPreTokenizer's punctuation (ASCII punctuation or Rust's P* categories): a token each", punctuation),
  rangesSource('CHINESE_CHARS', "BertNormalizer's is_chinese_char: CJK ideographs, spaced out by handle_chinese_chars", chineseChars),
  rangesSource('NONSPACING_MARKS', "Rust's Mn (and characters whose decomposition is all Mn): dropped by strip_accents", nonspacingMarks),
  mapSource('STRIP_ACCENTS_EXCEPTIONS', "Where strip_accents differs from V8's NFD minus NONSPACING_MARKS", stripExceptions),
  mapSource('LOWERCASE_EXCEPTIONS', "Where Rust's char::to_lowercase differs from V8's toLowerCase of the single character", lowerExceptions),
].join('\n');
fs.writeFileSync(OUT, source);
console.log(
  `wrote ${OUT}: ${removedByClean.length} removed, ${whitespace.size} whitespace, ${punctuation.size} punctuation, ` +
    `${chineseChars.length} CJK, ${nonspacingMarks.length} marks, ${stripExceptions.length} strip / ${lowerExceptions.length} lowercase exceptions`,
);
