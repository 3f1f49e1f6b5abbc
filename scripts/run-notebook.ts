// Runs the notebook headlessly and writes its report: the main command of the project.
//
//   ts-node scripts/run-notebook.ts [--notebook DistilBert_QLoRA.ipynb] [--out reports] [--timeout 7200]
//   ts-node scripts/run-notebook.ts --install-kernel      (only install the kernel spec, for `jupyter lab`)
//
// 1. Installs a kernel spec for the project's own tslab into .jupyter/kernels/tslab (no global
//    install: `npx tslab install` does not work here) and points JUPYTER_PATH at it.
// 2. Executes the notebook with `jupyter nbconvert --execute`, reading it from stdin so the
//    kernel's working folder is the repo root (tslab resolves `./lib/...` from there, wherever
//    the notebook is). Environment variables (QLORA_*) pass through to the kernel.
// 3. Writes <out>/<name>.ipynb (executed) and <out>/<name>.html (self-contained: plotly is
//    inlined by the notebook's own outputs, nothing is loaded from the network).
//    While it runs, the terminal shows the per-cell lines and the training progress (step, loss,
//    ETA), which the kernel appends to the file named in QLORA_PROGRESS_FILE
//    (lib/notebook/progress-file.ts): nbconvert itself keeps a kernel's output for the notebook.
// 4. If a cell failed, prints that cell's source and its real error and exits 1. nbconvert
//    itself reports tslab failures with an empty message, so we run it with --allow-errors and
//    read the failure back from the executed notebook (scripts/kernel/nbconvert_config.py
//    records it there as a standard "error" output).
import { spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { writeFileAtomic } from '../lib/util/atomic-write';

export const REPO_ROOT = path.resolve(__dirname, '..');
const KERNEL_TEMPLATE = path.join(REPO_ROOT, 'scripts', 'kernel', 'tslab', 'kernel.json');
const NBCONVERT_CONFIG = path.join(REPO_ROOT, 'scripts', 'kernel', 'nbconvert_config.py');
const REPORT_TEMPLATE = path.join(REPO_ROOT, 'scripts', 'kernel', 'report.html.j2');
const KERNEL_NAME = 'tslab';

/** A problem the user can fix; printed without a stack trace. */
class UsageError extends Error {}

export interface RunOptions {
  notebook: string;
  outDir: string;
  /** Seconds one cell may run; 0 = no limit. */
  timeoutSeconds: number;
}

interface CliOptions extends RunOptions {
  installKernelOnly: boolean;
}

const USAGE = `Usage: ts-node scripts/run-notebook.ts [options]
  --notebook <path>   notebook to run (default DistilBert_QLoRA.ipynb)
  --out <dir>         where the executed notebook and the HTML report go (default reports/)
  --timeout <s>       longest time one cell may run, in seconds; 0 = no limit (default 7200)
  --install-kernel    only install the project's tslab kernel spec and print its JUPYTER_PATH
Environment variables (QLORA_*, HF_*) are passed to the notebook.`;

function parseArgs(argv: string[]): CliOptions {
  const opts: CliOptions = {
    notebook: path.join(REPO_ROOT, 'DistilBert_QLoRA.ipynb'),
    outDir: path.join(REPO_ROOT, 'reports'),
    timeoutSeconds: 7200,
    installKernelOnly: false,
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new UsageError(`${arg} needs a value.\n${USAGE}`);
      return v;
    };
    if (arg === '--notebook') opts.notebook = path.resolve(value());
    else if (arg === '--out') opts.outDir = path.resolve(value());
    else if (arg === '--timeout') {
      const raw = value();
      const seconds = Number(raw);
      if (!Number.isFinite(seconds) || seconds < 0) {
        throw new UsageError(`--timeout must be a number of seconds ≥ 0 (0 = no limit), got '${raw}'`);
      }
      opts.timeoutSeconds = seconds;
    } else if (arg === '--install-kernel') opts.installKernelOnly = true;
    else if (arg === '--help' || arg === '-h') {
      console.log(USAGE);
      process.exit(0);
    } else throw new UsageError(`Unknown option '${arg}'.\n${USAGE}`);
  }
  return opts;
}

/**
 * Writes .jupyter/kernels/tslab/kernel.json from scripts/kernel/tslab/kernel.json, pointing at
 * this Node and this project's tslab. Returns the folder to put on JUPYTER_PATH.
 */
