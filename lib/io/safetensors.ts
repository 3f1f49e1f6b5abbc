// Reading and writing the safetensors format (Hugging Face's checkpoint format), following the
// specification in huggingface/safetensors' README and the checks of its reference reader
// (`safetensors/src/tensor.rs`: `read_metadata`, `Metadata::validate`).
//
// Layout: 8-byte little-endian header length N, then N bytes of UTF-8 JSON
//   {"__metadata__": {...}, name: {"dtype": "F32", "shape": [...], "data_offsets": [begin, end]}, ...}
// (offsets relative to the end of the header), then the raw little-endian tensor bytes.
//
// The rules a file must follow, each refused with the file name and the rule:
// - N ≤ 100,000,000 (checked before anything is allocated) and 8 + N ≤ the file size;
// - the header is valid UTF-8 and one JSON object (JSON whitespace around it is allowed, as the
//   reference reader allows it: writers pad with spaces to align the data);
// - no key appears twice (JSON.parse would silently keep the last one: we parse strictly);
// - `__metadata__`, if present, maps strings to strings (or is null);
// - every tensor has a known dtype, a shape of non-negative integers, and integer
//   data_offsets [begin, end] with end − begin = (elements × dtype bits) / 8 exactly;
// - sorted by offsets, the tensors cover the byte buffer from 0 to its end with no hole, no
//   overlap and nothing after the last tensor (a zero-size tensor may sit at any boundary, e.g.
//   at the start of the next tensor).
//
// Files can be hundreds of MB, so `SafetensorsFile` reads one tensor at a time. The writer
// reproduces the reference library's byte layout: tensors sorted by dtype (the Rust enum order,
// largest first) then name, compact JSON with `__metadata__` first, header padded with spaces to
// a multiple of 8 bytes.
import * as fs from 'fs';
import { writeFileAtomic } from '../util/atomic-write';
import { bfloat16BitsToFloat32, float16BitsToFloat32, float32ToBfloat16Bits, float32ToFloat16Bits } from './half';
import { JsonFloat, JsonValue, parseStrictJson } from './header-json';

export type SafetensorsDtype =
  | 'BOOL' | 'F4' | 'F6_E2M3' | 'F6_E3M2' | 'U8' | 'I8' | 'F8_E5M2' | 'F8_E4M3' | 'F8_E8M0' | 'F8_E4M3FNUZ'
  | 'F8_E5M2FNUZ' | 'I16' | 'U16' | 'F16' | 'BF16' | 'I32' | 'U32' | 'F32' | 'C64' | 'F64' | 'I64' | 'U64';

/** The typed array each dtype is read into (F16/BF16 as raw 16-bit patterns, sub-byte and FP8 as raw bytes, C64 as (re, im) pairs). */
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

// The Rust `Dtype` enum, in its order (increasing alignment): the writer sorts by it, descending.
const DTYPES: Record<SafetensorsDtype, { bits: number; array: ArrayCtor }> = {
  BOOL: { bits: 8, array: Uint8Array },
  F4: { bits: 4, array: Uint8Array },
  F6_E2M3: { bits: 6, array: Uint8Array },
  F6_E3M2: { bits: 6, array: Uint8Array },
  U8: { bits: 8, array: Uint8Array },
  I8: { bits: 8, array: Int8Array },
  F8_E5M2: { bits: 8, array: Uint8Array },
  F8_E4M3: { bits: 8, array: Uint8Array },
  F8_E8M0: { bits: 8, array: Uint8Array },
  F8_E4M3FNUZ: { bits: 8, array: Uint8Array },
  F8_E5M2FNUZ: { bits: 8, array: Uint8Array },
  I16: { bits: 16, array: Int16Array },
  U16: { bits: 16, array: Uint16Array },
  F16: { bits: 16, array: Uint16Array },
  BF16: { bits: 16, array: Uint16Array },
  I32: { bits: 32, array: Int32Array },
  U32: { bits: 32, array: Uint32Array },
  F32: { bits: 32, array: Float32Array },
  C64: { bits: 64, array: Float32Array },
  F64: { bits: 64, array: Float64Array },
  I64: { bits: 64, array: BigInt64Array },
  U64: { bits: 64, array: BigUint64Array },
};
const DTYPE_ORDER = Object.keys(DTYPES) as SafetensorsDtype[];

