// The WordPiece tokenizer of DistilBERT / BERT, on top of @huggingface/tokenizers (pure JS).
//
//   const tok = await loadTokenizer('distilbert-base-uncased');   // or a local folder
//   tok.encode('Hello!')                      → { ids: [101, 7592, 999, 102], attentionMask: [1, 1, 1, 1] }
//   tok.encodeBatch(texts, { maxLength: 128 }) → { inputIds, attentionMask, batchSize, seqLength, lengths }
//       row-major [batch, seq] Int32Arrays, ready for tf.tensor2d(inputIds, [batchSize, seqLength], 'int32')
//   tok.decode(ids, { skipSpecialTokens: true })
//
// Files: `tokenizer.json` (+ `tokenizer_config.json`) as on the Hub. When a folder only has the older
// `vocab.txt`, the equivalent tokenizer.json is built in memory (vocab-conversion.ts), so both paths
// run the same code.
//
// Same ids as Hugging Face's Rust tokenizer (BertTokenizerFast, the only one transformers ships for
// DistilBERT) on every text: the library's BERT normalizer and pre-tokenizer are replaced by exact
// copies of Rust's (library-patch.ts, bert-normalizer.ts). test/tokenization/rust-oracle.test.ts
// checks it against the Rust tokenizer itself (npm `tokenizers`) on all 50,000 IMDB reviews and on
// every code point U+0000–U+10FFFF, inside a word and between words, and on random mixes of marks,
// sigmas, ideographs and special tokens (the one kind of text where our normalized text can differ is named in
// bert-normalizer.ts; it cannot change distilbert-base-uncased's ids). `rustExact` is false for a
// tokenizer.json with another normalizer or pre-tokenizer, which runs on the library as it is.
//
// Truncation and padding are ours (the JS library has neither): truncation cuts the text's tokens to
// maxLength - 2 and then adds [CLS] … [SEP], so every row keeps both; padding appends [PAD] with mask 0.
//
// Speed: encodeBatch calls the library's encode() once per text; plain-ASCII texts skip the
// character-by-character normalizer and WordPiece pieces are remembered per word (library-patch.ts).
// bench/tokenize.ts measures it against a plain encode() loop.
//
// Tokenize once, reuse: `encodeCached` turns a whole dataset into a `TokenizedDataset` kept in a
// cache file (dataset-cache.ts); `batch(indices)` pads a batch on demand.
//
//   const ds = tok.encodeCached(texts, { maxLength: 512 });     // file under $QLORA_CACHE_DIR or data/
//   const b = ds.batch([3, 17, 42], { padding: 'longest' });      // an EncodedBatch, like encodeBatch
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { Tokenizer as HfTokenizer } from '@huggingface/tokenizers';
import { HubOptions, resolveRepoFolder } from '../hub/hub';
import { EncodedBatch, Padding, checkPadding, longestRow, padRows } from './batch';
import { DatasetInfo, TokenizedDataset, sha256Hex } from './dataset-cache';
import { patchLibrary } from './library-patch';
import { TokenizerConfig, TokenizerJson, buildBertTokenizerJson, specialTokenName } from './vocab-conversion';

export type { EncodedBatch, Padding } from './batch';

export interface TruncationOptions {
  /** Longest row, [CLS] and [SEP] included. Default 512 (DistilBERT's position embeddings). */
  maxLength?: number;
  /** Cut texts longer than maxLength (keeping [CLS] … [SEP]). Default true. */
  truncation?: boolean;
}

export interface EncodeBatchOptions extends TruncationOptions {
  /** 'max_length' pads every row to maxLength; 'longest' to the longest row of the batch. */
  padding?: Padding;
}

export interface EncodeCachedOptions extends TruncationOptions {
  /** Folder for the default cache file name. Default $QLORA_CACHE_DIR, else `data/`. */
  cacheDir?: string;
}

/** Hub options (revision, cacheDir, token, offline, …), used when a repo id is given instead of a folder. */
export type LoadTokenizerOptions = HubOptions;

// Bump when anything here changes which ids a text gets: old cache files then stop matching.
// 2: Rust's Unicode tables, per-character lowercasing, unassigned code points kept.
const TOKENIZATION_VERSION = 2;

// ---------------------------------------------------------------------------------------------
// Loading

/**
 * Loads the tokenizer from a local folder (tokenizer.json or vocab.txt, plus tokenizer_config.json)
 * or from a Hub repo id (those files downloaded into the cache by lib/hub).
 */
