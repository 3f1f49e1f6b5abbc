// AdamW with decoupled weight decay, and gradient clipping by global norm.
//
// tfjs' own optimizers have no AdamW, and their state is hard to save and restore exactly, so
// this is a small re-implementation of `torch.optim.AdamW` (amsgrad off) and
// `torch.nn.utils.clip_grad_norm_`, the two pieces Hugging Face's Trainer uses. The arithmetic
// runs in fused kernels that keep everything on the device (fused-adamw.ts).
import * as tf from '@tensorflow/tfjs';
import { STATS, adamwAttrs, clipStats, fusedAdamW, sumOfSquares } from './fused-adamw';

export interface AdamWOptions {
  beta1?: number; // default 0.9
  beta2?: number; // default 0.999
  epsilon?: number; // default 1e-8
  weightDecay?: number; // default 0 (HF TrainingArguments default)
  /** Which variables get weight decay; default `appliesWeightDecay(variable.name)`. */
  decayFilter?: (v: tf.Variable) => boolean;
}

/**
 * Hugging Face's rule (`Trainer.get_decay_parameter_names`): every parameter decays except
 * biases and the parameters of LayerNorm layers. DistilBERT names its norms `LayerNorm`,
 * `sa_layer_norm` and `output_layer_norm`, so matching on the name covers all of them.
 */
export function appliesWeightDecay(name: string): boolean {
  const n = name.toLowerCase();
  return !(n.includes('bias') || n.includes('layernorm') || n.includes('layer_norm') || n.includes('rmsnorm'));
}

/** First and second moment estimates for every parameter, plus the step count: all a resume needs. */
export interface AdamWState {
  step: number;
  /** Parameter names, in the order of `m` and `v` (for error messages and checks on restore). */
  names: string[];
  shapes: number[][];
  m: Float32Array[];
  v: Float32Array[];
}

interface Moments {
  m: tf.Variable; // same shape as the parameter
  v: tf.Variable;
}

/**
 * A non-trainable variable holding `initial`'s values. tf.variable shares the initial tensor's
 * data and counts it as a second tensor; disposing the initial one keeps the count flat.
 */
function variableFrom(initial: tf.Tensor): tf.Variable {
  const v = tf.variable(initial, false);
  initial.dispose();
  return v;
}

export class AdamW {
  readonly params: tf.Variable[];
  readonly beta1: number;
  readonly beta2: number;
  readonly epsilon: number;
  readonly weightDecay: number;
  private readonly decays: boolean[];
  /** Created on the first update of each parameter (torch creates them lazily too). */
  private moments: (Moments | null)[];
  /** Number of updates applied so far (torch's `state['step']`, shared by all parameters here). */
  stepCount = 0;
  private unit: tf.Tensor | null = null;

  constructor(params: tf.Variable[], options: AdamWOptions = {}) {
    this.params = params;
    this.beta1 = options.beta1 ?? 0.9;
    this.beta2 = options.beta2 ?? 0.999;
    this.epsilon = options.epsilon ?? 1e-8;
    this.weightDecay = options.weightDecay ?? 0;
    for (const [label, b] of [['beta1', this.beta1], ['beta2', this.beta2]] as const) {
      if (!(b >= 0 && b < 1)) throw new Error(`AdamW: ${label} must be in [0, 1), got ${b}`);
    }
    if (!(this.epsilon >= 0)) throw new Error(`AdamW: epsilon must be ≥ 0, got ${this.epsilon}`);
    if (!(this.weightDecay >= 0)) throw new Error(`AdamW: weightDecay must be ≥ 0, got ${this.weightDecay}`);
    const filter = options.decayFilter ?? ((v: tf.Variable) => appliesWeightDecay(v.name));
    this.decays = params.map((p) => filter(p));
    this.moments = params.map(() => null);
  }

  /** Names of the parameters that get weight decay (to show the user what the rule picked). */
  decayedParameterNames(): string[] {
    return this.params.filter((_, i) => this.decays[i]).map((p) => p.name);
  }

  /**
   * One update with learning rate `lr`. `grads[i]` is the gradient of `params[i]` (null: no
   * gradient this step, the parameter and its moments are left alone, as torch does).
   * `stats`: the step's [loss, norm, coef, ok] from `globalNormStats`, still on the device; each
   * gradient is scaled by its coef (the clipping) and nothing is updated where ok is 0 (see
   * fused-adamw.ts). Without it gradients are used as they are. The caller keeps ownership of
   * `grads` and `stats`. Runs one fused kernel per parameter and reads nothing back.
   */
  step(grads: (tf.Tensor | null)[], lr: number, stats?: tf.Tensor): void {
    if (grads.length !== this.params.length) {
      throw new Error(`AdamW.step: got ${grads.length} gradients for ${this.params.length} parameters`);
    }
    grads.forEach((grad, i) => {
      const param = this.params[i];
      if (grad !== null && !sameShape(grad.shape, param.shape)) {
        throw new Error(`AdamW.step: gradient of ${param.name} has shape [${grad.shape}], parameter [${param.shape}]`);
      }
    });
    this.stepCount += 1;
    // The step's scalars travel as kernel attributes (uniforms on webgpu), not as tensors.
    const common = { lr, beta1: this.beta1, beta2: this.beta2, epsilon: this.epsilon, weightDecay: this.weightDecay, step: this.stepCount };
    const attrs = { decayed: adamwAttrs({ ...common, decays: true }), plain: adamwAttrs({ ...common, decays: false }) };
    const stepStats = stats ?? this.unitStats();
    this.params.forEach((param, i) => {
      const grad = grads[i];
      if (grad === null) return;
      const moments = this.momentsFor(i);
      const [p, m, v] = fusedAdamW(param, grad, moments.m, moments.v, stepStats, this.decays[i] ? attrs.decayed : attrs.plain);
      // assign takes the new tensors' data; disposing them drops only their own references.
      param.assign(p);
      moments.m.assign(m);
      moments.v.assign(v);
      tf.dispose([p, m, v]);
    });
  }

