// A LoRA adapter around a frozen linear layer, in PEFT's exact semantics (`peft.tuners.lora.Linear`).
//
//   y = base(x) + (dropout(x)·Aᵀ)·Bᵀ · scaling
//
// A is [r, in], B is [out, r] (PEFT's `lora_A.weight` / `lora_B.weight` layouts), scaling is
// alpha / r, or alpha / √r with rsLoRA. A starts as kaiming_uniform(a=√5), i.e. U(−1/√in, 1/√in),
// and B as zeros, so a fresh adapter leaves the base model's output unchanged. Only A and B are
// trainable; the base (a DenseLinear or an NF4Linear) stays frozen and gets no gradient.
import * as tf from '@tensorflow/tfjs';
import { Linear } from '../models/linear';
import { dropout } from '../backends/dropout';
import { add } from '../backends/fused-ops';
import { createRng } from '../util/random';

export interface LoraLinearOptions {
  r: number;
  loraAlpha: number;
  /** Dropout probability on the LoRA branch's input (training only), in [0, 1]. Default 0. */
  loraDropout?: number;
  /** rsLoRA: scaling alpha/√r instead of alpha/r. Default false. */
  useRslora?: boolean;
  /**
   * PEFT's init_lora_weights: true (default) A kaiming-uniform, B zeros; 'gaussian' A ~ N(0, (1/r)²),
   * B zeros; false: A and B both nn.Linear's default init (B ~ U(−1/√r, 1/√r)), so the adapter is not a no-op.
   */
  initLoraWeights?: boolean | 'gaussian';
  /** Seeds A's initialisation and the dropout masks. Default 0. */
  seed?: number;
  /** Used in variable names and error messages, e.g. 'distilbert.transformer.layer.0.attention.q_lin'. */
  name?: string;
}

/** PEFT's LoRA scaling factor: alpha / r, or alpha / √r with rsLoRA. */
export function loraScaling(r: number, loraAlpha: number, useRslora = false): number {
  return useRslora ? loraAlpha / Math.sqrt(r) : loraAlpha / r;
}

export class LoraLinear implements Linear {
  readonly inFeatures: number;
  readonly outFeatures: number;
  readonly r: number;
  readonly loraAlpha: number;
  readonly loraDropout: number;
  readonly useRslora: boolean;
  readonly scaling: number;
  readonly name: string;
  /** The wrapped frozen layer (PEFT's `base_layer`). */
  readonly base: Linear;
  readonly loraA: tf.Variable; // [r, in]
  readonly loraB: tf.Variable; // [out, r]
  private nextDropoutSeed: () => number;

  constructor(base: Linear, opts: LoraLinearOptions) {
    const name = opts.name ?? 'LoraLinear';
    if (!Number.isInteger(opts.r) || opts.r < 1) {
      throw new Error(`${name}: LoRA rank r must be an integer ≥ 1, got ${opts.r}`);
    }
    if (typeof opts.loraAlpha !== 'number' || !Number.isFinite(opts.loraAlpha)) {
      throw new Error(`${name}: loraAlpha must be a finite number, got ${opts.loraAlpha}`);
    }
    const dropout = opts.loraDropout ?? 0;
    if (!(dropout >= 0 && dropout <= 1)) {
      throw new Error(`${name}: loraDropout must be in [0, 1], got ${dropout}`);
    }
    this.base = base;
    this.name = name;
    this.inFeatures = base.inFeatures;
    this.outFeatures = base.outFeatures;
    this.r = opts.r;
    this.loraAlpha = opts.loraAlpha;
    this.loraDropout = dropout;
    this.useRslora = opts.useRslora ?? false;
    this.scaling = loraScaling(this.r, this.loraAlpha, this.useRslora);

    const seed = opts.seed ?? 0;
    const init = opts.initLoraWeights ?? true;
    // kaiming_uniform_(a=√5), nn.Linear's default: gain √(2/(1+5)), bound = gain·√(3/fan_in) = 1/√fan_in.
    const a =
      init === 'gaussian'
        ? tf.randomNormal([this.r, this.inFeatures], 0, 1 / this.r, 'float32', seed)
        : tf.randomUniform([this.r, this.inFeatures], -1 / Math.sqrt(this.inFeatures), 1 / Math.sqrt(this.inFeatures), 'float32', seed);
    // Variables keep tfjs' automatic unique names: two models with the same layer paths may coexist.
    this.loraA = tf.variable(a, true);
    a.dispose();
    const b =
      init === false
        ? tf.randomUniform([this.outFeatures, this.r], -1 / Math.sqrt(this.r), 1 / Math.sqrt(this.r), 'float32', seed + 1)
        : tf.zeros([this.outFeatures, this.r]);
    this.loraB = tf.variable(b, true);
    b.dispose();
    this.nextDropoutSeed = createRng(seed ^ 0x5bd1e995);
  }

  get bias(): tf.Variable | null {
    return this.base.bias;
  }

  apply(x: tf.Tensor2D, training: boolean, seed?: number): tf.Tensor2D {
    // The model passes a seed derived from its dropoutSeed (reproducible training and resume);
    // standalone use draws from the layer's own generator, advanced on every call alike.
    const drawn = Math.floor(this.nextDropoutSeed() * 2 ** 31);
    const dropoutSeed = seed ?? drawn;
    return tf.tidy(() => {
      const y = this.base.apply(x, training); // [N, out]
      // torch's Dropout(p=1) zeroes everything (no 1/(1−p) scaling to divide by zero).
      const xIn = !training || this.loraDropout === 0 ? x : this.loraDropout === 1 ? tf.zerosLike(x) : (dropout(x, this.loraDropout, dropoutSeed) as tf.Tensor2D);
      // Explicit transposes of the small adapter matrices: matMul's transpose flags are slow on wasm.
      const down = tf.matMul(xIn, tf.transpose(this.loraA)); // [N, r]
      const up = tf.matMul(tf.mul(down, this.scaling), tf.transpose(this.loraB)); // [N, out]
      // fused-ops' add: tfjs' own would keep y and up ([N, out] each) alive for the backward.
      return add<tf.Tensor2D>(y, up);
    });
  }

  /** The merged weight W + scaling·B·A [out, in] (what mergeAndUnload writes into the base). */
  weight(): tf.Tensor2D {
    return tf.tidy(() => {
      const delta = tf.mul(tf.matMul(this.loraB as tf.Tensor2D, this.loraA as tf.Tensor2D), this.scaling);
      return tf.add(this.base.weight(), delta) as tf.Tensor2D;
    });
  }

  /** A and B (when trainable), and the base's bias when PEFT's bias 'all'/'lora_only' made it trainable; the base weight stays frozen. */
  trainableVariables(): tf.Variable[] {
    return [this.loraA, this.loraB, this.base.bias].filter((v): v is tf.Variable => v !== null && v.trainable);
  }

  setTrainable(trainable: boolean): void {
    this.loraA.trainable = trainable;
    this.loraB.trainable = trainable;
  }

  /** Number of adapter parameters (A and B). */
  adapterParameterCount(): number {
    return this.loraA.size + this.loraB.size;
  }

  weightBytes(): number {
    return this.base.weightBytes();
  }

  /** Disposes A, B and the wrapped base layer. */
  dispose(): void {
    this.loraA.dispose();
    this.loraB.dispose();
    this.base.dispose();
  }
}
