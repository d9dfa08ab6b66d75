/**
 * Fused element-wise kernels for the wasm backend, written in WebAssembly SIMD (src/backend/simd-kernels.wat) and
 * run on the backend's own heap: the module imports tfjs-backend-wasm's `WebAssembly.Memory`, so tensors are read
 * and written where they live. Registered through tfjs-core's public registries (`registerKernel`,
 * `registerGradient`) under names of our own, so nothing of tfjs is replaced:
 *
 *   MsdGelu       {x}      -> x Phi(x)                                  (exact GELU, erf-based, as HF's "gelu")
 *   MsdGeluGrad   {x, dy}  -> dy (Phi(x) + x phi(x))                   (its gradient; the tape keeps only x)
 *   MsdGeluTrain  {x}      -> [x Phi(x), Phi(x) + x phi(x)]           (GELU under the tape: the derivative comes out
 *                 of the forward pass, which has computed Phi and phi anyway, and the tape keeps it instead of x; the
 *                 backward pass is then dy times it, the bits of MsdGeluGrad, in a plain Multiply)
 *   MsdLayerNorm  {x, residual?, gamma, beta} (eps) -> [y, xhat, rstd]   LayerNorm of x + residual over the last
 *                 axis, with what its gradient needs (xhat, 1/sigma per row)
 *   MsdLayerNormGrad {dy, xhat, rstd, gamma} -> [dx, dgamma, dbeta]   (dx is also the residual's gradient)
 *   MsdAttentionSoftmaxGrad {probs, dprobs} (scale) -> scale probs (dprobs - sum(dprobs probs)): the gradient
 *                 of the attention scores through softmax(scores scale + mask) (the forward stays on tfjs-wasm's
 *                 kernels: XNNPACK's softmax is faster than a pass with this module's exp)
 *   MsdDropoutMask {} (shape, base, threshold, scale) -> the dropout mask of src/model/dropout.ts, the same bits
 *                 as its JavaScript loop, four positions at a time
 *
 * The composite of tfjs ops is five passes forward and eleven backward, with tfjs-wasm's scalar Erf (15 ns per
 * value here) and Exp (9 ns) done twice; these are one pass each at about 3.3 ns per value. `gelu` in
 * src/model/bert-ops.ts uses them where the current backend has them and the composite elsewhere (cpu, webgl,
 * node). LayerNorm as tfjs ops is nine kernels forward and eleven backward (plus the residual add), the attention
 * softmax's gradient with its scale five; here one pass each (the LayerNorm kernels have
 * several outputs, so src/model/bert-ops.ts wraps them in `customGrad` instead of `registerGradient`: a
 * registered gradient would get, and the engine would allocate, zero gradients for the saved outputs).
 * `MSD_SIMD=off` leaves them unregistered (to compare, or to rule them out).
 */
import {
  getKernel,
  util,
  type GradConfig,
  type KernelConfig,
  type KernelFunc,
  type NamedAttrMap,
  type Tensor,
  type TensorInfo,
} from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { tf } from '../tf.js';
import { registerKernels } from './register-kernels.js';
import { SIMD_KERNELS_WASM_BASE64 } from './simd-kernels.wasm.js';
// Type only: this module is also bundled for the browser (the tagger); Node's initBackend passes the kernels in.
import type { NativeKernels } from './native-kernels.js';

/**
 * The arguments every AdamW kernel starts with: p, g, m, v and the output (byte offsets or addresses; the moments
 * may be host arrays, `M`), n, and the step's constants.
 */
export type AdamwHead<M = number> = [
  p: number,
  g: number,
  m: M,
  v: M,
  out: number,
  n: number,
  b1: number,
  b2: number,
  eps: number,
  stepSize: number,
];
/** AdamW with both variants in one call: c = 0 is hf's, c = sqrtBc2 > 0 torch's (native-kernels.c's msd_adamw). */
export type AdamwCall<M = number> = [...head: AdamwHead<M>, c: number, decay: number, gradScale: number];

