// Star-rating labels (issue 12 §2): aclImdb's <id>_<stars>.txt ratings, grouped into classes,
// from the folder, the GNU-tar-made tarball, a CSV and a Parquet rating column; the "no ratings"
// error on sources without them. Expected labels are read off the fixture file names by hand.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { loadSentimentData, STAR_GROUPINGS, starLabeling } from '../../lib/data/load';
import { HubDownload } from '../../lib/data/load';

const FIXTURES = path.join(__dirname, '..', 'fixtures', 'data');
const STARS4 = ['very negative', 'negative', 'positive', 'very positive'];

// Train reviews in the fixed order (neg by id, then pos by id) with the rating in each file name:
// neg/0_3, neg/11_1, (neg/12_2 blank, skipped), pos/2_9, pos/10_8; test: neg/3_4, pos/1_10.
const TRAIN_STARS = [3, 1, 9, 8];
const TEST_STARS = [4, 10];

describe.each([
  ['folder', path.join(FIXTURES, 'aclImdb-mini')],
  ['tarball', path.join(FIXTURES, 'aclImdb-mini.tar.gz')],
])('aclImdb %s with star labels', (_kind, source) => {
  it("labels: 'stars' gives the rating itself: class id = stars − 1, names '1' … '10'", async () => {
    const data = await loadSentimentData(source, { split: 'all', labels: 'stars' });
    expect(Array.from(data.labels)).toEqual([...TRAIN_STARS, ...TEST_STARS].map((s) => s - 1));
    expect(data.labelNames).toEqual(['1', '2', '3', '4', '5', '6', '7', '8', '9', '10']);
    expect(data.texts[0]).toBe('Train neg zero: café au lait, 日本.');
    expect(data.skipped.counts).toEqual({ 'empty review': 1 });
  });

  it("labels: 'stars4' groups 1–2, 3–4, 7–8, 9–10", async () => {
    const data = await loadSentimentData(source, { split: 'all', labels: 'stars4' });
    // 3 → negative, 1 → very negative, 9 → very positive, 8 → positive; test 4 → negative, 10 → very positive
    expect(Array.from(data.labels)).toEqual([1, 0, 3, 2, 1, 3]);
    expect(data.labelNames).toEqual(STARS4);
  });

  it('a custom grouping: classes in the given order, ratings in no class skipped and counted', async () => {
    const data = await loadSentimentData(source, {
      split: 'train',
      labels: [
        { name: 'loved', stars: [9, 10] },
        { name: 'hated', stars: [1, 2, 3] },
      ],
    });
    // 0_3 → hated, 11_1 → hated, 2_9 → loved; 10_8 is in no class
    expect(data.texts).toEqual(['Train neg zero: café au lait, 日本.', 'Train neg eleven.', 'Train pos two: loved it, "really".']);
    expect(Array.from(data.labels)).toEqual([1, 1, 0]);
    expect(data.labelNames).toEqual(['loved', 'hated']);
    expect(data.skipped.counts).toEqual({ 'empty review': 1, 'rating in no class': 1 });
    expect(data.skipped.examples.find((e) => e.reason === 'rating in no class')!.where).toMatch(/pos[/\\]10_8\.txt$/);
  });
});

describe('star labels from a rating column', () => {
  it('CSV: the `rating` column (7.0 read as 7); 5 is in no class of stars4; a blank rating is a missing label', async () => {
    const data = await loadSentimentData(path.join(FIXTURES, 'ratings.csv'), { labels: 'stars4' });
    expect(data.texts).toEqual(['Awful, truly.', 'Superb.', 'Weak.', 'Good.', 'Great.', 'Bad.']);
    expect(Array.from(data.labels)).toEqual([0, 3, 1, 2, 3, 0]);
    expect(data.labelNames).toEqual(STARS4);
    expect(data.skipped.counts).toEqual({ 'rating in no class': 1, 'missing label': 1 });
  });

  it('CSV: the sentiment column is still there for the default labels', async () => {
    const data = await loadSentimentData(path.join(FIXTURES, 'ratings.csv'));
    expect(Array.from(data.labels)).toEqual([0, 1, 0, 0, 1, 1, 1, 0]);
  });

  it('Parquet (INT64 ratings, as hyparquet-writer wrote them): stars and stars4', async () => {
    const file = path.join(FIXTURES, 'ratings.parquet');
    const stars = await loadSentimentData(file, { labels: 'stars' });
    expect(Array.from(stars.labels)).toEqual([1, 10, 5, 3, 8, 6, 2].map((s) => s - 1));
    const four = await loadSentimentData(file, { labels: 'stars4' });
    expect(four.texts).toEqual(['One star.', 'Ten stars.', 'Three.', 'Eight.', 'Two.']);
    expect(Array.from(four.labels)).toEqual([0, 3, 1, 2, 0]);
    expect(four.skipped.counts).toEqual({ 'rating in no class': 2, 'missing label': 1 });
  });

  it('a rating outside 1..10 is an error naming the file, row and column', async () => {
    await expect(loadSentimentData(path.join(FIXTURES, 'bad-rating.csv'), { labels: 'stars' })).rejects.toThrow(
      /bad-rating\.csv row 2 column "stars": rating "11" is not a whole number of stars in 1\.\.10/,
    );
  });
});

