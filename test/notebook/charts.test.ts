// Figure builders (lib/charts.ts) and the display helpers (lib/display.ts) outside a notebook.
// Expected numbers are worked out by hand in the comments, not taken from the code's output.
import * as vm from 'vm';
import {
  PlotlyFigure,
  confusionMatrixFigure,
  escapeHtml,
  etaSeconds,
  exponentialSmoothing,
  figureHtml,
  figureSummary,
  formatCell,
  formatDuration,
  histogramBins,
  htmlTable,
  jsonForScript,
  memoryFigure,
  niceBinWidth,
  plotlyBundleHtml,
  progressText,
  textTable,
  tokenLengthHistogramFigure,
  trainingLossFigure,
  validationFigure,
} from '../../lib/notebook/charts';
import {
  DisplayTarget,
  ensurePlotly,
  inKernel,
  liveFigure,
  liveTraining,
  progressBar,
  setDisplayTarget,
  showFigure,
  showTable,
} from '../../lib/notebook/display';

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

describe('memoryFigure', () => {
  test('fp32 and NF4 bars in MiB, with the ratio', () => {
    const MiB = 1024 * 1024;
    const fig = memoryFigure([{ label: 'attention', fp32Bytes: 64 * MiB, nf4Bytes: 16 * MiB }]);
    expect(fig.data.map((t) => t.name)).toEqual(['fp32', 'NF4']);
    expect(fig.data[0].y).toEqual([64]);
    expect(fig.data[1].y).toEqual([16]);
    expect(fig.data[1].text).toEqual(['16.0 MiB (4.0× smaller)']);
    expect(fig.layout.barmode).toBe('group');
  });
});

describe('HTML and text', () => {
  test('escapeHtml and htmlTable escape every value', () => {
    expect(escapeHtml(`<a href="x">&'</a>`)).toBe('&lt;a href=&quot;x&quot;&gt;&amp;&#39;&lt;/a&gt;');
    const html = htmlTable([{ review: '<script>alert(1)</script>', score: 0.8828125 }], { caption: 'A & B' });
    expect(html).not.toContain('<script>');
    expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(html).toContain('<caption>A &amp; B</caption>');
    expect(html).toContain('>0.8828</td>');
  });

  test('formatCell: integers as is, 4 significant digits, long text cut', () => {
    expect(formatCell(42)).toBe('42');
    expect(formatCell(5e-5)).toBe('0.00005');
    expect(formatCell(2 / 3)).toBe('0.6667');
    expect(formatCell('x'.repeat(10), 5)).toBe('xxxx…');
  });

  test('textTable aligns columns', () => {
    expect(textTable([{ name: 'r', value: 8 }, { name: 'alpha', value: 32 }])).toBe(
      ['name   value', '-----  -----', 'r      8', 'alpha  32'].join('\n'),
    );
  });

  test('jsonForScript has no "<" and parses back to the same value', () => {
    const value = { text: '</script><!-- & \u2028', n: [1, 2.5] };
    const json = jsonForScript(value);
    expect(json).not.toMatch(/[<>&\u2028]/);
    expect(JSON.parse(json)).toEqual(value);
  });

  test('plotlyBundleHtml: no early </script>, and the escaped code still runs', () => {
    const source = 'window.Plotly = { s: "</script>", re: /<\\/b>/.source };';
    const html = plotlyBundleHtml(source);
    expect(html.match(/<\/script/gi)).toHaveLength(1); // only the real closing tag
    const body = html.replace(/^<script[^>]*>/, '').replace(/<\/script>$/, '');
    const sandbox: { window: any } = { window: {} };
    vm.runInNewContext(body, sandbox);
    expect(sandbox.window.Plotly.s).toBe('</script>');
    expect(sandbox.window.Plotly.re).toBe('<\\/b>');
  });

  test('figureHtml: a div with the id and a script whose spec is the figure', () => {
    const fig = trainingLossFigure([{ step: 1, loss: 0.5 }]);
    const html = figureHtml(fig, 'chart-1');
    expect(html).toContain('<div id="chart-1"');
    const spec = JSON.parse(html.match(/var spec = (.*);\n/)![1]);
    expect(spec.data).toEqual(JSON.parse(JSON.stringify(fig.data)));
    expect(spec.config.responsive).toBe(true);
    expect(() => figureHtml(fig, '"><script>')).toThrow(/invalid div id/);
  });

  test('progress: ETA at the average rate, durations as m:ss / h:mm:ss', () => {
    const p = { label: 'train', done: 25, total: 100, elapsedSeconds: 10 };
    expect(etaSeconds(p)).toBeCloseTo(30, 12); // 10 s per 25 → 30 s for the other 75
    expect(formatDuration(3725)).toBe('1:02:05');
    expect(formatDuration(65)).toBe('1:05');
    expect(formatDuration(NaN)).toBe('?');
    expect(progressText(p, 10)).toBe('train [###.......] 25/100 (25%) · 0:10 elapsed, ETA 0:30');
  });

  test('figureSummary names the title and each trace', () => {
    const summary = figureSummary(confusionMatrixFigure([[3, 1], [0, 4]], ['neg', 'pos']));
    expect(summary).toBe('[chart] Confusion matrix (8 examples)\n  count: 3 1 | 0 4');
  });
});