export interface SimdExports {
  gelu_forward(x: number, out: number, n: number): void;
  gelu_backward(x: number, dy: number, dx: number, n: number): void;
  gelu_forward_train(x: number, out: number, d: number, n: number): void;
  layer_norm_forward(
    x: number,
    res: number,
    gamma: number,
    beta: number,
    y: number,
    xhat: number,
    rstd: number,
    rows: number,
    cols: number,
    eps: number,
  ): void;
  layer_norm_backward(
    dy: number,
    xhat: number,
    rstd: number,
    gamma: number,
    dx: number,
    dgamma: number,
    dbeta: number,
    rows: number,
    cols: number,
  ): void;
  softmax_backward(p: number, dp: number, ds: number, rows: number, cols: number, scale: number): void;
  dropout_mask(out: number, n: number, base: number, threshold: number, scale: number): void;
  dropout_apply(x: number, out: number, n: number, base: number, threshold: number, scale: number): void;
  adamw_hf(...args: [...head: AdamwHead, decay: number, gradScale: number]): void;
  adamw_torch(...args: [...head: AdamwHead, sqrtBc2: number, decay: number, gradScale: number]): void;
  sum_squares(x: number, n: number): number;
  add_into(dst: number, src: number, n: number): void;
  /**
   * Only with the native kernels: AdamW's update (c = 0: hf, else torch with sqrtBc2 = c) with p, g and out in the
   * heap (byte offsets) and the moments in host memory, read and written where they are (no copy through the heap).
   */
  adamw_host?(...args: AdamwCall<Float32Array>): void;
  rows_to_heads(
    x: number,
    out: number,
    ids: number,
    rows: number,
    heads: number,
    dh: number,
    seqLen: number,
    zeroBytes: number,
  ): void;
  heads_to_rows(x: number, out: number, ids: number, rows: number, heads: number, dh: number, seqLen: number): void;
}

/** The slice of the WebAssembly JS API used here (the project compiles without the DOM type library). */
interface WasmApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: unknown };
  Memory: new (desc: { initial: number }) => { buffer: ArrayBuffer };
}
const WA = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

let compiled: object | undefined;
/** The module, compiled once (a WebAssembly engine without SIMD throws here). */
function compiledModule(): object {
  compiled ??= new WA.Module(Uint8Array.from(atob(SIMD_KERNELS_WASM_BASE64), (c) => c.charCodeAt(0)));
  return compiled;
}
/** One instance per backend instance (each has its own memory). */
const instances = new WeakMap<object, SimdExports>();
/** The same instances' exports as the module has them (no native kernels). */
const wasmInstances = new WeakMap<object, SimdExports>();

function memoryOf(backend: BackendWasm): { buffer: ArrayBuffer } {
  const mem = (backend.wasm as unknown as { asm?: { memory?: unknown } }).asm?.memory;
  if (!(mem instanceof WA.Memory)) {
    throw new Error('simd-kernels: the wasm backend does not expose its memory (wasm.asm.memory); tfjs changed?');
  }
  return mem;
}

function kernelsFor(backend: BackendWasm): SimdExports {
  let k = instances.get(backend);
  if (!k) {
    const memory = memoryOf(backend);
    k = new WA.Instance(compiledModule(), { env: { memory } }).exports as unknown as SimdExports;
    wasmInstances.set(backend, k);
    if (native) k = withNative(k, native, memory);
    instances.set(backend, k);
  }
  return k;
}

/**
 * Calls of at least this many values go to the native kernels (native-kernels.ts) when they are loaded: below it
 * the FFI call (about 0.5 us) costs more than the pass.
 */
const NATIVE_MIN_VALUES = 1024;

/**
 * `adamw_host` takes host moments of at least this many values: V8 keeps typed arrays of 64 bytes or less on its
 * own heap, where the garbage collector can move them under an address.
 */
export const HOST_MOMENTS_MIN_VALUES = 17;

/**
 * The module's exports with the element-wise passes (GELU, dropout, AdamW) on the native kernels from
 * NATIVE_MIN_VALUES values on: the same bits (test/backend/native-kernels.test.ts), on every core. The heap's byte
 * offsets become addresses: the base of the memory's current buffer (growing the memory replaces the buffer) plus
 * the offset.
 */
