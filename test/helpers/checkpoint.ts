// Small checkpoints for tests: random ones written into temp folders, and rewritten copies of a
// checkpoint (keys renamed, split into shards) to exercise the loader's key handling.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { readSafetensors, writeSafetensors, TensorToWrite } from '../../lib/io/safetensors';
import { writeRandomCheckpoint, RandomCheckpointOptions } from '../../scripts/make-random-checkpoint';
import { REPO_ROOT } from './assets';

/** The committed tiny checkpoint (vocab 64, dim 32, 2 layers, 4 heads, 3 labels) and its PyTorch logits. */
export const FIXTURE_DIR = path.join(REPO_ROOT, 'test', 'fixtures', 'distilbert');

export interface ReferenceCase {
  name: string;
  input_ids: number[][];
  attention_mask: number[][];
  logits: number[][];
}

export function referenceCases(checkpoint: 'tiny' | 'tiny-f16' | 'tiny-bf16'): ReferenceCase[] {
  const json = JSON.parse(fs.readFileSync(path.join(FIXTURE_DIR, 'logits.json'), 'utf8'));
  return json.checkpoints[checkpoint];
}

export function tempDir(prefix = 'qlora-test-'): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  created.push(dir);
  return dir;
}

export const TINY: RandomCheckpointOptions = {
  vocabSize: 64,
  dim: 32,
  nLayers: 2,
  nHeads: 4,
  hiddenDim: 64,
  maxPositions: 32,
  seed: 1,
};

/** Writes a random checkpoint (tiny by default) into a new temp folder and returns the folder. */
export function writeTinyCheckpoint(overrides: Partial<RandomCheckpointOptions> = {}): string {
  const dir = tempDir('qlora-ckpt-');
  writeRandomCheckpoint(dir, { ...TINY, ...overrides });
  return dir;
}

/**
 * Copies a checkpoint folder with its tensors' keys passed through `renameKey` (return null to
 * drop a tensor), optionally split into `shards` files with a model.safetensors.index.json.
 */
export function rewriteCheckpoint(
  src: string,
  opts: { renameKey?: (key: string) => string | null; shards?: number } = {},
): string {
  const dst = tempDir('qlora-ckpt-');
  fs.copyFileSync(path.join(src, 'config.json'), path.join(dst, 'config.json'));
  const tensors: [string, TensorToWrite][] = [];
  for (const [key, t] of readSafetensors(path.join(src, 'model.safetensors'))) {
    const name = opts.renameKey ? opts.renameKey(key) : key;
    if (name !== null) tensors.push([name, t]);
  }
  const shards = opts.shards ?? 1;
  if (shards === 1) {
    writeSafetensors(path.join(dst, 'model.safetensors'), Object.fromEntries(tensors), { format: 'pt' });
    return dst;
  }
  const weightMap: Record<string, string> = {};
  for (let s = 0; s < shards; s++) {
    const file = `model-${String(s + 1).padStart(5, '0')}-of-${String(shards).padStart(5, '0')}.safetensors`;
    const part = tensors.filter((_, i) => i % shards === s);
    for (const [name] of part) weightMap[name] = file;
    writeSafetensors(path.join(dst, file), Object.fromEntries(part), { format: 'pt' });
  }
  fs.writeFileSync(path.join(dst, 'model.safetensors.index.json'), JSON.stringify({ metadata: {}, weight_map: weightMap }, null, 2));
  return dst;
}

const created: string[] = [];

/** Removes every temp folder made through `tempDir` (call from afterAll). */
export function cleanupTempDirs(): void {
  for (const dir of created.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
}