describe('display helpers', () => {
  /** Records what a notebook would receive. */
  function fakeNotebook() {
    const outputs: string[][] = []; // one list per output: its successive contents
    const printed: string[] = [];
    const target: DisplayTarget = {
      rich: true,
      show: (html) => void outputs.push([html]),
      live: () => {
        const history: string[] = [];
        outputs.push(history);
        return { show: (html: string) => void history.push(html) };
      },
      print: (text) => void printed.push(text),
    };
    return { target, outputs, printed };
  }

  afterEach(() => {
    setDisplayTarget(null);
    delete (globalThis as Record<string, unknown>).__qlora_plotly_emitted__;
  });

  test('jest is not a tslab kernel', () => {
    expect(inKernel()).toBe(false);
  });

  test('outside a notebook: charts and tables print text', () => {
    const printed: string[] = [];
    setDisplayTarget({ rich: false, show: () => undefined, live: () => ({ show: () => undefined }), print: (t) => void printed.push(t) });
    showFigure(memoryFigure([{ label: 'all', fp32Bytes: 4 * 1024 * 1024, nf4Bytes: 1024 * 1024 }]));
    showTable([{ a: 1 }]);
    const live = liveFigure(trainingLossFigure([]));
    live.update(trainingLossFigure([{ step: 1, loss: 0.5 }, { step: 2, loss: 0.25 }]));
    live.done();
    expect(printed).toEqual([
      '[chart] Frozen weight memory: fp32 vs NF4\n  fp32: all=4\n  NF4: all=1',
      'a\n-\n1',
      '[chart] Training loss\n  loss: 2 points, last 0.25\n  loss (smoothed): 2 points, last ' + formatCell(exponentialSmoothing([0.5, 0.25])[1]),
    ]);
  });

  test('in a notebook: the plotly bundle goes out once, before the first chart', () => {
    const nb = fakeNotebook();
    setDisplayTarget(nb.target);
    showFigure(trainingLossFigure([{ step: 1, loss: 1 }]));
    showFigure(validationFigure([{ step: 1, loss: 1, accuracy: 0.5 }]));
    ensurePlotly();
    expect(nb.outputs).toHaveLength(3);
    expect(nb.outputs[0][0]).toMatch(/^<script type="text\/javascript">\nif \(typeof window.Plotly === "undefined"\)/);
    expect(nb.outputs[0][0].length).toBeGreaterThan(1_000_000); // the real bundle
    expect(nb.outputs[1][0]).toContain('class="qlora-chart"');
    expect(nb.outputs[2][0]).toContain('"Validation"');
  });

  test('liveFigure redraws at most once per interval and done() draws the latest figure', () => {
    const nb = fakeNotebook();
    setDisplayTarget(nb.target);
    ensurePlotly();
    let clock = 0;
    const fig = (n: number): PlotlyFigure => trainingLossFigure(Array.from({ length: n }, (_, i) => ({ step: i + 1, loss: 1 })));
    const live = liveFigure(fig(0), { minIntervalMs: 500, now: () => clock });
    const draws = nb.outputs[1];
    expect(draws).toHaveLength(1); // the initial figure
    clock = 100;
    live.update(fig(1)); // 100 ms after the last draw: kept for later
    clock = 200;
    live.update(fig(2));
    expect(draws).toHaveLength(1);
    clock = 600;
    live.update(fig(3)); // 600 ms after the last draw (at 0): drawn
    expect(draws).toHaveLength(2);
    clock = 700;
    live.update(fig(4));
    live.done(); // the final state must be drawn
    expect(draws).toHaveLength(3);
    const lastSpec = JSON.parse(draws[2].match(/var spec = (.*);\n/)![1]);
    expect(lastSpec.data[0].x).toEqual([1, 2, 3, 4]);
    live.done(); // nothing pending: no extra draw
    expect(draws).toHaveLength(3);
  });

  test('progressBar: live HTML bar whose final state says done', () => {
    const nb = fakeNotebook();
    setDisplayTarget(nb.target);
    let clock = 0;
    const bar = progressBar(4, 'epoch 1', { now: () => clock, minIntervalMs: 250 });
    for (let i = 1; i <= 4; i++) {
      clock = i * 100;
      bar.tick(1, `loss ${i}`);
    }
    bar.done();
    const draws = nb.outputs[0];
    expect(draws[draws.length - 1]).toContain('<progress value="4" max="4"');
    expect(draws[draws.length - 1]).toContain('4/4 (100%) · 0:00 total · loss 4');
    expect(draws.length).toBeLessThan(6); // 0, 100 (skipped), 200 (skipped), 300, 400 (skipped), done
  });

  test('liveTraining: loss chart, validation chart and bar end in their final state', () => {
    const nb = fakeNotebook();
    setDisplayTarget(nb.target);
    ensurePlotly();
    let clock = 0;
    const training = liveTraining(3, { now: () => clock, minIntervalMs: 1000 });
    training.onEvaluate({ step: 0, loss: 0.7, accuracy: 0.5, f1: 0.4 });
    for (let step = 1; step <= 3; step++) {
      clock = step * 10; // all within one interval: only onEnd can draw the last state
      training.onStep({ step, loss: 1 / step, lr: 0.1 * step });
    }
    training.onEvaluate({ step: 3, loss: 0.3, accuracy: 0.875, f1: 0.9 });
    training.onEnd();
    const [lossDraws, evalDraws, barDraws] = nb.outputs.slice(1);
    const spec = (html: string) => JSON.parse(html.match(/var spec = (.*);\n/)![1]);
    const loss = spec(lossDraws[lossDraws.length - 1]);
    expect(loss.data.map((t: any) => t.y)).toEqual([[1, 1 / 2, 1 / 3], expect.any(Array), [0.1, 0.2, 0.1 * 3]]);
    const validation = spec(evalDraws[evalDraws.length - 1]);
    expect(validation.data[1].y).toEqual([0.5, 0.875]);
    expect(barDraws[barDraws.length - 1]).toContain('3/3 (100%)');
    expect(barDraws[barDraws.length - 1]).toContain('loss 0.3333 · val accuracy 87.5%');
    expect(training.history).toHaveLength(3);
  });

  test('progressBar outside a notebook prints one line per 10% and a final line', () => {
    const printed: string[] = [];
    setDisplayTarget({ rich: false, show: () => undefined, live: () => ({ show: () => undefined }), print: (t) => void printed.push(t) });
    let clock = 0;
    const bar = progressBar(20, 'eval', { now: () => clock, minIntervalMs: 0 });
    for (let i = 1; i <= 20; i++) {
      clock = i * 1000;
      bar.update(i);
    }
    bar.done();
    expect(printed).toHaveLength(11); // 0%, 10%, …, 90%, then the final line
    expect(printed[10]).toBe(`eval [${'#'.repeat(30)}] 20/20 (100%) · 0:20 total`);
  });
});
