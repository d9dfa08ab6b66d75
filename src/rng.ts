/**
 * The library's one seeded random number generator (mulberry32) and the one home of seed hashing: same seed, same
 * sequence, on every platform and backend. Batch shuffling, weight initialisation, dropout masks, diagnostics'
 * samples, tests and benches all draw from it.
 *
 * Every random choice of a run comes from the run seed through one named stream per use, so adding or reordering a
 * use never shifts another one's numbers (nanoGPT keeps one seed; with several models and data streams per run,
 * naming them is what keeps "same seed, same numbers" true):
 *
 *   streamSeed(seed, 'teacher/init')              weights of the teacher's new heads
 *   streamSeed(seed, 'student:nl/batches')        batch order (makeBatches mixes in the epoch)
 *   streamSeed(seed, 'teacher/dropout', step)     dropout masks of one optimizer step; each dropout site of the
 *                                                 model then derives its own mask seed from its name
 *                                                 (deriveSeed(stepSeed, 'layer.3.attention.probs')), so the order
 *                                                 in which sites run does not matter
 *   streamSeed(seed, 'diagnostics/target')        the sentences a diagnostic samples from the target language
 */

export interface Rng {
  /** Uniform float in [0, 1). */
  next(): number;
  /** Uniform integer in [0, n). */
  int(n: number): number;
  /** Fisher-Yates shuffle in place; returns the same array. */
  shuffle<T>(items: T[]): T[];
}

/** Mixes a seed with further integers (e.g. an epoch number) into a new 32-bit seed. */
export function mixSeed(seed: number, ...salts: number[]): number {
  let h = (seed ^ 0x9e3779b9) >>> 0;
  for (const s of salts) {
    h = Math.imul(h ^ (s >>> 0), 0x85ebca6b) >>> 0;
    h = (h ^ (h >>> 13)) >>> 0;
    h = Math.imul(h, 0xc2b2ae35) >>> 0;
    h = (h ^ (h >>> 16)) >>> 0;
  }
  return h;
}

/** Mixes a seed with a string (a tensor or stream name), so every name gets its own stream independent of order. */
export function deriveSeed(seed: number, label: string): number {
  let h = (seed ^ 0x9e3779b9) >>> 0;
  for (let i = 0; i < label.length; i++) {
    h = Math.imul(h ^ label.charCodeAt(i), 0x01000193) >>> 0;
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b) >>> 0;
  h ^= h >>> 13;
  return h >>> 0;
}

/** The seed of the stream `name` of a run seeded with `seed`, optionally mixed with counters (step, epoch). */
export function streamSeed(seed: number, name: string, ...counters: number[]): number {
  const base = deriveSeed(seed, name);
  return counters.length ? mixSeed(base, ...counters) : base;
}

/** A mulberry32 generator. The seed must be a finite number; it is taken modulo 2^32. */
export function createRng(seed: number): Rng {
  if (!Number.isFinite(seed)) throw new Error(`createRng: seed must be a finite number, got ${seed}`);
  let state = Math.trunc(seed) >>> 0;
  const next = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number): number => Math.floor(next() * n);
  return {
    next,
    int,
    shuffle<T>(items: T[]): T[] {
      for (let i = items.length - 1; i > 0; i--) {
        const j = int(i + 1);
        const tmp = items[i]!;
        items[i] = items[j]!;
        items[j] = tmp;
      }
      return items;
    },
  };
}

/** A bare mulberry32 stream of uniform floats in [0, 1) (the `next` of `createRng`). */
export function mulberry32(seed: number): () => number {
  return createRng(seed).next;
}
