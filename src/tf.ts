/**
 * The one TensorFlow.js entry point of the library. `@tensorflow/tfjs` is imported (not tfjs-core alone) because
 * only its Node bundle registers the gradients and chained ops; it also brings the cpu backend, always available.
 * Every module imports `tf` from here, so the library and danfojs-node share one copy of tfjs-core
 * (test/backend/single-core.test.ts checks it). Backends beyond cpu are chosen at run time by `initBackend()`.
 */
import * as tf from '@tensorflow/tfjs';

export { tf };
export type {
  Tensor,
  Tensor1D,
  Tensor2D,
  Tensor3D,
  Tensor4D,
  Scalar,
  Variable,
  Rank,
  DataType,
} from '@tensorflow/tfjs';
