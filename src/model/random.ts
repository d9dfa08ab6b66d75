/**
 * A small seeded random source in plain JavaScript for weight initialisation and tiny checkpoints. It does not
 * depend on the tfjs backend, so the same seed gives bit-identical weights on cpu, wasm and native.
 */

export { mulberry32 } from '../rng.js';
import { mulberry32 } from '../rng.js';

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
