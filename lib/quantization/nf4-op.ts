// NF4 dequantization on the device, inside a tfjs forward pass.
//
// The frozen weight stays on the device as packed 4-bit codes (int32 words: tfjs has no uint8)
// plus one fp32 absmax per block; `dequantizeNF4Op` expands it to fp32 only for the op that
// needs it. Every backend computes the same thing, NF4[code] · absmax, one fp32 multiply, so
// they all agree bit for bit with the host `dequantizeNF4`:
//   cpu, wasm  registered kernels: one tight loop over typed arrays (wasm: over its heap; a
//              hand-written wasm loop would need its own module, so the JS loop reads and
//              writes the heap views directly)
//   webgpu     a registered WGSL kernel
//   any other  (e.g. tfjs-node's 'tensorflow') a composite of tfjs ops: integer division and
//              mod pick each nibble, gather looks it up in the 16-value table
//
// Word layout: the packed bytes of `quantizeNF4`, four per int32, little-endian: byte j sits at
// bits 8·(j mod 4) of word j/4. Code i is then the high nibble of byte i/2 when i is even, the
// low nibble when odd.
//
// Double quantization: the absmax values are rebuilt on the device by `dequantizeAbsmaxOp`
// (a second, small kernel over one 8-bit code per block), so neither the fp32 weight nor the
// fp32 absmax is kept resident.
import * as tf from '@tensorflow/tfjs';
import { NF4Quantized, NF4_VALUES, checkNF4Quantized, createDynamicMap } from './nf4';
import { HostLoop, WebGPUProgramSpec, cpuKernel, registerKernels, wasmKernel, webgpuKernel } from '../backends/custom-kernels';

export const DEQUANTIZE_NF4 = 'DequantizeNF4';

interface DequantizeAttrs {
  shape: number[];
  blockSize: number;
  /** Emit the transpose of a 2-D weight ([cols, rows]) directly, saving a separate transpose. */
  transpose: boolean;
}

/** Packs bytes four to an int32 word (byte j at bits 8·(j mod 4) of word j/4), zero-padded. */
export function packBytesToInt32(bytes: Uint8Array): Int32Array {
  const words = new Int32Array(Math.ceil(bytes.length / 4));
  for (let j = 0; j < bytes.length; j++) words[j >> 2] |= bytes[j] << ((j & 3) * 8);
  return words;
}

function outputShape(attrs: DequantizeAttrs): number[] {
  return attrs.transpose ? [attrs.shape[1], attrs.shape[0]] : attrs.shape;
}

/**
 * The shared CPU loop: out = NF4[code] · absmax[block] for every element, written row-major,
 * or transposed for a 2-D weight. Blocks hold a multiple of 8 values, so each full word lies in
 * one block; a partial last word is handled element by element.
 */
function dequantizeInto(words: Int32Array, absmax: Float32Array, attrs: DequantizeAttrs, out: Float32Array): void {
  const n = out.length;
  const lut = NF4_VALUES;
  const blockSize = attrs.blockSize;
  if (attrs.transpose) {
    // Weight element (r, c) goes to out[c, r].
    const [rows, cols] = attrs.shape;
    for (let r = 0, i = 0; r < rows; r++) {
      for (let c = 0; c < cols; c++, i++) out[c * rows + r] = lut[codeOf(words, i)] * absmax[(i / blockSize) | 0];
    }
    return;
  }
  const wordsPerBlock = blockSize / 8;
  const fullWords = Math.floor(n / 8);
  for (let w = 0; w < fullWords; w++) {
    const word = words[w];
    const scale = absmax[(w / wordsPerBlock) | 0];
    const i = w * 8;
    // Byte k of the word holds elements 2k (high nibble) and 2k+1 (low nibble).
    out[i] = lut[(word >>> 4) & 15] * scale;
    out[i + 1] = lut[word & 15] * scale;
    out[i + 2] = lut[(word >>> 12) & 15] * scale;
    out[i + 3] = lut[(word >>> 8) & 15] * scale;
    out[i + 4] = lut[(word >>> 20) & 15] * scale;
    out[i + 5] = lut[(word >>> 16) & 15] * scale;
    out[i + 6] = lut[(word >>> 28) & 15] * scale;
    out[i + 7] = lut[(word >>> 24) & 15] * scale;
  }
  for (let i = fullWords * 8; i < n; i++) out[i] = lut[codeOf(words, i)] * absmax[(i / blockSize) | 0];
}

