// Reading and writing the safetensors format (Hugging Face's checkpoint format).
//
// Layout: 8-byte little-endian header length N, then N bytes of JSON
//   {"__metadata__": {...}, name: {"dtype": "F32", "shape": [...], "data_offsets": [begin, end]}, ...}
// (offsets relative to the end of the header), then the raw little-endian tensor bytes.
//
// Files can be hundreds of MB and come from the internet, so the reader checks the header
// strictly before it allocates anything, and reads one tensor at a time (`SafetensorsFile`)
// instead of holding the whole file in memory. The writer reproduces the byte layout of the
// reference Rust/Python library: tensors sorted by dtype alignment (largest first) then name,
// compact JSON with `__metadata__` first, header padded with spaces to a multiple of 8 bytes.
import * as fs from 'fs';
import * as path from 'path';
import { writeFileAtomic } from '../util/atomic-write';

export type SafetensorsDtype =
  | 'BOOL' | 'U8' | 'I8' | 'F8_E5M2' | 'F8_E4M3' | 'I16' | 'U16' | 'F16' | 'BF16'
  | 'I32' | 'U32' | 'F32' | 'F64' | 'I64' | 'U64';

/** The typed array each dtype is read into (F16/BF16 as their raw 16-bit patterns). */
export type TensorData =
  | Float32Array | Float64Array | Int32Array | Uint32Array | Int16Array | Uint16Array
  | Int8Array | Uint8Array | BigInt64Array | BigUint64Array;

export interface TensorInfo {
  dtype: SafetensorsDtype;
  shape: number[];
  /** Byte range inside the data section (after the header). */
  dataOffsets: [number, number];
}

export interface SafetensorsTensor {
  dtype: SafetensorsDtype;
  shape: number[];
  data: TensorData;
}

type ArrayCtor = { new (buffer: ArrayBuffer): TensorData };

// In the reference library's order: increasing alignment. The writer sorts by it, descending.
const DTYPES: Record<SafetensorsDtype, { size: number; array: ArrayCtor }> = {
  BOOL: { size: 1, array: Uint8Array },
  U8: { size: 1, array: Uint8Array },
  I8: { size: 1, array: Int8Array },
  F8_E5M2: { size: 1, array: Uint8Array },
  F8_E4M3: { size: 1, array: Uint8Array },
  I16: { size: 2, array: Int16Array },
  U16: { size: 2, array: Uint16Array },
  F16: { size: 2, array: Uint16Array },
  BF16: { size: 2, array: Uint16Array },
  I32: { size: 4, array: Int32Array },
  U32: { size: 4, array: Uint32Array },
  F32: { size: 4, array: Float32Array },
  F64: { size: 8, array: Float64Array },
  I64: { size: 8, array: BigInt64Array },
  U64: { size: 8, array: BigUint64Array },
};
const DTYPE_ORDER = Object.keys(DTYPES) as SafetensorsDtype[];

/** The reference library refuses headers above 100 MB; so do we, before allocating them. */
export const MAX_HEADER_BYTES = 100_000_000;

const REDOWNLOAD = 'the file is corrupt or truncated; delete it and download it again';

function isDtype(s: unknown): s is SafetensorsDtype {
  return typeof s === 'string' && Object.prototype.hasOwnProperty.call(DTYPES, s);
}

