// The shape every sentiment reader produces, and the one place where raw rows become it:
// label mapping, dropping missing / empty / oversized reviews (counted, with examples) and the
// "unknown label" error. The CSV, aclImdb, Parquet and DataFrame readers all feed a
// RowCollector, so the rules are the same whatever the file format.

/** Why a row was dropped while loading. */
export type SkipReason = 'missing review' | 'empty review' | 'missing label' | 'review too long' | 'rating in no class';

/** One dropped row, for the report. */
export interface SkippedRow {
  reason: SkipReason;
  /** 1-based data row number (the header is not counted), or the file's index in load order. */
  row: number;
  /** Where the row came from when a row number alone does not say it (a file inside a tarball). */
  where?: string;
  detail?: string;
}

/** What was dropped while loading, and why. */
export interface SkipReport {
  total: number;
  counts: Partial<Record<SkipReason, number>>;
  /** The first few dropped rows of each reason. */
  examples: SkippedRow[];
}

/** Reviews and their labels, as loaded. Row i is (texts[i], labels[i]). */
export interface SentimentData {
  texts: string[];
  /** Label ids, indexes into labelNames. */
  labels: Int32Array | number[];
  /** index = label id, e.g. ['negative', 'positive']. */
  labelNames: string[];
  /** Where the rows came from (path or dataset id, split, and any sampling applied since). */
  source: string;
  skipped: SkipReport;
}

/** Which part of a dataset to load; 'all' is train followed by test. */
export type DataSplit = 'train' | 'test' | 'all';

/** Progress of a long load, e.g. for a progress bar: `done` of `total` `unit`s. */
export interface LoadProgress {
  stage: 'download' | 'read' | 'parse';
  done: number;
  total?: number;
  unit: 'bytes' | 'files' | 'rows';
}

/** The Kaggle IMDB CSV's labels. */
export const KAGGLE_LABEL_MAP: Readonly<Record<string, number>> = { negative: 0, positive: 1 };

/** Reviews above this many UTF-8 bytes are dropped by default (IMDB's longest is ~14 KB). */
export const DEFAULT_MAX_REVIEW_BYTES = 1024 * 1024;

const EXAMPLES_PER_REASON = 3;

export function emptySkipReport(): SkipReport {
  return { total: 0, counts: {}, examples: [] };
}

/** "2 rows skipped: 1 empty review (row 3), 1 missing label (row 7)" — for logs and warnings. */
export function describeSkips(report: SkipReport): string {
  if (report.total === 0) return 'no rows skipped';
  const parts = (Object.keys(report.counts) as SkipReason[]).map((reason) => {
    const where = report.examples
      .filter((e) => e.reason === reason)
      .map((e) => e.where ?? `row ${e.row}`);
    return `${report.counts[reason]} ${reason} (e.g. ${where.join(', ')})`;
  });
  return `${report.total} row${report.total === 1 ? '' : 's'} skipped: ${parts.join('; ')}`;
}

/**
 * The label names implied by a label map: names[id] is the first key that maps to id.
 * Ids must be 0..K-1 with none missing, since they index the classifier's outputs.
 */
export function labelNamesFromMap(labelMap: Record<string, number>): string[] {
  const names: string[] = [];
  for (const [name, id] of Object.entries(labelMap)) {
    if (!Number.isInteger(id) || id < 0) {
      throw new Error(`labelMap: label "${name}" maps to ${id}; ids must be integers 0, 1, 2, …`);
    }
    if (names[id] === undefined) names[id] = name;
  }
  for (let id = 0; id < names.length; id++) {
    if (names[id] === undefined) {
      throw new Error(
        `labelMap ${JSON.stringify(labelMap)} has no label with id ${id}; ids must run 0..${names.length - 1} without gaps`,
      );
    }
  }
  if (names.length === 0) throw new Error('labelMap is empty');
  return names;
}

export interface CollectorOptions {
  /** Human-readable origin, used in error messages and as SentimentData.source. */
  source: string;
  /** Raw label value (trimmed) → id. */
  labelMap: Record<string, number>;
  /** Names for the ids; default: from labelMap. */
  labelNames?: string[];
  maxReviewBytes?: number;
  /** Told once, after loading, when reviews were dropped for length. Default console.warn. */
  onWarning?: (message: string) => void;
  /** Name of the label column / field, for the "unknown label" error. */
  labelField?: string;
  /** Raw labels that belong to no class (a star grouping's left-out ratings): such rows are skipped, not an error. */
  ungrouped?: ReadonlySet<string>;
}

/**
 * Accumulates raw (text, label) rows, applying the skip rules, and builds SentimentData.
 * An unknown label value is not dropped: it makes `finish()` throw, listing every value seen.
 */
export class RowCollector {
  private readonly texts: string[] = [];
  private readonly labels: number[] = [];
  private readonly skipped = emptySkipReport();
  // Every raw label value seen (kept or not) with its count, for the unknown-label error.
  private readonly seenLabels = new Map<string, number>();
  private readonly unknownLabelRows: number[] = [];
  private readonly maxReviewBytes: number;
  private readonly labelNames: string[];

