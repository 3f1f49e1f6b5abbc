// download(): one file of a Hub repo into the cache, like huggingface_hub's hf_hub_download.
// Partial files are resumed with a Range request, the Hub's sha256 (X-Linked-Etag of LFS files) is
// checked before the file is renamed into place, cut connections and 5xx/429 answers are retried
// with exponential backoff, and progress goes to util/progress.ts.
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as http from 'http';
import * as path from 'path';
import { pipeline } from 'stream/promises';
import { ByteMeter, formatBytes } from '../util/progress';
import { writeFileAtomic } from '../util/atomic-write';
import { Job, describeFile, fileSize, isFile, makeJob, removeIfPresent } from './cache';
import { httpError, notCachedError, toHubError } from './download-errors';
import { HubError } from './errors';
import { Opened, USER_AGENT, headerInt, isSha256, normalizeEtag, openFollowingRedirects, parseContentRange } from './http-client';
import { HubOptions, resolveOptions } from './options';
import { validateFilename, validateRepoId } from './validate';

/**
 * Downloads one file of a Hub repo into the cache (once) and returns its local path.
 * A cached file is returned without any network access; in offline mode only the cache is used.
 */
export async function download(repoId: string, filename: string, opts: HubOptions = {}): Promise<string> {
  validateRepoId(repoId);
  validateFilename(filename);
  const o = resolveOptions(opts);
  const job = makeJob(repoId, filename, o);

  if (isFile(job.paths.file)) return job.paths.file;
  if (o.offline) throw notCachedError(job);

  fs.mkdirSync(path.dirname(job.paths.file), { recursive: true });
  for (let attempt = 0; ; attempt++) {
    try {
      await downloadOnce(job);
      return job.paths.file;
    } catch (err) {
      const e = toHubError(err, job);
      if (!e.retryable || attempt >= o.retries) throw e;
      await sleep(o.retryDelayMs * 2 ** attempt);
    }
  }
}

/** One GET (resuming a partial file if there is one), then verify and move into place. */
async function downloadOnce(job: Job): Promise<void> {
  const { paths, o } = job;
  const have = fileSize(paths.partial);
  const headers: Record<string, string> = { 'User-Agent': USER_AGENT, 'Accept-Encoding': 'identity' };
  if (have > 0) headers.Range = `bytes=${have}-`;

  let opened: Opened;
  try {
    opened = await openFollowingRedirects(job.url, headers, o.token, o.timeoutMs);
  } catch (err) {
    throw toHubError(err, job, 'connect');
  }
  const { res } = opened;
  const status = res.statusCode ?? 0;
  const expectedEtag = opened.linkedEtag ?? normalizeEtag(res.headers.etag);

  if (status === 416 && have > 0) {
    // Our partial file reaches the end already (a run killed between the last byte and the
    // rename), or it is longer than the file: verify it, or start again.
    res.resume();
    const total = parseContentRange(res.headers['content-range'] as string | undefined)?.total ?? opened.linkedSize;
    if (total === have) {
      const meter = new ByteMeter(job.filename, total, have, o.onProgress);
      await finish(job, expectedEtag, total, meter);
      return;
    }
    discardPartial(job);
    return downloadOnce(job);
  }
  if (status !== 200 && status !== 206) {
    res.resume();
    throw httpError(job, res, opened.url);
  }

  let start = 0;
  let total: number | null;
  if (status === 206) {
    const range = parseContentRange(res.headers['content-range'] as string | undefined);
    const recordedEtag = readPartialEtag(job);
    const fileChanged = recordedEtag !== null && expectedEtag !== null && recordedEtag !== expectedEtag;
    if (!range || range.start !== have || fileChanged) {
      // Not the continuation of what we have: drop the partial file and fetch the whole file.
      res.destroy();
      discardPartial(job);
      return downloadOnce(job);
    }
    start = have;
    total = range.total;
  } else {
    // 200: either a fresh download or a server that ignored our Range; both start from byte 0.
    total = headerInt(res.headers['content-length']) ?? opened.linkedSize;
  }
  if (start === 0) writeFileAtomic(paths.partialMeta, JSON.stringify({ etag: expectedEtag }) + '\n');

  // From here until writeBody listens to `res`, everything is synchronous: an await would let
  // socket events (data, a cut connection) fire with nobody listening.
  if (total !== null) {
    try {
      checkFreeSpace(job, total - start);
    } catch (err) {
      res.destroy();
      throw err;
    }
  }

  const meter = new ByteMeter(job.filename, total, start, o.onProgress);
  try {
    await writeBody(res, paths.partial, start > 0, meter);
  } catch (err) {
    throw toHubError(err, job, 'body', total);
  }

  const size = fileSize(paths.partial);
  if (total !== null && size !== total) {
    throw new HubError(
      'INTERRUPTED',
      `Download of ${describeFile(job.repoId, job.filename, o)} stopped at ${formatBytes(size)} of ${formatBytes(total)}. ` +
        `The partial file ${paths.partial} is kept; running again resumes it.`,
      { retryable: true },
    );
  }
  await finish(job, expectedEtag, size, meter);
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

/** Verify the partial file against the Hub's sha256, record it, rename it into place. */
async function finish(job: Job, expectedEtag: string | null, size: number, meter: ByteMeter): Promise<void> {
  const { paths } = job;
  let sha256: string | null = null;
  if (isSha256(expectedEtag)) {
    sha256 = await sha256OfFile(paths.partial);
    if (sha256 !== expectedEtag.toLowerCase()) {
      discardPartial(job);
      throw new HubError(
        'CHECKSUM',
        `Checksum mismatch for ${describeFile(job.repoId, job.filename, job.o)}: the Hub says sha256 ${expectedEtag.toLowerCase()}, ` +
          `the downloaded bytes have ${sha256}. The bad download was deleted and not used; run again to re-download ` +
          `(if this repeats, something between you and ${job.url.host} is altering the file).`,
      );
    }
  }
  // Non-LFS files carry a git blob sha1 (40 hex) as ETag: not a content hash we can check here.
  const record = { etag: expectedEtag, sha256, size, url: job.url.toString(), downloadedAt: new Date().toISOString() };
  writeFileAtomic(paths.meta, JSON.stringify(record, null, 2) + '\n');
  fs.renameSync(paths.partial, paths.file);
  removeIfPresent(paths.partialMeta);
  meter.finish();
}

function readPartialEtag(job: Job): string | null {
  try {
    const etag = JSON.parse(fs.readFileSync(job.paths.partialMeta, 'utf8')).etag;
    return typeof etag === 'string' ? etag : null;
  } catch {
    return null;
  }
}

function discardPartial(job: Job): void {
  removeIfPresent(job.paths.partial);
  removeIfPresent(job.paths.partialMeta);
}

function checkFreeSpace(job: Job, needed: number): void {
  const folder = path.dirname(job.paths.partial);
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
        `${formatBytes(free)} free. Free some space or set QLORA_CACHE_DIR to a folder on a bigger disk.`,
    );
  }
}

async function sha256OfFile(p: string): Promise<string> {
  const hash = crypto.createHash('sha256');
  await pipeline(fs.createReadStream(p), hash);
  return hash.digest('hex');
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
