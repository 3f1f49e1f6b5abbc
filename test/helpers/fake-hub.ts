// A small HTTP server on 127.0.0.1 that answers like the Hugging Face Hub, for tests.
//
//   HEAD or GET /{repo}/resolve/{revision}/{file}    (models; datasets: /datasets/{repo}/resolve/…)
//     every answer carries X-Repo-Commit: the 40-hex commit `revision` points to (it changes
//     whenever a file of that revision is added or replaced, like a push)
//     LFS file  → 302 with X-Linked-Etag: "<sha256>" and X-Linked-Size, like the real Hub, to
//                 http://…/cdn/{id} on a second "CDN" server (as cdn-lfs / cas-bridge hosts), or to
//                 /api/resolve-cache/{id} on this server, which answers with the Hub's headers again
//                 (X-Repo-Commit, ETag) as the real resolve-cache route does
//     small file → 200 with the body (none for HEAD), Content-Length and ETag: "<git blob sha1>"
//     unknown repo → 404 X-Error-Code: RepoNotFound; unknown file → 404 X-Error-Code: EntryNotFound
//     private file without the right bearer token → 401
//   GET /cdn/{id}, /api/resolve-cache/{id}  the bytes, with Range support (206 + Content-Range, 416 past the end)
//
// Every request is recorded (method, path, headers, which server) so tests can count network hits
// and check the Range and Authorization headers that were sent. Both servers listen on loopback only.
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as http from 'http';
import * as os from 'os';
import * as path from 'path';
import { AddressInfo } from 'net';
import { HubError, HubOptions } from '../../lib/hub/hub';

export interface FakeFile {
  body: Buffer;
  /** Served like an LFS file: a redirect to the CDN route carrying the sha256 (default true). */
  lfs?: boolean;
  /** Where the LFS redirect points: 'other-origin' (the second, CDN server, default) or
   *  'same-origin' (http://127.0.0.1:port/api/resolve-cache/… on this server). */
  cdn?: 'same-origin' | 'other-origin';
  /** Advertise this sha256 instead of the body's (a corrupted-transfer route). */
  advertisedSha256?: string;
  /** The first body response sends half of what it promised, then cuts the connection. */
  cutOnce?: boolean;
  /** The first body response sends half of what it promised, then goes silent (a stalled transfer). */
  stallOnce?: boolean;
  /** Never answer the resolve request (a Hub that does not respond). */
  hang?: boolean;
  /** Answer 200 with the whole file even to a Range request (servers may ignore Range). */
  ignoreRange?: boolean;
  /** Needs `Authorization: Bearer <token>` on the resolve request, else 401. */
  token?: string;
  /** Redirect to itself forever. */
  redirectLoop?: boolean;
}

export interface RecordedRequest {
  server: 'hub' | 'cdn';
  method: string;
  path: string;
  headers: http.IncomingHttpHeaders;
}

interface StoredFile extends FakeFile {
  cutDone: boolean;
  stallDone: boolean;
}

export const sha256Hex = (b: Buffer) => crypto.createHash('sha256').update(b).digest('hex');
/** Git's blob id, the ETag the Hub gives small (non-LFS) files. */
export const gitBlobSha1 = (b: Buffer) =>
  crypto.createHash('sha1').update(Buffer.concat([Buffer.from(`blob ${b.length}\0`), b])).digest('hex');

export class FakeHub {
  readonly requests: RecordedRequest[] = [];
  /** key: `{repoPath}@{revision}:{file}`, repoPath like 'acme/tiny' or 'datasets/acme/tiny'. */
  private readonly files = new Map<string, StoredFile>();
  private readonly repos = new Set<string>();
  private readonly blobs: StoredFile[] = [];
  private readonly blobHubHeaders: http.OutgoingHttpHeaders[] = [];
  private readonly commits = new Map<string, string>();
  private pushes = 0;
  private hubServer!: http.Server;
  private cdnServer!: http.Server;
  url = '';
  cdnUrl = '';

  static async start(): Promise<FakeHub> {
    const hub = new FakeHub();
    hub.hubServer = await listen((req, res) => hub.handle('hub', req, res));
    hub.cdnServer = await listen((req, res) => hub.handle('cdn', req, res));
    hub.url = `http://127.0.0.1:${(hub.hubServer.address() as AddressInfo).port}`;
    hub.cdnUrl = `http://127.0.0.1:${(hub.cdnServer.address() as AddressInfo).port}`;
    return hub;
  }

  /** `repo` is 'owner/name' for a model, 'datasets/owner/name' for a dataset. Replaces any earlier file. */
  addFile(repo: string, filename: string, file: FakeFile, revision = 'main'): void {
    const stored: StoredFile = { ...file, cutDone: false, stallDone: false };
    this.repos.add(repo);
    this.files.set(`${repo}@${revision}:${filename}`, stored);
    this.commits.set(`${repo}@${revision}`, crypto.createHash('sha1').update(`${repo}@${revision}#${++this.pushes}`).digest('hex'));
  }