function numElements(shape: number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

// ---------------------------------------------------------------------------------------------
// 16-bit float conversions (IEEE half and bfloat16), round-to-nearest-even when narrowing.

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

export function float16BitsToFloat32(bits: Uint16Array): Float32Array {
  const out = new Float32Array(bits.length);
  for (let i = 0; i < bits.length; i++) {
    const h = bits[i];
    const sign = h & 0x8000 ? -1 : 1;
    const exp = (h >> 10) & 0x1f;
    const mant = h & 0x3ff;
    if (exp === 0) out[i] = sign * mant * 2 ** -24; // zero or subnormal
    else if (exp === 0x1f) out[i] = mant ? NaN : sign * Infinity;
    else out[i] = sign * (1 + mant / 1024) * 2 ** (exp - 15);
  }
  return out;
}

export function bfloat16BitsToFloat32(bits: Uint16Array): Float32Array {
  // bfloat16 is the top half of a float32.
  const out = new Uint32Array(bits.length);
  for (let i = 0; i < bits.length; i++) out[i] = bits[i] << 16;
  return new Float32Array(out.buffer);
}

/** Shifts `value` right by `shift` bits, rounding to nearest, ties to even. */
function shiftRoundEven(value: number, shift: number): number {
  const q = value >>> shift;
  const rest = value & ((1 << shift) - 1);
  const half = 1 << (shift - 1);
  return rest > half || (rest === half && (q & 1) === 1) ? q + 1 : q;
}

export function float32ToFloat16Bits(values: ArrayLike<number>): Uint16Array {
  const out = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) {
    f32[0] = values[i];
    const x = u32[0];
    const sign = (x >>> 16) & 0x8000;
    const exp = (x >>> 23) & 0xff;
    const mant = x & 0x7fffff;
    if (exp === 0xff) {
      out[i] = sign | 0x7c00 | (mant ? 0x200 : 0); // Inf or NaN
      continue;
    }
    const e = exp - 127 + 15; // the exponent re-biased for half
    let h: number;
    if (e >= 0x1f) h = 0x7c00; // too large: Inf
    else if (e > 0) h = shiftRoundEven((e << 23) | mant, 13); // normal; a carry may round up into Inf, as it should
    else {
      // Subnormal half: value = m · 2^-24, m = (1.mant) · 2^(exp - 126).
      const shift = 14 - e;
      h = shift > 24 ? 0 : shiftRoundEven(0x800000 | mant, shift);
    }
    out[i] = sign | h;
  }
  return out;
}

export function float32ToBfloat16Bits(values: ArrayLike<number>): Uint16Array {
  const out = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) {
    f32[0] = values[i];
    const x = u32[0];
    if ((x & 0x7fffffff) > 0x7f800000) out[i] = (x >>> 16) | 0x40; // NaN stays a (quiet) NaN
    else out[i] = shiftRoundEven(x, 16) & 0xffff;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Reading

function corrupt(file: string, what: string): Error {
  return new Error(`${file}: ${what} — ${REDOWNLOAD}.`);
}

/** Parses and validates a header's JSON against the data section size. */
function parseHeader(file: string, json: string, dataBytes: number): { tensors: Map<string, TensorInfo>; metadata: Record<string, string> } {
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch (e) {
    throw corrupt(file, `the safetensors header is not valid JSON (${(e as Error).message})`);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw corrupt(file, 'the safetensors header is not a JSON object');
  }
  const metadata: Record<string, string> = {};
  const tensors = new Map<string, TensorInfo>();
  for (const [name, entry] of Object.entries(raw as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) {
        throw corrupt(file, '__metadata__ is not an object of strings');
      }
      for (const [k, v] of Object.entries(entry)) {
        if (typeof v !== 'string') throw corrupt(file, `__metadata__.${k} is not a string`);
        metadata[k] = v;
      }
      continue;
    }
    const e = entry as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (typeof e !== 'object' || e === null) throw corrupt(file, `tensor '${name}' has no dtype/shape/data_offsets entry`);
    if (!isDtype(e.dtype)) {
      throw corrupt(file, `tensor '${name}' has unknown dtype ${JSON.stringify(e.dtype)} (known: ${DTYPE_ORDER.join(', ')})`);
    }
    const isDim = (d: unknown) => Number.isSafeInteger(d) && (d as number) >= 0;
    if (!Array.isArray(e.shape) || !e.shape.every(isDim)) {
      throw corrupt(file, `tensor '${name}' has an invalid shape ${JSON.stringify(e.shape)}`);
    }
    const offs = e.data_offsets;
    if (!Array.isArray(offs) || offs.length !== 2 || !offs.every(isDim) || offs[1] < offs[0]) {
      throw corrupt(file, `tensor '${name}' has invalid data_offsets ${JSON.stringify(offs)}`);
    }
    const [begin, end] = offs as [number, number];
    const shape = e.shape as number[];
    const expected = numElements(shape) * DTYPES[e.dtype].size;
    if (end - begin !== expected) {
      throw corrupt(
        file,
        `tensor '${name}' (${e.dtype} [${shape.join(', ')}]) should take ${expected} bytes but its data_offsets [${begin}, ${end}] span ${end - begin}`,
      );
    }
    if (end > dataBytes) {
      throw corrupt(file, `tensor '${name}' ends at byte ${end} of the data section, which has only ${dataBytes} bytes`);
    }
    tensors.set(name, { dtype: e.dtype, shape, dataOffsets: [begin, end] });
  }
  // No two tensors may share bytes: sort by start and compare neighbours.
  const byStart = [...tensors.entries()].sort((a, b) => a[1].dataOffsets[0] - b[1].dataOffsets[0]);
  for (let i = 1; i < byStart.length; i++) {
    const [prevName, prev] = byStart[i - 1];
    const [name, info] = byStart[i];
    if (info.dataOffsets[0] < prev.dataOffsets[1]) {
      throw corrupt(file, `tensors '${prevName}' and '${name}' overlap (data_offsets [${prev.dataOffsets}] and [${info.dataOffsets}])`);
    }
  }
  return { tensors, metadata };
}

