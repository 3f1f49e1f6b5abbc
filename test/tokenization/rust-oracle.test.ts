// Our tokenizer against Hugging Face's Rust tokenizer itself (npm `tokenizers`, the Rust core that
// transformers' BertTokenizerFast runs; a devDependency used only here and by the table generator):
//  - every review of IMDB, train and test (50,000, $QLORA_ASSETS/imdb/{train,test}.csv);
//  - every code point U+0000–U+10FFFF (surrogates apart), inside a word ('a{c}b') and between
//    words (' {c} '), in long texts of CHUNK code points; a mismatching text is halved until the
//    code points at fault are found, and they are named in the failure;
//    the sweep also runs through the tokenizer built from vocab.txt alone;
//  - 20,000 random texts mixing what interacts across characters: combining marks after letters,
//    'Σ' at word ends, special tokens written inside words, CJK, Hangul, whitespace, punctuation,
//    lone surrogates;
//  - every lone surrogate (only JS strings hold them; the Rust binding receives U+FFFD);
//  - the examples of issue 10 §1, with the Rust ids from the issue.
// Identical ids are required, [CLS] and [SEP] included, no truncation.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import Papa from 'papaparse';
import { Tokenizer as RustTokenizer } from 'tokenizers';
import { asset } from '../helpers/assets';
import { createRng, randomInt } from '../../lib/util/random';
import { loadTokenizer, Tokenizer } from '../../lib/tokenization/tokenizer';

const MODEL_DIR = asset('distilbert-base-uncased');
const CHUNK = 4096; // code points per sweep text
const RUST_BATCH = 512; // texts per call into Rust

let ours: Tokenizer;
let fromVocab: Tokenizer; // the same tokenizer built from vocab.txt (vocab-conversion.ts)
let rust: RustTokenizer;

beforeAll(async () => {
  ours = await loadTokenizer(MODEL_DIR);
  const vocabOnly = fs.mkdtempSync(path.join(os.tmpdir(), 'vocab-only-'));
  for (const file of ['vocab.txt', 'tokenizer_config.json']) fs.copyFileSync(path.join(MODEL_DIR, file), path.join(vocabOnly, file));
  fromVocab = await loadTokenizer(vocabOnly);
  fs.rmSync(vocabOnly, { recursive: true, force: true });
  rust = RustTokenizer.fromFile(path.join(MODEL_DIR, 'tokenizer.json'));
});

async function rustIds(texts: string[], oracle: RustTokenizer = rust): Promise<number[][]> {
  const out: number[][] = [];
  for (let i = 0; i < texts.length; i += RUST_BATCH) {
    for (const encoding of await oracle.encodeBatch(texts.slice(i, i + RUST_BATCH))) out.push(encoding.getIds());
  }
  return out;
}

const same = (a: number[], b: number[]) => a.length === b.length && a.every((x, i) => x === b[i]);
const hex = (c: number) => 'U+' + c.toString(16).toUpperCase().padStart(4, '0');

test('the examples of issue 10 §1 get the Rust ids given there', () => {
  expect(ours.rustExact).toBe(true);
  expect(ours.encode('a\u0378b').ids).toEqual([101, 100, 102]); // unassigned code point
  expect(ours.encode('a\u2E4Fb').ids).toEqual([101, 100, 102]); // punctuation newer than Rust's tables
  expect(ours.encode('ΟΔΟΣ').ids).toEqual([101, 1169, 29722, 29730, 29733, 102]); // no final sigma
});

test('all 50,000 IMDB reviews (train and test) get the Rust ids', async () => {
  const texts: string[] = [];
  for (const split of ['train', 'test']) {
    const file = asset('imdb', `${split}.csv`);
    const rows = Papa.parse<{ review?: string }>(fs.readFileSync(file, 'utf8'), { header: true, skipEmptyLines: true }).data;
    for (const [i, row] of rows.entries()) {
      if (typeof row.review !== 'string') throw new Error(`${file} row ${i + 2} has no review column (expected Kaggle's review,sentiment)`);
      texts.push(row.review);
    }
  }
  expect(texts.length).toBe(50_000);
  const expected = await rustIds(texts);
  const wrong: string[] = [];
  texts.forEach((text, i) => {
    const ids = ours.encode(text).ids;
    if (same(ids, expected[i])) return;
    const at = ids.findIndex((id, k) => id !== expected[i][k]);
    const near = ours.decode(expected[i].slice(Math.max(at - 3, 0), at + 3));
    wrong.push(`review ${i} (${i < 25_000 ? 'train' : 'test'}): first difference at token ${at}, Rust has '${near}' there`);
  });
  expect(wrong.slice(0, 10)).toEqual([]);
});

// 'a{c}b a {c} b' for each code point: c inside a word, and c as a word of its own.
const sweepText = (codePoints: number[]) =>
  codePoints.map((c) => `a${String.fromCodePoint(c)}b a ${String.fromCodePoint(c)} b `).join('');

/** The code points among `codePoints` whose sweep text tokenizes differently (halving the list). */
async function culprits(codePoints: number[]): Promise<number[]> {
  const [expected] = await rustIds([sweepText(codePoints)]);
  if (same(ours.encode(sweepText(codePoints)).ids, expected)) return [];
  if (codePoints.length === 1) return codePoints;
  const half = codePoints.length >> 1;
  return [...(await culprits(codePoints.slice(0, half))), ...(await culprits(codePoints.slice(half)))];
}

