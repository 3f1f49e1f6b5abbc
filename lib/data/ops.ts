// The original notebook's pandas / scikit-learn steps on SentimentData, seeded so that the same
// seed picks the same rows on every machine: df.sample(frac, random_state) → sampleFraction,
// train_test_split(..., stratify=y) → trainTestSplit, plus shuffle and a class-balanced subset.
// Every function returns new data and leaves its input untouched.
import { emptySkipReport, SentimentData, SkipReason, SkipReport } from './rows';
import { createRng, permutation, Rng, shuffleInPlace } from '../util/random';

/** The rows at `indices`, in that order. `note` is appended to `source` to say what was done. */
export function selectRows(data: SentimentData, indices: ArrayLike<number>, note?: string): SentimentData {
  const texts = new Array<string>(indices.length);
  const labels = new Int32Array(indices.length);
  for (let i = 0; i < indices.length; i++) {
    const row = indices[i];
    if (!Number.isInteger(row) || row < 0 || row >= data.texts.length) {
      throw new Error(`selectRows: row index ${row} is outside 0..${data.texts.length - 1}`);
    }
    texts[i] = data.texts[row];
    labels[i] = data.labels[row];
  }
  return {
    texts,
    labels,
    labelNames: data.labelNames,
    source: note ? `${data.source} | ${note}` : data.source,
    skipped: data.skipped,
  };
}

/** Number of rows per label id: counts[id]. */
export function labelCounts(data: SentimentData): number[] {
  const counts = new Array<number>(data.labelNames.length).fill(0);
  for (let i = 0; i < data.labels.length; i++) counts[data.labels[i]] += 1;
  return counts;
}

/** All rows in a random order. */
export function shuffle(data: SentimentData, seed: number): SentimentData {
  return selectRows(data, permutation(data.texts.length, seed), `shuffle (seed ${seed})`);
}

/** A random `frac` of the rows (round(frac · n) of them, like pandas' df.sample), in random order. */
export function sampleFraction(data: SentimentData, frac: number, seed: number): SentimentData {
  if (!(frac > 0 && frac <= 1)) {
    throw new Error(`sampleFraction: frac must be in (0, 1], got ${frac} (e.g. 0.1 for 10% of the rows)`);
  }
  const count = Math.round(frac * data.texts.length);
  if (count === 0) {
    throw new Error(`sampleFraction: frac ${frac} of ${data.texts.length} rows rounds to 0 rows; use a larger frac`);
  }
  const picked = permutation(data.texts.length, seed).slice(0, count);
  return selectRows(data, picked, `sample ${frac} (seed ${seed})`);
}

export interface SplitOptions {
  /** A fraction of the rows in (0, 1) (the test set gets ceil(testSize · n), as in scikit-learn), or a row count ≥ 1. */
  testSize?: number;
  seed: number;
  /** Keep each label's share the same in both parts (default true). */
  stratify?: boolean;
}

/** Splits rows into a train and a test part, both in random order. */
export function trainTestSplit(
  data: SentimentData,
  { testSize = 0.2, seed, stratify = true }: SplitOptions,
): { train: SentimentData; test: SentimentData } {
  const n = data.texts.length;
  const testCount = testSize < 1 ? Math.ceil(testSize * n) : testSize;
  if (!(testSize > 0) || !Number.isInteger(testCount) || testCount < 1 || testCount > n - 1) {
    throw new Error(
      `trainTestSplit: testSize ${testSize} gives ${testCount} test rows of ${n}; ` +
        `use a fraction in (0, 1) or a whole number of rows between 1 and ${n - 1}`,
    );
  }
  const rng = createRng(seed);
  let trainRows: number[];
  let testRows: number[];
  if (stratify) {
    const byLabel = rowsByLabel(data);
    const perLabel = allocateProportionally(testCount, byLabel.map((rows) => rows.length));
    trainRows = [];
    testRows = [];
    byLabel.forEach((rows, label) => {
      shuffleInPlace(rows, rng);
      testRows = testRows.concat(rows.slice(0, perLabel[label]));
      trainRows = trainRows.concat(rows.slice(perLabel[label]));
    });
    // Rows were gathered label by label: mix them, or every batch would hold one label.
    shuffleInPlace(trainRows, rng);
    shuffleInPlace(testRows, rng);
  } else {
    const order = shuffleInPlace(Array.from({ length: n }, (_, i) => i), rng);
    testRows = order.slice(0, testCount);
    trainRows = order.slice(testCount);
  }
  const how = `${stratify ? 'stratified ' : ''}split, seed ${seed}`;
  return {
    train: selectRows(data, trainRows, `train part (${how})`),
    test: selectRows(data, testRows, `test part (${how})`),
  };
}