/** The reference library refuses headers above 100 MB; so do we, before allocating them. */
export const MAX_HEADER_BYTES = 100_000_000;

const REDOWNLOAD = 'the file is corrupt or truncated; delete it and download it again';

function isDtype(s: unknown): s is SafetensorsDtype {
  return typeof s === 'string' && Object.prototype.hasOwnProperty.call(DTYPES, s);
}

/**
 * Bytes a tensor of `dtype` and `shape` occupies, or an error message when the element count
 * overflows or the bits do not fill whole bytes (e.g. 3 F4 values: the reference's MisalignedSlice).
 */
function byteSize(dtype: SafetensorsDtype, shape: number[]): number | string {
  const bits = shape.reduce((n, d) => n * BigInt(d), 1n) * BigInt(DTYPES[dtype].bits);
  if (bits % 8n !== 0n) return `its ${bits} bits do not fill whole bytes`;
  const bytes = bits / 8n;
  if (bytes > BigInt(Number.MAX_SAFE_INTEGER)) return 'its size overflows';
  return Number(bytes);
}

// ---------------------------------------------------------------------------------------------
// Reading

function corrupt(file: string, what: string): Error {
  return new Error(`${file}: ${what} — ${REDOWNLOAD}.`);
}

const isObject = (v: unknown): v is { [key: string]: JsonValue } => typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof JsonFloat);
const isIndex = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
/** JSON text of a header value, with float literals written as they were (`[2.0]`). */
const show = (v: unknown) =>
  JSON.stringify(v, (_k, x) => (x instanceof JsonFloat ? `\u0000${x.literal}\u0000` : x))?.replace(/"\\u0000(.*?)\\u0000"/g, '$1');

