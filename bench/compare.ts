// The driver shared by bench/train-step.ts and bench/eval.ts: ours and PyTorch run alternately
// as child processes (ours, PyTorch, ours, PyTorch, ...), so both see the same machine load and
// each reports its own peak RSS. Each child prints one JSON line (a SideResult) last on stdout.
import { spawnSync } from 'child_process';
import * as path from 'path';
import { openblasCoreType } from '../lib/backends/gemm/openblas';

export interface SideResult {
  /** Median ms per step (training: forward + backward + optimizer; eval: one batch). */
  msPerStep: number;
  forwardMs?: number;
  backwardMs?: number;
  optimizerMs?: number;
  peakRssMiB: number;
  /** What ran the matmuls, e.g. 'openblas (libopenblas.so.0, core SkylakeX, 1 thread)'. */
  engine: string;
  /** Anything else worth a line (backend, threads, versions). */
  detail: string;
}

/** PyTorch thread counts tried each round ($BENCH_TORCH_THREADS, default "1,2"); the faster counts. */
const TORCH_THREADS = (process.env.BENCH_TORCH_THREADS ?? '1,2').split(',').map(Number).filter((n) => n > 0);

/** Our GEMM thread counts tried each round ($BENCH_OURS_THREADS, default "1,2" or $QLORA_GEMM_THREADS). */
const OURS_THREADS = (process.env.BENCH_OURS_THREADS ?? process.env.QLORA_GEMM_THREADS ?? '1,2').split(',').map(Number).filter((n) => n > 0);

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
export { median };

/** Prints the child's JSON result line (the last line of stdout that parses). */
export function printResult(r: SideResult): void {
  console.log(JSON.stringify(r));
}

function runChild(cmd: string, args: string[], env: NodeJS.ProcessEnv): SideResult {
  const r = spawnSync(cmd, args, { env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 64 << 20 });
  const lines = (r.stdout ?? '').trim().split('\n');
  for (let i = lines.length - 1; i >= 0; i--) {
    try {
      return JSON.parse(lines[i]) as SideResult;
    } catch {
      // not the result line
    }
  }
  throw new Error(`${path.basename(args[args.length - 1] ?? cmd)} failed (exit ${r.status}${r.signal ? `, ${r.signal}` : ''}): ${lines.slice(-3).join(' | ')}`);
}

function describe(name: string, r: SideResult): string {
  const split = r.forwardMs === undefined ? '' : ` (forward ${r.forwardMs.toFixed(0)} / backward ${r.backwardMs!.toFixed(0)} / optimizer ${r.optimizerMs!.toFixed(0)} ms)`;
  return `  ${name.padEnd(8)} ${r.msPerStep.toFixed(0).padStart(6)} ms/step${split}, peak RSS ${r.peakRssMiB.toFixed(0)} MiB\n           GEMM: ${r.engine}; ${r.detail}`;
}

/**
 * Runs `rounds` × (ours, PyTorch); prints every run, then each side's best round (the one least
 * disturbed by other work on the machine) and, last, `ratio ours/pytorch = X.XX`.
 */
export function compare(opts: { title: string; oursScript: string; oursArgs: string[]; torchArgs: string[]; rounds?: number }): void {
  const rounds = opts.rounds ?? Number(process.env.BENCH_ROUNDS ?? 2);
  const core = openblasCoreType();
  // PyTorch at its best: Debian's OpenBLAS misdetects some VMs' CPUs (environment.md).
  const torchEnv = { ...process.env, ...(core && !process.env.OPENBLAS_CORETYPE ? { OPENBLAS_CORETYPE: core } : {}) };
  console.log(`${opts.title} — ${rounds} rounds, ours and PyTorch alternating${torchEnv.OPENBLAS_CORETYPE ? `; PyTorch with OPENBLAS_CORETYPE=${torchEnv.OPENBLAS_CORETYPE}` : ''}`);
  const ours: SideResult[] = [];
  const torch: SideResult[] = [];
  const tsNode = ['-r', 'ts-node/register/transpile-only'];
  for (let round = 1; round <= rounds; round++) {
    // Our side gets the same choice of thread counts (OpenBLAS threads) as PyTorch.
    const oursRuns = OURS_THREADS.map((n) =>
      runChild(process.execPath, [...tsNode, opts.oursScript, '--child', ...opts.oursArgs], { ...process.env, QLORA_GEMM_THREADS: String(n) }),
    );
    const o = oursRuns.reduce((a, b) => (b.msPerStep < a.msPerStep ? b : a));
    if (oursRuns.length > 1) o.detail += ` (fastest of ${OURS_THREADS.join(' and ')} GEMM threads: ${oursRuns.map((r) => r.msPerStep.toFixed(0)).join(' / ')} ms)`;
    console.log(`round ${round}:\n${describe('ours', o)}`);
    ours.push(o);
    if (process.env.BENCH_SKIP_TORCH) continue;
    // PyTorch's best thread count: on a loaded 2-core machine 2 threads can lose to 1.
    const runs = TORCH_THREADS.map((n) =>
      runChild('/usr/bin/python3', [path.join(__dirname, 'train_step_torch.py'), ...opts.torchArgs], { ...torchEnv, BENCH_THREADS: String(n) }),
    );
    const t = runs.reduce((a, b) => (b.msPerStep < a.msPerStep ? b : a));
    if (runs.length > 1) t.detail += ` (fastest of ${TORCH_THREADS.join(' and ')} threads: ${runs.map((r) => r.msPerStep.toFixed(0)).join(' / ')} ms)`;
    console.log(describe('pytorch', t));
    torch.push(t);
  }
  const best = (rs: SideResult[]) => rs.reduce((a, b) => (b.msPerStep < a.msPerStep ? b : a));
  console.log('best round of each side:');
  console.log(describe('ours', best(ours)));
  if (torch.length === 0) return;
  console.log(describe('pytorch', best(torch)));
  console.log(`ratio ours/pytorch = ${(best(ours).msPerStep / best(torch).msPerStep).toFixed(2)}`);
}

/**
 * A bench file's entry point: run as `--child` it measures our side (`child`), otherwise it drives
 * the alternating comparison with PyTorch (`compare`), re-running itself as the child.
 */
export function benchMain(child: () => Promise<void>, opts: Parameters<typeof compare>[0]): void {
  if (process.argv.includes('--child')) {
    child().catch((e) => {
      console.error(e);
      process.exit(1);
    });
  } else {
    compare(opts);
  }
}
