// End to end: scripts/run-notebook.ts executes DistilBert_QLoRA.ipynb in the project's tslab
// kernel and writes the executed notebook and its HTML report; a failing notebook makes it exit
// 1 with the failing cell's real error (which nbconvert alone reports as an empty message).
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { TINY_MODEL, tinyNotebookEnv } from '../helpers/notebook-env';

const REPO_ROOT = path.resolve(__dirname, '..', '..');
const TS_NODE = require.resolve('ts-node/dist/bin.js');

interface CliResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Runs scripts/run-notebook.ts in a child process (several can run at once). */
function runCli(args: string[], env: NodeJS.ProcessEnv = process.env): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [TS_NODE, '--transpile-only', 'scripts/run-notebook.ts', ...args], {
      cwd: REPO_ROOT,
      env,
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

/** A notebook (nbformat 4.5) with the tslab kernel spec, one code cell per string. */
function writeNotebook(file: string, codeCells: string[]): void {
  const nb = {
    cells: codeCells.map((source, i) => ({
      cell_type: 'code',
      id: `cell-${i}`,
      metadata: {},
      execution_count: null,
      outputs: [],
      source,
    })),
    metadata: { kernelspec: { name: 'tslab', display_name: 'TypeScript (tslab)', language: 'typescript' } },
    nbformat: 4,
    nbformat_minor: 5,
  };
  fs.writeFileSync(file, JSON.stringify(nb));
}

interface Output {
  output_type: string;
  name?: string;
  text?: string | string[];
  ename?: string;
  evalue?: string;
  data?: Record<string, string | string[]>;
}
interface Cell {
  id?: string;
  execution_count?: number | null;
  cell_type: string;
  source: string | string[];
  outputs?: Output[];
  metadata: Record<string, unknown>;
}
const text = (t: string | string[] | undefined) => (Array.isArray(t) ? t.join('') : t ?? '');
const readNotebook = (file: string) => JSON.parse(fs.readFileSync(file, 'utf8')) as { cells: Cell[] };
const cellOutputText = (cell: Cell) =>
  (cell.outputs ?? []).map((o) => text(o.text) + text(o.data?.['text/html'])).join('\n');

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'qlora-notebook-'));
const mainOut = path.join(tmp, 'main');
const rerunOut = path.join(tmp, 'rerun');
const rerunNotebook = path.join(tmp, 'rerun.ipynb');
const failingNotebook = path.join(tmp, 'failing.ipynb');
const typeErrorNotebook = path.join(tmp, 'type_error.ipynb');
const slowNotebook = path.join(tmp, 'slow.ipynb');
const offlineNotebook = path.join(tmp, 'offline.ipynb');
let mainEnv: NodeJS.ProcessEnv;
let rerunEnv: NodeJS.ProcessEnv;
let main: CliResult;
let rerun: CliResult;
let failing: CliResult;
let typeError: CliResult;
let slow: CliResult;
let offline: CliResult;

const NOTEBOOK = path.join(REPO_ROOT, 'DistilBert_QLoRA.ipynb');
const TENSOR_PROBE = `console.log('probe: ' + tf.memory().numTensors + ' tensors');`;

/**
 * The real notebook as a person would re-run it: after the last cell, change r and alpha and run
 * the LoRA and training cells again (probing the tensor count after each LoRA cell).
 */
function writeRerunNotebook(file: string): void {
  const nb = JSON.parse(fs.readFileSync(NOTEBOOK, 'utf8')) as { cells: Cell[] };
  const codeCell = (source: string, id: string): Cell => ({ cell_type: 'code', id, metadata: {}, outputs: [], source, execution_count: null });
  const isCode = (c: Cell, marker: string) => c.cell_type === 'code' && text(c.source).includes(marker);
  const loraIndex = nb.cells.findIndex((c) => isCode(c, 'getPeftModel('));
  const trainingCell = nb.cells.find((c) => isCode(c, 'new Trainer('));
  if (loraIndex < 0 || !trainingCell) throw new Error('DistilBert_QLoRA.ipynb: no LoRA cell (getPeftModel) or training cell (new Trainer)');
  const loraCell = nb.cells[loraIndex];
  nb.cells.splice(loraIndex + 1, 0, codeCell(TENSOR_PROBE, 'probe-1'));
  nb.cells.push(
    codeCell('params.r = 4;\nparams.alpha = 8;', 'rerun-params'),
    { ...loraCell, id: 'rerun-lora', outputs: [] },
    codeCell(TENSOR_PROBE, 'probe-2'),
    { ...trainingCell, id: 'rerun-training', outputs: [] },
  );
  fs.writeFileSync(file, JSON.stringify(nb));
}

