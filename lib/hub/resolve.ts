// snapshot() and resolveRepoFolder(): from a list of wanted files to a local folder that has them,
// either a folder on disk (no network) or a snapshot in the Hub cache (downloading what is missing),
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
import { makeJob, isFile } from './cache';
import { fetchToCache } from './download';
import { localVariable } from './download-errors';
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
 * Downloads the listed files of one repo revision (see the entry syntax above) into the Hub cache
 * and returns the snapshot folder that holds them, `{cacheDir}/models--org--name/snapshots/{commit}`,
 * like huggingface_hub's snapshot_download(allow_patterns=…). The first answer from the Hub pins
 * the commit: the other files are fetched at that commit, so a push to `main` half-way cannot mix
 * two versions, and files already cached for it need no request at all.
 */
export async function snapshot(repoId: string, files: string[], opts: HubOptions = {}): Promise<string> {
  validateRepoId(repoId);
  const specs = files.map(parseFileSpec);
  let o = resolveOptions(opts);
  let commit: string | null = null;
  // One file: its path, null when the Hub says the repo lacks it; pins the commit on the way.
  const fetchOne = async (filename: string, required: boolean): Promise<string | null> => {
    const job = makeJob(repoId, filename, o);
    let got;
    try {
      got = await fetchToCache(job);
    } catch (err) {
      // Offline, an optional file that was never asked about counts as absent.
      if (!required && err instanceof HubError && err.code === 'NOT_CACHED') return null;
      throw err;
    }
    if (got.commit !== null && commit === null) {
      commit = got.commit;
      o = { ...o, revision: commit };
    }
    if (got.path === null && required) throw got.error;
    return got.path;
  };

  const taken: string[] = [];
  for (const spec of specs) {
    let name: string | null = null;
    const alone = spec.alternatives.length === 1 && !spec.optional;
    for (const candidate of spec.alternatives) {
      // A plain required file gets download()'s precise error (404, offline, …).
      if ((await fetchOne(candidate, alone)) !== null) {
        name = candidate;
        break;
      }
    }
    if (name === null) {
      if (spec.optional) continue;
      throw missingAlternativesError(repoId, spec, o);
    }
    taken.push(name);
  }
  if (commit === null) {
    throw new HubError('NOT_FOUND', `None of ${files.map((f) => `'${f}'`).join(', ')} is in ${o.repoType} repo '${repoId}' (revision '${o.revision}').`);
  }
  const folder = makeJob(repoId, specs[0].alternatives[0], o).repo.snapshotFolder(commit);
  for (const name of taken.filter(isShardIndex)) {
    for (const shard of shardsOf(path.join(folder, ...name.split('/')), name)) await fetchOne(shard, true);
  }
  return folder;
}

function missingAlternativesError(repoId: string, spec: FileSpec, o: ResolvedOptions): HubError {
  const names = spec.alternatives.map((n) => `'${n}'`).join(' or ');
  if (o.offline) {
    const job = makeJob(repoId, spec.alternatives[0], o);
    return new HubError(
      'NOT_CACHED',
      `Offline (HF_HUB_OFFLINE=1), and none of ${names} of ${o.repoType} repo '${repoId}' is in the Hugging Face cache ${o.cacheDir}: ` +
        `download it once with network, or set ${localVariable(job)} to a local folder that has it.`,
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
