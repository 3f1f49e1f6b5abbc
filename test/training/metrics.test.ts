// Metrics against hand-computed confusion matrices, and cross-entropy against log-sum-exp by hand.
import * as tf from '@tensorflow/tfjs';
import { argmaxRows, classificationReport, classificationRows, confusionMatrix, confusionRows, crossEntropy } from '../../lib/training/metrics';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('classification metrics (sklearn conventions)', () => {
  test('binary: accuracy, positive-class F1, macro F1, confusion [true][pred]', () => {
    // labels:      1 1 1 1 0 0 0 0 0 1
    // predictions: 1 1 0 1 0 1 0 0 1 1
    // TP = 4 (idx 0,1,3,9), FN = 1 (2), FP = 2 (5,8), TN = 3 (4,6,7)
    const labels = [1, 1, 1, 1, 0, 0, 0, 0, 0, 1];
    const preds = [1, 1, 0, 1, 0, 1, 0, 0, 1, 1];
    const r = classificationReport(labels, preds, 2);
    expect(r.confusion).toEqual([[3, 2], [1, 4]]);
    expect(r.accuracy).toBeCloseTo(0.7, 12);
    // positive: P = 4/6, R = 4/5, F1 = 2·TP/(2·TP + FP + FN) = 8/11
    expect(r.f1).toBeCloseTo(8 / 11, 12);
    // negative: P = 3/4, R = 3/5, F1 = 6/9
    expect(r.perClass[0].f1).toBeCloseTo(6 / 9, 12);
    expect(r.macroF1).toBeCloseTo((8 / 11 + 6 / 9) / 2, 12);
    expect(r.perClass.map((c) => c.support)).toEqual([5, 5]);
  });

  test('three classes, an empty predicted class counts as F1 0 (sklearn zero_division)', () => {
    const labels = [0, 0, 1, 1, 2, 2];
    const preds = [0, 1, 1, 1, 0, 0];
    const r = classificationReport(labels, preds, 3);
    expect(r.confusion).toEqual([[1, 1, 0], [0, 2, 0], [2, 0, 0]]);
    // class 0: P 1/3, R 1/2 → F1 0.4; class 1: P 2/3, R 1 → 0.8; class 2: never predicted → 0
    expect(r.perClass.map((c) => c.f1)).toEqual([expect.closeTo(0.4, 12), expect.closeTo(0.8, 12), 0]);
    expect(r.f1).toBeCloseTo(0.4, 12); // macro for more than two classes
    expect(r.accuracy).toBeCloseTo(0.5, 12);
  });

  test('four star classes: classification_report by class name, macro and weighted averages, by hand', () => {
    const names = ['very negative', 'negative', 'positive', 'very positive'];
    const labels = [0, 0, 0, 0, 1, 1, 2, 2, 2, 3];
    const preds = [0, 0, 1, 2, 1, 1, 2, 0, 2, 1];
    const r = classificationReport(labels, preds, 4);
    expect(r.confusion).toEqual([[2, 1, 1, 0], [0, 2, 0, 0], [1, 0, 2, 0], [0, 1, 0, 0]]);
    // Predicted per class (column sums) 3, 4, 3, 0; supports 4, 2, 3, 1; diagonal 2, 2, 2, 0.
    // P = 2/3, 1/2, 2/3, 0 (never predicted: zero_division → 0); R = 1/2, 1, 2/3, 0;
    // F1 = 2PR/(P+R) = 4/7, 2/3, 2/3, 0.
    const close = (v: number) => expect.closeTo(v, 12);
    expect(r.perClass).toEqual([
      { precision: close(2 / 3), recall: close(1 / 2), f1: close(4 / 7), support: 4 },
      { precision: close(1 / 2), recall: 1, f1: close(2 / 3), support: 2 },
      { precision: close(2 / 3), recall: close(2 / 3), f1: close(2 / 3), support: 3 },
      { precision: 0, recall: 0, f1: 0, support: 1 },
    ]);
    expect(r.accuracy).toBeCloseTo(0.6, 12);
    // macro: P (2/3 + 1/2 + 2/3)/4 = 11/24, R (1/2 + 1 + 2/3)/4 = 13/24, F1 (4/7 + 4/3)/4 = 10/21
    expect(r.macroF1).toBeCloseTo(10 / 21, 12);
    expect(r.f1).toBeCloseTo(10 / 21, 12);
    // weighted by support 4, 2, 3, 1: P (8/3 + 1 + 2)/10 = 17/30, R = accuracy 0.6, F1 (16/7 + 4/3 + 2)/10 = 59/105
    const rows = classificationRows(r, names);
    expect(rows.map((row) => row.class)).toEqual([...names, 'macro avg', 'weighted avg']);
    expect(rows[4]).toEqual({ class: 'macro avg', precision: close(11 / 24), recall: close(13 / 24), f1: close(10 / 21), support: 10 });
    expect(rows[5]).toEqual({ class: 'weighted avg', precision: close(17 / 30), recall: close(0.6), f1: close(59 / 105), support: 10 });
    expect(rows[1]).toEqual({ class: 'negative', precision: close(1 / 2), recall: 1, f1: close(2 / 3), support: 2 });

    expect(confusionRows(r.confusion, names)[0]).toEqual({
      actual: 'very negative', 'predicted very negative': 2, 'predicted negative': 1, 'predicted positive': 1, 'predicted very positive': 0,
    });
    expect(() => classificationRows(r, ['a', 'b'])).toThrow(/2 label names \(a, b\) for 4 classes/);
    expect(() => confusionRows(r.confusion, names.slice(1))).toThrow(/3 label names .* for 4 classes/);
  });

  test('bad input names the problem', () => {
    expect(() => confusionMatrix([0, 1], [0], 2)).toThrow(/2 labels but 1 predictions/);
    expect(() => confusionMatrix([0, 2], [0, 1], 2)).toThrow(/item 1 has label 2/);
  });

  test('argmax takes the first maximum', () => {
    expect(argmaxRows([0, 1, 1, 5, 2, 2], 3)).toEqual([1, 0]);
  });
});

