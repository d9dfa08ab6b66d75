/**
 * Host access to float32 tensor data without copies, where the backend allows it. The optimizer and the gradient
 * clipping read every trained parameter and gradient once per step (64M values for mBERT's layers 4-12); through
 * `dataSync` each read is a copy out of the wasm heap and each new value a copy back in, which cost more than the
 * arithmetic itself (about 2 s of a 15 s mBERT teacher step before this file existed).
 *
 * - wasm and blas (blas is the wasm backend with other matmul kernels): a `Float32Array` view of the wasm heap.
 * - every other backend (cpu, tfjs-node, webgl): `dataSync()`, a copy (the cpu backend hands out its own array,
 *   which must never be written).
 *
 * A heap view stays valid until the next allocation on the backend: allocating may grow the wasm memory, which
 * detaches every earlier view. Callers allocate first, then take views, and keep no view across tensor ops.
 */
import { tf } from '../tf.js';
import type { Tensor, Variable } from '../tf.js';

interface WasmLike {
  typedArrayFromHeap(t: { dataId: object; shape: number[]; dtype: string }): Float32Array | Int32Array | Uint8Array;
  makeOutput(shape: number[], dtype: string): { dataId: object; shape: number[]; dtype: string };
  refCount(dataId: object): number;
}

/** The wasm backend behind `t` (the blas backend is one), or undefined for any other backend. */
function wasmBackendOf(t: Tensor): WasmLike | undefined {
  const name = tf.getBackend();
  if (name !== 'wasm' && name !== 'blas') return undefined;
  const b = tf.engine().findBackend(name) as unknown as Partial<WasmLike> | null;
  if (!b || typeof b.typedArrayFromHeap !== 'function' || typeof b.makeOutput !== 'function') return undefined;
  // A tensor created on another backend (moved lazily by tfjs) is not in this heap yet: read it through tfjs.
  const info = tf.engine().state.tensorInfo.get(t.dataId) as { backend?: unknown } | undefined;
  if (info?.backend !== b) return undefined;
  return b as WasmLike;
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
 * Gives `variable` new values computed by `write(out, current)`, in one pass and without copies where possible:
 *
 * - on wasm/blas, when the variable is the only holder of its bytes (backend reference count 1: no clone, reshape
 *   or tape entry shares them), `out` and `current` are the same heap view and the update is in place. `write`
 *   must then read each `current[i]` before it writes `out[i]` (an element-wise update does);
 * - otherwise `out` is a fresh buffer (in the heap on wasm/blas, so no copy follows) and the variable is assigned
 *   a tensor over it, exactly as `variable.assign` would: tensors that shared the old bytes keep the old values.
 *
 * `read` lists other tensors whose views `write` needs (gradients); they are passed in order as `inputs`, taken
 * after any allocation so no view is stale.
 */
export function updateVariable(
  variable: Variable,
  read: readonly Tensor[],
  write: (out: Float32Array, current: Float32Array, inputs: Float32Array[]) => void,
): void {
  expectFloat32(variable, `updateVariable: variable '${variable.name}'`);
  for (const t of read) expectFloat32(t, `updateVariable: an input of '${variable.name}'`);
  const wasm = wasmBackendOf(variable);
  if (wasm && read.every((t) => wasmBackendOf(t) === wasm)) {
    if (wasm.refCount(variable.dataId) === 1) {
      const view = wasm.typedArrayFromHeap(variable) as Float32Array;
      write(
        view,
        view,
        read.map((t) => wasm.typedArrayFromHeap(t) as Float32Array),
      );
      return;
    }
    const info = wasm.makeOutput(variable.shape, 'float32');
    const out = wasm.typedArrayFromHeap(info) as Float32Array;
    write(
      out,
      wasm.typedArrayFromHeap(variable) as Float32Array,
      read.map((t) => wasm.typedArrayFromHeap(t) as Float32Array),
    );
    const value = tf
      .engine()
      .makeTensorFromTensorInfo(info as Parameters<ReturnType<typeof tf.engine>['makeTensorFromTensorInfo']>[0]);
    variable.assign(value);
    value.dispose();
    return;
  }
  const out = new Float32Array(variable.size);
  write(
    out,
    variable.dataSync() as Float32Array,
    read.map((t) => t.dataSync() as Float32Array),
  );
  const value = tf.tensor(out, variable.shape, 'float32');
  variable.assign(value);
  value.dispose();
}

/** Sum of squares of the values of `t` (float64 accumulation), read without a copy where possible. */
export function sumOfSquares(t: Tensor): number {
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
 * A new float32 tensor of `shape` whose values `fill(out)` writes: straight into the wasm heap on wasm/blas (no
 * copy), into a host array handed to `tf.tensor` elsewhere.
 */
export function floatTensorFromHost(shape: number[], fill: (out: Float32Array) => void): Tensor {
  const name = tf.getBackend();
  const b =
    name === 'wasm' || name === 'blas' ? (tf.engine().findBackend(name) as unknown as Partial<WasmLike> | null) : null;
  if (b && typeof b.makeOutput === 'function' && typeof b.typedArrayFromHeap === 'function') {
    const info = b.makeOutput(shape, 'float32');
    fill(b.typedArrayFromHeap(info) as Float32Array);
    return tf
      .engine()
      .makeTensorFromTensorInfo(info as Parameters<ReturnType<typeof tf.engine>['makeTensorFromTensorInfo']>[0]);
  }
  const out = new Float32Array(shape.reduce((a, d) => a * d, 1));
  fill(out);
  return tf.tensor(out, shape, 'float32');
}
