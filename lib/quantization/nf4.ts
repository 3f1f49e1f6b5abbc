// NF4 4-bit quantization on the host (pure TypeScript, no tfjs), bit-compatible with bitsandbytes.
//
// A weight is flattened (row-major) and cut into blocks of `blockSize` values (64 by default).
// Each block keeps its absolute maximum (fp32) and one 4-bit code per value: the index of the
// NF4 level nearest to w / absmax, found the way bitsandbytes' CUDA kernel `kQuantizeBlockwise`
// finds it (a walk over 15 fp32 thresholds, ties going to the lower code). Two codes share a
// byte, the even element in the high nibble.
//
// Double quantization (bitsandbytes `compress_statistics=True`, QLoRA's default) then squeezes
// the per-block absmax values: subtract their mean, and store them as 8-bit codes of
// bitsandbytes' "dynamic" map, with one fp32 scale per 256 absmax values.
//
// Every arithmetic step is rounded to fp32 with Math.fround, exactly where the CUDA kernel works
// in fp32, so codes match bitsandbytes bit for bit.

/** The 16 NF4 levels (bitsandbytes `get_4bit_type('nf4')`), code 0..15, as fp32. */
export const NF4_VALUES: Float32Array = new Float32Array([
  -1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453, -0.28444138169288635,
  -0.18477343022823334, -0.09105003625154495, 0.0, 0.07958029955625534, 0.16093020141124725,
  0.24611230194568634, 0.33791524171829224, 0.44070982933044434, 0.5626170039176941,
  0.7229568362236023, 1.0,
]);

/**
 * The 15 fp32 decision thresholds of bitsandbytes' `dQuantizeNF4` (the midpoints of neighbouring
 * levels, as the kernel's float literals). Code = how many thresholds x is strictly above.
 */
export const NF4_THRESHOLDS: Float32Array = new Float32Array([
  -0.8480964004993439, -0.6106329262256622, -0.4599952697753906, -0.33967943489551544,
  -0.23460740596055984, -0.13791173323988914, -0.045525018125772476, 0.03979014977812767,
  0.1202552504837513, 0.2035212516784668, 0.2920137718319893, 0.3893125355243683,
  0.5016634166240692, 0.6427869200706482, 0.8614784181118011,
]);

/** Block sizes bitsandbytes accepts for 4-bit quantization on CUDA. */
export const NF4_BLOCK_SIZES: readonly number[] = [32, 64, 128, 256, 512, 1024, 2048, 4096];

/** Double quantization always uses blocks of 256 absmax values (bitsandbytes `quantize_4bit`). */
export const DOUBLE_QUANT_BLOCK_SIZE = 256;

export interface NF4Quantized {
  /** Shape of the original tensor (row-major). */
  shape: number[];
  /** Number of values (product of shape). */
  length: number;
  /** Values per absmax block. */
  blockSize: number;
  /** ceil(length / 2) bytes: byte j = code[2j] << 4 | code[2j+1] (an odd tail is padded with code 0). */
  packed: Uint8Array;
  /** One fp32 absmax per block (set when not double-quantized). */
  absmax?: Float32Array;
  /** The absmax values, 8-bit quantized (set when double-quantized). */
  doubleQuant?: {
    /** One 8-bit code (index into `createDynamicMap()`) per block. */
    codes: Uint8Array;
    /** One fp32 scale per `blockSize` codes: the absmax of (absmax - offset) in that group. */
    scales: Float32Array;
    /** The mean of all absmax values (fp32), subtracted before quantizing them. */
    offset: number;
    /** Absmax values per scale (256). */
    blockSize: number;
  };
}

export interface QuantizeNF4Options {
  /** Values per block: 32, 64 (default), 128, ..., 4096. */
  blockSize?: number;
  /** Also quantize the absmax values to 8 bits (bitsandbytes `compress_statistics`). Default false. */
  doubleQuant?: boolean;
  /** Shape to record (default [values.length]); its product must equal values.length. */
  shape?: number[];
}

// Module-level bindings, not global Math lookups, in the hot loops (slow inside vm contexts such as jest).
const fround = Math.fround;
const abs = Math.abs;
const max = Math.max;

