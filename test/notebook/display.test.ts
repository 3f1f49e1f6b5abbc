// The display helpers (lib/notebook/display.ts) with a fake notebook and outside one.
import { PlotlyFigure, exponentialSmoothing, trainingLossFigure, validationFigure } from '../../lib/notebook/charts';
import { memoryFigure } from '../../lib/notebook/memory-chart';
import { formatCell } from '../../lib/util/table';
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
    expect(draws[draws.length - 1]).toContain('4/4 (100%) · 00:00 total · loss 4');
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
    expect(printed[10]).toBe(`eval [${'#'.repeat(30)}] 20/20 (100%) · 00:20 total`);
  });
});