export async function loadTokenizer(pathOrRepoId: string, opts: LoadTokenizerOptions = {}): Promise<Tokenizer> {
  if (typeof pathOrRepoId !== 'string' || pathOrRepoId.length === 0) {
    throw new Error(`loadTokenizer: expected a folder or a Hub repo id such as 'distilbert-base-uncased', got ${describe(pathOrRepoId)}`);
  }
  let folder: string;
  try {
    // 'a|b': the first of the two the folder or repo has; '?': optional.
    folder = await resolveRepoFolder(pathOrRepoId, ['tokenizer.json|vocab.txt', 'tokenizer_config.json?'], opts);
  } catch (error) {
    throw new Error(
      `loadTokenizer('${pathOrRepoId}'): ${errorMessage(error)}\nA tokenizer needs tokenizer.json (or, for older ` +
        `models, vocab.txt) and tokenizer_config.json, as in https://huggingface.co/distilbert-base-uncased/tree/main.`,
      { cause: error },
    );
  }
  return Tokenizer.fromFolder(folder);
}

// ---------------------------------------------------------------------------------------------
// The tokenizer

export class Tokenizer {
  readonly vocabSize: number;
  readonly padId: number;
  readonly clsId: number;
  readonly sepId: number;
  readonly unkId: number;
  /** sha256 of the files the tokenizer was built from (part of every cache key). */
  readonly fingerprint: string;
  /** The folder it was loaded from. */
  readonly folder: string;
  /** Which file defined it: 'tokenizer.json', or 'vocab.txt' for the in-memory fallback. */
  readonly builtFrom: 'tokenizer.json' | 'vocab.txt';

  /** True when the ids are those of Hugging Face's Rust tokenizer (BERT normalizer and pre-tokenizer). */
  readonly rustExact: boolean;

  private readonly hf: HfTokenizer;

  /** Use `loadTokenizer` or `Tokenizer.fromFolder`. */
  constructor(
    tokenizerJson: TokenizerJson,
    tokenizerConfig: TokenizerConfig,
    info: { fingerprint: string; folder: string; builtFrom: 'tokenizer.json' | 'vocab.txt' },
  ) {
    this.hf = new HfTokenizer(tokenizerJson, tokenizerConfig);
    this.fingerprint = info.fingerprint;
    this.folder = info.folder;
    this.builtFrom = info.builtFrom;

    this.rustExact = patchLibrary(this.hf, tokenizerJson).rustExact;

    this.vocabSize = this.hf.get_vocab(true).size;
    const where = `${info.builtFrom} in ${info.folder}`;
    this.padId = this.requireId(specialTokenName(tokenizerConfig.pad_token, '[PAD]'), 'pad', where);
    this.clsId = this.requireId(specialTokenName(tokenizerConfig.cls_token, '[CLS]'), 'cls', where);
    this.sepId = this.requireId(specialTokenName(tokenizerConfig.sep_token, '[SEP]'), 'sep', where);
    this.unkId = this.requireId(specialTokenName(tokenizerConfig.unk_token, '[UNK]'), 'unk', where);
  }

  /** Reads tokenizer.json (or vocab.txt) and tokenizer_config.json from a folder. */
  static fromFolder(folder: string): Tokenizer {
    if (!isDirectory(folder)) {
      throw new Error(
        `Tokenizer folder not found: ${path.resolve(folder)}. Pass a folder holding tokenizer.json (or vocab.txt) ` +
          `and tokenizer_config.json, or a Hub repo id such as 'distilbert-base-uncased'.`,
      );
    }
    const jsonFile = path.join(folder, 'tokenizer.json');
    const vocabFile = path.join(folder, 'vocab.txt');
    const configFile = path.join(folder, 'tokenizer_config.json');
    // tokenizer_config.json is optional, as in transformers: without it the defaults apply
    // (lowercasing on, [PAD]/[UNK]/[CLS]/[SEP]/[MASK]).
    const configBytes = fs.existsSync(configFile) ? fs.readFileSync(configFile) : Buffer.from('{}');
    const config = parseJson(configBytes, configFile) as TokenizerConfig;

    if (fs.existsSync(jsonFile)) {
      const jsonBytes = fs.readFileSync(jsonFile);
      const tokenizerJson = parseJson(jsonBytes, jsonFile) as TokenizerJson;
      return new Tokenizer(tokenizerJson, config, {
        fingerprint: sha256Hex([Buffer.from('tokenizer.json'), jsonBytes, configBytes]),
        folder,
        builtFrom: 'tokenizer.json',
      });
    }
    if (fs.existsSync(vocabFile)) {
      const vocabBytes = fs.readFileSync(vocabFile);
      return new Tokenizer(buildBertTokenizerJson(vocabBytes.toString('utf8'), config, vocabFile), config, {
        fingerprint: sha256Hex([Buffer.from('vocab.txt'), vocabBytes, configBytes]),
        folder,
        builtFrom: 'vocab.txt',
      });
    }
    throw new Error(
      `No tokenizer files in ${path.resolve(folder)}: expected tokenizer.json (or, for older models, vocab.txt), ` +
        `with tokenizer_config.json beside it. Download them from the model's Hub page ` +
        `(e.g. https://huggingface.co/distilbert-base-uncased/tree/main) or pass the repo id to loadTokenizer.`,
    );
  }

