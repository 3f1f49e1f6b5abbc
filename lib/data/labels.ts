// Which label map a reader uses when the caller gives none: integer class ids (a `label`
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