export function installKernelSpec(root = REPO_ROOT): string {
  const tslabBin = path.join(root, 'node_modules', 'tslab', 'bin', 'tslab');
  if (!fs.existsSync(tslabBin)) {
    throw new UsageError(`tslab is not installed (${tslabBin} is missing): run \`npm ci\` first.`);
  }
  const template = JSON.parse(fs.readFileSync(KERNEL_TEMPLATE, 'utf8')) as { argv: string[] };
  template.argv = template.argv.map((a) => a.replace('@NODE@', process.execPath).replace('@TSLAB@', tslabBin));
  const jupyterPath = path.join(root, '.jupyter');
  writeFileAtomic(path.join(jupyterPath, 'kernels', KERNEL_NAME, 'kernel.json'), JSON.stringify(template, null, 2) + '\n');
  return jupyterPath;
}

/** Throws a clear message when `jupyter nbconvert` cannot run. */
function checkJupyter(): void {
  const probe = spawnSync('jupyter', ['nbconvert', '--version'], { encoding: 'utf8' });
  if (probe.error || probe.status !== 0) {
    const why = probe.error ? `'jupyter' was not found on PATH` : (probe.stderr || probe.stdout).trim().split('\n').pop();
    throw new UsageError(
      `Jupyter's nbconvert is needed to execute the notebook, but it cannot run (${why}).\n` +
        `Install it with: bash scripts/setup-system.sh   (Debian: jupyter-nbconvert jupyter-client python3-ipykernel)\n` +
        `or, elsewhere: pip install nbconvert jupyter_client`,
    );
  }
}

/**
 * The terminal side of the progress file: copies what the kernel appends to `file` to stderr. On
 * a terminal the `\r`-rewritten progress line is passed through as it is; elsewhere (a log, CI)
 * lines of their own are printed as they come and the progress line once every `everySeconds`.
 * `line()` prints a whole line of the runner's own without breaking a pending progress line.
 */
export class ProgressRelay {
  private offset = 0;
  private open = false;
  private pending = '';
  private lastShown = 0;

  constructor(
    private readonly file: string,
    private readonly out: { write(text: string): unknown; isTTY?: boolean } = process.stderr,
    private readonly everySeconds = 30,
  ) {}

  /** Reads what was appended since the last call. */
  poll(final = false): void {
    let text = '';
    try {
      const fd = fs.openSync(this.file, 'r');
      try {
        const size = fs.fstatSync(fd).size;
        if (size > this.offset) {
          const buffer = Buffer.alloc(size - this.offset);
          fs.readSync(fd, buffer, 0, buffer.length, this.offset);
          this.offset = size;
          text = buffer.toString('utf8');
        }
      } finally {
        fs.closeSync(fd);
      }
    } catch {
      return; // not written yet
    }
    if (this.out.isTTY) {
      if (text) {
        this.out.write(text);
        this.open = !text.endsWith('\n');
      }
      return;
    }
    const parts = (this.pending + text).split('\n');
    this.pending = parts.pop() ?? '';
    const lastRewrite = (segment: string) => stripAnsi(segment.split('\r').pop() ?? '').trim();
    for (const done of parts) if (lastRewrite(done)) this.out.write(lastRewrite(done) + '\n');
    const now = Date.now();
    if (this.pending && (final || now - this.lastShown >= this.everySeconds * 1000)) {
      this.out.write(lastRewrite(this.pending) + '\n');
      this.lastShown = now;
      this.pending = '';
    }
  }

  line(text: string): void {
    this.out.write(`${this.open ? '\n' : ''}${text}\n`);
    this.open = false;
  }
}

interface ProcessResult {
  code: number;
  stdout: Buffer;
  /** The last 64 kB of stderr. */
  stderrTail: string;
}

/**
 * Runs `jupyter <args>` in the repo root with `input` on stdin. With `showProgress`, the
 * per-cell lines of nbconvert_config.py ("[run-notebook] cell 3/18: …") are echoed as they come;
 * the rest of stderr is kept for the error message.
 */