  /**
   * One text → its ids, [CLS] … [SEP], no truncation, and an all-ones mask of the same length.
   * Mirrors `BertTokenizerFast(text)['input_ids']` (transformers). Throws if `text` is not a string.
   */
  encode(text: string): { ids: number[]; attentionMask: number[] } {
    checkText(text, 'encode: text');
    const ids = this.encodeRow(text, Infinity);
    return { ids, attentionMask: new Array<number>(ids.length).fill(1) };
  }

  /**
   * Many texts → one padded batch: int32 inputIds and attentionMask, row-major [batchSize, seqLength],
   * seqLength = maxLength ('max_length', the default) or the longest row ('longest'). Mirrors
   * `BertTokenizerFast(texts, padding=…, truncation=True, max_length=…)`. Throws on a non-string text,
   * a maxLength below 2, an unknown padding, or (truncation off) a row longer than maxLength with 'max_length'.
   */
  encodeBatch(texts: string[], opts: EncodeBatchOptions = {}): EncodedBatch {
    const { maxLength, truncation } = checkTruncationOptions(opts, 'encodeBatch');
    const padding = checkPadding(opts.padding ?? 'max_length', 'encodeBatch');
    checkTexts(texts, 'encodeBatch');
    const rows = texts.map((text) => this.encodeRow(text, truncation ? maxLength : Infinity));
    if (padding === 'max_length') {
      rows.forEach((row, i) => {
        if (row.length > maxLength) {
          throw new Error(
            `encodeBatch: texts[${i}] has ${row.length} tokens, more than maxLength ${maxLength}, and truncation is off. ` +
              `Pass truncation: true, a larger maxLength, or padding: 'longest'.`,
          );
        }
      });
    }
    const seqLength = padding === 'max_length' ? maxLength : longestRow(rows);
    return padRows(rows, seqLength, this.padId);
  }

  /**
   * ids → text: WordPiece pieces joined, '##' removed, spaces before punctuation cleaned up, as
   * `BertTokenizerFast.decode` (the text comes back normalized: lowercased for uncased models).
   * Throws on an id outside 0 … vocabSize - 1.
   */
  decode(ids: ArrayLike<number>, opts: { skipSpecialTokens?: boolean } = {}): string {
    const list = Array.from(ids);
    list.forEach((id, i) => {
      if (!Number.isInteger(id) || id < 0 || id >= this.vocabSize) {
        throw new Error(`decode: ids[${i}] = ${id} is not a token id (0 … ${this.vocabSize - 1})`);
      }
    });
    if (list.length === 0) return '';
    return this.hf.decode(list, { skip_special_tokens: opts.skipSpecialTokens ?? false });
  }

  /** Id of a vocabulary entry, or undefined. */
  tokenToId(token: string): number | undefined {
    return this.hf.token_to_id(token);
  }

  /** Vocabulary entry of an id, or undefined. */
  idToToken(id: number): string | undefined {
    return this.hf.id_to_token(id);
  }

  /** Tokenizes a whole dataset once: every row [CLS] … [SEP], truncated, not padded. */
  encodeDataset(texts: string[], opts: TruncationOptions = {}): TokenizedDataset {
    const { maxLength, truncation } = checkTruncationOptions(opts, 'encodeDataset');
    checkTexts(texts, 'encodeDataset');
    const rows = texts.map((text) => this.encodeRow(text, truncation ? maxLength : Infinity));
    const lengths = Int32Array.from(rows, (row) => row.length);
    const total = lengths.reduce((sum, n) => sum + n, 0);
    const tokenIds = this.vocabSize <= 65536 ? new Uint16Array(total) : new Int32Array(total);
    let offset = 0;
    for (const row of rows) {
      tokenIds.set(row, offset);
      offset += row.length;
    }
    const header: DatasetInfo = {
      key: this.datasetKey(texts, maxLength, truncation),
      count: texts.length,
      maxLength,
      truncation,
      padId: this.padId,
      vocabSize: this.vocabSize,
    };
    return new TokenizedDataset(header, lengths, tokenIds);
  }

