// DistilBERT's attention core, softmax((q/√D)·kᵀ + mask) → dropout → ·v, for q, k, v in the
// linear layers' layout [B·T, H·D], as HF's MultiHeadSelfAttention computes it.
//
// On wasm with the native addon and OpenBLAS (lib/backends/gemm), one C kernel per direction
// (native/attention.c): no head transposes, one T×T score matrix at a time, and nothing T×T
// kept for the backward (it recomputes the scores from q and k). The composite of tfjs ops
// keeps ~5 tensors of [B, H, T, T] per layer alive until the backward pass: 500 MB a layer at
// batch 8 × 512, more than the wasm heap's 4 GB over six layers. Elsewhere the composite runs.
// Both use SeededDropout's mask for the same seed (flat index over [B, H, T, T]).
import * as tf from '@tensorflow/tfjs';
import { dropout as seededDropout, makeAttrs } from './dropout';
import { currentGemm } from './gemm/select';
import { nativeAddon } from './native';

/** float32's most negative value: what HF's masked_fill puts at padded key positions. */
export const FLOAT32_MIN = -3.4028234663852886e38;

const ATTENTION = 'QloraAttention';
const ATTENTION_GRAD = 'QloraAttentionGrad';

export interface AttentionOptions {
  batch: number;
  seqLen: number;
  heads: number;
  /** Dropout on the attention weights; 0 (eval) for none. */
  dropoutRate: number;
  /** SeededDropout seed of that dropout (drawn at random when undefined). */
  seed?: number;
}

interface AttentionAttrs {
  B: number;
  T: number;
  H: number;
  D: number;
  scale: number;
  key0: number;
  key1: number;
  threshold: number;
  dropScale: number;
}

interface WasmBackend {
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  typedArrayFromHeap(info: tf.TensorInfo): Float32Array;
}

const args = (a: AttentionAttrs): number[] => [a.B, a.T, a.H, a.D, a.scale, a.key0, a.key1, a.threshold, a.dropScale];

function attentionKernel({ inputs, backend, attrs }: { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: unknown }): tf.TensorInfo {
  const w = backend as WasmBackend;
  const out = w.makeOutput(inputs.q!.shape, 'float32');
  const [q, k, v, keep] = ['q', 'k', 'v', 'keep'].map((n) => w.typedArrayFromHeap(inputs[n]!));
  nativeAddon()!.attention(q, k, v, keep, w.typedArrayFromHeap(out), ...args(attrs as AttentionAttrs));
  return out;
}

function attentionGradKernel({ inputs, backend, attrs }: { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: unknown }): tf.TensorInfo[] {
  const w = backend as WasmBackend;
  const outs = [0, 1, 2].map(() => w.makeOutput(inputs.q!.shape, 'float32'));
  const [q, k, v, keep, dy] = ['q', 'k', 'v', 'keep', 'dy'].map((n) => w.typedArrayFromHeap(inputs[n]!));
  const [dq, dk, dv] = outs.map((o) => w.typedArrayFromHeap(o));
  nativeAddon()!.attentionGrad(q, k, v, keep, dy, dq, dk, dv, ...args(attrs as AttentionAttrs));
  return outs;
}

for (const [kernelName, kernelFunc] of [[ATTENTION, attentionKernel], [ATTENTION_GRAD, attentionGradKernel]] as const) {
  if (!tf.getKernel(kernelName, 'wasm')) tf.registerKernel({ kernelName, backendName: 'wasm', kernelFunc: kernelFunc as tf.KernelFunc });
}

/** True when the fused kernel can run: wasm, the native addon, and OpenBLAS opened by it. */
export function fusedAttentionAvailable(): boolean {
  return tf.getBackend() === 'wasm' && currentGemm()?.name === 'openblas' && nativeAddon() !== null;
}