test('every code point U+0000–U+10FFFF, inside a word and between words, gets the Rust ids', async () => {
  const chunks: number[][] = [];
  for (let start = 0; start <= 0x10ffff; start += CHUNK) {
    const chunk: number[] = [];
    for (let c = start; c < Math.min(start + CHUNK, 0x110000); c++) if (c < 0xd800 || c > 0xdfff) chunk.push(c);
    if (chunk.length > 0) chunks.push(chunk);
  }
  const texts = chunks.map(sweepText);
  const expected = await rustIds(texts);
  const wrong: number[] = [];
  for (const [i, text] of texts.entries()) {
    if (!same(ours.encode(text).ids, expected[i])) wrong.push(...(await culprits(chunks[i])));
    if (wrong.length > 50) break;
  }
  expect(wrong.map(hex)).toEqual([]);
  // The vocab.txt path builds its own tokenizer.json: same normalizer and pre-tokenizer, same ids.
  expect(fromVocab.builtFrom).toBe('vocab.txt');
  expect(texts.filter((text, i) => !same(fromVocab.encode(text).ids, expected[i])).length).toBe(0);
  expect(chunks.reduce((n, chunk) => n + chunk.length, 0)).toBe(0x110000 - 0x800);
});

/** `count` short random texts made of pieces that interact across characters. */
function randomTexts(seed: number, count: number): string[] {
  const rng = createRng(seed);
  const pick = (items: string | string[]) => {
    const list = typeof items === 'string' ? [...items] : items;
    return list[randomInt(rng, list.length)];
  };
  const inRange = (first: number, count: number) => String.fromCodePoint(first + randomInt(rng, count));
  const pieces: (() => string)[] = [
    () => inRange(0x300, 0x70), // combining diacritics, reordered by NFD
    () => inRange(0x1d165, 0x10), // musical stems: combining class, but Mc, so strip_accents keeps them
    () => inRange(0x591, 0x40), // Hebrew points
    () => inRange(0x900, 0x80), // Devanagari, with its marks
    () => pick('\u03a3\u03c3\u03c2\u039f\u0394\u0391'), // final sigma
    () => pick('aeiouAEIOUéÉñÑİıßẞ'),
    () => inRange(0x1e00, 0x200), // precomposed Latin and Greek
    () => pick(' \t\n\u00a0\u2028\u3000'),
    () => pick('.,!?-[]()"\'#'),
    () => pick(['[CLS]', '[SEP]', '[MASK]', '[UNK]', '[PAD]', '[cls]', '##', '<br />']),
    () => inRange(0x4e00, 100), // CJK
    () => inRange(0xf900, 100), // CJK compatibility ideographs: NFD maps them to unified ones
    () => inRange(0xac00, 1000), // Hangul syllables: NFD splits them into jamo
    () => inRange(0x1f600, 80), // emoji
    () => String.fromCodePoint(randomInt(rng, 0xd800)), // anything in the BMP below the surrogates
    () => String.fromCodePoint(0xe000 + randomInt(rng, 0x110000 - 0xe000)), // or above them
    () => String.fromCharCode(0xd800 + randomInt(rng, 0x800)), // a lone surrogate
  ];
  return Array.from({ length: count }, () => {
    let text = '';
    for (let n = 1 + randomInt(rng, 30); n > 0; n--) text += pieces[randomInt(rng, pieces.length)]();
    return text;
  });
}

test('20,000 random texts of interacting characters get the Rust ids', async () => {
  const texts = randomTexts(10, 20_000);
  const expected = await rustIds(texts);
  const wrong = texts.filter((text, i) => !same(ours.encode(text).ids, expected[i]));
  expect(wrong.map((text) => JSON.stringify(text))).toEqual([]);
});

// The same texts through other BertNormalizer settings (cased models keep case and accents; the
// rest are off somewhere on the Hub): each option's table is used on its own.
test.each([
  { lowercase: false, strip_accents: false },
  { lowercase: false, strip_accents: true },
  { lowercase: true, strip_accents: false },
  { clean_text: false, handle_chinese_chars: false },
])('BertNormalizer %j: 5,000 random texts get the Rust ids', async (settings) => {
  const json = JSON.parse(fs.readFileSync(path.join(MODEL_DIR, 'tokenizer.json'), 'utf8')) as Record<string, unknown>;
  json.normalizer = { ...(json.normalizer as object), ...settings };
  const variant = new Tokenizer(json, {}, { fingerprint: 'test', folder: MODEL_DIR, builtFrom: 'tokenizer.json' });
  const texts = randomTexts(11, 5_000);
  const expected = await rustIds(texts, RustTokenizer.fromString(JSON.stringify(json)));
  const wrong = texts.filter((text, i) => !same(variant.encode(text).ids, expected[i]));
  expect(wrong.map((text) => JSON.stringify(text))).toEqual([]);
});

test('lone surrogates are dropped, as U+FFFD is (what the Rust binding receives for them)', async () => {
  const texts: string[] = [];
  for (let c = 0xd800; c <= 0xdfff; c++) texts.push(`a${String.fromCharCode(c)}b a ${String.fromCharCode(c)} b`);
  const expected = await rustIds(texts);
  const wrong = texts.flatMap((text, i) => (same(ours.encode(text).ids, expected[i]) ? [] : [hex(0xd800 + i)]));
  expect(wrong).toEqual([]);
  expect(expected[0]).toEqual(ours.encode('ab a b').ids);
});
