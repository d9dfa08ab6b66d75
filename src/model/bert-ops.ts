/**
 * The element-wise building blocks of a BERT layer with hand-written gradients: LayerNorm (with the residual add
 * before it), the attention softmax (with the score scale and the mask bias) and exact GELU. On the wasm backend
 * they are fused WebAssembly SIMD passes (src/backend/simd-kernels.ts: LayerNorm and GELU one pass each way, the
 * softmax's backward one pass); on every other backend
 * (cpu, tfjs-node, webgl), and under `MSD_SIMD=off`, the same formulas as tfjs ops.
 */
import { tf } from '../tf.js';
import {
  ATTENTION_SOFTMAX_GRAD,
  GELU,
  GELU_TRAIN,
  LAYER_NORM,
  LAYER_NORM_GRAD,
  hasKernel,
} from '../backend/simd-kernels.js';
import { ATTENTION_SOFTMAX, attentionSoftmaxOp } from '../backend/attention-softmax-kernel.js';
import { accumulateProduct } from '../backend/blas-kernels.js';
import { returnGradientSink, takeGradientSink } from '../backend/gradient-sinks.js';

type CustomArg = tf.Tensor | ((s: tf.Tensor[]) => void);

/**
 * LayerNorm over the last axis of x + residual (x alone without a residual), y = gamma * xhat + beta,
 * xhat = (s - mean) / sqrt(var + eps) with s = x + residual (biased variance, as BERT), with its gradient written out
 * so that the backward pass keeps xhat and 1/sigma only (autodiff keeps the centred input, 1/sigma, xhat and the
 * input of the square; two LayerNorms per layer):
 *
 *   dbeta = sum_rows dy      dgamma = sum_rows dy * xhat      g = dy * gamma
 *   dx    = (1/sigma) * (g - mean(g) - xhat * mean(g * xhat))   (means over the last axis; also dresidual)
 */
export function layerNorm(
  x: tf.Tensor,
  gamma: tf.Tensor,
  beta: tf.Tensor,
  eps: number,
  residual?: tf.Tensor,
): tf.Tensor {
  if (hasKernel(LAYER_NORM)) return layerNormFused(x, gamma, beta, eps, residual);
  const f = tf.customGrad((...args: CustomArg[]) => {
    const [xi, g, b] = args as tf.Tensor[];
    const save = args[3] as (s: tf.Tensor[]) => void;
    const [xhat, rstd] = tf.tidy(() => {
      const xc = tf.sub(xi!, tf.mean(xi!, -1, true));
      const r = tf.rsqrt(tf.add(tf.mean(tf.square(xc), -1, true), eps));
      return [tf.mul(xc, r), r];
    });
    save([xhat!, rstd!, g!]);
    return {
      value: tf.add(tf.mul(xhat!, g!), b!),
      gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) =>
        tf.tidy(() => {
          const d = dy as tf.Tensor;
          const [xh, r, gam] = saved as [tf.Tensor, tf.Tensor, tf.Tensor];
          const rows = Array.from({ length: d.rank - 1 }, (_, i) => i);
          const gx = tf.mul(d, gam);
          const dx = tf.mul(
            r,
            tf.sub(tf.sub(gx, tf.mean(gx, -1, true)), tf.mul(xh, tf.mean(tf.mul(gx, xh), -1, true))),
          );
          return [dx, tf.sum(tf.mul(d, xh), rows), tf.sum(d, rows)];
        }),
    };
  });
  if (!residual) return f(x, gamma, beta);
  return tf.tidy(() => f(tf.add(x, residual), gamma, beta));
}

/** layerNorm as the MsdLayerNorm kernels: one pass forward (residual add included), one backward. */
function layerNormFused(x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor, eps: number, residual?: tf.Tensor): tf.Tensor {
  const f = tf.customGrad((...args: CustomArg[]) => {
    const save = args[args.length - 1] as (s: tf.Tensor[]) => void;
    const [xi, ri, g, b] = (residual ? args : [args[0], undefined, args[1], args[2]]) as tf.Tensor[];
    const inputs: Record<string, tf.Tensor> = { x: xi!, gamma: g!, beta: b! };
    if (ri) inputs.residual = ri;
    const [y, xhat, rstd] = tf.engine().runKernel(LAYER_NORM, inputs, { eps }) as tf.Tensor[];
    save([xhat!, rstd!, g!]);
    return {
      value: y!,
      gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
        const [xh, r, gam] = saved;
        const [dx, dgamma, dbeta] = tf.engine().runKernel(LAYER_NORM_GRAD, {
          dy: dy as tf.Tensor,
          xhat: xh!,
          rstd: r!,
          gamma: gam!,
        }) as tf.Tensor[];
        // The residual's gradient is dx too: a second reference (a free Identity on wasm), so that each input's
        // accumulated gradient can be disposed on its own.
        return residual ? [dx!, tf.clone(dx!), dgamma!, dbeta!] : [dx!, dgamma!, dbeta!];
      },
    };
  });
  return residual ? f(x, residual, gamma, beta) : f(x, gamma, beta);
}

