// Crash-safe checkpoint folders, named and rotated as Hugging Face's Trainer does.
//
// outputDir/checkpoint-<step>/ (what it holds: trainer-state.ts). As in HF, the last checkpoint
// is the one with the highest step (`transformers.trainer_utils.get_last_checkpoint`): there is
// no pointer file to keep in step with the folders.
//
// Nothing is ever half-written where a reader looks: files go to a temporary name in the same
// folder and are renamed into place, and a checkpoint folder is built under a temporary name
// (`.tmp-checkpoint-…`, which no reader takes for a checkpoint) and renamed whole. A process
// killed at any moment leaves either the old or the new checkpoint, never a torn one. HF writes
// into the final folder directly, so a crash there can leave a checkpoint that cannot be loaded.
import * as fs from 'fs';
import * as path from 'path';

// ---- checkpoint folders ----

const TEMP_PREFIX = '.tmp-checkpoint-';

export function checkpointName(step: number): string {
  return `checkpoint-${step}`;
}

/**
 * Builds a checkpoint folder atomically: `fill(tmpDir)` writes the contents into a temporary
 * folder, which is then renamed to outputDir/checkpoint-<step>.
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
  return finalDir;
}

/**
 * The checkpoint-<step> folder with the highest step in outputDir, or null when there is none
 * (HF `get_last_checkpoint`, which `train(resume_from_checkpoint=True)` uses).
 */
export function lastCheckpoint(outputDir: string): string | null {
  const all = listCheckpoints(outputDir);
  return all.length ? all[all.length - 1].dir : null;
}

/**
 * The folder `train({ resumeFromCheckpoint })` resumes from, as HF resolves `resume_from_checkpoint`:
 * true = the last checkpoint in outputDir, a string = that folder. Throws when there is none, or
 * when the folder holds no trainer_state.json.
 */
export function resolveResumeCheckpoint(outputDir: string | null, resumeFrom: true | string): string {
  if (resumeFrom === true) {
    if (!outputDir) throw new Error('train({ resumeFromCheckpoint: true }) needs args.outputDir (the checkpoints are looked for there)');
    const dir = lastCheckpoint(outputDir);
    if (!dir) throw new Error(`No valid checkpoint found in output directory (${outputDir}): no checkpoint-<step> folder; train without resumeFromCheckpoint`);
    return dir;
  }
  if (!fs.existsSync(path.join(resumeFrom, 'trainer_state.json'))) {
    throw new Error(`Can't find a valid checkpoint at ${resumeFrom} (no trainer_state.json); pass a checkpoint-<step> folder, or true for the last one in outputDir`);
  }
  return resumeFrom;
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
    .filter((m): m is RegExpExecArray => m !== null && fs.statSync(path.join(outputDir, m[0])).isDirectory())
    .map((m) => ({ step: Number(m[1]), dir: path.join(outputDir, m[0]) }))
    .sort((a, b) => a.step - b.step);
}

/**
 * Keeps the newest `limit` checkpoints (HF `save_total_limit`, `_rotate_checkpoints`): older ones
 * are deleted, but never the newest nor `keep` (HF keeps `best_model_checkpoint` the same way).
 */
export function pruneCheckpoints(outputDir: string, limit: number, keep: string | null = null): void {
  const all = listCheckpoints(outputDir);
  const newest = all[all.length - 1]?.dir;
  const protectedDirs = new Set([newest, keep].filter((d): d is string => !!d).map((d) => path.resolve(d)));
  let excess = all.length - Math.max(limit, protectedDirs.size);
  for (const c of all) {
    if (excess <= 0) break;
    if (protectedDirs.has(path.resolve(c.dir))) continue;
    fs.rmSync(c.dir, { recursive: true, force: true });
    excess -= 1;
  }
}
