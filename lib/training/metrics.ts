// Classification metrics (scikit-learn conventions) and the cross-entropy loss.
//
// Confusion matrices are indexed [true label][predicted label], like
// `sklearn.metrics.confusion_matrix`. A precision or recall whose denominator is zero counts as
// 0, like sklearn's default `zero_division` (which also warns).
import * as tf from '@tensorflow/tfjs';
import { checkLabels } from './collate';

/**
 * Mean cross-entropy of logits [B, C] (float32) against integer class ids [B] (int32 tensor or
 * array): torch `F.cross_entropy(logits, labels)` with its default mean reduction. Throws, like
 * PyTorch ("Target 2 is out of bounds"), for a label outside [0, C), naming it, its row and C:
 * a one-hot of such a label is all zeros, which would add nothing to the loss, silently.
 */
export function crossEntropy(logits: tf.Tensor2D, labels: tf.Tensor1D | number[] | Int32Array): tf.Scalar {
  const [batch, numLabels] = logits.shape;
  // The labels come from the host (gatherBatch), so reading them back does not wait on the device.
  const values = labels instanceof tf.Tensor ? labels.dataSync() : labels;
  if (values.length !== batch) throw new Error(`crossEntropy: ${batch} rows of logits but ${values.length} labels`);
  checkLabels(values, numLabels, 'crossEntropy');
  return tf.tidy(() => {
    const labelTensor = labels instanceof tf.Tensor ? tf.cast(labels, 'int32') : tf.tensor1d(Array.from(labels), 'int32');
    const logProbs = tf.logSoftmax(logits); // [B, C]
    const oneHot = tf.oneHot(labelTensor as tf.Tensor1D, numLabels); // [B, C]
    return tf.neg(tf.mean(tf.sum(tf.mul(logProbs, oneHot), 1))) as tf.Scalar;
  });
}

/** Index of the largest value in each row of a row-major [rows, cols] array (first one on ties). */
export function argmaxRows(values: ArrayLike<number>, cols: number): number[] {
  const rows = values.length / cols;
  const out: number[] = [];
  for (let r = 0; r < rows; r++) {
    let best = 0;
    for (let c = 1; c < cols; c++) if (values[r * cols + c] > values[r * cols + best]) best = c;
    out.push(best);
  }
  return out;
}

/** Counts [true][predicted] over `numLabels` classes. */
export function confusionMatrix(labels: ArrayLike<number>, predictions: ArrayLike<number>, numLabels: number): number[][] {
  if (labels.length !== predictions.length) {
    throw new Error(`confusionMatrix: ${labels.length} labels but ${predictions.length} predictions`);
  }
  const matrix = Array.from({ length: numLabels }, () => new Array<number>(numLabels).fill(0));
  for (let i = 0; i < labels.length; i++) {
    const t = labels[i];
    const p = predictions[i];
    if (!(t >= 0 && t < numLabels && p >= 0 && p < numLabels) || !Number.isInteger(t) || !Number.isInteger(p)) {
      throw new Error(`confusionMatrix: item ${i} has label ${t} / prediction ${p}, outside 0..${numLabels - 1}`);
    }
    matrix[t][p] += 1;
  }
  return matrix;
}

export interface ClassScores {
  precision: number;
  recall: number;
  f1: number;
  /** Number of true examples of this class. */
  support: number;
}

/** Precision, recall and F1 of every class, from a confusion matrix. */
export function perClassScores(confusion: number[][]): ClassScores[] {
  const n = confusion.length;
  return confusion.map((row, c) => {
    const truePositives = row[c];
    const support = row.reduce((a, b) => a + b, 0);
    let predicted = 0;
    for (let r = 0; r < n; r++) predicted += confusion[r][c];
    const precision = predicted > 0 ? truePositives / predicted : 0;
    const recall = support > 0 ? truePositives / support : 0;
    const f1 = precision + recall > 0 ? (2 * precision * recall) / (precision + recall) : 0;
    return { precision, recall, f1, support };
  });
}

export interface ClassificationReport {
  accuracy: number;
  /** Binary tasks: F1 of the positive class (label 1, sklearn `average='binary'`); otherwise macro F1. */
  f1: number;
  /** Unweighted mean of the per-class F1 scores (sklearn `average='macro'`). */
  macroF1: number;
  /** Unweighted means over the classes (sklearn classification_report's "macro avg"). */
  macroAvg: Omit<ClassScores, 'support'>;
  /** Means weighted by support (sklearn's "weighted avg"; its recall equals the accuracy). */
  weightedAvg: Omit<ClassScores, 'support'>;
  perClass: ClassScores[];
  confusion: number[][];
}

/** Accuracy, F1 and the confusion matrix of integer predictions. */
export function classificationReport(
  labels: ArrayLike<number>,
  predictions: ArrayLike<number>,
  numLabels: number,
): ClassificationReport {
  const confusion = confusionMatrix(labels, predictions, numLabels);
  const perClass = perClassScores(confusion);
  let correct = 0;
  for (let c = 0; c < numLabels; c++) correct += confusion[c][c];
  const accuracy = labels.length > 0 ? correct / labels.length : 0;
  const macroF1 = perClass.reduce((a, s) => a + s.f1, 0) / numLabels;
  const f1 = numLabels === 2 ? perClass[1].f1 : macroF1;
  const average = (weight: (s: ClassScores) => number) => {
    const total = perClass.reduce((a, s) => a + weight(s), 0);
    const mean = (pick: (s: ClassScores) => number) => (total > 0 ? perClass.reduce((a, s) => a + weight(s) * pick(s), 0) / total : 0);
    return { precision: mean((s) => s.precision), recall: mean((s) => s.recall), f1: mean((s) => s.f1) };
  };
  return { accuracy, f1, macroF1, macroAvg: average(() => 1), weightedAvg: average((s) => s.support), perClass, confusion };
}

function checkNames(labelNames: string[], numLabels: number, caller: string): void {
  if (labelNames.length !== numLabels) {
    throw new Error(`${caller}: ${labelNames.length} label names (${labelNames.join(', ')}) for ${numLabels} classes; give one name per class`);
  }
}

/** One row of classificationRows: a class, or an average. */
export interface ClassificationRow {
  class: string;
  precision: number;
  recall: number;
  f1: number;
  support: number;
}

/**
 * sklearn's `classification_report(y_true, y_pred, target_names=labelNames)` as table rows: one
 * per class (by name), then "macro avg" and "weighted avg" (support: every example). Accuracy is
 * `report.accuracy`. Throws when labelNames does not have one name per class.
 */
export function classificationRows(report: ClassificationReport, labelNames: string[]): ClassificationRow[] {
  checkNames(labelNames, report.perClass.length, 'classificationRows');
  const total = report.perClass.reduce((a, s) => a + s.support, 0);
  return [
    ...report.perClass.map((s, id) => ({ class: labelNames[id], ...s })),
    { class: 'macro avg', ...report.macroAvg, support: total },
    { class: 'weighted avg', ...report.weightedAvg, support: total },
  ];
}

/**
 * The confusion matrix as table rows, by class name: `{ actual: name, [predicted name]: count, … }`
 * (rows: actual class, columns: predicted, as sklearn's ConfusionMatrixDisplay).
 */
export function confusionRows(confusion: number[][], labelNames: string[]): Array<Record<string, string | number>> {
  checkNames(labelNames, confusion.length, 'confusionRows');
  return confusion.map((row, t) => ({ actual: labelNames[t], ...Object.fromEntries(labelNames.map((name, p) => [`predicted ${name}`, row[p]])) }));
}
