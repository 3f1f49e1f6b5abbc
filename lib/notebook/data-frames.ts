// The notebook's data source as a danfojs DataFrame with the Kaggle CSV's columns (`review`,
// `sentiment`), whatever the source is, so that its pandas steps (head, label mapping, dropna,
// value_counts, sample) read the same for the CSV, the Hub's Parquet files or the aclImdb tarball.
import * as fs from 'fs';
import type * as Danfo from 'danfojs-node';
import { loadSentimentData, LoadOptions } from '../data/load';
import { readCsvFrame, reviewsFrame } from '../data/danfo';
import { KAGGLE_LABEL_MAP } from '../data/rows';

export interface ReviewsFrame {
  frame: Danfo.DataFrame;
  /** Where the rows came from (a file, or a Hub repo and its files). */
  source: string;
  /** Label names by id: what the `sentiment` column holds. */
  labelNames: string[];
}

/**
 * A local Kaggle-style CSV (columns review, sentiment) is read by danfo's readCSV, like the
 * original's `pd.read_csv`; any other source (another CSV layout, Parquet, the tarball, a Hub
 * dataset, or star-rating classes: `opts.labels`) by loadSentimentData, then made a DataFrame of
 * the same two columns, `sentiment` holding the class names. Throws
 * loadSentimentData's errors, which name the source and the fix.
 */
export async function readReviewsFrame(source: string, opts: Pick<LoadOptions, 'cacheDir' | 'labels'> = {}): Promise<ReviewsFrame> {
  const sentiment = (opts.labels ?? 'sentiment') === 'sentiment';
  if (sentiment && /\.csv$/i.test(source) && fs.existsSync(source) && /^\uFEFF?review,sentiment\r?\n/.test(firstLine(source))) {
    const frame = await readCsvFrame(source);
    const labelNames = Object.entries(KAGGLE_LABEL_MAP).sort((a, b) => a[1] - b[1]).map(([name]) => name);
    return { frame, source, labelNames };
  }
  const data = await loadSentimentData(source, { split: 'all', cacheDir: opts.cacheDir, labels: opts.labels });
  return { frame: reviewsFrame(data), source: data.source, labelNames: data.labelNames };
}

function firstLine(file: string): string {
  const fd = fs.openSync(file, 'r');
  try {
    const buffer = Buffer.alloc(256);
    const n = fs.readSync(fd, buffer, 0, buffer.length, 0);
    const text = buffer.subarray(0, n).toString('utf8');
    return text.slice(0, text.indexOf('\n') + 1);
  } finally {
    fs.closeSync(fd);
  }
}
