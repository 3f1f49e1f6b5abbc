// Sentiment data from a CSV file: the Kaggle "IMDB Dataset of 50K Movie Reviews" layout
// (`review,sentiment`, values positive/negative, RFC 4180 quoting), `text,label` with integer
// class ids (what `datasets`' to_csv writes), or any CSV/TSV with a text and a label column. Parsing is papaparse's; this file adds the checks that keep a broken
// file from turning into silently wrong training data.
import * as fs from 'fs';
import * as path from 'path';
import * as Papa from 'papaparse';
import { RowCollector, SentimentData } from './rows';
import { defaultLabelMap, TableReadOptions, tableColumns, normalizeRating, starLabeling } from './labels';
import { decodeUtf8 } from './utf8';

/** Columns and labels of the table: see TableReadOptions. */
export type CsvReadOptions = TableReadOptions;

type CsvRow = Record<string, string | undefined>;

/** Reads a whole CSV (or .tsv) of reviews. Throws on any structural problem, naming rows. */
export function readSentimentCsv(file: string, opts: CsvReadOptions = {}): SentimentData {
  const bytes = fs.readFileSync(file);
  if (bytes.length === 0) {
    throw new Error(`${file} is empty (0 bytes). Expected a header line such as "review,sentiment" and one review per row.`);
  }
  const text = decodeUtf8(bytes, file);
  const delimiter = path.extname(file).toLowerCase() === '.tsv' ? '\t' : ',';
  const parsed = Papa.parse<CsvRow>(text, {
    header: true,
    delimiter,
    skipEmptyLines: true, // a trailing newline is not a row
    transformHeader: (h) => h.trim(),
  });
  if (parsed.errors.length > 0) throw csvStructureError(file, text, parsed.errors);

  const fields = parsed.meta.fields ?? [];
  const { textColumn, labelColumn, grouping } = tableColumns(file, fields, opts, { text: ['review', 'text'], label: ['sentiment', 'label'] });
  if (parsed.data.length === 0) throw new Error(`${file} has a header (${fields.join(',')}) but no rows.`);

  const stars = grouping ? starLabeling(grouping) : null;
  const rawLabel = (row: CsvRow, i: number) =>
    stars ? normalizeRating(row[labelColumn], `${file} row ${i + 1} column "${labelColumn}"`) : row[labelColumn];
  const collector = new RowCollector({
    source: file,
    labelMap: stars?.labelMap ?? opts.labelMap ?? defaultLabelMap(parsed.data.map((row) => row[labelColumn]), file, labelColumn),
    labelNames: stars?.labelNames,
    ungrouped: stars?.ungrouped,
    labelField: labelColumn,
    maxReviewBytes: opts.maxReviewBytes,
    onWarning: opts.onWarning,
  });
  parsed.data.forEach((row, i) => collector.add(row[textColumn], rawLabel(row, i), i + 1));
  return collector.finish();
}

/**
 * One error for all of papaparse's complaints. Quote errors carry a character offset, which
 * gives a line number; field-count errors carry the 0-based data row.
 */
function csvStructureError(file: string, text: string, errors: Papa.ParseError[]): Error {
  const lines = new Set<string>();
  for (const e of errors) {
    if (e.type === 'Quotes' && typeof e.index === 'number') {
      lines.add(`line ${lineOfOffset(text, e.index)}: ${e.message}`);
    } else if (typeof e.row === 'number') {
      lines.add(`data row ${e.row + 1}: ${e.message}`);
    } else {
      lines.add(e.message);
    }
  }
  const list = [...lines];
  const shown = list.slice(0, 5).join('; ') + (list.length > 5 ? `; … ${list.length - 5} more` : '');
  return new Error(
    `${file}: malformed CSV (${shown}). Fields containing commas, quotes or newlines must be ` +
      `enclosed in double quotes, with inner quotes doubled ("") — RFC 4180.`,
  );
}

function lineOfOffset(text: string, offset: number): number {
  let line = 1;
  for (let i = 0; i < offset && i < text.length; i++) if (text.charCodeAt(i) === 10) line++;
  return line;
}