describe('crossEntropy', () => {
  test('mean of −log softmax at the label, by hand', async () => {
    // row 0: logits [0, ln 3], label 1 → p = 3/4; row 1: [2, 2], label 0 → p = 1/2
    const logits = tf.tensor2d([[0, Math.log(3)], [2, 2]]);
    const loss = crossEntropy(logits, [1, 0]);
    expect((await loss.data())[0]).toBeCloseTo((-Math.log(0.75) - Math.log(0.5)) / 2, 6);
    // large logits stay finite (log-softmax, not log of softmax)
    const big = tf.tensor2d([[1000, 0]]);
    const bigLoss = crossEntropy(big, [1]);
    expect((await bigLoss.data())[0]).toBeCloseTo(1000, 3);
    expect(() => crossEntropy(logits, [1])).toThrow(/2 rows of logits but 1 labels/);
    [logits, loss, big, bigLoss].forEach((t) => t.dispose());
  });

  test('a label outside [0, numLabels) throws, as PyTorch does, naming the label, its row and the number of labels', () => {
    // torch 1.13: F.cross_entropy(tensor([[1., 2.], [0.5, -1.]]), tensor([1, 0])) = 0.2573375105857849;
    // with labels [1, 2] it raises IndexError "Target 2 is out of bounds.", with [0, -1] "Target -1 …".
    const logits = tf.tensor2d([[1, 2], [0.5, -1]]);
    const loss = crossEntropy(logits, [1, 0]);
    expect(loss.dataSync()[0]).toBeCloseTo(0.2573375105857849, 6);
    const before = tf.memory().numTensors;
    expect(() => crossEntropy(logits, [1, 2])).toThrow('crossEntropy: label 2 at row 1 is out of bounds; labels must be class ids 0..1 (the model has 2 labels)');
    expect(() => crossEntropy(logits, Int32Array.from([0, -1]))).toThrow('label -1 at row 1 is out of bounds');
    const labels = tf.tensor1d([2, 0], 'int32');
    expect(() => crossEntropy(logits, labels)).toThrow('label 2 at row 0 is out of bounds');
    expect(tf.memory().numTensors).toBe(before + 1); // only `labels`: nothing leaked by the throws
    [logits, loss, labels].forEach((t) => t.dispose());
  });
});
