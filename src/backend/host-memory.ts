/**
 * Host access to float32 tensor data without copies, where the backend allows it. The optimizer and the gradient
 * clipping read every trained parameter and gradient once per step (64M values for mBERT's layers 4-12); through
 * `dataSync` each read is a copy out of the wasm heap and each new value a copy back in, which cost more than the
 * arithmetic itself (about 2 s of a 15 s mBERT teacher step before this file existed).
 *
 * - wasm (the blas backend is tfjs's wasm backend with other matmul kernels): a `Float32Array` view of the heap.
 * - every other backend (cpu, tfjs-node, webgl): `dataSync()`, a copy (the cpu backend hands out its own array,
 *   which must never be written).
 *
 * A heap view stays valid until the next allocation on the backend: allocating may grow the wasm memory, which
 * detaches every earlier view. Callers allocate first, then take views, and keep no view across tensor ops.
 */
import { tf } from '../tf.js';
import type { Tensor, Variable } from '../tf.js';
import { heapKernels } from './simd-kernels.js';
import { blasMatMulActive } from './blas-kernels.js';

interface WasmLike {
  typedArrayFromHeap(t: { dataId: object; shape: number[]; dtype: string }): Float32Array | Int32Array | Uint8Array;
  makeOutput(shape: number[], dtype: string): { dataId: object; shape: number[]; dtype: string };
  refCount(dataId: object): number;
}

/** The active tfjs backend when it is the wasm one (which the blas backend is too), else undefined. */
export function activeWasm(): WasmLike | undefined {
  if (tf.getBackend() !== 'wasm') return undefined;
  const b = tf.engine().findBackend('wasm') as unknown as Partial<WasmLike> | null;
  return b && typeof b.typedArrayFromHeap === 'function' && typeof b.makeOutput === 'function'
    ? (b as WasmLike)
    : undefined;
}

/**
 * Whether a variable's bytes may be overwritten in place. Not under tfjs-backend-wasm's own matmuls: XNNPACK packs a
 * matmul's weights once and caches the packed copy by the tensor's data id, so new values written under the same id
 * would never reach later products (a trained model would keep computing with its first weights). Our BLAS kernels
 * (the blas backend) read the weights afresh at every call. Test: test/backend/host-memory.test.ts.
 */
function inPlaceAllowed(): boolean {
  return blasMatMulActive();
}

/** The wasm backend when `t` lives in its heap, or undefined (another backend, or data tfjs has not moved yet). */
function wasmBackendOf(t: Tensor): WasmLike | undefined {
  const b = activeWasm();
  const info = tf.engine().state.tensorInfo.get(t.dataId) as { backend?: unknown } | undefined;
  return b && info?.backend === b ? b : undefined;
}

function expectFloat32(t: Tensor, what: string): void {
  if (t.dtype !== 'float32') throw new Error(`backend/host-memory.ts: ${what} is ${t.dtype}; expected float32`);
}

/**
 * The values of `t`, read only: a view of the wasm heap (no copy) or `dataSync()`'s array. Do not write to it and
 * do not keep it across tensor operations (see the file comment).
 */
export function readFloats(t: Tensor): Float32Array {
  expectFloat32(t, 'readFloats: the tensor');
  const wasm = wasmBackendOf(t);
  return wasm ? (wasm.typedArrayFromHeap(t) as Float32Array) : (t.dataSync() as Float32Array);
}

/**
 * Gives `variable` new values computed from its current ones and `grad` by `write(out, current, grad)`, in one pass
 * and without copies where possible:
 *
 * - on wasm with the BLAS matmuls (see `inPlaceAllowed`), when the variable is the only holder of its bytes (backend reference count 1: no clone, reshape or
 *   tape entry shares them), `out` and `current` are the same heap view and the update is in place. `write` must
 *   then read each `current[i]` before it writes `out[i]` (an element-wise update does);
 * - otherwise `out` is a fresh buffer (in the heap on wasm, so no copy follows) and the variable is assigned a
 *   tensor over it, exactly as `variable.assign` would: tensors that shared the old bytes keep the old values.
 */
export function updateVariable(
  variable: Variable,
  grad: Tensor,
  write: (out: Float32Array, current: Float32Array, grad: Float32Array) => void,
): void {
  const target = heapTarget(variable, grad, 'updateVariable');
  if (target) {
    const view = (t: TensorInfoLike) => target.wasm.typedArrayFromHeap(t) as Float32Array;
    write(view(target.fresh ?? variable), view(variable), view(grad));
    if (target.fresh) assignFresh(variable, target.fresh);
    return;
  }
  // Another backend: a host array handed to a new tensor.
  const value = floatTensorFromHost(variable.shape, (out) => write(out, readFloats(variable), readFloats(grad)));
  variable.assign(value);
  value.dispose();
}

/**
 * Sets `variable` to `values` (its size, float32): copied into its own bytes on wasm when it alone holds them
 * (reference count 1) and the matmuls are the BLAS's (see `inPlaceAllowed`), else assigned a new tensor as `variable.assign` would. No allocation in the first case, so
 * loading new weights into a model does not grow the heap (inference-worker.ts does this once per job).
 */
export function writeVariable(variable: Variable, values: Float32Array): void {
  expectFloat32(variable, `writeVariable: variable '${variable.name}'`);
  if (values.length !== variable.size)
    throw new Error(`writeVariable: variable '${variable.name}' has ${variable.size} values, got ${values.length}`);
  const wasm = wasmBackendOf(variable);
  if (wasm && wasm.refCount(variable.dataId) === 1 && inPlaceAllowed()) {
    (wasm.typedArrayFromHeap(variable) as Float32Array).set(values);
    return;
  }
  tf.tidy(() => variable.assign(tf.tensor(values, variable.shape, 'float32')));
}

