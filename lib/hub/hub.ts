// Downloads files from the Hugging Face Hub into a local cache, like `huggingface_hub` does.
//
//   download('distilbert-base-uncased', 'config.json')                → data/hub/models--distilbert-base-uncased/main/config.json
//   snapshot('distilbert-base-uncased', ['config.json', 'model.safetensors|model.safetensors.index.json', 'tokenizer.json?'])
//   resolveRepoFolder(process.env.QLORA_MODEL ?? 'distilbert-base-uncased', files)   // a local folder wins, no network
//
// URL: {endpoint}/{repo}/resolve/{revision}/{file} (datasets: {endpoint}/datasets/{repo}/resolve/…).
// The Hub answers large (LFS) files with a redirect to a CDN and puts the file's sha256 in the
// `X-Linked-Etag` header of that redirect; small files come straight back with a git-blob ETag.
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
// Auth: `Authorization: Bearer $HF_TOKEN` goes to the endpoint and to redirects on the same
// origin only. Like `requests` (which huggingface_hub uses), the header is dropped as soon as a
// redirect leaves the origin, so the token never reaches a CDN or another host.
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as http from 'http';
import * as https from 'https';
import * as path from 'path';
import { pipeline } from 'stream/promises';
import { ByteMeter, ProgressCallback, consoleProgress, formatBytes } from '../util/progress';
import { writeFileAtomic } from '../util/atomic-write';

export type RepoType = 'model' | 'dataset';

export interface HubOptions {
  /** Branch, tag or commit (default 'main'). */
  revision?: string;
  /** Default 'model'. */
  repoType?: RepoType;
  /** Default $QLORA_CACHE_DIR, else 'data' (relative to the current folder). */
  cacheDir?: string;
  /** Default $HF_TOKEN. An empty string means no token. */
  token?: string;
  /** Default $HF_ENDPOINT, else https://huggingface.co. */
  endpoint?: string;
  /** Never touch the network; only cached files (default: $HF_HUB_OFFLINE is 1/true/yes/on). */
  offline?: boolean;
  /** Progress events; default prints to stderr (see consoleProgress); null for silence. */
  onProgress?: ProgressCallback | null;
  /** Retries after a cut connection, a timeout or a 5xx/429 answer (default 3). */
  retries?: number;
  /** First retry delay; it doubles each time (default 1000 ms). */
  retryDelayMs?: number;
  /** Give up on a connection silent for this long (default 30 000 ms). */
  timeoutMs?: number;
}

export type HubErrorCode =
  | 'INVALID_ARGUMENT' // a bad repo id, file name, revision or endpoint
  | 'NETWORK' // the endpoint cannot be reached (offline, DNS, refused, timeout)
  | 'AUTH' // 401/403: a token is needed, or the one given is wrong
  | 'REPO_NOT_FOUND' // the server says the repo or the revision does not exist
  | 'NOT_FOUND' // 404 for the file (or the server did not say which part was wrong)
  | 'CHECKSUM' // the downloaded bytes do not match the Hub's sha256
  | 'DISK_FULL' // ENOSPC, or not enough free space for the announced size
  | 'NOT_CACHED' // offline, and the file is not in the cache
  | 'INTERRUPTED' // the connection broke mid-file; the partial file is kept for a resume
  | 'REDIRECT' // too many redirects, or a redirect without a usable Location
  | 'BAD_FILE' // a downloaded index file is not what it should be
  | 'HTTP'; // any other unexpected HTTP answer

export class HubError extends Error {
  readonly code: HubErrorCode;
  /** Worth another try (cut connection, timeout, 5xx, 429). */
  readonly retryable: boolean;

  constructor(code: HubErrorCode, message: string, opts: { retryable?: boolean; cause?: unknown } = {}) {
    super(message, opts.cause !== undefined ? { cause: opts.cause } : undefined);
    this.name = 'HubError';
    this.code = code;
    this.retryable = opts.retryable ?? false;
  }
}

