// Parquet: files written by hyparquet-writer in the Hub's stanfordnlp/imdb shape
// (scripts/reference/make_parquet_fixtures.mjs), read through a local path and through a Hub
// dataset id with a stand-in for hub.ts' download.
import * as fs from 'fs';
import * as path from 'path';
import { HubDownload, loadSentimentData } from '../../lib/data/load';

const FIXTURES = path.join(__dirname, '..', 'fixtures', 'data');
const MINI = path.join(FIXTURES, 'imdb-mini.parquet');
const expected = JSON.parse(fs.readFileSync(path.join(FIXTURES, 'imdb-mini.expected.json'), 'utf8')) as {
  texts: Array<string | null>;
  labels: Array<number | null>;
  labelNames: string[];
};
// Rows the reader must keep: a review that is present and not blank, with a label.
const kept = expected.texts
  .map((text, i) => ({ text, label: expected.labels[i] }))
  .filter((r) => r.text !== null && r.text.trim() !== '' && r.label !== null);

describe('Parquet file', () => {
  it('reads text and int64 labels across row groups, with label names from the Hub metadata', async () => {
    const data = await loadSentimentData(MINI);
    expect(data.texts).toEqual(kept.map((r) => r.text));
    expect(Array.from(data.labels)).toEqual(kept.map((r) => r.label));
    expect(data.labelNames).toEqual(['neg', 'pos']);
    // Row 3 empty, row 5 null review, row 7 null label.
    expect(data.skipped.counts).toEqual({ 'empty review': 1, 'missing review': 1, 'missing label': 1 });
    expect(data.skipped.examples.map((e) => e.row).sort()).toEqual([3, 5, 7]);
  });

  it('reads Kaggle-style string columns and labels', async () => {
    const data = await loadSentimentData(path.join(FIXTURES, 'kaggle-style.parquet'));
    expect(data.texts).toEqual(['Good, "very" good.', 'Bad.\nReally bad.', 'Fine.']);
    expect(Array.from(data.labels)).toEqual([1, 0, 1]);
    expect(data.labelNames).toEqual(['negative', 'positive']);
  });

  it('names the columns found when one is missing', async () => {
    await expect(loadSentimentData(MINI, { textColumn: 'review' })).rejects.toThrow(
      /no text column "review"\. Columns found: "text", "label"/,
    );
  });

  it('names file, row and byte offset of a non-UTF-8 string', async () => {
    await expect(loadSentimentData(path.join(FIXTURES, 'bad-utf8.parquet'))).rejects.toThrow(
      /bad-utf8\.parquet row 2 column "text": not valid UTF-8 at byte offset 3/,
    );
  });

  it('says a file that is not Parquet is not readable', async () => {
    const notParquet = path.join(FIXTURES, 'mulberry32.json');
    const { readSentimentParquet } = await import('../../lib/data/load');
    await expect(readSentimentParquet(notParquet)).rejects.toThrow(/mulberry32\.json: not a readable Parquet file/);
  });
});

describe('Hub dataset id', () => {
  it('downloads plain_text/<split>-00000-of-00001.parquet as a dataset and reads it', async () => {
    const calls: unknown[][] = [];
    const download: HubDownload = async (repoId, filename, opts) => {
      calls.push([repoId, filename, opts]);
      return MINI;
    };
    const data = await loadSentimentData('stanfordnlp/imdb', { split: 'all', download, cacheDir: '/tmp/cache' });
    expect(calls).toEqual([
      ['stanfordnlp/imdb', 'plain_text/train-00000-of-00001.parquet', { repoType: 'dataset', cacheDir: '/tmp/cache' }],
      ['stanfordnlp/imdb', 'plain_text/test-00000-of-00001.parquet', { repoType: 'dataset', cacheDir: '/tmp/cache' }],
    ]);
    expect(data.texts).toEqual([...kept, ...kept].map((r) => r.text));
    expect(data.source).toBe('stanfordnlp/imdb [all]');
    // Row numbers restart per file, so each skipped example names its file.
    expect(data.skipped.total).toBe(6);
    expect(data.skipped.examples[0].where).toBe('stanfordnlp/imdb/plain_text/train-00000-of-00001.parquet');
  });

  it('uses QLORA_DATA, else stanfordnlp/imdb, when no source is given', async () => {
    const seen: string[] = [];
    const download: HubDownload = async (repoId) => {
      seen.push(repoId);
      return MINI;
    };
    const saved = process.env.QLORA_DATA;
    try {
      delete process.env.QLORA_DATA;
      await loadSentimentData(undefined, { download });
      process.env.QLORA_DATA = 'someone/reviews';
      await loadSentimentData(undefined, { download });
    } finally {
      if (saved === undefined) delete process.env.QLORA_DATA;
      else process.env.QLORA_DATA = saved;
    }
    expect(seen).toEqual(['stanfordnlp/imdb', 'someone/reviews']);
  });

  it('explains a failed download: offline, hubFiles, local path, where to get IMDB', async () => {
    const download: HubDownload = async () => {
      throw new Error('HF_HUB_OFFLINE is set');
    };
    await expect(loadSentimentData('stanfordnlp/imdb', { download })).rejects.toThrow(
      /Could not get plain_text\/train-00000-of-00001\.parquet of the Hub dataset stanfordnlp\/imdb: HF_HUB_OFFLINE is set\. .*pass hubFiles.*does not exist\. Get IMDB/,
    );
  });
});
