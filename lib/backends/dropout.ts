// Inverted dropout whose mask is computed on the device from (seed, element index).
//
// Why not tf.dropout: it calls tf.randomUniform, which tfjs computes on the CPU in JavaScript
// (seedrandom's alea, one value at a time) and then uploads to the device, followed by three
// more elementwise passes (add, floor, div) and the multiply. A DistilBERT training forward pass
// draws ~56 M such numbers. Here one pass does everything: each element hashes its own index,
//
//   h    = fmix32(fmix32(index ^ key0) ^ key1)       murmur3's 32-bit finalizer, twice
//   u    = (h >>> 8) / 2^24                           uniform in [0, 1), 24 bits
//   out  = u < keep ? x · scale : 0                   keep = 1 − rate, scale = fp32(1 / keep)
//
// where key0 and key1 are derived from the seed on the host (`dropoutKeys`). Only 32-bit integer
// arithmetic is involved (Math.imul in JS, u32 in WGSL) and the keep test is an integer compare,
// so the SAME seed gives the SAME mask on cpu, wasm and webgpu, bit for bit, and the kept values
// are one correctly rounded fp32 multiply everywhere. (Subnormal inputs may be flushed to zero on
// a GPU; dropped elements are 0 even where x is NaN or ±Inf, unlike torch's x·0.)
//
//   cpu, wasm  registered kernels: one loop over typed arrays (wasm: views of its heap), in C
//              when the native addon is there (lib/backends/native.ts; same bits), else in JS
//   webgpu     a registered WGSL kernel
//   any other  (e.g. tfjs-node's 'tensorflow') tf.dropout with the same seed: reproducible for a
//              seed on that backend, but its masks differ from the ones above
//
// The gradient is dy · mask · scale: the same kernel applied to dy (same shape, same seed), so
// the backward pass recomputes the mask instead of keeping it in memory.
import * as tf from '@tensorflow/tfjs';
import { HostLoop, ShapeOf, WebGPUProgramSpec, cpuKernel, registerKernels, wasmKernel, webgpuKernel } from './custom-kernels';
import { nativeAddon } from './native';

// Hot loops call a module-level binding, not the global Math: inside a vm context (jest, notebook
// kernels) every global lookup goes through the context's interceptor, which made this loop 80x slower.
const imul = Math.imul;

export const SEEDED_DROPOUT = 'SeededDropout';

/** Kernel attributes: the mask is a function of these and the element index only. */
export interface DropoutAttrs {
  key0: number; // u32
  key1: number; // u32
  /** Keep an element when (h >>> 8) < threshold, i.e. with probability threshold / 2^24. */
  threshold: number;
  /** fp32(1 / (1 − rate)), the factor kept values are scaled by. */
  scale: number;
}

const TWO_POW_24 = 1 << 24;

// ---------------------------------------------------------------------------------------------
// The hash, on the host. The kernels below inline the same arithmetic.