/** Parses and validates a header against the data section size, by the rules in the file comment. */
function parseHeader(file: string, headerBytes: Uint8Array, dataBytes: number): { tensors: Map<string, TensorInfo>; metadata: Record<string, string> } {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(headerBytes);
  } catch {
    throw corrupt(file, 'the safetensors header is not valid UTF-8 (the format requires a UTF-8 JSON header)');
  }
  let raw: JsonValue;
  try {
    raw = parseStrictJson(text);
  } catch (e) {
    const rule = /duplicate key/.test((e as Error).message) ? ' (the safetensors format forbids duplicate names)' : '';
    throw corrupt(file, `the safetensors header is not valid JSON: ${(e as Error).message}${rule}`);
  }
  if (!isObject(raw)) throw corrupt(file, 'the safetensors header must be a JSON object beginning with {');
  const metadata: Record<string, string> = {};
  const tensors: [string, TensorInfo][] = [];
  for (const [name, entry] of Object.entries(raw)) {
    if (name === '__metadata__') {
      if (entry === null) continue;
      if (!isObject(entry)) throw corrupt(file, '__metadata__ must be an object mapping strings to strings');
      for (const [k, v] of Object.entries(entry)) {
        if (typeof v !== 'string') throw corrupt(file, `__metadata__.${k} is not a string (the format allows only string values in __metadata__)`);
        metadata[k] = v;
      }
      continue;
    }
    if (!isObject(entry)) throw corrupt(file, `tensor '${name}' has no dtype/shape/data_offsets entry`);
    const { dtype, shape, data_offsets: offs } = entry;
    if (!isDtype(dtype)) throw corrupt(file, `tensor '${name}' has unknown dtype ${show(dtype)} (known: ${DTYPE_ORDER.join(', ')})`);
    if (!Array.isArray(shape) || !shape.every(isIndex)) {
      throw corrupt(file, `tensor '${name}' has an invalid shape ${show(shape)} (dimensions must be non-negative integers)`);
    }
    if (!Array.isArray(offs) || offs.length !== 2 || !offs.every(isIndex) || offs[1] < offs[0]) {
      throw corrupt(file, `tensor '${name}' has invalid data_offsets ${show(offs)} (must be two integers [begin, end] with begin ≤ end)`);
    }
    const [begin, end] = offs as [number, number];
    const size = byteSize(dtype, shape as number[]);
    if (typeof size === 'string') throw corrupt(file, `tensor '${name}' (${dtype} [${shape.join(', ')}]): ${size}`);
    if (end - begin !== size) {
      throw corrupt(
        file,
        `tensor '${name}' (${dtype} [${shape.join(', ')}]) should take ${size} bytes but its data_offsets [${begin}, ${end}] span ${end - begin}`,
      );
    }
    if (end > dataBytes) throw corrupt(file, `tensor '${name}' ends at byte ${end} of the data section, which has only ${dataBytes} bytes (truncated?)`);
    tensors.push([name, { dtype, shape: shape as number[], dataOffsets: [begin, end] }]);
  }
  // The byte buffer must be entirely indexed: sorted by (begin, end), each tensor starts where the
  // previous one ended. Zero-size tensors sort before the tensor that starts at their offset.
  const sorted = [...tensors].sort((a, b) => a[1].dataOffsets[0] - b[1].dataOffsets[0] || a[1].dataOffsets[1] - b[1].dataOffsets[1]);
  let covered = 0;
  let prev = '';
  for (const [name, info] of sorted) {
    const [begin] = info.dataOffsets;
    if (begin > covered) {
      throw corrupt(
        file,
        `bytes ${covered}–${begin} of the data section belong to no tensor (before '${name}'); the safetensors format requires the byte buffer to be entirely indexed, with no holes`,
      );
    }
    if (begin < covered) {
      throw corrupt(file, `tensors '${prev}' and '${name}' overlap (data_offsets [${tensors.find((t) => t[0] === prev)![1].dataOffsets}] and [${info.dataOffsets}])`);
    }
    covered = info.dataOffsets[1];
    prev = name;
  }
  if (covered !== dataBytes) {
    throw corrupt(
      file,
      `the tensors cover ${covered} bytes but the data section has ${dataBytes}; the safetensors format allows nothing after the last tensor (no holes)`,
    );
  }
  return { tensors: new Map(tensors), metadata };
}

/**
 * A safetensors file opened lazily: the header is read and validated on open, each tensor is
 * read from disk only when asked for, so loading a model never holds the whole file in memory.
 * Mirrors `safetensors.safe_open(file, 'pt')`. Throws, naming the file and the broken rule, on
 * any file that breaks the format.
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
      const { tensors, metadata } = parseHeader(file, header, fileBytes - 8 - n);
      return new SafetensorsFile(file, tensors, metadata, 8 + n);
    } finally {
      fs.closeSync(fd);
    }
  }

  /** Tensor names in header order. */
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
    if (end > begin) {
      const fd = fs.openSync(this.file, 'r');
      try {
        const got = fs.readSync(fd, new Uint8Array(bytes), 0, end - begin, this.dataStart + begin);
        if (got !== end - begin) throw corrupt(this.file, `tensor '${name}' could only be read partly (${got} of ${end - begin} bytes)`);
      } finally {
        fs.closeSync(fd);
      }
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

/** Reads every tensor of a file (convenient for small files; use `SafetensorsFile` for models). Mirrors `safetensors.torch.load_file`. */
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
   * The values: the dtype's own typed array (raw bit patterns for F16/BF16, packed bytes for
   * sub-byte and FP8 dtypes), or for F16/BF16 a Float32Array to be rounded, or for I64 an
   * Int32Array to be widened.
   */
  data: TensorData;
}