function codeOf(words: Int32Array, i: number): number {
  const shift = ((i >> 1) & 3) * 8 + ((i & 1) === 0 ? 4 : 0);
  return (words[i >> 3] >>> shift) & 15;
}

/** bitsandbytes' 8-bit blockwise dequantization: out[i] = map[code i] · scales[i / blockSize]. */
function dequantize8Into(words: Int32Array, scales: Float32Array, map: Float32Array, attrs: Blockwise8Attrs, out: Float32Array): void {
  for (let i = 0; i < attrs.count; i++) {
    const code = (words[i >> 2] >>> ((i & 3) * 8)) & 255;
    out[i] = map[code] * scales[(i / attrs.blockSize) | 0];
  }
}

// ---------------------------------------------------------------------------------------------
// Kernels. tfjs passes (inputs, backend, attrs); the backends' internals used here are the ones
// their own kernels use: the cpu data store, and the wasm heap (see environment.md). Each op has
// one host loop, shared by the cpu and wasm kernels, and one WGSL program.

export const DEQUANTIZE_BLOCKWISE_8 = 'DequantizeBlockwise8';

interface Blockwise8Attrs {
  count: number;
  blockSize: number;
}


/** The NF4 table as WGSL fp32 bit patterns, so no decimal literal can round differently. */
function wgslNF4Table(): string {
  const bits = new Uint32Array(NF4_VALUES.buffer.slice(0));
  return Array.from(bits, (b) => `bitcast<f32>(0x${b.toString(16).padStart(8, '0')}u)`).join(', ');
}

function nf4Program(attrs: unknown): WebGPUProgramSpec {
  const a = attrs as DequantizeAttrs;
  const shape = outputShape(a);
  const [rows, cols] = a.transpose ? a.shape : [1, 1];
  return {
    variableNames: ['P', 'S'], // packed words (i32), absmax (f32)
    outputShape: shape,
    shaderKey: `dequantizeNF4_${a.transpose ? 't' : 'n'}`,
    uniforms: [['blockSize', a.blockSize], ['rows', rows], ['cols', cols]],
    userCode: `
      var<private> NF4 : array<f32, 16> = array<f32, 16>(${wgslNF4Table()});

      fn main(index : i32) {
        if (index < uniforms.size) {
          // Output element 'index' holds weight element i (they differ when transposed).
          ${a.transpose ? 'let i = (index % uniforms.rows) * uniforms.cols + index / uniforms.rows;' : 'let i = index;'}
          let word = bitcast<u32>(P[i / 8]);
          let shift = u32(((i / 2) % 4) * 8 + select(0, 4, i % 2 == 0));
          let code = (word >> shift) & 15u;
          setOutputAtIndex(index, NF4[code] * S[i / uniforms.blockSize]);
        }
      }
    `,
  };
}

function blockwise8Program(attrs: unknown): WebGPUProgramSpec {
  const a = attrs as Blockwise8Attrs;
  return {
    variableNames: ['C', 'S', 'M'], // code words (i32, 4 codes each), scales (f32), map (f32 [256])
    outputShape: [a.count],
    shaderKey: 'dequantizeBlockwise8',
    uniforms: [['blockSize', a.blockSize]],
    userCode: `
      fn main(index : i32) {
        if (index < uniforms.size) {
          let code = (bitcast<u32>(C[index / 4]) >> u32((index % 4) * 8)) & 255u;
          setOutputAtIndex(index, M[code] * S[index / uniforms.blockSize]);
        }
      }
    `,
  };
}

