// The optimizer step as a few fused kernels that never leave the device.
//
// Why: tfjs ops make AdamW + clipping ~17 kernels and ~9 scalar uploads per parameter tensor, plus
// two read-backs (gradient norm, loss) per step. On WebGPU every upload ends the compute pass and
// every read-back idles the GPU, which made the optimizer the largest part of a step
// (bench/README.md). Here a step is
//
//   SumOfSquares   one per gradient: acc + Σ g²  (a chain; the last one holds the total)
//   ClipStats      one: [loss, norm, coef, ok] from the total and the loss, on the device
//   FusedAdamW     one per parameter: param, m and v updated together from the gradient, the
//                  step's scalars in kernel attributes (uniforms) and coef/ok from ClipStats
//
// `ok` makes the NaN guard asynchronous: it is 0 when the loss or the norm is not finite, or when
// the previous step's `ok` (passed in) was 0, and FusedAdamW leaves param, m and v unchanged when
// it is 0. A diverged step and every step after it are thus skipped on the device, and the
// Trainer finds out when it next reads the stats (at a logging step) with the weights still at
// the last good step.
//
// Arithmetic: every operation is rounded to fp32 in the order of the tfjs ops this replaces
// (torch.optim.AdamW's single-tensor order), so the cpu/wasm kernels give bitwise what those ops
// gave; WGSL's sqrt and division may differ from correctly rounded by a few ulp.
//
//   cpu, wasm  host loops over the backend's arrays (wasm: views of its heap)
//   webgpu     WGSL programs; FusedAdamW runs one program per output (3 per parameter), as
//              tfjs-webgpu programs have a single output
//   any other  (tfjs-node) composite tfjs ops with the same semantics, in optimizer.ts
import * as tf from '@tensorflow/tfjs';
import { CpuBackendLike, KernelArgs, WasmBackendLike, WebGPUProgramSpec, registerKernels, webgpuKernel } from '../backends/custom-kernels';

export const SUM_OF_SQUARES = 'QloraSumOfSquares';
export const CLIP_STATS = 'QloraClipStats';
export const FUSED_ADAMW = 'QloraFusedAdamW';

/** Index of each value in the [4] stats tensor ClipStats makes. */
export const STATS = { loss: 0, norm: 1, coef: 2, ok: 3 } as const;

/** FusedAdamW's attributes, each already rounded to fp32 (see adamwAttrs). */
export interface AdamWAttrs {
  beta1: number;
  beta2: number;
  oneMinusBeta1: number;
  oneMinusBeta2: number;
  epsilon: number;
  /** 1 − lr · weightDecay for a decayed parameter, else exactly 1 (no multiply). */
  decay: number;
  /** lr / (1 − beta1^t). */
  stepSize: number;
  /** sqrt(1 − beta2^t). */
  biasCorrection2Sqrt: number;
}

const f32 = Math.fround;
const sqrt = Math.sqrt;

/** The attributes of update number `step` (1-based), as torch.optim.AdamW computes them. */
export function adamwAttrs(o: { lr: number; beta1: number; beta2: number; epsilon: number; weightDecay: number; step: number; decays: boolean }): AdamWAttrs {
  return {
    beta1: f32(o.beta1),
    beta2: f32(o.beta2),
    oneMinusBeta1: f32(1 - o.beta1),
    oneMinusBeta2: f32(1 - o.beta2),
    epsilon: f32(o.epsilon),
    decay: o.decays && o.weightDecay > 0 ? f32(1 - o.lr * o.weightDecay) : 1,
    stepSize: f32(o.lr / (1 - Math.pow(o.beta1, o.step))),
    biasCorrection2Sqrt: f32(Math.sqrt(1 - Math.pow(o.beta2, o.step))),
  };
}

// ---------------------------------------------------------------------------------------------
// Host loops (cpu and wasm). Storing into a Float32Array rounds like an fp32 op; f32() rounds
// intermediates the tfjs ops stored as tensors.

function sumOfSquaresLoop(x: Float32Array, acc: number): number {
  let s = 0; // a double: more accurate than torch's fp32 per-tensor norms, well within fp32 tolerance
  for (let i = 0; i < x.length; i++) s += x[i] * x[i];
  return f32(acc + f32(s));
}

function isFiniteF32(x: number): boolean {
  return x - x === 0;
}

