// The HTML report draws in a real browser: a small notebook using every chart builder, and the
// real DistilBert_QLoRA.ipynb (on a tiny random checkpoint and 200 real IMDB reviews), are run
// through scripts/run-notebook.ts (the same path as the main command), then headless Chromium
// opens each exported HTML from disk and we check that each chart was really drawn by plotly,
// with no console errors and no network requests. Screenshots are kept for people to look at.
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { chromium, Browser, Page } from 'playwright-core';
import { writeFileAtomic } from '../../lib/util/atomic-write';
import { tinyNotebookEnv } from '../helpers/notebook-env';

const REPO_ROOT = path.resolve(__dirname, '..', '..');
const SCREENSHOT = path.join(REPO_ROOT, 'reports', 'report-screenshot.png');
const NOTEBOOK_SCREENSHOT = path.join(REPO_ROOT, 'reports', 'notebook-screenshot.png');
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
import * as charts from './lib/notebook/charts';
import { memoryFigure } from './lib/notebook/memory-chart';
import { ensurePlotly, liveFigure, progressBar, showFigure, showTable } from './lib/notebook/display';
ensurePlotly();
showFigure(charts.tokenLengthHistogramFigure([5, 12, 18, 25, 31, 40, 44], { maxLength: 32, binWidth: 10 }));
showFigure(memoryFigure([
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

// The real notebook's charts, in order: token lengths, NF4 memory, live loss, live validation, confusion matrix.
const NOTEBOOK_TITLES = [
  'Tokens per training review (128 reviews)',
  'Frozen linear weights: fp32 vs NF4',
  'Training loss',
  'Validation',
  'Confusion matrix (test split, 40 reviews)',
];

const EXPECTED_TITLES = [
  'Tokens per text (7 texts)',
  'Frozen weight memory: fp32 vs NF4',
  'Validation',
  'Confusion matrix (100 examples)',
  'Live loss',
];

let htmlPath = '';
let notebookHtmlPath = '';
let browser: Browser;
let page: Page;
let notebookPage: Page;
const problems: string[] = []; // console errors, page errors, failed or external requests
const notebookProblems: string[] = [];

/** Runs scripts/run-notebook.ts on `nbPath`, writing into `outDir`; throws with its output if it fails. */
function runNotebook(nbPath: string, outDir: string, env: NodeJS.ProcessEnv): Promise<void> {
  return new Promise((resolve, reject) => {
    const args = [require.resolve('ts-node/dist/bin.js'), '--transpile-only', 'scripts/run-notebook.ts', '--notebook', nbPath, '--out', outDir, '--timeout', '300'];
    const child = spawn(process.execPath, args, { cwd: REPO_ROOT, env });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    child.on('error', reject);
    child.on('close', (status) => (status === 0 ? resolve() : reject(new Error(`run-notebook ${nbPath} failed (exit ${status}):\n${output}`))));
  });
}

/** Opens a report in a new page, recording every problem, and waits until `count` charts are drawn. */
async function openReport(file: string, count: number, found: string[]): Promise<Page> {
  const p = await browser.newPage({ viewport: { width: 1200, height: 900 } });
  p.on('console', (msg) => {
    if (msg.type() === 'error') found.push(`console: ${msg.text()}`);
  });
  p.on('pageerror', (err) => found.push(`page error: ${err.message}`));
  p.on('requestfailed', (req) => found.push(`request failed: ${req.url()}`));
  p.on('request', (req) => {
    if (!req.url().startsWith('file:') && !req.url().startsWith('data:')) found.push(`network request: ${req.url()}`);
  });
  await p.goto('file://' + file);
  await p.waitForFunction(
    (n) => {
      const divs = Array.from(document.querySelectorAll('.qlora-chart'));
      return divs.length === n && divs.every((d) => d.querySelector('.main-svg'));
    },
    count,
    { timeout: 60000 },
  );
  return p;
}

beforeAll(async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'qlora-report-'));
  const nbPath = path.join(dir, 'report_check.ipynb');
  fs.writeFileSync(nbPath, JSON.stringify(notebook([{ markdown: '# Report check' }, { code: CHART_CELL }])));
  await Promise.all([
    runNotebook(nbPath, dir, { ...process.env, QLORA_BACKEND: 'cpu' }),
    runNotebook(path.join(REPO_ROOT, 'DistilBert_QLoRA.ipynb'), path.join(dir, 'real'), tinyNotebookEnv(path.join(dir, 'real-run'))),
  ]);
  htmlPath = path.join(dir, 'report_check.html');
  notebookHtmlPath = path.join(dir, 'real', 'DistilBert_QLoRA.html');

  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS });
  page = await openReport(htmlPath, EXPECTED_TITLES.length, problems);
  writeFileAtomic(SCREENSHOT, await page.screenshot({ fullPage: true }));
  notebookPage = await openReport(notebookHtmlPath, NOTEBOOK_TITLES.length, notebookProblems);
  writeFileAtomic(NOTEBOOK_SCREENSHOT, await notebookPage.screenshot({ fullPage: true }));
}, 400000);

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

