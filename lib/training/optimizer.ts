// AdamW with decoupled weight decay, and gradient clipping by global norm.
//
// tfjs' own optimizers have no AdamW, and their state is hard to save and restore exactly, so
// this is a small re-implementation of `torch.optim.AdamW` (amsgrad off) and
// `torch.nn.utils.clip_grad_norm_`, the two pieces Hugging Face's Trainer uses.
import * as tf from '@tensorflow/tfjs';

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
   * The caller keeps ownership of `grads`.
   */
  step(grads: (tf.Tensor | null)[], lr: number): void {
    if (grads.length !== this.params.length) {
      throw new Error(`AdamW.step: got ${grads.length} gradients for ${this.params.length} parameters`);
    }
    this.stepCount += 1;
    const t = this.stepCount;
    const { beta1, beta2, epsilon } = this;
    const biasCorrection1 = 1 - Math.pow(beta1, t);
    const biasCorrection2Sqrt = Math.sqrt(1 - Math.pow(beta2, t));
    const stepSize = lr / biasCorrection1;
    this.params.forEach((param, i) => {
      const grad = grads[i];
      if (grad === null) return;
      if (!sameShape(grad.shape, param.shape)) {
        throw new Error(`AdamW.step: gradient of ${param.name} has shape [${grad.shape}], parameter [${param.shape}]`);
      }
      const moments = this.momentsFor(i);
      tf.tidy(() => {
        // Decoupled weight decay first, on the weights before the Adam update (torch order).
        const decayed = this.decays[i] && this.weightDecay > 0 ? tf.mul(param, 1 - lr * this.weightDecay) : param;
        const m = tf.add(tf.mul(moments.m, beta1), tf.mul(grad, 1 - beta1));
        const v = tf.add(tf.mul(moments.v, beta2), tf.mul(tf.square(grad), 1 - beta2));
        const denom = tf.add(tf.div(tf.sqrt(v), biasCorrection2Sqrt), epsilon);
        const updated = tf.sub(decayed, tf.mul(tf.div(m, denom), stepSize));
        moments.m.assign(m);
        moments.v.assign(v);
        param.assign(updated);
      });
    });
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
  }
}

/**
 * `torch.nn.utils.clip_grad_norm_` (2-norm): the norm of all gradients taken together, and the
 * gradients scaled by min(1, maxNorm / (norm + 1e-6)). Returns new tensors (caller disposes) and
 * the norm before clipping. `maxNorm` ≤ 0 or null measures the norm without clipping.
 */
export async function clipByGlobalNorm(
  grads: tf.Tensor[],
  maxNorm: number | null,
): Promise<{ grads: tf.Tensor[]; norm: number }> {
  if (grads.length === 0) return { grads: [], norm: 0 };
  // Squared norms are stacked and summed rather than tf.addN'ed: WebGPU's addN binds one storage
  // buffer per input, and devices allow as few as 8 per shader stage (we have ~80 gradients).
  const normTensor = tf.tidy(() => tf.sqrt(tf.sum(tf.stack(grads.map((g) => tf.sum(tf.square(g)))))));
  const norm = (await normTensor.data())[0];
  normTensor.dispose();
  const coef = maxNorm !== null && maxNorm > 0 ? Math.min(1, maxNorm / (norm + 1e-6)) : 1;
  const clipped = grads.map((g) => (coef < 1 ? tf.mul(g, coef) : tf.clone(g)));
  return { grads: clipped, norm };
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}
