// The original Large Movie Review Dataset (Maas et al. 2011), as the `aclImdb` folder or its
// `aclImdb_v1.tar.gz`: aclImdb/{train,test}/{pos,neg}/<id>_<rating>.txt, one review per file.
// `unsup` (unlabelled reviews) and the url/vocab/feature files are skipped. Reviews come out
// in a fixed order — split (train, test), label (neg, pos), numeric id — so that a seed means
// the same rows everywhere, whatever order the archive or the file system lists them in.
// With `labels: 'stars'`, 'stars4' or a custom grouping, the label is the rating in the file
// name (grouped into classes, labels.ts) instead of the pos/neg folder.
import * as fs from 'fs';
import * as path from 'path';
import * as zlib from 'zlib';
import { pipeline } from 'stream';
import * as tar from 'tar-stream';
import { DataSplit, LoadProgress, RowCollector, SentimentData } from './rows';
import { decodeUtf8 } from './utf8';
import { LabelScheme, starGrouping, starLabeling } from './labels';

/** aclImdb's folder names mean negative (0) and positive (1). */
export const ACLIMDB_LABEL_MAP: Readonly<Record<string, number>> = { neg: 0, pos: 1 };
export const ACLIMDB_LABEL_NAMES = ['negative', 'positive'];

export interface AclImdbReadOptions {
  split?: DataSplit;
  maxReviewBytes?: number;
  /** 'sentiment' (default: the pos/neg folder), or star classes from the file name's rating (labels.ts LabelScheme). */
  labels?: LabelScheme;
  onWarning?: (message: string) => void;
  onProgress?: (progress: LoadProgress) => void;
}

/** One review file, before sorting into the fixed order. */
interface ReviewFile {
  split: 'train' | 'test';
  label: 'neg' | 'pos';
  id: number;
  /** The rating in the file name, 1..10. */
  stars: number;
  where: string; // path inside the archive or on disk, for messages
  text: string;
}

// Matches ".../aclImdb/train/pos/123_9.txt" (any leading folders, so a renamed top folder works).
const REVIEW_PATH = /(?:^|\/)(train|test)\/(pos|neg)\/(\d+)_(\d+)\.txt$/;

function splitsOf(split: DataSplit): Array<'train' | 'test'> {
  return split === 'all' ? ['train', 'test'] : [split];
}

/** True for a folder laid out like aclImdb (has train/ or test/ with pos/ and neg/ inside). */
export function isAclImdbFolder(dir: string): boolean {
  return ['train', 'test'].some((s) => fs.existsSync(path.join(dir, s, 'pos')) && fs.existsSync(path.join(dir, s, 'neg')));
}

/** Reads reviews from an aclImdb folder (the folder itself or one that contains `aclImdb/`). */
export function readAclImdbFolder(dir: string, opts: AclImdbReadOptions = {}): SentimentData {
  const root = isAclImdbFolder(dir) ? dir : path.join(dir, 'aclImdb');
  const split = opts.split ?? 'train';
  const files: ReviewFile[] = [];
  for (const s of splitsOf(split)) {
    for (const label of ['neg', 'pos'] as const) {
      const folder = path.join(root, s, label);
      if (!fs.existsSync(folder)) {
        throw new Error(
          `${dir}: missing folder ${folder}. An aclImdb folder holds {train,test}/{pos,neg}/<id>_<rating>.txt ` +
            `(unpack aclImdb_v1.tar.gz, or point at the tarball itself).`,
        );
      }
      for (const name of fs.readdirSync(folder)) {
        const match = REVIEW_PATH.exec(`${s}/${label}/${name}`);
        if (!match) continue;
        const where = path.join(folder, name);
        files.push({
          split: s,
          label,
          id: Number(match[3]),
          stars: Number(match[4]),
          where,
          text: decodeUtf8(fs.readFileSync(where), where),
        });
      }
      opts.onProgress?.({ stage: 'read', done: files.length, unit: 'files' });
    }
  }
  return collect(files, `${root} [${split}]`, opts);
}