/**
 * A safetensors file opened lazily: the header is read and validated on open, each tensor is
 * read from disk only when asked for, so loading a model never holds the whole file in memory.
 */
export class SafetensorsFile {
  readonly file: string;
  readonly metadata: Record<string, string>;
  readonly tensors: Map<string, TensorInfo>;
  private readonly dataStart: number;

  private constructor(file: string, tensors: Map<string, TensorInfo>, metadata: Record<string, string>, dataStart: number) {
    this.file = file;
    this.tensors = tensors;
    this.metadata = metadata;
    this.dataStart = dataStart;
  }

  static open(file: string): SafetensorsFile {
    const fd = fs.openSync(file, 'r');
    try {
      const fileBytes = fs.fstatSync(fd).size;
      if (fileBytes < 8) throw corrupt(file, `only ${fileBytes} bytes long, too short for a safetensors header`);
      const lengthBytes = Buffer.alloc(8);
      fs.readSync(fd, lengthBytes, 0, 8, 0);
      const headerLength = lengthBytes.readBigUInt64LE(0);
      // Both checks come before the header buffer is allocated: a corrupt length must not make us
      // try to allocate terabytes.
      if (headerLength > BigInt(MAX_HEADER_BYTES)) {
        throw corrupt(file, `the header length field says ${headerLength} bytes, more than the 100 MB limit`);
      }
      const n = Number(headerLength);
      if (8 + n > fileBytes) {
        throw corrupt(file, `the header length field says ${n} bytes but the file has only ${fileBytes - 8} after it`);
      }
      const header = Buffer.alloc(n);
      fs.readSync(fd, header, 0, n, 8);
      const { tensors, metadata } = parseHeader(file, header.toString('utf8'), fileBytes - 8 - n);
      return new SafetensorsFile(file, tensors, metadata, 8 + n);
    } finally {
      fs.closeSync(fd);
    }
  }

  names(): string[] {
    return [...this.tensors.keys()];
  }

  info(name: string): TensorInfo {
    const info = this.tensors.get(name);
    if (!info) throw new Error(`${this.file}: no tensor named '${name}' (it has ${this.tensors.size} tensors)`);
    return info;
  }

  /** The tensor's values in their own dtype (F16/BF16 as raw 16-bit patterns, I64 as BigInt64Array). */
  read(name: string): SafetensorsTensor {
    const info = this.info(name);
    const [begin, end] = info.dataOffsets;
    const bytes = new ArrayBuffer(end - begin); // fresh buffer: aligned for any typed array
    const fd = fs.openSync(this.file, 'r');
    try {
      const got = fs.readSync(fd, new Uint8Array(bytes), 0, end - begin, this.dataStart + begin);
      if (got !== end - begin) throw corrupt(this.file, `tensor '${name}' could only be read partly (${got} of ${end - begin} bytes)`);
    } finally {
      fs.closeSync(fd);
    }
    return { dtype: info.dtype, shape: info.shape, data: new DTYPES[info.dtype].array(bytes) };
  }