/** Throws unless blockSize is one bitsandbytes accepts for 4-bit quantization. */
export function checkBlockSize(blockSize: number): void {
  if (!NF4_BLOCK_SIZES.includes(blockSize)) {
    throw new Error(
      `NF4 blockSize ${blockSize} is not supported: use one of ${NF4_BLOCK_SIZES.join(', ')} ` +
        `(the block sizes bitsandbytes allows for 4-bit quantization; 64 is the default).`,
    );
  }
}

function numBlocks(length: number, blockSize: number): number {
  return Math.ceil(length / blockSize);
}

/**
 * The NF4 code of an fp32 value x in [-1, 1]: the number of thresholds x lies strictly above,
 * found in 4 comparisons (the same tree as bitsandbytes' dQuantizeNF4). NaN (an all-zero block,
 * 0 * 1/0) compares false everywhere and gives code 0, as in the CUDA kernel.
 */
function nf4Code(x: number, t: Float32Array): number {
  let code = 0;
  if (x > t[7]) code = 8;
  if (x > t[code + 3]) code += 4;
  if (x > t[code + 1]) code += 2;
  if (x > t[code]) code += 1;
  return code;
}

/**
 * Quantizes `values` to NF4 exactly like bitsandbytes `quantize_4bit(A, blocksize,
 * compress_statistics, quant_type='nf4')` on CUDA with fp32 input.
 */
export function quantizeNF4(values: Float32Array, opts: QuantizeNF4Options = {}): NF4Quantized {
  const blockSize = opts.blockSize ?? 64;
  checkBlockSize(blockSize);
  if (!(values instanceof Float32Array)) {
    throw new Error(`quantizeNF4: values must be a Float32Array (got ${Object.prototype.toString.call(values)})`);
  }
  const length = values.length;
  const shape = opts.shape ? [...opts.shape] : [length];
  const shapeSize = shape.reduce((a, b) => a * b, 1);
  if (shapeSize !== length) {
    throw new Error(`quantizeNF4: shape [${shape.join(', ')}] holds ${shapeSize} values but ${length} were given`);
  }

  const nBlocks = numBlocks(length, blockSize);
  const absmax = new Float32Array(nBlocks);
  const packed = new Uint8Array(Math.ceil(length / 2));
  const t = NF4_THRESHOLDS;

  for (let b = 0; b < nBlocks; b++) {
    const start = b * blockSize;
    const end = Math.min(start + blockSize, length);

    let blockMax = 0;
    for (let i = start; i < end; i++) {
      const a = abs(values[i]);
      // `!(a < Infinity)` is true for both NaN and ±Infinity.
      if (!(a < Infinity)) {
        throw new Error(`quantizeNF4: value ${values[i]} at index ${i} is not finite; NF4 needs finite weights (check the checkpoint)`);
      }
      if (a > blockMax) blockMax = a;
    }
    absmax[b] = blockMax;

    // The kernel multiplies by the fp32 reciprocal rather than dividing: x = fp32(w * fp32(1/absmax)).
    const inverse = fround(1 / blockMax);
    for (let i = start; i < end; i++) {
      const code = nf4Code(fround(values[i] * inverse), t);
      if ((i & 1) === 0) packed[i >> 1] = code << 4;
      else packed[i >> 1] |= code;
    }
  }

  if (!opts.doubleQuant) return { shape, length, blockSize, packed, absmax };
  return { shape, length, blockSize, packed, doubleQuant: quantizeAbsmax(absmax) };
}

// ---------------------------------------------------------------------------------------------
// Double quantization: bitsandbytes' 8-bit "dynamic" map and its blockwise quantizer.

/**
 * torch.linspace(start, end, steps) in float32, reproducing PyTorch's CPU kernel (x86 AVX2 build)
 * bit for bit, because bitsandbytes builds its dynamic map with it on the CPU:
 * step = fp32((end - start) / (steps - 1)); index i < steps/2 is start + step*i, the rest
 * end - step*(steps-1-i), each a fused multiply-add. The kernel fills 16 values at a time as two
 * 8-lane vectors whose lanes are base + fp32(lane*step) from the vector's first index, and the
 * remaining tail one by one. (A plain `start + i*step` differs in the last bit at a few entries.)
 */
