// DistilBert_QLoRA.ipynb as people use it: in a browser, step by step. Debian's classic Jupyter
// Notebook (6.4, same kernel protocol as JupyterLab) serves the repo with the project's tslab
// kernel on a free loopback port; headless Chromium opens the notebook, runs all cells (Cell →
// Run All) on a tiny random checkpoint and 200 real IMDB reviews, and we check what a person
// sees: tables, charts drawn by plotly with their data, the progress bar at 100%. Then, as the
// notebook's parameters section suggests, we type `params.r = 16; params.alpha = 64;` into the
// parameters cell, run it, run the LoRA cell and all below it (Cell → Run All Below) in the same
// kernel, and check PEFT's trainable-parameter line has r = 16's count (derived by hand) and the
// charts were drawn again. Screenshots go to reports/ for people to look at.
//
// Where JupyterLab is installed (`jupyter lab --version` runs) the same steps are driven in it too;
// elsewhere that part is skipped, and jest reports it as skipped.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { chromium, Browser, Page } from 'playwright-core';
import { installKernelSpec } from '../../scripts/run-notebook';
import { writeFileAtomic } from '../../lib/util/atomic-write';
import { TINY_MODEL, tinyNotebookEnv } from '../helpers/notebook-env';
import { JupyterFrontend, JupyterServer, jupyterHas, startJupyter } from '../helpers/jupyter-server';

const REPO_ROOT = path.resolve(__dirname, '..', '..');
const NOTEBOOK = 'DistilBert_QLoRA.ipynb';
const REPORTS = path.join(REPO_ROOT, 'reports');
const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
/** The longest a run of cells may take on the tiny setup (the whole notebook takes about a minute). */
const RUN_TIMEOUT_MS = 300000;
/** No single cell of the tiny run takes this long: a run that stalls this long has stopped. */
const STALL_MS = 150000;

// The real notebook's charts, in order: token lengths, NF4 memory, live loss, live validation, confusion matrix.
const CHART_TITLES = [
  'Tokens per training review (128 reviews)',
  'Frozen linear weights: fp32 vs NF4',
  'Training loss',
  'Validation',
  'Confusion matrix (test split, 40 reviews)',
];
// Tables every run shows, in this order (the data section may show more, e.g. previews).
const TABLE_CAPTIONS = [
  'Environment',
  'Parameters (cpu preset)',
  'Splits and label counts',
  'Token lengths (training split)',
  '999,074 parameters, 2 layers, dim 32',
  'LoRA configuration',
  'Final metrics',
  'Adapter files written',
  'Predictions on the first 5 test reviews',
  'Your review',
];
// 128 training reviews, batch 4 × 2 accumulation → 16 optimizer steps, evaluations every 4.
const TOTAL_STEPS = 16;

/**
 * PEFT's counts for the tiny model, derived by hand (as in notebook.test.ts): LoRA adds
 * r·(in + out) per adapted layer; the head (pre_classifier, classifier) is trained in full, and
 * PEFT's print_trainable_parameters also counts its frozen original copy.
 */
function expectedParameterLine(r: number): string {
  const { vocabSize, dim, nLayers, hiddenDim, maxPositions } = TINY_MODEL;
  const layerNorm = 2 * dim;
  const base =
    vocabSize * dim + maxPositions * dim + layerNorm +
    nLayers * (4 * (dim * dim + dim) + (hiddenDim * dim + hiddenDim) + (dim * hiddenDim + dim) + 2 * layerNorm);
  const head = dim * dim + dim + (2 * dim + 2);
  const lora = nLayers * (4 * r * (dim + dim) + r * (dim + hiddenDim) + r * (hiddenDim + dim));
  const trainable = lora + head;
  const all = base + head + lora + head;
  const n = (v: number) => v.toLocaleString('en-US');
  return `trainable params: ${n(trainable)} || all params: ${n(all)} || trainable%: ${((100 * trainable) / all).toFixed(4)}`;
}

/** What the page shows for one code cell. */
interface CellView {
  /** Index among all cells (markdown included), as the frontend numbers them. */
  index: number;
  source: string;
  /** The execution count in the prompt, null if never run (or '*' while queued, read as null). */
  count: number | null;
  text: string;
  errors: string[];
  /** Each table's caption and its body rows, as cell texts. */
  tables: Array<{ caption: string; rows: string[][] }>;
  charts: Array<{ id: string; title: string; drawn: boolean; traces: Array<{ name: string; points: number }> }>;
  progress: Array<{ value: number; max: number; text: string }>;
}

