/**
 * Squared maximum mean discrepancy between two sets of vectors with a multi-kernel Gaussian kernel.
 *
 *   MMD^2(X, Y) = mean_{i,j} k(x_i, x_j) + mean_{i,j} k(y_i, y_j) - 2 mean_{i,j} k(x_i, y_j)       (biased)
 *   k(a, b)     = sum_{q=0}^{Q-1} exp(-||a - b||^2 / (bw * mul^q))
 *   bw          = [ sum_{i != j} ||z_i - z_j||^2 / (N (N - 1)) ] / mul^floor(Q / 2),   Z = X u Y, N = |X| + |Y|
 *
 * with Q = 5 kernels and mul = 2, so the five bandwidths are the pooled mean squared distance times 1/4 .. 4.
 * The bandwidth is computed from the data but detached (no gradient flows through it), as the reference code's
 * `L2_distance.data`; here by `stopGradient` (stop-gradient.ts) so the step stays on the device.
 * X and Y may differ in size (n source [CLS] vectors, m target ones).
 *
 * Options: `fixedBandwidth` replaces the data-driven base before the 1/mul^floor(Q/2) scaling (the reference's
 * `fix_sigma`); `bandwidths` gives the kernel widths outright; `estimator: 'unbiased'` drops the diagonal of the
 * within-set means (sum_{i != j} k / (n (n - 1))), which needs n, m >= 2.
 *
 * Differences from the public reference code (`MMDLoss`):
 * - The cross term is 2 mean(Kxy); the reference writes mean(XY) + mean(YX), equal because k is symmetric.
 * - If all N points coincide the data-driven bandwidth is 0 and the reference returns NaN (0/0); here the bandwidth
 *   is floored at 1e-30, which gives k = Q for every pair and MMD^2 = 0.
 * The distances come from the explicit pairwise differences (pair-distances.ts: exact zeros on the diagonal, no
 * cancellation error); N is a batch of [CLS] vectors, so the O(N^2 d) work is small.
 */
import { tf } from '../tf.js';
import type { Scalar, Tensor } from '../tf.js';
import { LossInputError, expectFloat, expectRank, fmtShape } from './check.js';
import { pairDistances } from './pair-distances.js';
import { stopGradient } from './stop-gradient.js';

export interface MmdOptions {
  /** Number of Gaussian kernels Q (default 5). */
  kernelNum?: number;
  /** Ratio between consecutive bandwidths (default 2). */
  kernelMul?: number;
  /** Base bandwidth instead of the pooled mean squared distance; still divided by mul^floor(Q/2). */
  fixedBandwidth?: number;
  /** The Q bandwidths themselves (overrides kernelNum, kernelMul and fixedBandwidth). */
  bandwidths?: readonly number[];
  /** `'biased'` (default, as the reference) or `'unbiased'`. */
  estimator?: 'biased' | 'unbiased';
}

const WHERE = 'mmd.ts: mmd';
const MIN_BANDWIDTH = 1e-30;

/**
 * MMD^2 between the rows of x [n, d] and y [m, d].
 * @returns a scalar, differentiable with respect to x and y (not through the bandwidth)
 */
