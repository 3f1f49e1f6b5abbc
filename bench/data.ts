// How long loading IMDB takes, and how much memory it needs.
//   npx ts-node --transpile-only bench/data.ts        (QLORA_DATA_DIR: folder with train.csv, test.csv, aclImdb.tar.gz;
//                                                      default $QLORA_ASSETS/imdb or ../shared/assets/imdb)
// Baseline, measured in the same run: just reading and UTF-8-decoding the same bytes, the floor
// any loader pays. Times are medians of a few runs; peak memory is the process's max RSS so far.
import * as fs from 'fs';
import * as path from 'path';
import { labelCounts, loadSentimentData, trainTestSplit } from '../lib/data/load';

const dir =
  process.env.QLORA_DATA_DIR ??
  path.join(process.env.QLORA_ASSETS ?? path.resolve(__dirname, '..', '..', 'shared', 'assets'), 'imdb');
const RUNS = 3;

async function median(run: () => Promise<unknown> | unknown): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const start = performance.now();
    await run();
    times.push(performance.now() - start);
  }
  return times.sort((a, b) => a - b)[Math.floor(RUNS / 2)];
}

const mib = (bytes: number) => (bytes / 1024 / 1024).toFixed(0) + ' MiB';
const peakRss = () => mib(process.resourceUsage().maxRSS * 1024);

async function main(): Promise<void> {
  const csvFiles = ['train.csv', 'test.csv'].map((f) => path.join(dir, f));
  const tarball = path.join(dir, 'aclImdb.tar.gz');
  for (const f of [...csvFiles, tarball]) {
    if (!fs.existsSync(f)) throw new Error(`bench/data.ts: ${f} not found; set QLORA_DATA_DIR or QLORA_ASSETS`);
  }
  const csvBytes = csvFiles.reduce((n, f) => n + fs.statSync(f).size, 0);
  console.log(`IMDB files in ${dir}: CSV ${mib(csvBytes)} (train+test), tarball ${mib(fs.statSync(tarball).size)}`);
  console.log(`start: rss ${mib(process.memoryUsage().rss)}, peak ${peakRss()}`);

  const decoder = new TextDecoder('utf-8', { fatal: true });
  const baseline = await median(() => csvFiles.map((f) => decoder.decode(fs.readFileSync(f)).length));
  console.log(`baseline  read + decode both CSVs:            ${baseline.toFixed(0)} ms`);

  let rows = 0;
  const csvSplit = await median(async () => {
    const data = await loadSentimentData(dir, { split: 'all' });
    const { train, test } = trainTestSplit(data, { testSize: 0.2, seed: 42 });
    rows = train.texts.length + test.texts.length;
    if (labelCounts(test)[0] !== 5000) throw new Error('unexpected split');
  });
  console.log(
    `load 50,000-review CSV (train+test) + split: ${csvSplit.toFixed(0)} ms (${(csvSplit / baseline).toFixed(1)}× baseline, ` +
      `${((rows / csvSplit) * 1000).toFixed(0)} reviews/s); peak rss ${peakRss()}`,
  );

  const tar = await median(() => loadSentimentData(tarball, { split: 'all' }));
  console.log(`load aclImdb.tar.gz (train+test, streamed):  ${tar.toFixed(0)} ms (${(tar / baseline).toFixed(1)}× baseline); peak rss ${peakRss()}`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
