// The Hub cache on disk, in exactly huggingface_hub's layout (file_download.py), so that what
// Python downloaded is found here and what we download Python finds:
//
//   {cacheDir}/models--{org}--{name}/                   (datasets--{org}--{name}/ for datasets)
//     blobs/{etag}                                      the bytes; etag = sha256 for LFS files, git blob sha1 otherwise
//     blobs/{etag}.incomplete                           a partial download (we resume it with Range)
//     snapshots/{commit}/{file}                         relative symlink to ../../blobs/{etag} (a copy where links fail)
//     refs/{revision}                                   the commit hash that branch or tag pointed to, no newline
//     .no_exist/{commit}/{file}                         empty marker: the Hub said this file does not exist at that commit
//
// A blob is only renamed into place once complete (and sha256-checked when its etag is one), so a
// snapshot file that exists is a good file.
//
// URL: {endpoint}/{repo}/resolve/{revision}/{file} (datasets: {endpoint}/datasets/{repo}/resolve/…).
import * as fs from 'fs';
import * as path from 'path';
import { writeFileAtomic } from '../util/atomic-write';
import { symlinksDisabled } from './environment';
import { HubError } from './errors';
import { HubOptions, ResolvedOptions, resolveOptions } from './options';
import { validateRepoId } from './validate';

/** A full commit hash: revisions that are one need no refs/ lookup (huggingface_hub REGEX_COMMIT_HASH). */
export const isCommitHash = (revision: string) => /^[0-9a-f]{40}$/.test(revision);

/** Throws unless `p` is inside `root` (a last guard after validation). */
export function assertInside(root: string, p: string): string {
  const rel = path.relative(root, p);
  if (rel === '' || rel.startsWith('..') || path.isAbsolute(rel)) {
    throw new HubError('INVALID_ARGUMENT', `Refusing to use ${p}: it is outside the cache folder ${root}.`);
  }
  return p;
}

/** `{cacheDir}/models--owner--name`, the folder of one repo in the Hub cache (huggingface_hub's storage_folder). */
export function repoCacheFolder(repoId: string, opts: HubOptions = {}): string {
  validateRepoId(repoId);
  return repoFolder(repoId, resolveOptions({ ...opts, onProgress: null }));
}

export function repoFolder(repoId: string, o: ResolvedOptions): string {
  const kind = o.repoType === 'dataset' ? 'datasets' : 'models';
  return assertInside(o.cacheDir, path.join(o.cacheDir, [kind, ...repoId.split('/')].join('--')));
}

/** The paths of one repo's cache folder. File names are repo-relative with '/' separators. */
export class RepoCache {
  constructor(readonly folder: string) {}

  blob(etag: string): string {
    if (!/^[A-Za-z0-9._-]+$/.test(etag) || etag.startsWith('.')) {
      throw new HubError('HTTP', `The Hub sent an etag ${JSON.stringify(etag)} that cannot be a file name; refusing to cache it.`);
    }
    return this.inside('blobs', etag);
  }
  snapshotFolder(commit: string): string {
    return this.inside('snapshots', commit);
  }
  pointer(commit: string, filename: string): string {
    return this.inside('snapshots', commit, ...filename.split('/'));
  }
  noExist(commit: string, filename: string): string {
    return this.inside('.no_exist', commit, ...filename.split('/'));
  }
  ref(revision: string): string {
    return this.inside('refs', ...revision.split('/'));
  }

  /** The commit a branch or tag pointed to when last resolved online; a commit hash is itself. */
  commitOf(revision: string): string | null {
    if (isCommitHash(revision)) return revision;
    try {
      const commit = fs.readFileSync(this.ref(revision), 'utf8').trim();
      return commit === '' ? null : commit;
    } catch {
      return null;
    }
  }

  /** Records `revision → commit` (huggingface_hub _cache_commit_hash_for_specific_revision); atomic, only when it changed. */
  writeRef(revision: string, commit: string): void {
    if (revision === commit) return;
    const file = this.ref(revision);
    try {
      if (fs.readFileSync(file, 'utf8') === commit) return; // unchanged: leave a read-only cache alone
    } catch {
      // not there yet
    }
    writeFileAtomic(file, commit);
  }

  private inside(...parts: string[]): string {
    return assertInside(this.folder, path.join(this.folder, ...parts));
  }
}

// huggingface_hub's words, so the file is the same whoever wrote it first.
const CACHEDIR_TAG =
  'Signature: 8a477f597d28d172789f06886806bc55\n' +
  '# This file is a cache directory tag created by huggingface_hub.\n' +
  '# For information about cache directory tags, see:\n' +
  '#\thttps://bford.info/cachedir/\n';

/** Marks the cache folder for backup tools (the Cache Directory Tagging Standard), as huggingface_hub does. */
export function tagCacheFolder(cacheDir: string): void {
  const tag = path.join(cacheDir, 'CACHEDIR.TAG');
  if (fs.existsSync(tag)) return;
  try {
    writeFileAtomic(tag, CACHEDIR_TAG);
  } catch {
    // A read-only cache folder: the tag is a courtesy, not a requirement.
  }
}

export const NO_EXIST = Symbol('the Hub said this file does not exist');

/**
 * The cached copy of one file, without any network access (huggingface_hub.try_to_load_from_cache):
 * the snapshot file of the commit `revision` resolves to through refs/, NO_EXIST when the Hub's
 * "not found" for it was recorded, or null when nothing is known.
 */
export function cachedFile(repo: RepoCache, revision: string, filename: string): string | typeof NO_EXIST | null {
  const commit = repo.commitOf(revision);
  if (commit === null) return null;
  if (isFile(repo.noExist(commit, filename))) return NO_EXIST;
  const pointer = repo.pointer(commit, filename);
  return isFile(pointer) ? pointer : null;
}

/**
 * Makes `pointer` name `blob`, like huggingface_hub's _create_symlink: a relative symlink (the
 * cache folder can be moved), or where symlinks fail (Windows without developer mode, some network
 * or FAT disks) or HF_HUB_DISABLE_SYMLINKS is set, the file itself: moved if the blob is new, else
 * copied (another snapshot may still point at the blob).
 */
export function linkBlob(blob: string, pointer: string, newBlob: boolean): void {
  fs.mkdirSync(path.dirname(pointer), { recursive: true });
  removeIfPresent(pointer);
  if (!symlinksDisabled()) {
    try {
      fs.symlinkSync(path.relative(path.dirname(pointer), blob), pointer);
      return;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'EPERM' && code !== 'EACCES' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP' && code !== 'EINVAL') throw err;
    }
  }
  if (newBlob) fs.renameSync(blob, pointer);
  else fs.copyFileSync(blob, pointer);
}

export function resolveUrl(repoId: string, filename: string, o: ResolvedOptions, revision = o.revision): URL {
  const prefix = o.repoType === 'dataset' ? 'datasets/' : '';
  const file = filename.split('/').map(encodeURIComponent).join('/');
  return new URL(`${o.endpoint}/${prefix}${repoId}/resolve/${encodeURIComponent(revision)}/${file}`);
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
  repo: RepoCache;
  /** blobs/{etag}.incomplete once the etag is known: what error messages point at. */
  partial?: string;
}

export function makeJob(repoId: string, filename: string, o: ResolvedOptions): Job {
  return { repoId, filename, o, url: resolveUrl(repoId, filename, o), repo: new RepoCache(repoFolder(repoId, o)) };
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