/** How each frontend is driven; what is read from the page is the same DOM (our outputs). */
interface Driver {
  /** Marks every cell's element with data-qlora-index = its index, so the DOM is read cell by cell. */
  markCells(page: Page): Promise<void>;
  open(page: Page, server: JupyterServer): Promise<void>;
  /** The code cells' prompts and sources, read from the page. */
  prompts(page: Page): Promise<Array<{ index: number; count: number | null; source: string }>>;
  kernelIdle(page: Page): Promise<boolean>;
  /**
   * Where a failed cell's error shows, by CSS selector: tslab sends no "error" output, only the
   * message and stack on stderr (and status "error" in its reply), so stderr texts naming an
   * Error are read as failures.
   */
  errorSelector: string;
  runAll(page: Page): Promise<void>;
  /** Types `text` at the end of a cell, as a person would. */
  typeAtEnd(page: Page, index: number, text: string): Promise<void>;
  /** Runs this one cell (Shift+Enter). */
  runCell(page: Page, index: number): Promise<void>;
  /** Runs this cell and all below it. */
  runFrom(page: Page, index: number): Promise<void>;
}

const classic: Driver = {
  markCells: (page) =>
    page.evaluate(() =>
      ((window as any).Jupyter.notebook.get_cells() as any[]).forEach((c, i) => c.element[0].setAttribute('data-qlora-index', String(i))),
    ),
  async open(page, server) {
    await page.goto(`${server.baseUrl}/notebooks/${NOTEBOOK}?token=${server.token}`);
    await page.waitForFunction(() => {
      const nb = (window as any).Jupyter?.notebook;
      return nb?._fully_loaded && nb.kernel?.is_connected() && nb.kernel.info_reply?.protocol_version;
    }, undefined, { timeout: 60000 });
    // The server refuses saves anyway; this keeps the frontend from trying every 2 minutes.
    await page.evaluate(() => (window as any).Jupyter.notebook.set_autosave_interval(0));
  },
  prompts: (page) =>
    page.evaluate(() =>
      ((window as any).Jupyter.notebook.get_cells() as any[])
        .map((c, index) => ({ c, index }))
        .filter(({ c }) => c.cell_type === 'code')
        .map(({ c, index }) => ({ index, count: typeof c.input_prompt_number === 'number' ? c.input_prompt_number : null, source: c.get_text() as string })),
    ),
  kernelIdle: (page) => page.evaluate(() => !!document.querySelector('#kernel_indicator_icon.kernel_idle_icon')),
  errorSelector: '.output_error, .output_stderr',
  async runAll(page) {
    await page.click('#celllink');
    await page.click('#run_all_cells > a');
  },
  async typeAtEnd(page, index, text) {
    await cellAt(page, index).locator('.CodeMirror-code').click();
    await page.keyboard.press('Control+End');
    await page.keyboard.type(text);
  },
  async runCell(page, index) {
    await cellAt(page, index).locator('.CodeMirror-code').click();
    await page.keyboard.press('Shift+Enter');
  },
  async runFrom(page, index) {
    await cellAt(page, index).locator('.input_prompt').click(); // selects it (command mode)
    await page.click('#celllink');
    await page.click('#run_all_cells_below > a');
  },
};

