/**
 * Inverted dropout, y = x * mask with mask_i = 1/keep (kept, probability keep = 1 - rate) or 0, as `tf.dropout`.
 *
 * Two differences from `tf.dropout`, both for speed, neither in what is computed:
 * - The mask is drawn by a counter-based hash (lowbias32 of the hashed seed and the position) written straight
 *   into the backend's memory: `tf.randomUniform` draws each value through seedrandom's Alea in JavaScript and then copies the array
 *   into the wasm heap, about 0.5 s of every mBERT step (43M values per step at batch 32).
 * - The gradient keeps only the mask: dy * mask. Autodiff of `tf.mul(x, mask)` would also keep x, for a gradient
 *   with respect to the mask that is never needed. On wasm not even the mask is kept: `MsdDropout` hashes the
 *   positions again in the backward pass and multiplies in the same pass (one pass each way instead of a mask pass
 *   and a multiply; 31 M mask values, 124 MB, no longer held through an mBERT teacher step). The same bits.
 * Same seed, same shape: the same mask on every backend. Without a seed, the mask is seeded from Math.random.
 */
import { tf } from '../tf.js';
import type { NamedAttrMap } from '@tensorflow/tfjs-core';
import { floatTensorFromHost } from '../backend/host-memory.js';
import { DROPOUT, DROPOUT_MASK, hasKernel, type DropoutAttrs, type DropoutMaskAttrs } from '../backend/simd-kernels.js';
import { deriveSeed } from '../rng.js';

/** A float32 tensor of `shape` holding 1/(1 - rate) where kept and 0 where dropped. Not recorded on the tape. */
export function dropoutMask(shape: number[], rate: number, seed?: number): tf.Tensor {
  const { base, threshold, scale } = maskAttrs(rate, seed);
  // On wasm the same hash in SIMD, four positions at a time (src/backend/simd-kernels.wat: the same bits).
  if (hasKernel(DROPOUT_MASK)) {
    const attrs: DropoutMaskAttrs = { shape, base, threshold, scale };
    return tf.engine().runKernel(DROPOUT_MASK, {}, attrs as unknown as NamedAttrMap) as tf.Tensor;
  }
  return floatTensorFromHost(shape, (out) => {
    // lowbias32 of (position * golden ratio) xor the hashed seed (V8 inlines the call: 2.6 ns per value either way).
    for (let i = 0; i < out.length; i++)
      out[i] = lowbias32(Math.imul(i, 0x9e3779b9) ^ base) >>> 0 >= threshold ? scale : 0;
  });
}

/** The mask's parameters: the hashed seed, the keep threshold and the kept value. */
function maskAttrs(rate: number, seed: number | undefined): DropoutAttrs {
  if (!(rate >= 0 && rate < 1)) throw new Error(`model/dropout.ts: rate is ${rate}; expected a number in [0, 1)`);
  const s = (seed ?? Math.floor(Math.random() * 2 ** 32)) >>> 0;
  // Kept when the 32-bit hash is >= rate * 2^32: probability 1 - rate (to 2^-32).
  const threshold = Math.min(2 ** 32 - 1, Math.round(rate * 2 ** 32));
  // float32 arithmetic, as tf.dropout's floor(u + keep) / keep computes it.
  const scale = Math.fround(1 / Math.fround(1 - rate));
  // The seed is hashed before it meets the positions: seed s + 1 must not give seed s's stream shifted by one.
  return { base: lowbias32(s ^ 0x85ebca6b), threshold, scale };
}

/** lowbias32 (Chris Wellons' hash prospector): a full-avalanche 32-bit integer hash. */
function lowbias32(v: number): number {
  let x = v | 0;
  x ^= x >>> 16;
  x = Math.imul(x, 0x7feb352d);
  x ^= x >>> 15;
  x = Math.imul(x, 0x846ca68b);
  x ^= x >>> 16;
  return x | 0;
}

/** `x * mask` with the gradient dy * mask (see the file comment); `rate` 0 returns x itself. */
export function dropout<T extends tf.Tensor>(x: T, rate: number, seed?: number): T {
  if (rate === 0) return x;
  // On wasm one pass computes the mask and applies it, forward and backward; the tape keeps nothing for it.
  if (hasKernel(DROPOUT) && x.dtype === 'float32') {
    const attrs: DropoutAttrs = maskAttrs(rate, seed);
    return tf.engine().runKernel(DROPOUT, { x }, attrs as unknown as NamedAttrMap) as T;
  }
  const mask = dropoutMask(x.shape, rate, seed);
  const f = tf.customGrad(
    (input: tf.Tensor | ((s: tf.Tensor[]) => void), save: tf.Tensor | ((s: tf.Tensor[]) => void)) => {
      (save as (s: tf.Tensor[]) => void)([mask]);
      return {
        value: tf.mul(input as tf.Tensor, mask),
        gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => tf.mul(dy as tf.Tensor, saved[0]!),
      };
    },
  );
  const y = f(x) as T;
  mask.dispose();
  return y;
}

/**
 * Dropout for one forward pass, one mask per named site: site `name` draws its mask from deriveSeed(seed, name), so
 * the masks do not depend on the order in which the sites run (adding, removing or reordering one leaves the others'
 * masks as they were). A name used twice in one pass is an error: the two sites would share a mask. The identity when
 * not training; unseeded masks (Math.random) when `seed` is undefined.
 */
export function siteDropout(
  training: boolean,
  seed: number | undefined,
): <T extends tf.Tensor>(x: T, rate: number, site: string) => T {
  const used = new Set<string>();
  return (x, rate, site) => {
    if (used.has(site))
      throw new Error(`dropout: site '${site}' used twice in one pass; every site needs its own name`);
    used.add(site);
    if (!training || rate === 0) return x;
    return dropout(x, rate, seed === undefined ? undefined : deriveSeed(seed, site));
  };
}
