/**
 * Saving a tensor for the backward pass without a kernel call.
 *
 * While a gradient is recorded, tfjs-core's engine (4.22 `engine.ts`) keeps a second handle on every tensor a kernel
 * saves for its gradient: `saveTensorsForBackwardMode` and `customGrad`'s `save` both call `engine.clone`, which runs
 * the `Identity` kernel through `runKernel` (scopes, kernel lookup, a new tensor) and records the clone as a node of
 * the gradient tape. On cpu and wasm, `Identity` is a new reference to the same bytes (the cpu backend's own, and
 * ours on wasm: wasm-kernels.ts), so the clone is only bookkeeping: 2.8 us a saved tensor (a 40-op forward and
 * backward with 80 saved tensors, the two ways alternated in one process: 0.99 against 0.77 ms, medians of 30, 5
 * December), 171 of them in each tiny-preset teacher step (3% of it) and 1,835 in an mBERT one. The tape nodes it
 * adds lead nowhere (a saved tensor is read only by gradient functions), so the backward walk filters them out again.
 *
 * `useLightSaves()` makes `engine.clone` do what the kernel does on those backends (one more reference to the data
 * id, a new tensor on it), without `runKernel` and without the tape node. Tensors of other backends (tfjs-node,
 * webgl), and string tensors, still go through tfjs's own `clone`. Gradients are computed by the same functions from
 * the same bytes, so they are the same bits (test/backend/saved-tensors.test.ts).
 */
import { tf } from '../tf.js';

type Tensor = tf.Tensor;

/** The parts of tfjs's engine this uses (tfjs-core `engine.ts`; not public API). */
interface EngineInternals {
  clone(x: Tensor): Tensor;
  /** The initialised backends by name (`findBackend` would initialise one that is registered but not yet used). */
  registry: Record<string, unknown>;
  makeTensorFromTensorInfo(info: { dataId: object; shape: number[]; dtype: string }, backend?: unknown): Tensor;
  state: { tensorInfo: { get(dataId: object): { backend: unknown } | undefined } };
}

/** Backends whose `Identity` kernel returns a new reference to its input's bytes. */
const SHARING_IDENTITY = ['cpu', 'wasm'];

let installed: EngineInternals | undefined;

/** Installs the light `clone` on tfjs's engine (idempotent). */
export function useLightSaves(): void {
  const engine = tf.engine() as unknown as EngineInternals;
  if (installed === engine) return;
  const tfjsClone = engine.clone;
  engine.clone = function (this: EngineInternals, x: Tensor): Tensor {
    const backend = this.state.tensorInfo.get(x.dataId)?.backend;
    const sharing = backend != null && SHARING_IDENTITY.some((name) => this.registry[name] === backend);
    if (!sharing || x.dtype === 'string') return tfjsClone.call(this, x);
    (backend as { incRef(dataId: object): void }).incRef(x.dataId);
    return this.makeTensorFromTensorInfo({ dataId: x.dataId, shape: x.shape, dtype: x.dtype }, backend);
  };
  installed = engine;
}
