// A frozen linear layer whose weight lives on the device in NF4 (QLoRA's base layers).
//
// y = x·Wᵀ + b with W dequantized on the fly. The weight gets no gradient; x does, so LoRA
// adapters and the layers below can train. Two strategies, by what the matmul kernel likes:
//   - a native GEMM (lib/backends/gemm) takes transpose flags for free: W [out, in] is
//     dequantized once per forward, used as x·Wᵀ, and kept for the backward's dy·W (when a
//     gradient is being recorded), so each weight is dequantized once per training step;
//   - tfjs' own kernels (transposed matMuls are several times slower on wasm, environment.md):
//     the forward asks the op for Wᵀ [in, out] directly and the backward for W [out, in]; the
//     fp32 weight exists only while its matMul runs.
import * as tf from '@tensorflow/tfjs';
import { DenseLinear, Linear } from '../models/linear';
import { quantizeNF4 } from './nf4';
import { hasNativeGemm } from '../backends/gemm/select';
import { add } from '../backends/fused-ops';
import { NF4Tensor } from './nf4-op';

export interface NF4LinearOptions {
  /** Values per absmax block (default 64). */
  blockSize?: number;
  /** Double-quantize the absmax values (QLoRA's default; here default false, like quantizeNF4). */
  doubleQuant?: boolean;
  /** Layer name for error messages and variable names. */
  name?: string;
}

export class NF4Linear implements Linear {
  readonly inFeatures: number;
  readonly outFeatures: number;
  readonly bias: tf.Variable | null; // [out], fp32, frozen
  readonly weightNF4: NF4Tensor; // [out, in]
  readonly name: string;
  private readonly matMulWeightT: (x: tf.Tensor2D) => tf.Tensor2D;

  private constructor(weightNF4: NF4Tensor, bias: Float32Array | null, name: string, named: boolean) {
    const [out, inp] = weightNF4.shape;
    this.outFeatures = out;
    this.inFeatures = inp;
    this.weightNF4 = weightNF4;
    this.name = name;
    // Variable names must be unique in tfjs: name the bias only when the caller named the layer.
    this.bias = bias ? tf.tidy(() => tf.variable(tf.tensor1d(bias), false, named ? `${name}.bias` : undefined)) : null;

    // x·Wᵀ with a hand-written gradient: dx = dy·W. Neither direction keeps the fp32 weight.
    this.matMulWeightT = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
      const x = args[0] as tf.Tensor2D; // [N, in]
      if (hasNativeGemm()) {
        const w = this.weightNF4.dequantize() as tf.Tensor2D; // [out, in]
        // The frozen bias rides in the GEMM's epilogue: no separate pass, nothing kept for it.
        const value = tf.fused.matMul({ a: x, b: w, transposeB: true, bias: this.bias ?? undefined }); // [N, out]
        (args[1] as tf.GradSaveFunc)([w]); // kept by tfjs only while a gradient is recorded
        w.dispose();
        return { value, gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.matMul(dy as tf.Tensor2D, saved[0] as tf.Tensor2D) };
      }
      const value = tf.tidy(() => tf.matMul(x, this.weightNF4.dequantize({ transpose: true }) as tf.Tensor2D)); // [N, out]
      const gradFunc = (dy: tf.Tensor) => tf.tidy(() => tf.matMul(dy as tf.Tensor2D, this.weightNF4.dequantize() as tf.Tensor2D)); // [N, in]
      return { value, gradFunc };
    }) as (x: tf.Tensor2D) => tf.Tensor2D;
  }

  /** Quantizes a row-major [out, in] fp32 weight to NF4 and uploads it; the bias stays fp32. */
  static fromWeights(
    weight: Float32Array,
    outFeatures: number,
    inFeatures: number,
    bias: Float32Array | null,
    opts: NF4LinearOptions = {},
  ): NF4Linear {
    const name = opts.name ?? 'NF4Linear';
    if (weight.length !== outFeatures * inFeatures) {
      throw new Error(`${name}: weight has ${weight.length} values, expected ${outFeatures}×${inFeatures} = ${outFeatures * inFeatures} ([out, in] row-major)`);
    }
    if (bias && bias.length !== outFeatures) {
      throw new Error(`${name}: bias has ${bias.length} values, weight has ${outFeatures} rows`);
    }
    let q;
    try {
      q = quantizeNF4(weight, { blockSize: opts.blockSize ?? 64, doubleQuant: opts.doubleQuant ?? false, shape: [outFeatures, inFeatures] });
    } catch (e) {
      throw new Error(`${name}: ${(e as Error).message}`);
    }
    return new NF4Linear(NF4Tensor.upload(q), bias, name, opts.name !== undefined);
  }

  /** Quantizes a DenseLinear's weight (read back from the device). Disposes nothing: the caller decides. */
  static fromDense(layer: DenseLinear, opts: NF4LinearOptions = {}): NF4Linear {
    const weight = layer.weightVar.dataSync() as Float32Array;
    const bias = layer.bias ? (layer.bias.dataSync() as Float32Array) : null;
    return NF4Linear.fromWeights(weight, layer.outFeatures, layer.inFeatures, bias, opts);
  }

  apply(x: tf.Tensor2D, _training: boolean): tf.Tensor2D {
    if (x.rank !== 2 || x.shape[1] !== this.inFeatures) {
      throw new Error(`${this.name}: input has shape [${x.shape}], expected [N, ${this.inFeatures}]`);
    }
    return tf.tidy(() => {
      const y = this.matMulWeightT(x); // [N, out]
      if (hasNativeGemm()) return y; // bias already added in the GEMM
      return this.bias ? add<tf.Tensor2D>(y, this.bias) : y;
    });
  }

  weight(): tf.Tensor2D {
    return this.weightNF4.dequantize() as tf.Tensor2D;
  }

  trainableVariables(): tf.Variable[] {
    return [];
  }

  weightBytes(): number {
    return this.weightNF4.residentBytes();
  }

  dispose(): void {
    this.weightNF4.dispose();
    this.bias?.dispose();
  }
}
