// lib/hub/download.ts (through the public download()) against a real HTTP server on 127.0.0.1 that
// behaves like the Hub (helpers/fake-hub): the cache layout file by file, redirects, Range resume,
// sha256, auth, offline, errors. Expected bytes, etags and link targets come from the served
// buffers through node:crypto and from huggingface_hub's documented layout
// (`snapshots/<commit>/<file> -> ../../blobs/<etag>`), never from the code under test.
import { spawnSync } from 'child_process';
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as http from 'http';
import * as os from 'os';
import * as path from 'path';
import { AddressInfo } from 'net';
import { HubOptions, download } from '../../lib/hub/hub';
import { ByteProgress } from '../../lib/util/progress';
import { gitBlobSha1, hubError, sha256Hex, useFakeHub } from '../helpers/fake-hub';

const env = useFakeHub();
const { opts, modelFolder } = env;

/** Every file and link under `dir`, as 'relative/path' or 'relative/path -> target'. */
function tree(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      const rel = path.relative(dir, p).split(path.sep).join('/');
      if (e.isSymbolicLink()) out.push(`${rel} -> ${fs.readlinkSync(p)}`);
      else if (e.isDirectory()) walk(p);
      else out.push(rel);
    }
  };
  walk(dir);
  return out.sort();
}

