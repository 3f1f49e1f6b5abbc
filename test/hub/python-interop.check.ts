// A by-hand check (not a jest test: CI has no huggingface_hub) that Python's huggingface_hub and
// lib/hub share one cache both ways, against the loopback fake Hub:
//   1. Python's hf_hub_download fills cache A; we read it offline (files, a model, a tokenizer),
//      then online, where one HEAD must be the only request.
//   2. We fill cache B; Python reads it with local_files_only=True, try_to_load_from_cache and
//      scan_cache_dir (which reports any layout problem as a warning).
//   3. A and B must hold the same files and links, name for name (the .locks/ folders aside).
//
//   python3 -m venv /tmp/hfvenv && /tmp/hfvenv/bin/pip install huggingface_hub
//   HF_PYTHON=/tmp/hfvenv/bin/python npx ts-node --transpile-only test/hub/python-interop.check.ts
//
// Last run: huggingface_hub 2.0.0, all three steps passed, trees identical (14 entries).
import { execFile } from 'child_process';
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { promisify } from 'util';
import { FakeHub } from '../helpers/fake-hub';
import { FIXTURE_DIR } from '../helpers/checkpoint';
import { download, loadPretrained, loadTokenizer, snapshot, useBackend } from '../../lib';

const run = promisify(execFile);
const PYTHON = process.env.HF_PYTHON || 'python3';
const root = fs.mkdtempSync(path.join(os.tmpdir(), 'hf-interop-'));
const A = path.join(root, 'python-cache');
const B = path.join(root, 'our-cache');
const VOCAB = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]', 'hello', 'world', ...Array.from({ length: 57 }, (_, i) => `w${i}`)];
const files: Record<string, Buffer> = {
  'config.json': fs.readFileSync(path.join(FIXTURE_DIR, 'tiny', 'config.json')),
  'model.safetensors': fs.readFileSync(path.join(FIXTURE_DIR, 'tiny', 'model.safetensors')),
  'vocab.txt': Buffer.from(VOCAB.join('\n') + '\n'),
  'tokenizer_config.json': Buffer.from('{"do_lower_case": true}'),
};
const DATA_FILE = 'plain_text/train-00000-of-00001.parquet';

async function py(code: string, env: Record<string, string>): Promise<string> {
  try {
    return (await run(PYTHON, ['-c', code], { env: { ...process.env, HF_HOME: root, HF_HUB_DISABLE_TELEMETRY: '1', ...env } })).stdout.trim();
  } catch (err) {
    throw new Error(`${PYTHON} failed: ${(err as { stderr?: string }).stderr ?? err}`);
  }
}

function tree(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      const rel = path.relative(dir, p);
      if (rel === '.locks') continue;
      if (e.isSymbolicLink()) out.push(`${rel} -> ${fs.readlinkSync(p)}`);
      else if (e.isDirectory()) walk(p);
      else out.push(rel);
    }
  };
  walk(dir);
  return out.sort();
}

async function main(): Promise<void> {
  await useBackend('cpu');
  const hub = await FakeHub.start();
  // huggingface_hub follows redirects to the same host name (whatever the port): give the CDN another name.
  hub.cdnUrl = hub.cdnUrl.replace('127.0.0.1', 'localhost');
  try {
    for (const [name, body] of Object.entries(files)) hub.addFile('acme/tiny', name, { body, lfs: name.endsWith('.safetensors') });
    hub.addFile('datasets/acme/imdb', DATA_FILE, { body: Buffer.from('PAR1 not really parquet PAR1') });
    console.log(await py(`import huggingface_hub; print('huggingface_hub', huggingface_hub.__version__)`, {}));

    // 1. Python writes A (asking for tokenizer.json too, which leaves a .no_exist marker).
    console.log(await py(`
import json
from huggingface_hub import hf_hub_download
from huggingface_hub.errors import EntryNotFoundError
for f in json.loads('${JSON.stringify(Object.keys(files))}'): hf_hub_download('acme/tiny', f)
hf_hub_download('acme/imdb', '${DATA_FILE}', repo_type='dataset')
try: hf_hub_download('acme/tiny', 'tokenizer.json')
except EntryNotFoundError: print('python: tokenizer.json is EntryNotFound, as expected')`, { HF_ENDPOINT: hub.url, HF_HUB_CACHE: A }));

    process.env.HF_HOME = root;
    process.env.HF_HUB_CACHE = A;
    process.env.HF_HUB_OFFLINE = '1';
    for (const [name, body] of Object.entries(files)) {
      if (!fs.readFileSync(await download('acme/tiny', name, { onProgress: null })).equals(body)) throw new Error(`cache A: ${name} differs`);
    }
    await download('acme/imdb', DATA_FILE, { repoType: 'dataset', onProgress: null });
    const model = await loadPretrained('acme/tiny', { numLabels: 3, log: () => {} });
    model.dispose();
    const tok = await loadTokenizer('acme/tiny');
    if (tok.builtFrom !== 'vocab.txt' || tok.encode('hello world').ids.join() !== '2,5,6,3') throw new Error('cache A: tokenizer');
    delete process.env.HF_HUB_OFFLINE;
    const before = hub.requests.length;
    await snapshot('acme/tiny', [...Object.keys(files), 'tokenizer.json?'], { endpoint: hub.url, onProgress: null });
    const asked = hub.requests.slice(before).map((r) => `${r.method} ${r.path}`);
    if (asked.join() !== 'HEAD /acme/tiny/resolve/main/config.json') throw new Error(`cache A online: asked ${asked.join(', ')}`);
    console.log('ours: read every file of cache A offline; online, one HEAD and no download');

    // 2. We write B; Python reads it.
    process.env.HF_HUB_CACHE = B;
    await snapshot('acme/tiny', [...Object.keys(files), 'tokenizer.json?'], { endpoint: hub.url, onProgress: null });
    await download('acme/imdb', DATA_FILE, { repoType: 'dataset', endpoint: hub.url, onProgress: null });
    const sha = Object.fromEntries(Object.entries(files).map(([n, b]) => [n, crypto.createHash('sha256').update(b).digest('hex')]));
    console.log(await py(`
import json, hashlib
from huggingface_hub import hf_hub_download, scan_cache_dir, try_to_load_from_cache, _CACHED_NO_EXIST
for f, h in json.loads('${JSON.stringify(sha)}').items():
    assert hashlib.sha256(open(hf_hub_download('acme/tiny', f, local_files_only=True), 'rb').read()).hexdigest() == h, f
hf_hub_download('acme/imdb', '${DATA_FILE}', repo_type='dataset', local_files_only=True)
assert try_to_load_from_cache('acme/tiny', 'tokenizer.json') is _CACHED_NO_EXIST
info = scan_cache_dir()
assert not info.warnings, info.warnings
print('python: read every file of cache B; scan_cache_dir:', sorted((r.repo_type, r.repo_id, r.nb_files, sorted(r.refs)) for r in info.repos), 'no warnings')`, { HF_HUB_CACHE: B, HF_HUB_OFFLINE: '1' }));

    // 3. Same tree, name for name.
    const [a, b] = [tree(A), tree(B)];
    if (a.join('\n') !== b.join('\n')) throw new Error(`trees differ:\nPython:\n${a.join('\n')}\nours:\n${b.join('\n')}`);
    console.log(`trees identical (${a.length} entries)`);
  } finally {
    await hub.close();
    fs.rmSync(root, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error((err as Error).message);
  process.exit(1);
});
