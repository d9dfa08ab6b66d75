/**
 * The pairwise squared distances behind MMD's Gaussian kernels (src/losses/mmd.ts), as one kernel each way on the
 * wasm backend:
 *
 *   MsdPairDistances     {z: [n, d]}          -> D [n, n],  D[i][j] = sum_p (z[j][p] - z[i][p])^2
 *   MsdPairDistancesGrad {z, dy: [n, n]}      -> dz [n, d], dz[k]   = 2 sum_j (dy[k][j] + dy[j][k]) (z[k] - z[j])
 *
 * As tfjs ops (`tf.sum(tf.square(tf.sub(z[None], z[:, None])), 2)`, what other backends run) D is four passes over
 * an [n, n, d] tensor forward and about ten backward (the broadcast gradient, the square's, two sums over leading
 * axes, casts, a negation): 8 ms of a 58 ms tiny-preset student step here, where n is 128 [CLS] vectors of 64. Here
 * no [n, n, d] tensor exists: one pass over the pairs each way, in native code on every core (native-kernels.c's
 * `msd_pair_distances`) or, without the native library, in the JavaScript loops below, with the same bits.
 *
 * Bits: the forward sums over p in order from 0, one float32 operation at a time, as tfjs-wasm's Sum over the last
 * axis does, so D has the bits of the composition on wasm (the tests compare them): exact zeros on the diagonal,
 * exactly symmetric. The gradient sums over j in order from 0 and doubles at the end; the composition's autodiff sums
 * the same terms in another order, so the gradient differs from it in the last bits.
 */
import {
  type GradConfig,
  type KernelConfig,
  type KernelFunc,
  type Tensor,
  type TensorInfo,
} from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { tf } from '../tf.js';
import { registerKernels } from './register-kernels.js';
import { activeNativeKernels } from './simd-kernels.js';

export const PAIR_DISTANCES = 'MsdPairDistances';
export const PAIR_DISTANCES_GRAD = 'MsdPairDistancesGrad';

/** z's float32 values on the heap, checked to be a matrix. */
function matrix(wasm: BackendWasm, t: TensorInfo, name: string, what: string): Float32Array {
  if (t.dtype !== 'float32' || t.shape.length !== 2) {
    throw new Error(`${what}: ${name} must be a float32 matrix, got ${t.dtype} [${t.shape}]`);
  }
  return wasm.typedArrayFromHeap(t) as Float32Array;
}

const pairDistances: KernelFunc = ({ inputs, backend }) => {
  const { z } = inputs as { z: TensorInfo };
  const wasm = backend as BackendWasm;
  const [n, d] = z.shape as [number, number];
  matrix(wasm, z, 'z', PAIR_DISTANCES);
  // Views after the output's allocation, which may grow the heap.
  const out = wasm.makeOutput([n, n], 'float32');
  const zs = wasm.typedArrayFromHeap(z) as Float32Array;
  const os = wasm.typedArrayFromHeap(out) as Float32Array;
  if (n * d === 0) return out;
  const native = activeNativeKernels();
  if (native) {
    if (native.pairDistances(native.address(zs), native.address(os), n, d) !== 0) {
      throw new Error(`${PAIR_DISTANCES}: could not allocate ${n * d} floats of native memory`);
    }
    return out;
  }
  const f = Math.fround;
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      let acc = 0;
      for (let p = 0; p < d; p++) {
        const v = f(zs[j * d + p]! - zs[i * d + p]!);
        acc = f(acc + f(v * v));
      }
      os[i * n + j] = acc;
    }
  }
  return out;
};

const pairDistancesGrad: KernelFunc = ({ inputs, backend }) => {
  const { z, dy } = inputs as { z: TensorInfo; dy: TensorInfo };
  const wasm = backend as BackendWasm;
  const [n, d] = z.shape as [number, number];
  matrix(wasm, z, 'z', PAIR_DISTANCES_GRAD);
  matrix(wasm, dy, 'dy', PAIR_DISTANCES_GRAD);
  if (dy.shape[0] !== n || dy.shape[1] !== n) {
    throw new Error(`${PAIR_DISTANCES_GRAD}: dy must be [${n}, ${n}] for z [${n}, ${d}], got [${dy.shape}]`);
  }
  const out = wasm.makeOutput([n, d], 'float32');
  const zs = wasm.typedArrayFromHeap(z) as Float32Array;
  const gs = wasm.typedArrayFromHeap(dy) as Float32Array;
  const os = wasm.typedArrayFromHeap(out) as Float32Array;
  if (n * d === 0) return out;
  const native = activeNativeKernels();
  if (native) {
    native.pairDistancesGrad(native.address(zs), native.address(gs), native.address(os), n, d);
    return out;
  }
  const f = Math.fround;
  for (let k = 0; k < n; k++) {
    for (let p = 0; p < d; p++) {
      const zk = zs[k * d + p]!;
      let acc = 0;
      for (let j = 0; j < n; j++) {
        const s = f(gs[k * n + j]! + gs[j * n + k]!);
        acc = f(acc + f(s * f(zk - zs[j * d + p]!)));
      }
      os[k * d + p] = f(acc + acc);
    }
  }
  return out;
};

const kernels: KernelConfig[] = [
  { kernelName: PAIR_DISTANCES, backendName: 'wasm', kernelFunc: pairDistances },
  { kernelName: PAIR_DISTANCES_GRAD, backendName: 'wasm', kernelFunc: pairDistancesGrad },
];

const gradient: GradConfig = {
  kernelName: PAIR_DISTANCES,
  inputsToSave: ['z'],
  gradFunc: (dy, saved) => ({
    z: () => tf.engine().runKernel(PAIR_DISTANCES_GRAD, { z: saved[0]!, dy: dy as Tensor }) as Tensor,
  }),
};

/** Registers the two kernels for the wasm backend and the forward's gradient (once). */
export function registerPairDistanceKernels(): void {
  registerKernels(kernels, [gradient]);
}