  /**
   * `encodeDataset`, stored in a cache file and reused while the tokenizer, the options and the
   * texts stay the same. cacheFile defaults to `<cacheDir>/tokenized-<key>.bin`.
   */
  encodeCached(texts: string[], opts: EncodeCachedOptions = {}, cacheFile?: string): TokenizedDataset {
    const { maxLength, truncation } = checkTruncationOptions(opts, 'encodeCached');
    checkTexts(texts, 'encodeCached');
    const key = this.datasetKey(texts, maxLength, truncation);
    const file = cacheFile ?? path.join(opts.cacheDir ?? defaultCacheDir(), `tokenized-${key.slice(0, 16)}.bin`);

    if (fs.existsSync(file)) {
      try {
        const cached = TokenizedDataset.load(file);
        if (cached.key === key) return cached;
        // Same file name, other inputs (a cacheFile reused for new texts or options): just rebuild.
      } catch (error) {
        console.warn(`Tokenized cache ${file} is unreadable (${errorMessage(error)}); tokenizing again.`);
      }
    }
    const dataset = this.encodeDataset(texts, { maxLength, truncation });
    dataset.save(file);
    return dataset;
  }

  // [CLS] + the text's tokens (at most maxLength - 2 of them) + [SEP].
  private encodeRow(text: string, maxLength: number): number[] {
    const content = this.hf.encode(text, { add_special_tokens: false }).ids;
    const kept = content.length > maxLength - 2 ? content.slice(0, maxLength - 2) : content;
    return [this.clsId, ...kept, this.sepId];
  }

  private datasetKey(texts: string[], maxLength: number, truncation: boolean): string {
    const hash = crypto.createHash('sha256');
    hash.update(JSON.stringify({ TOKENIZATION_VERSION, tokenizer: this.fingerprint, maxLength, truncation, count: texts.length }));
    const lengthPrefix = Buffer.alloc(4);
    for (const text of texts) {
      const bytes = Buffer.from(text, 'utf8');
      lengthPrefix.writeUInt32LE(bytes.length, 0); // so that ['ab','c'] and ['a','bc'] differ
      hash.update(lengthPrefix);
      hash.update(bytes);
    }
    return hash.digest('hex');
  }

  private requireId(token: string, role: string, where: string): number {
    const id = this.hf.token_to_id(token);
    if (id === undefined) {
      throw new Error(`The ${role} token ${token} is not in the vocabulary of ${where}; loadTokenizer supports BERT-style WordPiece tokenizers.`);
    }
    return id;
  }
}

// Two shortcuts through the library's pipeline (pinned at 0.2.0) that make encodeBatch ~1.5x faster
// than its encode() on IMDB reviews, without changing a single id (the reference tests run through them):
//  - BertNormalizer on printable ASCII plus tab/newline (most English text) only turns whitespace into
//    spaces and lowercases; the library walks such text character by character, with two regexes each.
//  - WordPiece splits each word on its own, so the pieces of a word can be remembered (bounded map).

function checkTruncationOptions(opts: TruncationOptions, where: string): { maxLength: number; truncation: boolean } {
  const maxLength = opts.maxLength ?? 512;
  const truncation = opts.truncation ?? true;
  if (!Number.isInteger(maxLength) || maxLength < 2) {
    throw new Error(`${where}: maxLength must be an integer >= 2 (room for [CLS] and [SEP]), got ${describe(maxLength)}`);
  }
  if (typeof truncation !== 'boolean') throw new Error(`${where}: truncation must be true or false, got ${describe(truncation)}`);
  return { maxLength, truncation };
}

function checkTexts(texts: unknown, where: string): void {
  if (!Array.isArray(texts)) throw new Error(`${where}: texts must be an array of strings, got ${describe(texts)}`);
  texts.forEach((text, i) => checkText(text, `${where}: texts[${i}]`));
}

function checkText(text: unknown, what: string): void {
  if (typeof text !== 'string') {
    throw new Error(`${what} must be a string, got ${describe(text)} (convert numbers, drop null/undefined rows first)`);
  }
}

function defaultCacheDir(): string {
  return process.env.QLORA_CACHE_DIR || 'data';
}

function parseJson(bytes: Buffer, file: string): unknown {
  try {
    return JSON.parse(bytes.toString('utf8'));
  } catch (error) {
    throw new Error(`Could not parse ${file}: ${errorMessage(error)}. Download it again from the model's Hub page.`);
  }
}

function isDirectory(p: string): boolean {
  try {
    return fs.statSync(p).isDirectory();
  } catch {
    return false;
  }
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? value.slice(0, 40) + '…' : value);
  if (typeof value === 'object') return 'an object';
  return `${typeof value} ${String(value)}`;
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