async function drawnCharts(p: Page = page): Promise<DrawnChart[]> {
  return p.evaluate(() =>
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

describe('the real notebook’s report', () => {
  test('every chart was drawn, with its data', async () => {
    const charts = await drawnCharts(notebookPage);
    expect(charts.map((c) => c.title)).toEqual(NOTEBOOK_TITLES);
    for (const chart of charts) {
      expect(chart.traces.length).toBeGreaterThan(0);
      for (const trace of chart.traces) expect(trace.points).toBeGreaterThan(0);
    }
    const [histogram, memory, loss, validation, confusion] = charts;
    expect(histogram.barPoints).toBeGreaterThan(5);
    expect(memory.barPoints).toBe(8); // 4 rows (attention, feed-forward, head, all) × (fp32, NF4)
    expect(loss.traces.map((t) => [t.name, t.points])).toEqual([
      ['loss', 16],
      ['loss (smoothed)', 16],
      ['learning rate', 16],
    ]);
    expect(validation.scatterTraces).toBe(3);
    expect(confusion.heatmapImages).toBe(1);
  });

  test('no console errors, page errors or network requests', () => {
    expect(notebookProblems).toEqual([]);
  });

  test('the tables and the final progress bar are there', async () => {
    const captions = await notebookPage.$$eval('caption', (els) => els.map((e) => e.textContent));
    for (const caption of ['Environment', 'Splits and label counts', 'LoRA configuration', 'Final metrics', 'Adapter files written', 'Predictions on the first 5 test reviews']) {
      expect(captions).toContain(caption);
    }
    expect(await notebookPage.textContent('.qlora-progress')).toContain('16/16 (100%)');
    expect(fs.statSync(NOTEBOOK_SCREENSHOT).size).toBeGreaterThan(50000);
  });
});

describe('the real notebook report reads well', () => {
  test('long code lines wrap at the page edge instead of scrolling off it', async () => {
    const code = await notebookPage.evaluate(() =>
      Array.from(document.querySelectorAll('.jp-InputArea-editor pre')).map((pre) => ({
        whiteSpace: getComputedStyle(pre).whiteSpace,
        overflows: pre.scrollWidth > pre.clientWidth + 1,
        longest: Math.max(...(pre.textContent ?? '').split('\n').map((l) => l.length)),
      })),
    );
    expect(code.length).toBeGreaterThan(10);
    expect(code.some((c) => c.longest > 150)).toBe(true); // there are long lines to wrap
    for (const c of code) expect(c).toMatchObject({ whiteSpace: 'pre-wrap', overflows: false });
  });

  test("the NF4 memory bars' labels are horizontal, full size, inside the chart and apart", async () => {
    const labels = await notebookPage.evaluate(() => {
      const div = Array.from(document.querySelectorAll('.qlora-chart')).find((d) => (d as any)._fullLayout?.title?.text?.startsWith('Frozen linear weights'))!;
      const svg = div.querySelector('.main-svg')!.getBoundingClientRect();
      return Array.from(div.querySelectorAll('.barlayer text.bartext')).map((t) => {
        const r = t.getBoundingClientRect();
        return { text: t.textContent, transform: t.getAttribute('transform') ?? '', size: parseFloat(getComputedStyle(t).fontSize), box: [r.left, r.top, r.right, r.bottom], svg: [svg.left, svg.top, svg.right, svg.bottom] };
      });
    });
    expect(labels).toHaveLength(8); // 4 rows × (fp32, NF4)
    for (const l of labels) {
      expect(l.transform).not.toMatch(/rotate\((?!0)/);
      expect(l.size).toBeGreaterThanOrEqual(11);
      expect(l.box[0]).toBeGreaterThanOrEqual(l.svg[0]);
      expect(l.box[1]).toBeGreaterThanOrEqual(l.svg[1]);
      expect(l.box[2]).toBeLessThanOrEqual(l.svg[2]);
    }
    const overlap = (a: number[], b: number[]) => a[0] < b[2] && b[0] < a[2] && a[1] < b[3] && b[1] < a[3];
    for (let i = 0; i < labels.length; i++) for (let j = i + 1; j < labels.length; j++) expect(overlap(labels[i].box, labels[j].box)).toBe(false);
  });
});
