// BERT's normalizer and pre-tokenizer exactly as Hugging Face's Rust tokenizer (BertTokenizerFast,
// `tokenizers/src/normalizers/bert.rs` and `pre_tokenizers/bert.rs`) runs them, code point by code point:
//
//   clean_text            drop NUL, U+FFFD and Rust's control/format/private-use characters (not
//                         unassigned ones: Rust keeps those, and WordPiece makes them [UNK]);
//                         other whitespace → ' '
//   handle_chinese_chars  ' ' around each CJK ideograph (BMP and beyond)
//   strip_accents         NFD, then drop nonspacing marks (Mn); default: follows lowercase
//   lowercase             char::to_lowercase, one character at a time: no final-sigma rule, so
//                         'ΟΔΟΣ' → 'οδοσ', not JS's 'οδος'
//   pre-tokenizer         split on whitespace (dropped) and punctuation (one token each)
//
// Which characters are control, whitespace, punctuation or marks comes from Rust's Unicode tables,
// which are older than the JS engine's: `\p{P}`, `\p{Mn}` or `\p{Cc}` would disagree on hundreds of
// code points. bert-unicode-tables.ts holds Rust's answers, read off the Rust tokenizer itself by
// scripts/tokenization/generate-bert-unicode-tables.ts.
//
// A JS string may hold lone surrogates, a Rust string cannot: the Node binding turns them into U+FFFD,
// which clean_text drops. They are treated as U+FFFD here too.
import {
  CHINESE_CHARS,
  CLEAN_TEXT_REMOVES,
  LOWERCASE_EXCEPTIONS,
  NONSPACING_MARKS,
  PUNCTUATION,
  STRIP_ACCENTS_EXCEPTIONS,
  WHITESPACE,
} from './bert-unicode-tables';

/** The `normalizer` object of a tokenizer.json with `"type": "BertNormalizer"`. */
export interface BertNormalizerConfig {
  clean_text?: boolean;
  handle_chinese_chars?: boolean;
  /** null or absent: follow `lowercase`, as in Rust. */
  strip_accents?: boolean | null;
  lowercase?: boolean;
}

/** A set of code points, from flat [first, last, …] inclusive ranges; O(1) below U+10000. */
class CodePointSet {
  private readonly bmp = new Uint8Array(0x10000);
  private readonly astral: number[] = [];

  constructor(ranges: readonly number[]) {
    for (let i = 0; i < ranges.length; i += 2) {
      const [first, last] = [ranges[i], ranges[i + 1]];
      if (first < 0x10000) this.bmp.fill(1, first, Math.min(last, 0xffff) + 1);
      if (last >= 0x10000) this.astral.push(Math.max(first, 0x10000), last);
    }
  }

  has(c: number): boolean {
    if (c < 0x10000) return this.bmp[c] === 1;
    let lo = 0;
    let hi = this.astral.length / 2 - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (c < this.astral[2 * mid]) hi = mid - 1;
      else if (c > this.astral[2 * mid + 1]) lo = mid + 1;
      else return true;
    }
    return false;
  }
}

const REMOVED = new CodePointSet(CLEAN_TEXT_REMOVES);
const SPACE = new CodePointSet(WHITESPACE);
const CHINESE = new CodePointSet(CHINESE_CHARS);
const MARK = new CodePointSet(NONSPACING_MARKS);

// Printable ASCII plus tab/newline/CR, most English text: clean_text only turns the three into spaces,
// nothing is a mark, an ideograph or needs Unicode lowercasing.
const PLAIN_ASCII = /^[\x20-\x7e\t\n\r]*$/;

/**
 * Rust's BertNormalizer as a function string → string. Mirrors `BertNormalizer::normalize`
 * (tokenizers, normalizers/bert.rs); the defaults are Rust's (all on, strip_accents follows lowercase).
 */
export function bertNormalizer(config: BertNormalizerConfig): (text: string) => string {
  const cleanText = config.clean_text ?? true;
  const chinese = config.handle_chinese_chars ?? true;
  const lowercase = config.lowercase ?? true;
  const stripAccents = config.strip_accents ?? lowercase;

  // One code point → its output. clean_text, the CJK spacing and lowercasing are per character in
  // Rust too. NFD also sorts each run of combining marks by combining class; strip_accents drops the
  // Mn among them, and the only survivors with a class are 25 Mc (viramas, Hangul tone marks, musical
  // stems; U+1D165…). Two of those in a row in the other order than NFD's is the one case where our
  // text differs from Rust's. It cannot change ids for distilbert-base-uncased: its vocab.txt has
  // none of the 25, so such a word is [UNK] either way.
  const memo = new Map<number, string>();
  const mapCodePoint = (c: number): string => {
    if (c >= 0xd800 && c <= 0xdfff) c = 0xfffd; // a lone surrogate, as the Rust binding sees it
    if (cleanText) {
      if (REMOVED.has(c)) return '';
      if (SPACE.has(c)) return ' ';
    }
    let out = String.fromCodePoint(c);
    if (stripAccents) {
      const exception = STRIP_ACCENTS_EXCEPTIONS[c];
      out = exception ?? dropMarks(out.normalize('NFD'));
    }
    if (lowercase) out = lowercaseEach(out);
    return chinese && CHINESE.has(c) ? ` ${out} ` : out;
  };

  return (text: string): string => {
    if (PLAIN_ASCII.test(text)) {
      const spaced = cleanText ? text.replace(/[\t\n\r]/g, ' ') : text;
      return lowercase ? spaced.toLowerCase() : spaced;
    }
    let out = '';
    for (const ch of text) {
      const c = ch.codePointAt(0)!;
      let mapped = memo.get(c);
      if (mapped === undefined) {
        mapped = mapCodePoint(c);
        memo.set(c, mapped);
      }
      out += mapped;
    }
    return out;
  };
}

function dropMarks(decomposed: string): string {
  let out = '';
  for (const ch of decomposed) if (!MARK.has(ch.codePointAt(0)!)) out += ch;
  return out;
}

// Rust lowercases each character on its own; JS's toLowerCase of a whole string applies the
// final-sigma rule (Σ at the end of a word → ς), so each character goes through it alone.
function lowercaseEach(text: string): string {
  let out = '';
  for (const ch of text) out += LOWERCASE_EXCEPTIONS[ch.codePointAt(0)!] ?? ch.toLowerCase();
  return out;
}

/** `[first-last…]` for a RegExp character class with the u flag. */
function classSource(ranges: readonly number[]): string {
  let out = '';
  const esc = (c: number) => `\\u{${c.toString(16)}}`;
  for (let i = 0; i < ranges.length; i += 2) out += ranges[i] === ranges[i + 1] ? esc(ranges[i]) : `${esc(ranges[i])}-${esc(ranges[i + 1])}`;
  return out;
}

// A word is a run of anything but whitespace and punctuation; each punctuation character is a word.
const WORD = new RegExp(`[^${classSource(WHITESPACE)}${classSource(PUNCTUATION)}]+|[${classSource(PUNCTUATION)}]`, 'gu');

/**
 * Rust's BertPreTokenizer: splits on whitespace (removed) and punctuation (kept, one token each).
 * Mirrors `BertPreTokenizer::pre_tokenize` (tokenizers, pre_tokenizers/bert.rs).
 */
export function bertPreTokenize(text: string): string[] {
  return text.match(WORD) ?? [];
}