const nf4Loop: HostLoop = (x, attrs, out) => dequantizeInto(x.packed as Int32Array, x.absmax as Float32Array, attrs as DequantizeAttrs, out);
const nf4Shape = (attrs: unknown) => outputShape(attrs as DequantizeAttrs);
const blockwise8Loop: HostLoop = (x, attrs, out) =>
  dequantize8Into(x.codes as Int32Array, x.scales as Float32Array, x.map as Float32Array, attrs as Blockwise8Attrs, out);
const blockwise8Shape = (attrs: unknown) => [(attrs as Blockwise8Attrs).count];

// Registering a kernel for a backend that is not loaded is harmless: tfjs only consults it when
// that backend is active. The webgpu package itself is not imported here, because importing it
// before `navigator.gpu` exists would register nothing (backend.ts imports it at the right time).
const KERNELS: [string, string, tf.KernelFunc][] = [
  [DEQUANTIZE_NF4, 'cpu', cpuKernel(nf4Loop, nf4Shape)],
  [DEQUANTIZE_NF4, 'wasm', wasmKernel(nf4Loop, nf4Shape)],
  [DEQUANTIZE_NF4, 'webgpu', webgpuKernel(['packed', 'absmax'], nf4Program)],
  [DEQUANTIZE_BLOCKWISE_8, 'cpu', cpuKernel(blockwise8Loop, blockwise8Shape)],
  [DEQUANTIZE_BLOCKWISE_8, 'wasm', wasmKernel(blockwise8Loop, blockwise8Shape)],
  [DEQUANTIZE_BLOCKWISE_8, 'webgpu', webgpuKernel(['codes', 'scales', 'map'], blockwise8Program)],
];
registerKernels(KERNELS);

// ---------------------------------------------------------------------------------------------
// The public ops.

function checkOpArgs(packed: tf.Tensor, absmax: tf.Tensor, shape: number[], blockSize: number, transpose: boolean): void {
  const n = shape.reduce((x, y) => x * y, 1);
  const problems: string[] = [];
  if (packed.dtype !== 'int32') problems.push(`packed must be int32 (8 codes per word), got ${packed.dtype}`);
  if (packed.size !== Math.ceil(n / 8)) problems.push(`packed has ${packed.size} words, shape [${shape}] needs ${Math.ceil(n / 8)}`);
  if (absmax.dtype !== 'float32') problems.push(`absmax must be float32, got ${absmax.dtype}`);
  if (absmax.size !== Math.ceil(n / blockSize)) problems.push(`absmax has ${absmax.size} values, shape [${shape}] in blocks of ${blockSize} needs ${Math.ceil(n / blockSize)}`);
  if (blockSize % 8 !== 0 || blockSize < 8) problems.push(`blockSize ${blockSize} must be a multiple of 8`);
  if (transpose && shape.length !== 2) problems.push(`transpose needs a 2-D shape, got [${shape}]`);
  if (problems.length) throw new Error(`dequantizeNF4Op: ${problems.join('; ')}`);
}

/**
 * fp32 values of `shape` from packed NF4 codes (int32, 8 per word) and per-block absmax.
 * With `transpose` (2-D only) the result is the transposed weight [cols, rows]. Not
 * differentiable with respect to its inputs (the weight is frozen); gradients still flow through
 * ops that consume its output.
 */
export function dequantizeNF4Op(
  packed: tf.Tensor,
  absmax: tf.Tensor,
  shape: number[],
  blockSize: number,
  opts: { transpose?: boolean } = {},
): tf.Tensor {
  const transpose = opts.transpose ?? false;
  checkOpArgs(packed, absmax, shape, blockSize, transpose);
  if (!tf.getKernel(DEQUANTIZE_NF4, tf.getBackend())) {
    return dequantizeNF4Composite(packed, absmax, shape, blockSize, { transpose });
  }
  const attrs: DequantizeAttrs = { shape: [...shape], blockSize, transpose };
  return tf.engine().runKernel(DEQUANTIZE_NF4, { packed, absmax }, attrs as unknown as tf.NamedAttrMap) as tf.Tensor;
}

