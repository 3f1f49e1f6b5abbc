// The evaluation loop of HF's `Trainer.evaluation_loop`: every example once, in batches, in eval
// mode (no dropout), no gradient tape; the mean cross-entropy and the classification report.
import * as tf from '@tensorflow/tfjs';
import { argmaxRows, ClassificationReport, classificationReport, crossEntropy } from './metrics';
import { EncodedDataset, gatherBatch, range } from './collate';
import type { TrainableModel } from './trainable-model';

/**
 * Mean loss (torch cross_entropy, averaged over examples, not batches) and sklearn-style
 * accuracy / F1 / confusion matrix of `model` on `data`, `batchSize` examples per forward pass.
 * `batches` is the number of forward passes (for eval_steps_per_second).
 */
export async function evaluateModel(
  model: TrainableModel,
  data: EncodedDataset,
  batchSize: number,
  numLabels: number,
): Promise<{ loss: number; report: ClassificationReport; batches: number }> {
  const n = data.labels.length;
  const predictions: number[] = [];
  let lossSum = 0;
  let batches = 0;
  for (let start = 0; start < n; start += batchSize) {
    const rows = range(start, Math.min(start + batchSize, n));
    const [logitsTensor, lossTensor] = tf.tidy(() => {
      const { inputIds, attentionMask, labels } = gatherBatch(data, rows);
      const logits = model.logits(inputIds, attentionMask, { training: false });
      return [logits, tf.mul(crossEntropy(logits, labels), rows.length)];
    });
    const logits = await logitsTensor.data();
    lossSum += (await lossTensor.data())[0];
    predictions.push(...argmaxRows(logits, numLabels));
    logitsTensor.dispose();
    lossTensor.dispose();
    batches += 1;
  }
  return { loss: lossSum / n, report: classificationReport(data.labels, predictions, numLabels), batches };
}