beforeAll(async () => {
  mainEnv = tinyNotebookEnv(path.join(tmp, 'main-run'));
  rerunEnv = tinyNotebookEnv(path.join(tmp, 'rerun-run'));
  writeRerunNotebook(rerunNotebook);
  writeNotebook(failingNotebook, [
    `console.log('first cell ran');`,
    `function checkValue(v: number): void {\n  if (v > 10) throw new RangeError('bad value ' + v);\n}\ncheckValue(42);`,
    `console.log('third cell');`,
  ]);
  writeNotebook(typeErrorNotebook, [`const n: number = 'not a number';`]);
  writeNotebook(slowNotebook, [`await new Promise((resolve) => setTimeout(resolve, 60000));`]);
  // The notebook's tokenizer step, offline with an empty cache.
  writeNotebook(offlineNotebook, [
    `import { loadTokenizer, withSetupHint } from './lib/index';\n` +
      `await loadTokenizer('distilbert-base-uncased', { cacheDir: ${JSON.stringify(path.join(tmp, 'empty-cache'))} }).catch((e): never => {\n` +
      `  throw withSetupHint(e, 'model');\n});`,
  ]);
  // The runs are independent: run them side by side.
  const env = { ...process.env, QLORA_BACKEND: 'cpu' };
  [main, rerun, failing, typeError, slow, offline] = await Promise.all([
    runCli(['--out', mainOut, '--timeout', '300'], mainEnv),
    runCli(['--notebook', rerunNotebook, '--out', rerunOut, '--timeout', '300'], rerunEnv),
    runCli(['--notebook', failingNotebook, '--out', path.join(tmp, 'failing-out'), '--timeout', '120'], env),
    runCli(['--notebook', typeErrorNotebook, '--out', path.join(tmp, 'type-error-out'), '--timeout', '120'], env),
    runCli(['--notebook', slowNotebook, '--out', path.join(tmp, 'slow-out'), '--timeout', '2'], env),
    runCli(['--notebook', offlineNotebook, '--out', path.join(tmp, 'offline-out'), '--timeout', '120'], {
      ...env,
      HF_HUB_OFFLINE: '1',
      HF_HOME: path.join(tmp, 'empty-hf-home'),
      HF_HUB_CACHE: path.join(tmp, 'empty-cache'),
    }),
  ]);
}, 600000);

/** Every plotly figure spec drawn in the notebook's outputs, in order. */
function chartSpecs(nb: { cells: Cell[] }): Array<{ data: any[]; layout: any }> {
  return nb.cells
    .flatMap((c) => c.outputs ?? [])
    .map((o) => text(o.data?.['text/html']))
    .filter((h) => h.includes('class="qlora-chart"'))
    .map((h) => JSON.parse(h.match(/var spec = (.*);\n/)![1]));
}

/** The rows of the HTML table with this caption, as arrays of cell texts (header row first). */
function tableRows(html: string, caption: string): string[][] {
  const at = html.indexOf(`<caption>${caption}</caption>`);
  if (at < 0) throw new Error(`no table captioned '${caption}'`);
  const table = html.slice(at, html.indexOf('</table>', at));
  return [...table.matchAll(/<tr>(.*?)<\/tr>/gs)].map((row) => [...row[1].matchAll(/<t[hd][^>]*>(.*?)<\/t[hd]>/gs)].map((c) => c[1]));
}

/**
 * PEFT's counts for the tiny model, derived by hand: LoRA adds r·(in + out) per adapted layer; the
 * head (pre_classifier, classifier) is trained in full, and PEFT also counts its frozen original.
 */
