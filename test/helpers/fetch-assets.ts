// Builds the test-asset folder (laid out like ../shared/assets) on a machine that has network but
// no ../shared: what a fresh clone needs for `npm test`.
//
//   distilbert-base-uncased/   the tokenizer and config files of the Hub model, through lib/hub
//                              (so they land in the Hugging Face cache, shared with Python)
//   imdb/aclImdb.tar.gz        the dataset's own archive (Stanford; the Hub has no copy of it)
//   imdb/train.csv, test.csv   built from that archive: Kaggle format (review,sentiment), negatives
//                              then positives, each by the number in its file name. Measured: this
//                              reproduces ../shared/assets/imdb/*.csv row for row (50,000 of 50,000).
//                              The Hub's stanfordnlp/imdb Parquet has the same reviews in another
//                              order, and tests compare order-dependent digests, so it is not used.
//
// Run as a script (`node -r ts-node/register/transpile-only fetch-assets.ts <folder>`) by
// assets.ts, synchronously, because `asset()` is called at test-file load time.
import * as fs from 'fs';
import * as path from 'path';
import * as zlib from 'zlib';
import { pipeline } from 'stream/promises';
import * as tar from 'tar-stream';
import { HubError, HubOptions, snapshot } from '../../lib/hub/hub';
import { openFollowingRedirects } from '../../lib/hub/http-client';

export const TOKENIZER_REPO = 'distilbert-base-uncased';
const TOKENIZER_FILES = ['config.json', 'vocab.txt', 'tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json?'];
export const ACLIMDB_URL = 'https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz';

// What transformers' save_pretrained writes for a BERT tokenizer with the default special tokens;
// the Hub repo has no such file, and make-random-checkpoint copies it into test checkpoints.
const SPECIAL_TOKENS_MAP = { cls_token: '[CLS]', mask_token: '[MASK]', pad_token: '[PAD]', sep_token: '[SEP]', unk_token: '[UNK]' };

export interface FetchOptions {
  hub?: HubOptions;
  /** Where aclImdb_v1.tar.gz comes from (default Stanford's URL). */
  imdbUrl?: string;
  timeoutMs?: number;
}

/** Fills `target` (which must not exist yet) with the assets; built beside it and renamed into place. */
export async function fetchAssets(target: string, opts: FetchOptions = {}): Promise<void> {
  const staging = `${target}.partial-${process.pid}`;
  fs.rmSync(staging, { recursive: true, force: true });
  try {
    const model = path.join(staging, 'distilbert-base-uncased');
    fs.mkdirSync(model, { recursive: true });
    const snap = await snapshot(TOKENIZER_REPO, TOKENIZER_FILES, opts.hub);
    for (const spec of TOKENIZER_FILES) {
      const name = spec.replace(/\?$/, '');
      const from = path.join(snap, name);
      if (fs.existsSync(from)) fs.copyFileSync(from, path.join(model, name));
      else fs.writeFileSync(path.join(model, name), JSON.stringify(SPECIAL_TOKENS_MAP, null, 2) + '\n');
    }

    const imdb = path.join(staging, 'imdb');
    fs.mkdirSync(imdb);
    const tarball = path.join(imdb, 'aclImdb.tar.gz');
    await downloadUrl(opts.imdbUrl ?? ACLIMDB_URL, tarball, opts.timeoutMs ?? 60_000);
    await writeKaggleCsvs(tarball, imdb);

    fs.mkdirSync(path.dirname(target), { recursive: true });
    try {
      fs.renameSync(staging, target);
    } catch (err) {
      if (!fs.existsSync(target)) throw err; // another test worker finished first: keep theirs
    }
  } finally {
    fs.rmSync(staging, { recursive: true, force: true });
  }
}

async function downloadUrl(url: string, file: string, timeoutMs: number): Promise<void> {
  const { res } = await openFollowingRedirects(new URL(url), { 'User-Agent': 'distilbert-qlora-ts tests' }, null, timeoutMs);
  if (res.statusCode !== 200) {
    res.resume();
    throw new Error(`${url} answered HTTP ${res.statusCode}`);
  }
  await pipeline(res, fs.createWriteStream(file));
}

/** aclImdb/{train,test}/{neg,pos}/<id>_<rating>.txt → {train,test}.csv, negatives first, by id. */
export async function writeKaggleCsvs(tarball: string, folder: string): Promise<void> {
  const reviews = new Map<string, string[]>(); // 'train/neg' → texts indexed by id
  const extract = tar.extract();
  const done = pipeline(fs.createReadStream(tarball), zlib.createGunzip(), extract);
  for await (const entry of extract) {
    const m = /^aclImdb\/(train|test)\/(neg|pos)\/(\d+)_\d+\.txt$/.exec(entry.header.name);
    const chunks: Buffer[] = [];
    for await (const chunk of entry) if (m) chunks.push(chunk as Buffer);
    if (!m) continue;
    const key = `${m[1]}/${m[2]}`;
    if (!reviews.has(key)) reviews.set(key, []);
    (reviews.get(key) as string[])[Number(m[3])] = Buffer.concat(chunks).toString('utf8');
  }
  await done;
  for (const split of ['train', 'test']) {
    const quote = (s: string) => `"${s.replace(/"/g, '""')}"`;
    const lines = ['review,sentiment'];
    for (const [label, name] of [['neg', 'negative'], ['pos', 'positive']]) {
      const texts = reviews.get(`${split}/${label}`) ?? [];
      if (texts.length === 0 || Array.from(texts).some((t) => t === undefined)) { // Array.from: holes become undefined
        throw new Error(`${tarball} lacks reviews of aclImdb/${split}/${label}/ (not the aclImdb v1 archive?)`);
      }
      for (const t of texts) lines.push(`${quote(t)},${name}`);
    }
    fs.writeFileSync(path.join(folder, `${split}.csv`), lines.join('\n') + '\n');
  }
}

/** Why fetching failed, in a few words for assets.ts's one sentence. */
export function shortReason(err: unknown): string {
  if (err instanceof HubError) {
    if (err.code === 'NOT_CACHED') return `HF_HUB_OFFLINE is set and ${TOKENIZER_REPO} is not in the Hugging Face cache`;
    const cause = (err.cause as { code?: string } | undefined)?.code;
    if (err.code === 'NETWORK') return `the Hub is unreachable${cause ? ` (${cause})` : ''}`;
    return err.message.split(/\.\s/)[0];
  }
  const e = err as NodeJS.ErrnoException;
  return e.code ? `${e.code}: ${e.message}` : e.message;
}

if (require.main === module) {
  // Progress goes to stderr (shown to the user); the reason of a failure to stdout, for assets.ts.
  fetchAssets(process.argv[2]).catch((err) => {
    process.stdout.write(shortReason(err));
    process.exit(1);
  });
}