/** murmur3's 32-bit finalizer: a bijection on u32 with good avalanche. Returns a u32. */
export function fmix32(h: number): number {
  h ^= h >>> 16;
  h = imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** The seed folded to a u32: any finite number works; integers in [0, 2^32) are used as they are. */
function seedToU32(seed: number): number {
  if (!Number.isFinite(seed)) throw new Error(`dropout: seed must be a finite number, got ${seed}`);
  return Math.floor(seed) >>> 0;
}

/** The two per-call keys of a seed (two different bijections of it). */
export function dropoutKeys(seed: number): [number, number] {
  const s = seedToU32(seed);
  return [fmix32(s ^ 0x9e3779b9), fmix32(s ^ 0x7f4a7c15)];
}

/** The 32-bit hash of element `index` under `seed`. */
export function dropoutHash(seed: number, index: number): number {
  const [key0, key1] = dropoutKeys(seed);
  return fmix32(fmix32((index ^ key0) >>> 0) ^ key1);
}

/** The uniform in [0, 1) that element `index` compares with the keep probability. */
export function dropoutUniform(seed: number, index: number): number {
  return (dropoutHash(seed, index) >>> 8) / TWO_POW_24;
}

/** The SeededDropout kernel attributes of (rate, seed): hash keys, keep threshold, scale. */
export function makeAttrs(rate: number, seed: number): DropoutAttrs {
  const [key0, key1] = dropoutKeys(seed);
  return { key0, key1, threshold: Math.round((1 - rate) * TWO_POW_24), scale: Math.fround(1 / (1 - rate)) };
}

/**
 * out[i] = x[i] · scale where element i is kept, else 0. The loop is written out (no call per
 * element) because it runs tens of millions of times per training step.
 */
function dropoutInto(x: Float32Array, out: Float32Array, attrs: DropoutAttrs): void {
  const { key0, key1, threshold, scale } = attrs;
  const n = out.length;
  for (let i = 0; i < n; i++) {
    let h = i ^ key0;
    h ^= h >>> 16;
    h = imul(h, 0x85ebca6b);
    h ^= h >>> 13;
    h = imul(h, 0xc2b2ae35);
    h ^= h >>> 16;
    h ^= key1;
    h ^= h >>> 16;
    h = imul(h, 0x85ebca6b);
    h ^= h >>> 13;
    h = imul(h, 0xc2b2ae35);
    h ^= h >>> 16;
    // x[i] · scale is exact in a double; storing it rounds once to fp32, as a GPU multiply does.
    out[i] = h >>> 8 < threshold ? x[i] * scale : 0;
  }
}

// ---------------------------------------------------------------------------------------------
// Kernels: the host loop for cpu and wasm, a WGSL program for webgpu (plumbing in custom-kernels.ts).

const dropoutLoop: HostLoop = (inputs, attrs, out) => {
  const native = nativeAddon();
  const a = attrs as DropoutAttrs;
  if (native) native.dropout(inputs.x as Float32Array, out, a.key0, a.key1, a.threshold, a.scale);
  else dropoutInto(inputs.x as Float32Array, out, a);
};
const sameShapeAsX: ShapeOf = (_attrs, inputs) => inputs.x!.shape;

// u32 arithmetic wraps modulo 2^32 in WGSL, as Math.imul does. Uniforms are declared i32 (the
// program interface's default) and reinterpreted with bitcast, so no value is ever converted.
const DROPOUT_WGSL = `
  fn fmix32(h0 : u32) -> u32 {
    var h = h0;
    h = h ^ (h >> 16u);
    h = h * 0x85ebca6bu;
    h = h ^ (h >> 13u);
    h = h * 0xc2b2ae35u;
    h = h ^ (h >> 16u);
    return h;
  }

  fn main(index : i32) {
    if (index < uniforms.size) {
      let h = fmix32(fmix32(u32(index) ^ bitcast<u32>(uniforms.key0)) ^ bitcast<u32>(uniforms.key1));
      let kept = (h >> 8u) < u32(uniforms.threshold);
      setOutputAtIndex(index, select(0.0, X[index] * bitcast<f32>(uniforms.scaleBits), kept));
    }
  }
`;

function dropoutProgram(attrs: unknown, inputs: tf.NamedTensorInfoMap): WebGPUProgramSpec {
  const a = attrs as DropoutAttrs;
  const scaleBits = new Int32Array(new Float32Array([a.scale]).buffer)[0];
  return {
    variableNames: ['X'],
    outputShape: inputs.x!.shape,
    shaderKey: 'seededDropout',
    uniforms: [['key0', a.key0 | 0], ['key1', a.key1 | 0], ['threshold', a.threshold], ['scaleBits', scaleBits]],
    userCode: DROPOUT_WGSL,
  };
}

registerKernels([
  [SEEDED_DROPOUT, 'cpu', cpuKernel(dropoutLoop, sameShapeAsX)],
  [SEEDED_DROPOUT, 'wasm', wasmKernel(dropoutLoop, sameShapeAsX)],
  [SEEDED_DROPOUT, 'webgpu', webgpuKernel(['x'], dropoutProgram)],
]);

// d out / d x = mask · scale: the same op on dy, whose mask (same shape, same attrs) is the forward one.
if (!tf.getGradient(SEEDED_DROPOUT)) {
  tf.registerGradient({
    kernelName: SEEDED_DROPOUT,
    gradFunc: (dy, _saved, attrs) => ({
      x: () => tf.engine().runKernel(SEEDED_DROPOUT, { x: dy as tf.Tensor }, attrs) as tf.Tensor,
    }),
  });
}

// ---------------------------------------------------------------------------------------------
// The public ops.

/**
 * Inverted dropout: each element is kept with probability 1 − rate and scaled by 1 / (1 − rate),
 * else set to 0; as tf.dropout and torch's F.dropout in training mode. The mask is a pure function
 * of (seed, element index), identical on cpu, wasm and webgpu (other backends fall back to
 * tf.dropout with the seed). Without a seed one is drawn at random. rate 0 returns a copy of x
 * without running a kernel. Differentiable: the gradient reuses the forward mask.
 */
export function dropout(x: tf.Tensor, rate: number, seed?: number): tf.Tensor {
  if (!(rate >= 0 && rate < 1)) throw new Error(`dropout: rate must be in [0, 1), got ${rate}`);
  if (x.dtype !== 'float32') throw new Error(`dropout: x must be float32, got ${x.dtype} (cast it first)`);
  const s = seed ?? Math.floor(Math.random() * 2 ** 32);
  seedToU32(s); // checks it
  if (rate === 0) return tf.clone(x);
  if (!tf.getKernel(SEEDED_DROPOUT, tf.getBackend())) return tf.dropout(x, rate, undefined, s);
  const attrs = makeAttrs(rate, s);
  return tf.engine().runKernel(SEEDED_DROPOUT, { x }, attrs as unknown as tf.NamedAttrMap) as tf.Tensor;
}

/** The multiplier dropout(x, rate, seed) applies to x: 1 / (1 − rate) where kept, 0 where dropped. */
export function dropoutMask(shape: number[], rate: number, seed: number): tf.Tensor {
  return tf.tidy(() => dropout(tf.ones(shape), rate, seed));
}