  /** The commit `revision` of `repo` points to now (what X-Repo-Commit says). */
  commit(repo: string, revision = 'main'): string {
    const c = this.commits.get(`${repo}@${revision}`);
    if (!c) throw new Error(`FakeHub: no file was added to ${repo}@${revision}`);
    return c;
  }

  addRepo(repo: string): void {
    this.repos.add(repo);
  }

  /** Requests whose path contains `part` (e.g. '/resolve/' or '/cdn/'). */
  hits(part = ''): RecordedRequest[] {
    return this.requests.filter((r) => r.path.includes(part));
  }

  async close(): Promise<void> {
    for (const server of [this.hubServer, this.cdnServer]) {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  }

  private handle(server: 'hub' | 'cdn', req: http.IncomingMessage, res: http.ServerResponse): void {
    const urlPath = (req.url ?? '/').split('?')[0];
    this.requests.push({ server, method: req.method ?? 'GET', path: urlPath, headers: req.headers });

    if (urlPath.startsWith('/cdn/')) {
      const blob = this.blobs[Number(urlPath.slice('/cdn/'.length))];
      if (!blob) return void res.writeHead(404).end('no such blob');
      return this.serveBody(req, res, blob, sha256Hex(blob.body));
    }
    if (server === 'hub' && urlPath.startsWith('/api/resolve-cache/')) {
      const id = Number(urlPath.slice('/api/resolve-cache/'.length));
      if (!this.blobs[id]) return void res.writeHead(404).end('no such blob');
      const { ETag, ...hubHeaders } = this.blobHubHeaders[id];
      return this.serveBody(req, res, this.blobs[id], String(ETag), hubHeaders);
    }

    const at = urlPath.indexOf('/resolve/');
    if (server !== 'hub' || at < 0) return void res.writeHead(404).end('not a Hub route');
    const repo = urlPath.slice(1, at);
    const [revision, ...fileParts] = urlPath.slice(at + '/resolve/'.length).split('/');
    const rev = decodeURIComponent(revision);
    const key = `${repo}@${rev}:${fileParts.map(decodeURIComponent).join('/')}`;

    if (!this.repos.has(repo)) {
      return void res.writeHead(404, { 'X-Error-Code': 'RepoNotFound' }).end('Repository not found');
    }
    // A revision given as a commit hash answers with itself, as the Hub does.
    const commit = this.commits.get(`${repo}@${rev}`) ?? ([...this.commits.values()].includes(rev) ? rev : undefined);
    const commitHeader: http.OutgoingHttpHeaders = commit ? { 'X-Repo-Commit': commit } : {};
    const file = this.files.get(key) ?? this.fileAtCommit(repo, rev, fileParts.map(decodeURIComponent).join('/'));
    if (!file) return void res.writeHead(404, { 'X-Error-Code': 'EntryNotFound', ...commitHeader }).end('Entry not found');
    if (file.token !== undefined && req.headers.authorization !== `Bearer ${file.token}`) {
      return void res.writeHead(401).end('Invalid credentials');
    }
    if (file.hang) return; // the client's timeout has to end this
    if (file.redirectLoop) return void res.writeHead(302, { Location: urlPath }).end();

    if (file.lfs === false) {
      return this.serveBody(req, res, file, gitBlobSha1(file.body), commitHeader);
    }
    const sha = file.advertisedSha256 ?? sha256Hex(file.body);
    let id = this.blobs.indexOf(file);
    if (id < 0) id = this.blobs.push(file) - 1;
    this.blobHubHeaders[id] = { ...commitHeader, ETag: sha };
    const location = file.cdn === 'same-origin' ? `${this.url}/api/resolve-cache/${id}` : `${this.cdnUrl}/cdn/${id}`;
    res
      .writeHead(302, {
        ...commitHeader,
        Location: location,
        'X-Linked-Etag': `"${sha}"`,
        'X-Linked-Size': String(file.body.length),
        ETag: `W/"${gitBlobSha1(Buffer.from(sha))}"`, // the pointer file's etag, not the content's
      })
      .end();
  }

  /** A file asked for by commit hash: the file of the revision that commit is the head of. */
  private fileAtCommit(repo: string, commit: string, filename: string): StoredFile | undefined {
    for (const [key, c] of this.commits) {
      if (c === commit && key.startsWith(`${repo}@`)) return this.files.get(`${key}:${filename}`);
    }
    return undefined;
  }

  private serveBody(req: http.IncomingMessage, res: http.ServerResponse, file: StoredFile, etag: string, extra: http.OutgoingHttpHeaders = {}): void {
    const size = file.body.length;
    if (req.method === 'HEAD') {
      return void res.writeHead(200, { ...extra, 'Content-Length': String(size), ETag: `"${etag}"`, 'Accept-Ranges': 'bytes' }).end();
    }
    const range = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    let start = 0;
    if (range && !file.ignoreRange) {
      start = Number(range[1]);
      if (start >= size) {
        return void res.writeHead(416, { 'Content-Range': `bytes */${size}`, ETag: `"${etag}"` }).end();
      }
    }
    const part = file.body.subarray(start);
    const headers: http.OutgoingHttpHeaders = { ...extra, 'Content-Length': String(part.length), ETag: `"${etag}"`, 'Accept-Ranges': 'bytes' };
    if (start > 0) headers['Content-Range'] = `bytes ${start}-${size - 1}/${size}`;
    res.writeHead(start > 0 ? 206 : 200, headers);

    if (file.cutOnce && !file.cutDone) {
      file.cutDone = true;
      // Promise the whole part, send half, then drop the connection.
      res.write(part.subarray(0, Math.floor(part.length / 2)), () => setTimeout(() => res.destroy(), 20));
      return;
    }
    if (file.stallOnce && !file.stallDone) {
      file.stallDone = true;
      res.write(part.subarray(0, Math.floor(part.length / 2))); // …and nothing more, ever
      return;
    }
    res.end(part);
  }
}

function listen(handler: http.RequestListener): Promise<http.Server> {
  return new Promise((resolve, reject) => {
    const server = http.createServer(handler);
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => resolve(server));
  });
}

