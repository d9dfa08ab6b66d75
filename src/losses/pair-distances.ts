/**
 * The squared Euclidean distances between every pair of rows of z [N, d], which MMD's Gaussian kernels (mmd.ts) take:
 *
 *   D[i][j] = ||z_j - z_i||^2 = sum_p (z[j][p] - z[i][p])^2
 *   dL/dz_k = 2 sum_j (G[k][j] + G[j][k]) (z_k - z_j),   G = dL/dD
 *
 * from the explicit differences, not as ||z_i||^2 + ||z_j||^2 - 2 z_i . z_j: that expansion cancels (a student
 * that starts as its teacher has MMD_M = 0 only up to its rounding), while the differences give exact zeros on the
 * diagonal and an exactly symmetric D. On the wasm backend one kernel each way
 * (src/backend/pair-distance-kernels.ts: no [N, N, d] tensor, native code on every core); elsewhere (cpu, webgl,
 * tfjs-node) the same formula as tfjs ops, whose gradient autodiff derives.
 */
import { tf } from '../tf.js';
import type { Tensor } from '../tf.js';
import { PAIR_DISTANCES } from '../backend/pair-distance-kernels.js';
import { hasKernel } from '../backend/simd-kernels.js';

/** D [N, N] for z [N, d] (see the file comment), differentiable with respect to z. */
export function pairDistances(z: Tensor): Tensor {
  if (hasKernel(PAIR_DISTANCES)) return tf.engine().runKernel(PAIR_DISTANCES, { z }) as Tensor;
  return tf.tidy(() => tf.sum(tf.square(tf.sub(tf.expandDims(z, 0), tf.expandDims(z, 1))), 2));
}
