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
import * as nodeModule from 'module';
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
      const shared = new nodeModule.Module(tfjsNode);
      shared.filename = tfjsNode;
      shared.loaded = true;
      shared.exports = tf;
      require.cache[tfjsNode] = shared;
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
