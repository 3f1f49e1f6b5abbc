// Which classes a reader makes. Below: star-rating classes (labels: 'stars' | 'stars4' | a
// grouping). First, the label map a reader uses when the caller gives none: integer class ids (a `label`
// column of 0/1, as pandas' and `datasets`' to_csv write IMDB) are read as ids, like pandas and
// `datasets` read them; anything else is taken for Kaggle's words (negative/positive).
import { KAGGLE_LABEL_MAP } from './rows';

/**
 * The largest class id when every present label is a whole number (`0`, `1`, … as pandas' and
 * `datasets`' to_csv write IMDB's ClassLabel column, or numbers from a DataFrame), else null.
 * Missing and blank labels are ignored. A negative id throws, naming the row (1-based data row)
 * and the column: class ids index the classifier's outputs (IMDB's unsupervised reviews carry -1).
 */
export function maxIntegerLabel(rawLabels: ArrayLike<unknown>, source: string, labelField: string): number | null {
  let max = -1;
  for (let i = 0; i < rawLabels.length; i++) {
    const raw = rawLabels[i];
    if (raw === null || raw === undefined || (typeof raw === 'number' && Number.isNaN(raw))) continue;
    const text = String(raw).trim();
    if (text === '') continue;
    if (!/^-?\d+$/.test(text)) return null;
    const id = Number(text);
    if (id < 0) {
      throw new Error(
        `${source}: label ${text} at row ${i + 1} (column "${labelField}") is out of bounds; class ids must be 0, 1, 2, … ` +
          `(-1 marks IMDB's unlabelled "unsupervised" reviews: drop those rows, or pass a labelMap naming every value).`,
      );
    }
    max = Math.max(max, id);
  }
  return max >= 0 ? max : null;
}

/** { "0": 0, "1": 1, …, "<maxId>": maxId }: integer class ids read as themselves. */
export function idLabelMap(maxId: number): Record<string, number> {
  return Object.fromEntries(Array.from({ length: maxId + 1 }, (_, id) => [String(id), id]));
}

/**
 * The label map when the caller gives none: integer class ids as they are (like pandas and
 * `datasets`, which read such a column as integers), anything else Kaggle's words.
 */
export function defaultLabelMap(rawLabels: ArrayLike<unknown>, source: string, labelField: string): Record<string, number> {
  const maxId = maxIntegerLabel(rawLabels, source, labelField);
  return maxId === null ? { ...KAGGLE_LABEL_MAP } : idLabelMap(maxId);
}

// ---- Star ratings ------------------------------------------------------------------------
// aclImdb names every review `<id>_<stars>.txt` with the reviewer's 1–10 rating (1–4 in neg/,
// 7–10 in pos/; Maas et al. 2011 left the neutral 5–6 out). A grouping turns ratings into
// classes: each class lists the ratings it takes.

/** One class of a star grouping: its name (what charts, tables and the server show) and its ratings. */
export interface StarClass {
  name: string;
  /** Whole ratings in 1..10. */
  stars: number[];
}

/**
 * Which labels a loader produces:
 * - 'sentiment' (default): negative / positive, as the source labels them;
 * - 'stars': the 1–10 rating itself, 10 classes named '1' … '10' (label id = rating − 1; aclImdb
 *   has no 5 or 6, so those two classes stay empty there);
 * - 'stars4': very negative (1–2), negative (3–4), positive (7–8), very positive (9–10);
 * - a custom grouping: StarClass[] in label-id order. Ratings in no class are skipped
 *   (counted as 'rating in no class'), e.g. 5–6 of a source that has them.
 */
export type LabelScheme = 'sentiment' | 'stars' | 'stars4' | StarClass[];

/** The predefined star groupings by name. */
export const STAR_GROUPINGS: Readonly<Record<'stars' | 'stars4', readonly StarClass[]>> = {
  stars: Array.from({ length: 10 }, (_, i) => ({ name: String(i + 1), stars: [i + 1] })),
  stars4: [
    { name: 'very negative', stars: [1, 2] },
    { name: 'negative', stars: [3, 4] },
    { name: 'positive', stars: [7, 8] },
    { name: 'very positive', stars: [9, 10] },
  ],
};