  /** A floating-point tensor (F32, F16, BF16 or F64) converted to float32. */
  readFloat32(name: string): { shape: number[]; data: Float32Array } {
    const t = this.read(name);
    switch (t.dtype) {
      case 'F32':
        return { shape: t.shape, data: t.data as Float32Array };
      case 'F16':
        return { shape: t.shape, data: float16BitsToFloat32(t.data as Uint16Array) };
      case 'BF16':
        return { shape: t.shape, data: bfloat16BitsToFloat32(t.data as Uint16Array) };
      case 'F64':
        return { shape: t.shape, data: Float32Array.from(t.data as Float64Array) };
      default:
        throw new Error(`${this.file}: tensor '${name}' has dtype ${t.dtype}, expected a float dtype (F32, F16, BF16, F64)`);
    }
  }
}

/** Reads every tensor of a file (convenient for small files; use `SafetensorsFile` for models). */
export function readSafetensors(file: string): Map<string, SafetensorsTensor> {
  const st = SafetensorsFile.open(file);
  const out = new Map<string, SafetensorsTensor>();
  for (const name of st.names()) out.set(name, st.read(name));
  return out;
}

// ---------------------------------------------------------------------------------------------
// Writing

export interface TensorToWrite {
  dtype: SafetensorsDtype;
  shape: number[];
  /**
   * The values: the dtype's own typed array (raw bit patterns for F16/BF16), or for F16/BF16 a
   * Float32Array to be rounded, or for I64 an Int32Array to be widened.
   */
  data: TensorData;
}

