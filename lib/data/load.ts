// Sentiment data in: one entry point, `loadSentimentData(source)`, for every form IMDB comes in.
//
//   Kaggle CSV (review,sentiment) or text,label  → csv.ts
//   a folder with train.csv / test.csv            → csv.ts, per split
//   aclImdb folder or aclImdb_v1.tar.gz           → aclimdb.ts
//   a .parquet file, or a Hub dataset id          → parquet.ts (Hub files fetched by hub/hub.ts)
//
// and out: SentimentData {texts, labels, labelNames, source, skipped} (rows.ts; default label
// maps, and the star-rating classes of `labels: 'stars' | 'stars4' | […]`, in labels.ts). The notebook's pandas steps (sample, split, shuffle) are in ops.ts;
// DataFrame conversion and the HTML preview in danfo.ts.
import * as fs from 'fs';
import * as path from 'path';
import { isAclImdbFolder, readAclImdbFolder, readAclImdbTarball } from './aclimdb';
import { readSentimentCsv } from './csv';
import { concatRows } from './ops';
import { readSentimentParquet } from './parquet';
import { DataSplit, LoadProgress, SentimentData } from './rows';
import { download } from '../hub/hub';
import { LabelScheme, TableReadOptions, starGrouping, starLabeling } from './labels';

export * from './rows';
export * from './ops';
export { toDataFrame, fromDataFrame, toHtmlTable } from './danfo';
export type { FromDataFrameOptions, HtmlTableOptions } from './danfo';
export { readSentimentCsv } from './csv';
export { readAclImdbFolder, readAclImdbTarball, ACLIMDB_LABEL_NAMES } from './aclimdb';
export { readSentimentParquet } from './parquet';
export { decodeUtf8 } from './utf8';
export { STAR_GROUPINGS, starLabeling } from './labels';
export type { LabelScheme, StarClass, StarLabeling } from './labels';

/** What QLORA_DATA means when it is not set. */
export const DEFAULT_DATA_SOURCE = 'stanfordnlp/imdb';

/** $QLORA_DATA, else `stanfordnlp/imdb`. */
export function defaultDataSource(): string {
  return process.env.QLORA_DATA || DEFAULT_DATA_SOURCE;
}

/** Fetches one file of a Hub repo and returns its local path (lib/hub.ts `download`). */
export type HubDownload = (
  repoId: string,
  filename: string,
  opts: { repoType: 'dataset'; cacheDir?: string },
) => Promise<string>;

/** Table columns and labels (TableReadOptions: also the `labels` scheme of aclImdb sources), plus where to read from. */
export interface LoadOptions extends TableReadOptions {
  /** Default 'train'. A single CSV or Parquet file has no splits: 'train' and 'all' read all of it. */
  split?: DataSplit;
  /** The Hugging Face cache folder for Hub downloads (lib/hub's cacheDir; default $HF_HUB_CACHE, else $HF_HOME/hub). */
  cacheDir?: string;
  onProgress?: (progress: LoadProgress) => void;
  /** Parquet files per split in a Hub dataset; default `plain_text/<split>-00000-of-00001.parquet` (stanfordnlp/imdb). */
  hubFiles?: Partial<Record<'train' | 'test', string[]>>;
  /** Replaces hub.ts' download (tests, or a custom mirror). */
  download?: HubDownload;
}

const WHERE_TO_GET_IMDB =
  'Get IMDB as the Kaggle CSV ("IMDB Dataset of 50K Movie Reviews": review,sentiment), as aclImdb_v1.tar.gz ' +
  '(https://ai.stanford.edu/~amaas/data/sentiment/, file or unpacked folder), or from the Hub as stanfordnlp/imdb ' +
  '(needs network), then set QLORA_DATA to that file, folder or dataset id.';

/**
 * Loads labelled reviews from `source` (default $QLORA_DATA, else stanfordnlp/imdb): a CSV,
 * a folder of train.csv/test.csv, an aclImdb folder or tarball, a .parquet file, or a Hub
 * dataset id. Bad input throws an error that names the file and the fix; rows without a review
 * or label are skipped and counted in `skipped`. `labels` picks the classes: negative/positive
 * (default) or star-rating classes (LoadOptions.labels).
 */
