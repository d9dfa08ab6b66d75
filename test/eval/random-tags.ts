/**
 * Seeded random tag sequences for the property tests (mulberry32: same seed, same cases).
 */
import { mulberry32 } from '../../src/rng.js';

/** mulberry32 from the library. */
export const rng = mulberry32;

export function pick<T>(r: () => number, xs: readonly T[]): T {
  return xs[Math.floor(r() * xs.length)]!;
}

/** A random tag: O half the time, else prefix-type. */
export function randomTag(r: () => number, prefixes: readonly string[], types: readonly string[]): string {
  return r() < 0.5 ? 'O' : `${pick(r, prefixes)}-${pick(r, types)}`;
}

export function randomSentence(
  r: () => number,
  maxLen: number,
  prefixes: readonly string[],
  types: readonly string[],
): string[] {
  const n = Math.floor(r() * (maxLen + 1));
  return Array.from({ length: n }, () => randomTag(r, prefixes, types));
}

/** Gold-like tags changed at a rate `p` per token, so predictions agree often enough for matches to occur. */
export function perturb(
  r: () => number,
  tags: readonly string[],
  p: number,
  prefixes: readonly string[],
  types: readonly string[],
): string[] {
  return tags.map((t) => (r() < p ? randomTag(r, prefixes, types) : t));
}
