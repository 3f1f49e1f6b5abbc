// lib/hub/download.ts (through the public download()) against a real HTTP server on 127.0.0.1 that
// behaves like the Hub (helpers/fake-hub): redirects, Range resume, sha256, auth, offline, errors.
// Expected bytes and sha256 values come from the served buffers through node:crypto, never from
// the code under test.
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as http from 'http';
import * as path from 'path';
import { AddressInfo } from 'net';
import { HubOptions, download } from '../../lib/hub/hub';
import { ByteProgress } from '../../lib/util/progress';
import { hubError, sha256Hex, useFakeHub } from '../helpers/fake-hub';

const env = useFakeHub();
const { opts, modelFolder } = env;

describe('download', () => {
  test('fetches an LFS file through the CDN redirect, verifies its sha256 and caches it', async () => {
    const body = crypto.randomBytes(300_000);
    env.hub.addFile('acme/tiny', 'model.safetensors', { body });

    const p = await download('acme/tiny', 'model.safetensors', opts());

    expect(p).toBe(path.join(modelFolder('acme/tiny'), 'model.safetensors'));
    expect(fs.readFileSync(p).equals(body)).toBe(true);
    expect(fs.existsSync(p + '.incomplete')).toBe(false);
    expect(env.hub.hits().map((r) => r.path)).toEqual(['/acme/tiny/resolve/main/model.safetensors', '/cdn/0']);
    // The etag/sha record beside the cache.
    const meta = JSON.parse(fs.readFileSync(path.join(env.tmp, 'cache/hub/models--acme--tiny/.meta/main/model.safetensors.json'), 'utf8'));
    expect(meta.sha256).toBe(sha256Hex(body));
    expect(meta.size).toBe(body.length);

    // Second call: served from the cache, no request at all.
    const again = await download('acme/tiny', 'model.safetensors', opts());
    expect(again).toBe(p);
    expect(env.hub.hits()).toHaveLength(2);
  });

  test('small (non-LFS) files with a git-sha1 ETag are downloaded without sha256 verification', async () => {
    const body = Buffer.from('{"dim": 768}\n');
    env.hub.addFile('solo', 'config.json', { body, lfs: false });
    const p = await download('solo', 'config.json', opts());
    expect(p).toBe(path.join(modelFolder('solo'), 'config.json'));
    expect(fs.readFileSync(p).equals(body)).toBe(true);
    const meta = JSON.parse(fs.readFileSync(path.join(env.tmp, 'cache/hub/models--solo/.meta/main/config.json.json'), 'utf8'));
    expect(meta.etag).toMatch(/^[0-9a-f]{40}$/);
    expect(meta.sha256).toBeNull();
  });

  test('a connection cut half-way keeps the .incomplete file; the next call resumes with Range and verifies', async () => {
    const body = crypto.randomBytes(200_000);
    env.hub.addFile('acme/cut', 'model.safetensors', { body, cutOnce: true });

    const err = await hubError(download('acme/cut', 'model.safetensors', opts({ retries: 0 })), 'INTERRUPTED');
    const partial = path.join(modelFolder('acme/cut'), 'model.safetensors.incomplete');
    expect(err.message).toContain(partial);
    const have = fs.statSync(partial).size;
    expect(have).toBeGreaterThan(0);
    expect(have).toBeLessThan(body.length);
    expect(fs.readFileSync(partial).equals(body.subarray(0, have))).toBe(true);
    expect(fs.existsSync(path.join(modelFolder('acme/cut'), 'model.safetensors'))).toBe(false);

    const p = await download('acme/cut', 'model.safetensors', opts({ retries: 0 }));
    const cdnHits = env.hub.hits('/cdn/');
    expect(cdnHits).toHaveLength(2);
    expect(cdnHits[0].headers.range).toBeUndefined();
    expect(cdnHits[1].headers.range).toBe(`bytes=${have}-`);
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
    const partial = path.join(modelFolder('acme/norange'), 'w.bin.incomplete');
    fs.mkdirSync(path.dirname(partial), { recursive: true });
    fs.writeFileSync(partial, Buffer.alloc(1000, 0xee)); // wrong bytes that must not survive

    const p = await download('acme/norange', 'w.bin', opts());
    expect(env.hub.hits('/cdn/')[0].headers.range).toBe('bytes=1000-');
    expect(fs.readFileSync(p).equals(body)).toBe(true);
  });

  test('416: a complete partial file is verified and used; an over-long one is re-downloaded', async () => {
    const body = crypto.randomBytes(40_000);
    env.hub.addFile('acme/r416', 'a.bin', { body });
    env.hub.addFile('acme/r416', 'b.bin', { body });
    const folder = modelFolder('acme/r416');
    fs.mkdirSync(folder, { recursive: true });
    fs.writeFileSync(path.join(folder, 'a.bin.incomplete'), body);
    fs.writeFileSync(path.join(folder, 'b.bin.incomplete'), Buffer.concat([body, Buffer.from('extra')]));

    expect(fs.readFileSync(await download('acme/r416', 'a.bin', opts())).equals(body)).toBe(true);
    expect(fs.readFileSync(await download('acme/r416', 'b.bin', opts())).equals(body)).toBe(true);
    const ranges = env.hub.hits('/cdn/').map((r) => r.headers.range);
    expect(ranges).toEqual([`bytes=${body.length}-`, `bytes=${body.length + 5}-`, undefined]);
  });

  test('a partial file of an older version is not glued to the new one', async () => {
    const v1 = crypto.randomBytes(60_000);
    const v2 = crypto.randomBytes(60_000);
    env.hub.addFile('acme/moving', 'w.bin', { body: v1, cutOnce: true });
    await hubError(download('acme/moving', 'w.bin', opts({ retries: 0 })), 'INTERRUPTED');
    env.hub.addFile('acme/moving', 'w.bin', { body: v2 }); // main moved on meanwhile

    const p = await download('acme/moving', 'w.bin', opts({ retries: 0 }));
    expect(fs.readFileSync(p).equals(v2)).toBe(true);
  });

  test('a checksum mismatch deletes the download and throws', async () => {
    const body = crypto.randomBytes(30_000);
    const advertised = sha256Hex(Buffer.from('something else'));
    env.hub.addFile('acme/bad', 'model.safetensors', { body, advertisedSha256: advertised });

    const err = await hubError(download('acme/bad', 'model.safetensors', opts()), 'CHECKSUM');
    expect(err.message).toContain(advertised);
    expect(err.message).toContain(sha256Hex(body));
    const folder = modelFolder('acme/bad');
    expect(fs.existsSync(path.join(folder, 'model.safetensors'))).toBe(false);
    expect(fs.existsSync(path.join(folder, 'model.safetensors.incomplete'))).toBe(false);
  });

  test('404s name the repo and the file; an unknown repo says so', async () => {
    env.hub.addRepo('acme/tiny');
    const missingFile = await hubError(download('acme/tiny', 'nope.json', opts()), 'NOT_FOUND');
    expect(missingFile.message).toContain("'acme/tiny'");
    expect(missingFile.message).toContain("'nope.json'");
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

  test('the token follows same-origin redirects but never goes to another origin', async () => {
    const body = crypto.randomBytes(10_000);
    env.hub.addFile('acme/x', 'same.bin', { body, cdn: 'absolute' });
    env.hub.addFile('acme/x', 'other.bin', { body, cdn: 'other-origin' });

    await download('acme/x', 'same.bin', opts({ token: 'hf_secret' }));
    await download('acme/x', 'other.bin', opts({ token: 'hf_secret' }));
    const seen = env.hub.hits().map((r) => [r.server, r.path, r.headers.authorization]);
    expect(seen).toEqual([
      ['hub', '/acme/x/resolve/main/same.bin', 'Bearer hf_secret'],
      ['hub', '/cdn/0', 'Bearer hf_secret'],
      ['hub', '/acme/x/resolve/main/other.bin', 'Bearer hf_secret'],
      ['cdn', '/cdn/1', undefined],
    ]);
  });

  test('HF_ENDPOINT and QLORA_CACHE_DIR are honoured', async () => {
    const body = Buffer.from('hello');
    env.hub.addFile('acme/env', 'a.txt', { body, lfs: false });
    process.env.HF_ENDPOINT = env.hub.url + '/';
    process.env.QLORA_CACHE_DIR = path.join(env.tmp, 'env-cache');
    const p = await download('acme/env', 'a.txt', { onProgress: null });
    expect(p).toBe(path.join(env.tmp, 'env-cache', 'hub', 'models--acme--env', 'main', 'a.txt'));
    expect(env.hub.hits('/acme/env/resolve/main/a.txt')).toHaveLength(1);
  });

  test('datasets use /datasets/ URLs and folders; revisions with a slash are encoded', async () => {
    const body = Buffer.from('text,label\n');
    env.hub.addFile('datasets/stanfordnlp/imdb', 'plain_text/train-00000-of-00001.parquet', { body });
    env.hub.addFile('acme/tiny', 'config.json', { body, lfs: false }, 'refs/pr/1');

    const d = await download('stanfordnlp/imdb', 'plain_text/train-00000-of-00001.parquet', opts({ repoType: 'dataset' }));
    expect(d).toBe(path.join(env.tmp, 'cache', 'hub', 'datasets--stanfordnlp--imdb', 'main', 'plain_text', 'train-00000-of-00001.parquet'));
    const r = await download('acme/tiny', 'config.json', opts({ revision: 'refs/pr/1' }));
    expect(r).toBe(path.join(modelFolder('acme/tiny', 'refs%2Fpr%2F1'), 'config.json'));
    expect(env.hub.hits('/resolve/').map((h) => h.path)).toEqual([
      '/datasets/stanfordnlp/imdb/resolve/main/plain_text/train-00000-of-00001.parquet',
      '/acme/tiny/resolve/refs%2Fpr%2F1/config.json',
    ]);
  });

  test('offline: cached files are used, missing ones say where to put them; no request either way', async () => {
    const body = Buffer.from('{}');
    env.hub.addFile('acme/off', 'config.json', { body, lfs: false });
    await download('acme/off', 'config.json', opts());
    const before = env.hub.hits().length;

    const cached = await download('acme/off', 'config.json', opts({ offline: true }));
    expect(fs.readFileSync(cached).equals(body)).toBe(true);

    process.env.HF_HUB_OFFLINE = '1';
    const err = await hubError(download('acme/off', 'vocab.txt', opts()), 'NOT_CACHED');
    expect(err.message).toContain(path.join(modelFolder('acme/off'), 'vocab.txt'));
    expect(err.message).toContain('QLORA_MODEL');
    expect(env.hub.hits()).toHaveLength(before);
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

  test('an unreachable endpoint says the machine seems offline and how to work offline', async () => {
    // A port that was just free: connecting to it is refused.
    const server = http.createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    const port = (server.address() as AddressInfo).port;
    await new Promise<void>((resolve) => server.close(() => resolve()));

    const err = await hubError(download('acme/tiny', 'config.json', opts({ endpoint: `http://127.0.0.1:${port}` })), 'NETWORK');
    expect(err.message).toContain('ECONNREFUSED');
    expect(err.message).toContain('offline');
    expect(err.message).toContain('HF_HUB_OFFLINE=1');
    expect(err.message).toContain('QLORA_MODEL');
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
    // Linux's /dev/full fails every write with ENOSPC: make the partial file point at it.
    const partial = path.join(modelFolder('acme/full'), 'w.bin.incomplete');
    fs.mkdirSync(path.dirname(partial), { recursive: true });
    fs.symlinkSync('/dev/full', partial);

    const err = await hubError(download('acme/full', 'w.bin', opts()), 'DISK_FULL');
    expect(err.message).toContain(partial);
    expect(err.message).toContain('20.0 kB'); // 20 000 bytes needed
    expect(err.message).toContain('QLORA_CACHE_DIR');
    expect(fs.existsSync(path.join(modelFolder('acme/full'), 'w.bin'))).toBe(false);
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
