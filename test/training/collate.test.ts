// From texts to batches: encodeDataset's checks, gatherBatch's rows, the label check that
// mirrors PyTorch's "Target n is out of bounds", and the per-epoch order.
import * as tf from '@tensorflow/tfjs';
import { BatchEncoder, checkDataset, checkLabels, encodeDataset, epochOrder, gatherBatch } from '../../lib/training/collate';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/** A stand-in tokenizer: token id = word length, [CLS]=1 … [SEP]=2, padded with 0 to maxLength. */
const encoder: BatchEncoder = {
  encodeBatch(texts, opts) {
    const T = opts.maxLength!;
    const ids = new Int32Array(texts.length * T);
    const mask = new Int32Array(texts.length * T);
    texts.forEach((text, i) => {
      const tokens = [1, ...text.split(' ').map((w) => w.length + 2), 2].slice(0, T);
      tokens.forEach((t, j) => {
        ids[i * T + j] = t;
        mask[i * T + j] = 1;
      });
    });
    return { inputIds: ids, attentionMask: mask, batchSize: texts.length, seqLength: T };
  },
};

test('encodeDataset pads to maxLength and keeps the labels as int32', () => {
  const d = encodeDataset(encoder, ['a bb', 'ccc'], [1, 0], { maxLength: 5 });
  expect(Array.from(d.inputIds)).toEqual([1, 3, 4, 2, 0, 1, 5, 2, 0, 0]);
  expect(Array.from(d.attentionMask)).toEqual([1, 1, 1, 1, 0, 1, 1, 1, 0, 0]);
  expect(d.labels).toBeInstanceOf(Int32Array);
  expect(d.seqLength).toBe(5);
  expect(() => encodeDataset(encoder, ['a'], [0, 1], { maxLength: 5 })).toThrow('encodeDataset: 1 texts but 2 labels');
  expect(() => encodeDataset(encoder, ['a', 'b'], [0, 0.5], { maxLength: 5 })).toThrow('encodeDataset: label 0.5 at row 1 is out of bounds');
});

test('checkLabels names the first bad label, its row and the number of labels', () => {
  expect(() => checkLabels([0, 1, 2, 1], 2, 'trainData')).toThrow(
    'trainData: label 2 at row 2 is out of bounds; labels must be class ids 0..1 (the model has 2 labels). ' +
      'Map the labels to ids 0..numLabels-1',
  );
  expect(() => checkLabels([0, NaN], null, 'x')).toThrow('x: label NaN at row 1 is out of bounds; labels must be whole numbers ≥ 0');
  expect(() => checkLabels([0, 1, 2], 3, 'x')).not.toThrow();
  expect(() => checkLabels([], 2, 'x')).not.toThrow();
});

test('checkDataset: sizes and labels', () => {
  const d = { inputIds: new Int32Array(6), attentionMask: new Int32Array(6), labels: [0, 1], seqLength: 3 };
  expect(() => checkDataset(d, 'evalData', 2)).not.toThrow();
  expect(() => checkDataset({ ...d, labels: [0, 1, 1] }, 'evalData')).toThrow('evalData: 3 labels × seqLength 3 needs 9 ids and mask values, got 6 and 6');
  expect(() => checkDataset({ ...d, labels: [] }, 'evalData')).toThrow('evalData is empty');
  expect(() => checkDataset({ ...d, labels: [0, 5] }, 'evalData', 2)).toThrow('evalData: label 5 at row 1 is out of bounds');
});

test('gatherBatch takes the rows asked for, in that order', () => {
  const d = { inputIds: Int32Array.from([1, 2, 3, 4, 5, 6]), attentionMask: Int32Array.from([1, 1, 1, 0, 1, 1]), labels: [0, 1, 1], seqLength: 2 };
  const b = gatherBatch(d, [2, 0]);
  expect(b.inputIds.shape).toEqual([2, 2]);
  expect(Array.from(b.inputIds.dataSync())).toEqual([5, 6, 1, 2]);
  expect(Array.from(b.attentionMask.dataSync())).toEqual([1, 1, 1, 1]);
  expect(Array.from(b.labels.dataSync())).toEqual([1, 0]);
  expect(b.labels.dtype).toBe('int32');
  [b.inputIds, b.attentionMask, b.labels].forEach((t) => t.dispose());
});

test('each epoch is a permutation that depends only on (n, seed, epoch)', () => {
  const a = epochOrder(50, 42, 0);
  expect([...a].sort((x, y) => x - y)).toEqual(Array.from({ length: 50 }, (_, i) => i));
  expect(epochOrder(50, 42, 0)).toEqual(a);
  expect(epochOrder(50, 42, 1)).not.toEqual(a);
  expect(epochOrder(50, 43, 0)).not.toEqual(a);
  expect(epochOrder(5, 42, 3, false)).toEqual([0, 1, 2, 3, 4]);
});
