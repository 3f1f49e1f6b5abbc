// Crash-safe training checkpoints.
//
// A checkpoint is a folder outputDir/checkpoint-<step>/ holding:
//   trainer_state.json      step, epoch, data position, seed, arguments, log history
//   trainable.safetensors   every trainable variable, exactly (what a resume restores)
//   optimizer.safetensors   AdamW's first and second moments (`m.<i>`, `v.<i>`)
//   adapter/                the PEFT adapter (when the model can save one), for users
// and outputDir/latest is a one-line file naming the newest complete checkpoint.
//
// Nothing is ever half-written where a reader looks: files go to a temporary name in the same
// folder and are renamed into place, a checkpoint folder is built under a temporary name and
// renamed whole, and `latest` is updated last. A process killed at any moment leaves either the
// old or the new checkpoint, never a torn one.
import * as fs from 'fs';
import * as path from 'path';
import { writeFileAtomic } from '../util/atomic-write';


// ---- checkpoint folders ----

export const LATEST_FILE = 'latest';
const TEMP_PREFIX = '.tmp-checkpoint-';

export function checkpointName(step: number): string {
  return `checkpoint-${step}`;
}

/**
 * Builds a checkpoint folder atomically: `fill(tmpDir)` writes the contents into a temporary
 * folder, which is then renamed to outputDir/checkpoint-<step>; `latest` is updated after that.
 * Returns the final folder.
 */
export async function writeCheckpointDir(
  outputDir: string,
  step: number,
  fill: (tmpDir: string) => Promise<void> | void,
): Promise<string> {
  fs.mkdirSync(outputDir, { recursive: true });
  const finalDir = path.join(outputDir, checkpointName(step));
  const tmpDir = path.join(outputDir, `${TEMP_PREFIX}${step}-${process.pid}-${Date.now()}`);
  fs.mkdirSync(tmpDir);
  try {
    await fill(tmpDir);
  } catch (e) {
    fs.rmSync(tmpDir, { recursive: true, force: true });
    throw e;
  }
  if (fs.existsSync(finalDir)) {
    // Re-saving the same step (a resumed run that reaches it again): move the old one aside
    // first, so that at every moment one complete copy exists.
    const old = path.join(outputDir, `${TEMP_PREFIX}old-${step}-${process.pid}-${Date.now()}`);
    fs.renameSync(finalDir, old);
    fs.renameSync(tmpDir, finalDir);
    fs.rmSync(old, { recursive: true, force: true });
  } else {
    fs.renameSync(tmpDir, finalDir);
  }
  writeFileAtomic(path.join(outputDir, LATEST_FILE), checkpointName(step) + '\n');
  return finalDir;
}

/** The folder `latest` points at, or null when outputDir has no complete checkpoint yet. */
export function latestCheckpoint(outputDir: string): string | null {
  const pointer = path.join(outputDir, LATEST_FILE);
  if (!fs.existsSync(pointer)) return null;
  const name = fs.readFileSync(pointer, 'utf8').trim();
  const dir = path.join(outputDir, name);
  if (!/^checkpoint-\d+$/.test(name) || !fs.existsSync(dir)) {
    throw new Error(`${pointer} names '${name}', which is not a checkpoint folder in ${outputDir}; delete the file to start over`);
  }
  return dir;
}

/** Removes temporary folders left by a process killed while saving. */
export function removeStaleTemporaries(outputDir: string): void {
  if (!fs.existsSync(outputDir)) return;
  for (const entry of fs.readdirSync(outputDir)) {
    if (entry.startsWith(TEMP_PREFIX) || (entry.startsWith('.') && entry.includes('.tmp-'))) {
      fs.rmSync(path.join(outputDir, entry), { recursive: true, force: true });
    }
  }
}

/** Complete checkpoint folders in outputDir, oldest first. */
export function listCheckpoints(outputDir: string): { step: number; dir: string }[] {
  if (!fs.existsSync(outputDir)) return [];
  return fs
    .readdirSync(outputDir)
    .map((name) => /^checkpoint-(\d+)$/.exec(name))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => ({ step: Number(m[1]), dir: path.join(outputDir, m[0]) }))
    .sort((a, b) => a.step - b.step);
}

/** Keeps the newest `limit` checkpoints (HF `save_total_limit`), never the one `latest` names. */
export function pruneCheckpoints(outputDir: string, limit: number): void {
  const all = listCheckpoints(outputDir);
  const latest = latestCheckpoint(outputDir);
  const removable = all.filter((c) => c.dir !== latest);
  const excess = all.length - limit;
  for (const c of removable.slice(0, Math.max(0, excess))) fs.rmSync(c.dir, { recursive: true, force: true });
}
