// lib/random.ts against an independent Python re-implementation of mulberry32 and Fisher–Yates
// (scripts/reference/mulberry32.py → test/fixtures/data/mulberry32.json).
import * as fs from 'fs';
import * as path from 'path';
import { createRng, permutation } from '../../lib/util/random';

const reference = JSON.parse(fs.readFileSync(path.join(__dirname, '..', 'fixtures', 'data', 'mulberry32.json'), 'utf8')) as {
  floats: Record<string, number[]>;
  permutation: { n: number; seed: number; order: number[] };
};

describe('mulberry32', () => {
  it.each(Object.keys(reference.floats))('seed %s gives the same floats as the Python reference', (seed) => {
    const rng = createRng(Number(seed));
    const ours = reference.floats[seed].map(() => rng());
    expect(ours).toEqual(reference.floats[seed]); // exact: both are k / 2^32
  });

  it('permutation(n, seed) matches the reference Fisher–Yates shuffle', () => {
    const { n, seed, order } = reference.permutation;
    expect(permutation(n, seed)).toEqual(order);
  });

  it('stays in [0, 1) and is roughly uniform', () => {
    const rng = createRng(7);
    const buckets = new Array(10).fill(0);
    let outside = 0;
    for (let i = 0; i < 20000; i++) {
      const x = rng();
      if (!(x >= 0 && x < 1)) outside++;
      else buckets[Math.floor(x * 10)] += 1;
    }
    expect(outside).toBe(0);
    // 2,000 expected per bucket; ±10% is > 7 standard deviations.
    for (const count of buckets) expect(Math.abs(count - 2000)).toBeLessThan(200);
  });

  it('rejects a seed that is not a number', () => {
    expect(() => createRng(NaN)).toThrow(/seed must be a finite number/);
  });
});