/**
 * Attention weights softmax(scores * scale + maskBias) over the last axis, for scores [b * heads, tq, tk] (the
 * per-head products' layout) and the mask bias [b, 1, 1, tk] (0 at real keys, MASK_BIAS at padding). The mask is a
 * constant here: no gradient flows to it (it comes from the attention mask, never from a trained tensor). The
 * backward pass keeps only the weights: dscores = scale * p * (dp - sum(dp * p)), one MsdAttentionSoftmaxGrad pass
 * on wasm (five kernels as tfjs ops). The forward is one native call where the library is built
 * (src/backend/attention-softmax-kernel.ts, on every core), else tfjs's kernels (on wasm XNNPACK's softmax, faster
 * than a WebAssembly pass of ours on one core), on [b, heads, tq, tk] views inside the custom op: a reshape on the
 * tape would keep the scores ([b * heads, tq, tk], as large as the weights) for its backward pass, which needs only
 * their shape.
 */
export function attentionSoftmax(scores: tf.Tensor3D, maskBias: tf.Tensor, scale: number): tf.Tensor3D {
  const [bh, tq, tk] = scores.shape;
  const b = maskBias.shape[0]!;
  const composed = (s: tf.Tensor) =>
    tf.tidy(() =>
      tf.reshape(tf.softmax(tf.add(tf.mul(tf.reshape(s, [b, bh / b, tq, tk]), scale), maskBias), -1), [bh, tq, tk]),
    );
  if (!hasKernel(ATTENTION_SOFTMAX_GRAD)) return composed(scores) as tf.Tensor3D;
  const forward = hasKernel(ATTENTION_SOFTMAX) ? (s: tf.Tensor) => attentionSoftmaxOp(s, maskBias, scale) : composed;
  const f = tf.customGrad((s: CustomArg, save: CustomArg) => {
    const probs = forward(s as tf.Tensor);
    (save as (t: tf.Tensor[]) => void)([probs]);
    return {
      value: probs,
      gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) =>
        tf.engine().runKernel(
          ATTENTION_SOFTMAX_GRAD,
          { probs: saved[0]!, dprobs: dy as tf.Tensor },
          {
            scale,
          },
        ) as tf.Tensor,
    };
  });
  return f(scores) as tf.Tensor3D;
}

/**
 * Exact GELU, x Phi(x) = x/2 (1 + erf(x / sqrt 2)), as HF's "gelu" (not the tanh approximation), with a custom
 * gradient d/dx = Phi(x) + x phi(x), phi(x) = exp(-x^2/2) / sqrt(2 pi): the backward pass keeps only x instead
 * of the five intermediates autodiff would keep on the [tokens, intermediate_size] tensor.
 */
export function gelu<T extends tf.Tensor>(x: T): T {
  // On wasm: one fused SIMD pass each way, with the same formula (src/backend/simd-kernels.ts). Under the tape the
  // forward pass also writes the derivative, which the tape keeps instead of x: the backward pass is one Multiply
  // (the bits of MsdGeluGrad) instead of a second pass through erf and exp.
  if (hasKernel(GELU_TRAIN) && tapeOn()) return geluTrain(x) as T;
  if (hasKernel(GELU)) return tf.engine().runKernel(GELU, { x }) as T;
  const f = tf.customGrad((input: CustomArg, save: CustomArg) => {
    const xi = input as tf.Tensor;
    (save as (s: tf.Tensor[]) => void)([xi]);
    return {
      value: geluValue(xi),
      gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) =>
        tf.tidy(() => {
          const [xs] = saved;
          const cdf = tf.mul(0.5, tf.add(1, tf.erf(tf.mul(xs!, Math.SQRT1_2))));
          const pdf = tf.mul(tf.exp(tf.mul(tf.square(xs!), -0.5)), 1 / Math.sqrt(2 * Math.PI));
          return tf.mul(dy as tf.Tensor, tf.add(cdf, tf.mul(xs!, pdf)));
        }),
    };
  });
  return f(x) as T;
}

/** Whether the engine is recording ops for a gradient (inside tf.grad / variableGrads, outside a kernel). */
function tapeOn(): boolean {
  return (tf.engine() as unknown as { isTapeOn(): boolean }).isTapeOn();
}

