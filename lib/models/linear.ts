// The dense layer contract shared by the model, NF4 quantization and LoRA.
//
// DistilBERT is a stack of linear layers (q/k/v/out_lin, lin1, lin2, pre_classifier,
// classifier). Each is held as a `Linear`; the model calls `apply`, quantization swaps a
// `DenseLinear` for an `NF4Linear`, and LoRA wraps either in a `LoraLinear`. Weights follow the
// checkpoint layout: W is [out, in] and y = x·Wᵀ + b.
import * as tf from '@tensorflow/tfjs';

export interface Linear {
  readonly inFeatures: number;
  readonly outFeatures: number;
  /**
   * y = x·Wᵀ + b: [N, in] → [N, out]. `training` switches dropout on (LoRA's input dropout);
   * `dropoutSeed`, when given, fixes that dropout's mask (the model derives it from its own seed).
   */
  apply(x: tf.Tensor2D, training: boolean, dropoutSeed?: number): tf.Tensor2D;
  /** The effective fp32 weight [out, in] (dequantized for NF4, merged for LoRA). The caller disposes it. */
  weight(): tf.Tensor2D;
  /** The bias [out], or null. */
  readonly bias: tf.Variable | null;
  /** Variables an optimizer may update (those with `trainable` set). */
  trainableVariables(): tf.Variable[];
  /** Bytes this layer's weight (not bias, not adapters) occupies on the device. */
  weightBytes(): number;
  dispose(): void;
}

/** A plain fp32 linear layer. Frozen unless `trainable` is set (the variables' own flag). */
export class DenseLinear implements Linear {
  readonly inFeatures: number;
  readonly outFeatures: number;
  readonly weightVar: tf.Variable; // [out, in]
  readonly bias: tf.Variable | null; // [out]

  constructor(weight: tf.Tensor2D, bias: tf.Tensor1D | null, opts: { trainable?: boolean; name?: string } = {}) {
    const [out, inp] = weight.shape;
    if (bias && bias.shape[0] !== out) {
      throw new Error(`${opts.name ?? 'Linear'}: bias has ${bias.shape[0]} values, weight has ${out} rows`);
    }
    this.outFeatures = out;
    this.inFeatures = inp;
    const trainable = opts.trainable ?? false;
    // Variables stay unnamed: tfjs refuses two variables of one name, and two models may be loaded at once.
    this.weightVar = tf.variable(weight, trainable);
    this.bias = bias ? tf.variable(bias, trainable) : null;
  }

  setTrainable(trainable: boolean): void {
    this.weightVar.trainable = trainable;
    if (this.bias) this.bias.trainable = trainable;
  }

  apply(x: tf.Tensor2D, _training: boolean): tf.Tensor2D {
    return tf.tidy(() => {
      const y: tf.Tensor2D = tf.matMul(x, this.weightVar as tf.Tensor2D, false, true); // [N, out]
      return this.bias ? tf.add<tf.Tensor2D>(y, this.bias) : y;
    });
  }

  weight(): tf.Tensor2D {
    return tf.clone(this.weightVar as tf.Tensor2D);
  }

  trainableVariables(): tf.Variable[] {
    return [this.weightVar, this.bias].filter((v): v is tf.Variable => v !== null && v.trainable);
  }

  weightBytes(): number {
    return this.weightVar.size * 4;
  }

  dispose(): void {
    this.weightVar.dispose();
    this.bias?.dispose();
  }
}
