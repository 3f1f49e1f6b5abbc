// The device side of an optimizer step: gradients summed over the micro-batches, and the log of
// steps whose loss and gradient norm have not been read back yet.
//
// Why a log: reading a number back from a GPU waits for all queued work, so a read per step
// idles the GPU once per step. The Trainer queues steps and reads the log once per
// `loggingSteps` (and before evaluating or saving); the NaN guard then finds the first diverged
// step, which — with every step after it — the fused AdamW kernel already skipped on the device.
import * as tf from '@tensorflow/tfjs';
import { STATS } from './fused-adamw';
import { crossEntropy } from './metrics';
import { EncodedDataset, gatherBatch } from './collate';
import { StepEvent } from './callbacks';
import { TrainableModel } from './trainable-model';

/**
 * Forward + backward over `batches` (rows of `data`), gradients of `params` summed over them, each
 * micro-batch's mean cross-entropy multiplied by `scale` (1 / micro-batches: HF's accumulation).
 * Returns the gradients aligned with `params` (null: no gradient) and the summed loss, all on the
 * device; the caller disposes them.
 */
export function accumulateGradients(
  model: TrainableModel,
  params: tf.Variable[],
  data: EncodedDataset,
  batches: number[][],
  dropoutSeeds: number[],
  scale: tf.Scalar,
): { grads: (tf.Tensor | null)[]; loss: tf.Scalar } {
  let summed: (tf.Tensor | null)[] = params.map(() => null);
  let loss: tf.Scalar | null = null;
  batches.forEach((rows, micro) => {
    // The labels go to crossEntropy from the host: its label check then reads nothing back.
    const labels = Int32Array.from(rows, (r) => data.labels[r]);
    const { value, grads } = tf.tidy(() => {
      const { inputIds, attentionMask } = gatherBatch(data, rows);
      return tf.variableGrads(() => {
        const logits = model.logits(inputIds, attentionMask, { training: true, dropoutSeed: dropoutSeeds[micro] }); // [B, C]
        return tf.mul(crossEntropy(logits, labels), scale) as tf.Scalar;
      }, params);
    });
    summed = params.map((p, i) => {
      const g = grads[p.name] ?? null;
      const s = summed[i];
      if (!g) return s;
      if (!s) return g;
      const total = tf.add(s, g);
      tf.dispose([s, g]);
      return total;
    });
    if (loss) {
      const total = tf.add(loss, value) as tf.Scalar;
      tf.dispose([loss, value]);
      loss = total;
    } else {
      loss = value;
    }
  });
  if (!loss) throw new Error('accumulateGradients: no micro-batches');
  return { grads: summed, loss };
}

/** A step's event before its loss and gradient norm are known. */
export type UnreadStepEvent = Omit<StepEvent, 'loss' | 'gradNorm'>;

export interface DivergedStep {
  step: number;
  loss: number;
  gradNorm: number;
  /** Steps queued from the diverged one on (all skipped on the device). */
  skipped: number;
}

/** Steps done on the device whose [loss, norm, coef, ok] stats (fused-adamw.ts) are not read yet. */
export class UnreadSteps {
  private steps: { stats: tf.Tensor1D; event: UnreadStepEvent }[] = [];

  get length(): number {
    return this.steps.length;
  }

  /** The last queued step's stats (the next step's `prev`), or null when all are read. */
  get lastStats(): tf.Tensor1D | null {
    return this.steps.length ? this.steps[this.steps.length - 1].stats : null;
  }

  /** Queues a step; the log owns `stats` from now on. */
  push(stats: tf.Tensor1D, event: UnreadStepEvent): void {
    this.steps.push({ stats, event });
  }

  /**
   * Reads all queued stats in one read-back and empties the log. Returns the events of the steps
   * before the first diverged one (not ok), and that one, if any.
   */
  async read(): Promise<{ events: StepEvent[]; diverged: DivergedStep | null }> {
    const steps = this.steps;
    this.steps = [];
    if (steps.length === 0) return { events: [], diverged: null };
    const stacked = tf.stack(steps.map((s) => s.stats));
    const values = await stacked.data();
    tf.dispose([stacked, ...steps.map((s) => s.stats)]);
    const events: StepEvent[] = [];
    for (let k = 0; k < steps.length; k++) {
      const row = values.subarray(4 * k, 4 * k + 4);
      const loss = row[STATS.loss];
      const gradNorm = row[STATS.norm];
      if (!(row[STATS.ok] > 0)) return { events, diverged: { step: steps[k].event.step, loss, gradNorm, skipped: steps.length - k } };
      events.push({ ...steps[k].event, loss, gradNorm });
    }
    return { events, diverged: null };
  }

  dispose(): void {
    tf.dispose(this.steps.map((s) => s.stats));
    this.steps = [];
  }
}
