// The HTML report draws in a real browser: a small notebook using every chart builder is run
// through scripts/run-notebook.ts (the same path as the main command), then headless Chromium
// opens the exported HTML from disk and we check that each chart was really drawn by plotly,
// with no console errors and no network requests. A screenshot is kept for people to look at.
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { chromium, Browser, Page } from 'playwright-core';
import { writeFileAtomic } from '../scripts/run-notebook';

const REPO_ROOT = path.resolve(__dirname, '..');
const SCREENSHOT = path.join(REPO_ROOT, 'reports', 'report-screenshot.png');
const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** A notebook (nbformat 4.5) with the tslab kernel spec. */
function notebook(cells: Array<{ markdown?: string; code?: string }>): object {
  return {
    cells: cells.map((c, i) =>
      c.code !== undefined
        ? { cell_type: 'code', id: `cell-${i}`, metadata: {}, execution_count: null, outputs: [], source: c.code }
        : { cell_type: 'markdown', id: `cell-${i}`, metadata: {}, source: c.markdown },
    ),
    metadata: { kernelspec: { name: 'tslab', display_name: 'TypeScript (tslab)', language: 'typescript' } },
    nbformat: 4,
    nbformat_minor: 5,
  };
}

// One chart of each kind with small known data, one live chart updated 5 times, a progress
// bar and a table holding markup that must come out as text.
const CHART_CELL = `
import * as charts from './lib/charts';
import { ensurePlotly, liveFigure, progressBar, showFigure, showTable } from './lib/display';
ensurePlotly();
showFigure(charts.tokenLengthHistogramFigure([5, 12, 18, 25, 31, 40, 44], { maxLength: 32, binWidth: 10 }));
showFigure(charts.memoryFigure([
  { label: 'attention', fp32Bytes: 56623104, nf4Bytes: 7299072 },
  { label: 'feed-forward', fp32Bytes: 113246208, nf4Bytes: 14598144 },
]));
showFigure(charts.validationFigure([{ step: 0, loss: 0.7, accuracy: 0.5, f1: 0.45 }, { step: 10, loss: 0.4, accuracy: 0.8, f1: 0.79 }]));
showFigure(charts.confusionMatrixFigure([[40, 10], [6, 44]], ['negative', 'positive']));
const points: charts.TrainingPoint[] = [];
const live = liveFigure(charts.trainingLossFigure(points, { title: 'Live loss' }), { minIntervalMs: 200 });
const bar = progressBar(5, 'steps');
for (let step = 1; step <= 5; step++) {
  points.push({ step, loss: 1 / step, lr: 1e-4 * step });
  live.update(charts.trainingLossFigure(points, { title: 'Live loss' }));
  bar.update(step);
  await new Promise((resolve) => setTimeout(resolve, 60));
}
live.done();
bar.done();
showTable([{ name: '<b>not bold</b>', value: 0.5 }], { caption: 'Escaped table' });
`;

const EXPECTED_TITLES = [
  'Tokens per text (7 texts)',
  'Frozen weight memory: fp32 vs NF4',
  'Validation',
  'Confusion matrix (100 examples)',
  'Live loss',
];

let htmlPath = '';
let browser: Browser;
let page: Page;
const problems: string[] = []; // console errors, page errors, failed or external requests

