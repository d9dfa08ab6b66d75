/**
 * Gradient sinks: the running sums of a step's weight gradients over its micro-batches, open while one micro-batch's
 * backward pass runs, so that a dense layer's weight gradient is added into its sum by the product itself:
 *
 *   sum_W <- sum_W + x_k^T dy_k          (sgemm with beta 1 into sum_W's bytes; micro-batch k >= 1)
 *
 * instead of a product into a new tensor (which OpenBLAS first zeroes for beta 0) followed by a pass of its own that
 * adds it to the sum (host-memory.ts `addInto`). Micro-batch 0's gradients start the sums. The dense gradient
 * (model/bert-ops.ts) takes its weight's sink and returns the sum itself as the weight's gradient; each sink is taken
 * once per pass, so a weight reached a second time in one pass gets its part the usual way, which the backward walk
 * then adds into the sum. The caller (train/loop.ts `accumulatePass`) sees the sum come back as the gradient and
 * adds nothing more. Only the float rounding differs from summing after the product (the product's terms join the
 * sum in its own order); same seed, same numbers.
 *
 * Where the product cannot write in place (not the BLAS backend, a sum another tensor shares, a batched product), the
 * sink is left alone and the gradient is computed as before.
 */
import type { Tensor } from '../tf.js';

/** The open sinks by the data id of the weight they collect for (a variable's; saved tensors share it). */
let open: Map<object, Tensor> | undefined;

/**
 * Runs `fn` (one micro-batch's backward pass) with `sinks` open: pairs of a weight variable and the running sum of its
 * gradient, which the sum's owner must not read or free while `fn` runs. Sinks do not nest.
 */
export function withGradientSinks<T>(sinks: readonly (readonly [Tensor, Tensor])[], fn: () => T): T {
  if (open) throw new Error('withGradientSinks: sinks are already open (they do not nest)');
  open = new Map(sinks.map(([weight, sum]) => [weight.dataId, sum]));
  try {
    return fn();
  } finally {
    open = undefined;
  }
}

/** The open sink of `weight` (matched by data id), taken: a second call in the same pass finds none. */
export function takeGradientSink(weight: Tensor): Tensor | undefined {
  const sink = open?.get(weight.dataId);
  if (sink) open!.delete(weight.dataId);
  return sink;
}

/** Puts back a sink taken but not used (the product could not write in place). */
export function returnGradientSink(weight: Tensor, sink: Tensor): void {
  open?.set(weight.dataId, sink);
}