function torchLinspaceFloat32(start: number, end: number, steps: number): Float32Array {
  const out = new Float32Array(steps);
  const s = fround(start);
  const e = fround(end);
  const step = fround(fround(e - s) / (steps - 1));
  const half = Math.floor(steps / 2);
  // Here step*i has at most 31 significant bits and all values lie in [0.1, 1], so the double
  // expression is exact and one fround makes it a true fp32 fused multiply-add.
  const at = (i: number): number => (i < half ? fround(s + step * i) : fround(e - step * (steps - 1 - i)));
  const LANES = 8;
  let i = 0;
  for (; i + 2 * LANES <= steps; i += 2 * LANES) {
    for (const first of [i, i + LANES]) {
      const base = at(first);
      for (let lane = 0; lane < LANES; lane++) out[first + lane] = fround(base + fround(lane * step));
    }
  }
  for (; i < steps; i++) out[i] = at(i);
  return out;
}

let dynamicMapCache: Float32Array | null = null;

/**
 * bitsandbytes `create_dynamic_map(signed=True, max_exponent_bits=7, total_bits=8)`: 256 sorted
 * fp32 values in [-1, 1]. For each decimal exponent 10^-6 .. 10^0 it takes the midpoints of
 * linspace(0.1, 1, 2^i + 1), with both signs, then adds 0 and 1.
 */
export function createDynamicMap(): Float32Array {
  if (dynamicMapCache) return dynamicMapCache;
  const maxExponentBits = 7;
  const data: number[] = [];
  for (let i = 0; i < maxExponentBits; i++) {
    const fractionItems = 2 ** i + 1;
    const boundaries = torchLinspaceFloat32(0.1, 1, fractionItems);
    // Python's 10 ** (i - 6) is a double; torch casts it to fp32 before multiplying an fp32 tensor.
    const scale = fround(10 ** (i - (maxExponentBits - 1)));
    for (let k = 0; k + 1 < fractionItems; k++) {
      const mean = fround(fround(boundaries[k] + boundaries[k + 1]) / 2);
      data.push(fround(scale * mean), fround(-scale * mean));
    }
  }
  data.push(0, 1);
  data.sort((a, b) => a - b);
  dynamicMapCache = new Float32Array(data);
  return dynamicMapCache;
}

/**
 * bitsandbytes' `dQuantize<0>` (the 8-bit path of kQuantizeBlockwise): a 7-step binary search of
 * the sorted 256-entry map, then a choice between the last pivot and its neighbour by comparing x
 * with their fp32 midpoint.
 */
function quantizeDynamic(x: number, map: Float32Array): number {
  let pivot = 127;
  let upperPivot = 255;
  let lowerPivot = 0;
  let lower = -1;
  let upper = 1;
  let val = map[pivot];
  for (let step = 64; step > 0; step >>= 1) {
    if (x > val) {
      lowerPivot = pivot;
      lower = val;
      pivot += step;
    } else {
      upperPivot = pivot;
      upper = val;
      pivot -= step;
    }
    val = map[pivot];
  }
  if (upperPivot === 255) upper = map[255];
  if (lowerPivot === 0) lower = map[0];
  if (x > val) {
    const midpoint = fround(fround(upper + val) * 0.5);
    return x > midpoint ? upperPivot : pivot;
  }
  const midpoint = fround(fround(lower + val) * 0.5);
  return x < midpoint ? lowerPivot : pivot;
}

/**
 * The mean of the absmax values in fp32. bitsandbytes uses `absmax.mean()` on the GPU, whose
 * summation order is the GPU's; we take the exact mean (double accumulation) rounded to fp32.
 */
function meanFloat32(values: Float32Array): number {
  let sum = 0;
  for (let i = 0; i < values.length; i++) sum += values[i];
  return fround(sum / values.length);
}