/**
 * `updateVariable` with byte offsets in the wasm heap instead of arrays, for a kernel of
 * src/backend/simd-kernels.wat: `write(out, current, grad)` gets the offsets of the new values, the current values
 * and the gradient (`out === current` when the update can be in place, under the same rule). Returns false, having
 * done nothing, when the variable or the gradient is not in the active wasm backend's heap.
 */
export function updateVariableInHeap(
  variable: Variable,
  grad: Tensor,
  write: (out: number, current: number, grad: number) => void,
): boolean {
  const target = heapTarget(variable, grad, 'updateVariableInHeap');
  if (!target) return false;
  const at = (t: TensorInfoLike) => target.wasm.typedArrayFromHeap(t).byteOffset;
  write(at(target.fresh ?? variable), at(variable), at(grad));
  if (target.fresh) assignFresh(variable, target.fresh);
  return true;
}

type TensorInfoLike = { dataId: object; shape: number[]; dtype: string };

/**
 * Where an update of `variable` writes on wasm: its own bytes when it alone holds them (no `fresh`), else a fresh
 * output allocated here, before any view is taken (allocating may grow the heap). Undefined off wasm, or when the
 * gradient is not in the same heap.
 */
function heapTarget(
  variable: Variable,
  grad: Tensor,
  what: string,
): { wasm: WasmLike; fresh?: TensorInfoLike } | undefined {
  expectFloat32(variable, `${what}: variable '${variable.name}'`);
  expectFloat32(grad, `${what}: the gradient of '${variable.name}'`);
  const wasm = wasmBackendOf(variable);
  if (!wasm || wasmBackendOf(grad) !== wasm) return undefined;
  return wasm.refCount(variable.dataId) === 1 && inPlaceAllowed()
    ? { wasm }
    : { wasm, fresh: wasm.makeOutput(variable.shape, 'float32') };
}

/** Makes the variable hold a fresh output, as `variable.assign` would (tensors that shared the old bytes keep them). */
function assignFresh(variable: Variable, info: TensorInfoLike): void {
  const value = tf
    .engine()
    .makeTensorFromTensorInfo(info as Parameters<ReturnType<typeof tf.engine>['makeTensorFromTensorInfo']>[0]);
  variable.assign(value);
  value.dispose();
}

/**
 * `acc + g` as tf.add computes it (float32, the same bits), written into `acc`'s bytes when they are in the wasm heap,
 * the SIMD kernels are there and `acc` alone holds them (reference count 1); else a new tensor. Either way `acc` and
 * `g` must not be used afterwards: both are disposed (the result may be `acc` itself). Gradient accumulation over
 * micro-batches (src/train/loop.ts) thus allocates nothing per micro-batch.
 */
export function addInto(acc: Tensor, g: Tensor): Tensor {
  const kernels = heapKernels();
  const wasm = kernels ? wasmBackendOf(acc) : undefined;
  if (
    kernels &&
    wasm &&
    acc.dtype === 'float32' &&
    g.dtype === 'float32' &&
    wasmBackendOf(g) === wasm &&
    acc.shape.length === g.shape.length &&
    acc.shape.every((d, i) => d === g.shape[i]) &&
    wasm.refCount(acc.dataId) === 1 &&
    acc.dataId !== g.dataId
  ) {
    if (acc.size > 0)
      kernels.add_into(wasm.typedArrayFromHeap(acc).byteOffset, wasm.typedArrayFromHeap(g).byteOffset, acc.size);
    g.dispose();
    return acc;
  }
  const sum = tf.add(acc, g);
  acc.dispose();
  g.dispose();
  return sum;
}

/**
 * Sum of squares of the values of `t` (float64 accumulation, even and odd positions in two sums), read without a
 * copy where possible; on wasm with the SIMD kernels, `sum_squares` does the same arithmetic (the same bits).
 */
export function sumOfSquares(t: Tensor): number {
  expectFloat32(t, 'sumOfSquares: the tensor');
  const kernels = heapKernels();
  const wasm = kernels && t.size > 0 ? wasmBackendOf(t) : undefined;
  if (wasm) return kernels!.sum_squares(wasm.typedArrayFromHeap(t).byteOffset, t.size);
  const v = readFloats(t);
  let s0 = 0;
  let s1 = 0;
  const n = v.length;
  let i = 0;
  // Two accumulators: independent dependency chains, about twice as fast in V8.
  for (; i + 1 < n; i += 2) {
    const a = v[i]!;
    const b = v[i + 1]!;
    s0 += a * a;
    s1 += b * b;
  }
  if (i < n) s0 += v[i]! * v[i]!;
  return s0 + s1;
}

/**
 * A new float32 tensor of `shape` whose values `fill(out)` writes: straight into the wasm heap on wasm (no
 * copy), into a host array handed to `tf.tensor` elsewhere.
 */
export function floatTensorFromHost(shape: number[], fill: (out: Float32Array) => void): Tensor {
  const wasm = activeWasm();
  if (wasm) {
    const info = wasm.makeOutput(shape, 'float32');
    fill(wasm.typedArrayFromHeap(info) as Float32Array);
    return tf
      .engine()
      .makeTensorFromTensorInfo(info as Parameters<ReturnType<typeof tf.engine>['makeTensorFromTensorInfo']>[0]);
  }
  const out = new Float32Array(shape.reduce((a, d) => a * d, 1));
  fill(out);
  return tf.tensor(out, shape, 'float32');
}