function toBytes(file: string, name: string, t: TensorToWrite): Uint8Array {
  if (!isDtype(t.dtype)) throw new Error(`writeSafetensors ${file}: tensor '${name}' has unknown dtype '${t.dtype}' (known: ${DTYPE_ORDER.join(', ')})`);
  if (!Array.isArray(t.shape) || !t.shape.every(isIndex)) {
    throw new Error(`writeSafetensors ${file}: tensor '${name}' has an invalid shape ${JSON.stringify(t.shape)} (dimensions must be non-negative integers)`);
  }
  let data: TensorData = t.data;
  if ((t.dtype === 'F16' || t.dtype === 'BF16') && data instanceof Float32Array) {
    data = t.dtype === 'F16' ? float32ToFloat16Bits(data) : float32ToBfloat16Bits(data);
  } else if (t.dtype === 'I64' && data instanceof Int32Array) {
    data = BigInt64Array.from(data, (v) => BigInt(v));
  }
  const expected = byteSize(t.dtype, t.shape);
  if (typeof expected === 'string') throw new Error(`writeSafetensors ${file}: tensor '${name}' (${t.dtype} [${t.shape.join(', ')}]): ${expected}`);
  if (data.byteLength !== expected) {
    throw new Error(
      `writeSafetensors ${file}: tensor '${name}' (${t.dtype} [${t.shape.join(', ')}]) needs ${expected} bytes but its data has ${data.byteLength}`,
    );
  }
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

/** Compares strings by their UTF-8 bytes, as Rust's `str::cmp` does. */
function compareUtf8(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/**
 * Writes tensors in the byte layout of the reference library's `save_file` (atomically: a reader
 * never sees half a file). `metadata` goes to `__metadata__` (PyTorch-made files carry
 * `{"format": "pt"}`); its values must be strings. Throws, naming the file, on an unknown dtype,
 * a data size that does not match the shape, a tensor named `__metadata__`, or a header over 100 MB.
 */
export function writeSafetensors(file: string, tensors: Record<string, TensorToWrite>, metadata?: Record<string, string>): void {
  if (Object.prototype.hasOwnProperty.call(tensors, '__metadata__')) {
    throw new Error(`writeSafetensors ${file}: '__metadata__' is reserved and cannot name a tensor`);
  }
  for (const [k, v] of Object.entries(metadata ?? {})) {
    if (typeof v !== 'string') throw new Error(`writeSafetensors ${file}: metadata '${k}' is ${typeof v}; the format allows only string values in __metadata__`);
  }
  // Sort by dtype (Rust enum order), largest first, then by name, as the reference library does.
  const names = Object.keys(tensors).sort(
    (a, b) => DTYPE_ORDER.indexOf(tensors[b].dtype) - DTYPE_ORDER.indexOf(tensors[a].dtype) || compareUtf8(a, b),
  );
  const header: Record<string, unknown> = {};
  if (metadata) header.__metadata__ = metadata;
  const chunks: Uint8Array[] = [];
  let offset = 0;
  for (const name of names) {
    const bytes = toBytes(file, name, tensors[name]);
    header[name] = { dtype: tensors[name].dtype, shape: tensors[name].shape, data_offsets: [offset, offset + bytes.length] };
    offset += bytes.length;
    chunks.push(bytes);
  }
  let headerBytes = Buffer.from(JSON.stringify(header), 'utf8');
  const padding = (8 - (headerBytes.length % 8)) % 8; // keeps every tensor 8-byte aligned in the file
  headerBytes = Buffer.concat([headerBytes, Buffer.alloc(padding, 0x20)]);
  if (headerBytes.length > MAX_HEADER_BYTES) {
    throw new Error(`writeSafetensors ${file}: the header would take ${headerBytes.length} bytes, more than the format's 100 MB limit`);
  }
  const lengthField = Buffer.alloc(8);
  lengthField.writeBigUInt64LE(BigInt(headerBytes.length));
  writeFileAtomic(file, (fd) => {
    fs.writeSync(fd, lengthField);
    fs.writeSync(fd, headerBytes);
    for (const chunk of chunks) fs.writeSync(fd, chunk);
  });
}
