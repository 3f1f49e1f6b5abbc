// Figure builders (lib/notebook/charts.ts). Expected numbers are worked out by hand in the
// comments, not taken from the code's output.
import {
  confusionMatrixFigure,
  exponentialSmoothing,
  histogramBins,
  niceBinWidth,
  tokenLengthHistogramFigure,
  trainingLossFigure,
  validationFigure,
} from '../../lib/notebook/charts';

describe('exponentialSmoothing', () => {
  test('debiased EMA, worked by hand for w = 0.5', () => {
    // s1 = 0.5·1 = 0.5, /(1-0.5) = 1
    // s2 = 0.5·0.5 + 0.5·2 = 1.25, /(1-0.25) = 1.666…
    // s3 = 0.5·1.25 + 0.5·3 = 2.125, /(1-0.125) = 2.428571…
    const s = exponentialSmoothing([1, 2, 3], 0.5);
    expect(s[0]).toBeCloseTo(1, 12);
    expect(s[1]).toBeCloseTo(5 / 3, 12);
    expect(s[2]).toBeCloseTo(17 / 7, 12);
  });

  test('w = 0 returns the values; a constant series stays constant', () => {
    expect(exponentialSmoothing([3, 1, 4], 0)).toEqual([3, 1, 4]);
    exponentialSmoothing([0.7, 0.7, 0.7, 0.7], 0.9).forEach((v) => expect(v).toBeCloseTo(0.7, 12));
  });

  test('NaN gives null and is skipped by the average', () => {
    // after 1: s = 0.5, value 1; NaN skipped; then s = 0.25 + 1.5 = 1.75, /(1-0.25) = 2.333…
    const s = exponentialSmoothing([1, NaN, 3], 0.5);
    expect(s[0]).toBeCloseTo(1, 12);
    expect(s[1]).toBeNull();
    expect(s[2]).toBeCloseTo(7 / 3, 12);
  });

  test('rejects a weight outside [0, 1)', () => {
    expect(() => exponentialSmoothing([1], 1)).toThrow(/weight must be in \[0, 1\)/);
    expect(() => exponentialSmoothing([1], -0.1)).toThrow(/weight/);
  });
});

describe('trainingLossFigure', () => {
  const points = [
    { step: 1, loss: 1, lr: 1e-5 },
    { step: 2, loss: 2, lr: 2e-5 },
    { step: 3, loss: 3, lr: 1.5e-5 },
  ];

  test('raw loss, smoothed loss and the learning rate on a second axis', () => {
    const fig = trainingLossFigure(points, { smoothing: 0.5 });
    expect(fig.data.map((t) => t.name)).toEqual(['loss', 'loss (smoothed)', 'learning rate']);
    expect(fig.data[0].x).toEqual([1, 2, 3]);
    expect(fig.data[0].y).toEqual([1, 2, 3]);
    const smoothed = fig.data[1].y as number[];
    expect(smoothed[2]).toBeCloseTo(17 / 7, 12);
    expect(fig.data[2].y).toEqual([1e-5, 2e-5, 1.5e-5]);
    expect(fig.data[2].yaxis).toBe('y2');
    expect(fig.layout.yaxis2.overlaying).toBe('y');
    expect(fig.layout.yaxis2.side).toBe('right');
  });

  test('no learning rate: no second axis', () => {
    const fig = trainingLossFigure(points.map(({ step, loss }) => ({ step, loss })));
    expect(fig.data).toHaveLength(2);
    expect(fig.layout.yaxis2).toBeUndefined();
  });

  test('an empty history is a valid (empty) figure', () => {
    const fig = trainingLossFigure([]);
    expect(fig.data[0].x).toEqual([]);
  });
});

