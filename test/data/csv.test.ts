// CSV loading: byte-identical reviews through RFC 4180 quoting (expected values written by
// Python's csv module: scripts/reference/make_csv_fixtures.py), counted skips, and a clear
// error for every kind of broken file.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { describeSkips, loadSentimentData, readSentimentCsv } from '../../lib/data/load';

const FIXTURES = path.join(__dirname, '..', 'fixtures', 'data');
const fixture = (name: string) => path.join(FIXTURES, name);
const expected = JSON.parse(fs.readFileSync(fixture('tricky.expected.json'), 'utf8')) as { texts: string[]; labels: string[] };
const labelIds = expected.labels.map((l) => (l === 'negative' ? 0 : 1));

describe('Kaggle-format CSV', () => {
  it('keeps commas, quotes, newlines, CRLF, spaces and emoji byte-identical', async () => {
    const data = await loadSentimentData(fixture('tricky.csv'));
    expect(data.texts).toEqual(expected.texts);
    expect(Array.from(data.labels)).toEqual(labelIds);
    expect(data.labelNames).toEqual(['negative', 'positive']);
    expect(data.skipped.total).toBe(0);
    expect(data.source).toBe(fixture('tricky.csv'));
  });

  it('reads the same rows from a file with a UTF-8 BOM and CRLF record ends', async () => {
    const data = await loadSentimentData(fixture('tricky-bom-crlf.csv'));
    expect(data.texts).toEqual(expected.texts);
    expect(Array.from(data.labels)).toEqual(labelIds);
  });

  it('skips and counts empty reviews and missing labels, naming the rows', async () => {
    const data = await loadSentimentData(fixture('skips.csv'));
    // Data rows 1, 4, 6 are kept (row 6's label " positive " is trimmed).
    expect(data.texts).toEqual(['kept one', 'kept two', 'kept three']);
    expect(Array.from(data.labels)).toEqual([1, 0, 1]);
    expect(data.skipped.total).toBe(3);
    expect(data.skipped.counts).toEqual({ 'empty review': 2, 'missing label': 1 });
    expect(data.skipped.examples.map((e) => [e.reason, e.row])).toEqual([
      ['empty review', 2],
      ['empty review', 3],
      ['missing label', 5],
    ]);
    expect(describeSkips(data.skipped)).toBe('3 rows skipped: 2 empty review (e.g. row 2, row 3); 1 missing label (e.g. row 5)');
  });

  it('reads other column names and labels given textColumn, labelColumn and labelMap', async () => {
    const data = await loadSentimentData(fixture('other-columns.csv'), {
      textColumn: 'body',
      labelColumn: 'stars',
      labelMap: { bad: 0, ok: 1, good: 2 },
    });
    expect(data.texts).toEqual(['Awful.', 'Fine.', 'Superb!']);
    expect(Array.from(data.labels)).toEqual([0, 1, 2]);
    expect(data.labelNames).toEqual(['bad', 'ok', 'good']);
  });
});