  constructor(private readonly opts: CollectorOptions) {
    this.maxReviewBytes = opts.maxReviewBytes ?? DEFAULT_MAX_REVIEW_BYTES;
    this.labelNames = opts.labelNames ?? labelNamesFromMap(opts.labelMap);
    for (const [value, id] of Object.entries(opts.labelMap)) {
      if (!(Number.isInteger(id) && id >= 0 && id < this.labelNames.length)) {
        throw new Error(
          `${opts.source}: labelMap maps ${JSON.stringify(value)} to ${id}, out of bounds for ${this.labelNames.length} labels ` +
            `(${this.labelNames.map((n) => JSON.stringify(n)).join(', ')}); class ids must be 0..${this.labelNames.length - 1}.`,
        );
      }
    }
  }

  /** `row` is the 1-based data row; `where` names a file when a row number alone is vague. */
  add(text: unknown, rawLabel: unknown, row: number, where?: string): void {
    if (text === undefined || text === null) return this.skip('missing review', row, where);
    const label = rawLabel === undefined || rawLabel === null ? '' : String(rawLabel).trim();
    this.seenLabels.set(label, (this.seenLabels.get(label) ?? 0) + 1);
    if (typeof text !== 'string') {
      throw new Error(
        `${this.opts.source}: row ${row}${where ? ` (${where})` : ''}: the review is a ${typeof text}, not text: ${String(text).slice(0, 80)}`,
      );
    }
    if (text.trim() === '') return this.skip('empty review', row, where);
    if (label === '') return this.skip('missing label', row, where);
    if (this.opts.ungrouped?.has(label)) return this.skip('rating in no class', row, where, `rating ${label}`);
    const id = Object.prototype.hasOwnProperty.call(this.opts.labelMap, label) ? this.opts.labelMap[label] : undefined;
    if (id === undefined) {
      this.unknownLabelRows.push(row);
      return;
    }
    // Cheap upper bound first: a UTF-8 byte count is at most 3 × the UTF-16 length.
    if (text.length * 3 > this.maxReviewBytes) {
      const bytes = Buffer.byteLength(text, 'utf8');
      if (bytes > this.maxReviewBytes) {
        return this.skip('review too long', row, where, `${bytes} bytes > maxReviewBytes ${this.maxReviewBytes}`);
      }
    }
    this.texts.push(text);
    this.labels.push(id);
  }

  /** Counts a row that was dropped before it could be read as (text, label). */
  skip(reason: SkipReason, row: number, where?: string, detail?: string): void {
    const report = this.skipped;
    report.total += 1;
    const seen = report.counts[reason] ?? 0;
    report.counts[reason] = seen + 1;
    if (seen < EXAMPLES_PER_REASON) {
      const example: SkippedRow = { reason, row };
      if (where !== undefined) example.where = where;
      if (detail !== undefined) example.detail = detail;
      report.examples.push(example);
    }
  }

  get rowCount(): number {
    return this.texts.length;
  }

  finish(): SentimentData {
    if (this.unknownLabelRows.length > 0) throw this.unknownLabelError();
    const tooLong = this.skipped.counts['review too long'];
    if (tooLong) {
      const warn = this.opts.onWarning ?? ((m: string) => console.warn(m));
      warn(
        `${this.opts.source}: skipped ${tooLong} review(s) longer than maxReviewBytes=${this.maxReviewBytes} ` +
          `(${describeSkips({ ...this.skipped, examples: this.skipped.examples.filter((e) => e.reason === 'review too long') })}). ` +
          `Raise maxReviewBytes to keep them.`,
      );
    }
    if (this.texts.length === 0) {
      throw new Error(`${this.opts.source}: no usable rows (${describeSkips(this.skipped)})`);
    }
    return {
      texts: this.texts,
      labels: Int32Array.from(this.labels),
      labelNames: this.labelNames,
      source: this.opts.source,
      skipped: this.skipped,
    };
  }

  private unknownLabelError(): Error {
    const values = [...this.seenLabels.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, 20)
      .map(([value, count]) => `${JSON.stringify(value)} ×${count}`);
    const unknown = [...this.seenLabels.keys()].filter(
      (v) => v !== '' && !Object.prototype.hasOwnProperty.call(this.opts.labelMap, v),
    );
    const suggestion: Record<string, number> = {};
    [...this.seenLabels.keys()].filter((v) => v !== '').sort().forEach((v, i) => (suggestion[v] = i));
    const rows = this.unknownLabelRows.slice(0, 5).join(', ');
    return new Error(
      `${this.opts.source}: unknown label value(s) ${unknown.map((v) => JSON.stringify(v)).join(', ')} ` +
        `in ${this.opts.labelField ? `column "${this.opts.labelField}"` : 'the labels'} (rows ${rows}${this.unknownLabelRows.length > 5 ? ', …' : ''}). ` +
        `Values seen: ${values.join(', ')}. Known: ${JSON.stringify(this.opts.labelMap)}. ` +
        `Pass the mapping you want, e.g. loadSentimentData(source, { labelMap: ${JSON.stringify(suggestion)} }).`,
    );
  }
}
