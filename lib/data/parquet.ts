// Sentiment data from Parquet: a local .parquet file, or the Hub's copy of a dataset such as
// `stanfordnlp/imdb` (plain_text/{train,test}-00000-of-00001.parquet, columns `text` and
// `label` with label 0 = neg, 1 = pos). Files written by the Hub's `datasets` library carry
// their label names in the "huggingface" key-value metadata; we use them when present.
import * as fs from 'fs';
import * as nodeModule from 'module';
import type * as Hyparquet from 'hyparquet';
import { RowCollector, SentimentData } from './rows';
import { defaultLabelMap, TableReadOptions, tableColumns, normalizeRating, starLabeling } from './labels';
import { decodeUtf8 } from './utf8';

/** Columns and labels of the table: see TableReadOptions. */
export type ParquetReadOptions = TableReadOptions;

/**
 * hyparquet is published only as an ES module. Node ≥ 20.19 can `require` such a module, but
 * jest's own `require` (and the `module` builtin jest hands out) cannot. Node's real `module`
 * builtin, from process.getBuiltinModule (Node ≥ 20.16), gives a require that works in plain
 * Node, under jest and in tslab alike.
 */
function loadHyparquet(): typeof Hyparquet {
  const createRequire = process.getBuiltinModule?.('module')?.createRequire ?? nodeModule.createRequire;
  try {
    return createRequire(__filename)('hyparquet') as typeof Hyparquet;
  } catch (err) {
    throw new Error(
      `Could not load hyparquet (an ES module; needs Node ≥ 20.19 to be required): ${(err as Error).message}`,
    );
  }
}

/** Reads one Parquet file of reviews. `source` names it in messages (default: the path). */
export async function readSentimentParquet(
  file: string,
  opts: ParquetReadOptions = {},
  source: string = file,
): Promise<SentimentData> {
  const bytes = fs.readFileSync(file);
  if (bytes.length === 0) throw new Error(`${file} is empty (0 bytes); expected a Parquet file.`);
  const { parquetMetadata, parquetReadObjects } = loadHyparquet();
  // An ArrayBuffer is a valid hyparquet AsyncBuffer; the IMDB files are ~20 MB, so one read is fine.
  const buffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
  let metadata: Hyparquet.FileMetaData;
  try {
    metadata = parquetMetadata(buffer);
  } catch (err) {
    throw new Error(`${file}: not a readable Parquet file (${(err as Error).message}).`);
  }

  const columns = metadata.schema.slice(1).map((element) => element.name); // [0] is the root
  const { textColumn, labelColumn, grouping } = tableColumns(file, columns, opts, { text: ['text', 'review'], label: ['label', 'sentiment'] }, source === file ? file : `${source} (${file})`);
  if (Number(metadata.num_rows) === 0) throw new Error(`${file} has no rows.`);

  // Keep strings as raw bytes (hyparquet's own decoding turns a bad byte into a silent U+FFFD);
  // they are decoded strictly below, where the row number is known.
  const keepBytes = (bytes: Uint8Array) => bytes as unknown as string;
  const rows = await parquetReadObjects({
    file: buffer,
    metadata,
    columns: [textColumn, labelColumn],
    utf8: false,
    parsers: { stringFromBytes: keepBytes },
  });

  const stars = grouping ? starLabeling(grouping) : null;
  // A rating column is numbers, never ClassLabel names.
  const classNames = stars ? null : classLabelNames(metadata, labelColumn);
  const rawLabels = rows.map((row, i) => {
    const where = `${file} row ${i + 1} column "${labelColumn}"`;
    const raw = toRawLabel(row[labelColumn], classNames, where);
    return stars ? normalizeRating(raw, where) : raw;
  });
  const labelMap = stars?.labelMap ?? opts.labelMap ?? fileLabelMap(classNames, rawLabels, source, labelColumn);
  const collector = new RowCollector({
    source,
    labelMap,
    ungrouped: stars?.ungrouped,
    labelNames: stars ? stars.labelNames : opts.labelMap || !classNames ? undefined : classNames,
    labelField: labelColumn,
    maxReviewBytes: opts.maxReviewBytes,
    onWarning: opts.onWarning,
  });
  rows.forEach((row, i) => {
    const value = row[textColumn];
    const text = value instanceof Uint8Array ? decodeUtf8(value, `${file} row ${i + 1} column "${textColumn}"`) : value;
    collector.add(text, rawLabels[i], i + 1);
  });
  return collector.finish();
}

/**
 * The label names of a `datasets` ClassLabel column, from the file's "huggingface" metadata
 * ({"info": {"features": {"label": {"names": [...], "_type": "ClassLabel"}}}}), or null.
 */
export function classLabelNames(metadata: Hyparquet.FileMetaData, labelColumn: string): string[] | null {
  const entry = (metadata.key_value_metadata ?? []).find((kv) => kv.key === 'huggingface');
  if (!entry?.value) return null;
  try {
    const info = JSON.parse(entry.value);
    const names = info?.info?.features?.[labelColumn]?.names;
    return Array.isArray(names) && names.every((n) => typeof n === 'string') ? names : null;
  } catch {
    return null; // metadata we do not understand is not an error: fall back to raw values
  }
}

/** A label cell as the string that the label map is keyed by. */
function toRawLabel(value: unknown, classNames: string[] | null, where: string): string | null {
  if (value === null || value === undefined) return null;
  if (value instanceof Uint8Array) return decodeUtf8(value, where);
  if (typeof value === 'bigint' || typeof value === 'number') {
    const id = Number(value);
    // An id outside the names (e.g. IMDB's unsupervised -1) stays numeric: an unknown label.
    return classNames && Number.isInteger(id) && id >= 0 && id < classNames.length ? classNames[id] : String(id);
  }
  return String(value);
}

/** Names from the file's metadata; else integer ids as they are; else Kaggle's words (rows.ts). */
function fileLabelMap(classNames: string[] | null, rawLabels: Array<string | null>, source: string, labelColumn: string): Record<string, number> {
  if (classNames) return Object.fromEntries(classNames.map((name, id) => [name, id]));
  return defaultLabelMap(rawLabels, source, labelColumn);
}
