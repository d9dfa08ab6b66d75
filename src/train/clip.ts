/**
 * Global gradient-norm clipping, as `torch.nn.utils.clip_grad_norm_(params, max_norm)` (the reference code uses
 * max_norm 1.0):
 *
 *   norm  = || (||g_1||_2, ..., ||g_k||_2) ||_2          (the L2 norm of all gradients taken as one vector)
 *   scale = maxNorm / (norm + 1e-6);   g_i <- g_i * scale   only when scale < 1
 *
 * tfjs tensors are immutable, so instead of scaling in place this returns new tensors (clones when no scaling is
 * needed, so the caller can always dispose inputs and outputs independently). The norm is downloaded once: the
 * training log records it, and a non-finite norm is how a diverging run is noticed.
 */
import { tf } from '../tf.js';
import type { Tensor } from '../tf.js';
import { sumOfSquares } from '../backend/host-memory.js';

export interface ClipOptions {
  /** Throw when the total norm is NaN or infinite (torch's `error_if_nonfinite`); default false. */
  errorIfNonfinite?: boolean;
}

export interface ClipResult<G> {
  /** The clipped gradients, same keys, new tensors (caller disposes). */
  grads: G;
  /** Global L2 norm before clipping. */
  norm: number;
  /** Factor applied (1 when no clipping happened). */
  scale: number;
}

type GradContainer = Record<string, Tensor> | Map<unknown, Tensor>;

const WHERE = 'train/clip.ts: clipByGlobalNorm';

/**
 * The global norm and the clipping factor alone, without scaling anything: the training loop hands the factor to
 * AdamW (`step(grads, lr, scale)`), which applies it in its fused update, so no scaled copy of every gradient is made.
 */
export function clipScale(
  grads: GradContainer,
  maxNorm: number,
  opts: ClipOptions = {},
): { norm: number; scale: number } {
  if (typeof maxNorm !== 'number' || !Number.isFinite(maxNorm) || maxNorm <= 0) {
    throw new Error(`${WHERE}: maxNorm is ${String(maxNorm)}; expected a finite number > 0`);
  }
  const entries: [unknown, Tensor][] = grads instanceof Map ? [...grads.entries()] : Object.entries(grads);
  for (const [key, g] of entries) {
    if (g.dtype !== 'float32')
      throw new Error(`${WHERE}: gradient '${String(keyName(key))}' has dtype ${g.dtype}; expected float32`);
  }
  // sqrt of the summed squares: the same quantity as torch's norm of per-tensor norms (float64 sums here). Read in
  // place (a view of the wasm heap on wasm/blas): no squared copy of every gradient is made.
  let sumSq = 0;
  for (const [, g] of entries) sumSq += sumOfSquares(g);
  const norm = Math.sqrt(sumSq);
  if (!Number.isFinite(norm) && opts.errorIfNonfinite) {
    throw new Error(`${WHERE}: the total gradient norm is ${norm}; the loss or the model has diverged`);
  }
  // float32 arithmetic as torch: (norm + 1e-6) and the division are float32 tensor ops there.
  const coef = Math.fround(maxNorm / Math.fround(norm + 1e-6));
  return { norm, scale: coef < 1 ? coef : 1 };
}

export function clipByGlobalNorm<G extends GradContainer>(
  grads: G,
  maxNorm: number,
  opts: ClipOptions = {},
): ClipResult<G> {
  const entries: [unknown, Tensor][] = grads instanceof Map ? [...grads.entries()] : Object.entries(grads);
  const { norm, scale } = clipScale(grads, maxNorm, opts);
  const apply = (g: Tensor): Tensor => (scale < 1 ? tf.tidy(() => tf.mul(g, tf.scalar(scale))) : tf.clone(g));
  const out =
    grads instanceof Map
      ? new Map(entries.map(([k, g]) => [k, apply(g)]))
      : Object.fromEntries(entries.map(([k, g]) => [k as string, apply(g)]));
  return { grads: out as G, norm, scale };
}

function keyName(key: unknown): string {
  return typeof key === 'object' && key !== null && 'name' in key
    ? String((key as { name: unknown }).name)
    : String(key);
}