const ENV_KEYS = [
  'HF_ENDPOINT', 'HF_TOKEN', 'HUGGING_FACE_HUB_TOKEN', 'HF_TOKEN_PATH', 'HF_HUB_OFFLINE', 'TRANSFORMERS_OFFLINE',
  'HF_HOME', 'HF_HUB_CACHE', 'HUGGINGFACE_HUB_CACHE', 'XDG_CACHE_HOME', 'HF_HUB_DISABLE_SYMLINKS', 'QLORA_CACHE_DIR',
];

export interface FakeHubEnv {
  /** This test's server (a fresh one per test). */
  readonly hub: FakeHub;
  /** This test's temp folder; the cache is `cache/` inside it. */
  readonly tmp: string;
  /** HubOptions for this server and cache: no progress output, 5 ms retry delay, 5 s timeout. */
  opts(extra?: HubOptions): HubOptions;
  /** The Hub cache folder of this test (`cache/` in tmp). */
  cacheDir(): string;
  /** `cache/models--owner--name`, the cache folder of a model repo. */
  modelFolder(repo: string): string;
}

/**
 * Registers beforeEach/afterEach that give every test a fresh FakeHub, a temp cache folder and an
 * environment without HF_* / QLORA_CACHE_DIR (restored afterwards). Read the fields inside tests.
 */
export function useFakeHub(): FakeHubEnv {
  let hub: FakeHub | null = null;
  let tmp: string | null = null;
  let savedEnv: Record<string, string | undefined> = {};
  const need = <T>(value: T | null): T => {
    if (value === null) throw new Error('useFakeHub: read hub/tmp inside a test, not at load time');
    return value;
  };

  beforeEach(async () => {
    savedEnv = Object.fromEntries(ENV_KEYS.map((k) => [k, process.env[k]]));
    for (const k of ENV_KEYS) delete process.env[k];
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'hub-test-'));
    // Never the developer's own ~/.cache/huggingface (cache or login token) by accident.
    process.env.HF_HOME = path.join(tmp, 'hf-home');
    hub = await FakeHub.start();
  });

  afterEach(async () => {
    await hub?.close();
    if (tmp !== null) fs.rmSync(tmp, { recursive: true, force: true });
    hub = tmp = null;
    for (const k of ENV_KEYS) {
      if (savedEnv[k] === undefined) delete process.env[k];
      else process.env[k] = savedEnv[k];
    }
  });

  return {
    get hub() {
      return need(hub);
    },
    get tmp() {
      return need(tmp);
    },
    opts(extra: HubOptions = {}): HubOptions {
      return { endpoint: need(hub).url, cacheDir: path.join(need(tmp), 'cache'), onProgress: null, retryDelayMs: 5, timeoutMs: 5000, ...extra };
    },
    cacheDir(): string {
      return path.join(need(tmp), 'cache');
    },
    modelFolder(repo: string): string {
      return path.join(need(tmp), 'cache', `models--${repo.replace('/', '--')}`);
    },
  };
}

/** Expects `promise` to reject with a HubError of this code; returns it for message checks. */
export async function hubError(promise: Promise<unknown>, code: string): Promise<HubError> {
  try {
    await promise;
  } catch (err) {
    expect(err).toBeInstanceOf(HubError);
    expect((err as HubError).code).toBe(code);
    return err as HubError;
  }
  throw new Error(`expected a HubError ${code}, but the call succeeded`);
}
