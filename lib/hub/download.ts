// download(): one file of a Hub repo into the Hub cache, like huggingface_hub's hf_hub_download
// (_hf_hub_download_to_cache_dir), in its layout (cache.ts). Online, the revision is resolved
// with a HEAD (metadata.ts) every time, as Python does, so `main` follows the Hub; the bytes are
// only fetched when the cache lacks that blob. Offline ($HF_HUB_OFFLINE, opts.offline), or when the
// Hub cannot be reached or refuses, refs/{revision} leads to the cached snapshot.
//
// Why our own code and not @huggingface/hub's downloadFileToCacheDir: that function names the
// snapshot folder after the commit that last touched the file (not the commit `main` points to,
// where Python looks), never writes refs/main (so no offline lookup), downloads the whole file
// again after any interruption, checks no sha256, and has no offline fallback. Kept here, beyond
// what Python does: a `.incomplete` blob is resumed with a Range request (Python now restarts from
// byte 0), an LFS file's sha256 (its etag) is checked before the blob is renamed into place, cut
// connections and 5xx/429 are retried with backoff, and every failure is a HubError saying what to do.
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as http from 'http';
import * as path from 'path';
import { pipeline } from 'stream/promises';
import { formatBytes } from '../util/format';
import { ByteMeter } from '../util/progress';
import { writeFileAtomic } from '../util/atomic-write';
import { Job, NO_EXIST, cachedFile, describeFile, fileSize, isCommitHash, isFile, linkBlob, makeJob, removeIfPresent, tagCacheFolder } from './cache';
import { notCachedError, httpError, toHubError } from './download-errors';
import { HubError } from './errors';
import { USER_AGENT, headerInt, isSha256, openFollowingRedirects, parseContentRange } from './http-client';
import { withFileLock } from './lock';
import { FileMetadata, getFileMetadata } from './metadata';
import { HubOptions, resolveOptions } from './options';
import { validateFilename, validateRepoId } from './validate';

/**
 * Downloads one file of a Hub repo into the Hub cache (once) and returns its path,
 * `{cacheDir}/models--org--name/snapshots/{commit}/{filename}` (a symlink into blobs/).
 * Throws a HubError: NOT_FOUND (the repo has no such file), NOT_CACHED (offline and not cached),
 * NETWORK, AUTH, REPO_NOT_FOUND, CHECKSUM, DISK_FULL, INTERRUPTED, … (see errors.ts).
 */
export async function download(repoId: string, filename: string, opts: HubOptions = {}): Promise<string> {
  validateRepoId(repoId);
  validateFilename(filename);
  const got = await fetchToCache(makeJob(repoId, filename, resolveOptions(opts)));
  if (got.path === null) throw got.error;
  return got.path;
}

/**
 * A cached file and the commit it belongs to; or the Hub's "no such file" (commit known when the Hub said it).
 * Every member names every field: tslab compiles lib/ without strictNullChecks, where `path: null`
 * narrows nothing and a field missing from one member cannot be read at all.
 */
export type Fetched = { path: string; commit: string; error?: undefined } | { path: null; commit: string | null; error: HubError };

/** download() for callers that need the commit (snapshot pins it) or treat a missing file as an answer. */
export async function fetchToCache(job: Job): Promise<Fetched> {
  const { repo, o, filename } = job;
  // A commit never changes: what is cached for it is final, no need to ask (huggingface_hub does the same).
  if (isCommitHash(o.revision)) {
    const hit = fromCache(job);
    if (hit !== null) return hit;
  }
  if (o.offline) {
    const hit = fromCache(job);
    if (hit === null) throw notCachedError(job);
    return hit;
  }

  for (let attempt = 0; ; attempt++) {
    let meta: FileMetadata;
    try {
      const answer = await getFileMetadata(job);
      if (!answer.found) {
        if (answer.commit !== null) {
          try {
            writeFileAtomic(repo.noExist(answer.commit, filename), '');
            repo.writeRef(o.revision, answer.commit);
          } catch {
            // A read-only cache: the answer is still right, only not remembered (huggingface_hub logs and goes on).
          }
        }
        return { path: null, commit: answer.commit, error: answer.error };
      }
      meta = answer.meta;
    } catch (err) {
      const e = toHubError(err, job);
      if (e.code === 'INVALID_ARGUMENT') throw e;
      // Hub unreachable, refusing (401, 5xx) or not looking like the Hub: like huggingface_hub,
      // use what the cache has for this revision before giving up.
      const hit = fromCache(job);
      if (hit !== null) return hit;
      if (!e.retryable || attempt >= o.retries) throw e;
      await sleep(o.retryDelayMs * 2 ** attempt);
      continue;
    }
    try {
      return { path: await placeFile(job, meta), commit: meta.commit };
    } catch (err) {
      const e = toHubError(err, job);
      if (!e.retryable || attempt >= o.retries) throw e;
      await sleep(o.retryDelayMs * 2 ** attempt);
    }
  }
}