/** `nPerClass` random rows of every label, in random order. */
export function balancedSubset(data: SentimentData, nPerClass: number, seed: number): SentimentData {
  if (!Number.isInteger(nPerClass) || nPerClass < 1) {
    throw new Error(`balancedSubset: nPerClass must be a whole number ≥ 1, got ${nPerClass}`);
  }
  const byLabel = rowsByLabel(data);
  byLabel.forEach((rows, label) => {
    if (rows.length < nPerClass) {
      throw new Error(
        `balancedSubset: label "${data.labelNames[label]}" has only ${rows.length} rows, ` +
          `fewer than nPerClass = ${nPerClass}; use at most ${Math.min(...byLabel.map((r) => r.length))}`,
      );
    }
  });
  const rng: Rng = createRng(seed);
  let picked: number[] = [];
  for (const rows of byLabel) picked = picked.concat(shuffleInPlace(rows, rng).slice(0, nPerClass));
  shuffleInPlace(picked, rng);
  return selectRows(data, picked, `${nPerClass} per class (seed ${seed})`);
}

/** Row indices of each label id, in row order. */
function rowsByLabel(data: SentimentData): number[][] {
  const byLabel: number[][] = data.labelNames.map(() => []);
  for (let i = 0; i < data.labels.length; i++) byLabel[data.labels[i]].push(i);
  return byLabel;
}

/**
 * Splits `total` into whole parts proportional to `sizes` that add up to exactly `total`:
 * round each share down, then give the leftover units to the largest remainders (ties: lower id).
 */
export function allocateProportionally(total: number, sizes: number[]): number[] {
  const sum = sizes.reduce((a, b) => a + b, 0);
  const exact = sizes.map((size) => (total * size) / sum);
  const parts = exact.map(Math.floor);
  let left = total - parts.reduce((a, b) => a + b, 0);
  const byRemainder = exact
    .map((value, id) => ({ id, remainder: value - Math.floor(value) }))
    .sort((a, b) => b.remainder - a.remainder || a.id - b.id);
  for (const { id } of byRemainder) {
    if (left === 0) break;
    if (parts[id] < sizes[id]) {
      parts[id] += 1;
      left -= 1;
    }
  }
  return parts;
}

/** Parts one after another (e.g. train then test); all must share label names. */
export function concatRows(parts: SentimentData[], source: string): SentimentData {
  if (parts.length === 0) throw new Error('concatRows: no parts to join');
  const labelNames = parts[0].labelNames;
  for (const part of parts) {
    if (part.labelNames.join('\u0000') !== labelNames.join('\u0000')) {
      throw new Error(
        `concatRows: label names differ: ${JSON.stringify(labelNames)} (${parts[0].source}) vs ` +
          `${JSON.stringify(part.labelNames)} (${part.source})`,
      );
    }
  }
  if (parts.length === 1) return { ...parts[0], source };
  const skipped: SkipReport = emptySkipReport();
  let texts: string[] = [];
  const labels = new Int32Array(parts.reduce((n, p) => n + p.labels.length, 0));
  let offset = 0;
  for (const part of parts) {
    texts = texts.concat(part.texts);
    labels.set(part.labels, offset);
    offset += part.labels.length;
    skipped.total += part.skipped.total;
    for (const [reason, count] of Object.entries(part.skipped.counts) as Array<[SkipReason, number]>) {
      skipped.counts[reason] = (skipped.counts[reason] ?? 0) + count;
    }
    // Row numbers restart in every part: keep the part's name with each example.
    for (const example of part.skipped.examples) skipped.examples.push({ ...example, where: example.where ?? part.source });
  }
  return { texts, labels, labelNames, source, skipped };
}