export async function loadSentimentData(source: string = defaultDataSource(), opts: LoadOptions = {}): Promise<SentimentData> {
  const split = opts.split ?? 'train';
  if (!['train', 'test', 'all'].includes(split)) {
    throw new Error(`loadSentimentData: split must be 'train', 'test' or 'all', got ${JSON.stringify(split)}`);
  }
  const grouping = starGrouping(opts.labels);
  if (grouping) starLabeling(grouping); // an invalid grouping fails before any file is read
  const local = path.resolve(source);
  if (fs.existsSync(local)) {
    return fs.statSync(local).isDirectory() ? loadFolder(local, split, opts) : loadFile(local, split, opts);
  }
  if (looksLikeHubId(source)) return loadFromHub(source, split, opts);
  throw new Error(`Sentiment data not found: ${local} does not exist. ${WHERE_TO_GET_IMDB}`);
}

async function loadFile(file: string, split: DataSplit, opts: LoadOptions): Promise<SentimentData> {
  const name = path.basename(file).toLowerCase();
  if (/\.(tar\.gz|tgz|tar)$/.test(name)) return readAclImdbTarball(file, { ...opts, split });
  if (split === 'test') {
    throw new Error(
      `${file} is a single file with no test split. Load it with split 'train' (or 'all') and make one with trainTestSplit(data, { testSize, seed }).`,
    );
  }
  if (/\.(csv|tsv)$/.test(name)) return readSentimentCsv(file, opts);
  if (name.endsWith('.parquet')) return readSentimentParquet(file, opts);
  throw new Error(`${file}: unknown data file type. Expected .csv, .tsv, .parquet, or aclImdb_v1.tar.gz. ${WHERE_TO_GET_IMDB}`);
}

async function loadFolder(dir: string, split: DataSplit, opts: LoadOptions): Promise<SentimentData> {
  if (isAclImdbFolder(dir) || isAclImdbFolder(path.join(dir, 'aclImdb'))) {
    return readAclImdbFolder(dir, { ...opts, split });
  }
  // A folder holding one CSV per split, like the Kaggle-format train.csv / test.csv.
  const splits: Array<'train' | 'test'> = split === 'all' ? ['train', 'test'] : [split];
  const files = splits.map((s) => path.join(dir, `${s}.csv`));
  if (files.every((f) => fs.existsSync(f))) {
    const parts = files.map((f) => readSentimentCsv(f, opts));
    return concatRows(parts, `${dir} [${split}]`);
  }
  throw new Error(
    `${dir}: not a data folder. Expected an aclImdb folder ({train,test}/{pos,neg}/*.txt) or ` +
      `${splits.map((s) => `${s}.csv`).join(' and ')}; found ${listSome(dir)}. ${WHERE_TO_GET_IMDB}`,
  );
}

async function loadFromHub(repoId: string, split: DataSplit, opts: LoadOptions): Promise<SentimentData> {
  const download = opts.download ?? hubDownload();
  const splits: Array<'train' | 'test'> = split === 'all' ? ['train', 'test'] : [split];
  const parts: SentimentData[] = [];
  for (const s of splits) {
    const files = opts.hubFiles?.[s] ?? [`plain_text/${s}-00000-of-00001.parquet`];
    for (const filename of files) {
      let localPath: string;
      try {
        opts.onProgress?.({ stage: 'download', done: parts.length, total: splits.length, unit: 'files' });
        localPath = await download(repoId, filename, { repoType: 'dataset', cacheDir: opts.cacheDir });
      } catch (err) {
        throw new Error(
          `Could not get ${filename} of the Hub dataset ${repoId}: ${(err as Error).message}. ` +
            `Offline, or another file layout (pass hubFiles)? If ${repoId} was meant as a local path, ` +
            `${path.resolve(repoId)} does not exist. ${WHERE_TO_GET_IMDB}`,
        );
      }
      parts.push(await readSentimentParquet(localPath, opts, `${repoId}/${filename}`));
    }
  }
  return concatRows(parts, `${repoId} [${split}]`);
}

/** hub.ts' download (imported statically: tslab compiles only the .ts files a module imports). */
function hubDownload(): HubDownload {
  return download;
}

/** "owner/name" with no file extension: a Hub dataset id rather than a path. */
function looksLikeHubId(source: string): boolean {
  return /^[A-Za-z0-9][\w.-]*\/[\w.-]+$/.test(source) && !/\.(csv|tsv|parquet|gz|tgz|tar|txt|json)$/i.test(source);
}

function listSome(dir: string): string {
  const names = fs.readdirSync(dir);
  if (names.length === 0) return 'an empty folder';
  return names.slice(0, 8).join(', ') + (names.length > 8 ? `, … (${names.length} entries)` : '');
}