const DEFAULT_ENDPOINT = 'https://huggingface.co';
const USER_AGENT = 'distilbert-qlora-ts/0.1 (hub.ts; node)';
const MAX_REDIRECTS = 10;

// ---------------------------------------------------------------------------------------------
// Validation: everything that becomes part of a local path is checked here, so that nothing a
// caller, a server or a downloaded index file says can point outside the cache folder.

// The Hub's own rule (huggingface_hub.utils.validate_repo_id): `name` or `owner/name`, each part
// of letters, digits, '_', '-', '.', starting and ending with a letter, digit or '_', at most 96
// characters; no '--' or '..' anywhere; not ending in '.git'.
const REPO_PART = /^[A-Za-z0-9_](?:[A-Za-z0-9_.-]{0,94}[A-Za-z0-9_])?$/;

export function validateRepoId(repoId: string): void {
  const bad = (why: string) =>
    new HubError('INVALID_ARGUMENT', `Invalid repo id ${JSON.stringify(repoId)}: ${why}. Expected 'name' or 'owner/name' (e.g. 'distilbert-base-uncased', 'stanfordnlp/imdb'), or a local folder that exists.`);
  if (typeof repoId !== 'string' || repoId.length === 0) throw bad('it is empty');
  const parts = repoId.split('/');
  if (parts.length > 2) throw bad('it has more than one "/"');
  if (repoId.includes('--') || repoId.includes('..')) throw bad("'--' and '..' are not allowed");
  if (repoId.endsWith('.git')) throw bad("it must not end with '.git'");
  for (const part of parts) {
    if (!REPO_PART.test(part)) {
      throw bad(`'${part}' must be 1-96 letters, digits, '_', '-' or '.', starting and ending with a letter, digit or '_'`);
    }
  }
}

/** A repo-relative file name: 'config.json', 'plain_text/train-00000-of-00001.parquet'. */
export function validateFilename(filename: string, what = 'file name'): void {
  const bad = (why: string) =>
    new HubError('INVALID_ARGUMENT', `Invalid ${what} ${JSON.stringify(filename)}: ${why}. Use a path relative to the repo root with '/' separators, e.g. 'config.json' or 'plain_text/train-00000-of-00001.parquet'.`);
  if (typeof filename !== 'string' || filename.length === 0) throw bad('it is empty');
  if (filename.length > 1000) throw bad('it is longer than 1000 characters');
  // eslint-disable-next-line no-control-regex
  if (/[\x00-\x1f\x7f]/.test(filename)) throw bad('it contains a NUL or control character');
  if (filename.includes('\\')) throw bad('backslashes are not allowed');
  if (filename.startsWith('/') || path.isAbsolute(filename) || /^[A-Za-z]:/.test(filename)) throw bad('absolute paths are not allowed');
  for (const segment of filename.split('/')) {
    if (segment === '') throw bad("it has an empty path segment ('//' or a trailing '/')");
    if (segment === '.' || segment === '..') throw bad("'.' and '..' segments are not allowed");
  }
}

/** A branch, tag or commit: 'main', 'v1.0', 'refs/pr/1', a 40-hex sha. */
export function validateRevision(revision: string): void {
  const bad = (why: string) =>
    new HubError('INVALID_ARGUMENT', `Invalid revision ${JSON.stringify(revision)}: ${why}. Use a branch, tag or commit such as 'main', 'v1.0' or 'refs/pr/1'.`);
  if (typeof revision !== 'string' || revision.length === 0) throw bad('it is empty');
  if (revision.length > 255) throw bad('it is longer than 255 characters');
  if (!/^[A-Za-z0-9._\-/]+$/.test(revision)) throw bad("only letters, digits, '.', '_', '-' and '/' are allowed");
  for (const segment of revision.split('/')) {
    if (segment === '') throw bad("it has an empty segment ('//', or a leading or trailing '/')");
    // Git forbids components starting with '.', which also keeps revision folders apart from .meta/.no_exist.
    if (segment.startsWith('.')) throw bad("a segment must not start with '.'");
  }
}

