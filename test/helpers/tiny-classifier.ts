// A tiny hand-made classifier for the training-loop tests: the tfjs twin of the PyTorch model
// in scripts/reference/train_step_reference.py.
//   embedding → masked mean over tokens → Linear → tanh → LayerNorm → (dropout) → Linear
import * as tf from '@tensorflow/tfjs';
import { createRng } from '../../lib/util/random';
import type { TrainableModel } from '../../lib/training/trainable-model';

export interface TinySizes {
  vocab: number;
  dim: number;
  hidden: number;
  labels: number;
}

export type NamedValues = Record<string, { shape: number[]; values: number[] }>;

const NAMES = ['embed.weight', 'hidden.weight', 'hidden.bias', 'norm.LayerNorm.weight', 'norm.LayerNorm.bias', 'classifier.weight', 'classifier.bias'];
let instances = 0;

export class TinyClassifier implements TrainableModel {
  readonly vars = new Map<string, tf.Variable>();
  readonly dropout: number;

  /** `init` maps the PyTorch parameter names to values; variables get a unique prefix (tfjs names are global). */
  constructor(init: NamedValues, opts: { dropout?: number } = {}) {
    this.dropout = opts.dropout ?? 0;
    const prefix = `tiny${instances++}/`;
    for (const name of NAMES) {
      const { shape, values } = init[name];
      this.vars.set(name, tf.variable(tf.tensor(values, shape, 'float32'), true, prefix + name));
    }
  }

  /** Random weights from a seed (for tests that need no reference values). */
  static random(sizes: TinySizes, seed: number, opts: { dropout?: number } = {}): TinyClassifier {
    const rng = createRng(seed);
    const uniform = (shape: number[], scale: number) => ({
      shape,
      values: Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => (rng() * 2 - 1) * scale),
    });
    const { vocab, dim, hidden, labels } = sizes;
    return new TinyClassifier(
      {
        'embed.weight': uniform([vocab, dim], 1),
        'hidden.weight': uniform([hidden, dim], 1 / Math.sqrt(dim)),
        'hidden.bias': uniform([hidden], 1 / Math.sqrt(dim)),
        'norm.LayerNorm.weight': { shape: [hidden], values: new Array(hidden).fill(1) },
        'norm.LayerNorm.bias': { shape: [hidden], values: new Array(hidden).fill(0) },
        'classifier.weight': uniform([labels, hidden], 1 / Math.sqrt(hidden)),
        'classifier.bias': uniform([labels], 1 / Math.sqrt(hidden)),
      },
      opts,
    );
  }

  private v(name: string): tf.Tensor {
    return this.vars.get(name)!;
  }

  logits(inputIds: tf.Tensor2D, attentionMask: tf.Tensor2D, opts: { training?: boolean; dropoutSeed?: number } = {}): tf.Tensor2D {
    return tf.tidy(() => {
      const [B, T] = inputIds.shape;
      const mask = tf.cast(attentionMask, 'float32').reshape([B, T, 1]); // [B, T, 1]
      const embedded = tf.gather(this.v('embed.weight'), inputIds.reshape([B * T])).reshape([B, T, -1]); // [B, T, D]
      const pooled = tf.div(tf.sum(tf.mul(embedded, mask), 1), tf.sum(mask, 1)) as tf.Tensor2D; // [B, D]
      const h = tf.tanh(tf.add(tf.matMul(pooled, this.v('hidden.weight') as tf.Tensor2D, false, true), this.v('hidden.bias'))); // [B, H]
      const { mean, variance } = tf.moments(h, -1, true);
      let normed = tf.add(tf.mul(tf.div(tf.sub(h, mean), tf.sqrt(tf.add(variance, 1e-5))), this.v('norm.LayerNorm.weight')), this.v('norm.LayerNorm.bias'));
      if (opts.training && this.dropout > 0) normed = tf.dropout(normed, this.dropout, undefined, opts.dropoutSeed);
      return tf.add(tf.matMul(normed as tf.Tensor2D, this.v('classifier.weight') as tf.Tensor2D, false, true), this.v('classifier.bias')) as tf.Tensor2D;
    });
  }

  trainableVariables(): tf.Variable[] {
    return NAMES.map((n) => this.vars.get(n)!);
  }

  /** Current values by PyTorch name. */
  async values(): Promise<Record<string, Float32Array>> {
    const out: Record<string, Float32Array> = {};
    for (const [name, v] of this.vars) out[name] = (await v.data()) as Float32Array;
    return out;
  }

  dispose(): void {
    for (const v of this.vars.values()) v.dispose();
  }
}

/** A synthetic, learnable task: the label is whether token 1 appears more often than token 2. */
export function countingTask(n: number, seqLength: number, vocab: number, seed: number) {
  const rng = createRng(seed);
  const inputIds = new Int32Array(n * seqLength);
  const attentionMask = new Int32Array(n * seqLength);
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const length = 2 + Math.floor(rng() * (seqLength - 1));
    let ones = 0;
    let twos = 0;
    for (let t = 0; t < length; t++) {
      const id = 1 + Math.floor(rng() * (vocab - 1));
      inputIds[i * seqLength + t] = id;
      attentionMask[i * seqLength + t] = 1;
      if (id === 1) ones++;
      if (id === 2) twos++;
    }
    labels[i] = ones > twos ? 1 : 0;
  }
  return { inputIds, attentionMask, labels, seqLength };
}