/** [loss, norm, coef, ok]: torch.nn.utils.clip_grad_norm_'s coefficient, plus the guard's flag. */
function clipStatsLoop(sumSq: number, loss: number, prevOk: number, maxNorm: number): [number, number, number, number] {
  const norm = f32(sqrt(sumSq));
  const ok = prevOk > 0 && isFiniteF32(loss) && isFiniteF32(norm) ? 1 : 0;
  const coef = maxNorm > 0 ? Math.min(1, f32(f32(maxNorm) / f32(norm + f32(1e-6)))) : 1;
  return [loss, norm, coef, ok];
}

function adamwLoop(
  p: Float32Array, g: Float32Array, m: Float32Array, v: Float32Array, stats: Float32Array, a: AdamWAttrs,
  pOut: Float32Array, mOut: Float32Array, vOut: Float32Array,
): void {
  if (!(stats[STATS.ok] > 0)) {
    pOut.set(p);
    mOut.set(m);
    vOut.set(v);
    return;
  }
  const coef = stats[STATS.coef];
  const { beta1, beta2, oneMinusBeta1, oneMinusBeta2, epsilon, decay, stepSize, biasCorrection2Sqrt } = a;
  for (let i = 0; i < p.length; i++) {
    const gi = f32(g[i] * coef);
    const mi = f32(f32(m[i] * beta1) + f32(gi * oneMinusBeta1));
    const vi = f32(f32(v[i] * beta2) + f32(f32(gi * gi) * oneMinusBeta2));
    const denom = f32(f32(f32(sqrt(vi)) / biasCorrection2Sqrt) + epsilon);
    const decayed = decay === 1 ? p[i] : f32(p[i] * decay);
    mOut[i] = mi;
    vOut[i] = vi;
    pOut[i] = decayed - f32(f32(mi / denom) * stepSize);
  }
}

// ---------------------------------------------------------------------------------------------
// cpu and wasm kernels. custom-kernels.ts's helpers make one output; these make the outputs
// they need with the same backend calls.

type KernelFuncArgs = Parameters<tf.KernelFunc>[0];
type Arrays = (infos: tf.TensorInfo[]) => Float32Array[];
type Outputs = (shapes: number[][]) => { infos: tf.TensorInfo[]; arrays: Float32Array[] };

/** Input reading and output making for cpu and wasm; `run` gets typed arrays for both. */
function hostKernel(backendName: 'cpu' | 'wasm', run: (args: KernelArgs, read: Arrays, make: Outputs) => tf.TensorInfo | tf.TensorInfo[]): tf.KernelFunc {
  return (args: KernelArgs) => {
    if (backendName === 'cpu') {
      const cpu = args.backend as CpuBackendLike;
      const make: Outputs = (shapes) => {
        const arrays = shapes.map((s) => new Float32Array(s.reduce((x, y) => x * y, 1)));
        // The cpu backend takes the arrays as they are (no copy), so filling them after is fine.
        return { infos: shapes.map((s, i) => cpu.makeTensorInfo(s, 'float32', arrays[i])), arrays };
      };
      return run(args, (infos) => infos.map((t) => cpu.readSync(t.dataId) as Float32Array), make);
    }
    const wasm = args.backend as WasmBackendLike;
    // Outputs are allocated before any view is taken: growing the wasm heap detaches older views.
    let made: tf.TensorInfo[] = [];
    const make: Outputs = (shapes) => {
      made = shapes.map((s) => wasm.makeOutput(s, 'float32'));
      return { infos: made, arrays: made.map((t) => wasm.typedArrayFromHeap(t) as Float32Array) };
    };
    return run(args, (infos) => infos.map((t) => wasm.typedArrayFromHeap(t) as Float32Array), make);
  };
}

function sumOfSquaresHost(backendName: 'cpu' | 'wasm'): tf.KernelFunc {
  return hostKernel(backendName, ({ inputs }, read, make) => {
    const out = make([[]]);
    const [x, acc] = read(inputs.acc ? [inputs.x!, inputs.acc] : [inputs.x!]);
    out.arrays[0][0] = sumOfSquaresLoop(x, acc ? acc[0] : 0);
    return out.infos[0];
  });
}