function expectedParameterCounts(r: number): { trainable: number; all: number } {
  const { vocabSize, dim, nLayers, hiddenDim, maxPositions } = TINY_MODEL;
  const layerNorm = 2 * dim;
  const base =
    vocabSize * dim + maxPositions * dim + layerNorm + // embeddings + their LayerNorm
    nLayers * (4 * (dim * dim + dim) + (hiddenDim * dim + hiddenDim) + (dim * hiddenDim + dim) + 2 * layerNorm);
  const head = dim * dim + dim + (2 * dim + 2);
  const lora = nLayers * (4 * r * (dim + dim) + r * (dim + hiddenDim) + r * (hiddenDim + dim));
  return { trainable: lora + head, all: base + head + lora + head };
}
const thousands = (n: number) => n.toLocaleString('en-US');

describe('DistilBert_QLoRA.ipynb on a tiny random checkpoint and 200 real IMDB reviews', () => {
  let nb: { cells: Cell[] };
  let all: string;
  beforeAll(() => {
    if (main.status !== 0) throw new Error(`exit ${main.status}\n${main.stdout}\n${main.stderr}`);
    nb = readNotebook(path.join(mainOut, 'DistilBert_QLoRA.ipynb'));
    all = nb.cells.filter((c) => c.cell_type === 'code').map(cellOutputText).join('\n');
  });

  test('runs to the end and writes the executed notebook and the HTML report', () => {
    const ipynb = path.join(mainOut, 'DistilBert_QLoRA.ipynb');
    const html = path.join(mainOut, 'DistilBert_QLoRA.html');
    expect(main.stdout).toContain(`HTML report:       ${html}`);
    expect(fs.statSync(ipynb).size).toBeGreaterThan(1_000_000); // holds the plotly bundle
    expect(fs.statSync(html).size).toBeGreaterThan(1_000_000);
    // No temp files left behind by the atomic writes; checkpoints and adapter went to their own folders.
    expect(fs.readdirSync(mainOut).sort()).toEqual(['DistilBert_QLoRA.html', 'DistilBert_QLoRA.ipynb']);
  });

  test('every code cell ran without error and has its outputs', () => {
    const code = nb.cells.filter((c) => c.cell_type === 'code');
    expect(code.length).toBeGreaterThanOrEqual(10);
    for (const cell of code) {
      expect(cell.metadata.execution_status).toBeUndefined();
      expect((cell.outputs ?? []).filter((o) => o.output_type === 'error')).toEqual([]);
      expect((cell.outputs ?? []).length).toBeGreaterThan(0);
    }
    expect(all).toContain('tfjs backend: cpu');
    expect(all).not.toContain('(coming)');
  });

  test('data: 25,000 reviews, a 0.8% sample of 200, stratified 20% splits (sklearn sizes: ceil)', () => {
    expect(all).toContain('df.head(): 25000 reviews from');
    expect(all).toContain('value_counts() after dropna(): 25000 of 25000 reviews kept, 0 dropped');
    // The danfo DataFrame steps, shown as tables: the head, the label mapping, the value counts.
    expect(tableRows(all, 'Label mapping').slice(1)).toEqual([['negative', '0'], ['positive', '1']]);
    expect(tableRows(all, 'value_counts() after dropna(): 25000 of 25000 reviews kept, 0 dropped').slice(1)).toEqual([
      ['negative', '12500'],
      ['positive', '12500'],
    ]);
    expect(tableRows(all, 'df.sample(frac=0.008, random_state=42): 200 reviews')).toHaveLength(6);
    const rows = tableRows(all, 'Splits and label counts');
    const sizes = Object.fromEntries(rows.slice(1).map((r) => [r[0], Number(r[1])]));
    // round(0.008 · 25000) = 200; test ceil(0.2 · 200) = 40; validation ceil(0.2 · 160) = 32.
    expect(sizes).toEqual({ all: 25000, sample: 200, train: 128, validation: 32, test: 40 });
    for (const r of rows.slice(1)) expect(Number(r[2]) + Number(r[3])).toBe(Number(r[1])); // negative + positive
    expect(rows[1].slice(2)).toEqual(['12500', '12500']);
  });

  test("PEFT's trainable-parameter line, with the counts derived by hand for r = 8", () => {
    const { trainable, all: total } = expectedParameterCounts(8);
    expect(all).toContain(
      `trainable params: ${thousands(trainable)} || all params: ${thousands(total)} || trainable%: ${((100 * trainable) / total).toFixed(4)}`,
    );
  });

  test('the token-length histogram counts every training review, with max_length marked', () => {
    const histogram = chartSpecs(nb).find((s) => s.layout.title.text.startsWith('Tokens per training review'))!;
    expect(histogram.data[0].y.reduce((a: number, b: number) => a + b, 0)).toBe(128);
    expect(histogram.layout.shapes[0].x0).toBe(64);
  });

  test('the NF4 memory rows: 4-bit codes + block scales, ~4.1 bits per quantized weight', () => {
    const rows = tableRows(all, '999,074 parameters, 2 layers, dim 32');
    const bits = Object.fromEntries(rows.slice(1).map((r) => [r[0], Number(r[3])]));
    // 4 bits + an 8-bit absmax per 64 values + fp32 scales per 256 blocks (plus their offset) ≈ 4.13.
    expect(bits['attention (q, k, v, out)']).toBeGreaterThan(4.12);
    expect(bits['attention (q, k, v, out)']).toBeLessThan(4.2);
    expect(bits['classifier head']).toBe(32);
  });

  test('training: the live charts kept their final state, and no tensor leaked', () => {
    // 128 reviews, batch 4 × 2 accumulation → 16 optimizer steps; evaluations every ceil(16 / 4) = 4.
    expect(all).toContain('16 optimizer steps (2 of warm-up)');
    const specs = chartSpecs(nb);
    const loss = specs.find((s) => s.layout.title.text === 'Training loss')!;
    expect(loss.data[0].x).toEqual(Array.from({ length: 16 }, (_, i) => i + 1));
    const validation = specs.find((s) => s.layout.title.text === 'Validation')!;
    expect(validation.data[0].x).toEqual([4, 8, 12, 16]);
    expect(all).toContain('16/16 (100%)');
    const leak = all.match(/tensors: (\d+) before training, (\d+) after/);
    expect(leak).not.toBeNull();
    expect(leak![2]).toBe(leak![1]);
    // Checkpoints every 4 steps, the last two kept (saveTotalLimit 2), in HF Trainer's layout.
    expect(fs.readdirSync(mainEnv.QLORA_OUTPUT_DIR!).sort()).toEqual(['checkpoint-12', 'checkpoint-16']);
    const last = path.join(mainEnv.QLORA_OUTPUT_DIR!, 'checkpoint-16');
    for (const f of ['adapter_config.json', 'adapter_model.safetensors', 'trainer_state.json', 'optimizer.safetensors', 'scheduler.json']) {
      expect(fs.existsSync(path.join(last, f))).toBe(true);
    }
    const state = JSON.parse(fs.readFileSync(path.join(last, 'trainer_state.json'), 'utf8'));
    expect(state).toMatchObject({ global_step: 16, max_steps: 16, epoch: 1 });
    expect(state.log_history.filter((e: Record<string, number>) => 'eval_accuracy' in e).map((e: Record<string, number>) => e.step)).toEqual([4, 8, 12, 16]);
  });

  test('the terminal showed the training progress (step, loss, ETA) and the evaluations while the cell ran', () => {
    expect(main.stderr).toMatch(/training \[[#.]{30}\] \d+\/16 \(\d+%\) · [\d:]+ elapsed, ETA [\d:]+ · loss \d\.\d{4}/);
    expect(main.stderr).toMatch(/training \[#{30}\] 16\/16 \(100%\) · [\d:]+ total · loss \d\.\d{4}/);
    expect(main.stderr.match(/evaluation @ step \d+: loss/g)).toHaveLength(4);
  });

  test('evaluation: accuracy and F1 on the 40 test reviews agree with the confusion matrix drawn', () => {
    const confusion = chartSpecs(nb).find((s) => s.layout.title.text.startsWith('Confusion matrix (test split, 40 reviews)'))!;
    const z: number[][] = confusion.data[0].z;
    const [[tn, fp], [fn, tp]] = z;
    expect(tn + fp + fn + tp).toBe(40);
    expect(tn + fp).toBe(22); // actual negatives of the stratified test split: 40 · 111/200 rounded
    const rows = tableRows(all, 'Final metrics');
    expect(rows[1][0]).toBe('test');
    expect(Number(rows[1][2])).toBeCloseTo((tn + tp) / 40, 4);
    const f1 = tp === 0 ? 0 : (2 * tp) / (2 * tp + fp + fn);
    expect(Number(rows[1][3])).toBeCloseTo(f1, 4);
    expect(all).toMatch(/test accuracy: [01]\.\d{4}, F1: [01]\.\d{4}/);
  });

  test('the adapter is written in PEFT format: config and one tensor per A, B and head weight', () => {
    const dir = mainEnv.QLORA_ADAPTER_DIR!;
    // trainer.saveModel: the adapter, the tokenizer's files and the training arguments side by side.
    const files = fs.readdirSync(dir);
    for (const f of ['adapter_config.json', 'adapter_model.safetensors', 'training_args.json', 'tokenizer_config.json', 'vocab.txt']) expect(files).toContain(f);
    const config = JSON.parse(fs.readFileSync(path.join(dir, 'adapter_config.json'), 'utf8'));
    expect(config.base_model_name_or_path).toBe(mainEnv.QLORA_MODEL);
    expect(config).toMatchObject({ peft_type: 'LORA', task_type: 'SEQ_CLS', r: 8, lora_alpha: 32, lora_dropout: 0.1 });
    expect([...config.target_modules].sort()).toEqual(['ffn.lin1', 'ffn.lin2', 'k_lin', 'out_lin', 'q_lin', 'v_lin']);
    // safetensors: 8-byte little-endian header length, then the JSON header.
    const bytes = fs.readFileSync(path.join(dir, 'adapter_model.safetensors'));
    const header = JSON.parse(bytes.subarray(8, 8 + Number(bytes.readBigUInt64LE(0))).toString('utf8'));
    const keys = Object.keys(header).filter((k) => k !== '__metadata__');
    expect(keys.filter((k) => k.endsWith('.lora_A.weight'))).toHaveLength(12); // 2 layers × 6 targets
    expect(keys.filter((k) => k.endsWith('.lora_B.weight'))).toHaveLength(12);
    expect(keys.filter((k) => /classifier\.(weight|bias)$/.test(k))).toHaveLength(4); // pre_classifier + classifier
    expect(header['base_model.model.distilbert.transformer.layer.0.ffn.lin1.lora_A.weight'].shape).toEqual([8, 32]);
    expect(all).toContain('adapter_model.safetensors');
  });

  test('predictions: the first 5 test reviews, and the free-text review', () => {
    const rows = tableRows(all, 'Predictions on the first 5 test reviews');
    expect(rows[0]).toEqual(['review', 'actual', 'predicted', 'probability']);
    expect(rows).toHaveLength(6);
    for (const r of rows.slice(1)) {
      expect(['negative', 'positive']).toContain(r[2]);
      expect(Number(r[3])).toBeGreaterThanOrEqual(0.5); // the probability of the predicted class
      expect(Number(r[3])).toBeLessThanOrEqual(1);
    }
    const mine = tableRows(all, 'Your review');
    expect(Number(mine[1][2]) + Number(mine[1][3])).toBeCloseTo(1, 3);
  });
});

describe('re-running the LoRA and training cells with other settings', () => {
  let outputs: string[];
  beforeAll(() => {
    if (rerun.status !== 0) throw new Error(`exit ${rerun.status}\n${rerun.stdout}\n${rerun.stderr}`);
    const nb = readNotebook(path.join(rerunOut, 'rerun.ipynb'));
    outputs = nb.cells.filter((c) => c.cell_type === 'code').map(cellOutputText);
  });

  test('works: the new LoRA model has r = 4, and the old one was freed', () => {
    const all = outputs.join('\n');
    const { trainable, all: total } = expectedParameterCounts(4);
    expect(all).toContain(`trainable params: ${thousands(trainable)} || all params: ${thousands(total)}`);
    const probes = [...all.matchAll(/probe: (\d+) tensors/g)].map((m) => Number(m[1]));
    expect(probes).toHaveLength(2);
    // Same number of variables either way; a leaked previous model would add ~100.
    expect(probes[1]).toBe(probes[0]);
    const leaks = [...all.matchAll(/tensors: (\d+) before training, (\d+) after/g)];
    expect(leaks).toHaveLength(2);
    for (const leak of leaks) expect(leak[2]).toBe(leak[1]);
  });
});

describe('a failing notebook', () => {
  test('exits 1 and prints the failing cell and its real error', () => {
    expect(failing.status).toBe(1);
    expect(failing.stderr).toContain('cell 2 of failing.ipynb failed: RangeError: bad value 42');
    expect(failing.stderr).toContain("  |   if (v > 10) throw new RangeError('bad value ' + v);");
    expect(failing.stderr).toMatch(/at checkValue \(evalmachine/);
  });

  test('the executed notebook is still written, with the error recorded in the cell', () => {
    const nb = readNotebook(path.join(tmp, 'failing-out', 'failing.ipynb'));
    expect(cellOutputText(nb.cells[0])).toContain('first cell ran');
    const error = (nb.cells[1].outputs ?? []).find((o) => o.output_type === 'error');
    expect(error).toMatchObject({ ename: 'RangeError', evalue: 'bad value 42' });
    expect(nb.cells[1].metadata.execution_status).toBe('error');
    expect(fs.existsSync(path.join(tmp, 'failing-out', 'failing.html'))).toBe(true);
  });

  test('a TypeScript type error is reported with its message', () => {
    expect(typeError.status).toBe(1);
    expect(typeError.stderr).toContain(
      "cell 1 of type_error.ipynb failed: TypeScriptError: 1:7 - Type 'string' is not assignable to type 'number'.",
    );
  });
});

describe('offline without the model', () => {
  test('the error is said once, names only QLORA_MODEL, and has no internal hints', () => {
    expect(offline.status).toBe(1);
    const once = 'is in the Hugging Face cache'; // the loader's message, which the hint must not repeat
    expect(offline.stderr.split(once)).toHaveLength(2);
    expect(offline.stderr).toContain('set QLORA_MODEL to it');
    for (const s of [offline.stderr, fs.readFileSync(path.join(tmp, 'offline-out', 'offline.html'), 'utf8')]) {
      expect(s).not.toMatch(/hubFiles|QLORA_DATA|cause:|at withSetupHint/);
    }
    expect(fs.readFileSync(path.join(tmp, 'offline-out', 'offline.html'), 'utf8').split(once)).toHaveLength(2);
    // In the notebook: one error output (its traceback is what Jupyter shows), no stderr copy of it.
    const outputs = readNotebook(path.join(tmp, 'offline-out', 'offline.ipynb')).cells[0].outputs ?? [];
    expect(outputs.map((o) => o.output_type)).toEqual(['error']);
    expect(((outputs[0] as { traceback?: string[] }).traceback ?? []).join('\n').split(once)).toHaveLength(2);
  });
});

describe('a cell that runs past --timeout', () => {
  test('is stopped, and the message names the limit and the cell', () => {
    expect(slow.status).toBe(1);
    expect(slow.stderr).toContain('run-notebook: a cell ran longer than --timeout 2 s and was stopped.');
    expect(slow.stderr).toContain('await new Promise((resolve) => setTimeout(resolve, 60000));');
  });
});

describe('clear messages for bad setups', () => {
  test('no Jupyter on PATH → says how to install it', async () => {
    const emptyBin = fs.mkdtempSync(path.join(os.tmpdir(), 'qlora-nopath-'));
    const result = await runCli(['--out', path.join(tmp, 'never')], { ...process.env, PATH: emptyBin });
    expect(result.status).toBe(1);
    expect(result.stderr).toContain("Jupyter's nbconvert is needed to execute the notebook");
    expect(result.stderr).toContain('bash scripts/setup-system.sh');
    expect(fs.existsSync(path.join(tmp, 'never'))).toBe(false);
  });

  test('a missing notebook or a bad --timeout is named', async () => {
    const missing = await runCli(['--notebook', path.join(tmp, 'nope.ipynb')]);
    expect(missing.status).toBe(1);
    expect(missing.stderr).toContain(`Notebook not found: ${path.join(tmp, 'nope.ipynb')}`);
    const badTimeout = await runCli(['--timeout', 'soon']);
    expect(badTimeout.status).toBe(1);
    expect(badTimeout.stderr).toContain("--timeout must be a number of seconds ≥ 0 (0 = no limit), got 'soon'");
  });
});
