// test/helpers/assets.ts and fetch-assets.ts: a fresh clone without ../shared fetches the test
// assets (tokenizer from the Hub through lib/hub, IMDB from its archive), and says in one sentence
// what to do when that fails. The CSVs are checked with papaparse, an independent RFC 4180 parser.
import * as fs from 'fs';
import * as http from 'http';
import * as path from 'path';
import * as zlib from 'zlib';
import { AddressInfo } from 'net';
import Papa from 'papaparse';
import * as tar from 'tar-stream';
import { fetchAssets } from '../helpers/fetch-assets';
import { locateAssets } from '../helpers/assets';
import { useFakeHub } from '../helpers/fake-hub';

const env = useFakeHub();

/** An aclImdb-like archive, members deliberately out of id order (as in the real archive). */
async function aclImdbTarball(members: Record<string, string>): Promise<Buffer> {
  const pack = tar.pack();
  for (const [name, text] of Object.entries(members)) pack.entry({ name }, text);
  pack.entry({ name: 'aclImdb/imdb.vocab' }, 'the\nand\n'); // other files of the archive are ignored
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const c of pack) chunks.push(c as Buffer);
  return zlib.gzipSync(Buffer.concat(chunks));
}

async function serve(body: Buffer): Promise<{ url: string; close: () => Promise<void> }> {
  const server = http.createServer((req, res) => {
    if (req.url === '/old') return void res.writeHead(301, { Location: '/aclImdb_v1.tar.gz' }).end();
    res.writeHead(200, { 'Content-Length': String(body.length) }).end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

test('fetchAssets: tokenizer files through the Hub cache, IMDB CSVs in id order, negatives first', async () => {
  const files = {
    'config.json': '{"model_type": "distilbert"}',
    'vocab.txt': '[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nhello\n',
    'tokenizer.json': '{"version": "1.0"}',
    'tokenizer_config.json': '{"do_lower_case": true, "model_max_length": 512}',
  };
  for (const [name, body] of Object.entries(files)) env.hub.addFile('distilbert-base-uncased', name, { body: Buffer.from(body), lfs: false });
  const reviews = {
    'aclImdb/train/pos/1_7.txt': 'Loved it, "truly".',
    'aclImdb/train/neg/1_2.txt': 'Line one<br />line two\nand a real newline',
    'aclImdb/test/pos/0_10.txt': 'Très bien 🎬',
    'aclImdb/train/neg/0_3.txt': 'Story of a man, badly told.',
    'aclImdb/test/neg/0_1.txt': 'Dull.',
    'aclImdb/train/pos/0_8.txt': 'Fine "film", fine cast',
    'aclImdb/train/unsup/0_0.txt': 'unlabelled: not in any CSV',
  };
  const server = await serve(await aclImdbTarball(reviews));
  const target = path.join(env.tmp, 'assets');
  try {
    await fetchAssets(target, { hub: env.opts(), imdbUrl: `${server.url}/old` });
  } finally {
    await server.close();
  }

  for (const [name, body] of Object.entries(files)) {
    expect(fs.readFileSync(path.join(target, 'distilbert-base-uncased', name), 'utf8')).toBe(body);
    // …and they came through the Hugging Face cache, where Python will find them too.
    const cached = path.join(env.modelFolder('distilbert-base-uncased'), 'snapshots', env.hub.commit('distilbert-base-uncased'), name);
    expect(fs.readFileSync(cached, 'utf8')).toBe(body);
  }
  // The Hub repo has no special_tokens_map.json: transformers' default for BERT is written instead.
  expect(JSON.parse(fs.readFileSync(path.join(target, 'distilbert-base-uncased', 'special_tokens_map.json'), 'utf8'))).toEqual({
    cls_token: '[CLS]', mask_token: '[MASK]', pad_token: '[PAD]', sep_token: '[SEP]', unk_token: '[UNK]',
  });

  const csv = (split: string) => Papa.parse<string[]>(fs.readFileSync(path.join(target, 'imdb', `${split}.csv`), 'utf8'), { skipEmptyLines: true }).data;
  expect(csv('train')).toEqual([
    ['review', 'sentiment'],
    ['Story of a man, badly told.', 'negative'],
    ['Line one<br />line two\nand a real newline', 'negative'],
    ['Fine "film", fine cast', 'positive'],
    ['Loved it, "truly".', 'positive'],
  ]);
  expect(csv('test')).toEqual([['review', 'sentiment'], ['Dull.', 'negative'], ['Très bien 🎬', 'positive']]);
  expect(fs.existsSync(path.join(target, 'imdb', 'aclImdb.tar.gz'))).toBe(true);
  expect(fs.readdirSync(env.tmp).filter((f) => f.includes('partial'))).toEqual([]); // staging folder gone
});

test('offline, with no QLORA_ASSETS, no ../shared and nothing cached: one sentence saying why and what to do', () => {
  const sharedDir = path.join(env.tmp, 'no-shared', 'assets');
  const fetchDir = path.join(env.tmp, 'data', 'test-assets');
  const childEnv: NodeJS.ProcessEnv = { ...process.env, HF_HUB_OFFLINE: '1', HF_HUB_CACHE: path.join(env.tmp, 'empty-hub-cache'), HF_HOME: path.join(env.tmp, 'home') };
  delete childEnv.QLORA_ASSETS;
  let message = '';
  try {
    locateAssets({ assetsEnv: undefined, sharedDir, fetchDir, env: childEnv });
  } catch (err) {
    message = (err as Error).message;
  }
  expect(message).toContain('QLORA_ASSETS is unset');
  expect(message).toContain(sharedDir);
  expect(message).toContain(fetchDir);
  expect(message).toContain('HF_HUB_OFFLINE is set and distilbert-base-uncased is not in the Hugging Face cache');
  expect(message).toMatch(/set QLORA_ASSETS to a folder laid out like \.\.\/shared\/assets, or run once with network access\.$/);
  expect(message.split(/\.\s/)).toHaveLength(1); // one sentence
  expect(fs.existsSync(fetchDir)).toBe(false);
});

test('QLORA_ASSETS naming a folder that does not exist is an error, not a silent fetch', () => {
  const missing = path.join(env.tmp, 'typo');
  expect(() => locateAssets({ assetsEnv: missing, sharedDir: env.tmp, fetchDir: env.tmp, env: process.env })).toThrow(
    `QLORA_ASSETS is ${missing}, which does not exist`,
  );
});
