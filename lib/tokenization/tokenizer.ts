// The WordPiece tokenizer of DistilBERT / BERT, on top of @huggingface/tokenizers (pure JS).
//
//   const tok = await loadTokenizer('distilbert-base-uncased');   // or a local folder
//   tok.encode('Hello!')                      → { ids: [101, 7592, 999, 102], attentionMask: [1, 1, 1, 1] }
//   tok.encodeBatch(texts, { maxLength: 128 }) → { inputIds, attentionMask, batchSize, seqLength, lengths }
//       row-major [batch, seq] Int32Arrays, ready for tf.tensor2d(inputIds, [batchSize, seqLength], 'int32')
//   tok.decode(ids, { skipSpecialTokens: true })
//
// Files: `tokenizer.json` (+ `tokenizer_config.json`) as on the Hub. When a folder only has the older
// `vocab.txt`, the equivalent tokenizer.json is built in memory (what transformers' BertConverter
// writes: BertNormalizer, BertPreTokenizer, WordPiece, `[CLS] $A [SEP]`), so both paths run the same code.
//
// Truncation and padding are ours (the JS library has neither): truncation cuts the text's tokens to
// maxLength - 2 and then adds [CLS] … [SEP], so every row keeps both; padding appends [PAD] with mask 0.
//
// Two small fixes make the JS library agree with Hugging Face's Rust tokenizer (BertTokenizerFast) and
// Google's BERT on every text: CJK ideographs outside the BMP (U+20000…, surrogate pairs in JS) get the
// spaces around them that BMP ideographs get, and unassigned code points are dropped like other control
// characters. Both are applied to the raw text (see `alignWithRustBert`), never to special tokens.
//
// Speed: encodeBatch calls the library's encode() once per text, through two shortcuts that give the
// same ids faster (ASCII texts skip the character-by-character normalizer; WordPiece pieces are
// remembered per word; see `addShortcuts`). bench/tokenize.ts measures it against a plain encode() loop.
//
// Tokenize once, reuse: a whole dataset becomes a `TokenizedDataset` (all rows concatenated, no padding,
// ids as Uint16 when the vocabulary fits, plus the row lengths); `batch(indices)` pads a batch on demand.
//
//   const ds = tok.encodeCached(texts, { maxLength: 512 });     // file under $QLORA_CACHE_DIR or data/
//   const b = ds.batch([3, 17, 42], { padding: 'longest' });      // an EncodedBatch, like encodeBatch
//
// The cache file (`tokenized-<key>.bin` by default, or a path you give) is:
//   8 bytes magic "QLTOKDS1" | uint32 LE header length | header JSON (space-padded to 4 bytes)
//   | Int32 lengths [count] | ids [totalTokens] as Uint16 or Int32 (header.idType)
// in the machine's byte order (header.endianness: little-endian on x86 and ARM; a file from a machine
// of the other order is rebuilt). The header holds `key` = sha256 of (TOKENIZATION_VERSION, the
// tokenizer files, maxLength, truncation, every text),
// the counts and a sha256 of the two arrays. A file whose key differs is rebuilt; a file that is
// truncated, altered or unreadable is rebuilt with a warning. Files are written to a temp file in the
// same folder and renamed, so a crash never leaves a half-written cache behind.
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { BertNormalizer, Tokenizer as HfTokenizer, WordPiece } from '@huggingface/tokenizers';
import { HubOptions, resolveRepoFolder } from '../hub/hub';
import { writeFileAtomic } from '../util/atomic-write';

export type Padding = 'max_length' | 'longest';

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

/** A padded batch, row-major [batchSize, seqLength]. */
export interface EncodedBatch {
  inputIds: Int32Array;
  attentionMask: Int32Array;
  batchSize: number;
  seqLength: number;
  /** Each row's length before padding ([CLS] and [SEP] included). */
  lengths: Int32Array;
}

export interface EncodeCachedOptions extends TruncationOptions {
  /** Folder for the default cache file name. Default $QLORA_CACHE_DIR, else `data/`. */
  cacheDir?: string;
}

/** Hub options (revision, cacheDir, token, offline, …), used when a repo id is given instead of a folder. */
export type LoadTokenizerOptions = HubOptions;

// Bump when anything here changes which ids a text gets: old cache files then stop matching.
const TOKENIZATION_VERSION = 1;
const CACHE_MAGIC = 'QLTOKDS1';

