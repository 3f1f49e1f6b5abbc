// Batched inference: texts in, labels and class probabilities out.
//
// Eval mode (no dropout), no gradient tape, every batch's tensors freed before the next one.
// Each batch is padded only to its own longest text: the attention mask makes padding
// invisible, so the result does not depend on how texts are grouped (tested).
import * as tf from '@tensorflow/tfjs';
import { argmaxRows } from './metrics';
import type { BatchEncoder } from './collate';

/** Anything with DistilBERT's `logits` (a PeftModel or the plain model). */
export interface ClassifierModel {
  logits(inputIds: tf.Tensor2D, attentionMask: tf.Tensor2D, opts?: { training?: boolean }): tf.Tensor2D;
}

export interface PredictOptions {
  /** Texts per forward pass (default 32). */
  batchSize?: number;
  /** Longer texts are truncated (default 512, DistilBERT's limit). */
  maxLength?: number;
  /** Names of the classes, by label id (default ['negative', 'positive'] for two classes, else 'LABEL_i'). */
  labelNames?: string[];
}

export interface Predictions {
  /** Predicted label id of each text. */
  labels: number[];
  /** Predicted label name of each text. */
  labelNames: string[];
  /** Softmax probabilities of each text, [texts][classes]. */
  probabilities: number[][];
}

export async function predict(
  model: ClassifierModel,
  tokenizer: BatchEncoder,
  texts: string[],
  opts: PredictOptions = {},
): Promise<Predictions> {
  if (!Array.isArray(texts) || texts.some((t) => typeof t !== 'string')) {
    throw new Error('predict: texts must be an array of strings');
  }
  const batchSize = opts.batchSize ?? 32;
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new Error(`predict: batchSize must be a positive integer, got ${batchSize}`);
  const maxLength = opts.maxLength ?? 512;
  const labels: number[] = [];
  const probabilities: number[][] = [];
  let numLabels = 0;
  for (let start = 0; start < texts.length; start += batchSize) {
    const batch = texts.slice(start, start + batchSize);
    const enc = tokenizer.encodeBatch(batch, { maxLength, padding: 'longest', truncation: true });
    const probs = tf.tidy(() => {
      const ids = tf.tensor2d(enc.inputIds, [enc.batchSize, enc.seqLength], 'int32');
      const mask = tf.tensor2d(enc.attentionMask, [enc.batchSize, enc.seqLength], 'int32');
      return tf.softmax(model.logits(ids, mask, { training: false })); // [B, C]
    });
    numLabels = probs.shape[1];
    const values = await probs.data();
    probs.dispose();
    labels.push(...argmaxRows(values, numLabels));
    for (let r = 0; r < batch.length; r++) probabilities.push(Array.from(values.subarray(r * numLabels, (r + 1) * numLabels)));
  }
  const names = opts.labelNames ?? (numLabels === 2 ? ['negative', 'positive'] : Array.from({ length: numLabels }, (_, i) => `LABEL_${i}`));
  if (texts.length > 0 && names.length !== numLabels) {
    throw new Error(`predict: ${names.length} labelNames given but the model has ${numLabels} classes`);
  }
  return { labels, labelNames: labels.map((l) => names[l]), probabilities };
}
