// One forward pass of the server: texts of one batch → class probabilities, with truncation noted.
//
// The same steps as predict() (lib/training/predict.ts), so the server's answers equal predict()'s:
// tokenize with truncation, pad to the batch's longest row (not to maxLength), eval-mode logits,
// softmax. Every tensor is freed before the promise resolves.
import * as tf from '@tensorflow/tfjs';
import type { ServedAdapter } from './adapters';
import type { Tokenizer } from '../index';

/** One text's result, as the API returns it. */
export interface Prediction {
  /** The most probable class's name (the first one on a tie, as argmax). */
  label: string;
  /** Softmax probability of each class, by class name. */
  probabilities: Record<string, number>;
  /** True when the text had more tokens than maxLength: the model read [CLS], its first maxLength − 2 word pieces and [SEP]. */
  truncated: boolean;
}

/**
 * Classifies `texts` with `adapter` in one forward pass of shape [texts.length, longest row].
 * `maxLength` counts [CLS] and [SEP] and must not exceed the model's max_position_embeddings.
 */
export async function classifyBatch(adapter: ServedAdapter, tokenizer: Tokenizer, texts: string[], maxLength: number): Promise<Prediction[]> {
  const enc = tokenizer.encodeBatch(texts, { maxLength, padding: 'longest', truncation: true });
  const probs = tf.tidy(() => {
    const ids = tf.tensor2d(enc.inputIds, [enc.batchSize, enc.seqLength], 'int32');
    const mask = tf.tensor2d(enc.attentionMask, [enc.batchSize, enc.seqLength], 'int32');
    return tf.softmax(adapter.peft.logits(ids, mask, { training: false })); // [B, C]
  });
  let values: Float32Array;
  try {
    values = (await probs.data()) as Float32Array;
  } finally {
    probs.dispose();
  }
  const names = adapter.labelNames;
  const C = names.length;
  if (probs.shape[1] !== C) throw new Error(`adapter '${adapter.name}' has ${probs.shape[1]} classes but ${C} label names`);
  return texts.map((text, r) => {
    const row = values.subarray(r * C, (r + 1) * C);
    let best = 0;
    for (let c = 1; c < C; c++) if (row[c] > row[best]) best = c;
    // Only a row cut to exactly maxLength can have been truncated; re-tokenize just those to know.
    const truncated = enc.lengths[r] === maxLength && tokenizer.encode(text).ids.length > maxLength;
    return {
      label: names[best],
      probabilities: Object.fromEntries(names.map((n, c) => [n, row[c]])),
      truncated,
    };
  });
}