// ---------------------------------------------------------------------------------------------
// Loading

/**
 * Loads the tokenizer from a local folder (tokenizer.json or vocab.txt, plus tokenizer_config.json)
 * or from a Hub repo id (those files downloaded into the cache by lib/hub.ts).
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

  private readonly hf: HfTokenizer;
  private readonly fixCjkExtensions: boolean;
  private readonly dropUnassigned: boolean;

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

    const normalizer = tokenizerJson.normalizer as { type?: string; clean_text?: boolean; handle_chinese_chars?: boolean } | null;
    const isBert = normalizer?.type === 'BertNormalizer';
    this.fixCjkExtensions = isBert && normalizer?.handle_chinese_chars !== false;
    this.dropUnassigned = isBert && normalizer?.clean_text !== false;
    addShortcuts(this.hf);

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

  /** One text → [CLS] … [SEP] ids, no truncation. */
  encode(text: string): { ids: number[]; attentionMask: number[] } {
    checkText(text, 'encode: text');
    const ids = this.encodeRow(text, Infinity);
    return { ids, attentionMask: new Array<number>(ids.length).fill(1) };
  }

  /** Many texts → one padded batch, row-major [batchSize, seqLength]. */
  encodeBatch(texts: string[], opts: EncodeBatchOptions = {}): EncodedBatch {
    const { maxLength, truncation } = checkTruncationOptions(opts, 'encodeBatch');
    const padding = opts.padding ?? 'max_length';
    if (padding !== 'max_length' && padding !== 'longest') {
      throw new Error(`encodeBatch: padding must be 'max_length' or 'longest', got ${describe(padding)}`);
    }
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

  /** ids → text (lowercased, WordPiece pieces joined). */
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
    const content = this.hf.encode(this.alignWithRustBert(text), { add_special_tokens: false }).ids;
    const kept = content.length > maxLength - 2 ? content.slice(0, maxLength - 2) : content;
    return [this.clsId, ...kept, this.sepId];
  }

  // The JS library's BertNormalizer walks UTF-16 code units, so ideographs above U+FFFF (CJK
  // extensions B–F) do not get their own token, and it keeps unassigned code points (Cn), which
  // BERT's clean_text drops. Fixing the raw text is equivalent: the normalizer would only have added
  // the same spaces, and special tokens contain neither kind of character.
  private alignWithRustBert(text: string): string {
    if (!BEYOND_U0377.test(text)) return text; // the common case, and a much cheaper test than the two below
    if (this.fixCjkExtensions && ASTRAL_CJK.test(text)) text = text.replace(ASTRAL_CJK_GLOBAL, ' $& ');
    if (this.dropUnassigned && UNASSIGNED.test(text)) text = text.replace(UNASSIGNED_GLOBAL, '');
    return text;
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
// Both replace methods on this tokenizer's own normalizer and model objects, nothing shared.
const MAX_REMEMBERED_WORDS = 200_000;
const PRINTABLE_ASCII = /^[\x20-\x7e\t\n\r]*$/;

function addShortcuts(hf: HfTokenizer): void {
  const normalizer = hf.normalizer;
  const { clean_text: cleanText, lowercase } = (normalizer?.config ?? {}) as { clean_text?: boolean; lowercase?: boolean };
  if (normalizer instanceof BertNormalizer && cleanText === true) {
    const normalizeAny = normalizer.normalize.bind(normalizer);
    normalizer.normalize = (text: string): string => {
      if (!PRINTABLE_ASCII.test(text)) return normalizeAny(text);
      const spaced = text.replace(/[\t\n\r]/g, ' '); // no control characters, accents or ideographs to handle
      return lowercase === true ? spaced.toLowerCase() : spaced;
    };
  }
  const model = hf.model;
  if (model instanceof WordPiece) {
    const splitWords = model.encode.bind(model);
    const remembered = new Map<string, string[]>();
    model.encode = (words: string[]): string[] => {
      const pieces: string[] = [];
      for (const word of words) {
        let wordPieces = remembered.get(word);
        if (wordPieces === undefined) {
          if (remembered.size >= MAX_REMEMBERED_WORDS) remembered.clear();
          wordPieces = splitWords([word]);
          remembered.set(word, wordPieces);
        }
        for (const piece of wordPieces) pieces.push(piece);
      }
      return pieces;
    };
  }
}

// BertNormalizer's CJK ranges above the BMP (the BMP ones the library handles itself).
const ASTRAL_CJK_SOURCE = '[\\u{20000}-\\u{2A6DF}\\u{2A700}-\\u{2B73F}\\u{2B740}-\\u{2B81F}\\u{2B820}-\\u{2CEAF}\\u{2F800}-\\u{2FA1F}]';
const ASTRAL_CJK = new RegExp(ASTRAL_CJK_SOURCE, 'u');
const ASTRAL_CJK_GLOBAL = new RegExp(ASTRAL_CJK_SOURCE, 'gu');
const UNASSIGNED = /\p{Cn}/u;
// Every code point below U+0378 is assigned and none is an ideograph: texts made only of those need no fix.
const BEYOND_U0377 = /[^\u0000-\u0377]/;
const UNASSIGNED_GLOBAL = /\p{Cn}/gu;

// ---------------------------------------------------------------------------------------------
// A tokenized dataset

interface DatasetInfo {
  key: string;
  count: number;
  maxLength: number;
  truncation: boolean;
  padId: number;
  vocabSize: number;
}

interface CacheHeader extends DatasetInfo {
  format: number;
  endianness: string;
  idType: 'uint16' | 'int32';
  totalTokens: number;
  payloadSha256: string;
}

/** Every row [CLS] … [SEP], concatenated without padding; pad on demand with `batch`. */
export class TokenizedDataset {
  /** Number of texts. */
  readonly size: number;
  /** Truncation length the rows were made with. */
  readonly maxLength: number;
  /** Identifies the inputs (tokenizer files, options, texts). */
  readonly key: string;
  readonly padId: number;
  /** Row lengths, [CLS] and [SEP] included. */
  readonly lengths: Int32Array;
  /** All rows back to back. */
  readonly tokenIds: Uint16Array | Int32Array;
  /** Where row i starts in tokenIds (size + 1 entries). */
  readonly offsets: Float64Array;
  private readonly info: DatasetInfo;

  constructor(info: DatasetInfo, lengths: Int32Array, tokenIds: Uint16Array | Int32Array) {
    this.info = info;
    this.size = info.count;
    this.maxLength = info.maxLength;
    this.key = info.key;
    this.padId = info.padId;
    this.lengths = lengths;
    this.tokenIds = tokenIds;
    this.offsets = new Float64Array(lengths.length + 1);
    for (let i = 0; i < lengths.length; i++) this.offsets[i + 1] = this.offsets[i] + lengths[i];
  }

  /** The ids of row i ([CLS] … [SEP], unpadded). */
  ids(i: number): number[] {
    this.checkIndex(i, 'ids');
    return Array.from(this.tokenIds.subarray(this.offsets[i], this.offsets[i + 1]));
  }

  /**
   * Rows `indices` as a padded batch: 'longest' (default) pads to the longest of these rows,
   * 'max_length' to maxLength (or to the longest row, for a dataset made with truncation off).
   */
  batch(indices: ArrayLike<number>, opts: { padding?: Padding } = {}): EncodedBatch {
    const padding = opts.padding ?? 'longest';
    if (padding !== 'max_length' && padding !== 'longest') {
      throw new Error(`TokenizedDataset.batch: padding must be 'max_length' or 'longest', got ${describe(padding)}`);
    }
    const rows: ArrayLike<number>[] = [];
    for (let b = 0; b < indices.length; b++) {
      const i = indices[b];
      this.checkIndex(i, 'batch');
      rows.push(this.tokenIds.subarray(this.offsets[i], this.offsets[i + 1]));
    }
    const longest = longestRow(rows);
    const seqLength = padding === 'max_length' ? Math.max(this.maxLength, longest) : longest;
    return padRows(rows, seqLength, this.padId);
  }

  /** Writes the cache file atomically (temp file in the same folder, then rename). */
  save(file: string): void {
    const lengthBytes = Buffer.from(this.lengths.buffer, this.lengths.byteOffset, this.lengths.byteLength);
    const idBytes = Buffer.from(this.tokenIds.buffer, this.tokenIds.byteOffset, this.tokenIds.byteLength);
    const header: CacheHeader = {
      ...this.info,
      format: 1,
      endianness: os.endianness(),
      idType: this.tokenIds instanceof Uint16Array ? 'uint16' : 'int32',
      totalTokens: this.tokenIds.length,
      payloadSha256: sha256Hex([lengthBytes, idBytes]),
    };
    let headerText = JSON.stringify(header);
    headerText += ' '.repeat((4 - ((CACHE_MAGIC.length + 4 + Buffer.byteLength(headerText)) % 4)) % 4);
    const headerBytes = Buffer.from(headerText, 'utf8');
    const headerLength = Buffer.alloc(4);
    headerLength.writeUInt32LE(headerBytes.length, 0);
    writeFileAtomic(file, [Buffer.from(CACHE_MAGIC, 'ascii'), headerLength, headerBytes, lengthBytes, idBytes]);
  }

  /** Reads a cache file; throws, saying what is wrong, on anything but an intact file. */
  static load(file: string): TokenizedDataset {
    const bytes = fs.readFileSync(file);
    if (bytes.length < 12 || bytes.toString('ascii', 0, 8) !== CACHE_MAGIC) throw new Error('not a tokenized-dataset file');
    const headerLength = bytes.readUInt32LE(8);
    const payloadStart = 12 + headerLength;
    if (payloadStart > bytes.length || payloadStart % 4 !== 0) throw new Error('bad header length');
    const header = JSON.parse(bytes.toString('utf8', 12, payloadStart)) as CacheHeader;
    if (header.format !== 1) throw new Error(`unknown format ${header.format}`);
    if (header.endianness !== os.endianness()) throw new Error(`written on a ${header.endianness} machine`);
    if (!isCount(header.count) || !isCount(header.totalTokens)) throw new Error('bad counts in header');
    const idBytesPer = header.idType === 'uint16' ? 2 : 4;
    const lengthsEnd = payloadStart + 4 * header.count;
    if (bytes.length !== lengthsEnd + idBytesPer * header.totalTokens) throw new Error('file size does not match its header');
    if (sha256Hex([bytes.subarray(payloadStart)]) !== header.payloadSha256) throw new Error('checksum mismatch');

    // Copies, so the typed arrays are aligned whatever the Buffer's offset.
    const lengths = new Int32Array(copyBytes(bytes, payloadStart, lengthsEnd));
    const idBuffer = copyBytes(bytes, lengthsEnd, bytes.length);
    const tokenIds = header.idType === 'uint16' ? new Uint16Array(idBuffer) : new Int32Array(idBuffer);
    if (lengths.some((n) => n < 2) || lengths.reduce((sum, n) => sum + n, 0) !== header.totalTokens) {
      throw new Error('row lengths do not add up');
    }
    return new TokenizedDataset(header, lengths, tokenIds);
  }

  private checkIndex(i: number, where: string): void {
    if (!Number.isInteger(i) || i < 0 || i >= this.size) {
      throw new Error(`TokenizedDataset.${where}: index ${i} is outside 0 … ${this.size - 1}`);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// tokenizer.json from vocab.txt

/** The parts of tokenizer_config.json we read. Token values may be strings or {content} objects. */
export interface TokenizerConfig {
  do_lower_case?: boolean;
  strip_accents?: boolean | null;
  tokenize_chinese_chars?: boolean;
  unk_token?: unknown;
  sep_token?: unknown;
  pad_token?: unknown;
  cls_token?: unknown;
  mask_token?: unknown;
  added_tokens_decoder?: Record<string, { content: string; special?: boolean; lstrip?: boolean; rstrip?: boolean; single_word?: boolean; normalized?: boolean }>;
  [key: string]: unknown;
}

export type TokenizerJson = Record<string, unknown>;

/**
 * The tokenizer.json that transformers' BertConverter writes for a BERT vocab.txt, built in memory:
 * BertNormalizer (clean text, pad CJK, lowercase + strip accents per do_lower_case), BertPreTokenizer,
 * WordPiece ('##', [UNK], 100 characters per word), `[CLS] $A [SEP]`, the special tokens as added tokens.
 */
export function buildBertTokenizerJson(vocabText: string, config: TokenizerConfig, vocabFile = 'vocab.txt'): TokenizerJson {
  // One token per line; the line number is the id (as transformers' load_vocab).
  const lines = vocabText.split('\n').map((line) => line.replace(/\r$/, ''));
  if (lines[lines.length - 1] === '') lines.pop();
  const vocab: Record<string, number> = {};
  lines.forEach((token, id) => {
    vocab[token] = id;
  });

  const names = {
    unk: specialTokenName(config.unk_token, '[UNK]'),
    sep: specialTokenName(config.sep_token, '[SEP]'),
    pad: specialTokenName(config.pad_token, '[PAD]'),
    cls: specialTokenName(config.cls_token, '[CLS]'),
    mask: specialTokenName(config.mask_token, '[MASK]'),
  };
  for (const [role, token] of Object.entries(names)) {
    if (!(token in vocab)) {
      throw new Error(`${vocabFile} has no ${token} line (the ${role} token): is it a BERT WordPiece vocabulary?`);
    }
  }

  const addedTokens = config.added_tokens_decoder
    ? Object.entries(config.added_tokens_decoder).map(([id, t]) => ({
        id: Number(id),
        content: t.content,
        single_word: t.single_word ?? false,
        lstrip: t.lstrip ?? false,
        rstrip: t.rstrip ?? false,
        normalized: t.normalized ?? false,
        special: t.special ?? true,
      }))
    : Object.values(names).map((content) => ({
        id: vocab[content],
        content,
        single_word: false,
        lstrip: false,
        rstrip: false,
        normalized: false,
        special: true,
      }));
  addedTokens.sort((a, b) => a.id - b.id);

  const special = (token: string, typeId: number) => ({ SpecialToken: { id: token, type_id: typeId } });
  const sequence = (id: 'A' | 'B', typeId: number) => ({ Sequence: { id, type_id: typeId } });
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: addedTokens,
    normalizer: {
      type: 'BertNormalizer',
      clean_text: true,
      handle_chinese_chars: config.tokenize_chinese_chars ?? true,
      strip_accents: config.strip_accents ?? null, // null: follow lowercase
      lowercase: config.do_lower_case ?? true,
    },
    pre_tokenizer: { type: 'BertPreTokenizer' },
    post_processor: {
      type: 'TemplateProcessing',
      single: [special(names.cls, 0), sequence('A', 0), special(names.sep, 0)],
      pair: [special(names.cls, 0), sequence('A', 0), special(names.sep, 0), sequence('B', 1), special(names.sep, 1)],
      special_tokens: {
        [names.cls]: { id: names.cls, ids: [vocab[names.cls]], tokens: [names.cls] },
        [names.sep]: { id: names.sep, ids: [vocab[names.sep]], tokens: [names.sep] },
      },
    },
    decoder: { type: 'WordPiece', prefix: '##', cleanup: true },
    model: {
      type: 'WordPiece',
      unk_token: names.unk,
      continuing_subword_prefix: '##',
      max_input_chars_per_word: 100,
      vocab,
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Helpers

// Rows → [rows.length, seqLength] ids (padded with padId) and mask (1 for tokens, 0 for padding).
function padRows(rows: ArrayLike<number>[], seqLength: number, padId: number): EncodedBatch {
  const batchSize = rows.length;
  const inputIds = new Int32Array(batchSize * seqLength).fill(padId);
  const attentionMask = new Int32Array(batchSize * seqLength);
  const lengths = new Int32Array(batchSize);
  rows.forEach((row, b) => {
    inputIds.set(row, b * seqLength);
    attentionMask.fill(1, b * seqLength, b * seqLength + row.length);
    lengths[b] = row.length;
  });
  return { inputIds, attentionMask, batchSize, seqLength, lengths };
}

function longestRow(rows: ArrayLike<number>[]): number {
  let longest = 0;
  for (const row of rows) longest = Math.max(longest, row.length);
  return longest;
}

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

function specialTokenName(value: unknown, fallback: string): string {
  if (typeof value === 'string') return value;
  if (value && typeof value === 'object' && typeof (value as { content?: unknown }).content === 'string') {
    return (value as { content: string }).content;
  }
  return fallback;
}

function defaultCacheDir(): string {
  return process.env.QLORA_CACHE_DIR || 'data';
}

function copyBytes(bytes: Buffer, start: number, end: number): ArrayBuffer {
  const copy = new Uint8Array(end - start);
  copy.set(bytes.subarray(start, end));
  return copy.buffer;
}

function sha256Hex(parts: Uint8Array[]): string {
  const hash = crypto.createHash('sha256');
  for (const part of parts) hash.update(part);
  return hash.digest('hex');
}

function parseJson(bytes: Buffer, file: string): unknown {
  try {
    return JSON.parse(bytes.toString('utf8'));
  } catch (error) {
    throw new Error(`Could not parse ${file}: ${errorMessage(error)}. Download it again from the model's Hub page.`);
  }
}

function isCount(n: unknown): boolean {
  return Number.isInteger(n) && (n as number) >= 0;
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