function fromCache(job: Job): Fetched | null {
  const hit = cachedFile(job.repo, job.o.revision, job.filename);
  if (hit === null) return null;
  const commit = job.repo.commitOf(job.o.revision) as string;
  if (hit === NO_EXIST) {
    const error = new HubError('NOT_FOUND', `The Hub said ${describeFile(job.repoId, job.filename, job.o)} does not exist (remembered in ${job.repo.noExist(commit, job.filename)}).`);
    return { path: null, commit, error };
  }
  return { path: hit, commit };
}

/** snapshots/{commit}/{file} → blobs/{etag}, downloading the blob unless it is there (another revision may share it). */
async function placeFile(job: Job, meta: FileMetadata): Promise<string> {
  const { repo, o, filename } = job;
  const pointer = repo.pointer(meta.commit, filename);
  if (isFile(pointer)) {
    try {
      repo.writeRef(o.revision, meta.commit);
    } catch {
      // A read-only cache (shared, mounted) still serves its files: the ref update is best effort.
    }
    return pointer;
  }
  const blob = repo.blob(meta.etag);
  tagCacheFolder(o.cacheDir);
  repo.writeRef(o.revision, meta.commit);
  // Python's .locks/ folder, our own lock file name in it (see lock.ts).
  const lock = path.join(o.cacheDir, '.locks', path.basename(repo.folder), `${meta.etag}.qlora.lock`);
  return withFileLock(lock, async () => {
    if (isFile(pointer)) return pointer; // another process placed it while we waited
    if (isFile(blob)) {
      linkBlob(blob, pointer, false); // the same bytes under another name or commit: no download
      return pointer;
    }
    fs.mkdirSync(path.dirname(blob), { recursive: true });
    await downloadBlob(job, meta, blob);
    linkBlob(blob, pointer, true);
    return pointer;
  });
}

/** GET the bytes into blobs/{etag}.incomplete (resuming what is there), verify, rename to blobs/{etag}. */
async function downloadBlob(job: Job, meta: FileMetadata, blob: string): Promise<void> {
  const { o } = job;
  const partial = blob + '.incomplete';
  job.partial = partial;
  let have = fileSize(partial);
  if (have > meta.size) {
    removeIfPresent(partial); // longer than the file: not a prefix of it
    have = 0;
  }
  if (have > 0 && have === meta.size) {
    // A run stopped between the last byte and the rename: verify what is there.
    return finish(job, meta, partial, blob, new ByteMeter(job.filename, meta.size, have, o.onProgress));
  }

  const headers: Record<string, string> = { 'User-Agent': USER_AGENT, 'Accept-Encoding': 'identity' };
  if (have > 0) headers.Range = `bytes=${have}-`;
  // The token goes to the Hub only, never to a CDN on another host (huggingface_hub drops it too).
  const token = meta.location.origin === new URL(o.endpoint).origin ? o.token : null;
  let res: http.IncomingMessage;
  try {
    res = (await openFollowingRedirects(meta.location, headers, token, o.timeoutMs)).res;
  } catch (err) {
    throw toHubError(err, job, 'connect');
  }
  const status = res.statusCode ?? 0;

  if (status === 416 && have > 0) {
    res.resume();
    removeIfPresent(partial); // the server says our partial file is not a prefix it can continue
    return downloadBlob(job, meta, blob);
  }
  if (status !== 200 && status !== 206) {
    res.resume();
    throw httpError(job, res, meta.location);
  }
  let start = 0;
  if (status === 206) {
    const range = parseContentRange(res.headers['content-range'] as string | undefined);
    if (!range || range.start !== have || (range.total !== null && range.total !== meta.size)) {
      // Not the continuation of what we have: drop the partial file and fetch the whole file.
      res.destroy();
      removeIfPresent(partial);
      return downloadBlob(job, meta, blob);
    }
    start = have;
  } else {
    const length = headerInt(res.headers['content-length']);
    if (length !== null && length !== meta.size) {
      res.destroy();
      throw new HubError(
        'HTTP',
        `The Hub announced ${formatBytes(meta.size)} for ${describeFile(job.repoId, job.filename, o)} but ${meta.location.host} sends ${formatBytes(length)}; not caching it. Run again; if this repeats, a proxy is altering the download.`,
        { retryable: true },
      );
    }
  }

  // From here until writeBody listens to `res`, everything is synchronous: an await would let
  // socket events (data, a cut connection) fire with nobody listening.
  try {
    checkFreeSpace(job, partial, meta.size - start);
  } catch (err) {
    res.destroy();
    throw err;
  }
  const meter = new ByteMeter(job.filename, meta.size, start, o.onProgress);
  try {
    await writeBody(res, partial, start > 0, meter);
  } catch (err) {
    throw toHubError(err, job, 'body', meta.size);
  }
  const size = fileSize(partial);
  if (size !== meta.size) {
    throw new HubError(
      'INTERRUPTED',
      `Download of ${describeFile(job.repoId, job.filename, o)} stopped at ${formatBytes(size)} of ${formatBytes(meta.size)}. ` +
        `The partial file ${partial} is kept; running again resumes it.`,
      { retryable: true },
    );
  }
  await finish(job, meta, partial, blob, meter);
}