/** GELU as MsdGeluTrain: the value, with the derivative saved for dy * d. */
function geluTrain(x: tf.Tensor): tf.Tensor {
  const f = tf.customGrad((input: CustomArg, save: CustomArg) => {
    const [y, d] = tf.engine().runKernel(GELU_TRAIN, { x: input as tf.Tensor }) as tf.Tensor[];
    (save as (s: tf.Tensor[]) => void)([d!]);
    return {
      value: y!,
      gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => tf.mul(dy as tf.Tensor, saved[0]!),
    };
  });
  return f(x);
}

function geluValue(x: tf.Tensor): tf.Tensor {
  return tf.tidy(() => tf.mul(tf.mul(x, 0.5), tf.add(1, tf.erf(tf.mul(x, Math.SQRT1_2)))));
}

/**
 * A dense layer, x W + b ([rows, in] x [in, out] + [out]): tfjs's `_FusedMatMul` kernel with the bias inside (on
 * the blas backend sgemm adds the product to the bias rows), differentiated by the gradient registered below, which
 * computes only the gradients backprop asks for. `tf.fused.matMul` differentiates through a `customGrad` that
 * always computes all three: for a layer whose input comes off the tape (layer 4's Q, K and V projections after
 * the paper's frozen prefix, or the bench's one layer), dx = dy W^T is a [rows, out] x [out, in] product thrown
 * away. The gradients are the products tf.fused.matMul's are (the same kernels, the same bits).
 *
 * In a step cut into micro-batches, the weight gradient of every micro-batch after the first is added into the
 * running sum by the product itself (sgemm with beta 1) where the sum is open as a gradient sink
 * (backend/gradient-sinks.ts, opened by train/loop.ts `accumulatePass`).
 *
 * The operands go to the kernel as they are, rank 2 (every backend's kernel takes that; on wasm ours,
 * backend/wasm-kernels.ts). tf.fused.matMul reshapes them to batch-of-one rank 3 and the product back: each reshape
 * is a tape node that keeps its input for the backward pass, so the product's output ([rows, out]) stayed in memory
 * until then only for its shape. The tape keeps x, W and b, nothing else (test/model/bert-ops.test.ts).
 */
export function dense(x: tf.Tensor2D, kernel: tf.Tensor2D, bias: tf.Tensor1D): tf.Tensor2D {
  registerDenseGradient();
  const attrs = { transposeA: false, transposeB: false, activation: 'linear', leakyreluAlpha: 0.2 };
  return tf.engine().runKernel(tf._FusedMatMul, { a: x, b: kernel, bias }, attrs as never) as tf.Tensor2D;
}

let denseGradient = false;

/** The gradient of `_FusedMatMul` with a linear activation (tfjs registers none: its op uses customGrad). */
function registerDenseGradient(): void {
  if (denseGradient) return;
  denseGradient = true;
  tf.registerGradient({
    kernelName: tf._FusedMatMul,
    inputsToSave: ['a', 'b', 'bias'],
    gradFunc: (dy, saved, attrs) => {
      const [a, b, bias] = saved as [tf.Tensor, tf.Tensor, tf.Tensor | undefined];
      const { transposeA, transposeB, activation } = attrs as unknown as tf._FusedMatMulAttrs;
      if (activation && activation !== 'linear')
        throw new Error(`bert-ops dense: no gradient for _FusedMatMul with activation '${activation}'`);
      const g = dy as tf.Tensor;
      // The four cases of tfjs's BatchMatMul gradient.
      const grads: Record<string, () => tf.Tensor> = {
        a: () =>
          transposeA
            ? tf.matMul(b!, g, transposeB, true)
            : transposeB
              ? tf.matMul(g, b!, false, false)
              : tf.matMul(g, b!, false, true),
        b: () => {
          if (!transposeA && !transposeB) {
            // A step's micro-batch after the first: a^T g added into the weight's running sum by the product.
            const sink = takeGradientSink(b!);
            if (sink && accumulateProduct(sink, a!, g, true, false)) return sink;
            if (sink) returnGradientSink(b!, sink);
          }
          return transposeB
            ? transposeA
              ? tf.matMul(g, a!, true, true)
              : tf.matMul(g, a!, true, false)
            : transposeA
              ? tf.matMul(a!, g, false, false)
              : tf.matMul(a!, g, true, false);
        },
      };
      if (bias) {
        grads.bias = () => {
          const axes = tf.backend_util.getReductionAxes(bias.shape, g.shape);
          return tf.reshape(axes.length > 0 ? tf.sum(g, axes) : g, bias.shape);
        };
      }
      return grads;
    },
  });
}