function validateEndpoint(endpoint: string): URL {
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    throw new HubError('INVALID_ARGUMENT', `Invalid Hub endpoint ${JSON.stringify(endpoint)} (from HF_ENDPOINT or opts.endpoint): expected a URL like https://huggingface.co.`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new HubError('INVALID_ARGUMENT', `Invalid Hub endpoint ${JSON.stringify(endpoint)}: only http:// and https:// are supported.`);
  }
  return url;
}

// ---------------------------------------------------------------------------------------------
// Options and cache paths

interface ResolvedOptions {
  revision: string;
  repoType: RepoType;
  cacheDir: string; // absolute
  token: string | null;
  endpoint: string; // no trailing '/'
  offline: boolean;
  onProgress: ProgressCallback | null;
  retries: number;
  retryDelayMs: number;
  timeoutMs: number;
}

function envFlag(value: string | undefined): boolean {
  return value !== undefined && ['1', 'true', 'yes', 'on'].includes(value.trim().toLowerCase());
}

function resolveOptions(opts: HubOptions): ResolvedOptions {
  const revision = opts.revision ?? 'main';
  validateRevision(revision);
  const repoType = opts.repoType ?? 'model';
  if (repoType !== 'model' && repoType !== 'dataset') {
    throw new HubError('INVALID_ARGUMENT', `Invalid repoType ${JSON.stringify(repoType)}: use 'model' or 'dataset'.`);
  }
  const endpoint = opts.endpoint ?? (process.env.HF_ENDPOINT || DEFAULT_ENDPOINT);
  validateEndpoint(endpoint);
  const token = opts.token ?? process.env.HF_TOKEN ?? process.env.HUGGING_FACE_HUB_TOKEN ?? '';
  return {
    revision,
    repoType,
    cacheDir: path.resolve(opts.cacheDir ?? (process.env.QLORA_CACHE_DIR || 'data')),
    token: token === '' ? null : token,
    endpoint: endpoint.replace(/\/+$/, ''),
    offline: opts.offline ?? envFlag(process.env.HF_HUB_OFFLINE),
    onProgress: opts.onProgress === undefined ? consoleProgress() : opts.onProgress,
    retries: opts.retries ?? 3,
    retryDelayMs: opts.retryDelayMs ?? 1000,
    timeoutMs: opts.timeoutMs ?? 30_000,
  };
}

