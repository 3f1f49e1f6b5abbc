/** Deterministic bell-ish values with a few outliers (an LCG, so every language can reproduce them), as fp32. */
export function randomValues(n: number, seed: number): Float32Array {
  let s = seed >>> 0;
  const u = () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 4294967296;
  };
  return new Float32Array(n).map((_, i) => (u() + u() + u() - 1.5) * (i % 97 === 0 ? 8 : 0.2));
}
