// The one table renderer (lib/util/table.ts): escaped HTML and aligned text.
import { formatCell, htmlTable, textTable } from '../../lib/util/table';

test('htmlTable escapes every value', () => {
  const html = htmlTable([{ review: '<script>alert(1)</script>', score: 0.8828125 }], { caption: 'A & B' });
  expect(html).not.toContain('<script>');
  expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
  expect(html).toContain('<caption>A &amp; B</caption>');
  expect(html).toContain('>0.8828</td>');
});

test('formatCell: integers as is, 4 significant digits, long text cut', () => {
  expect(formatCell(42)).toBe('42');
  expect(formatCell(5e-5)).toBe('0.00005');
  expect(formatCell(2 / 3)).toBe('0.6667');
  expect(formatCell('x'.repeat(10), 5)).toBe('xxxx…');
});

test('textTable aligns columns', () => {
  expect(textTable([{ name: 'r', value: 8 }, { name: 'alpha', value: 32 }])).toBe(
    ['name   value', '-----  -----', 'r      8', 'alpha  32'].join('\n'),
  );
});

test('htmlTable: the whole markup, by hand; numbers right-aligned; rows beyond maxRows noted', () => {
  const html = htmlTable([{ a: 'x', n: 1 }, { a: null, n: 2.5 }, { a: 'z', n: 3 }], { maxRows: 2 });
  expect(html).toBe(
    '<table class="qlora-table"><thead><tr><th style="text-align:left">a</th><th style="text-align:left">n</th></tr></thead><tbody>\n' +
      '<tr><td style="text-align:left">x</td><td style="text-align:right">1</td></tr>\n' +
      '<tr><td style="text-align:left"></td><td style="text-align:right">2.5</td></tr>\n' +
      '</tbody></table><p><i>… 1 more rows not shown</i></p>',
  );
});

test('cells are cut by whole code points: an emoji is never split', () => {
  // '🎬' is 2 UTF-16 units; maxChars counts code points, the ellipsis included.
  expect(formatCell('🎬🎬🎬', 3)).toBe('🎬🎬🎬');
  expect(formatCell('🎬🎬🎬🎬', 3)).toBe('🎬🎬…');
  expect(formatCell({ a: 1 })).toBe('{"a":1}');
  expect(formatCell(undefined)).toBe('');
});
