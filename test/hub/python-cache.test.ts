// A Hub cache laid out the way Python's huggingface_hub writes it (file_download.py:
// _hf_hub_download_to_cache_dir, _create_symlink, _cache_commit_hash_for_specific_revision), built
// here by hand from that layout's documented form, and loaded offline through lib/index.ts as a
// user who already ran `from_pretrained` in Python would: no second download.
// The model is the committed tiny checkpoint, whose logits PyTorch computed (test/fixtures/distilbert).
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { HubError, loadPretrained, loadTokenizer, resolveRepoFolder, useBackend } from '../../lib';
import { FIXTURE_DIR, referenceCases } from '../helpers/checkpoint';

const sha256 = (b: Buffer) => crypto.createHash('sha256').update(b).digest('hex');
const gitBlobSha1 = (b: Buffer) => crypto.createHash('sha1').update(Buffer.concat([Buffer.from(`blob ${b.length}\0`), b])).digest('hex');
const COMMIT = 'a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9';
const OLD_COMMIT = '1111111111111111111111111111111111111111';

// A 64-entry vocabulary (the tiny checkpoint's vocab_size): ids are the line numbers.
const VOCAB = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]', 'hello', 'world', '##s', ...Array.from({ length: 56 }, (_, i) => `w${i}`)];

/**
 * What `hf_hub_download` leaves for each file: blobs/<etag> (sha256 for LFS files, git blob sha1
 * for the others), snapshots/<commit>/<file> as a relative symlink (`../../blobs/<etag>` at the top
 * level, one `../` more per sub-folder), refs/main holding the commit without a newline, and the
 * .locks/ and CACHEDIR.TAG it writes beside the repos.
 */
function writePythonCache(cacheDir: string, repoFolder: string, commit: string, files: Record<string, Buffer>, lfs: (f: string) => boolean): void {
  const repo = path.join(cacheDir, repoFolder);
  for (const [name, body] of Object.entries(files)) {
    const etag = lfs(name) ? sha256(body) : gitBlobSha1(body);
    fs.mkdirSync(path.join(repo, 'blobs'), { recursive: true });
    fs.writeFileSync(path.join(repo, 'blobs', etag), body);
    const pointer = path.join(repo, 'snapshots', commit, ...name.split('/'));
    fs.mkdirSync(path.dirname(pointer), { recursive: true });
    fs.symlinkSync('../'.repeat(name.split('/').length + 1) + `blobs/${etag}`, pointer);
    fs.mkdirSync(path.join(cacheDir, '.locks', repoFolder), { recursive: true });
    fs.writeFileSync(path.join(cacheDir, '.locks', repoFolder, `${etag}.lock`), '');
  }
  fs.mkdirSync(path.join(repo, 'refs'), { recursive: true });
  fs.writeFileSync(path.join(repo, 'refs', 'main'), commit);
  fs.writeFileSync(path.join(cacheDir, 'CACHEDIR.TAG'), 'Signature: 8a477f597d28d172789f06886806bc55\n');
}

const ENV_KEYS = ['HF_HUB_CACHE', 'HF_HOME', 'HF_HUB_OFFLINE', 'HF_ENDPOINT', 'HF_TOKEN'];
let saved: Record<string, string | undefined>;
let cacheDir: string;

beforeAll(async () => {
  await useBackend('cpu');
  saved = Object.fromEntries(ENV_KEYS.map((k) => [k, process.env[k]]));
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'python-cache-'));
  cacheDir = path.join(tmp, 'hub');
  writePythonCache(
    cacheDir,
    'models--acme--tiny-distilbert',
    COMMIT,
    {
      'config.json': fs.readFileSync(path.join(FIXTURE_DIR, 'tiny', 'config.json')),
      'model.safetensors': fs.readFileSync(path.join(FIXTURE_DIR, 'tiny', 'model.safetensors')),
      'vocab.txt': Buffer.from(VOCAB.join('\n') + '\n'),
      'tokenizer_config.json': Buffer.from('{"do_lower_case": true, "model_max_length": 32}'),
    },
    (f) => f.endsWith('.safetensors'),
  );
  // Python asked for tokenizer.json once and the Hub said no: the marker huggingface_hub leaves.
  const noExist = path.join(cacheDir, 'models--acme--tiny-distilbert', '.no_exist', COMMIT, 'tokenizer.json');
  fs.mkdirSync(path.dirname(noExist), { recursive: true });
  fs.writeFileSync(noExist, '');
  // An older snapshot whose files must not be picked: refs/main names the newer commit.
  const old = path.join(cacheDir, 'models--acme--tiny-distilbert', 'snapshots', OLD_COMMIT);
  fs.mkdirSync(old, { recursive: true });
  fs.writeFileSync(path.join(old, 'config.json'), '{"broken": ');

  process.env.HF_HOME = path.join(tmp, 'unused-home');
  process.env.HF_HUB_CACHE = cacheDir;
  process.env.HF_HUB_OFFLINE = '1';
  process.env.HF_ENDPOINT = 'http://127.0.0.1:9'; // never contacted; if it were, the connection is refused
  delete process.env.HF_TOKEN;
});

afterAll(() => {
  fs.rmSync(path.dirname(cacheDir), { recursive: true, force: true });
  for (const k of ENV_KEYS) {
    if (saved[k] === undefined) delete process.env[k];
    else process.env[k] = saved[k];
  }
});

test('resolveRepoFolder finds the snapshot refs/main names, from $HF_HUB_CACHE, offline', async () => {
  const folder = await resolveRepoFolder('acme/tiny-distilbert', ['config.json', 'model.safetensors|model.safetensors.index.json', 'tokenizer.json?']);
  expect(folder).toBe(path.join(cacheDir, 'models--acme--tiny-distilbert', 'snapshots', COMMIT));
});

test('loadPretrained from the Python-filled cache gives PyTorch\'s logits', async () => {
  const model = await loadPretrained('acme/tiny-distilbert', { numLabels: 3, log: () => {} });
  try {
    for (const c of referenceCases('tiny')) {
      const logits = model.logits(c.input_ids, c.attention_mask);
      const got = logits.arraySync() as number[][];
      logits.dispose();
      const scale = Math.max(...c.logits.flat().map(Math.abs));
      const err = Math.max(...got.flat().map((v, i) => Math.abs(v - c.logits.flat()[i]))) / scale;
      expect(err).toBeLessThan(1e-5);
    }
  } finally {
    model.dispose();
  }
  expect(tf.memory().numTensors).toBe(0);
});

test('loadTokenizer takes vocab.txt where .no_exist says the repo has no tokenizer.json', async () => {
  const tok = await loadTokenizer('acme/tiny-distilbert');
  expect(tok.builtFrom).toBe('vocab.txt');
  // [CLS]=2 hello=5 world=6 ##s=7 [SEP]=3: the line numbers of VOCAB.
  expect(tok.encode('Hello worlds').ids).toEqual([2, 5, 6, 7, 3]);
});

test('a model that is not in the cache, offline: one clear error naming the repo, the cache and QLORA_MODEL', async () => {
  let err: unknown;
  try {
    await loadPretrained('acme/never-downloaded', { numLabels: 2, log: () => {} });
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(HubError);
  const msg = (err as HubError).message;
  expect((err as HubError).code).toBe('NOT_CACHED');
  expect(msg).toContain("'acme/never-downloaded'");
  expect(msg).toContain(cacheDir);
  expect(msg).toContain('QLORA_MODEL');
  expect(msg.match(/HF_HUB_OFFLINE/g)).toHaveLength(1); // said once
});
