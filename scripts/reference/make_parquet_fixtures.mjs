// Writes small Parquet files for test/data.test.ts with hyparquet-writer (a Parquet writer that
// shares no reading code with our reader), shaped like the Hub's stanfordnlp/imdb files:
// columns `text` (UTF-8 string) and `label` (int64), the `datasets` library's "huggingface"
// key-value metadata naming the labels, snappy compression, several row groups.
// The expected rows go to imdb-mini.expected.json, straight from the arrays below.
//
//   node scripts/reference/make_parquet_fixtures.mjs [outDir]   (needs hyparquet-writer 0.17)
import { parquetWriteFile } from 'hyparquet-writer';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

const outDir = process.argv[2] ?? new URL('../../test/fixtures/data/', import.meta.url).pathname;

const texts = [
  'I rented I AM CURIOUS-YELLOW from my video store, a "classic".',
  'A quote "inside", a comma, and\na newline.',
  '',                              // empty review: skipped, counted
  'Unicode: café, 日本語, 🎬🍿.',
  null,                            // missing review: skipped, counted
  'Loved it <br /><br />again.',
  'Label missing for this one.',   // its label is null below: skipped, counted
  'Worst. Film. Ever.',
  'Fifth row group starts here?',
  'The last review.',
];
const labels = [0n, 1n, 0n, 1n, 1n, 1n, null, 0n, 1n, 0n];
const hfMetadata = {
  info: { features: { text: { dtype: 'string', _type: 'Value' }, label: { names: ['neg', 'pos'], _type: 'ClassLabel' } } },
};

parquetWriteFile({
  filename: join(outDir, 'imdb-mini.parquet'),
  columnData: [
    { name: 'text', data: texts, type: 'STRING' },
    { name: 'label', data: labels, type: 'INT64' },
  ],
  rowGroupSize: 4,
  kvMetadata: [{ key: 'huggingface', value: JSON.stringify(hfMetadata) }],
});

// Kaggle-style columns with string labels and no metadata, uncompressed.
parquetWriteFile({
  filename: join(outDir, 'kaggle-style.parquet'),
  columnData: [
    { name: 'review', data: ['Good, "very" good.', 'Bad.\nReally bad.', 'Fine.'], type: 'STRING' },
    { name: 'sentiment', data: ['positive', 'negative', 'positive'], type: 'STRING' },
  ],
  codec: 'UNCOMPRESSED',
});

// A text column holding a byte that is not UTF-8 (row 2, byte offset 3).
parquetWriteFile({
  filename: join(outDir, 'bad-utf8.parquet'),
  columnData: [
    { name: 'text', data: [new TextEncoder().encode('fine'), Uint8Array.from([0x43, 0x61, 0x66, 0xe9, 0x21])] },
    { name: 'label', data: [1, 0] },
  ],
  schema: [
    { name: 'root', num_children: 2 },
    { name: 'text', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'REQUIRED' },
    { name: 'label', type: 'INT32', repetition_type: 'REQUIRED' },
  ],
});

// Reviews with a 1–10 `rating` column (INT64, as pandas writes integers), for star labels:
// 5 and 6 fall in no class of 'stars4', and one rating is missing.
parquetWriteFile({
  filename: join(outDir, 'ratings.parquet'),
  columnData: [
    { name: 'text', data: ['One star.', 'Ten stars.', 'Five: meh.', 'Three.', 'Eight.', 'No rating.', 'Six.', 'Two.'], type: 'STRING' },
    { name: 'rating', data: [1n, 10n, 5n, 3n, 8n, null, 6n, 2n], type: 'INT64' },
  ],
});

writeFileSync(
  join(outDir, 'imdb-mini.expected.json'),
  JSON.stringify({ texts, labels: labels.map((l) => (l === null ? null : Number(l))), labelNames: ['neg', 'pos'] }, null, 1) + '\n',
);
