// A small seeded pseudo-random generator, so that sampling, shuffling and splitting give the
// same rows for the same seed on every machine (Math.random cannot be seeded).
//
// mulberry32 (Tommy Ettinger's 32-bit generator): one 32-bit state word, passes
// gjrand/PractRand well enough for shuffling data, and is a few lines of integer math that
// JavaScript does exactly (Math.imul, >>> 0), so results never depend on the platform.

/** A generator of floats uniform in [0, 1). */
export type Rng = () => number;

/** A seeded generator. Any finite number works as a seed; it is folded to 32 bits. */
export function createRng(seed: number): Rng {
  if (!Number.isFinite(seed)) {
    throw new Error(`createRng: seed must be a finite number, got ${seed}`);
  }
  // Fold the seed to 32 bits; for integers below 2^32 this is the seed itself.
  let state = Math.floor(seed) >>> 0;
  return function next(): number {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A uniform integer in [0, n). */
export function randomInt(rng: Rng, n: number): number {
  return Math.floor(rng() * n);
}

/** Shuffles `items` in place (Fisher–Yates) and returns it. */
export function shuffleInPlace<T>(items: T[], rng: Rng): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = randomInt(rng, i + 1);
    const tmp = items[i];
    items[i] = items[j];
    items[j] = tmp;
  }
  return items;
}

/** A random ordering of 0..n-1 for this seed. */
export function permutation(n: number, seed: number): number[] {
  const order = Array.from({ length: n }, (_, i) => i);
  return shuffleInPlace(order, createRng(seed));
}

/**
 * A 32-bit hash of a few integers (MurmurHash3's finalizer applied after each one), used to
 * derive independent seeds from one: per epoch, per dropout site, per LoRA layer. Nearby inputs
 * give unrelated outputs, so seed 42 and seed 43 share nothing.
 */
export function mixSeed(...values: number[]): number {
  let h = 0x9e3779b9;
  for (const v of values) {
    h = Math.imul(h ^ (v >>> 0), 0x85ebca6b);
    h ^= h >>> 13;
    h = Math.imul(h, 0xc2b2ae35);
    h ^= h >>> 16;
  }
  return h >>> 0;
}
