/**
 * Fused element-wise kernels for the wasm backend, written in WebAssembly SIMD (src/backend/simd-kernels.wat) and
 * run on the backend's own heap: the module imports tfjs-backend-wasm's `WebAssembly.Memory`, so tensors are read
 * and written where they live. Registered through tfjs-core's public registries (`registerKernel`,
 * `registerGradient`) under names of our own, so nothing of tfjs is replaced:
 *
 *   MsdGelu       {x}      -> x Phi(x)                                  (exact GELU, erf-based, as HF's "gelu")
 *   MsdGeluGrad   {x, dy}  -> dy (Phi(x) + x phi(x))                   (its gradient; the tape keeps only x)
 *
 * The composite of tfjs ops is five passes forward and eleven backward, with tfjs-wasm's scalar Erf (15 ns per
 * value here) and Exp (9 ns) done twice; these are one pass each at about 3.5 ns per value. `gelu` in
 * src/model/bert.ts uses them where the current backend has them and the composite elsewhere (cpu, webgl, node).
 * `MSD_SIMD=off` leaves them unregistered (to compare, or to rule them out).
 */
import {
  getKernel,
  registerGradient,
  registerKernel,
  util,
  type GradConfig,
  type KernelConfig,
  type KernelFunc,
  type Tensor,
  type TensorInfo,
} from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { tf } from '../tf.js';
import { SIMD_KERNELS_WASM_BASE64 } from './simd-kernels.wasm.js';

interface SimdExports {
  gelu_forward(x: number, out: number, n: number): void;
  gelu_backward(x: number, dy: number, dx: number, n: number): void;
}

/** The slice of the WebAssembly JS API used here (the project compiles without the DOM type library). */
interface WasmApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: unknown };
  Memory: new (desc: { initial: number }) => object;
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

function memoryOf(backend: BackendWasm): object {
  const mem = (backend.wasm as unknown as { asm?: { memory?: unknown } }).asm?.memory;
  if (!(mem instanceof WA.Memory)) {
    throw new Error('simd-kernels: the wasm backend does not expose its memory (wasm.asm.memory); tfjs changed?');
  }
  return mem;
}

function kernelsFor(backend: BackendWasm): SimdExports {
  let k = instances.get(backend);
  if (!k) {
    k = new WA.Instance(compiledModule(), { env: { memory: memoryOf(backend) } }).exports as unknown as SimdExports;
    instances.set(backend, k);
  }
  return k;
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

export const GELU = 'MsdGelu';
export const GELU_GRAD = 'MsdGeluGrad';

const kernels: KernelConfig[] = [
  { kernelName: GELU, backendName: 'wasm', kernelFunc: geluWasm },
  { kernelName: GELU_GRAD, backendName: 'wasm', kernelFunc: geluGradWasm },
];

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
  for (const k of kernels) if (!getKernel(k.kernelName, k.backendName)) registerKernel(k);
  registerGradient(geluGradient);
  return (registered = true);
}

/** Why the SIMD kernels are not registered ('' when they are, or before `registerSimdKernels`). */
export function simdKernelsUnavailable(): string {
  return reason;
}

/** Whether the current backend runs `name` as a kernel of ours (MsdGelu, MsdGeluGrad). */
export function hasKernel(name: string): boolean {
  return getKernel(name, tf.getBackend()) !== undefined;
}
