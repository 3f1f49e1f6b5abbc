// DataFrame round trip through danfojs-node, the notebook's pandas steps, the HTML table (expected
// markup written by hand), and the proof that danfojs' own tfjs leaves ours alone.
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { fromDataFrame, readSentimentCsv, sampleFraction, SentimentData, toDataFrame, toHtmlTable } from '../../lib/data/load';
import { frameRows, loadDanfo, mapColumn, readCsvFrame, reviewsFrame, sampleFrame } from '../../lib/data/danfo';
import { readReviewsFrame } from '../../lib/notebook/data-frames';
import { REPO_ROOT } from '../helpers/assets';

const data: SentimentData = {
  texts: ['Great, "really" <b>great</b>', 'Bad & sad\nfilm', 'Ok 🎬'],
  labels: Int32Array.from([1, 0, 1]),
  labelNames: ['negative', 'positive'],
  source: 'hand-made',
  skipped: { total: 0, counts: {}, examples: [] },
};

describe('DataFrame conversion', () => {
  it('toDataFrame gives text, label and label_name columns; fromDataFrame restores the data', () => {
    const df = toDataFrame(data);
    expect(df.columns).toEqual(['text', 'label', 'label_name']);
    expect(df.column('text').values).toEqual(data.texts);
    expect(df.column('label').values).toEqual([1, 0, 1]);
    expect(df.column('label_name').values).toEqual(['positive', 'negative', 'positive']);

    const back = fromDataFrame(df);
    expect(back.texts).toEqual(data.texts);
    expect(Array.from(back.labels)).toEqual([1, 0, 1]);
    expect(back.labelNames).toEqual(['negative', 'positive']);
  });

  it('fromDataFrame maps string labels, skips missing rows and names missing columns', () => {
    const { DataFrame } = require('danfojs-node');
    const df = new DataFrame({ review: ['good', '', 'bad', 'meh'], sentiment: ['positive', 'negative', 'negative', null] });
    const loaded = fromDataFrame(df, { textColumn: 'review', labelColumn: 'sentiment' });
    expect(loaded.texts).toEqual(['good', 'bad']);
    expect(Array.from(loaded.labels)).toEqual([1, 0]);
    expect(loaded.skipped.counts).toEqual({ 'empty review': 1, 'missing label': 1 });
    expect(() => fromDataFrame(df)).toThrow(/no text column "text"\. Columns found: "review", "sentiment"/);
  });
});

describe('toHtmlTable', () => {
  it('escapes every cell and truncates long ones by whole characters (util/table.ts markup)', () => {
    const html = toHtmlTable(data, { maxRows: 2, maxChars: 12 });
    // 12 characters shown, the ellipsis included; the caption counts all rows.
    expect(html).toBe(
      '<table class="qlora-table"><caption>2 of 3 rows</caption>' +
        '<thead><tr><th style="text-align:left">text</th><th style="text-align:left">label</th></tr></thead><tbody>\n' +
        '<tr><td style="text-align:left">Great, &quot;rea…</td><td style="text-align:left">positive</td></tr>\n' +
        '<tr><td style="text-align:left">Bad &amp; sad\nf…</td><td style="text-align:left">negative</td></tr>\n' +
        '</tbody></table>',
    );
  });

  it('renders plain row objects and never splits an emoji', () => {
    const html = toHtmlTable([{ a: "<script>alert('x')</script>", b: null }, { a: '🎬🎬🎬', b: 3 }], { maxChars: 2 });
    expect(html).toContain('<td style="text-align:left">&lt;…</td><td style="text-align:left"></td>');
    expect(html).toContain('<td style="text-align:left">🎬…</td><td style="text-align:right">3</td>');
    expect(html).toContain('<caption>2 of 2 rows</caption>');
    expect(html).not.toContain('<script>');
  });
});

// ---- danfojs' own tfjs (3.21) must not touch ours ----

/**
 * Runs `body` in a plain Node process (as the notebook kernel runs, outside jest's module
 * registry) after loading our tfjs on the cpu backend; prints what changed.
 */