function fused(q: tf.Tensor2D, k: tf.Tensor2D, v: tf.Tensor2D, keep: tf.Tensor, attrs: AttentionAttrs): tf.Tensor2D {
  const run = tf.customGrad((...xs: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [tq, tk, tv, tkeep] = xs as tf.Tensor[];
    (xs[4] as tf.GradSaveFunc)([tq, tk, tv, tkeep]);
    const value = tf.engine().runKernel(ATTENTION, { q: tq, k: tk, v: tv, keep: tkeep }, attrs as unknown as tf.NamedAttrMap) as tf.Tensor;
    const gradFunc = (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [sq, sk, sv, skeep] = saved;
      const grads = tf.engine().runKernel(ATTENTION_GRAD, { q: sq, k: sk, v: sv, keep: skeep, dy }, attrs as unknown as tf.NamedAttrMap) as unknown as tf.Tensor[];
      return [...grads, tf.zerosLike(skeep)];
    };
    return { value, gradFunc };
  });
  return run(q, k, v, keep) as tf.Tensor2D;
}

/** The tfjs-ops version (any backend); what modeling.ts computed before the fused kernel. */
function composite(q: tf.Tensor2D, k: tf.Tensor2D, v: tf.Tensor2D, keepBT: tf.Tensor, opts: AttentionOptions, D: number): tf.Tensor2D {
  const { batch: B, seqLen: T, heads: H } = opts;
  return tf.tidy(() => {
    // Padded keys get exactly FLOAT32_MIN, as HF's masked_fill: scores·keep + (1 − keep)·MIN.
    const keep = tf.reshape(keepBT, [B, 1, 1, T]);
    const maskFill = tf.mul(tf.sub(1, keep), FLOAT32_MIN);
    // Split heads: [B·T, C] → [B, H, T, D]; k straight to [B, H, D, T], so no transpose flags
    // (slow on tfjs' wasm matmul).
    const qh = tf.transpose(tf.reshape(tf.div(q, Math.sqrt(D)), [B, T, H, D]), [0, 2, 1, 3]);
    const kT = tf.transpose(tf.reshape(k, [B, T, H, D]), [0, 2, 3, 1]);
    const vh = tf.transpose(tf.reshape(v, [B, T, H, D]), [0, 2, 1, 3]);
    const scores = tf.add(tf.mul(tf.matMul(qh, kT), keep), maskFill); // [B, H, T, T]
    let weights = tf.softmax(scores);
    if (opts.dropoutRate > 0) weights = seededDropout(weights, opts.dropoutRate, opts.seed);
    const context = tf.matMul(weights, vh); // [B, H, T, D]
    return tf.reshape(tf.transpose(context, [0, 2, 1, 3]), [B * T, H * D]) as tf.Tensor2D;
  });
}

/**
 * Self-attention core: q, k, v [B·T, H·D] fp32 (the q/k/v_lin outputs), keep [B, T] fp32 (1 =
 * real token, 0 = padding) → context [B·T, H·D], before out_lin. Differentiable in q, k, v.
 */
export function selfAttention(q: tf.Tensor2D, k: tf.Tensor2D, v: tf.Tensor2D, keep: tf.Tensor, opts: AttentionOptions): tf.Tensor2D {
  const { batch: B, seqLen: T, heads: H } = opts;
  const C = q.shape[1];
  if (C % H !== 0) throw new Error(`selfAttention: width ${C} is not a multiple of ${H} heads`);
  if (q.shape[0] !== B * T || keep.size !== B * T) throw new Error(`selfAttention: q is [${q.shape}] and keep [${keep.shape}], expected [${B * T}, C] and [${B}, ${T}]`);
  const D = C / H;
  if (!fusedAttentionAvailable()) return composite(q, k, v, keep, opts, D);
  const rate = opts.dropoutRate;
  const seed = opts.seed ?? Math.floor(Math.random() * 2 ** 32);
  const d = rate > 0 ? makeAttrs(rate, seed) : { key0: 0, key1: 0, threshold: 2 ** 24, scale: 1 };
  const attrs: AttentionAttrs = { B, T, H, D, scale: 1 / Math.sqrt(D), key0: d.key0, key1: d.key1, threshold: d.threshold, dropScale: d.scale };
  return fused(q, k, v, keep, attrs);
}
