// DataFrames for the notebook's data steps (the original notebook used pandas), with danfojs-node:
// SentimentData ⇄ DataFrame, reading a CSV, mapping labels, seeded sampling, and rows to show.
//
// danfojs-node 1.2 depends on @tensorflow/tfjs-node, which this project's package.json overrides
// with tfjs 3.21 (the real tfjs-node needs a native TensorFlow). Loaded as it is, that second
// tfjs shares the first one's global registries: it prints ~300 "kernel already registered"
// lines and replaces our CPU kernels and gradients with its own (the registry keeps the last
// one). loadDanfo() therefore hands danfo the tfjs this project already uses, before danfo
// asks for its own: nothing is registered twice, our backend and kernels stay as they are
// (test/data/danfo.test.ts checks both in a plain Node process, as the notebook kernel runs).
// danfo only needs tensors for arithmetic between frames, which the notebook does not use.
//
// danfojs-node takes a few seconds to load, so it is required on first use, never at import time.
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import type * as Danfo from 'danfojs-node';
import { permutation } from '../util/random';
import { KAGGLE_LABEL_MAP, RowCollector, SentimentData } from './rows';
import { maxIntegerLabel } from './labels';
import { htmlTable } from '../util/table';

/**
 * danfojs-node, loaded on first use with this project's tfjs in place of its own tfjs 3.21 (see
 * the top of this file). Under jest, whose module registry ignores require.cache, jest.config.js
 * maps @tensorflow/tfjs-node to @tensorflow/tfjs to the same effect.
 */
export function loadDanfo(): typeof Danfo {
  const danfoMain = require.resolve('danfojs-node');
  if (!require.cache[danfoMain]) {
    const tfjsNode = require.resolve('@tensorflow/tfjs-node', { paths: [path.dirname(danfoMain)] });
    if (!require.cache[tfjsNode]) {
      // What Node's loader reads off a cached module: a finished one, with its exports.
      require.cache[tfjsNode] = { id: tfjsNode, filename: tfjsNode, loaded: true, exports: tf, children: [], paths: [] } as unknown as NodeModule;
    }
  }
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  return require('danfojs-node') as typeof Danfo;
}

/** A DataFrame with columns `text`, `label` (id) and `label_name`. */
export function toDataFrame(data: SentimentData): Danfo.DataFrame {
  const { DataFrame } = loadDanfo();
  return new DataFrame({
    text: data.texts,
    label: Array.from(data.labels),
    label_name: Array.from(data.labels, (id) => data.labelNames[id]),
  });
}

export interface FromDataFrameOptions {
  /** Default `text`. */
  textColumn?: string;
  /** Default `label`. Holds ids (numbers) or label names (strings). */
  labelColumn?: string;
  /** For string labels: name → id. Default { negative: 0, positive: 1 }. */
  labelMap?: Record<string, number>;
  /** For numeric labels: names of ids 0..K-1. Default: `label_name` column if present, else "0", "1", … */
  labelNames?: string[];
  maxReviewBytes?: number;
  source?: string;
}

/** SentimentData from a DataFrame; missing/empty rows are skipped and counted as when loading. */
export function fromDataFrame(df: Danfo.DataFrame, opts: FromDataFrameOptions = {}): SentimentData {
  const textColumn = opts.textColumn ?? 'text';
  const labelColumn = opts.labelColumn ?? 'label';
  const columns = df.columns as string[];
  for (const [what, column, option] of [
    ['text', textColumn, 'textColumn'],
    ['label', labelColumn, 'labelColumn'],
  ]) {
    if (!columns.includes(column)) {
      throw new Error(
        `fromDataFrame: no ${what} column "${column}". Columns found: ${columns.map((c) => JSON.stringify(c)).join(', ')}. ` +
          `Name the right one with { ${option}: '…' }.`,
      );
    }
  }
  const texts = df.column(textColumn).values as unknown[];
  const rawLabels = df.column(labelColumn).values as unknown[];
  const numeric = rawLabels.some((v) => typeof v === 'number');

  let labelMap = opts.labelMap;
  let labelNames = opts.labelNames;
  if (numeric && !labelMap) {
    // Ids: each id's name comes from labelNames, a label_name column, or the id itself.
    const maxId = maxIntegerLabel(rawLabels, opts.source ?? 'DataFrame', labelColumn) ?? 0;
    if (!labelNames && columns.includes('label_name')) {
      const names = df.column('label_name').values as unknown[];
      labelNames = Array.from({ length: maxId + 1 }, (_, id) => {
        const row = rawLabels.findIndex((v) => v === id);
        return row >= 0 && typeof names[row] === 'string' ? (names[row] as string) : String(id);
      });
    }
    labelNames = labelNames ?? Array.from({ length: maxId + 1 }, (_, id) => String(id));
    labelMap = Object.fromEntries(labelNames.map((_, id) => [String(id), id]));
  }
  labelMap = labelMap ?? { ...KAGGLE_LABEL_MAP };
  const collector = new RowCollector({
    source: opts.source ?? 'DataFrame',
    labelMap,
    labelNames,
    labelField: labelColumn,
    maxReviewBytes: opts.maxReviewBytes,
  });
  texts.forEach((text, i) => {
    const label = rawLabels[i];
    // danfojs turns missing numbers into NaN: that is a missing label, not label "NaN".
    const missing = label === null || label === undefined || (typeof label === 'number' && Number.isNaN(label));
    collector.add(text, missing ? null : label, i + 1);
  });
  return collector.finish();
}

