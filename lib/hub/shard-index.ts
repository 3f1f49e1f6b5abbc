// The shard files named by a sharded checkpoint's index (`model.safetensors.index.json`), so that
// snapshot() and local-folder checks fetch or look for each of them.
import * as fs from 'fs';
import * as path from 'path';
import { HubError } from './errors';
import { validateFilename } from './validate';

export const isShardIndex = (filename: string) => filename.endsWith('.index.json');

/** The shard files named by a `*.index.json` (unique, validated, relative to the repo root). */
export function shardsOf(indexPath: string, indexName: string): string[] {
  let weightMap: unknown;
  try {
    weightMap = JSON.parse(fs.readFileSync(indexPath, 'utf8')).weight_map;
  } catch (err) {
    throw new HubError('BAD_FILE', `Cannot read the shard index ${indexPath}: ${(err as Error).message}. Delete it to re-download.`);
  }
  if (typeof weightMap !== 'object' || weightMap === null || Array.isArray(weightMap)) {
    throw new HubError('BAD_FILE', `Shard index ${indexPath} has no "weight_map" object (tensor name → shard file).`);
  }
  const dir = path.posix.dirname(indexName);
  const shards = new Set<string>();
  for (const shard of Object.values(weightMap as Record<string, unknown>)) {
    if (typeof shard !== 'string') {
      throw new HubError('BAD_FILE', `Shard index ${indexPath}: weight_map values must be file names, got ${JSON.stringify(shard)}.`);
    }
    validateFilename(shard, `shard name in ${indexPath}`);
    shards.add(dir === '.' ? shard : `${dir}/${shard}`);
  }
  return [...shards].sort();
}

