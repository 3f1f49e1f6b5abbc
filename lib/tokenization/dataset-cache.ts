// The tokenized-dataset cache: a whole dataset tokenized once (all rows concatenated, no padding, ids
// as Uint16 when the vocabulary fits, plus the row lengths), padded per batch on demand.
//
// The cache file (`tokenized-<key>.bin` by default, or a path you give) is:
//   8 bytes magic "QLTOKDS1" | uint32 LE header length | header JSON (space-padded to 4 bytes)
//   | Int32 lengths [count] | ids [totalTokens] as Uint16 or Int32 (header.idType)
// in the machine's byte order (header.endianness: little-endian on x86 and ARM; a file from a machine
// of the other order is rebuilt). The header holds `key` = sha256 of (TOKENIZATION_VERSION, the
// tokenizer files, maxLength, truncation, every text), the counts and a sha256 of the two arrays.
// Tokenizer.encodeCached rebuilds a file whose key differs, and one that is truncated, altered or
// unreadable (with a warning). Files are written atomically (util/atomic-write.ts), so a crash never
// leaves a half-written cache behind.
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import { writeFileAtomic } from '../util/atomic-write';
import { EncodedBatch, Padding, checkPadding, longestRow, padRows } from './batch';

const CACHE_MAGIC = 'QLTOKDS1';

/** What a dataset was made from; stored in the cache file's header. */
export interface DatasetInfo {
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
    const padding = checkPadding(opts.padding ?? 'longest', 'TokenizedDataset.batch');
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

export function sha256Hex(parts: Uint8Array[]): string {
  const hash = crypto.createHash('sha256');
  for (const part of parts) hash.update(part);
  return hash.digest('hex');
}

function copyBytes(bytes: Buffer, start: number, end: number): ArrayBuffer {
  const copy = new Uint8Array(end - start);
  copy.set(bytes.subarray(start, end));
  return copy.buffer;
}

function isCount(n: unknown): boolean {
  return Number.isInteger(n) && (n as number) >= 0;
}
