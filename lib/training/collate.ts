// From texts to the Trainer's batches: tokenize once (padded to maxLength), check the result,
// order the examples of each epoch, and gather rows into int32 tensors (HF's
// `DataCollatorWithPadding` + `RandomSampler`, with the padding done up front).
import * as tf from '@tensorflow/tfjs';
import { mixSeed, permutation } from '../util/random';

/**
 * Tokenized examples, row-major: example i is inputIds[i*seqLength .. (i+1)*seqLength).
 * inputIds and attentionMask are int32 [N × seqLength]; labels [N] are class ids 0..numLabels-1.
 */
export interface EncodedDataset {
  inputIds: Int32Array;
  attentionMask: Int32Array;
  labels: ArrayLike<number>;
  seqLength: number;
}

/** The part of the tokenizer (lib/tokenization/tokenizer.ts) used here. */
export interface BatchEncoder {
  encodeBatch(
    texts: string[],
    opts: { maxLength?: number; padding?: 'max_length' | 'longest'; truncation?: boolean },
  ): { inputIds: Int32Array; attentionMask: Int32Array; batchSize: number; seqLength: number };
}

/**
 * Tokenizes texts once, padded and truncated to `maxLength` tokens, for the Trainer. Throws when
 * texts and labels differ in number, or a label is not a whole number ≥ 0.
 */
export function encodeDataset(
  tokenizer: BatchEncoder,
  texts: string[],
  labels: ArrayLike<number>,
  opts: { maxLength: number },
): EncodedDataset {
  if (texts.length !== labels.length) throw new Error(`encodeDataset: ${texts.length} texts but ${labels.length} labels`);
  checkLabels(labels, null, 'encodeDataset');
  const enc = tokenizer.encodeBatch(texts, { maxLength: opts.maxLength, padding: 'max_length', truncation: true });
  return { inputIds: enc.inputIds, attentionMask: enc.attentionMask, labels: Int32Array.from(labels), seqLength: enc.seqLength };
}

/**
 * Throws unless every label is a class id in [0, numLabels) (any whole number ≥ 0 when
 * numLabels is null), naming the first bad label, its row and the number of labels: PyTorch's
 * `cross_entropy` refuses such a target ("Target 2 is out of bounds"), where a one-hot loss
 * would silently count the row as zero loss.
 */
export function checkLabels(labels: ArrayLike<number>, numLabels: number | null, what: string): void {
  for (let row = 0; row < labels.length; row++) {
    const label = labels[row];
    const ok = Number.isInteger(label) && label >= 0 && (numLabels === null || label < numLabels);
    if (!ok) {
      const range = numLabels === null ? 'whole numbers ≥ 0' : `class ids 0..${numLabels - 1} (the model has ${numLabels} labels)`;
      throw new Error(
        `${what}: label ${label} at row ${row} is out of bounds; labels must be ${range}. ` +
          `Map the labels to ids 0..numLabels-1 (the loaders' labelMap), or load the model with numLabels set to the number of classes.`,
      );
    }
  }
}

/** Throws, naming `what`, unless the arrays have the sizes `labels.length × seqLength` implies and the labels are in range. */
export function checkDataset(data: EncodedDataset, what: string, numLabels: number | null = null): void {
  const n = data.labels.length;
  if (n === 0) throw new Error(`${what} is empty`);
  if (!(data.seqLength > 0)) throw new Error(`${what}.seqLength must be > 0, got ${data.seqLength}`);
  if (data.inputIds.length !== n * data.seqLength || data.attentionMask.length !== n * data.seqLength) {
    throw new Error(
      `${what}: ${n} labels × seqLength ${data.seqLength} needs ${n * data.seqLength} ids and mask values, ` +
        `got ${data.inputIds.length} and ${data.attentionMask.length}`,
    );
  }
  checkLabels(data.labels, numLabels, what);
}

/** Rows of a dataset as int32 tensors: ids and mask [B, T], labels [B]. */
export function gatherBatch(data: EncodedDataset, rows: number[]): { inputIds: tf.Tensor2D; attentionMask: tf.Tensor2D; labels: tf.Tensor1D } {
  const T = data.seqLength;
  const ids = new Int32Array(rows.length * T);
  const mask = new Int32Array(rows.length * T);
  const labels = new Int32Array(rows.length);
  rows.forEach((r, i) => {
    ids.set(data.inputIds.subarray(r * T, (r + 1) * T), i * T);
    mask.set(data.attentionMask.subarray(r * T, (r + 1) * T), i * T);
    labels[i] = data.labels[r];
  });
  return {
    inputIds: tf.tensor2d(ids, [rows.length, T], 'int32'),
    attentionMask: tf.tensor2d(mask, [rows.length, T], 'int32'),
    labels: tf.tensor1d(labels, 'int32'),
  };
}

/**
 * The order of the training examples in `epoch`: a permutation depending only on (n, seed,
 * epoch), so that a run resumed mid-way sees the same order as the uninterrupted one.
 */
export function epochOrder(n: number, seed: number, epoch: number, shuffle = true): number[] {
  return shuffle ? permutation(n, mixSeed(seed, epoch, 0x5eed)) : range(0, n);
}

/** [start, start+1, …, end-1]. */
export function range(start: number, end: number): number[] {
  return Array.from({ length: end - start }, (_, i) => start + i);
}

/**
 * The dropout seed of micro-batch `micro` of the update after `step` completed steps: a pure
 * function of the position, so that a resumed run draws the masks the uninterrupted one would.
 */
export function dropoutSeedFor(seed: number, step: number, micro: number): number {
  return mixSeed(seed, step, micro, 0xd50);
}
