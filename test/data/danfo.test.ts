// DataFrame round trip through danfojs-node, and the HTML table (expected markup written by hand).
import { fromDataFrame, SentimentData, toDataFrame, toHtmlTable } from '../../lib/data/load';

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