function withNative(k: SimdExports, nat: NativeKernels, memory: { buffer: ArrayBuffer }): SimdExports {
  let buffer: ArrayBuffer | undefined;
  let base = 0;
  const heap = () => {
    const b = memory.buffer;
    if (b !== buffer) {
      buffer = b;
      base = nat.address(new Uint8Array(b, 0, 1));
    }
    return base;
  };
  const small = (n: number) => n < NATIVE_MIN_VALUES;
  return {
    ...k,
    gelu_forward: (x, out, n) => (small(n) ? k.gelu_forward(x, out, n) : nat.gelu(0, heap() + x, 0, base + out, n)),
    gelu_backward: (x, dy, dx, n) =>
      small(n) ? k.gelu_backward(x, dy, dx, n) : nat.gelu(1, heap() + x, base + dy, base + dx, n),
    gelu_forward_train: (x, out, d, n) =>
      small(n) ? k.gelu_forward_train(x, out, d, n) : nat.gelu(2, heap() + x, base + d, base + out, n),
    dropout_mask: (out, n, b, threshold, scale) =>
      small(n)
        ? k.dropout_mask(out, n, b, threshold, scale)
        : nat.dropout(0, heap() + out, n, b >>> 0, threshold >>> 0, scale),
    dropout_apply: (x, out, n, b, threshold, scale) =>
      small(n)
        ? k.dropout_apply(x, out, n, b, threshold, scale)
        : nat.dropout(heap() + x, base + out, n, b >>> 0, threshold >>> 0, scale),
    adamw_hf: (p, g, m, v, out, n, b1, b2, eps, step, decay, gs) =>
      small(n)
        ? k.adamw_hf(p, g, m, v, out, n, b1, b2, eps, step, decay, gs)
        : nat.adamw(heap() + p, base + g, base + m, base + v, base + out, n, b1, b2, eps, step, 0, decay, gs),
    adamw_torch: (p, g, m, v, out, n, b1, b2, eps, step, c, decay, gs) =>
      small(n)
        ? k.adamw_torch(p, g, m, v, out, n, b1, b2, eps, step, c, decay, gs)
        : nat.adamw(heap() + p, base + g, base + m, base + v, base + out, n, b1, b2, eps, step, c, decay, gs),
    adamw_host: (p, g, m, v, out, n, b1, b2, eps, step, c, decay, gs) => {
      if (m.length !== n || v.length !== n) throw new Error('adamw_host: the moments must hold n values each');
      if (n < HOST_MOMENTS_MIN_VALUES)
        throw new Error(`adamw_host: moments of fewer than ${HOST_MOMENTS_MIN_VALUES} values go through the heap`);
      nat.adamw(heap() + p, base + g, nat.address(m), nat.address(v), base + out, n, b1, b2, eps, step, c, decay, gs);
    },
  };
}

let native: NativeKernels | undefined;

/**
 * Has the element-wise passes of the heaps made from now on run on these native kernels (initBackend passes them
 * when native-kernels.ts loads them; undefined: the wasm module's own).
 */
export function useNativeKernels(kernels: NativeKernels | undefined): void {
  native = kernels;
}

/** The native kernels initBackend passed in (undefined: none, or `useNativeKernels(undefined)`). */
export function activeNativeKernels(): NativeKernels | undefined {
  return native;
}

/** Byte offset of a float32 tensor's data in the wasm heap. */
function offset(backend: BackendWasm, t: TensorInfo, what: string): number {
  if (t.dtype !== 'float32') throw new Error(`${what} (wasm simd): expected a float32 tensor, got ${t.dtype}`);
  return (backend.typedArrayFromHeap(t) as Float32Array).byteOffset;
}