/** Throws unless `p` is inside `root` (a last guard after validation). */
function assertInside(root: string, p: string): string {
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

function repoFolder(repoId: string, o: ResolvedOptions): string {
  const kind = o.repoType === 'dataset' ? 'datasets' : 'models';
  return assertInside(o.cacheDir, path.join(o.cacheDir, 'hub', `${kind}--${repoId.replace('/', '--')}`));
}

/** All local paths belonging to one file of one revision of one repo. */
interface CachePaths {
  file: string; // the verified file
  partial: string; // the download in progress
  meta: string; // etag/sha of the verified file
  partialMeta: string; // etag of the download in progress, to notice a file that changed meanwhile
  noExist: string; // marker: the Hub says this file does not exist
}

function cachePaths(repoId: string, filename: string, o: ResolvedOptions): CachePaths {
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

function resolveUrl(repoId: string, filename: string, o: ResolvedOptions): URL {
  const prefix = o.repoType === 'dataset' ? 'datasets/' : '';
  const file = filename.split('/').map(encodeURIComponent).join('/');
  return new URL(`${o.endpoint}/${prefix}${repoId}/resolve/${encodeURIComponent(o.revision)}/${file}`);
}

function describe(repoId: string, filename: string, o: ResolvedOptions): string {
  return `'${filename}' of ${o.repoType} repo '${repoId}' (revision '${o.revision}')`;
}

// ---------------------------------------------------------------------------------------------
// Small file helpers

function fileSize(p: string): number {
  try {
    return fs.statSync(p).size;
  } catch {
    return 0;
  }
}

function isFile(p: string): boolean {
  try {
    return fs.statSync(p).isFile();
  } catch {
    return false;
  }
}

function removeIfPresent(p: string): void {
  fs.rmSync(p, { force: true });
}

async function sha256OfFile(p: string): Promise<string> {
  const hash = crypto.createHash('sha256');
  await pipeline(fs.createReadStream(p), hash);
  return hash.digest('hex');
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

// ---------------------------------------------------------------------------------------------
// HTTP

/** `"abc"`, `W/"abc"` → `abc`; the form the Hub's etags are compared in. */
function normalizeEtag(value: string | string[] | undefined): string | null {
  if (value === undefined) return null;
  const v = (Array.isArray(value) ? value[0] : value).trim().replace(/^W\//, '').replace(/^"|"$/g, '');
  return v === '' ? null : v;
}

const isSha256 = (etag: string | null): etag is string => etag !== null && /^[0-9a-f]{64}$/i.test(etag);

function headerInt(value: string | string[] | undefined): number | null {
  if (typeof value !== 'string' || !/^\d+$/.test(value.trim())) return null;
  return Number(value);
}

// `bytes 100-199/1000` → {start: 100, total: 1000}; `bytes */1000` (a 416 answer) → {start: null, total: 1000}.
function parseContentRange(value: string | undefined): { start: number | null; total: number | null } | null {
  if (!value) return null;
  const m = /^bytes\s+(?:(\d+)-(\d+)|\*)\/(\d+|\*)$/i.exec(value.trim());
  if (!m) return null;
  return { start: m[1] !== undefined ? Number(m[1]) : null, total: m[3] === '*' ? null : Number(m[3]) };
}

/** One GET, no redirect handling. Resolves when the headers arrive. */
function requestOnce(url: URL, headers: Record<string, string>, timeoutMs: number): Promise<http.IncomingMessage> {
  return new Promise((resolve, reject) => {
    const client = url.protocol === 'https:' ? https : http;
    // agent: false → a fresh connection, closed afterwards: nothing pooled keeps the process alive.
    const req = client.request(url, { method: 'GET', headers, agent: false }, resolve);
    // The socket timeout also covers a body that stalls half-way (the response then errors).
    req.setTimeout(timeoutMs, () => {
      const err = Object.assign(new Error(`no data from ${url.host} for ${timeoutMs} ms`), { code: 'ETIMEDOUT' });
      req.destroy(err);
    });
    req.on('error', reject);
    req.end();
  });
}

interface Opened {
  res: http.IncomingMessage;
  url: URL; // where the body comes from, after redirects
  linkedEtag: string | null; // X-Linked-Etag seen on the way (the Hub's sha256 of an LFS file)
  linkedSize: number | null; // X-Linked-Size seen on the way
}

/** GET with redirects followed by hand, so that we see the Hub's headers and control auth. */
async function openFollowingRedirects(
  start: URL,
  baseHeaders: Record<string, string>,
  token: string | null,
  timeoutMs: number,
): Promise<Opened> {
  let url = start;
  let sendToken = token !== null;
  let linkedEtag: string | null = null;
  let linkedSize: number | null = null;
  for (let hop = 0; ; hop++) {
    const headers = { ...baseHeaders };
    if (sendToken) headers.Authorization = `Bearer ${token}`;
    const res = await requestOnce(url, headers, timeoutMs);
    linkedEtag = linkedEtag ?? normalizeEtag(res.headers['x-linked-etag']);
    linkedSize = linkedSize ?? headerInt(res.headers['x-linked-size']);
    const status = res.statusCode ?? 0;
    if (![301, 302, 303, 307, 308].includes(status)) return { res, url, linkedEtag, linkedSize };

    res.resume(); // discard the redirect's body
    if (hop >= MAX_REDIRECTS) {
      throw new HubError('REDIRECT', `Too many redirects (more than ${MAX_REDIRECTS}) starting from ${start}; last one went to ${url}.`);
    }
    const location = res.headers.location;
    if (!location) throw new HubError('REDIRECT', `${url} answered ${status} without a Location header.`);
    let next: URL;
    try {
      next = new URL(location, url); // relative locations resolve against the current URL
    } catch {
      throw new HubError('REDIRECT', `${url} redirected to an invalid location ${JSON.stringify(location)}.`);
    }
    if (next.protocol !== 'http:' && next.protocol !== 'https:') {
      throw new HubError('REDIRECT', `${url} redirected to unsupported ${next.protocol} URL ${next}.`);
    }
    // Never carry the token to another origin (a CDN, a mirror): same rule as requests' rebuild_auth.
    if (next.origin !== url.origin) sendToken = false;
    url = next;
  }
}

const OFFLINE_CODES = new Set(['ENOTFOUND', 'EAI_AGAIN', 'ECONNREFUSED', 'ENETUNREACH', 'EHOSTUNREACH', 'ENETDOWN']);
const TRANSIENT_CODES = new Set(['ETIMEDOUT', 'ECONNRESET', 'EPIPE', 'ECONNABORTED', 'ERR_STREAM_PREMATURE_CLOSE']);

function errorCode(err: unknown): string {
  return typeof err === 'object' && err !== null && typeof (err as { code?: unknown }).code === 'string'
    ? (err as { code: string }).code
    : '';
}

// ---------------------------------------------------------------------------------------------
// download

interface Job {
  repoId: string;
  filename: string;
  o: ResolvedOptions;
  url: URL;
  paths: CachePaths;
}

/**
 * Downloads one file of a Hub repo into the cache (once) and returns its local path.
 * A cached file is returned without any network access; in offline mode only the cache is used.
 */
export async function download(repoId: string, filename: string, opts: HubOptions = {}): Promise<string> {
  validateRepoId(repoId);
  validateFilename(filename);
  const o = resolveOptions(opts);
  const job: Job = { repoId, filename, o, url: resolveUrl(repoId, filename, o), paths: cachePaths(repoId, filename, o) };

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

function notCachedError(job: Job): HubError {
  const { repoId, filename, o } = job;
  return new HubError(
    'NOT_CACHED',
    `Offline mode (HF_HUB_OFFLINE=1 or opts.offline) and ${describe(repoId, filename, o)} is not in the cache. ` +
      `Put the file at ${job.paths.file} (it is ${job.url} on the Hub), or point QLORA_MODEL / QLORA_DATA at a local ` +
      `folder or file that has it, or unset HF_HUB_OFFLINE to download it.`,
  );
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
      `Download of ${describe(job.repoId, job.filename, o)} stopped at ${formatBytes(size)} of ${formatBytes(total)}. ` +
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
        `Checksum mismatch for ${describe(job.repoId, job.filename, job.o)}: the Hub says sha256 ${expectedEtag.toLowerCase()}, ` +
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
      `Not enough disk space for ${describe(job.repoId, job.filename, job.o)}: ${formatBytes(needed)} needed in ${folder}, ` +
        `${formatBytes(free)} free. Free some space or set QLORA_CACHE_DIR to a folder on a bigger disk.`,
    );
  }
}

/** Turns whatever went wrong (a socket error, a write error, a HubError) into a HubError. */
function toHubError(err: unknown, job: Job, phase: 'connect' | 'body' = 'connect', total: number | null = null): HubError {
  if (err instanceof HubError) return err;
  const code = errorCode(err);
  const what = describe(job.repoId, job.filename, job.o);
  const detail = err instanceof Error ? err.message : String(err);
  if (code === 'ENOSPC' || code === 'EDQUOT') {
    const have = fileSize(job.paths.partial);
    const needed = total !== null ? `${formatBytes(Math.max(total - have, 0))} more` : 'more space';
    return new HubError(
      'DISK_FULL',
      `Disk full while writing ${what} to ${job.paths.partial}: ${needed} needed there` +
        `${total !== null ? ` (the file is ${formatBytes(total)})` : ''}. Free some space or set QLORA_CACHE_DIR ` +
        `to a folder on a bigger disk; the partial file is kept and the download resumes.`,
      { cause: err },
    );
  }
  if (phase === 'body') {
    return new HubError(
      'INTERRUPTED',
      `The connection broke while downloading ${what} (${code || detail}). The partial file ${job.paths.partial} ` +
        `(${formatBytes(fileSize(job.paths.partial))}) is kept; running again resumes it.`,
      { retryable: true, cause: err },
    );
  }
  if (OFFLINE_CODES.has(code) || TRANSIENT_CODES.has(code)) {
    return new HubError(
      'NETWORK',
      `Cannot reach ${job.url.host} to download ${what} (${code}: ${detail}). This machine seems to be offline ` +
        `or the Hub is unreachable. To work without network: set HF_HUB_OFFLINE=1 and point QLORA_MODEL / QLORA_DATA ` +
        `at a local folder or file, or put the file at ${job.paths.file}.`,
      { retryable: TRANSIENT_CODES.has(code), cause: err },
    );
  }
  return new HubError('HTTP', `Downloading ${what} from ${job.url} failed: ${detail}`, { cause: err });
}

function httpError(job: Job, res: http.IncomingMessage, url: URL): HubError {
  const status = res.statusCode ?? 0;
  const { repoId, filename, o } = job;
  const what = describe(repoId, filename, o);
  const serverCode = String(res.headers['x-error-code'] ?? '');
  const serverMessage = res.headers['x-error-message'] ? ` (server: ${res.headers['x-error-message']})` : '';
  const repoPage = `${o.endpoint}/${o.repoType === 'dataset' ? 'datasets/' : ''}${repoId}`;

  if (serverCode === 'RepoNotFound') {
    return new HubError(
      'REPO_NOT_FOUND',
      `${o.repoType === 'dataset' ? 'Dataset' : 'Model'} repo '${repoId}' not found at ${o.endpoint} (HTTP ${status}) while ` +
        `fetching '${filename}'${serverMessage}. Check the repo id (and repoType); if the repo is private, set HF_TOKEN.`,
    );
  }
  if (serverCode === 'RevisionNotFound') {
    return new HubError('REPO_NOT_FOUND', `Revision '${o.revision}' not found in repo '${repoId}' (HTTP ${status})${serverMessage}. Check the branch, tag or commit.`);
  }
  if (serverCode === 'GatedRepo') {
    return new HubError(
      'AUTH',
      `Repo '${repoId}' is gated (HTTP ${status}) while fetching '${filename}'${serverMessage}: accept its conditions at ${repoPage} ` +
        `and set HF_TOKEN to a token of that account.`,
    );
  }
  if (status === 401 || status === 403) {
    const fix = o.token
      ? 'The token given (HF_TOKEN or opts.token) was refused: check that it is valid and has read access to this repo.'
      : 'This repo needs a token: create one at https://huggingface.co/settings/tokens and set HF_TOKEN.';
    return new HubError('AUTH', `HTTP ${status} for ${what} at ${url}${serverMessage}. ${fix}`);
  }
  if (status === 404) {
    return new HubError(
      'NOT_FOUND',
      `Not found (HTTP 404): ${what} at ${url}${serverMessage}. Check the repo id '${repoId}' and the file name '${filename}' ` +
        `(browse ${repoPage}/tree/${encodeURIComponent(o.revision)}).`,
    );
  }
  const retryable = status === 429 || status >= 500;
  return new HubError('HTTP', `HTTP ${status} for ${what} at ${url}${serverMessage}.`, { retryable });
}

// ---------------------------------------------------------------------------------------------
// snapshot and resolveRepoFolder
//
// A file list entry is one of:
//   'config.json'                                       required
//   'tokenizer.json?'                                   optional (skipped if the repo lacks it)
//   'model.safetensors|model.safetensors.index.json'    the first of these that exists (required)
//   'a|b?'                                              the first that exists, or none
// When the file taken is a sharded-checkpoint index (`*.index.json` with a `weight_map`), the
// shards it names are fetched too, from the index's own folder.

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

const isShardIndex = (filename: string) => filename.endsWith('.index.json');

/** The shard files named by a `*.index.json` (unique, validated, relative to the repo root). */
function shardsOf(indexPath: string, indexName: string): string[] {
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