async function freePort(): Promise<number> {
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const port = (server.address() as AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port; // connecting to it now is refused
}

describe('the cache layout is huggingface_hub\'s', () => {
  test('an LFS file: blobs/<sha256>, a relative link in snapshots/<commit>/, refs/main holds the commit', async () => {
    const body = crypto.randomBytes(300_000);
    env.hub.addFile('acme/tiny', 'model.safetensors', { body });
    const commit = env.hub.commit('acme/tiny');
    const sha = sha256Hex(body);

    const p = await download('acme/tiny', 'model.safetensors', opts());

    const repo = modelFolder('acme/tiny');
    expect(p).toBe(path.join(repo, 'snapshots', commit, 'model.safetensors'));
    expect(tree(repo)).toEqual([`blobs/${sha}`, 'refs/main', `snapshots/${commit}/model.safetensors -> ../../blobs/${sha}`]);
    expect(fs.readFileSync(path.join(repo, 'blobs', sha)).equals(body)).toBe(true);
    expect(fs.readFileSync(path.join(repo, 'refs', 'main'), 'utf8')).toBe(commit); // no newline, as Python writes it
    expect(fs.readFileSync(p).equals(body)).toBe(true);
    expect(env.hub.hits().map((r) => `${r.method} ${r.path}`)).toEqual(['HEAD /acme/tiny/resolve/main/model.safetensors', 'GET /cdn/0']);
    // The cache folder is tagged for backup tools (https://bford.info/cachedir/), as huggingface_hub does.
    expect(fs.readFileSync(path.join(env.cacheDir(), 'CACHEDIR.TAG'), 'utf8')).toMatch(/^Signature: 8a477f597d28d172789f06886806bc55\n/);

    // Again: one HEAD to see where main is now (as hf_hub_download does), no bytes.
    expect(await download('acme/tiny', 'model.safetensors', opts())).toBe(p);
    expect(env.hub.hits().map((r) => r.method)).toEqual(['HEAD', 'GET', 'HEAD']);
  });

  test('small files are named by their git blob sha1; equal bytes share one blob; nested names nest', async () => {
    const config = Buffer.from('{"dim": 768}\n');
    env.hub.addFile('solo', 'config.json', { body: config, lfs: false });
    env.hub.addFile('solo', 'sub/dir/copy.json', { body: config, lfs: false });
    const commit = env.hub.commit('solo');
    const etag = gitBlobSha1(config);
    expect(etag).toMatch(/^[0-9a-f]{40}$/);

    const a = await download('solo', 'config.json', opts());
    const b = await download('solo', 'sub/dir/copy.json', opts());
    expect(fs.readFileSync(b).equals(config)).toBe(true);
    expect(path.dirname(a)).toBe(path.join(modelFolder('solo'), 'snapshots', commit));
    expect(tree(modelFolder('solo'))).toEqual([
      `blobs/${etag}`,
      'refs/main',
      `snapshots/${commit}/config.json -> ../../blobs/${etag}`,
      `snapshots/${commit}/sub/dir/copy.json -> ../../../../blobs/${etag}`,
    ]);
    // The second name's bytes were not fetched again: the blob was there.
    expect(env.hub.hits().map((r) => `${r.method} ${r.path}`)).toEqual([
      'HEAD /solo/resolve/main/config.json',
      'GET /solo/resolve/main/config.json',
      'HEAD /solo/resolve/main/sub/dir/copy.json',
    ]);
  });

  test('when main moves on, refs/main follows and the old snapshot stays intact', async () => {
    const v1 = Buffer.from('{"v": 1}');
    const v2 = Buffer.from('{"v": 2}');
    env.hub.addFile('acme/moving', 'config.json', { body: v1, lfs: false });
    const c1 = env.hub.commit('acme/moving');
    const p1 = await download('acme/moving', 'config.json', opts());
    env.hub.addFile('acme/moving', 'config.json', { body: v2, lfs: false });
    const c2 = env.hub.commit('acme/moving');
    expect(c2).not.toBe(c1);

    const p2 = await download('acme/moving', 'config.json', opts());
    expect(p2).toBe(path.join(modelFolder('acme/moving'), 'snapshots', c2, 'config.json'));
    expect(fs.readFileSync(p2).equals(v2)).toBe(true);
    expect(fs.readFileSync(p1).equals(v1)).toBe(true);
    expect(fs.readFileSync(path.join(modelFolder('acme/moving'), 'refs', 'main'), 'utf8')).toBe(c2);
    // The old commit, asked for by hash, is served from the cache with no request at all.
    const before = env.hub.hits().length;
    expect(await download('acme/moving', 'config.json', opts({ revision: c1 }))).toBe(p1);
    expect(env.hub.hits()).toHaveLength(before);
  });

  test('datasets live in datasets--org--name; a revision with a slash is a nested ref; the URL encodes it', async () => {
    const parquet = crypto.randomBytes(5000);
    env.hub.addFile('datasets/stanfordnlp/imdb', 'plain_text/train-00000-of-00001.parquet', { body: parquet });
    env.hub.addFile('acme/tiny', 'config.json', { body: Buffer.from('{}'), lfs: false }, 'refs/pr/1');
    const dCommit = env.hub.commit('datasets/stanfordnlp/imdb');
    const prCommit = env.hub.commit('acme/tiny', 'refs/pr/1');

    const d = await download('stanfordnlp/imdb', 'plain_text/train-00000-of-00001.parquet', opts({ repoType: 'dataset' }));
    const dataset = path.join(env.cacheDir(), 'datasets--stanfordnlp--imdb');
    expect(d).toBe(path.join(dataset, 'snapshots', dCommit, 'plain_text', 'train-00000-of-00001.parquet'));
    expect(tree(dataset)).toContain(`snapshots/${dCommit}/plain_text/train-00000-of-00001.parquet -> ../../../blobs/${sha256Hex(parquet)}`);

    await download('acme/tiny', 'config.json', opts({ revision: 'refs/pr/1' }));
    expect(fs.readFileSync(path.join(modelFolder('acme/tiny'), 'refs', 'refs', 'pr', '1'), 'utf8')).toBe(prCommit);
    expect(env.hub.hits('/resolve/').map((h) => `${h.method} ${h.path}`)).toEqual([
      'HEAD /datasets/stanfordnlp/imdb/resolve/main/plain_text/train-00000-of-00001.parquet',
      'HEAD /acme/tiny/resolve/refs%2Fpr%2F1/config.json',
      'GET /acme/tiny/resolve/refs%2Fpr%2F1/config.json',
    ]);
  });

  test('where symlinks are off (HF_HUB_DISABLE_SYMLINKS, as on Windows), the snapshot holds the file itself', async () => {
    process.env.HF_HUB_DISABLE_SYMLINKS = '1';
    const body = crypto.randomBytes(10_000);
    env.hub.addFile('acme/nolink', 'w.bin', { body });
    const p = await download('acme/nolink', 'w.bin', opts());
    expect(fs.lstatSync(p).isSymbolicLink()).toBe(false);
    expect(fs.readFileSync(p).equals(body)).toBe(true);
    // A new blob is moved, not copied (huggingface_hub's new_blob=True): no second copy on disk.
    expect(tree(modelFolder('acme/nolink'))).toEqual(['refs/main', `snapshots/${env.hub.commit('acme/nolink')}/w.bin`]);
  });

  test('the cache folder comes from HF_HUB_CACHE, else HF_HOME/hub, else XDG_CACHE_HOME/huggingface/hub', async () => {
    env.hub.addFile('acme/env', 'a.txt', { body: Buffer.from('hello'), lfs: false });
    const commit = env.hub.commit('acme/env');
    const base: HubOptions = { endpoint: env.hub.url, onProgress: null };
    const where = (root: string) => path.join(root, 'models--acme--env', 'snapshots', commit, 'a.txt');

    delete process.env.HF_HOME;
    process.env.XDG_CACHE_HOME = path.join(env.tmp, 'xdg');
    expect(await download('acme/env', 'a.txt', base)).toBe(where(path.join(env.tmp, 'xdg', 'huggingface', 'hub')));
    process.env.HF_HOME = path.join(env.tmp, 'home');
    expect(await download('acme/env', 'a.txt', base)).toBe(where(path.join(env.tmp, 'home', 'hub')));
    process.env.HF_HUB_CACHE = path.join(env.tmp, 'hub-cache');
    expect(await download('acme/env', 'a.txt', base)).toBe(where(path.join(env.tmp, 'hub-cache')));
    // QLORA_CACHE_DIR is this project's own cache (tokenized data), not the Hub's.
    process.env.QLORA_CACHE_DIR = path.join(env.tmp, 'qlora');
    expect(await download('acme/env', 'a.txt', base)).toBe(where(path.join(env.tmp, 'hub-cache')));
    process.env.HF_ENDPOINT = env.hub.url + '/';
    expect(await download('acme/env', 'a.txt', { onProgress: null })).toBe(where(path.join(env.tmp, 'hub-cache')));
  });
});

describe('downloading', () => {
  test('a connection cut half-way keeps blobs/<sha256>.incomplete; the next call resumes with Range and verifies', async () => {
    const body = crypto.randomBytes(200_000);
    env.hub.addFile('acme/cut', 'model.safetensors', { body, cutOnce: true });

    const err = await hubError(download('acme/cut', 'model.safetensors', opts({ retries: 0 })), 'INTERRUPTED');
    const partial = path.join(modelFolder('acme/cut'), 'blobs', `${sha256Hex(body)}.incomplete`);
    expect(err.message).toContain(partial);
    const have = fs.statSync(partial).size;
    expect(have).toBeGreaterThan(0);
    expect(have).toBeLessThan(body.length);
    expect(fs.readFileSync(partial).equals(body.subarray(0, have))).toBe(true);
    expect(fs.existsSync(path.join(modelFolder('acme/cut'), 'snapshots'))).toBe(false);

    const p = await download('acme/cut', 'model.safetensors', opts({ retries: 0 }));
    const cdnHits = env.hub.hits('/cdn/');
    expect(cdnHits.map((h) => h.headers.range)).toEqual([undefined, `bytes=${have}-`]);
    expect(sha256Hex(fs.readFileSync(p))).toBe(sha256Hex(body));
    expect(fs.existsSync(partial)).toBe(false);
  });

  test('with retries, a cut connection is resumed within the same call', async () => {
    const body = crypto.randomBytes(100_000);
    env.hub.addFile('acme/cut', 'model.safetensors', { body, cutOnce: true });
    const p = await download('acme/cut', 'model.safetensors', opts({ retries: 2 }));
    expect(fs.readFileSync(p).equals(body)).toBe(true);
    const cdnHits = env.hub.hits('/cdn/');
    expect(cdnHits).toHaveLength(2);
    expect(cdnHits[1].headers.range).toMatch(/^bytes=\d+-$/);
  });

  test('a server that ignores Range (200) restarts the file from byte 0', async () => {
    const body = crypto.randomBytes(50_000);
    env.hub.addFile('acme/norange', 'w.bin', { body, ignoreRange: true });
    const partial = path.join(modelFolder('acme/norange'), 'blobs', `${sha256Hex(body)}.incomplete`);
    fs.mkdirSync(path.dirname(partial), { recursive: true });
    fs.writeFileSync(partial, Buffer.alloc(1000, 0xee)); // wrong bytes that must not survive

    const p = await download('acme/norange', 'w.bin', opts());
    expect(env.hub.hits('/cdn/')[0].headers.range).toBe('bytes=1000-');
    expect(fs.readFileSync(p).equals(body)).toBe(true);
  });

  test('a complete .incomplete blob is verified and used without a GET; an over-long one is fetched again', async () => {
    const body = crypto.randomBytes(40_000);
    const other = crypto.randomBytes(40_000);
    env.hub.addFile('acme/r', 'a.bin', { body });
    env.hub.addFile('acme/r', 'b.bin', { body: other });
    const blobs = path.join(modelFolder('acme/r'), 'blobs');
    fs.mkdirSync(blobs, { recursive: true });
    fs.writeFileSync(path.join(blobs, `${sha256Hex(body)}.incomplete`), body);
    fs.writeFileSync(path.join(blobs, `${sha256Hex(other)}.incomplete`), Buffer.concat([other, Buffer.from('extra')]));

    expect(fs.readFileSync(await download('acme/r', 'a.bin', opts())).equals(body)).toBe(true);
    expect(fs.readFileSync(await download('acme/r', 'b.bin', opts())).equals(other)).toBe(true);
    expect(env.hub.hits('/cdn/').map((r) => r.headers.range)).toEqual([undefined]);
  });

  test('a partial file of an older version is never glued to the new one (its name is the old sha256)', async () => {
    const v1 = crypto.randomBytes(60_000);
    const v2 = crypto.randomBytes(60_000);
    env.hub.addFile('acme/moving', 'w.bin', { body: v1, cutOnce: true });
    await hubError(download('acme/moving', 'w.bin', opts({ retries: 0 })), 'INTERRUPTED');
    env.hub.addFile('acme/moving', 'w.bin', { body: v2 }); // main moved on meanwhile

    const p = await download('acme/moving', 'w.bin', opts({ retries: 0 }));
    expect(fs.readFileSync(p).equals(v2)).toBe(true);
    expect(env.hub.hits('/cdn/').map((r) => r.headers.range)).toEqual([undefined, undefined]);
  });

  test('two downloads of one file at once: one fetches under the lock, the other waits and reuses it', async () => {
    const body = crypto.randomBytes(400_000);
    env.hub.addFile('acme/both', 'w.bin', { body });
    const [a, b] = await Promise.all([download('acme/both', 'w.bin', opts()), download('acme/both', 'w.bin', opts())]);
    expect(a).toBe(b);
    expect(fs.readFileSync(a).equals(body)).toBe(true);
    expect(env.hub.hits('/cdn/')).toHaveLength(1);
    expect(fs.readdirSync(path.join(env.cacheDir(), '.locks', 'models--acme--both'))).toEqual([]); // released
  });

  test('a lock left by a process that died is taken over', async () => {
    const body = crypto.randomBytes(1000);
    env.hub.addFile('acme/stale', 'w.bin', { body });
    const dead = spawnSync(process.execPath, ['-e', '0']).pid; // has exited by now
    const lock = path.join(env.cacheDir(), '.locks', 'models--acme--stale', `${sha256Hex(body)}.qlora.lock`);
    fs.mkdirSync(path.dirname(lock), { recursive: true });
    fs.writeFileSync(lock, `${os.hostname()} ${dead}`);
    expect(fs.readFileSync(await download('acme/stale', 'w.bin', opts())).equals(body)).toBe(true);
    expect(fs.existsSync(lock)).toBe(false);
  });

  test('a checksum mismatch deletes the download and throws; nothing enters blobs/ or snapshots/', async () => {
    const body = crypto.randomBytes(30_000);
    const advertised = sha256Hex(Buffer.from('something else'));
    env.hub.addFile('acme/bad', 'model.safetensors', { body, advertisedSha256: advertised });

    const err = await hubError(download('acme/bad', 'model.safetensors', opts()), 'CHECKSUM');
    expect(err.message).toContain(advertised);
    expect(err.message).toContain(sha256Hex(body));
    expect(tree(modelFolder('acme/bad'))).toEqual(['refs/main']);
  });

  test('a missing file: 404 naming repo and file, and .no_exist/<commit>/<file> recorded; an unknown repo says so', async () => {
    env.hub.addFile('acme/tiny', 'config.json', { body: Buffer.from('{}'), lfs: false });
    const missingFile = await hubError(download('acme/tiny', 'sub/nope.json', opts()), 'NOT_FOUND');
    expect(missingFile.message).toContain("'acme/tiny'");
    expect(missingFile.message).toContain("'sub/nope.json'");
    const commit = env.hub.commit('acme/tiny');
    expect(tree(modelFolder('acme/tiny'))).toEqual([`.no_exist/${commit}/sub/nope.json`, 'refs/main']);
    expect(fs.statSync(path.join(modelFolder('acme/tiny'), '.no_exist', commit, 'sub', 'nope.json')).size).toBe(0);

    const missingRepo = await hubError(download('acme/typo', 'config.json', opts()), 'REPO_NOT_FOUND');
    expect(missingRepo.message).toContain("'acme/typo'");
    expect(missingRepo.message).toContain('HF_TOKEN');
  });

  test('401: asks for HF_TOKEN without a token, says it was refused with a wrong one; sends it as Bearer', async () => {
    const body = crypto.randomBytes(10_000);
    env.hub.addFile('acme/private', 'model.safetensors', { body, token: 'hf_right' });

    const noToken = await hubError(download('acme/private', 'model.safetensors', opts()), 'AUTH');
    expect(noToken.message).toContain('HF_TOKEN');
    expect(noToken.message).toContain('401');
    const wrong = await hubError(download('acme/private', 'model.safetensors', opts({ token: 'hf_wrong' })), 'AUTH');
    expect(wrong.message).toMatch(/refused/);
    expect(wrong.message).not.toContain('hf_wrong'); // the token never appears in messages

    process.env.HF_TOKEN = 'hf_right';
    const p = await download('acme/private', 'model.safetensors', opts());
    expect(fs.readFileSync(p).equals(body)).toBe(true);
    expect(env.hub.hits('/resolve/').map((r) => r.headers.authorization)).toEqual([undefined, 'Bearer hf_wrong', 'Bearer hf_right']);
  });

  test('without HF_TOKEN, the token file `hf auth login` writes is used ($HF_TOKEN_PATH, else $HF_HOME/token)', async () => {
    env.hub.addFile('acme/private', 'a.json', { body: Buffer.from('{}'), lfs: false, token: 'hf_from_file' });
    env.hub.addFile('acme/private', 'b.json', { body: Buffer.from('[]'), lfs: false, token: 'hf_from_file' });
    fs.mkdirSync(process.env.HF_HOME as string, { recursive: true });
    fs.writeFileSync(path.join(process.env.HF_HOME as string, 'token'), 'hf_from_file\n'); // Python writes no newline; either works
    await download('acme/private', 'a.json', opts());

    process.env.HF_TOKEN_PATH = path.join(env.tmp, 'elsewhere-token');
    fs.writeFileSync(process.env.HF_TOKEN_PATH, 'hf_other');
    await hubError(download('acme/private', 'b.json', opts()), 'AUTH');
    process.env.HF_TOKEN = 'hf_from_file'; // the variable wins over any file
    await download('acme/private', 'b.json', opts());
    expect(env.hub.hits('/resolve/').map((r) => `${r.method} ${r.headers.authorization}`)).toEqual([
      'HEAD Bearer hf_from_file',
      'GET Bearer hf_from_file',
      'HEAD Bearer hf_other',
      'HEAD Bearer hf_from_file',
      'GET Bearer hf_from_file',
    ]);
  });

  test('a refusing Hub (401) falls back to the cached copy, as huggingface_hub does', async () => {
    env.hub.addFile('acme/revoked', 'a.json', { body: Buffer.from('{}'), lfs: false, token: 'hf_old' });
    const cached = await download('acme/revoked', 'a.json', opts({ token: 'hf_old' }));
    expect(await download('acme/revoked', 'a.json', opts({ token: 'hf_revoked' }))).toBe(cached);
  });

  test('the token goes to the Hub and same-origin redirects, never to a CDN on another origin', async () => {
    const body = crypto.randomBytes(10_000);
    env.hub.addFile('acme/x', 'same.bin', { body, cdn: 'same-origin' });
    env.hub.addFile('acme/x', 'other.bin', { body: crypto.randomBytes(10_000), cdn: 'other-origin' });

    await download('acme/x', 'same.bin', opts({ token: 'hf_secret' }));
    await download('acme/x', 'other.bin', opts({ token: 'hf_secret' }));
    const seen = env.hub.hits().map((r) => [r.server, r.method, r.path, r.headers.authorization]);
    expect(seen).toEqual([
      ['hub', 'HEAD', '/acme/x/resolve/main/same.bin', 'Bearer hf_secret'],
      ['hub', 'HEAD', '/api/resolve-cache/0', 'Bearer hf_secret'], // same host: followed, like huggingface_hub
      ['hub', 'GET', '/api/resolve-cache/0', 'Bearer hf_secret'],
      ['hub', 'HEAD', '/acme/x/resolve/main/other.bin', 'Bearer hf_secret'],
      ['cdn', 'GET', '/cdn/1', undefined],
    ]);
  });

  test('path escapes and malformed names are rejected before any request', async () => {
    const bad: [string, string, HubOptions][] = [
      ['acme/tiny', '../x', {}],
      ['acme/tiny', 'a/../../x', {}],
      ['acme/tiny', '/etc/passwd', {}],
      ['acme/tiny', 'C:/x', {}],
      ['acme/tiny', 'a\\b', {}],
      ['acme/tiny', 'a\0b', {}],
      ['acme/tiny', 'a//b', {}],
      ['acme/tiny', '', {}],
      ['acme/../x', 'config.json', {}],
      ['../x', 'config.json', {}],
      ['..', 'config.json', {}],
      ['a/b/c', 'config.json', {}],
      ['/abs', 'config.json', {}],
      ['acme--x/y', 'config.json', {}],
      ['acme/tiny', 'config.json', { revision: '..' }],
      ['acme/tiny', 'config.json', { revision: '../../x' }],
      ['acme/tiny', 'config.json', { revision: 'a\\b' }],
    ];
    for (const [repo, file, extra] of bad) {
      await hubError(download(repo, file, opts(extra)), 'INVALID_ARGUMENT');
    }
    expect(env.hub.hits()).toHaveLength(0);
    expect(fs.readdirSync(env.tmp)).toEqual([]); // nothing was created anywhere
  });

  test('a server without X-Repo-Commit is not taken for the Hub', async () => {
    const server = http.createServer((_req, res) => res.writeHead(200, { ETag: '"abc"', 'Content-Length': '2' }).end('{}'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    try {
      const err = await hubError(download('acme/tiny', 'config.json', opts({ endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}` })), 'HTTP');
      expect(err.message).toContain('X-Repo-Commit');
      expect(err.message).toContain('HF_ENDPOINT');
      expect(fs.existsSync(env.cacheDir())).toBe(false);
    } finally {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  test('timeouts: a silent Hub is a NETWORK error; a transfer that stalls is resumed', async () => {
    env.hub.addFile('acme/slow', 'hang.bin', { body: Buffer.from('x'), hang: true });
    const err = await hubError(download('acme/slow', 'hang.bin', opts({ timeoutMs: 500, retries: 0 })), 'NETWORK');
    expect(err.message).toContain('ETIMEDOUT');

    const body = crypto.randomBytes(80_000);
    env.hub.addFile('acme/slow', 'stall.bin', { body, stallOnce: true });
    const p = await download('acme/slow', 'stall.bin', opts({ timeoutMs: 500, retries: 1 }));
    expect(fs.readFileSync(p).equals(body)).toBe(true);
    const ranges = env.hub.hits('/cdn/').map((r) => r.headers.range);
    expect(ranges).toEqual([undefined, `bytes=${body.length / 2}-`]);
  });

  test('a redirect loop stops with a clear error', async () => {
    env.hub.addFile('acme/loop', 'a.bin', { body: Buffer.from('x'), redirectLoop: true });
    const err = await hubError(download('acme/loop', 'a.bin', opts()), 'REDIRECT');
    expect(err.message).toMatch(/Too many redirects/);
    expect(env.hub.hits()).toHaveLength(11); // the first request + 10 redirects followed
  });

  test('a full disk (ENOSPC) says how much was needed and where', async () => {
    const body = crypto.randomBytes(20_000);
    env.hub.addFile('acme/full', 'w.bin', { body });
    // Linux's /dev/full fails every write with ENOSPC: make the partial blob point at it.
    const partial = path.join(modelFolder('acme/full'), 'blobs', `${sha256Hex(body)}.incomplete`);
    fs.mkdirSync(path.dirname(partial), { recursive: true });
    fs.symlinkSync('/dev/full', partial);

    const err = await hubError(download('acme/full', 'w.bin', opts()), 'DISK_FULL');
    expect(err.message).toContain(partial);
    expect(err.message).toContain('20.0 kB'); // 20 000 bytes needed
    expect(err.message).toContain('HF_HUB_CACHE');
    expect(fs.existsSync(path.join(modelFolder('acme/full'), 'snapshots'))).toBe(false);
  });

  test('progress events count up to the file size and end with done', async () => {
    const body = crypto.randomBytes(500_000);
    env.hub.addFile('acme/p', 'w.bin', { body });
    const events: ByteProgress[] = [];
    await download('acme/p', 'w.bin', opts({ onProgress: (e) => events.push(e) }));

    expect(events.length).toBeGreaterThan(1);
    for (let i = 1; i < events.length; i++) expect(events[i].bytes).toBeGreaterThanOrEqual(events[i - 1].bytes);
    for (const e of events) {
      expect(e.file).toBe('w.bin');
      expect(e.total).toBe(body.length);
      expect(e.rate).toBeGreaterThanOrEqual(0);
    }
    const last = events[events.length - 1];
    expect(last).toMatchObject({ bytes: body.length, done: true });
    expect(events.filter((e) => e.done)).toHaveLength(1);
  });
});

describe('offline, and when the Hub cannot be reached', () => {
  test('HF_HUB_OFFLINE=1: refs/main leads to the cached snapshot with no request', async () => {
    const body = Buffer.from('{}');
    env.hub.addFile('acme/off', 'config.json', { body, lfs: false });
    const online = await download('acme/off', 'config.json', opts());
    const before = env.hub.hits().length;

    process.env.HF_HUB_OFFLINE = '1';
    expect(await download('acme/off', 'config.json', opts())).toBe(online);
    expect(env.hub.hits()).toHaveLength(before);
  });

  test('offline with nothing cached: one clear error naming the file, the cache folder and the way out', async () => {
    process.env.HF_HUB_OFFLINE = '1';
    const err = await hubError(download('acme/off', 'vocab.txt', opts()), 'NOT_CACHED');
    expect(err.message).toContain("'vocab.txt' of model repo 'acme/off'");
    expect(err.message).toContain(env.cacheDir());
    expect(err.message).toContain('QLORA_MODEL');
    expect(err.message).not.toContain('QLORA_DATA');
    const data = await hubError(download('acme/d', 'x.parquet', opts({ repoType: 'dataset' })), 'NOT_CACHED');
    expect(data.message).toContain('QLORA_DATA');
    expect(env.hub.hits()).toHaveLength(0);
  });

  test('an unreachable Hub falls back to the cached snapshot (like huggingface_hub); with nothing cached it says so', async () => {
    const body = Buffer.from('{"cached": true}');
    env.hub.addFile('acme/tiny', 'config.json', { body, lfs: false });
    const cached = await download('acme/tiny', 'config.json', opts());
    const dead = `http://127.0.0.1:${await freePort()}`;

    expect(await download('acme/tiny', 'config.json', opts({ endpoint: dead, retries: 0 }))).toBe(cached);
    const err = await hubError(download('acme/tiny', 'vocab.txt', opts({ endpoint: dead, retries: 0 })), 'NETWORK');
    expect(err.message).toContain('ECONNREFUSED');
    expect(err.message).toContain('offline');
    expect(err.message).toContain('HF_HUB_OFFLINE=1');
    expect(err.message).toContain('QLORA_MODEL');
  });
});