const geluWasm: KernelFunc = ({ inputs, backend }) => {
  const { x } = inputs as { x: TensorInfo };
  const b = backend as BackendWasm;
  const out = b.makeOutput(x.shape, 'float32');
  const n = util.sizeFromShape(x.shape);
  if (n > 0) kernelsFor(b).gelu_forward(offset(b, x, 'MsdGelu'), offset(b, out, 'MsdGelu'), n);
  return out;
};

const geluTrainWasm: KernelFunc = ({ inputs, backend }) => {
  const { x } = inputs as { x: TensorInfo };
  const b = backend as BackendWasm;
  const out = b.makeOutput(x.shape, 'float32');
  const d = b.makeOutput(x.shape, 'float32');
  const n = util.sizeFromShape(x.shape);
  if (n > 0) {
    kernelsFor(b).gelu_forward_train(
      offset(b, x, 'MsdGeluTrain'),
      offset(b, out, 'MsdGeluTrain'),
      offset(b, d, 'MsdGeluTrain'),
      n,
    );
  }
  return [out, d];
};

const geluGradWasm: KernelFunc = ({ inputs, backend }) => {
  const { x, dy } = inputs as { x: TensorInfo; dy: TensorInfo };
  util.assertShapesMatch(x.shape, dy.shape, 'MsdGeluGrad: x and dy');
  const b = backend as BackendWasm;
  const out = b.makeOutput(x.shape, 'float32');
  const n = util.sizeFromShape(x.shape);
  if (n > 0) {
    kernelsFor(b).gelu_backward(
      offset(b, x, 'MsdGeluGrad'),
      offset(b, dy, 'MsdGeluGrad'),
      offset(b, out, 'MsdGeluGrad'),
      n,
    );
  }
  return out;
};

/** The size of the last axis and the number of rows before it. */
function rowsCols(shape: number[]): [number, number] {
  const cols = shape.length === 0 ? 1 : shape[shape.length - 1]!;
  return [cols === 0 ? 0 : util.sizeFromShape(shape) / cols, cols];
}

function expectShape(t: TensorInfo, shape: number[], what: string): void {
  if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
    throw new Error(`${what}: expected shape [${shape}], got [${t.shape}]`);
  }
}

const layerNormWasm: KernelFunc = ({ inputs, backend, attrs }) => {
  const { x, residual, gamma, beta } = inputs as {
    x: TensorInfo;
    residual?: TensorInfo;
    gamma: TensorInfo;
    beta: TensorInfo;
  };
  const { eps } = attrs as unknown as { eps: number };
  const [rows, cols] = rowsCols(x.shape);
  if (residual) util.assertShapesMatch(x.shape, residual.shape, 'MsdLayerNorm: x and residual');
  expectShape(gamma, [cols], 'MsdLayerNorm: gamma');
  expectShape(beta, [cols], 'MsdLayerNorm: beta');
  const b = backend as BackendWasm;
  const y = b.makeOutput(x.shape, 'float32');
  const xhat = b.makeOutput(x.shape, 'float32');
  const rstd = b.makeOutput([...x.shape.slice(0, -1), 1], 'float32');
  if (rows > 0 && cols > 0) {
    const at = (t: TensorInfo) => offset(b, t, 'MsdLayerNorm');
    kernelsFor(b).layer_norm_forward(
      at(x),
      residual ? at(residual) : 0,
      at(gamma),
      at(beta),
      at(y),
      at(xhat),
      at(rstd),
      rows,
      cols,
      eps,
    );
  }
  return [y, xhat, rstd];
};

const layerNormGradWasm: KernelFunc = ({ inputs, backend }) => {
  const { dy, xhat, rstd, gamma } = inputs as { dy: TensorInfo; xhat: TensorInfo; rstd: TensorInfo; gamma: TensorInfo };
  const [rows, cols] = rowsCols(xhat.shape);
  util.assertShapesMatch(dy.shape, xhat.shape, 'MsdLayerNormGrad: dy and xhat');
  expectShape(gamma, [cols], 'MsdLayerNormGrad: gamma');
  if (util.sizeFromShape(rstd.shape) !== rows) throw new Error(`MsdLayerNormGrad: rstd must hold ${rows} values`);
  const b = backend as BackendWasm;
  const dx = b.makeOutput(xhat.shape, 'float32');
  const dgamma = b.makeOutput([cols], 'float32');
  const dbeta = b.makeOutput([cols], 'float32');
  if (cols > 0) {
    const at = (t: TensorInfo) => offset(b, t, 'MsdLayerNormGrad');
    kernelsFor(b).layer_norm_backward(at(dy), at(xhat), at(rstd), at(gamma), at(dx), at(dgamma), at(dbeta), rows, cols);
  }
  return [dx, dgamma, dbeta];
};

