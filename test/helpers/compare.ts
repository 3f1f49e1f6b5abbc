/** max |actual − expected| over the largest |expected|: one relative error for a whole matrix (e.g. logits [B, C]). */
export function maxRelErr(actual: number[][], expected: number[][]): number {
  const a = actual.flat();
  const e = expected.flat();
  expect(a.length).toBe(e.length);
  const scale = Math.max(...e.map(Math.abs));
  return Math.max(...a.map((v, i) => Math.abs(v - e[i]) / scale));
}