function clipStatsHost(backendName: 'cpu' | 'wasm'): tf.KernelFunc {
  return hostKernel(backendName, ({ inputs, attrs }, read, make) => {
    const out = make([[4]]);
    const [sumSq, loss, prev] = read(inputs.prev ? [inputs.sumSq!, inputs.loss!, inputs.prev] : [inputs.sumSq!, inputs.loss!]);
    out.arrays[0].set(clipStatsLoop(sumSq[0], loss[0], prev ? prev[STATS.ok] : 1, (attrs as { maxNorm: number }).maxNorm));
    return out.infos[0];
  });
}

function adamwHost(backendName: 'cpu' | 'wasm'): tf.KernelFunc {
  return hostKernel(backendName, ({ inputs, attrs }, read, make) => {
    const shape = inputs.param!.shape;
    const out = make([shape, shape, shape]);
    const [p, g, m, v, stats] = read([inputs.param!, inputs.grad!, inputs.m!, inputs.v!, inputs.stats!]);
    adamwLoop(p, g, m, v, stats, attrs as unknown as AdamWAttrs, out.arrays[0], out.arrays[1], out.arrays[2]);
    return out.infos;
  });
}

// ---------------------------------------------------------------------------------------------
// WGSL. Floats travel as i32 uniforms holding their bits (the plumbing declares i32 uniforms).

const floatBits = (x: number): number => new Int32Array(new Float32Array([x]).buffer)[0];

// One workgroup of 128 threads (the plumbing's size; the output has one element): strided
// partial sums, then a tree in workgroup memory. Barriers sit in uniform control flow.
const sumOfSquaresWgsl = (withAcc: boolean): string => `
  var<workgroup> partial : array<f32, 128>;
  fn main(index : i32) {
    let lid = i32(localIndex);
    var s = 0.0;
    for (var i = lid; i < uniforms.n; i = i + 128) {
      let x = X[i];
      s = s + x * x;
    }
    partial[lid] = s;
    workgroupBarrier();
    for (var stride = 64; stride > 0; stride = stride / 2) {
      if (lid < stride) {
        partial[lid] = partial[lid] + partial[lid + stride];
      }
      workgroupBarrier();
    }
    if (lid == 0) {
      setOutputAtIndex(0, ${withAcc ? 'ACC[0] + ' : ''}partial[0]);
    }
  }
`;

const WGSL_IS_FINITE = `
  fn isFiniteF32(x : f32) -> bool {
    return (bitcast<u32>(x) & 0x7f800000u) != 0x7f800000u;
  }
`;

const clipStatsWgsl = (withPrev: boolean): string => `
  ${WGSL_IS_FINITE}
  fn main(index : i32) {
    if (index < uniforms.size) {
      let loss = LOSS[0];
      let norm = sqrt(SUMSQ[0]);
      let maxNorm = bitcast<f32>(uniforms.maxNormBits);
      let ok = ${withPrev ? 'PREV[3] > 0.0 && ' : ''}isFiniteF32(loss) && isFiniteF32(norm);
      var coef = 1.0;
      if (maxNorm > 0.0) {
        coef = min(1.0, maxNorm / (norm + 1e-6));
      }
      var out = loss;
      if (index == 1) { out = norm; }
      if (index == 2) { out = coef; }
      if (index == 3) { out = select(0.0, 1.0, ok); }
      setOutputAtIndex(index, out);
    }
  }
`;

// uniforms.which picks the output this dispatch writes: 0 param, 1 m, 2 v.
const ADAMW_WGSL = `
  fn main(index : i32) {
    if (index < uniforms.size) {
      let p = PARAM[index];
      let m0 = M[index];
      let v0 = V[index];
      var out = select(select(v0, m0, uniforms.which == 1), p, uniforms.which == 0);
      if (STATS[3] > 0.0) {
        let g = GRAD[index] * STATS[2];
        let m = m0 * bitcast<f32>(uniforms.beta1) + g * bitcast<f32>(uniforms.oneMinusBeta1);
        let v = v0 * bitcast<f32>(uniforms.beta2) + (g * g) * bitcast<f32>(uniforms.oneMinusBeta2);
        let denom = sqrt(v) / bitcast<f32>(uniforms.bc2Sqrt) + bitcast<f32>(uniforms.epsilon);
        let decay = bitcast<f32>(uniforms.decay);
        let decayed = select(p * decay, p, decay == 1.0);
        let updated = decayed - (m / denom) * bitcast<f32>(uniforms.stepSize);
        out = select(select(v, m, uniforms.which == 1), updated, uniforms.which == 0);
      }
      setOutputAtIndex(index, out);
    }
  }
`;