// JupyterLab 4. Not available on the machines this was written on: see the README.
const lab: Driver = {
  markCells: (page) =>
    page.evaluate(() =>
      ((window as any).jupyterapp.shell.currentWidget.content.widgets as any[]).forEach((w, i) => w.node.setAttribute('data-qlora-index', String(i))),
    ),
  async open(page, server) {
    await page.goto(`${server.baseUrl}/lab/tree/${NOTEBOOK}?token=${server.token}`);
    await page.waitForSelector('.jp-Notebook .jp-CodeCell', { timeout: 60000 });
    await page.waitForFunction(() => {
      const kernel = (window as any).jupyterapp?.shell?.currentWidget?.sessionContext?.session?.kernel;
      return kernel?.connectionStatus === 'connected' && kernel.status === 'idle';
    }, undefined, { timeout: 60000 });
  },
  // From the notebook's model: Lab renders a cell's editor only once it has been scrolled into view.
  prompts: (page) =>
    page.evaluate(() =>
      ((window as any).jupyterapp.shell.currentWidget.content.widgets as any[])
        .map((w, index) => ({ model: w.model, index }))
        .filter(({ model }) => model.type === 'code')
        .map(({ model, index }) => ({ index, count: typeof model.executionCount === 'number' ? model.executionCount : null, source: model.sharedModel.getSource() as string })),
    ),
  kernelIdle: (page) => page.evaluate(() => (window as any).jupyterapp.shell.currentWidget.sessionContext.session.kernel.status === 'idle'),
  errorSelector: '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]',
  async runAll(page) {
    await page.click('.lm-MenuBar-itemLabel:text-is("Run")');
    await page.click('.lm-Menu-itemLabel:text-is("Run All Cells")');
  },
  async typeAtEnd(page, index, text) {
    await cellAt(page, index).locator('.cm-content').click();
    await page.keyboard.press('Control+End');
    await page.keyboard.type(text);
  },
  async runCell(page, index) {
    await cellAt(page, index).locator('.cm-content').click();
    await page.keyboard.press('Shift+Enter');
  },
  async runFrom(page, index) {
    await cellAt(page, index).locator('.jp-InputPrompt').click();
    await page.click('.lm-MenuBar-itemLabel:text-is("Run")');
    await page.click('.lm-Menu-itemLabel:text-is("Run Selected Cell and All Below")');
  },
};

const cellAt = (page: Page, index: number) => page.locator(`[data-qlora-index="${index}"]`);

/** Everything the code cells show, read from the page's DOM (plotly keeps its state on the chart div). */
async function readCells(page: Page, driver: Driver): Promise<CellView[]> {
  const prompts = await driver.prompts(page);
  await driver.markCells(page);
  const dom = await page.evaluate((errorSelector) => {
    return Array.from(document.querySelectorAll('[data-qlora-index]')).map((cell) => {
      const outputs = Array.from(cell.querySelectorAll('.output_area, .jp-OutputArea-child'));
      return {
        at: Number(cell.getAttribute('data-qlora-index')),
        // textContent, not innerText: JupyterLab skips rendering cells out of view, and innerText of those is empty.
        text: outputs.map((o) => o.textContent ?? '').join('\n'),
        errors: Array.from(cell.querySelectorAll(errorSelector))
          .map((e) => e.textContent ?? '')
          .filter((t) => /\w*Error\b|^\d+:\d+ - /m.test(t)), // a stack trace, or a TypeScript diagnostic
        tables: Array.from(cell.querySelectorAll('table')).map((t) => ({
          caption: t.querySelector('caption')?.textContent ?? '',
          rows: Array.from(t.querySelectorAll('tbody tr')).map((tr) => Array.from(tr.querySelectorAll('td, th')).map((td) => (td.textContent ?? '').trim())),
        })),
        charts: Array.from(cell.querySelectorAll('.qlora-chart')).map((div) => {
          const gd = div as any;
          return {
            id: div.id,
            title: gd._fullLayout?.title?.text ?? '',
            drawn: !!div.querySelector('.main-svg'),
            traces: ((gd._fullData ?? []) as any[]).map((t) => ({ name: t.name, points: (t.z ?? t.x ?? []).length })),
          };
        }),
        progress: Array.from(cell.querySelectorAll('.qlora-progress')).map((p) => {
          const bar = p.querySelector('progress') as HTMLProgressElement;
          return { value: bar.value, max: bar.max, text: p.textContent ?? '' };
        }),
      };
    });
  }, driver.errorSelector);
  const byIndex = new Map(dom.map(({ at, ...view }) => [at, view]));
  return prompts.map((p) => ({ ...p, ...byIndex.get(p.index)! }));
}

/**
 * Waits until every cell in `indices` shows an execution count above `after` and the kernel is
 * idle; fails at once, with the cell's error, if one of them shows an error.
 */
async function waitForRun(page: Page, driver: Driver, indices: number[], after: number, what: string): Promise<CellView[]> {
  const deadline = Date.now() + RUN_TIMEOUT_MS;
  let lastProgress = Date.now();
  let done = -1;
  for (;;) {
    const cells = await readCells(page, driver);
    const doneNow = cells.filter((c) => indices.includes(c.index) && c.count !== null && c.count > after).length;
    if (doneNow !== done) [done, lastProgress] = [doneNow, Date.now()];
    const failed = cells.find((c) => indices.includes(c.index) && c.errors.length > 0);
    if (failed) throw new Error(`${what}: cell ${failed.index} failed:\n${failed.source}\n---\n${failed.errors.join('\n')}`);
    const pending = cells.filter((c) => indices.includes(c.index) && !(c.count !== null && c.count > after));
    if (pending.length === 0 && (await driver.kernelIdle(page))) return cells;
    if (Date.now() > deadline || Date.now() - lastProgress > STALL_MS) {
      const first = pending[0];
      throw new Error(
        `${what}: cells ${pending.map((c) => c.index).join(', ')} had not run after ${Math.round((Date.now() - deadline + RUN_TIMEOUT_MS) / 1000)} s ` +
          `(${Math.round((Date.now() - lastProgress) / 1000)} s without a cell finishing); ` +
          `cell ${first.index} shows:\n${first.text.slice(-3000)}`,
      );
    }
    await page.waitForTimeout(500);
  }
}