const softmaxGradWasm: KernelFunc = ({ inputs, backend, attrs }) => {
  const { probs, dprobs } = inputs as { probs: TensorInfo; dprobs: TensorInfo };
  const { scale } = attrs as unknown as { scale: number };
  util.assertShapesMatch(probs.shape, dprobs.shape, 'MsdAttentionSoftmaxGrad: probs and dprobs');
  const [rows, cols] = rowsCols(probs.shape);
  const b = backend as BackendWasm;
  const ds = b.makeOutput(probs.shape, 'float32');
  if (rows > 0 && cols > 0) {
    const at = (t: TensorInfo) => offset(b, t, 'MsdAttentionSoftmaxGrad');
    kernelsFor(b).softmax_backward(at(probs), at(dprobs), at(ds), rows, cols, scale);
  }
  return ds;
};

/** attrs of MsdDropoutMask: the hashed seed, the keep threshold (unsigned 32-bit) and the kept value. */
export interface DropoutMaskAttrs {
  shape: number[];
  base: number;
  threshold: number;
  scale: number;
}

const dropoutMaskWasm: KernelFunc = ({ backend, attrs }) => {
  const { shape, base, threshold, scale } = attrs as unknown as DropoutMaskAttrs;
  const b = backend as BackendWasm;
  const out = b.makeOutput(shape, 'float32');
  const n = util.sizeFromShape(shape);
  // i32 parameters take the low 32 bits: base and threshold pass as they are (threshold up to 2^32 - 1).
  if (n > 0) kernelsFor(b).dropout_mask(offset(b, out, 'MsdDropoutMask'), n, base | 0, threshold | 0, scale);
  return out;
};

/** attrs of MsdDropout: DropoutMaskAttrs without the shape (x's). */
export type DropoutAttrs = Omit<DropoutMaskAttrs, 'shape'>;

/** x times the mask of MsdDropoutMask, the mask computed on the fly: dropout and its gradient (dy for x). */
const dropoutWasm: KernelFunc = ({ inputs, backend, attrs }) => {
  const { x } = inputs as { x: TensorInfo };
  const { base, threshold, scale } = attrs as unknown as DropoutAttrs;
  const b = backend as BackendWasm;
  const out = b.makeOutput(x.shape, 'float32');
  const n = util.sizeFromShape(x.shape);
  if (n > 0)
    kernelsFor(b).dropout_apply(
      offset(b, x, 'MsdDropout'),
      offset(b, out, 'MsdDropout'),
      n,
      base | 0,
      threshold | 0,
      scale,
    );
  return out;
};

export const GELU = 'MsdGelu';
export const GELU_GRAD = 'MsdGeluGrad';
export const GELU_TRAIN = 'MsdGeluTrain';
export const LAYER_NORM = 'MsdLayerNorm';
export const LAYER_NORM_GRAD = 'MsdLayerNormGrad';
export const ATTENTION_SOFTMAX_GRAD = 'MsdAttentionSoftmaxGrad';
export const DROPOUT_MASK = 'MsdDropoutMask';
export const DROPOUT = 'MsdDropout';

