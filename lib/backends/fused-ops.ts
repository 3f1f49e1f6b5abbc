// GELU and LayerNorm as single passes on the CPU backends (cpu, wasm), with their gradients.
//
// tfjs composes both from elementwise ops: exact GELU is 4 passes forward and ~10 backward
// (erf's gradient calls exp), LayerNorm ~9 forward and ~20 backward, each a separate
// single-threaded loop that allocates its output. Here each direction is one loop over the
// rows (C when the native addon is there, else JS), registered as tfjs kernels so that tfjs'
// tape and memory management apply. Other backends (webgpu, tensorflow) keep the composites,
// which compute the same functions.
//
//   gelu(x)                      torch.nn.GELU() (erf form): x·½·(1 + erf(x/√2))
//   layerNorm(x, gamma, beta)    torch.nn.LayerNorm over the last dim, biased variance
//   add(a, b)                    tf.add whose gradient keeps no tensor alive (any backend)
//
// erf is Abramowitz & Stegun 7.1.26 (|error| < 1.5e-7), the formula of tfjs' own cpu Erf.
// The C loops (native/elementwise.c) compute the same formulas in fp32 with fp64 row sums; the
// JS loops in fp64: the two agree to fp32 rounding.
import * as tf from '@tensorflow/tfjs';
import { nativeAddon } from './native';

const GELU = 'QloraGelu';
const GELU_GRAD = 'QloraGeluGrad';
const LAYER_NORM = 'QloraLayerNorm';
const LAYER_NORM_GRAD = 'QloraLayerNormGrad';
const HOST_BACKENDS = ['cpu', 'wasm'];