/** A screenshot of the whole notebook: the page scrolls inside one element, so let it grow first. */
async function screenshot(page: Page, name: string): Promise<void> {
  await page.addStyleTag({ content: '#site { height: auto !important; overflow: visible !important; }' });
  writeFileAtomic(path.join(REPORTS, name), await page.screenshot({ fullPage: true }));
}

/** The cell whose source includes `marker`; throws naming the marker if the notebook has none. */
function cellWith(cells: CellView[], marker: string): CellView {
  const cell = cells.find((c) => c.source.includes(marker));
  if (!cell) throw new Error(`${NOTEBOOK}: no code cell containing '${marker}'`);
  return cell;
}

/**
 * The statement that sets r = 16 and alpha = 64, as the parameters cell's own hint comment
 * spells it (so a renamed field is followed); the issue's wording when the hint is gone.
 */
function r16Statement(paramsSource: string): string {
  const hint = /\/\/\s*(params\.\w+\s*=\s*16;\s*params\.\w+\s*=\s*64;)/.exec(paramsSource);
  return hint ? hint[1] : 'params.r = 16; params.alpha = 64;';
}

/** The ids of the server's running kernels (one: the notebook's). */
async function kernelIds(server: JupyterServer): Promise<string> {
  const response = await fetch(`${server.baseUrl}/api/kernels`, { headers: { Authorization: `token ${server.token}` } });
  return ((await response.json()) as Array<{ id: string }>).map((k) => k.id).join(',');
}

interface Run {
  first: CellView[];
  second: CellView[];
  kernelBefore: string;
  kernelAfter: string;
  statement: string;
  adapterConfig: Record<string, unknown>;
  pageErrors: string[];
  seconds: { start: number; runAll: number; rerun: number };
}