export function mmd(x: Tensor, y: Tensor, opts: MmdOptions = {}): Scalar {
  expectRank(WHERE, 'x', x, [2]);
  expectRank(WHERE, 'y', y, [2]);
  expectFloat(WHERE, 'x', x);
  expectFloat(WHERE, 'y', y);
  const [n, d] = x.shape;
  const [m, dy] = y.shape;
  if (d !== dy)
    throw new LossInputError(
      WHERE,
      `x ${fmtShape(x.shape)} and y ${fmtShape(y.shape)} differ in width; expected the same d`,
    );
  if (n < 1 || m < 1) throw new LossInputError(WHERE, `x has ${n} rows and y ${m}; expected at least 1 each`);
  const estimator = opts.estimator ?? 'biased';
  if (estimator !== 'biased' && estimator !== 'unbiased') {
    throw new LossInputError(WHERE, `estimator is ${JSON.stringify(estimator)}; expected 'biased' or 'unbiased'`);
  }
  if (estimator === 'unbiased' && (n < 2 || m < 2)) {
    throw new LossInputError(WHERE, `the unbiased estimator needs at least 2 rows in x and in y (got ${n} and ${m})`);
  }
  const widths = explicitWidths(opts);
  const kernelNum = widths?.length ?? checkInt('kernelNum', opts.kernelNum ?? 5);
  const kernelMul = opts.kernelMul ?? 2;
  if (!widths && (!Number.isFinite(kernelMul) || kernelMul <= 0)) {
    throw new LossInputError(WHERE, `kernelMul is ${kernelMul}; expected a finite number > 0`);
  }
  const total = n + m;
  if (!widths && opts.fixedBandwidth === undefined && total < 2) {
    throw new LossInputError(WHERE, 'the data-driven bandwidth needs at least 2 vectors in x and y together');
  }

  return tf.tidy(() => {
    const z = tf.concat([x, y], 0);
    // dist[i][j] = ||z_j - z_i||^2, exactly symmetric with an exactly zero diagonal.
    const dist = pairDistances(z);
    let bws: Tensor[];
    if (widths) {
      bws = widths.map((w) => tf.scalar(w));
    } else {
      const base =
        opts.fixedBandwidth !== undefined
          ? tf.scalar(opts.fixedBandwidth)
          : tf.div(tf.sum(stopGradient(dist)), tf.scalar(total * total - total));
      const scaled = tf.maximum(
        tf.div(base, tf.scalar(kernelMul ** Math.floor(kernelNum / 2))),
        tf.scalar(MIN_BANDWIDTH),
      );
      bws = Array.from({ length: kernelNum }, (_, q) => tf.mul(scaled, tf.scalar(kernelMul ** q)));
    }
    const kernel = tf.addN(bws.map((bw) => tf.exp(tf.neg(tf.div(dist, bw)))));
    const kxx = tf.slice(kernel, [0, 0], [n, n]);
    const kyy = tf.slice(kernel, [n, n], [m, m]);
    const kxy = tf.slice(kernel, [0, n], [n, m]);
    const within = (k: Tensor, size: number): Tensor =>
      estimator === 'biased'
        ? tf.mean(k)
        : tf.div(tf.sum(tf.mul(k, tf.sub(tf.scalar(1), tf.eye(size)))), tf.scalar(size * (size - 1)));
    return tf.sub(tf.add(within(kxx, n), within(kyy, m)), tf.mul(tf.scalar(2), tf.mean(kxy))) as Scalar;
  });
}

/** The Q bandwidths `mmd` would use for x and y, as numbers (for logs and tests). */
export function mmdBandwidths(x: Tensor, y: Tensor, opts: MmdOptions = {}): number[] {
  const widths = explicitWidths(opts);
  if (widths) return [...widths];
  const kernelNum = checkInt('kernelNum', opts.kernelNum ?? 5);
  const kernelMul = opts.kernelMul ?? 2;
  let base: number;
  if (opts.fixedBandwidth !== undefined) {
    base = opts.fixedBandwidth;
  } else {
    const t = tf.tidy(() => {
      const z = tf.concat([x, y], 0);
      const total = z.shape[0];
      const dist = pairDistances(z);
      return tf.div(tf.sum(dist), tf.scalar(total * total - total));
    });
    base = t.dataSync()[0];
    t.dispose();
  }
  const scaled = Math.max(Math.fround(base / kernelMul ** Math.floor(kernelNum / 2)), MIN_BANDWIDTH);
  return Array.from({ length: kernelNum }, (_, q) => scaled * kernelMul ** q);
}

function explicitWidths(opts: MmdOptions): readonly number[] | undefined {
  if (opts.fixedBandwidth !== undefined && (!Number.isFinite(opts.fixedBandwidth) || opts.fixedBandwidth <= 0)) {
    throw new LossInputError(WHERE, `fixedBandwidth is ${opts.fixedBandwidth}; expected a finite number > 0`);
  }
  if (opts.bandwidths === undefined) return undefined;
  if (opts.bandwidths.length === 0) throw new LossInputError(WHERE, 'bandwidths is empty; expected at least one width');
  opts.bandwidths.forEach((w, i) => {
    if (!Number.isFinite(w) || w <= 0)
      throw new LossInputError(WHERE, `bandwidths[${i}] is ${w}; expected a finite number > 0`);
  });
  return opts.bandwidths;
}

function checkInt(name: string, v: number): number {
  if (!Number.isInteger(v) || v < 1) throw new LossInputError(WHERE, `${name} is ${v}; expected an integer >= 1`);
  return v;
}