function toBytes(name: string, t: TensorToWrite): Uint8Array {
  if (!isDtype(t.dtype)) throw new Error(`writeSafetensors: tensor '${name}' has unknown dtype '${t.dtype}'`);
  let data: TensorData = t.data;
  if ((t.dtype === 'F16' || t.dtype === 'BF16') && data instanceof Float32Array) {
    data = t.dtype === 'F16' ? float32ToFloat16Bits(data) : float32ToBfloat16Bits(data);
  } else if (t.dtype === 'I64' && data instanceof Int32Array) {
    data = BigInt64Array.from(data, (v) => BigInt(v));
  }
  const expected = numElements(t.shape) * DTYPES[t.dtype].size;
  if (data.byteLength !== expected) {
    throw new Error(
      `writeSafetensors: tensor '${name}' (${t.dtype} [${t.shape.join(', ')}]) needs ${expected} bytes but its data has ${data.byteLength}`,
    );
  }
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

/** Compares strings by their UTF-8 bytes, as Rust's `str::cmp` does. */
function compareUtf8(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/**
 * Writes tensors in the byte layout of the reference library's `save_file`. `metadata` goes to
 * `__metadata__` (PyTorch-made files carry `{"format": "pt"}`).
 */
export function writeSafetensors(file: string, tensors: Record<string, TensorToWrite>, metadata?: Record<string, string>): void {
  // Sort by dtype alignment, largest first, then by name, as the reference library does.
  const names = Object.keys(tensors).sort(
    (a, b) => DTYPE_ORDER.indexOf(tensors[b].dtype) - DTYPE_ORDER.indexOf(tensors[a].dtype) || compareUtf8(a, b),
  );
  const header: Record<string, unknown> = {};
  if (metadata) header.__metadata__ = metadata;
  const chunks: Uint8Array[] = [];
  let offset = 0;
  for (const name of names) {
    if (name === '__metadata__') throw new Error(`writeSafetensors: '__metadata__' is reserved and cannot name a tensor`);
    const bytes = toBytes(name, tensors[name]);
    header[name] = { dtype: tensors[name].dtype, shape: tensors[name].shape, data_offsets: [offset, offset + bytes.length] };
    offset += bytes.length;
    chunks.push(bytes);
  }
  let headerBytes = Buffer.from(JSON.stringify(header), 'utf8');
  const padding = (8 - (headerBytes.length % 8)) % 8; // keeps every tensor 8-byte aligned in the file
  headerBytes = Buffer.concat([headerBytes, Buffer.alloc(padding, 0x20)]);
  const lengthField = Buffer.alloc(8);
  lengthField.writeBigUInt64LE(BigInt(headerBytes.length));
  writeFileAtomic(file, (fd) => {
    fs.writeSync(fd, lengthField);
    fs.writeSync(fd, headerBytes);
    for (const chunk of chunks) fs.writeSync(fd, chunk);
  });
}

// ---------------------------------------------------------------------------------------------
// Checkpoint folders: one `model.safetensors`, or shards listed in `model.safetensors.index.json`.

export const SINGLE_FILE = 'model.safetensors';
export const INDEX_FILE = 'model.safetensors.index.json';

/** The tensors of a checkpoint folder, whether in one file or sharded, read lazily by name. */
export class CheckpointTensors {
  readonly folder: string;
  /** Tensor name → the shard that holds it. */
  private readonly owner = new Map<string, SafetensorsFile>();

  constructor(folder: string, files: SafetensorsFile[]) {
    this.folder = folder;
    for (const f of files) {
      for (const name of f.names()) {
        const other = this.owner.get(name);
        if (other) throw new Error(`${folder}: tensor '${name}' appears in both ${other.file} and ${f.file}`);
        this.owner.set(name, f);
      }
    }
  }

  /** Opens `model.safetensors`, or the shards named by `model.safetensors.index.json`. */
  static open(folder: string): CheckpointTensors {
    const single = path.join(folder, SINGLE_FILE);
    if (fs.existsSync(single)) return new CheckpointTensors(folder, [SafetensorsFile.open(single)]);
    const index = path.join(folder, INDEX_FILE);
    if (fs.existsSync(index)) return new CheckpointTensors(folder, shardFiles(folder, index).map((f) => SafetensorsFile.open(f)));
    const others = fs.existsSync(folder) ? fs.readdirSync(folder).filter((f) => /\.(bin|pt|pth|h5|msgpack)$/.test(f)) : [];
    throw new Error(
      `${folder}: no ${SINGLE_FILE} or ${INDEX_FILE} found` +
        (others.length ? ` (found ${others.join(', ')}: only the safetensors format is supported; download the model's safetensors files)` : ''),
    );
  }

  names(): string[] {
    return [...this.owner.keys()];
  }

  has(name: string): boolean {
    return this.owner.has(name);
  }

  fileOf(name: string): SafetensorsFile {
    const f = this.owner.get(name);
    if (!f) throw new Error(`${this.folder}: the checkpoint has no tensor named '${name}'`);
    return f;
  }

  info(name: string): TensorInfo {
    return this.fileOf(name).info(name);
  }

  readFloat32(name: string): { shape: number[]; data: Float32Array } {
    return this.fileOf(name).readFloat32(name);
  }
}

/** The shard files listed in an index's `weight_map`, each checked to lie inside the folder. */
export function shardFiles(folder: string, indexFile: string): string[] {
  let index: { weight_map?: unknown };
  try {
    index = JSON.parse(fs.readFileSync(indexFile, 'utf8'));
  } catch (e) {
    throw corrupt(indexFile, `not valid JSON (${(e as Error).message})`);
  }
  const map = index.weight_map;
  if (typeof map !== 'object' || map === null || Array.isArray(map)) throw corrupt(indexFile, 'it has no "weight_map" object');
  const root = path.resolve(folder);
  const shards = new Set<string>();
  for (const [tensor, shard] of Object.entries(map as Record<string, unknown>)) {
    if (typeof shard !== 'string' || shard === '') throw corrupt(indexFile, `weight_map['${tensor}'] is not a file name`);
    // A shard name comes from a downloaded file: it must not reach outside the checkpoint folder.
    const resolved = path.resolve(root, shard);
    if (path.isAbsolute(shard) || shard.split(/[\\/]/).includes('..') || !resolved.startsWith(root + path.sep)) {
      throw new Error(
        `${indexFile}: weight_map['${tensor}'] names the shard '${shard}', which is outside the checkpoint folder ${root}; ` +
          `shard names must be plain file names inside it. Refusing to read it: re-download the checkpoint from a trusted source.`,
      );
    }
    shards.add(resolved);
  }
  for (const shard of shards) {
    if (!fs.existsSync(shard)) throw new Error(`${indexFile}: shard ${path.basename(shard)} is listed but missing from ${root}; download it.`);
  }
  return [...shards].sort();
}