interface HostBackend {
  // cpu
  readSync?(dataId: object): unknown;
  makeTensorInfo?(shape: number[], dtype: tf.DataType, values: Float32Array): tf.TensorInfo;
  // wasm
  makeOutput?(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  typedArrayFromHeap?(info: tf.TensorInfo): Float32Array;
}

/** A kernel with several fp32 outputs on cpu or wasm: `loop` fills the outputs from the inputs. */
function hostKernel(names: string[], outShapes: (inputs: tf.TensorInfo[], attrs: unknown) => number[][], loop: (ins: Float32Array[], outs: Float32Array[], shapes: number[][], attrs: unknown) => void): tf.KernelFunc {
  return ({ inputs, backend, attrs }) => {
    const b = backend as HostBackend;
    const infos = names.map((n) => inputs[n] as tf.TensorInfo);
    const shapes = outShapes(infos, attrs);
    if (b.makeOutput && b.typedArrayFromHeap) {
      // wasm: allocate every output first (heap growth detaches earlier views).
      const outs = shapes.map((s) => b.makeOutput!(s, 'float32'));
      loop(infos.map((i) => b.typedArrayFromHeap!(i)), outs.map((o) => b.typedArrayFromHeap!(o)), infos.map((i) => i.shape), attrs);
      return outs.length === 1 ? outs[0] : outs;
    }
    const outs = shapes.map((s) => new Float32Array(s.reduce((x, y) => x * y, 1)));
    loop(infos.map((i) => b.readSync!(i.dataId) as Float32Array), outs, infos.map((i) => i.shape), attrs);
    const infosOut = outs.map((o, k) => b.makeTensorInfo!(shapes[k], 'float32', o));
    return infosOut.length === 1 ? infosOut[0] : infosOut;
  };
}

// ---------------------------------------------------------------------------------------------
// GELU

const P = 0.3275911, A1 = 0.254829592, A2 = -0.284496736, A3 = 1.421413741, A4 = -1.453152027, A5 = 1.061405429;
const exp = Math.exp; // module bindings: global lookups are slow inside vm contexts (jest, tslab)
const abs = Math.abs;

function erf(x: number): number {
  const ax = abs(x);
  const t = 1 / (1 + P * ax);
  const y = 1 - ((((A5 * t + A4) * t + A3) * t + A2) * t + A1) * t * exp(-ax * ax);
  return x < 0 ? -y : y;
}

function geluLoop([x]: Float32Array[], [out]: Float32Array[]): void {
  const native = nativeAddon();
  if (native) return native.gelu(x, out);
  for (let i = 0; i < out.length; i++) out[i] = x[i] * 0.5 * (1 + erf(x[i] * Math.SQRT1_2));
}

function geluGradLoop([x, dy]: Float32Array[], [out]: Float32Array[]): void {
  const native = nativeAddon();
  if (native) return native.geluGrad(x, dy, out);
  for (let i = 0; i < out.length; i++) {
    const v = x[i];
    out[i] = dy[i] * (0.5 * (1 + erf(v * Math.SQRT1_2)) + v * exp(-0.5 * v * v) * 0.3989422804014327);
  }
}

// ---------------------------------------------------------------------------------------------
// LayerNorm over the last dimension: y = (x − mean)·rstd·gamma + beta, rstd = 1/√(var + eps).

interface LayerNormAttrs {
  eps: number;
}

/** Mean and 1/sqrt(variance + eps) of x[o .. o+C) (biased variance, as torch.nn.LayerNorm). */
function rowMoments(x: Float32Array, o: number, C: number, eps: number): [number, number] {
  let sum = 0;
  for (let c = 0; c < C; c++) sum += x[o + c];
  const mean = sum / C;
  let sq = 0;
  for (let c = 0; c < C; c++) {
    const d = x[o + c] - mean;
    sq += d * d;
  }
  return [mean, 1 / Math.sqrt(sq / C + eps)];
}

function layerNormLoop([x, gamma, beta]: Float32Array[], [y]: Float32Array[], shapes: number[][], attrs: unknown): void {
  const C = shapes[0][shapes[0].length - 1];
  const native = nativeAddon();
  if (native && C > 0) return native.layerNorm(x, gamma, beta, y, (attrs as LayerNormAttrs).eps);
  const rows = C === 0 ? 0 : x.length / C;
  const eps = (attrs as LayerNormAttrs).eps;
  for (let r = 0, o = 0; r < rows; r++, o += C) {
    const [mean, rstd] = rowMoments(x, o, C, eps);
    for (let c = 0; c < C; c++) y[o + c] = (x[o + c] - mean) * rstd * gamma[c] + beta[c];
  }
}

/**
 * dx = rstd·(g − mean(g) − x̂·mean(g·x̂)) with g = dy·gamma, x̂ = (x − mean)·rstd;
 * dgamma = Σ_rows dy·x̂; dbeta = Σ_rows dy. Mean and rstd are recomputed from x (cheap).
 */
function layerNormGradLoop([x, gamma, dy]: Float32Array[], [dx, dgamma, dbeta]: Float32Array[], shapes: number[][], attrs: unknown): void {
  const C = shapes[0][shapes[0].length - 1];
  const native = nativeAddon();
  if (native && C > 0) return native.layerNormGrad(x, gamma, dy, dx, dgamma, dbeta, (attrs as LayerNormAttrs).eps);
  const rows = C === 0 ? 0 : x.length / C;
  const eps = (attrs as LayerNormAttrs).eps;
  const dg = new Float64Array(C);
  const db = new Float64Array(C);
  for (let r = 0, o = 0; r < rows; r++, o += C) {
    const [mean, rstd] = rowMoments(x, o, C, eps);
    let sumG = 0;
    let sumGX = 0;
    for (let c = 0; c < C; c++) {
      const xhat = (x[o + c] - mean) * rstd;
      const g = dy[o + c] * gamma[c];
      sumG += g;
      sumGX += g * xhat;
      dg[c] += dy[o + c] * xhat;
      db[c] += dy[o + c];
    }
    const meanG = sumG / C;
    const meanGX = sumGX / C;
    for (let c = 0; c < C; c++) {
      const xhat = (x[o + c] - mean) * rstd;
      dx[o + c] = rstd * (dy[o + c] * gamma[c] - meanG - xhat * meanGX);
    }
  }
  dgamma.set(dg);
  dbeta.set(db);
}

const same = (inputs: tf.TensorInfo[]): number[][] => [inputs[0].shape];
for (const backendName of HOST_BACKENDS) {
  const kernels: [string, string[], (i: tf.TensorInfo[]) => number[][], Parameters<typeof hostKernel>[2]][] = [
    [GELU, ['x'], same, geluLoop],
    [GELU_GRAD, ['x', 'dy'], same, geluGradLoop],
    [LAYER_NORM, ['x', 'gamma', 'beta'], same, layerNormLoop],
    [LAYER_NORM_GRAD, ['x', 'gamma', 'dy'], (i) => [i[0].shape, i[1].shape, i[1].shape], layerNormGradLoop],
  ];
  for (const [kernelName, names, shapes, loop] of kernels) {
    if (!tf.getKernel(kernelName, backendName)) tf.registerKernel({ kernelName, backendName, kernelFunc: hostKernel(names, shapes, loop) });
  }
}

const onHost = (): boolean => HOST_BACKENDS.includes(tf.getBackend());

const geluFused = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
  const x = args[0] as tf.Tensor;
  (args[1] as tf.GradSaveFunc)([x]);
  const value = tf.engine().runKernel(GELU, { x }) as tf.Tensor;
  return { value, gradFunc: (dy: tf.Tensor, [saved]: tf.Tensor[]) => tf.engine().runKernel(GELU_GRAD, { x: saved, dy }) as tf.Tensor };
});

