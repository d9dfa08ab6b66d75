/**
 * A small seeded random source in plain JavaScript for weight initialisation and tiny checkpoints. It does not
 * depend on the tfjs backend, so the same seed gives bit-identical weights on cpu, wasm and native.
 */

export { mulberry32 } from '../rng.js';
import { mulberry32 } from '../rng.js';

/** Mixes a seed with a string (a tensor name), so every tensor gets its own stream independent of order. */
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

/**
 * Normal(0, std) values truncated to two standard deviations (resampled), as BERT's TruncatedNormal(0.02)
 * initialiser. Box-Muller on the seeded uniform stream.
 */
export function truncatedNormal(size: number, std: number, seed: number): Float32Array {
  const rand = mulberry32(seed);
  const out = new Float32Array(size);
  let i = 0;
  while (i < size) {
    const u1 = rand() || 1e-12;
    const u2 = rand();
    const r = Math.sqrt(-2 * Math.log(u1));
    const z0 = r * Math.cos(2 * Math.PI * u2);
    const z1 = r * Math.sin(2 * Math.PI * u2);
    if (Math.abs(z0) <= 2) out[i++] = z0 * std;
    if (i < size && Math.abs(z1) <= 2) out[i++] = z1 * std;
  }
  return out;
}