/** How a reader labels rows from ratings: raw rating text → class id, the class names, and the ratings left out. */
export interface StarLabeling {
  labelMap: Record<string, number>;
  labelNames: string[];
  /** Ratings (as text, '1' … '10') that belong to no class: such rows are skipped. */
  ungrouped: Set<string>;
}

/** The grouping a scheme names; null for 'sentiment'. Throws on an unknown name or an invalid custom grouping. */
export function starGrouping(scheme: LabelScheme | undefined): readonly StarClass[] | null {
  if (scheme === undefined || scheme === 'sentiment') return null;
  if (scheme === 'stars' || scheme === 'stars4') return STAR_GROUPINGS[scheme];
  if (!Array.isArray(scheme)) {
    throw new Error(
      `labels must be 'sentiment', 'stars', 'stars4' or a list of { name, stars } classes, got ${JSON.stringify(scheme)}`,
    );
  }
  return scheme;
}

/**
 * The label map of a star grouping, checked: at least 2 classes, distinct non-empty names,
 * ratings whole numbers in 1..10, none in two classes. Errors name the class and the fix.
 */
export function starLabeling(grouping: readonly StarClass[]): StarLabeling {
  const fix = `e.g. labels: [{ name: 'negative', stars: [1, 2, 3, 4] }, { name: 'positive', stars: [7, 8, 9, 10] }]`;
  if (grouping.length < 2) throw new Error(`star grouping: needs at least 2 classes, got ${grouping.length} (${fix})`);
  const labelMap: Record<string, number> = {};
  const labelNames: string[] = [];
  grouping.forEach((cls, id) => {
    if (typeof cls?.name !== 'string' || cls.name.trim() === '') {
      throw new Error(`star grouping: class ${id} has no name (${fix})`);
    }
    if (labelNames.includes(cls.name)) throw new Error(`star grouping: two classes are named "${cls.name}"; class names must differ`);
    if (!Array.isArray(cls.stars) || cls.stars.length === 0) throw new Error(`star grouping: class "${cls.name}" lists no stars (${fix})`);
    for (const s of cls.stars) {
      if (!Number.isInteger(s) || s < 1 || s > 10) {
        throw new Error(`star grouping: class "${cls.name}" lists rating ${JSON.stringify(s)}; ratings are whole numbers 1..10`);
      }
      const other = labelMap[String(s)];
      if (other !== undefined) {
        throw new Error(`star grouping: rating ${s} is in both "${labelNames[other]}" and "${cls.name}"; give each rating one class`);
      }
      labelMap[String(s)] = id;
    }
    labelNames.push(cls.name);
  });
  const ungrouped = new Set<string>();
  for (let s = 1; s <= 10; s++) if (labelMap[String(s)] === undefined) ungrouped.add(String(s));
  return { labelMap, labelNames, ungrouped };
}

/**
 * A rating cell as the text the star label map is keyed by ('1' … '10'; '7.0' → '7'), or null
 * for a missing one. Throws, naming `where`, for anything that is not a whole rating in 1..10.
 */
export function normalizeRating(raw: unknown, where: string): string | null {
  if (raw === null || raw === undefined) return null;
  const text = String(raw).trim();
  if (text === '') return null;
  const value = Number(text);
  if (!Number.isInteger(value) || value < 1 || value > 10) {
    throw new Error(`${where}: rating ${JSON.stringify(text)} is not a whole number of stars in 1..10; fix or drop that row`);
  }
  return String(value);
}

/** Column names taken for the rating when the caller names none, first present wins. */
export const RATING_COLUMNS = ['rating', 'stars'];

/**
 * The column holding 1–10 ratings in a table source (CSV, Parquet), for star labels. Throws,
 * naming `source`, the columns it has and the fix, when there is none.
 */
