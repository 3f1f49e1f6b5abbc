// The real IMDB files (QLORA_ASSETS/imdb): Kaggle CSVs, the aclImdb tarball and the folder of
// both CSVs, checked against digests computed independently with Python's csv and tarfile
// modules (scripts/reference/imdb_digest.py → test/fixtures/data/imdb-digest.json).
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { asset } from '../helpers/assets';
import { labelCounts, loadSentimentData, SentimentData, trainTestSplit } from '../../lib/data/load';

interface SplitDigest {
  rows: number;
  counts: Record<string, number>;
  first: Array<{ sha256: string; chars: number; utf16Units: number; label: string }>;
  multiset: Record<string, string>;
}
const digest = JSON.parse(fs.readFileSync(path.join(__dirname, '..', 'fixtures', 'data', 'imdb-digest.json'), 'utf8')) as {
  csv: Record<'train' | 'test', SplitDigest>;
  tarball: Record<'train' | 'test', SplitDigest>;
};

const sha = (text: string) => createHash('sha256').update(text, 'utf8').digest('hex');

/** The same digest as imdb_digest.py, from our loader's output. */
function summarize(data: SentimentData): SplitDigest {
  const hashesByLabel: Record<string, string[]> = {};
  const counts: Record<string, number> = {};
  data.texts.forEach((text, i) => {
    const label = data.labelNames[data.labels[i]];
    (hashesByLabel[label] ??= []).push(sha(text));
    counts[label] = (counts[label] ?? 0) + 1;
  });
  const multiset: Record<string, string> = {};
  for (const [label, hashes] of Object.entries(hashesByLabel)) {
    multiset[label] = createHash('sha256').update(hashes.sort().join('\n'), 'ascii').digest('hex');
  }
  return {
    rows: data.texts.length,
    counts,
    first: data.texts.slice(0, 3).map((t, i) => ({
      sha256: sha(t),
      chars: Array.from(t).length,
      utf16Units: t.length,
      label: data.labelNames[data.labels[i]],
    })),
    multiset,
  };
}

describe('real IMDB data', () => {
  it.each(['train', 'test'] as const)('Kaggle %s.csv: 25,000 rows, 12,500 per label, same reviews as Python reads', async (split) => {
    const data = await loadSentimentData(asset('imdb', `${split}.csv`));
    expect(data.skipped.total).toBe(0);
    expect(data.labelNames).toEqual(['negative', 'positive']);
    expect(summarize(data)).toEqual(digest.csv[split]);
    expect(digest.csv[split].rows).toBe(25000);
    expect(digest.csv[split].counts).toEqual({ negative: 12500, positive: 12500 });
  });

  it('aclImdb.tar.gz (train and test): the same reviews as Python tarfile reads, in the same order', async () => {
    const all = await loadSentimentData(asset('imdb', 'aclImdb.tar.gz'), { split: 'all' });
    expect(all.texts).toHaveLength(50000);
    const train = { ...all, texts: all.texts.slice(0, 25000), labels: all.labels.slice(0, 25000) };
    const test = { ...all, texts: all.texts.slice(25000), labels: all.labels.slice(25000) };
    expect(summarize(train)).toEqual(digest.tarball.train);
    expect(summarize(test)).toEqual(digest.tarball.test);
    // The strong cross-check: the CSV and the tarball hold the same multiset of reviews per label.
    expect(digest.tarball.train.multiset).toEqual(digest.csv.train.multiset);
    expect(digest.tarball.test.multiset).toEqual(digest.csv.test.multiset);
  });

  it('the folder of train.csv + test.csv loads per split, and split "all" is both', async () => {
    const folder = path.dirname(asset('imdb', 'train.csv'));
    const all = await loadSentimentData(folder, { split: 'all' });
    expect(all.texts).toHaveLength(50000);
    expect(labelCounts(all)).toEqual([25000, 25000]);
    expect(sha(all.texts[25000])).toBe(digest.csv.test.first[0].sha256);
  });

  it('a stratified 20% split of train has 2,500 reviews per label in test, the same for the same seed', async () => {
    const data = await loadSentimentData(asset('imdb', 'train.csv'));
    const a = trainTestSplit(data, { testSize: 0.2, seed: 42 });
    expect(labelCounts(a.test)).toEqual([2500, 2500]);
    expect(labelCounts(a.train)).toEqual([10000, 10000]);
    const b = trainTestSplit(data, { testSize: 0.2, seed: 42 });
    expect(b.test.texts.slice(0, 50)).toEqual(a.test.texts.slice(0, 50));
    // Every review lands in exactly one part (IMDB train has a few duplicate reviews: compare multisets).
    const count = (texts: string[]) => texts.reduce((m, t) => m.set(t, (m.get(t) ?? 0) + 1), new Map<string, number>());
    const whole = count(data.texts);
    const parts = count([...a.train.texts, ...a.test.texts]);
    expect(parts.size).toBe(whole.size);
    for (const [text, n] of whole) if (parts.get(text) !== n) throw new Error(`row count differs for ${text.slice(0, 40)}`);
  });
});