describe('validationFigure', () => {
  test('loss on the left axis, accuracy and F1 in [0, 1] on the right', () => {
    const fig = validationFigure([
      { step: 0, loss: 0.69, accuracy: 0.5, f1: 0.4 },
      { step: 100, loss: 0.3, accuracy: 0.88, f1: 0.87 },
    ]);
    expect(fig.data.map((t) => [t.name, t.yaxis ?? 'y'])).toEqual([
      ['validation loss', 'y'],
      ['accuracy', 'y2'],
      ['F1', 'y2'],
    ]);
    expect(fig.data[0].y).toEqual([0.69, 0.3]);
    expect(fig.data[1].y).toEqual([0.5, 0.88]);
    expect(fig.data[1].x).toEqual([0, 100]);
    expect(fig.layout.yaxis2.range).toEqual([0, 1.02]); // a little headroom so 100% is not clipped
  });
});

describe('confusionMatrixFigure', () => {
  const counts = [
    [50, 10],
    [5, 35],
  ];

  test('z is the counts, rows = actual (top row first), columns = predicted', () => {
    const fig = confusionMatrixFigure(counts, ['negative', 'positive']);
    const heat = fig.data[0];
    expect(heat.type).toBe('heatmap');
    expect(heat.z).toEqual(counts);
    expect(heat.x).toEqual(['negative', 'positive']);
    expect(heat.y).toEqual(['negative', 'positive']);
    expect(fig.layout.yaxis.autorange).toBe('reversed');
    expect(fig.layout.xaxis.title.text).toBe('predicted');
    expect(fig.layout.title.text).toBe('Confusion matrix (100 examples)');
  });

  test('each cell is annotated with its count and its share of all examples', () => {
    const fig = confusionMatrixFigure(counts, ['negative', 'positive']);
    const text = (x: string, y: string) => fig.layout.annotations.find((a: any) => a.x === x && a.y === y).text;
    expect(text('negative', 'negative')).toBe('50<br>(50.0%)');
    expect(text('positive', 'negative')).toBe('10<br>(10.0%)'); // actual negative, predicted positive
    expect(text('negative', 'positive')).toBe('5<br>(5.0%)');
    expect(text('positive', 'positive')).toBe('35<br>(35.0%)');
  });

  test('rejects a matrix that does not match the labels', () => {
    expect(() => confusionMatrixFigure([[1, 2]], ['a', 'b'])).toThrow(/must be 2×2/);
    expect(() => confusionMatrixFigure([[1, -2], [0, 1]], ['a', 'b'])).toThrow(/non-negative integers/);
  });
});

describe('token length histogram', () => {
  test('histogramBins counts [k·w, (k+1)·w) by hand', () => {
    // w = 10: [0,10) ← 0, 1, 9; [10,20) ← 10, 19; [20,30) ← 20, 25
    const h = histogramBins([0, 1, 9, 10, 19, 20, 25], 10);
    expect(h.binStarts).toEqual([0, 10, 20]);
    expect(h.counts).toEqual([3, 2, 2]);
    expect(() => histogramBins([1, -1], 10)).toThrow(/≥ 0/);
  });

  test('niceBinWidth picks 1, 2 or 5 × 10^k', () => {
    expect(niceBinWidth(512)).toBe(20); // 512/40 = 12.8 → 20
    expect(niceBinWidth(2000)).toBe(50); // 50 exactly
    expect(niceBinWidth(3000)).toBe(100); // 75 → 100
    expect(niceBinWidth(10)).toBe(1);
  });

  test('bars at bin centres, the max_length cut marked, the truncated share written', () => {
    const fig = tokenLengthHistogramFigure([0, 1, 9, 10, 19, 20, 25], { maxLength: 20, binWidth: 10 });
    const bars = fig.data[0];
    expect(bars.type).toBe('bar');
    expect(bars.x).toEqual([5, 15, 25]);
    expect(bars.y).toEqual([3, 2, 2]);
    expect(bars.width).toBe(10);
    const cut = fig.layout.shapes[0];
    expect([cut.x0, cut.x1, cut.yref]).toEqual([20, 20, 'paper']);
    // Only 25 is longer than 20 tokens: 1 of 7 = 14.3%.
    expect(fig.layout.annotations[0].text).toContain('max_length 20: 1 texts (14.3%) truncated');
  });
});