function runJupyter(args: string[], input: Buffer, env: NodeJS.ProcessEnv, relay: ProgressRelay | null): Promise<ProcessResult> {
  return new Promise((resolve, reject) => {
    const child = spawn('jupyter', args, { cwd: REPO_ROOT, env, stdio: ['pipe', 'pipe', 'pipe'] });
    const stdout: Buffer[] = [];
    let stderrTail = '';
    let partialLine = '';
    child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => {
      const textChunk = chunk.toString('utf8');
      stderrTail = (stderrTail + textChunk).slice(-65536);
      if (!relay) return;
      const lines = (partialLine + textChunk).split('\n');
      partialLine = lines.pop() ?? '';
      for (const line of lines) if (line.startsWith('[run-notebook]')) relay.line(line);
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? 1, stdout: Buffer.concat(stdout), stderrTail }));
    child.stdin.on('error', () => undefined); // the child may exit before reading all of it
    child.stdin.end(input);
  });
}

// ---------------------------------------------------------------------------------------------
// Reading failures back from the executed notebook
// ---------------------------------------------------------------------------------------------

interface NotebookOutput {
  output_type: string;
  name?: string;
  text?: string | string[];
  ename?: string;
  evalue?: string;
  traceback?: string[];
}

interface NotebookCell {
  cell_type: string;
  source: string | string[];
  outputs?: NotebookOutput[];
  metadata?: { execution_status?: string };
}

interface Notebook {
  cells: NotebookCell[];
}

export interface CellFailure {
  /** 1-based position of the cell in the notebook. */
  cellNumber: number;
  source: string;
  ename: string;
  evalue: string;
  traceback: string[];
}