/** Double quantization of the per-block absmax values (bitsandbytes `compress_statistics=True`). */
function quantizeAbsmax(absmax: Float32Array): NonNullable<NF4Quantized['doubleQuant']> {
  const map = createDynamicMap();
  const blockSize = DOUBLE_QUANT_BLOCK_SIZE;
  const offset = meanFloat32(absmax);
  const n = absmax.length;
  const codes = new Uint8Array(n);
  const scales = new Float32Array(numBlocks(n, blockSize));
  const centered = new Float32Array(n);
  for (let i = 0; i < n; i++) centered[i] = absmax[i] - offset; // fp32 store rounds the difference

  for (let b = 0; b < scales.length; b++) {
    const start = b * blockSize;
    const end = Math.min(start + blockSize, n);
    let blockMax = 0;
    for (let i = start; i < end; i++) blockMax = max(blockMax, abs(centered[i]));
    scales[b] = blockMax;
    const inverse = fround(1 / blockMax);
    for (let i = start; i < end; i++) codes[i] = quantizeDynamic(fround(centered[i] * inverse), map);
  }
  return { codes, scales, offset, blockSize };
}

/**
 * The fp32 absmax of every block: stored as is, or (double quantization) rebuilt like
 * bitsandbytes `dequantize_blockwise` + `absmax += offset`: fp32(fp32(map[code] * scale) + offset).
 */
export function dequantizeAbsmax(q: NF4Quantized): Float32Array {
  if (q.absmax) return q.absmax;
  const dq = q.doubleQuant;
  if (!dq) throw new Error('NF4Quantized has neither absmax nor doubleQuant: it is malformed');
  const map = createDynamicMap();
  const out = new Float32Array(dq.codes.length);
  for (let i = 0; i < out.length; i++) {
    out[i] = fround(map[dq.codes[i]] * dq.scales[Math.floor(i / dq.blockSize)]) + dq.offset;
  }
  return out;
}

/** Checks that q's arrays have the sizes its length and blockSize imply. */
export function checkNF4Quantized(q: NF4Quantized): void {
  checkBlockSize(q.blockSize);
  const nBlocks = numBlocks(q.length, q.blockSize);
  const problems: string[] = [];
  if (q.packed.length !== Math.ceil(q.length / 2)) problems.push(`packed has ${q.packed.length} bytes, expected ${Math.ceil(q.length / 2)}`);
  if (q.shape.reduce((a, b) => a * b, 1) !== q.length) problems.push(`shape [${q.shape.join(', ')}] does not hold ${q.length} values`);
  if ((q.absmax === undefined) === (q.doubleQuant === undefined)) problems.push('exactly one of absmax / doubleQuant must be set');
  if (q.absmax && q.absmax.length !== nBlocks) problems.push(`absmax has ${q.absmax.length} values, expected ${nBlocks}`);
  if (q.doubleQuant) {
    const dq = q.doubleQuant;
    if (dq.codes.length !== nBlocks) problems.push(`doubleQuant.codes has ${dq.codes.length} values, expected ${nBlocks}`);
    if (dq.scales.length !== numBlocks(nBlocks, dq.blockSize)) {
      problems.push(`doubleQuant.scales has ${dq.scales.length} values, expected ${numBlocks(nBlocks, dq.blockSize)}`);
    }
  }
  if (problems.length) throw new Error(`Malformed NF4Quantized: ${problems.join('; ')}`);
}

/** The fp32 values NF4[code] * absmax of every element (bitsandbytes `dequantize_4bit`). */
export function dequantizeNF4(q: NF4Quantized): Float32Array {
  checkNF4Quantized(q);
  const absmax = dequantizeAbsmax(q);
  const out = new Float32Array(q.length);
  const packed = q.packed;
  const lut = NF4_VALUES;
  for (let b = 0; b < absmax.length; b++) {
    const scale = absmax[b];
    const start = b * q.blockSize;
    const end = Math.min(start + q.blockSize, q.length);
    for (let i = start; i < end; i++) {
      const byte = packed[i >> 1];
      const code = (i & 1) === 0 ? byte >> 4 : byte & 15;
      out[i] = lut[code] * scale; // the fp32 store rounds the exact product: an fp32 multiply
    }
  }
  return out;
}

/** Bytes of storage: packed codes + absmax (or 8-bit codes + fp32 scales + fp32 offset). */
export function nf4Bytes(q: NF4Quantized): number {
  const stats = q.absmax ? q.absmax.length * 4 : q.doubleQuant!.codes.length + q.doubleQuant!.scales.length * 4 + 4;
  return q.packed.length + stats;
}

/** Storage bits per parameter: 4.5 for block 64, about 4.127 with double quantization. */
export function nf4BitsPerParameter(q: NF4Quantized): number {
  return (nf4Bytes(q) * 8) / q.length;
}
