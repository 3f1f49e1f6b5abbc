// lib/training/checkpointing.ts: checkpoints are written so that a killed run loses nothing.
// A training process killed with SIGKILL right after a checkpoint resumes and ends with exactly
// the weights of an uninterrupted run (scripts/train-child.ts is the training process).
import { spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

const ROOT = path.resolve(__dirname, '..', '..');
const CHILD = ['ts-node', '--transpile-only', path.join(ROOT, 'scripts', 'train-child.ts')];

/** The highest step among the complete checkpoint-<step> folders (HF's get_last_checkpoint), or -1. */
function lastStep(dir: string): number {
  const steps = fs.readdirSync(dir).map((f) => /^checkpoint-(\d+)$/.exec(f)).filter((m) => m !== null).map((m) => Number(m![1]));
  return steps.length ? Math.max(...steps) : -1;
}

function runToEnd(dir: string, extra: string[] = []): { globalStep: number; losses: number[]; weights: Record<string, number[]> } {
  const r = spawnSync('npx', [...CHILD, dir, ...extra], { cwd: ROOT, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`train-child failed (${r.status}):\n${r.stderr}`);
  return JSON.parse(fs.readFileSync(path.join(dir, 'final.json'), 'utf8'));
}

test('SIGKILL mid-run, resume from latest: same final weights as an uninterrupted run', async () => {
  const straightDir = fs.mkdtempSync(path.join(os.tmpdir(), 'qlora-straight-'));
  const killedDir = fs.mkdtempSync(path.join(os.tmpdir(), 'qlora-killed-'));
  const straight = runToEnd(straightDir);
  expect(straight.globalStep).toBe(20); // 40 examples / 4 = 10 micro-batches → 5 steps per epoch × 4

  // Start a slow run (250 ms per step) and kill it once a checkpoint past step 4 exists,
  // i.e. in the middle of later steps or of writing the next checkpoint.
  const child = spawn('npx', [...CHILD, killedDir, '--step-delay-ms', '250'], { cwd: ROOT, detached: true });
  let stdout = '';
  child.stdout.on('data', (d) => (stdout += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (_code, signal) => resolve(signal ? -1 : _code)));
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (lastStep(killedDir) >= 4) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  await new Promise((r) => setTimeout(r, 120)); // land somewhere inside the next step
  process.kill(-child.pid!, 'SIGKILL'); // the whole group: npx and the node process under it
  await exited;
  expect(fs.existsSync(path.join(killedDir, 'final.json'))).toBe(false); // it really died mid-run
  const killedAt = lastStep(killedDir);
  expect(killedAt).toBeGreaterThanOrEqual(4);
  expect(killedAt).toBeLessThan(20);
  expect(stdout).toContain(`step ${killedAt}`);

  const resumed = runToEnd(killedDir, ['--resume']);
  expect(resumed.globalStep).toBe(20);
  expect(resumed.losses).toHaveLength(20);
  resumed.losses.forEach((l, i) => expect(Math.abs(l - straight.losses[i])).toBeLessThanOrEqual(1e-6));
  for (const [name, values] of Object.entries(straight.weights)) {
    const got = resumed.weights[name];
    expect(got).toHaveLength(values.length);
    values.forEach((v, i) => expect(Math.abs(got[i] - v)).toBeLessThanOrEqual(1e-6));
  }
  fs.rmSync(straightDir, { recursive: true, force: true });
  fs.rmSync(killedDir, { recursive: true, force: true });
}, 180_000);
