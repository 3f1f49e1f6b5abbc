// Default label maps (lib/data/labels.ts): integer class ids read as ids, else Kaggle's words.
import { defaultLabelMap, idLabelMap, maxIntegerLabel } from '../../lib/data/labels';

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

test('idLabelMap: each id keyed by its decimal string', () => {
  expect(idLabelMap(0)).toEqual({ '0': 0 });
  expect(idLabelMap(2)).toEqual({ '0': 0, '1': 1, '2': 2 });
});