function inNode(loadDanfo: string): { backend: string; kernels: number; replaced: number; registeredBefore: number; warnings: number; rows: number; stderr: string } {
  const script = `
    const tf = require('@tensorflow/tfjs');
    (async () => {
      await tf.setBackend('cpu');
      const before = new Map(tf.getKernelsForBackend('cpu').map((k) => [k.kernelName, k]));
      let warnings = 0;
      const warn = console.warn;
      console.warn = (...a) => { warnings += 1; warn(...a); };
      const dfd = ${loadDanfo};
      const df = new dfd.DataFrame({ a: [1, 2, 3] });
      console.warn = warn;
      const after = tf.getKernelsForBackend('cpu');
      const replaced = after.filter((k) => before.has(k.kernelName) && before.get(k.kernelName) !== k).length;
      console.log(JSON.stringify({ backend: tf.getBackend(), kernels: after.length, registeredBefore: before.size, replaced, warnings, rows: df.shape[0] }));
    })();`;
  const r = spawnSync(process.execPath, ['-r', 'ts-node/register/transpile-only', '-e', script], { cwd: REPO_ROOT, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`node failed (${r.status}):\n${r.stderr}`);
  return { ...JSON.parse(r.stdout.trim().split('\n').pop()!), stderr: r.stderr };
}

describe("danfojs' second tfjs is harmless", () => {
  it('plain Node: loadDanfo() leaves the backend and every cpu kernel as they were, silently', () => {
    const ours = inNode("require('./lib/data/danfo').loadDanfo()");
    expect(ours).toMatchObject({ backend: 'cpu', replaced: 0, warnings: 0, rows: 3 });
    expect(ours.kernels).toBe(ours.registeredBefore);
    expect(ours.stderr).not.toMatch(/already registered/);
    // The control: danfojs-node required as it is brings tfjs 3.21, which re-registers (and so
    // replaces) our cpu kernels, with a warning for each.
    const plain = inNode("require('danfojs-node')");
    expect(plain.replaced).toBeGreaterThan(100);
    expect(plain.warnings).toBeGreaterThan(100);
  }, 120_000);

  it('under jest (moduleNameMapper), danfo shares our tfjs too', async () => {
    const tf = await import('@tensorflow/tfjs');
    await tf.setBackend('cpu');
    const add = tf.getKernel('Add', 'cpu');
    const count = tf.getKernelsForBackend('cpu').length;
    const dfd = loadDanfo();
    expect(new dfd.DataFrame({ a: [1] }).shape).toEqual([1, 1]);
    expect(tf.getBackend()).toBe('cpu');
    expect(tf.getKernel('Add', 'cpu')).toBe(add);
    expect(tf.getKernelsForBackend('cpu').length).toBe(count);
  });
});

describe("the notebook's pandas steps", () => {
  it("readCsvFrame (danfo's readCSV) reads RFC 4180 quoting as our reader does, and keeps numbers as text", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'qlora-danfo-'));
    const file = path.join(dir, 'reviews.csv');
    const csv = 'review,sentiment\n"Great, ""really"" great",positive\n"two\nlines",negative\n10,positive\nplain,negative\n';
    fs.writeFileSync(file, csv);
    const frame = await readCsvFrame(file);
    expect(frame.column('review').values).toEqual(['Great, "really" great', 'two\nlines', '10', 'plain']);
    expect(frame.column('review').values).toEqual(readSentimentCsv(file).texts);
    const read = await readReviewsFrame(file);
    expect(read.labelNames).toEqual(['negative', 'positive']);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('mapColumn makes unknown labels missing (pandas map), dropNa drops them, value counts and head become rows', () => {
    const dfd = loadDanfo();
    const df = new dfd.DataFrame({ review: ['a', 'b', null, 'd'], sentiment: ['positive', 'meh', 'negative', 'negative'] });
    df.addColumn('label', mapColumn(df, 'sentiment', { negative: 0, positive: 1 }), { inplace: true });
    expect(df.column('label').values).toEqual([1, null, 0, 0]);
    const clean = df.dropNa({ axis: 1 });
    expect(frameRows(clean)).toEqual([
      { '': 0, review: 'a', sentiment: 'positive', label: 1 },
      { '': 3, review: 'd', sentiment: 'negative', label: 0 },
    ]);
    expect(frameRows(clean.column('sentiment').valueCounts(), 5, { index: 'sentiment', value: 'count' })).toEqual([
      { sentiment: 'positive', count: 1 },
      { sentiment: 'negative', count: 1 },
    ]);
  });

  it("sampleFrame takes pandas' round(frac · n) rows, the ones sampleFraction picks for the seed", () => {
    const texts = Array.from({ length: 50 }, (_, i) => `review ${i}`);
    const labels = Int32Array.from(texts, (_, i) => i % 2);
    const frame = reviewsFrame({ ...data, texts, labels });
    const sampled = sampleFrame(frame, 0.1, 42);
    expect(sampled.shape[0]).toBe(5);
    expect(sampled.column('review').values).toEqual(sampleFraction({ ...data, texts, labels }, 0.1, 42).texts);
    expect(() => sampleFrame(frame, 0.001, 1)).toThrow('sampleFrame: frac 0.001 of 50 rows rounds to 0 rows');
  });
});