export interface HtmlTableOptions {
  /** Rows shown (default 10); the caption says how many there are in all. */
  maxRows?: number;
  /** Characters shown per cell, "…" included (default 300). */
  maxChars?: number;
  /** Columns to show, in order (default: the keys of the first row). */
  columns?: string[];
}

/**
 * An HTML table of the first rows (util/table.ts' htmlTable): SentimentData (columns text,
 * label name) or plain row objects, captioned "<shown> of <total> rows". Every cell is escaped,
 * so reviews with <br /> or <script> show as text.
 */
export function toHtmlTable(rows: SentimentData | Array<Record<string, unknown>>, opts: HtmlTableOptions = {}): string {
  const maxRows = opts.maxRows ?? 10;
  // Only the rows shown become records: SentimentData may hold 50,000 reviews.
  const records = Array.isArray(rows) ? rows.slice(0, maxRows) : sentimentRecords(rows, maxRows);
  const total = Array.isArray(rows) ? rows.length : rows.texts.length;
  const caption = `${records.length} of ${total} row${total === 1 ? '' : 's'}`;
  return htmlTable(records, { maxRows, maxChars: opts.maxChars ?? 300, columns: opts.columns, caption });
}

function sentimentRecords(data: SentimentData, count: number): Array<Record<string, unknown>> {
  const n = Math.min(count, data.texts.length);
  return Array.from({ length: n }, (_, i) => ({ text: data.texts[i], label: data.labelNames[data.labels[i]] }));
}

// ---- the notebook's pandas steps ----

/**
 * pandas `pd.read_csv(file)` with danfo (papaparse underneath), every cell kept as a string
 * (`dynamicTyping: false`: a review reading "10" stays text). Measured on IMDB's Kaggle
 * train.csv (25,000 reviews, 33 MB, quoted fields with "" escapes): the same 25,000 reviews,
 * identical to our RFC 4180 reader (csv.ts) byte for byte, in about half its time. Throws,
 * naming the file, when it cannot be read.
 */
export async function readCsvFrame(file: string): Promise<Danfo.DataFrame> {
  if (!fs.existsSync(file)) throw new Error(`readCsvFrame: ${file} not found`);
  const dfd = loadDanfo();
  return (await dfd.readCSV(file, { dynamicTyping: false } as never)) as Danfo.DataFrame;
}

/**
 * The Kaggle CSV's shape, whatever the source: columns `review` (text) and `sentiment` (label
 * name), so that the notebook's pandas steps read the same for a CSV, Parquet or the aclImdb tarball.
 */
export function reviewsFrame(data: SentimentData): Danfo.DataFrame {
  const { DataFrame } = loadDanfo();
  return new DataFrame({ review: data.texts, sentiment: Array.from(data.labels, (id) => data.labelNames[id]) });
}

/**
 * pandas `df[column].map(mapping)`: each value replaced by mapping[value], and a value the
 * mapping lacks becomes missing (null), as pandas makes it NaN; danfo's own map would keep it.
 */
export function mapColumn(df: Danfo.DataFrame, column: string, mapping: Record<string, number>): Danfo.Series {
  return df.column(column).map((value: unknown) => (typeof value === 'string' && Object.prototype.hasOwnProperty.call(mapping, value) ? mapping[value] : null));
}

/**
 * pandas `df.sample(frac=frac, random_state=seed)`: round(frac · n) rows in random order, the rows
 * `sampleFraction` picks for the same seed. Not danfo's `df.sample(n, { seed })`: that draws
 * through a shuffle buffer as large as the sample, so 1% of 25,000 rows all come from the first
 * few hundred (measured: 250 of 25,000, none past row 474).
 */
export function sampleFrame(df: Danfo.DataFrame, frac: number, seed: number): Danfo.DataFrame {
  const n = df.shape[0];
  if (!(frac > 0 && frac <= 1)) throw new Error(`sampleFrame: frac must be in (0, 1], got ${frac} (e.g. 0.1 for 10% of the rows)`);
  const count = Math.round(frac * n);
  if (count === 0) throw new Error(`sampleFrame: frac ${frac} of ${n} rows rounds to 0 rows; use a larger frac`);
  return df.iloc({ rows: permutation(n, seed).slice(0, count) });
}

/**
 * The first `maxRows` rows of a DataFrame or Series (`df.head()`) as plain objects for showTable:
 * the index under `names.index` (default ''), then the columns (a Series: its values under
 * `names.value`, default 'value').
 */
export function frameRows(
  frame: Danfo.DataFrame | Danfo.Series,
  maxRows = 5,
  names: { index?: string; value?: string } = {},
): Array<Record<string, unknown>> {
  const index = (frame.index as unknown[]).slice(0, maxRows);
  const values = frame.values as unknown[];
  const indexName = names.index ?? '';
  // A Series' values are scalars, a DataFrame's are rows (danfo's own classes differ between its
  // base and node builds, so instanceof cannot tell them apart).
  if (values.length > 0 && !Array.isArray(values[0])) return index.map((idx, r) => ({ [indexName]: idx, [names.value ?? 'value']: values[r] }));
  const columns = frame.columns as string[];
  return index.map((idx, r) => ({ [indexName]: idx, ...Object.fromEntries(columns.map((c, i) => [c, (values[r] as unknown[])[i]])) }));
}