const kernels: KernelConfig[] = [
  { kernelName: GELU, backendName: 'wasm', kernelFunc: geluWasm },
  { kernelName: GELU_GRAD, backendName: 'wasm', kernelFunc: geluGradWasm },
  { kernelName: GELU_TRAIN, backendName: 'wasm', kernelFunc: geluTrainWasm },
  { kernelName: LAYER_NORM, backendName: 'wasm', kernelFunc: layerNormWasm },
  { kernelName: LAYER_NORM_GRAD, backendName: 'wasm', kernelFunc: layerNormGradWasm },
  { kernelName: ATTENTION_SOFTMAX_GRAD, backendName: 'wasm', kernelFunc: softmaxGradWasm },
  { kernelName: DROPOUT_MASK, backendName: 'wasm', kernelFunc: dropoutMaskWasm },
  { kernelName: DROPOUT, backendName: 'wasm', kernelFunc: dropoutWasm },
];

/** The gradient of dropout is the same pass over dy (the same mask): nothing is saved for it. */
const dropoutGradient: GradConfig = {
  kernelName: DROPOUT,
  inputsToSave: [],
  gradFunc: (dy, _saved, attrs) => ({
    x: () => tf.engine().runKernel(DROPOUT, { x: dy as Tensor }, attrs as unknown as NamedAttrMap) as Tensor,
  }),
};

const geluGradient: GradConfig = {
  kernelName: GELU,
  inputsToSave: ['x'],
  gradFunc: (dy, saved) => {
    const [x] = saved;
    return { x: () => tf.engine().runKernel(GELU_GRAD, { x: x!, dy: dy as Tensor }) as Tensor };
  },
};

let registered: boolean | undefined;
let reason = '';

/**
 * Registers the kernels (once). Returns false, with `simdKernelsUnavailable()` saying why (initBackend puts it in
 * its summary), under `MSD_SIMD=off` or where the module cannot compile (a WebAssembly engine without SIMD): `gelu`
 * then keeps the composite of tfjs ops.
 */
export function registerSimdKernels(): boolean {
  if (registered !== undefined) return registered;
  if ((globalThis as { process?: { env: Record<string, string | undefined> } }).process?.env.MSD_SIMD === 'off') {
    reason = 'MSD_SIMD=off';
    return (registered = false);
  }
  try {
    compiledModule();
  } catch (err) {
    reason = `the SIMD kernel module does not compile here: ${(err as Error).message}`;
    return (registered = false);
  }
  registerKernels(kernels, [geluGradient, dropoutGradient]);
  return (registered = true);
}

/** Why the SIMD kernels are not registered ('' when they are, or before `registerSimdKernels`). */
export function simdKernelsUnavailable(): string {
  return reason;
}

/**
 * The kernels that are not tfjs kernels (they write in place, or into an output the caller allocated): AdamW's step,
 * the sum of squares, `+=`, and the attention's layout changes (head-layout-kernels.ts).
 */
export type HeapKernels = Pick<
  SimdExports,
  'adamw_hf' | 'adamw_torch' | 'adamw_host' | 'sum_squares' | 'add_into' | 'rows_to_heads' | 'heads_to_rows'
>;

/**
 * The module's in-place kernels for the active backend's heap (AdamW's update, the gradient norm's sum of squares,
 * the micro-batch gradient sum; called with byte offsets by src/train/adamw.ts and src/backend/host-memory.ts), or
 * undefined when the
 * active backend is not wasm or the SIMD kernels are off (`MSD_SIMD=off`, no SIMD): callers then run their
 * JavaScript loops, which give the same bits.
 */
export function heapKernels(): HeapKernels | undefined {
  if (!registered || tf.getBackend() !== 'wasm') return undefined;
  return kernelsFor(tf.engine().findBackend('wasm') as BackendWasm);
}

/**
 * The wasm module's own in-place kernels for the active backend, without the native ones (withNative): for tests and
 * benchmarks that compare the two. Undefined where heapKernels() is.
 */
export function wasmHeapKernels(): SimdExports | undefined {
  if (!registered || tf.getBackend() !== 'wasm') return undefined;
  const backend = tf.engine().findBackend('wasm') as BackendWasm;
  kernelsFor(backend);
  return wasmInstances.get(backend);
}

/** Whether the current backend runs `name` as a kernel of ours (MsdGelu, MsdLayerNorm, ...). */
export function hasKernel(name: string): boolean {
  return getKernel(name, tf.getBackend()) !== undefined;
}