function sumOfSquaresWebGPU(): tf.KernelFunc {
  const program = (withAcc: boolean) => (_attrs: unknown, inputs: tf.NamedTensorInfoMap): WebGPUProgramSpec => ({
    variableNames: withAcc ? ['X', 'ACC'] : ['X'],
    outputShape: [],
    shaderKey: `qloraSumOfSquares${withAcc ? 'Acc' : ''}`,
    uniforms: [['n', inputs.x!.shape.reduce((a, b) => a * b, 1)]],
    userCode: sumOfSquaresWgsl(withAcc),
  });
  const withAcc = webgpuKernel(['x', 'acc'], program(true));
  const first = webgpuKernel(['x'], program(false));
  return (args: KernelFuncArgs) => (args.inputs.acc ? withAcc(args) : first(args)) as tf.TensorInfo;
}

function clipStatsWebGPU(): tf.KernelFunc {
  const program = (withPrev: boolean) => (attrs: unknown): WebGPUProgramSpec => ({
    variableNames: withPrev ? ['SUMSQ', 'LOSS', 'PREV'] : ['SUMSQ', 'LOSS'],
    outputShape: [4],
    shaderKey: `qloraClipStats${withPrev ? 'Prev' : ''}`,
    uniforms: [['maxNormBits', floatBits((attrs as { maxNorm: number }).maxNorm)]],
    userCode: clipStatsWgsl(withPrev),
  });
  const withPrev = webgpuKernel(['sumSq', 'loss', 'prev'], program(true));
  const first = webgpuKernel(['sumSq', 'loss'], program(false));
  return (args: KernelFuncArgs) => (args.inputs.prev ? withPrev(args) : first(args)) as tf.TensorInfo;
}

function adamwWebGPU(): tf.KernelFunc {
  const one = webgpuKernel(['param', 'grad', 'm', 'v', 'stats'], (attrs, inputs) => {
    const a = attrs as AdamWAttrs & { which: number };
    return {
      variableNames: ['PARAM', 'GRAD', 'M', 'V', 'STATS'],
      outputShape: inputs.param!.shape,
      shaderKey: 'qloraFusedAdamW',
      uniforms: [
        ['which', a.which],
        ['beta1', floatBits(a.beta1)],
        ['beta2', floatBits(a.beta2)],
        ['oneMinusBeta1', floatBits(a.oneMinusBeta1)],
        ['oneMinusBeta2', floatBits(a.oneMinusBeta2)],
        ['epsilon', floatBits(a.epsilon)],
        ['decay', floatBits(a.decay)],
        ['stepSize', floatBits(a.stepSize)],
        ['bc2Sqrt', floatBits(a.biasCorrection2Sqrt)],
      ],
      userCode: ADAMW_WGSL,
    };
  });
  return (args: KernelFuncArgs) => [0, 1, 2].map((which) => one({ ...args, attrs: { ...args.attrs, which } }) as tf.TensorInfo);
}

registerKernels([
  [SUM_OF_SQUARES, 'cpu', sumOfSquaresHost('cpu')],
  [SUM_OF_SQUARES, 'wasm', sumOfSquaresHost('wasm')],
  [SUM_OF_SQUARES, 'webgpu', sumOfSquaresWebGPU()],
  [CLIP_STATS, 'cpu', clipStatsHost('cpu')],
  [CLIP_STATS, 'wasm', clipStatsHost('wasm')],
  [CLIP_STATS, 'webgpu', clipStatsWebGPU()],
  [FUSED_ADAMW, 'cpu', adamwHost('cpu')],
  [FUSED_ADAMW, 'wasm', adamwHost('wasm')],
  [FUSED_ADAMW, 'webgpu', adamwWebGPU()],
]);

// ---------------------------------------------------------------------------------------------
// The ops. Each falls back to composite tfjs ops on a backend without the kernels (tfjs-node).

function hasKernel(name: string): boolean {
  return tf.getKernel(name, tf.getBackend()) !== undefined;
}

