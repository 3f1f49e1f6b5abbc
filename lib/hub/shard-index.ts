// The shard files named by a sharded checkpoint's index (`model.safetensors.index.json`), so that
// snapshot() and local-folder checks fetch or look for each of them. The index itself is parsed
// by the one reader in io/sharded.ts; here its errors become HubErrors and names become repo paths.
import * as path from 'path';
import { parseShardIndex } from '../io/sharded';
import { HubError } from './errors';
import { validateFilename } from './validate';

export const isShardIndex = (filename: string) => filename.endsWith('.index.json');

/** The shard files named by a `*.index.json` (unique, validated, relative to the repo root). */
export function shardsOf(indexPath: string, indexName: string): string[] {
  let shards: string[];
  try {
    shards = parseShardIndex(indexPath).shards;
  } catch (err) {
    throw new HubError('BAD_FILE', `Cannot use the shard index: ${(err as Error).message}`);
  }
  const dir = path.posix.dirname(indexName);
  return shards.map((shard) => {
    validateFilename(shard, `shard name in ${indexPath}`);
    return dir === '.' ? shard : `${dir}/${shard}`;
  });
}