const joinText = (t: string | string[] | undefined) => (Array.isArray(t) ? t.join('') : t ?? '');
// eslint-disable-next-line no-control-regex
const stripAnsi = (s: string) => s.replace(/\x1b\[[0-9;]*[A-Za-z]/g, '');

/** Every cell with an error output or marked as failed, in notebook order. */
export function findFailures(nb: Notebook): CellFailure[] {
  const failures: CellFailure[] = [];
  nb.cells.forEach((cell, i) => {
    if (cell.cell_type !== 'code') return;
    const error = (cell.outputs ?? []).find((o) => o.output_type === 'error');
    const marked = cell.metadata?.execution_status === 'error';
    if (!error && !marked) return;
    const stderr = (cell.outputs ?? [])
      .filter((o) => o.output_type === 'stream' && o.name === 'stderr')
      .map((o) => joinText(o.text))
      .join('');
    failures.push({
      cellNumber: i + 1,
      source: joinText(cell.source),
      ename: error?.ename ?? 'Error',
      evalue: error?.evalue ?? '',
      traceback: (error?.traceback ?? stderr.split('\n')).map(stripAnsi),
    });
  });
  return failures;
}

/** Cells tslab skipped because an earlier one failed. */
function countAborted(nb: Notebook): number {
  return nb.cells.filter((c) => c.metadata?.execution_status === 'abort').length;
}

export function formatFailure(f: CellFailure, notebookName: string): string {
  const sourceLines = f.source.split('\n');
  const head = sourceLines.slice(0, 12).map((l) => `  | ${l}`);
  if (sourceLines.length > 12) head.push(`  | … (${sourceLines.length - 12} more lines)`);
  // The traceback usually repeats the "Name: message" line of the header: say it once.
  const traceback = f.traceback.filter((l) => l.trim() !== `${f.ename}: ${f.evalue}`.trim());
  return [
    `run-notebook: cell ${f.cellNumber} of ${notebookName} failed: ${f.ename}: ${f.evalue}`,
    `--- cell ${f.cellNumber} source ---`,
    ...head,
    `--- error ---`,
    ...traceback.map((l) => `  ${l}`),
  ].join('\n');
}

/**
 * The useful end of a Python failure: from the last "SomeError: message" line on (which for
 * nbclient includes the cell preview), else the last 30 lines.
 */
function pythonErrorSummary(stderr: string): string {
  const lines = stderr.trimEnd().split('\n');
  for (let i = lines.length - 1; i >= 0; i--) {
    if (/^[\w.]+(Error|Exception|Exit)\b.*:/.test(lines[i])) return lines.slice(i).join('\n');
  }
  return lines.slice(-30).join('\n');
}

// ---------------------------------------------------------------------------------------------
// Main
// ---------------------------------------------------------------------------------------------

/** Executes the notebook and writes the report. Returns the process exit code. */
export async function runNotebook(opts: RunOptions): Promise<number> {
  if (!fs.existsSync(opts.notebook)) throw new UsageError(`Notebook not found: ${opts.notebook} (see --notebook).`);
  const input = fs.readFileSync(opts.notebook);
  try {
    JSON.parse(input.toString('utf8'));
  } catch (e) {
    throw new UsageError(`${opts.notebook} is not a valid notebook (not JSON): ${(e as Error).message}`);
  }
  checkJupyter();
  const jupyterPath = installKernelSpec();
  const progressDir = fs.mkdtempSync(path.join(os.tmpdir(), 'qlora-progress-'));
  const progressFile = path.join(progressDir, 'progress.log');
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    JUPYTER_PATH: [jupyterPath, process.env.JUPYTER_PATH].filter(Boolean).join(path.delimiter),
    QLORA_PROGRESS_FILE: progressFile,
  };
  const relay = new ProgressRelay(progressFile);
  const polling = setInterval(() => relay.poll(), 500);
  const name = path.basename(opts.notebook).replace(/\.ipynb$/, '');
  const notebookOut = path.join(opts.outDir, `${name}.ipynb`);
  const htmlOut = path.join(opts.outDir, `${name}.html`);

  const shownPath = path.relative(process.cwd(), opts.notebook);
  console.error(`run-notebook: executing ${shownPath.startsWith('..') ? opts.notebook : shownPath}`);
  const started = Date.now();
  const executed = await runJupyter(
    [
      'nbconvert',
      '--config', NBCONVERT_CONFIG,
      '--to', 'notebook',
      '--execute',
      '--allow-errors',
      `--ExecutePreprocessor.kernel_name=${KERNEL_NAME}`,
      `--ExecutePreprocessor.timeout=${opts.timeoutSeconds > 0 ? opts.timeoutSeconds : -1}`,
      '--stdin',
      '--stdout',
      '--output', name,
    ],
    input,
    env,
    relay,
  ).finally(() => {
    clearInterval(polling);
    relay.poll(true);
    fs.rmSync(progressDir, { recursive: true, force: true });
  });
  if (executed.code !== 0 || executed.stdout.length === 0) {
    const tail = pythonErrorSummary(executed.stderrTail);
    const timedOut = /CellTimeoutError/.test(executed.stderrTail);
    console.error(
      (timedOut
        ? `run-notebook: a cell ran longer than --timeout ${opts.timeoutSeconds} s and was stopped.`
        : `run-notebook: nbconvert failed (exit ${executed.code}) before the notebook finished.`) +
        `\n--- nbconvert's last messages ---\n${tail}`,
    );
    return 1;
  }
  writeFileAtomic(notebookOut, executed.stdout);

  const html = await runJupyter(
    ['nbconvert', '--to', 'html', '--template-file', REPORT_TEMPLATE, '--stdin', '--stdout', '--output', name],
    executed.stdout,
    env,
    null,
  );
  if (html.code !== 0) {
    console.error(`run-notebook: the HTML export failed (exit ${html.code}):\n${html.stderrTail.trim()}`);
    return 1;
  }
  writeFileAtomic(htmlOut, html.stdout);

  const nb = JSON.parse(executed.stdout.toString('utf8')) as Notebook;
  const failures = findFailures(nb);
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  if (failures.length > 0) {
    console.error(formatFailure(failures[0], path.basename(opts.notebook)));
    const aborted = countAborted(nb);
    if (aborted > 0) console.error(`${aborted} later cells were not run (the kernel skips cells queued behind a failure).`);
    console.error(`The executed notebook and its report show the failure:\n  ${notebookOut}\n  ${htmlOut}`);
    return 1;
  }
  console.log(`run-notebook: done in ${seconds} s`);
  console.log(`  executed notebook: ${notebookOut}`);
  console.log(`  HTML report:       ${htmlOut}`);
  return 0;
}

async function main(): Promise<void> {
  try {
    const opts = parseArgs(process.argv.slice(2));
    if (opts.installKernelOnly) {
      const jupyterPath = installKernelSpec();
      console.log(`Installed the tslab kernel spec in ${jupyterPath}/kernels/${KERNEL_NAME}.`);
      console.log(`Use it with: JUPYTER_PATH=${jupyterPath} jupyter lab`);
      return;
    }
    process.exitCode = await runNotebook(opts);
  } catch (e) {
    if (e instanceof UsageError) {
      console.error(`run-notebook: ${e.message}`);
      process.exitCode = 1;
    } else {
      throw e;
    }
  }
}

if (require.main === module) {
  void main();
}