/** Σ over all `grads` of Σ g², a float32 scalar (0 for no gradients). One kernel per gradient. */
export function sumOfSquares(grads: tf.Tensor[]): tf.Scalar {
  if (grads.length === 0) return tf.scalar(0);
  if (!hasKernel(SUM_OF_SQUARES)) {
    // Stacked, not tf.addN'ed: addN binds one buffer per input, and devices allow as few as 8.
    return tf.tidy(() => tf.sum(tf.stack(grads.map((g) => tf.sum(tf.square(g)))))) as tf.Scalar;
  }
  let acc: tf.Tensor | null = null;
  for (const g of grads) {
    const inputs: tf.NamedTensorMap = acc ? { x: g, acc } : { x: g };
    const next = tf.engine().runKernel(SUM_OF_SQUARES, inputs) as tf.Tensor;
    acc?.dispose();
    acc = next;
  }
  return acc as tf.Scalar;
}

/**
 * The step's [loss, norm, coef, ok] (float32 [4], see STATS) from the summed squares of the
 * gradients and the loss: norm = sqrt(sumSq); coef = min(1, maxNorm / (norm + 1e-6)) as in
 * torch.nn.utils.clip_grad_norm_ (1 when maxNorm is null or ≤ 0); ok = 1 when loss and norm are
 * finite and `prev` (the previous step's stats, if given) was ok, else 0. One kernel.
 */
export function clipStats(sumSq: tf.Scalar, loss: tf.Scalar, maxNorm: number | null, prev?: tf.Tensor | null): tf.Tensor1D {
  const attrs = { maxNorm: maxNorm !== null && maxNorm > 0 ? maxNorm : 0 };
  if (!hasKernel(CLIP_STATS)) {
    return tf.tidy(() => {
      const norm = tf.sqrt(sumSq);
      const finite = tf.logicalAnd(tf.isFinite(loss), tf.isFinite(norm));
      const ok = prev ? tf.logicalAnd(finite, tf.greater(tf.slice(prev, [STATS.ok], [1]).reshape([]), 0)) : finite;
      const coef = attrs.maxNorm > 0 ? tf.minimum(1, tf.div(attrs.maxNorm, tf.add(norm, 1e-6))) : tf.scalar(1);
      return tf.stack([loss, norm, coef, tf.cast(ok, 'float32')]) as tf.Tensor1D;
    });
  }
  const inputs: tf.NamedTensorMap = prev ? { sumSq, loss, prev } : { sumSq, loss };
  return tf.engine().runKernel(CLIP_STATS, inputs, attrs) as tf.Tensor1D;
}

/**
 * One AdamW update of a parameter (torch.optim.AdamW, amsgrad off): returns new [param, m, v].
 * `grad` is scaled by stats[coef] first (the clipping); when stats[ok] is 0 the three come back
 * unchanged. One kernel on cpu and wasm, three dispatches on webgpu.
 */
export function fusedAdamW(param: tf.Tensor, grad: tf.Tensor, m: tf.Tensor, v: tf.Tensor, stats: tf.Tensor, attrs: AdamWAttrs): [tf.Tensor, tf.Tensor, tf.Tensor] {
  if (!hasKernel(FUSED_ADAMW)) return adamwWithTfOps(param, grad, m, v, stats, attrs);
  const out = tf.engine().runKernel(FUSED_ADAMW, { param, grad, m, v, stats }, attrs as unknown as tf.NamedAttrMap);
  return out as unknown as [tf.Tensor, tf.Tensor, tf.Tensor];
}

/** fusedAdamW as tfjs ops: the path for backends without the kernels (tfjs-node). */
export function adamwWithTfOps(param: tf.Tensor, grad: tf.Tensor, m0: tf.Tensor, v0: tf.Tensor, stats: tf.Tensor, a: AdamWAttrs): [tf.Tensor, tf.Tensor, tf.Tensor] {
  return tf.tidy(() => {
    const ok = tf.greater(tf.slice(stats, [STATS.ok], [1]).reshape([]), 0);
    const g = tf.mul(grad, tf.slice(stats, [STATS.coef], [1]).reshape([]));
    const m = tf.add(tf.mul(m0, a.beta1), tf.mul(g, a.oneMinusBeta1));
    const v = tf.add(tf.mul(v0, a.beta2), tf.mul(tf.square(g), a.oneMinusBeta2));
    const denom = tf.add(tf.div(tf.sqrt(v), a.biasCorrection2Sqrt), a.epsilon);
    const decayed = a.decay === 1 ? param : tf.mul(param, a.decay);
    const updated = tf.sub(decayed, tf.mul(tf.div(m, denom), a.stepSize));
    return [tf.where(ok, updated, param), tf.where(ok, m, m0), tf.where(ok, v, v0)] as [tf.Tensor, tf.Tensor, tf.Tensor];
  });
}
