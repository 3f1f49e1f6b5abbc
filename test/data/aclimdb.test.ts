// The aclImdb layout, from a folder and from a GNU-tar-made tarball
// (scripts/reference/make_aclimdb_fixture.sh): fixed order, unsup skipped, strict UTF-8.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { loadSentimentData } from '../../lib/data/load';

const FIXTURES = path.join(__dirname, '..', 'fixtures', 'data');

// The fixture's reviews, in the promised order: split, then neg before pos, then numeric id.
const TRAIN = [
  ['Train neg zero: café au lait, 日本.', 0],
  ['Train neg eleven.', 0],
  // neg/12_2.txt is blank: skipped
  ['Train pos two: loved it, "really".', 1], // 2 < 10 numerically, although "10" < "2" as text
  ['Train pos ten.\nSecond line <br /><br />end.', 1],
] as const;
const TEST = [
  ['Test neg three.', 0],
  ['Test pos one 🎬.', 1],
] as const;

describe.each([
  ['folder', path.join(FIXTURES, 'aclImdb-mini')],
  ['tarball', path.join(FIXTURES, 'aclImdb-mini.tar.gz')],
])('aclImdb %s', (_kind, source) => {
  it('reads the train split in a fixed order, skipping unsup and blank reviews', async () => {
    const data = await loadSentimentData(source, { split: 'train' });
    expect(data.texts).toEqual(TRAIN.map(([t]) => t));
    expect(Array.from(data.labels)).toEqual(TRAIN.map(([, l]) => l));
    expect(data.labelNames).toEqual(['negative', 'positive']);
    expect(data.skipped.counts).toEqual({ 'empty review': 1 });
    expect(data.skipped.examples[0].where).toMatch(/train[/\\]neg[/\\]12_2\.txt$/);
    expect(data.source).toMatch(/\[train\]$/);
  });

  it('reads test, and all = train then test', async () => {
    const test = await loadSentimentData(source, { split: 'test' });
    expect(test.texts).toEqual(TEST.map(([t]) => t));
    const all = await loadSentimentData(source, { split: 'all' });
    expect(all.texts).toEqual([...TRAIN, ...TEST].map(([t]) => t));
    expect(Array.from(all.labels)).toEqual([...TRAIN, ...TEST].map(([, l]) => l));
  });
});

describe('aclImdb errors', () => {
  it('names the file inside the tarball and the byte offset of a non-UTF-8 byte', async () => {
    await expect(loadSentimentData(path.join(FIXTURES, 'aclImdb-latin1.tar.gz'), { split: 'test' })).rejects.toThrow(
      /aclImdb-latin1\.tar\.gz:aclImdb\/test\/neg\/4_2\.txt: not valid UTF-8 at byte offset 3 \(line 1; bytes 0xe9 0x20/,
    );
  });

  it('says a file that is not a gzip tarball is unreadable', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'qlora-data-'));
    const broken = path.join(dir, 'aclImdb_v1.tar.gz');
    fs.writeFileSync(broken, 'this is not gzip data');
    try {
      await expect(loadSentimentData(broken)).rejects.toThrow(
        /aclImdb_v1\.tar\.gz: could not read the archive \(.*\)\. Is it a complete aclImdb_v1\.tar\.gz\?/,
      );
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('does not mistake a folder of other files for a data folder', async () => {
    await expect(loadSentimentData(FIXTURES)).rejects.toThrow(
      /fixtures[/\\]data: not a data folder\. Expected an aclImdb folder .* or train\.csv; found /,
    );
  });
});