/** GELU with exact erf (torch.nn.GELU()), elementwise, any shape, fp32. One pass on cpu/wasm. */
export function gelu<T extends tf.Tensor>(x: T): T {
  if (onHost() && x.dtype === 'float32') return geluFused(x) as T;
  return tf.tidy(() => tf.mul(tf.mul(x, 0.5), tf.add(1, tf.erf(tf.mul(x, Math.SQRT1_2))))) as T;
}

const layerNormFused = (eps: number) =>
  tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [x, gamma, beta] = args as tf.Tensor[];
    (args[3] as tf.GradSaveFunc)([x, gamma]);
    const value = tf.engine().runKernel(LAYER_NORM, { x, gamma, beta }, { eps } as unknown as tf.NamedAttrMap) as tf.Tensor;
    const gradFunc = (dy: tf.Tensor, [sx, sg]: tf.Tensor[]) =>
      tf.engine().runKernel(LAYER_NORM_GRAD, { x: sx, gamma: sg, dy }, { eps } as unknown as tf.NamedAttrMap) as unknown as tf.Tensor[];
    return { value, gradFunc };
  });

const layerNormByEps = new Map<number, ReturnType<typeof layerNormFused>>();

/**
 * torch.nn.LayerNorm over the last dimension: (x − mean)/√(var + eps)·gamma + beta, biased
 * variance. x [..., C], gamma and beta [C], fp32. Gradients flow to x, gamma and beta.
 */
export function layerNorm<T extends tf.Tensor>(x: T, gamma: tf.Tensor, beta: tf.Tensor, eps: number): T {
  const C = x.shape[x.rank - 1];
  if (gamma.shape.join() !== `${C}` || beta.shape.join() !== `${C}`) {
    throw new Error(`layerNorm: gamma [${gamma.shape}] and beta [${beta.shape}] must be [${C}], the last dimension of x [${x.shape}]`);
  }
  if (onHost() && x.dtype === 'float32') {
    let f = layerNormByEps.get(eps);
    if (!f) layerNormByEps.set(eps, (f = layerNormFused(eps)));
    return f(x, gamma, beta) as T;
  }
  return tf.tidy(() => {
    const mean = tf.mean(x, -1, true);
    const centered = tf.sub(x, mean);
    const variance = tf.mean(tf.square(centered), -1, true);
    return tf.add(tf.mul(tf.mul(centered, tf.rsqrt(tf.add(variance, eps))), gamma), beta);
  }) as T;
}

/** Sums dy over the axes broadcasting added, back to `shape`. */
function reduceTo(dy: tf.Tensor, shape: number[]): tf.Tensor {
  if (dy.shape.join() === shape.join()) return dy;
  const axes = tf.backend_util.getReductionAxes(shape, dy.shape);
  return tf.reshape(axes.length ? tf.sum(dy, axes) : dy, shape);
}

/**
 * a + b with broadcasting, like tf.add, but its gradient needs only the operands' shapes: tfjs'
 * own Add keeps both operands alive until the backward pass (to read their shapes), which for
 * residual, bias and LoRA additions holds ~0.5 GB per 1,024 tokens of a DistilBERT-base step.
 */
export function add<T extends tf.Tensor>(a: tf.Tensor, b: tf.Tensor): T {
  const aShape = a.shape;
  const bShape = b.shape;
  const f = tf.customGrad((...xs: (tf.Tensor | tf.GradSaveFunc)[]) => ({
    value: tf.add(xs[0] as tf.Tensor, xs[1] as tf.Tensor),
    gradFunc: (dy: tf.Tensor) => [reduceTo(dy, aShape), reduceTo(dy, bShape)],
  }));
  return f(a, b) as T;
}
