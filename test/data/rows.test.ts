// The row rules every reader shares (lib/data/rows.ts): label maps that must name every id.
import { RowCollector } from '../../lib/data/rows';

test('a collector refuses a label map whose ids have no name', () => {
  expect(() => new RowCollector({ source: 'x.parquet', labelMap: { a: 0, b: 2 }, labelNames: ['a', 'b'] })).toThrow(
    'x.parquet: labelMap maps "b" to 2, out of bounds for 2 labels ("a", "b"); class ids must be 0..1.',
  );
  const c = new RowCollector({ source: 'ok', labelMap: { '0': 0, '1': 1 } });
  c.add('good', 1, 1);
  c.add('bad', '0', 2);
  expect(Array.from(c.finish().labels)).toEqual([1, 0]);
});
