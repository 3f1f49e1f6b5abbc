// snapshot() and resolveRepoFolder(): from a list of wanted files to a local folder that has them,
// either a folder on disk (no network) or a repo revision in the cache (downloading what is missing),
// like huggingface_hub's snapshot_download with allow_patterns, plus offline mode.
//
// A file list entry is one of:
//   'config.json'                                       required
//   'tokenizer.json?'                                   optional (skipped if the repo lacks it)
//   'model.safetensors|model.safetensors.index.json'    the first of these that exists (required)
//   'a|b?'                                              the first that exists, or none
// When the file taken is a sharded-checkpoint index (`*.index.json` with a `weight_map`), the
// shards it names are fetched too, from the index's own folder.
import * as fs from 'fs';
import * as path from 'path';
import { writeFileAtomic } from '../util/atomic-write';
import { assertInside, cachePaths, isFile, repoFolder } from './cache';
import { download } from './download';
import { HubError } from './errors';
import { HubOptions, ResolvedOptions, resolveOptions } from './options';
import { isShardIndex, shardsOf } from './shard-index';
import { validateFilename, validateRepoId } from './validate';

interface FileSpec {
  alternatives: string[];
  optional: boolean;
  text: string;
}

function parseFileSpec(text: string): FileSpec {
  const optional = text.endsWith('?');
  const alternatives = (optional ? text.slice(0, -1) : text).split('|');
  for (const name of alternatives) validateFilename(name, `file name in '${text}'`);
  return { alternatives, optional, text };
}

/**
 * Downloads the listed files of one repo revision (see the entry syntax above) and returns the
 * local folder that holds them: `{cacheDir}/hub/{models|datasets}--{owner}--{name}/{revision}`.
 */
export async function snapshot(repoId: string, files: string[], opts: HubOptions = {}): Promise<string> {
  validateRepoId(repoId);
  const specs = files.map(parseFileSpec);
  const o = resolveOptions(opts);
  const folder = assertInside(o.cacheDir, path.join(repoFolder(repoId, o), encodeURIComponent(o.revision)));
  const fetchOpts: HubOptions = { ...opts, onProgress: o.onProgress };

  for (const spec of specs) {
    let taken: string | null = null;
    if (spec.alternatives.length === 1 && !spec.optional) {
      // A plain required file: download() gives the most precise error (404, offline, …).
      await download(repoId, spec.alternatives[0], fetchOpts);
      taken = spec.alternatives[0];
    } else {
      for (const name of spec.alternatives) {
        if (await fetchIfPresent(repoId, name, o, fetchOpts)) {
          taken = name;
          break;
        }
      }
    }
    if (taken === null) {
      if (spec.optional) continue;
      throw missingAlternativesError(repoId, spec, o);
    }
    if (isShardIndex(taken)) {
      for (const shard of shardsOf(path.join(folder, ...taken.split('/')), taken)) {
        await download(repoId, shard, fetchOpts);
      }
    }
  }
  return folder;
}

/** Downloads `filename` if the repo has it; false (and a .no_exist marker) if the Hub says it does not. */
async function fetchIfPresent(repoId: string, filename: string, o: ResolvedOptions, opts: HubOptions): Promise<boolean> {
  const paths = cachePaths(repoId, filename, o);
  if (isFile(paths.file)) return true;
  if (isFile(paths.noExist)) return false;
  if (o.offline) return false; // unknown: treated as absent, the caller reports what is missing
  try {
    await download(repoId, filename, opts);
    return true;
  } catch (err) {
    if (err instanceof HubError && err.code === 'NOT_FOUND') {
      writeFileAtomic(paths.noExist, '');
      return false;
    }
    throw err;
  }
}

function missingAlternativesError(repoId: string, spec: FileSpec, o: ResolvedOptions): HubError {
  const names = spec.alternatives.map((n) => `'${n}'`).join(' or ');
  if (o.offline) {
    const first = cachePaths(repoId, spec.alternatives[0], o).file;
    return new HubError(
      'NOT_CACHED',
      `Offline mode (HF_HUB_OFFLINE=1) and none of ${names} of ${o.repoType} repo '${repoId}' is in the cache. ` +
        `Put one at ${first} (same folder for the others), or point QLORA_MODEL / QLORA_DATA at a local folder that has it.`,
    );
  }
  return new HubError('NOT_FOUND', `${o.repoType === 'dataset' ? 'Dataset' : 'Model'} repo '${repoId}' (revision '${o.revision}') has none of ${names}.`);
}

/**
 * A local folder (returned as is, after checking the required files are there; no network), or
 * a Hub repo id (snapshot of `files`). `loadPretrained` and `loadTokenizer` call this, so
 * QLORA_MODEL may be either. A local folder wins over a repo id of the same spelling.
 */
export async function resolveRepoFolder(pathOrRepoId: string, files: string[], opts: HubOptions = {}): Promise<string> {
  const specs = files.map(parseFileSpec);
  const local = path.resolve(pathOrRepoId);
  if (fs.existsSync(local) && fs.statSync(local).isDirectory()) {
    checkLocalFolder(local, specs);
    return local;
  }
  if (looksLikePath(pathOrRepoId)) {
    throw new HubError(
      'NOT_FOUND',
      `Local folder ${local} does not exist (from ${JSON.stringify(pathOrRepoId)}). Give an existing folder, or a Hub repo id like 'distilbert-base-uncased'.`,
    );
  }
  return snapshot(pathOrRepoId, files, opts);
}

function looksLikePath(s: string): boolean {
  return s.startsWith('.') || s.startsWith('~') || path.isAbsolute(s) || s.includes('\\') || s.split('/').length > 2;
}

function checkLocalFolder(folder: string, specs: FileSpec[]): void {
  const has = (name: string) => isFile(path.join(folder, ...name.split('/')));
  for (const spec of specs) {
    const taken = spec.alternatives.find(has);
    if (taken === undefined) {
      if (spec.optional) continue;
      const names = spec.alternatives.map((n) => `'${n}'`).join(' or ');
      throw new HubError('NOT_FOUND', `Local folder ${folder} has no ${names}. Add it, or use a Hub repo id instead.`);
    }
    if (isShardIndex(taken)) {
      for (const shard of shardsOf(path.join(folder, ...taken.split('/')), taken)) {
        if (!has(shard)) throw new HubError('NOT_FOUND', `Local folder ${folder}: shard '${shard}' named in '${taken}' is missing.`);
      }
    }
  }
}