/** Streams reviews out of aclImdb_v1.tar.gz (or an uncompressed .tar) without unpacking it. */
export async function readAclImdbTarball(file: string, opts: AclImdbReadOptions = {}): Promise<SentimentData> {
  const split = opts.split ?? 'train';
  const wanted = new Set<string>(splitsOf(split));
  const total = fs.statSync(file).size;
  if (total === 0) throw new Error(`${file} is empty (0 bytes); download aclImdb_v1.tar.gz again.`);

  const input = fs.createReadStream(file);
  let bytesRead = 0;
  input.on('data', (chunk) => {
    bytesRead += chunk.length;
    opts.onProgress?.({ stage: 'read', done: bytesRead, total, unit: 'bytes' });
  });
  const extract = tar.extract();
  const gzipped = /\.t?gz$/i.test(file);
  const onPipelineEnd = () => undefined; // errors reach us through the extract iterator below
  if (gzipped) pipeline(input, zlib.createGunzip(), extract, onPipelineEnd);
  else pipeline(input, extract, onPipelineEnd);

  const files: ReviewFile[] = [];
  try {
    for await (const entry of extract) {
      const match = entry.header.type === 'file' ? REVIEW_PATH.exec(entry.header.name) : null;
      if (!match || !wanted.has(match[1])) {
        entry.resume(); // drain unwanted entries (unsup, urls_*.txt, imdb.vocab, folders)
        continue;
      }
      const chunks: Buffer[] = [];
      for await (const chunk of entry) chunks.push(chunk as Buffer);
      const where = `${file}:${entry.header.name}`;
      files.push({
        split: match[1] as 'train' | 'test',
        label: match[2] as 'neg' | 'pos',
        id: Number(match[3]),
        stars: Number(match[4]),
        where,
        text: decodeUtf8(Buffer.concat(chunks), where),
      });
    }
  } catch (err) {
    input.destroy();
    const message = (err as Error).message;
    if (message.includes('not valid UTF-8')) throw err;
    throw new Error(`${file}: could not read the archive (${message}). Is it a complete aclImdb_v1.tar.gz?`);
  }
  if (files.length === 0) {
    throw new Error(
      `${file}: no reviews found for split "${split}" (expected entries like aclImdb/${[...wanted][0]}/pos/0_9.txt). ` +
        `Is this the aclImdb_v1.tar.gz archive?`,
    );
  }
  return collect(files, `${file} [${split}]`, opts);
}

/** Sorts the review files into the fixed order and runs them through the usual row checks. */
function collect(files: ReviewFile[], source: string, opts: AclImdbReadOptions): SentimentData {
  const splitOrder = { train: 0, test: 1 };
  const labelOrder = { neg: 0, pos: 1 };
  files.sort(
    (a, b) => splitOrder[a.split] - splitOrder[b.split] || labelOrder[a.label] - labelOrder[b.label] || a.id - b.id,
  );
  const grouping = starGrouping(opts.labels);
  const stars = grouping ? starLabeling(grouping) : null;
  const collector = new RowCollector({
    source,
    labelMap: stars ? stars.labelMap : ACLIMDB_LABEL_MAP,
    labelNames: stars ? stars.labelNames : ACLIMDB_LABEL_NAMES,
    ungrouped: stars?.ungrouped,
    labelField: stars ? 'the rating in the file name' : 'the pos/neg folder',
    maxReviewBytes: opts.maxReviewBytes,
    onWarning: opts.onWarning,
  });
  for (const [i, f] of files.entries()) {
    if (stars) checkRating(f);
    collector.add(f.text, stars ? String(f.stars) : f.label, i + 1, f.where);
  }
  return collector.finish();
}

/** A rating must be 1..10 and agree with its folder (neg ≤ 4, pos ≥ 7), or the file was misfiled or renamed. */
function checkRating(f: ReviewFile): void {
  const fits = f.stars >= 1 && f.stars <= 10 && (f.label === 'neg' ? f.stars <= 4 : f.stars >= 7);
  if (!fits) {
    throw new Error(
      `${f.where}: rating ${f.stars} in the file name does not fit the ${f.label}/ folder (aclImdb: neg/ holds 1–4 stars, ` +
        `pos/ 7–10, as <id>_<stars>.txt). Rename or move the file, or load with labels: 'sentiment' to use the folder alone.`,
    );
  }
}