  /** Stats meaning "coef 1, ok": made once, so that a step without stats uploads nothing. */
  private unitStats(): tf.Tensor {
    this.unit ??= tf.keep(tf.tensor1d([0, 0, 1, 1], 'float32'));
    return this.unit;
  }

  private momentsFor(i: number): Moments {
    let moments = this.moments[i];
    if (!moments) {
      const p = this.params[i];
      moments = { m: variableFrom(tf.zerosLike(p)), v: variableFrom(tf.zerosLike(p)) };
      this.moments[i] = moments;
    }
    return moments;
  }

  /** A CPU copy of the state, for checkpoints. Parameters never updated get zero moments. */
  async getState(): Promise<AdamWState> {
    const m: Float32Array[] = [];
    const v: Float32Array[] = [];
    for (let i = 0; i < this.params.length; i++) {
      const moments = this.moments[i];
      const size = this.params[i].size;
      m.push(moments ? ((await moments.m.data()) as Float32Array) : new Float32Array(size));
      v.push(moments ? ((await moments.v.data()) as Float32Array) : new Float32Array(size));
    }
    return {
      step: this.stepCount,
      names: this.params.map((p) => p.name),
      shapes: this.params.map((p) => [...p.shape]),
      m,
      v,
    };
  }

  /** Restores a state written by `getState` for the same parameters (same order and shapes). */
  setState(state: AdamWState): void {
    if (state.m.length !== this.params.length || state.v.length !== this.params.length) {
      throw new Error(
        `AdamW.setState: the saved state has ${state.m.length} parameters, this optimizer ${this.params.length}; ` +
          `resume with the same model configuration (LoRA targets, modulesToSave) as the run that saved it`,
      );
    }
    this.params.forEach((p, i) => {
      if (state.m[i].length !== p.size || state.v[i].length !== p.size) {
        throw new Error(
          `AdamW.setState: saved moments of '${state.names[i]}' have ${state.m[i].length} values, ` +
            `parameter '${p.name}' [${p.shape}] has ${p.size}`,
        );
      }
    });
    this.disposeMoments();
    this.moments = this.params.map((p, i) => ({
      m: variableFrom(tf.tensor(state.m[i], p.shape, 'float32')),
      v: variableFrom(tf.tensor(state.v[i], p.shape, 'float32')),
    }));
    this.stepCount = state.step;
  }

  private disposeMoments(): void {
    for (const moments of this.moments) {
      moments?.m.dispose();
      moments?.v.dispose();
    }
    this.moments = this.params.map(() => null);
  }

  dispose(): void {
    this.disposeMoments();
    this.unit?.dispose();
    this.unit = null;
  }
}

/**
 * The step's [loss, norm, coef, ok] (float32 [4]) on the device, for `AdamW.step`: norm is the
 * 2-norm of all gradients taken together and coef = min(1, maxNorm / (norm + 1e-6)), as in
 * `torch.nn.utils.clip_grad_norm_` (coef 1 when maxNorm is null or ≤ 0); ok is 0 when the loss
 * or the norm is not finite or `prev` (the previous step's stats) was not ok. Nothing is read
 * back: one kernel per gradient plus one (fused-adamw.ts). The caller disposes the result.
 */
export function globalNormStats(grads: tf.Tensor[], loss: tf.Scalar, maxNorm: number | null, prev?: tf.Tensor | null): tf.Tensor1D {
  const sumSq = sumOfSquares(grads);
  const stats = clipStats(sumSq, loss, maxNorm, prev);
  sumSq.dispose();
  return stats;
}

/**
 * `torch.nn.utils.clip_grad_norm_` (2-norm) with the norm read back: the gradients scaled by
 * min(1, maxNorm / (norm + 1e-6)) as new tensors (caller disposes), and the norm before clipping.
 * `maxNorm` ≤ 0 or null measures the norm without clipping. The Trainer uses `globalNormStats`,
 * which keeps the norm on the device; this is for callers that want the number now.
 */
export async function clipByGlobalNorm(
  grads: tf.Tensor[],
  maxNorm: number | null,
): Promise<{ grads: tf.Tensor[]; norm: number }> {
  if (grads.length === 0) return { grads: [], norm: 0 };
  const zero = tf.scalar(0);
  const stats = globalNormStats(grads, zero, maxNorm);
  const values = await stats.data();
  tf.dispose([zero, stats]);
  const coef = values[STATS.coef];
  const clipped = grads.map((g) => (coef < 1 ? tf.mul(g, coef) : tf.clone(g)));
  return { grads: clipped, norm: values[STATS.norm] };
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}
