// End to end: scripts/run-notebook.ts executes DistilBert_QLoRA.ipynb in the project's tslab
// kernel and writes the executed notebook and its HTML report; a failing notebook makes it exit
// 1 with the failing cell's real error (which nbconvert alone reports as an empty message).
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

const REPO_ROOT = path.resolve(__dirname, '..');
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
const failingNotebook = path.join(tmp, 'failing.ipynb');
const typeErrorNotebook = path.join(tmp, 'type_error.ipynb');
const slowNotebook = path.join(tmp, 'slow.ipynb');
let main: CliResult;
let failing: CliResult;
let typeError: CliResult;
let slow: CliResult;

beforeAll(async () => {
  writeNotebook(failingNotebook, [
    `console.log('first cell ran');`,
    `function checkValue(v: number): void {\n  if (v > 10) throw new RangeError('bad value ' + v);\n}\ncheckValue(42);`,
    `console.log('third cell');`,
  ]);
  writeNotebook(typeErrorNotebook, [`const n: number = 'not a number';`]);
  writeNotebook(slowNotebook, [`await new Promise((resolve) => setTimeout(resolve, 60000));`]);
  // The runs are independent: run them side by side.
  const env = { ...process.env, QLORA_BACKEND: 'cpu' };
  [main, failing, typeError, slow] = await Promise.all([
    runCli(['--out', mainOut, '--timeout', '300'], env),
    runCli(['--notebook', failingNotebook, '--out', path.join(tmp, 'failing-out'), '--timeout', '120'], env),
    runCli(['--notebook', typeErrorNotebook, '--out', path.join(tmp, 'type-error-out'), '--timeout', '120'], env),
    runCli(['--notebook', slowNotebook, '--out', path.join(tmp, 'slow-out'), '--timeout', '2'], env),
  ]);
}, 600000);

describe('DistilBert_QLoRA.ipynb', () => {
  test('runs to the end and writes the executed notebook and the HTML report', () => {
    if (main.status !== 0) throw new Error(`exit ${main.status}\n${main.stdout}\n${main.stderr}`);
    const ipynb = path.join(mainOut, 'DistilBert_QLoRA.ipynb');
    const html = path.join(mainOut, 'DistilBert_QLoRA.html');
    expect(main.stdout).toContain(`HTML report:       ${html}`);
    expect(fs.statSync(ipynb).size).toBeGreaterThan(1_000_000); // holds the plotly bundle
    expect(fs.statSync(html).size).toBeGreaterThan(1_000_000);
    // No temp files left behind by the atomic writes.
    expect(fs.readdirSync(mainOut).sort()).toEqual(['DistilBert_QLoRA.html', 'DistilBert_QLoRA.ipynb']);
  });

  test('every code cell ran without error and has its outputs', () => {
    const nb = readNotebook(path.join(mainOut, 'DistilBert_QLoRA.ipynb'));
    const code = nb.cells.filter((c) => c.cell_type === 'code');
    expect(code.length).toBeGreaterThan(4);
    for (const cell of code) {
      expect(cell.metadata.execution_status).toBeUndefined();
      expect((cell.outputs ?? []).filter((o) => o.output_type === 'error')).toEqual([]);
    }
    const all = code.map(cellOutputText).join('\n');
    // The environment cell reports the backend QLORA_BACKEND asked for.
    expect(all).toContain('tfjs backend: cpu');
    // The toy training loop disposes what it creates.
    const leak = all.match(/tensors: (\d+) before training, (\d+) after/);
    expect(leak).not.toBeNull();
    expect(leak![2]).toBe(leak![1]);
  });

  test('the saved live loss chart is its final state: all 60 steps', () => {
    const nb = readNotebook(path.join(mainOut, 'DistilBert_QLoRA.ipynb'));
    const specs = nb.cells
      .flatMap((c) => c.outputs ?? [])
      .map((o) => text(o.data?.['text/html']))
      .filter((h) => h.includes('class="qlora-chart"'))
      .map((h) => JSON.parse(h.match(/var spec = (.*);\n/)![1]));
    const loss = specs.find((s) => s.layout.title.text === 'Training loss');
    expect(loss.data[0].x).toHaveLength(60);
    expect(loss.data[0].x[59]).toBe(60);
    const validation = specs.find((s) => s.layout.title.text === 'Validation');
    expect(validation.data[0].x).toEqual([0, 15, 30, 45, 60]);
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
