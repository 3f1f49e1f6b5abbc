// The row rules every reader shares (lib/data/rows.ts): integer ids read as ids, label maps
// that must name every id, and the collector's checks.
import { RowCollector, defaultLabelMap, maxIntegerLabel } from '../../lib/data/rows';

test('maxIntegerLabel: the largest id when every present label is a whole number, else null', () => {
  expect(maxIntegerLabel(['0', '1', ' 1 ', '', null, undefined, NaN], 'f.csv', 'label')).toBe(1);
  expect(maxIntegerLabel([3, 0], 'df', 'label')).toBe(3);
  expect(maxIntegerLabel(['0', 'positive'], 'f.csv', 'label')).toBeNull();
  expect(maxIntegerLabel(['1.0', '0'], 'f.csv', 'label')).toBeNull();
  expect(maxIntegerLabel([], 'f.csv', 'label')).toBeNull();
  expect(() => maxIntegerLabel(['0', '1', '-1'], 'f.csv', 'stars')).toThrow('f.csv: label -1 at row 3 (column "stars") is out of bounds');
});

test('defaultLabelMap: ids as they are, else Kaggle’s words', () => {
  expect(defaultLabelMap(['1', '0', '2'], 'f', 'label')).toEqual({ '0': 0, '1': 1, '2': 2 });
  expect(defaultLabelMap(['positive', 'negative'], 'f', 'label')).toEqual({ negative: 0, positive: 1 });
});

test('a collector refuses a label map whose ids have no name', () => {
  expect(() => new RowCollector({ source: 'x.parquet', labelMap: { a: 0, b: 2 }, labelNames: ['a', 'b'] })).toThrow(
    'x.parquet: labelMap maps "b" to 2, out of bounds for 2 labels ("a", "b"); class ids must be 0..1.',
  );
  const c = new RowCollector({ source: 'ok', labelMap: { '0': 0, '1': 1 } });
  c.add('good', 1, 1);
  c.add('bad', '0', 2);
  expect(Array.from(c.finish().labels)).toEqual([1, 0]);
});