describe('CSV errors', () => {
  it('names the columns found when the text column is missing', async () => {
    await expect(loadSentimentData(fixture('other-columns.csv'))).rejects.toThrow(
      /no text column "text"\. Columns found: "id", "body", "stars"\. Name the right one with \{ textColumn/,
    );
  });

  it('lists the label values seen and how to pass labelMap for an unknown label', async () => {
    const err = await loadSentimentData(fixture('unknown-label.csv')).catch((e: Error) => e);
    expect(err).toBeInstanceOf(Error);
    const message = (err as Error).message;
    expect(message).toContain('unknown label value(s) "neutral", "Positive" in column "sentiment" (rows 2, 4)');
    expect(message).toMatch(/Values seen: .*"positive" ×1.*"neutral" ×1/);
    expect(message).toContain('labelMap: {"Positive":0,"negative":1,"neutral":2,"positive":3}');
  });

  it('reports an unterminated quote with its line number', async () => {
    await expect(loadSentimentData(fixture('bad-quotes.csv'))).rejects.toThrow(
      /bad-quotes\.csv: malformed CSV \(line 4: Quoted field unterminated/,
    );
  });

  it('reports a row with an unquoted comma instead of cutting the review', async () => {
    await expect(loadSentimentData(fixture('too-many-fields.csv'))).rejects.toThrow(
      /malformed CSV \(data row 2: Too many fields: expected 2 fields but parsed 3\)/,
    );
  });

  it('names the file, byte offset and line of a non-UTF-8 byte', async () => {
    await expect(loadSentimentData(fixture('latin1.csv'))).rejects.toThrow(
      /latin1\.csv: not valid UTF-8 at byte offset 37 \(line 3; bytes 0xe9 0x20 0x77 0x61\)/,
    );
  });

  it('says an empty file is empty, and a header-only file has no rows', async () => {
    await expect(loadSentimentData(fixture('empty.csv'))).rejects.toThrow(/empty\.csv is empty \(0 bytes\)/);
    await expect(loadSentimentData(fixture('header-only.csv'))).rejects.toThrow(/has a header \(review,sentiment\) but no rows/);
  });

  it('says where to get IMDB when the file does not exist', async () => {
    await expect(loadSentimentData(path.join(FIXTURES, 'no-such.csv'))).rejects.toThrow(
      /no-such\.csv does not exist\. Get IMDB as the Kaggle CSV.*aclImdb_v1\.tar\.gz.*stanfordnlp\/imdb.*set QLORA_DATA/,
    );
  });

  it('refuses a test split of a single file instead of returning its training rows', async () => {
    await expect(loadSentimentData(fixture('tricky.csv'), { split: 'test' })).rejects.toThrow(/no test split.*trainTestSplit/);
  });
});

describe('review length limit', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'qlora-data-'));
  const file = path.join(dir, 'long.csv');
  // A 1,000,000-byte review (ASCII, so bytes = characters) between two short ones.
  const long = 'a'.repeat(999_991) + ' the end.';
  fs.writeFileSync(file, `review,sentiment\nshort one,positive\n"${long}",negative\nshort two,negative\n`);
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('keeps a 1 MB review under the default 1 MiB limit', () => {
    const data = readSentimentCsv(file);
    expect(data.texts.map((t) => t.length)).toEqual([9, 1_000_000, 9]);
    expect(data.texts[1]).toBe(long);
  });

  it('skips and counts it, with one warning, above maxReviewBytes', () => {
    const warnings: string[] = [];
    const data = readSentimentCsv(file, { maxReviewBytes: 500_000, onWarning: (m) => warnings.push(m) });
    expect(data.texts).toEqual(['short one', 'short two']);
    expect(data.skipped.counts).toEqual({ 'review too long': 1 });
    expect(data.skipped.examples[0]).toMatchObject({ row: 2, detail: '1000000 bytes > maxReviewBytes 500000' });
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/skipped 1 review\(s\) longer than maxReviewBytes=500000.*Raise maxReviewBytes/);
  });

  it('counts UTF-8 bytes, not characters', () => {
    // 'é' is 2 bytes: 9 × 'é' = 18 bytes > 16 although it is 9 characters.
    const small = path.join(dir, 'accents.csv');
    fs.writeFileSync(small, `review,sentiment\n${'é'.repeat(9)},positive\n${'e'.repeat(16)},negative\n`);
    const data = readSentimentCsv(small, { maxReviewBytes: 16, onWarning: () => undefined });
    expect(data.texts).toEqual(['e'.repeat(16)]);
    expect(data.skipped.counts).toEqual({ 'review too long': 1 });
  });
});

describe('integer class ids (what datasets’ to_csv writes for IMDB)', () => {
  // `Dataset.to_csv` writes a ClassLabel column as its integer ids; pandas.read_csv and
  // datasets' csv loader read that column as integers, so the ids are the labels as they are.
  it('text,label with 0/1 is read as ids without a label map', async () => {
    const data = await loadSentimentData(fixture('integer-labels.csv'));
    expect(data.texts).toEqual(['I rented I AM CURIOUS-YELLOW from my video store, it was bad', 'A great film.', 'She said "wow"', 'Meh']);
    expect(Array.from(data.labels)).toEqual([0, 1, 1, 0]);
    expect(data.labelNames).toEqual(['0', '1']);
  });

  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'qlora-csv-ids-'));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
  const write = (name: string, text: string) => {
    const file = path.join(dir, name);
    fs.writeFileSync(file, text);
    return file;
  };

  it('more classes, with a class that has no rows, keep their ids; a given labelMap still wins', () => {
    const file = write('three.csv', 'text,label\na,2\nb,0\nc, 2 \n');
    const data = readSentimentCsv(file);
    expect(Array.from(data.labels)).toEqual([2, 0, 2]);
    expect(data.labelNames).toEqual(['0', '1', '2']);
    const mapped = readSentimentCsv(file, { labelMap: { '0': 1, '2': 0 } });
    expect(Array.from(mapped.labels)).toEqual([0, 1, 0]);
  });

  it('a negative id (IMDB’s unsupervised -1) is refused, naming the file, row and column', () => {
    const file = write('unsup.csv', 'text,label\na,0\nb,-1\n');
    expect(() => readSentimentCsv(file)).toThrow(`${file}: label -1 at row 2 (column "label") is out of bounds; class ids must be 0, 1, 2, …`);
  });

  it('string labels keep working; a mix of words and ids is not read as ids', () => {
    const file = write('mixed.csv', 'review,sentiment\na,positive\nb,1\n');
    expect(() => readSentimentCsv(file)).toThrow('unknown label value(s) "1" in column "sentiment"');
  });

  it('a labelMap id with no label name is refused', () => {
    const file = write('names.csv', 'text,label\na,x\n');
    expect(() => readSentimentCsv(file, { labelMap: { x: 0, y: 2 } })).toThrow('labelMap {"x":0,"y":2} has no label with id 1');
  });
});