export function ratingColumnOf(source: string, columns: string[], ratingColumn: string | undefined, scheme: LabelScheme): string {
  const found = ratingColumn ?? RATING_COLUMNS.find((c) => columns.includes(c));
  if (found !== undefined && columns.includes(found)) return found;
  const what = typeof scheme === 'string' ? `labels: '${scheme}'` : 'a star grouping';
  const looked = ratingColumn !== undefined ? `"${ratingColumn}"` : RATING_COLUMNS.map((c) => `"${c}"`).join(' or ');
  throw new Error(
    `${source} has no star ratings for ${what}: no column ${looked} (columns: ${columns.map((c) => JSON.stringify(c)).join(', ')}). ` +
      `Star classes need each review's 1–10 rating. IMDB's ratings are in the original aclImdb_v1.tar.gz (file names <id>_<stars>.txt; ` +
      `https://ai.stanford.edu/~amaas/data/sentiment/): load that file or its unpacked folder; or name the column that holds ratings ` +
      `with { ratingColumn: '…' }; or use labels: 'sentiment'.`,
  );
}

/**
 * How a table (CSV or Parquet) becomes SentimentData: which columns, which label ids. The one
 * definition that readSentimentCsv, readSentimentParquet and loadSentimentData share.
 */
export interface TableReadOptions {
  /** Text column. Default `review` or `text`, whichever the table has (a CSV prefers `review`, Parquet `text`). */
  textColumn?: string;
  /** Label column. Default `sentiment` or `label`, whichever the table has (a CSV prefers `sentiment`, Parquet `label`). */
  labelColumn?: string;
  /**
   * Raw label value → id. Default: a Parquet file's own label names; else integer class ids
   * (`0`, `1`, … as `datasets`' to_csv writes them) as they are; else Kaggle's { negative: 0, positive: 1 }.
   */
  labelMap?: Record<string, number>;
  /** 'sentiment' (default: the label column), or star classes from a rating column (LabelScheme). */
  labels?: LabelScheme;
  /** Star labels: the column of 1–10 ratings (default `rating`, else `stars`). */
  ratingColumn?: string;
  /** Longer reviews (UTF-8 bytes) are skipped with a warning. Default 1 MiB. */
  maxReviewBytes?: number;
  /** Default console.warn. */
  onWarning?: (message: string) => void;
}

/** The columns a table's reviews and labels are read from, and the star grouping if any. */
export interface TableColumns {
  textColumn: string;
  labelColumn: string;
  grouping: readonly StarClass[] | null;
}

/**
 * Picks the text and label (or rating) columns of a table with `columns`, honouring `opts`;
 * `prefer` names the default pair in the order this format usually has them.
 * Throws, naming `file` and the columns found, when a column is missing, or when both star
 * `labels` and a `labelMap` are given.
 */
export function tableColumns(
  file: string,
  columns: string[],
  opts: TableReadOptions,
  prefer: { text: [string, string]; label: [string, string] },
  ratingSource: string = file,
): TableColumns {
  const pick = ([first, second]: [string, string]) => (columns.includes(first) ? first : second);
  const textColumn = opts.textColumn ?? pick(prefer.text);
  const grouping = starGrouping(opts.labels);
  if (grouping && opts.labelMap) throw new Error(`${ratingSource}: pass either labels (star classes) or labelMap, not both`);
  const labelColumn = grouping ? ratingColumnOf(ratingSource, columns, opts.ratingColumn, opts.labels!) : opts.labelColumn ?? pick(prefer.label);
  for (const [what, column, option] of [
    ['text', textColumn, 'textColumn'],
    ['label', labelColumn, 'labelColumn'],
  ]) {
    if (!columns.includes(column)) {
      throw new Error(
        `${file}: no ${what} column "${column}". Columns found: ${columns.map((c) => JSON.stringify(c)).join(', ')}. ` +
          `Name the right one with { ${option}: '…' }.`,
      );
    }
  }
  return { textColumn, labelColumn, grouping };
}