/** The whole session in one frontend: start, Run All, edit r and alpha, run from the LoRA cell on. */
async function session(frontend: JupyterFrontend, driver: Driver, browser: Browser): Promise<Run> {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), `qlora-browser-${frontend}-`));
  const env = tinyNotebookEnv(path.join(tmp, 'run'));
  const notebookBytes = fs.readFileSync(path.join(REPO_ROOT, NOTEBOOK));
  fs.rmSync(path.join(REPORTS, `browser-${frontend}-failure.png`), { force: true }); // a previous run's
  const t0 = Date.now();
  if (frontend === 'notebook' && !jupyterHas('notebook')) {
    throw new Error("Debian's classic Jupyter Notebook is needed: `bash scripts/setup-system.sh` (or `apt-get install jupyter-notebook`).");
  }
  const server = await startJupyter({ frontend, root: REPO_ROOT, jupyterPath: installKernelSpec(), env, tmpDir: tmp, timeoutMs: 60000 });
  running.add(server);
  const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
  const pageErrors: string[] = [];
  page.on('pageerror', (err) => {
    // JupyterLab's debugger panel asks every kernel for a debug session; tslab has none.
    if (!(frontend === 'lab' && err.message === 'No active debugger session')) pageErrors.push(err.message);
  });
  try {
    await driver.open(page, server);
    const kernelBefore = await kernelIds(server);
    const tOpen = Date.now();

    const codeIndices = (await driver.prompts(page)).map((c) => c.index);
    await driver.runAll(page);
    const first = await waitForRun(page, driver, codeIndices, 0, 'Run All');
    const tRunAll = Date.now();
    await screenshot(page, `browser-${frontend}-run-all.png`);

    const params = cellWith(first, 'notebookParameters(');
    const lora = cellWith(first, 'getPeftModel(');
    const statement = r16Statement(params.source);
    await driver.typeAtEnd(page, params.index, '\n' + statement);
    const lastCount = Math.max(...first.map((c) => c.count ?? 0));
    await driver.runCell(page, params.index);
    await waitForRun(page, driver, [params.index], lastCount, 'the parameters cell');
    const below = first.filter((c) => c.index >= lora.index).map((c) => c.index);
    await driver.runFrom(page, lora.index);
    const second = await waitForRun(page, driver, below, lastCount + 1, 'Run All Below from the LoRA cell');
    const tRerun = Date.now();
    await screenshot(page, `browser-${frontend}-r16.png`);
    for (const [cell, name] of [[lora, 'lora'], [cellWith(second, 'new Trainer('), 'training']] as const) {
      writeFileAtomic(path.join(REPORTS, `browser-${frontend}-r16-${name}-cell.png`), await cellAt(page, cell.index).screenshot());
    }

    const adapterConfig = JSON.parse(fs.readFileSync(path.join(env.QLORA_ADAPTER_DIR!, 'adapter_config.json'), 'utf8'));
    const kernelAfter = await kernelIds(server);
    if (!fs.readFileSync(path.join(REPO_ROOT, NOTEBOOK)).equals(notebookBytes)) throw new Error(`${NOTEBOOK} was written by the test server`);
    return {
      first, second, kernelBefore, kernelAfter, statement, adapterConfig, pageErrors,
      seconds: { start: (tOpen - t0) / 1000, runAll: (tRunAll - tOpen) / 1000, rerun: (tRerun - tRunAll) / 1000 },
    };
  } catch (e) {
    await screenshot(page, `browser-${frontend}-failure.png`).catch(() => undefined);
    throw new Error(`${(e as Error).message}\n--- jupyter ${frontend} log (tail) ---\n${server.log().slice(-6000)}`);
  } finally {
    await page.close().catch(() => undefined);
    await server.stop();
    running.delete(server);
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

let browser: Browser;
/** Servers still up: afterAll stops them if a session was cut short (e.g. jest's hook timeout). */
const running = new Set<JupyterServer>();
beforeAll(async () => {
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS });
}, 60000);
afterAll(async () => {
  await Promise.all([...running].map((server) => server.stop()));
  await browser?.close();
});