/**
 * Splits int32 words into their bytes as int32 values, low byte first: [words] → [words·4].
 * floorDiv by 2^(8k) is an arithmetic shift and mod 256 (floor mod) keeps 8 bits, also for
 * negative words.
 */
function wordsToBytes(words: tf.Tensor): tf.Tensor1D {
  const byteShifts = tf.tensor2d([[1, 1 << 8, 1 << 16, 1 << 24]], [1, 4], 'int32');
  const bytes = tf.mod(tf.floorDiv(tf.reshape(words, [-1, 1]), byteShifts), tf.scalar(256, 'int32')); // [W, 4]
  return tf.reshape(bytes, [-1]);
}

/** Multiplies values [n] by per-block scales [ceil(n / blockSize)]: pad, reshape, broadcast, cut. */
function scaleBlocks(values: tf.Tensor1D, scales: tf.Tensor, blockSize: number, n: number): tf.Tensor1D {
  const blocks = scales.size;
  const padded = tf.pad(values.slice(0, Math.min(n, values.size)), [[0, blocks * blockSize - Math.min(n, values.size)]]);
  const scaled = tf.mul(tf.reshape(padded, [blocks, blockSize]), tf.reshape(scales, [blocks, 1])); // [blocks, blockSize]
  return tf.reshape(scaled, [-1]).slice(0, n) as tf.Tensor1D;
}

/**
 * The same op built from standard tfjs ops, for backends without a registered kernel (e.g.
 * tfjs-node's 'tensorflow'). It needs exact int32 floorDiv and mod: TensorFlow's are, but wasm's
 * FloorDiv goes through float32 and garbles words above 2^24, which is one reason cpu, wasm and
 * webgpu have kernels.
 */
export function dequantizeNF4Composite(
  packed: tf.Tensor,
  absmax: tf.Tensor,
  shape: number[],
  blockSize: number,
  opts: { transpose?: boolean } = {},
): tf.Tensor {
  const transpose = opts.transpose ?? false;
  checkOpArgs(packed, absmax, shape, blockSize, transpose);
  const n = shape.reduce((x, y) => x * y, 1);
  return tf.tidy(() => {
    const bytes = wordsToBytes(packed); // [W·4], byte j = code[2j] << 4 | code[2j+1]
    const sixteen = tf.scalar(16, 'int32');
    const high = tf.floorDiv(bytes, sixteen);
    const low = tf.mod(bytes, sixteen);
    const codes = tf.reshape(tf.stack([high, low], 1), [-1]) as tf.Tensor1D; // [W·8] in element order
    const levels = tf.gather(tf.tensor1d(NF4_VALUES), codes) as tf.Tensor1D;
    const values = tf.reshape(scaleBlocks(levels, absmax, blockSize, n), shape);
    return transpose ? tf.transpose(values) : values;
  });
}

/**
 * Rebuilds double-quantized absmax values on the device: fp32(fp32(map[code] · scale) + offset),
 * where codes are 8-bit (four per int32 word, low byte first) and each scale covers `blockSize`
 * codes; the same arithmetic as the host's `dequantizeAbsmax`, hence the same bits. The product
 * comes from a kernel (or `dequantizeBlockwise8Composite`), the offset from a separate tf.add, so
 * no shader compiler can fuse them into one rounding.
 */
export function dequantizeAbsmaxOp(codeWords: tf.Tensor, scales: tf.Tensor, offset: number, count: number, blockSize = 256): tf.Tensor1D {
  if (codeWords.dtype !== 'int32' || codeWords.size !== Math.ceil(count / 4)) {
    throw new Error(`dequantizeAbsmaxOp: codes must be int32 with ${Math.ceil(count / 4)} words for ${count} codes, got ${codeWords.dtype} with ${codeWords.size}`);
  }
  if (scales.dtype !== 'float32' || scales.size !== Math.ceil(count / blockSize)) {
    throw new Error(`dequantizeAbsmaxOp: ${count} codes in blocks of ${blockSize} need ${Math.ceil(count / blockSize)} float32 scales, got ${scales.size} ${scales.dtype}`);
  }
  return tf.tidy(() => {
    const map = tf.tensor1d(createDynamicMap());
    const attrs: Blockwise8Attrs = { count, blockSize };
    const scaled = tf.getKernel(DEQUANTIZE_BLOCKWISE_8, tf.getBackend())
      ? (tf.engine().runKernel(DEQUANTIZE_BLOCKWISE_8, { codes: codeWords, scales, map }, attrs as unknown as tf.NamedAttrMap) as tf.Tensor1D)
      : dequantizeBlockwise8Composite(codeWords, scales, count, blockSize);
    return tf.add(scaled, tf.scalar(offset)) as tf.Tensor1D;
  });
}

