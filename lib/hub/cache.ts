// Where one file of one revision of one repo lives: in the local cache, and on the Hub.
//
// Cache layout, under cacheDir ($QLORA_CACHE_DIR, else `data/` relative to the current folder,
// which is the repo root for the notebook, jest and the scripts):
//   hub/{models|datasets}--{owner}--{name}/{revision}/{file}            the verified file
//   hub/{models|datasets}--{owner}--{name}/{revision}/{file}.incomplete  a partial download (resumed with Range)
//   hub/{models|datasets}--{owner}--{name}/.meta/{revision}/{file}.json  etag, sha256, size, url of the file
//   hub/{models|datasets}--{owner}--{name}/.no_exist/{revision}/{file}   "the Hub said this optional file does not exist"
// A file is only renamed into place after it is complete and its sha256 (when the Hub gives one)
// matches, so a present file is a good file: it is used without asking the network again.
// Revisions with a slash (`refs/pr/1`) are URL-encoded into one folder name (`refs%2Fpr%2F1`).
//
// URL: {endpoint}/{repo}/resolve/{revision}/{file} (datasets: {endpoint}/datasets/{repo}/resolve/…).
import * as fs from 'fs';
import * as path from 'path';
import { HubError } from './errors';
import { HubOptions, ResolvedOptions, resolveOptions } from './options';
import { validateRepoId } from './validate';

/** Throws unless `p` is inside `root` (a last guard after validation). */
export function assertInside(root: string, p: string): string {
  const rel = path.relative(root, p);
  if (rel === '' || rel.startsWith('..') || path.isAbsolute(rel)) {
    throw new HubError('INVALID_ARGUMENT', `Refusing to use ${p}: it is outside the cache folder ${root}.`);
  }
  return p;
}

/** `{cacheDir}/hub/models--owner--name`, the folder of one repo in the cache. */
export function repoCacheFolder(repoId: string, opts: HubOptions = {}): string {
  validateRepoId(repoId);
  const o = resolveOptions({ ...opts, onProgress: null });
  return repoFolder(repoId, o);
}

export function repoFolder(repoId: string, o: ResolvedOptions): string {
  const kind = o.repoType === 'dataset' ? 'datasets' : 'models';
  return assertInside(o.cacheDir, path.join(o.cacheDir, 'hub', `${kind}--${repoId.replace('/', '--')}`));
}

/** All local paths belonging to one file of one revision of one repo. */
export interface CachePaths {
  file: string; // the verified file
  partial: string; // the download in progress
  meta: string; // etag/sha of the verified file
  partialMeta: string; // etag of the download in progress, to notice a file that changed meanwhile
  noExist: string; // marker: the Hub says this file does not exist
}

export function cachePaths(repoId: string, filename: string, o: ResolvedOptions): CachePaths {
  const repoDir = repoFolder(repoId, o);
  const rev = encodeURIComponent(o.revision);
  const parts = filename.split('/');
  const inside = (p: string) => assertInside(repoDir, p);
  const file = inside(path.join(repoDir, rev, ...parts));
  const meta = inside(path.join(repoDir, '.meta', rev, ...parts) + '.json');
  return {
    file,
    partial: file + '.incomplete',
    meta,
    partialMeta: meta.replace(/\.json$/, '.incomplete.json'),
    noExist: inside(path.join(repoDir, '.no_exist', rev, ...parts)),
  };
}

export function resolveUrl(repoId: string, filename: string, o: ResolvedOptions): URL {
  const prefix = o.repoType === 'dataset' ? 'datasets/' : '';
  const file = filename.split('/').map(encodeURIComponent).join('/');
  return new URL(`${o.endpoint}/${prefix}${repoId}/resolve/${encodeURIComponent(o.revision)}/${file}`);
}

/** How messages name a file: `'config.json' of model repo 'x' (revision 'main')`. */
export function describeFile(repoId: string, filename: string, o: ResolvedOptions): string {
  return `'${filename}' of ${o.repoType} repo '${repoId}' (revision '${o.revision}')`;
}

/** One file of one repo revision to fetch: what the download code and its errors talk about. */
export interface Job {
  repoId: string;
  filename: string;
  o: ResolvedOptions;
  url: URL;
  paths: CachePaths;
}

export function makeJob(repoId: string, filename: string, o: ResolvedOptions): Job {
  return { repoId, filename, o, url: resolveUrl(repoId, filename, o), paths: cachePaths(repoId, filename, o) };
}

// Small file helpers: a missing file has size 0 and is not a file.

export function fileSize(p: string): number {
  try {
    return fs.statSync(p).size;
  } catch {
    return 0;
  }
}

export function isFile(p: string): boolean {
  try {
    return fs.statSync(p).isFile();
  } catch {
    return false;
  }
}

export function removeIfPresent(p: string): void {
  fs.rmSync(p, { force: true });
}