describe('sources without ratings', () => {
  it('the Kaggle-style CSV: names the file, its columns and where ratings are', async () => {
    await expect(loadSentimentData(path.join(FIXTURES, 'tricky.csv'), { labels: 'stars4' })).rejects.toThrow(
      /tricky\.csv has no star ratings for labels: 'stars4': no column "rating" or "stars" \(columns: .*\)\. .*aclImdb_v1\.tar\.gz.*ratingColumn/,
    );
  });

  it("stanfordnlp/imdb from the Hub (text, label only): names the Hub file", async () => {
    const download: HubDownload = async () => path.join(FIXTURES, 'imdb-mini.parquet');
    await expect(loadSentimentData('stanfordnlp/imdb', { labels: 'stars', download })).rejects.toThrow(
      /stanfordnlp\/imdb\/plain_text\/train-00000-of-00001\.parquet \(.*imdb-mini\.parquet\) has no star ratings for labels: 'stars': no column "rating" or "stars" \(columns: "text", "label"\)/,
    );
  });

  it('a named rating column that does not exist', async () => {
    await expect(
      loadSentimentData(path.join(FIXTURES, 'ratings.csv'), { labels: 'stars', ratingColumn: 'score' }),
    ).rejects.toThrow(/ratings\.csv has no star ratings for labels: 'stars': no column "score"/);
  });
});

describe('groupings and their checks', () => {
  it('stars4 maps every rating to its class and leaves 5, 6 out', () => {
    const l = starLabeling(STAR_GROUPINGS.stars4);
    expect(l.labelMap).toEqual({ '1': 0, '2': 0, '3': 1, '4': 1, '7': 2, '8': 2, '9': 3, '10': 3 });
    expect([...l.ungrouped]).toEqual(['5', '6']);
  });

  it.each([
    [[{ name: 'all', stars: [1, 10] }], /needs at least 2 classes/],
    [[{ name: 'a', stars: [1] }, { name: 'a', stars: [2] }], /two classes are named "a"/],
    [[{ name: 'a', stars: [1, 2] }, { name: 'b', stars: [2, 3] }], /rating 2 is in both "a" and "b"/],
    [[{ name: 'a', stars: [0] }, { name: 'b', stars: [3] }], /class "a" lists rating 0; ratings are whole numbers 1\.\.10/],
    [[{ name: 'a', stars: [] }, { name: 'b', stars: [3] }], /class "a" lists no stars/],
    [[{ name: '', stars: [1] }, { name: 'b', stars: [3] }], /class 0 has no name/],
  ])('rejects %j', async (grouping, message) => {
    await expect(loadSentimentData(path.join(FIXTURES, 'aclImdb-mini'), { labels: grouping })).rejects.toThrow(message);
  });

  it('rejects an unknown scheme name, and labels together with labelMap', async () => {
    await expect(loadSentimentData(path.join(FIXTURES, 'aclImdb-mini'), { labels: 'stars5' as never })).rejects.toThrow(
      /labels must be 'sentiment', 'stars', 'stars4' or a list of \{ name, stars \} classes, got "stars5"/,
    );
    await expect(
      loadSentimentData(path.join(FIXTURES, 'ratings.csv'), { labels: 'stars', labelMap: { negative: 0, positive: 1 } }),
    ).rejects.toThrow(/pass either labels \(star classes\) or labelMap, not both/);
  });

  it('a rating that does not fit its folder (a pos/ review with 3 stars) names the file', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'qlora-stars-'));
    try {
      fs.cpSync(path.join(FIXTURES, 'aclImdb-mini'), path.join(dir, 'aclImdb'), { recursive: true });
      fs.writeFileSync(path.join(dir, 'aclImdb', 'train', 'pos', '5_3.txt'), 'Misfiled.');
      await expect(loadSentimentData(dir, { labels: 'stars4' })).rejects.toThrow(
        /pos[/\\]5_3\.txt: rating 3 in the file name does not fit the pos\/ folder/,
      );
      // The folder alone still labels it.
      const data = await loadSentimentData(dir);
      expect(data.texts).toContain('Misfiled.');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