function describeFrontend(frontend: JupyterFrontend, driver: Driver, available: boolean, why: string) {
  (available ? describe : describe.skip)(`${NOTEBOOK} in ${frontend === 'lab' ? 'JupyterLab' : 'the classic Jupyter Notebook'}${available ? '' : ` (skipped: ${why})`}`, () => {
    let run: Run;
    beforeAll(async () => {
      run = await session(frontend, driver, browser);
      writeFileAtomic(path.join(REPORTS, `browser-${frontend}-timing.json`), JSON.stringify(run.seconds, null, 2) + '\n');
    }, 3 * RUN_TIMEOUT_MS);

    test('Run All: every code cell ran, in order, and shows its outputs, no error', () => {
      expect(run.first.length).toBeGreaterThanOrEqual(10);
      expect(run.first.map((c) => c.count)).toEqual(run.first.map((_, i) => i + 1));
      for (const cell of run.first) {
        expect(cell.errors).toEqual([]);
        expect(cell.text.length + cell.charts.length + cell.tables.length).toBeGreaterThan(0);
      }
      expect(run.pageErrors).toEqual([]);
    });

    test('the tables are shown, with the split sizes of the stratified sample', () => {
      const tables = run.first.flatMap((c) => c.tables);
      const shown = tables.map((t) => t.caption).filter((c) => TABLE_CAPTIONS.includes(c));
      expect(shown).toEqual(TABLE_CAPTIONS);
      for (const table of tables) expect([table.caption, table.rows.length > 0]).toEqual([table.caption, true]);
      expect(tables.find((t) => t.caption === 'Predictions on the first 5 test reviews')!.rows).toHaveLength(5);
      const splits = tables.find((t) => t.caption === 'Splits and label counts')!;
      // round(0.008 · 25000) = 200; test ceil(0.2 · 200) = 40; validation ceil(0.2 · 160) = 32.
      expect(Object.fromEntries(splits.rows.map((r) => [r[0], Number(r[1])]))).toEqual({ all: 25000, sample: 200, train: 128, validation: 32, test: 40 });
    });

    test('every chart is drawn by plotly with its data; the live ones in their final state', () => {
      const charts = run.first.flatMap((c) => c.charts);
      expect(charts.map((c) => c.title)).toEqual(CHART_TITLES);
      for (const chart of charts) {
        expect(chart.drawn).toBe(true);
        expect(chart.traces.length).toBeGreaterThan(0);
        for (const trace of chart.traces) expect(trace.points).toBeGreaterThan(0);
      }
      const loss = charts.find((c) => c.title === 'Training loss')!;
      expect(loss.traces.map((t) => t.points)).toEqual(loss.traces.map(() => TOTAL_STEPS));
      const validation = charts.find((c) => c.title === 'Validation')!;
      for (const t of validation.traces) expect(t.points).toBe(TOTAL_STEPS / 4);
    });

    test('the progress bar reached 100%', () => {
      const bars = cellWith(run.first, 'new Trainer(').progress;
      expect(bars).toHaveLength(1);
      expect(bars[0]).toMatchObject({ value: TOTAL_STEPS, max: TOTAL_STEPS });
      expect(bars[0].text).toContain(`${TOTAL_STEPS}/${TOTAL_STEPS} (100%)`);
    });

    test("PEFT's trainable-parameter line for r = 8 (the preset)", () => {
      expect(cellWith(run.first, 'getPeftModel(').text).toContain(expectedParameterLine(8));
    });

    test('after typing r = 16, alpha = 64: the same kernel re-ran the parameters cell, the LoRA cell and all below, nothing above', () => {
      expect(run.kernelAfter).toBe(run.kernelBefore);
      const params = cellWith(run.second, 'notebookParameters(');
      expect(params.source.trimEnd().endsWith(run.statement)).toBe(true);
      const last = run.first.length;
      expect(params.count).toBe(last + 1);
      const lora = cellWith(run.second, 'getPeftModel(');
      const firstByIndex = new Map(run.first.map((c) => [c.index, c]));
      for (const cell of run.second) {
        if (cell.index === params.index) continue;
        // Cells above the LoRA cell keep their count; it and the cells below run again, in order.
        const expected = cell.index < lora.index ? firstByIndex.get(cell.index)!.count : last + 2 + run.second.filter((c) => c.index >= lora.index && c.index < cell.index).length;
        expect([cell.index, cell.count]).toEqual([cell.index, expected]);
        expect(cell.errors).toEqual([]);
      }
      expect(run.pageErrors).toEqual([]);
    });

    test("PEFT's trainable-parameter line now has r = 16's count, and the adapter saved says r 16, alpha 64", () => {
      const lora = cellWith(run.second, 'getPeftModel(');
      expect(lora.text).toContain(expectedParameterLine(16));
      expect(lora.text).not.toContain(expectedParameterLine(8));
      expect(run.adapterConfig).toMatchObject({ r: 16, lora_alpha: 64 });
      // The LoRA configuration table: r, alpha, scaling = alpha / r, dropout.
      const config = lora.tables.find((t) => t.caption === 'LoRA configuration')!;
      expect(config.rows[0].slice(0, 4)).toEqual(['16', '64', '4', '0.1']);
    });

    test('the charts below the LoRA cell were drawn again (new plots, final state), those above kept', () => {
      const before = run.first.flatMap((c) => c.charts);
      const after = run.second.flatMap((c) => c.charts);
      expect(after.map((c) => c.title)).toEqual(CHART_TITLES);
      const lora = cellWith(run.second, 'getPeftModel(');
      const redrawn = run.second.filter((c) => c.index > lora.index).flatMap((c) => c.charts);
      expect(redrawn.map((c) => c.title)).toEqual(['Training loss', 'Validation', CHART_TITLES[4]]);
      const oldIds = new Set(before.map((c) => c.id));
      for (const chart of redrawn) {
        expect(oldIds.has(chart.id)).toBe(false);
        expect(chart.drawn).toBe(true);
      }
      const kept = run.second.filter((c) => c.index < lora.index).flatMap((c) => c.charts.map((ch) => ch.id));
      expect(kept).toEqual(before.slice(0, 2).map((c) => c.id));
      const loss = redrawn[0];
      expect(loss.traces.map((t) => t.points)).toEqual(loss.traces.map(() => TOTAL_STEPS));
      const bars = cellWith(run.second, 'new Trainer(').progress;
      expect(bars[0]).toMatchObject({ value: TOTAL_STEPS, max: TOTAL_STEPS });
    });
  });
}

// The classic Notebook always runs (CI installs it with scripts/setup-system.sh); startJupyter
// fails with jupyter's own message if it is missing.
describeFrontend('notebook', classic, true, '');
describeFrontend('lab', lab, jupyterHas('lab'), 'JupyterLab is not installed (`jupyter lab --version` fails)');
