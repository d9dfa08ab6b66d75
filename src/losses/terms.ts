/**
 * What every composite loss returns: the scalar to differentiate and its named parts, so a training log can show
 * each term (`ce_12`, `aux`, `kd_7`, `mmd_L`, ...) rather than one opaque number.
 *
 * The parts are tensors because the losses are called inside `tf.variableGrads(f)`, which runs `f` in a tidy scope
 * and keeps only the returned scalar. Read the parts as numbers inside `f` with `readTerms` (one small download per
 * term), or `tf.keep` them there and dispose them later.
 */
import type { Scalar } from '../tf.js';

export interface LossResult {
  /** The loss to minimise. */
  total: Scalar;
  /** Named parts of `total` (and weights, where useful), in a stable order. */
  perTerm: Record<string, Scalar>;
}

/** `{ total, ...perTerm }` as plain numbers; does not dispose anything. */
export function readTerms(result: LossResult): Record<string, number> {
  const out: Record<string, number> = { total: result.total.dataSync()[0] };
  for (const [name, t] of Object.entries(result.perTerm)) out[name] = t.dataSync()[0];
  return out;
}