/**
 * Streams a response body into `file`. When the connection breaks, the bytes that did arrive
 * are still flushed to disk before the error is thrown, so that a resume can start after them
 * (stream.pipeline would destroy the file stream and drop its buffered writes).
 */
function writeBody(res: http.IncomingMessage, file: string, append: boolean, meter: ByteMeter): Promise<void> {
  return new Promise((resolve, reject) => {
    if (res.destroyed) {
      reject(Object.assign(new Error('the connection closed before the body was read'), { code: 'ECONNRESET' }));
      return;
    }
    const out = fs.createWriteStream(file, { flags: append ? 'a' : 'w' });
    let readError: Error | null = null;
    let ending = false;
    const endFile = () => {
      if (ending || out.destroyed) return;
      ending = true;
      out.end();
    };

    res.on('data', (chunk: Buffer) => {
      meter.add(chunk.length);
      if (!out.write(chunk)) res.pause(); // let the disk catch up
    });
    out.on('drain', () => res.resume());
    res.on('end', endFile);
    res.on('error', (err) => {
      readError = readError ?? err;
      endFile();
    });
    res.on('close', () => {
      if (!res.complete) {
        readError = readError ?? Object.assign(new Error('the connection closed before the end of the file'), { code: 'ECONNRESET' });
      }
      endFile();
    });
    out.on('error', (err) => {
      res.destroy(); // a write error (ENOSPC…): stop downloading
      reject(err);
    });
    out.on('close', () => (readError ? reject(readError) : resolve()));
  });
}

/** Verify the partial blob against its sha256 etag (LFS files), then rename it into place. */
async function finish(job: Job, meta: FileMetadata, partial: string, blob: string, meter: ByteMeter): Promise<void> {
  // Non-LFS files carry a git blob sha1 (40 hex) as etag: not a content hash we can check here.
  if (isSha256(meta.etag)) {
    const sha256 = await sha256OfFile(partial);
    if (sha256 !== meta.etag.toLowerCase()) {
      removeIfPresent(partial);
      throw new HubError(
        'CHECKSUM',
        `Checksum mismatch for ${describeFile(job.repoId, job.filename, job.o)}: the Hub says sha256 ${meta.etag.toLowerCase()}, ` +
          `the downloaded bytes have ${sha256}. The bad download was deleted and not used; run again to re-download ` +
          `(if this repeats, something between you and ${meta.location.host} is altering the file).`,
      );
    }
  }
  fs.renameSync(partial, blob);
  meter.finish();
}

function checkFreeSpace(job: Job, partial: string, needed: number): void {
  const folder = path.dirname(partial);
  let free: number;
  try {
    const s = fs.statfsSync(folder);
    free = s.bavail * s.bsize;
  } catch {
    return; // statfs unsupported here: the write itself will report ENOSPC
  }
  if (needed > free) {
    throw new HubError(
      'DISK_FULL',
      `Not enough disk space for ${describeFile(job.repoId, job.filename, job.o)}: ${formatBytes(needed)} needed in ${folder}, ` +
        `${formatBytes(free)} free. Free some space or set HF_HUB_CACHE to a folder on a bigger disk.`,
    );
  }
}

async function sha256OfFile(p: string): Promise<string> {
  const hash = crypto.createHash('sha256');
  await pipeline(fs.createReadStream(p), hash);
  return hash.digest('hex');
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