beforeAll(async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'qlora-report-'));
  const nbPath = path.join(dir, 'report_check.ipynb');
  fs.writeFileSync(nbPath, JSON.stringify(notebook([{ markdown: '# Report check' }, { code: CHART_CELL }])));
  const run = spawnSync(
    process.execPath,
    [require.resolve('ts-node/dist/bin.js'), '--transpile-only', 'scripts/run-notebook.ts', '--notebook', nbPath, '--out', dir, '--timeout', '180'],
    { cwd: REPO_ROOT, encoding: 'utf8', env: { ...process.env, QLORA_BACKEND: 'cpu' }, maxBuffer: 64 * 1024 * 1024 },
  );
  if (run.status !== 0) throw new Error(`run-notebook failed (exit ${run.status}):\n${run.stdout}\n${run.stderr}`);
  htmlPath = path.join(dir, 'report_check.html');

  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS });
  page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
  page.on('console', (msg) => {
    if (msg.type() === 'error') problems.push(`console: ${msg.text()}`);
  });
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
  page.on('requestfailed', (req) => problems.push(`request failed: ${req.url()}`));
  page.on('request', (req) => {
    if (!req.url().startsWith('file:') && !req.url().startsWith('data:')) problems.push(`network request: ${req.url()}`);
  });
  await page.goto('file://' + htmlPath);
  await page.waitForFunction(
    (n) => {
      const divs = Array.from(document.querySelectorAll('.qlora-chart'));
      return divs.length === n && divs.every((d) => d.querySelector('.main-svg'));
    },
    EXPECTED_TITLES.length,
    { timeout: 60000 },
  );
  writeFileAtomic(SCREENSHOT, await page.screenshot({ fullPage: true }));
}, 300000);

afterAll(async () => {
  await browser?.close();
});

interface DrawnChart {
  title: string;
  traces: Array<{ type: string; name: string; points: number }>;
  barPoints: number;
  scatterTraces: number;
  heatmapImages: number;
}

async function drawnCharts(): Promise<DrawnChart[]> {
  return page.evaluate(() =>
    Array.from(document.querySelectorAll('.qlora-chart')).map((div) => {
      const gd = div as any; // plotly keeps its state on the div
      return {
        title: gd._fullLayout?.title?.text ?? '',
        traces: (gd._fullData ?? []).map((t: any) => ({ type: t.type, name: t.name, points: (t.z ?? t.x ?? []).length })),
        barPoints: div.querySelectorAll('.barlayer .point').length,
        scatterTraces: div.querySelectorAll('.scatterlayer .trace').length,
        heatmapImages: div.querySelectorAll('.hm image').length,
      };
    }),
  );
}

test('every chart div was drawn by plotly, with its data', async () => {
  const charts = await drawnCharts();
  expect(charts.map((c) => c.title)).toEqual(EXPECTED_TITLES);
  for (const chart of charts) {
    expect(chart.traces.length).toBeGreaterThan(0);
    for (const trace of chart.traces) expect(trace.points).toBeGreaterThan(0);
  }
  const [histogram, memory, validation, confusion, live] = charts;
  // 7 lengths in bins of 10 up to 44: [0,10) [10,20) [20,30) [30,40) [40,50) → 5 bars.
  expect(histogram.barPoints).toBe(5);
  expect(memory.barPoints).toBe(4); // 2 rows × (fp32, NF4)
  expect(validation.scatterTraces).toBe(3); // loss, accuracy, F1
  expect(confusion.heatmapImages).toBe(1);
  expect(confusion.traces[0].points).toBe(2); // 2 rows of z
  // The live chart shows its final state: all 5 steps, raw, smoothed and learning rate.
  expect(live.traces.map((t) => [t.name, t.points])).toEqual([
    ['loss', 5],
    ['loss (smoothed)', 5],
    ['learning rate', 5],
  ]);
});

test('no console errors, page errors or network requests', () => {
  expect(problems).toEqual([]);
});

test('the report is self-contained: plotly inlined, nothing loaded from elsewhere', () => {
  const html = fs.readFileSync(htmlPath, 'utf8');
  expect(html).toContain('plotly.js v');
  expect(html).not.toMatch(/<script[^>]+src=/i);
  expect(html).not.toMatch(/<link[^>]+href="?https?:/i);
});

test('progress bar and table: final state, markup escaped', async () => {
  const progress = await page.textContent('.qlora-progress');
  expect(progress).toContain('5/5 (100%)');
  const cell = await page.evaluate(() => {
    const td = document.querySelector('.qlora-table td');
    return { text: td?.textContent, bold: td?.querySelector('b') !== null };
  });
  expect(cell).toEqual({ text: '<b>not bold</b>', bold: false });
});

test('the screenshot was saved', () => {
  expect(fs.statSync(SCREENSHOT).size).toBeGreaterThan(10000);
});
