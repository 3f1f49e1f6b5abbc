// The notebook's sampling / splitting steps: counts derived by hand, disjointness and coverage,
// reproducibility per seed, and the shuffle order against the Python reference permutation.
import * as fs from 'fs';
import * as path from 'path';
import {
  allocateProportionally,
  balancedSubset,
  concatRows,
  labelCounts,
  sampleFraction,
  SentimentData,
  shuffle,
  trainTestSplit,
} from '../../lib/data/load';

/** n rows "r0".."r{n-1}"; the first `negatives` are label 0, the rest label 1. */
function makeData(n: number, negatives: number): SentimentData {
  return {
    texts: Array.from({ length: n }, (_, i) => `r${i}`),
    labels: Int32Array.from({ length: n }, (_, i) => (i < negatives ? 0 : 1)),
    labelNames: ['negative', 'positive'],
    source: 'synthetic',
    skipped: { total: 0, counts: {}, examples: [] },
  };
}
const rowIds = (d: SentimentData) => d.texts.map((t) => Number(t.slice(1)));
const labelOfRow = (negatives: number) => (row: number) => (row < negatives ? 0 : 1);

describe('trainTestSplit', () => {
  const data = makeData(40, 10);

  it('stratifies: 25% of 10 neg + 30 pos → test 3 neg + 7 pos (10 rows, leftover to the lower id)', () => {
    const { train, test } = trainTestSplit(data, { testSize: 0.25, seed: 1 });
    expect(labelCounts(test)).toEqual([3, 7]);
    expect(labelCounts(train)).toEqual([7, 23]);
    // Disjoint, together every row once, and each row keeps its own label.
    const all = [...rowIds(train), ...rowIds(test)].sort((a, b) => a - b);
    expect(all).toEqual(Array.from({ length: 40 }, (_, i) => i));
    expect(Array.from(test.labels)).toEqual(rowIds(test).map(labelOfRow(10)));
    expect(test.source).toBe('synthetic | test part (stratified split, seed 1)');
  });

  it('mixes the labels within each part (the input is sorted by label)', () => {
    const { train } = trainTestSplit(data, { testSize: 0.25, seed: 1 });
    const firstSeven = Array.from(train.labels.slice(0, 7));
    expect(firstSeven).not.toEqual([0, 0, 0, 0, 0, 0, 0]);
  });

  it('is reproducible for a seed and differs between seeds', () => {
    const a = trainTestSplit(data, { seed: 42 });
    const b = trainTestSplit(data, { seed: 42 });
    const c = trainTestSplit(data, { seed: 43 });
    expect(a.test.texts).toEqual(b.test.texts);
    expect(a.train.texts).toEqual(b.train.texts);
    expect(c.test.texts).not.toEqual(a.test.texts);
    // 20% of 40 → 8 test rows: 2 neg + 6 pos exactly.
    expect(labelCounts(a.test)).toEqual([2, 6]);
  });

  it('without stratify takes ceil(testSize · n) rows, and accepts a row count', () => {
    expect(trainTestSplit(data, { testSize: 0.33, seed: 3, stratify: false }).test.texts).toHaveLength(14);
    expect(trainTestSplit(data, { testSize: 5, seed: 3 }).test.texts).toHaveLength(5);
  });

  it('leaves its input untouched', () => {
    const before = data.texts.slice();
    trainTestSplit(data, { seed: 9 });
    expect(data.texts).toEqual(before);
  });

  it('rejects a test size that leaves a part empty', () => {
    expect(() => trainTestSplit(data, { testSize: 0, seed: 1 })).toThrow(/testSize 0 gives 0 test rows of 40/);
    expect(() => trainTestSplit(data, { testSize: 40, seed: 1 })).toThrow(/between 1 and 39/);
  });
});

describe('shuffle / sampleFraction / balancedSubset', () => {
  it('shuffle(data, seed) follows the reference permutation for that seed', () => {
    const reference = JSON.parse(fs.readFileSync(path.join(__dirname, '..', 'fixtures', 'data', 'mulberry32.json'), 'utf8'));
    const { n, seed, order } = reference.permutation as { n: number; seed: number; order: number[] };
    const shuffled = shuffle(makeData(n, 4), seed);
    expect(rowIds(shuffled)).toEqual(order);
    expect(Array.from(shuffled.labels)).toEqual(order.map(labelOfRow(4)));
  });

  it('sampleFraction takes round(frac · n) distinct rows, reproducibly', () => {
    const data = makeData(40, 10);
    const sample = sampleFraction(data, 0.1, 5);
    expect(sample.texts).toHaveLength(4);
    expect(new Set(sample.texts).size).toBe(4);
    expect(sampleFraction(data, 0.1, 5).texts).toEqual(sample.texts);
    expect(sampleFraction(data, 1, 5).texts.slice().sort()).toEqual(data.texts.slice().sort());
    expect(() => sampleFraction(data, 1.5, 5)).toThrow(/frac must be in \(0, 1\], got 1.5/);
    expect(() => sampleFraction(data, 0.001, 5)).toThrow(/rounds to 0 rows/);
  });

  it('balancedSubset takes n rows of each label, or says which label is short', () => {
    const data = makeData(40, 10);
    const subset = balancedSubset(data, 5, 2);
    expect(labelCounts(subset)).toEqual([5, 5]);
    expect(new Set(subset.texts).size).toBe(10);
    expect(Array.from(subset.labels)).toEqual(rowIds(subset).map(labelOfRow(10)));
    expect(() => balancedSubset(data, 11, 2)).toThrow(/label "negative" has only 10 rows, fewer than nPerClass = 11; use at most 10/);
  });
});

describe('helpers', () => {
  it('allocateProportionally splits exactly, leftovers to the largest remainders', () => {
    expect(allocateProportionally(10, [10, 30])).toEqual([3, 7]); // 2.5, 7.5 → tie → lower id
    expect(allocateProportionally(5, [2, 2, 2])).toEqual([2, 2, 1]); // 1.67 each: ties → lower ids
    expect(allocateProportionally(7, [1, 2, 4])).toEqual([1, 2, 4]);
    expect(allocateProportionally(3, [5, 0])).toEqual([3, 0]);
    expect(allocateProportionally(4, [3, 7])).toEqual([1, 3]); // 1.2, 2.8
  });

  it('concatRows refuses parts with different label names', () => {
    const other = { ...makeData(2, 1), labelNames: ['neg', 'pos'], source: 'other' };
    expect(() => concatRows([makeData(2, 1), other], 'both')).toThrow(/label names differ: \["negative","positive"\] \(synthetic\) vs \["neg","pos"\] \(other\)/);
  });
});