/** map[code] · scale from standard tfjs ops (needs exact int32 floorDiv/mod, as TensorFlow's are). */
export function dequantizeBlockwise8Composite(codeWords: tf.Tensor, scales: tf.Tensor, count: number, blockSize: number): tf.Tensor1D {
  return tf.tidy(() => {
    const codes = wordsToBytes(codeWords).slice(0, count);
    const levels = tf.gather(tf.tensor1d(createDynamicMap()), codes) as tf.Tensor1D;
    return scaleBlocks(levels, scales, blockSize, count);
  });
}

// ---------------------------------------------------------------------------------------------

/**
 * A frozen NF4 weight resident on the device: packed codes and absmax (or the double-quantized
 * absmax pieces) only, never an fp32 copy. `dequantize()` expands it for one use.
 */
export class NF4Tensor {
  readonly shape: number[];
  readonly blockSize: number;
  private readonly packedWords: tf.Tensor1D; // int32, 8 codes per word
  private readonly absmax: tf.Tensor1D | null; // float32 [blocks]
  private readonly doubleQuant: { codeWords: tf.Tensor1D; scales: tf.Tensor1D; offset: number; count: number; blockSize: number } | null;
  private disposed = false;

  private constructor(q: NF4Quantized) {
    checkNF4Quantized(q);
    this.shape = [...q.shape];
    this.blockSize = q.blockSize;
    this.packedWords = tf.tensor1d(packBytesToInt32(q.packed), 'int32');
    this.absmax = q.absmax ? tf.tensor1d(q.absmax, 'float32') : null;
    const dq = q.doubleQuant;
    this.doubleQuant = dq
      ? {
          codeWords: tf.tensor1d(packBytesToInt32(dq.codes), 'int32'),
          scales: tf.tensor1d(dq.scales, 'float32'),
          offset: dq.offset,
          count: dq.codes.length,
          blockSize: dq.blockSize,
        }
      : null;
  }

  /** Copies the quantized weight to the current backend. */
  static upload(q: NF4Quantized): NF4Tensor {
    return new NF4Tensor(q);
  }

  /** The fp32 weight of `shape` (or its transpose, for 2-D). The caller disposes it. */
  dequantize(opts: { transpose?: boolean } = {}): tf.Tensor {
    if (this.disposed) throw new Error('NF4Tensor.dequantize: this NF4Tensor has been disposed');
    return tf.tidy(() => {
      const absmax = this.absmax ?? this.dequantizedAbsmax();
      return dequantizeNF4Op(this.packedWords, absmax, this.shape, this.blockSize, opts);
    });
  }

  private dequantizedAbsmax(): tf.Tensor1D {
    const dq = this.doubleQuant!;
    return dequantizeAbsmaxOp(dq.codeWords, dq.scales, dq.offset, dq.count, dq.blockSize);
  }

  /** Bytes held on the device (codes + absmax statistics). */
  residentBytes(): number {
    const tensors = [this.packedWords, this.absmax, this.doubleQuant?.codeWords, this.doubleQuant?.scales];
    return tensors.reduce((sum, t) => sum + (t ? t.size * 4 : 0), 0);
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    tf.dispose([this.packedWords, ...(this.absmax ? [this.absmax] : []), ...(this.doubleQuant ? [this.doubleQuant.codeWords, this.doubleQuant.scales] : [])]);
  }
}
