/**
 * Backend selection: TensorFlow.js runs on whichever of these is present, best first.
 *
 *   gpu    `@tensorflow/tfjs-node-gpu`  (libtensorflow with CUDA)
 *   native `@tensorflow/tfjs-node`      (libtensorflow on the CPU)
 *   blas   `@tensorflow/tfjs-backend-wasm` with its matmuls on the system BLAS (blas.ts, blas-kernels.ts): the
 *          wasm backend's SIMD kernels for everything else; the fast CPU path, about 10x the plain wasm backend
 *   wasm   `@tensorflow/tfjs-backend-wasm` as shipped (+ the kernels BERT training needs, see wasm-kernels.ts)
 *   cpu    `@tensorflow/tfjs-backend-cpu` (plain JavaScript; slow, always there)
 *
 * The two native packages are optional dependencies: their install scripts download libtensorflow, which fails
 * on machines without that network access, and npm then leaves them out. Asking for a backend explicitly
 * (`initBackend({ prefer })` or `MSD_BACKEND`) never falls back silently: an unavailable one is an error that says
 * why. Without a preference the first that works is used and the others' reasons are reported in one line.
 */
import { createRequire } from 'node:module';
import { tf } from '../tf.js';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { registerWasmKernels } from './wasm-kernels.js';
import { registerHeadLayoutKernels } from './head-layout-kernels.js';
import { registerPairDistanceKernels } from './pair-distance-kernels.js';
import { registerCrossEntropyKernels } from './cross-entropy-kernels.js';
import { registerAttentionSoftmaxKernel } from './attention-softmax-kernel.js';
import { registerSimdKernels, simdKernelsUnavailable, useNativeKernels } from './simd-kernels.js';
import { loadBlas } from './blas.js';
import { loadNativeKernels } from './native-kernels.js';
import { useFreeingBackprop } from './backprop.js';
import { useLightSaves } from './saved-tensors.js';
import { useReduceGradients } from './reduce-gradients.js';
import { useBlasMatMul, useStockMatMul } from './blas-kernels.js';
import { runProductLoop } from './product-helper.js';

import { BACKEND_NAMES, type BackendName } from './names.js';
import { isMainThread } from 'node:worker_threads';
import { setHeadsRunner } from '../model/inference.js';
import { pooledRunner, unpooledRunner } from '../model/inference-pool.js';

export { BACKEND_NAMES, type BackendName };

export interface BackendInfo {
  /** Our name for the backend in use. */
  name: BackendName;
  /** The tfjs backend name (`tensorflow` for both native packages). */
  tfBackend: string;
  /** Where it came from (package name). */
  pkg: string;
  /** Backends tried before it and why each was skipped. */
  skipped: { name: BackendName; reason: string }[];
  /** Whether the choice was requested (`prefer`/`MSD_BACKEND`) or automatic. */
  requested: boolean;
  /** One line for logs and notebooks. */
  summary: string;
}

export interface InitBackendOptions {
  /** Use exactly this backend (error if unavailable). Default: `MSD_BACKEND`, else the first that works. */
  prefer?: BackendName;
  /** Print the summary line (default false; notebooks and the CLI print it themselves). */
  verbose?: boolean;
}

const require = createRequire(import.meta.url);

/** Resolves a package and checks it is really the package named (an npm alias may put another one there). */
function resolveReal(pkg: string, expectedName: string): { ok: true; path: string } | { ok: false; reason: string } {
  let pjPath: string;
  try {
    pjPath = require.resolve(`${pkg}/package.json`);
  } catch {
    return { ok: false, reason: `${pkg} is not installed` };
  }
  const name = (require(pjPath) as { name?: string }).name;
  if (name !== expectedName) {
    return { ok: false, reason: `${pkg} resolves to ${name ?? 'an unnamed package'}, not ${expectedName}` };
  }
  return { ok: true, path: require.resolve(pkg) };
}

type Attempt = { ok: true; tfBackend: string; pkg: string } | { ok: false; reason: string };

async function tryNative(candidates: string[], expected: string): Promise<Attempt> {
  const reasons: string[] = [];
  for (const pkg of candidates) {
    const found = resolveReal(pkg, expected);
    if (!found.ok) {
      reasons.push(found.reason);
      continue;
    }
    try {
      // Loading the binding registers the `tensorflow` backend with the shared tfjs-core.
      require(found.path);
    } catch (err) {
      reasons.push(`${pkg} failed to load: ${(err as Error).message.split('\n')[0]}`);
      continue;
    }
    if (tf.findBackendFactory('tensorflow') == null) {
      reasons.push(`${pkg} loaded but registered no 'tensorflow' backend (a second copy of tfjs-core?)`);
      continue;
    }
    if (!(await tf.setBackend('tensorflow'))) {
      reasons.push(`${pkg}: the 'tensorflow' backend failed to initialise`);
      continue;
    }
    return { ok: true, tfBackend: 'tensorflow', pkg };
  }
  return { ok: false, reason: reasons.join('; ') };
}

/** The wasm backend, initialised, with tfjs's own matmul kernels. */
async function tryWasm(): Promise<Attempt> {
  try {
    await import('@tensorflow/tfjs-backend-wasm');
  } catch (err) {
    return { ok: false, reason: `@tensorflow/tfjs-backend-wasm failed to load: ${(err as Error).message}` };
  }
  registerWasmKernels();
  registerHeadLayoutKernels();
  registerPairDistanceKernels();
  registerCrossEntropyKernels();
  const simd = registerSimdKernels();
  const native = loadNativeKernels();
  useNativeKernels(native.ok ? native.kernels : undefined);
  if (simd && native.ok) registerAttentionSoftmaxKernel();
  try {
    if (!(await tf.setBackend('wasm'))) return { ok: false, reason: 'the wasm backend failed to initialise' };
  } catch (err) {
    return { ok: false, reason: `the wasm backend failed to initialise: ${(err as Error).message}` };
  }
  useStockMatMul(tf.backend() as BackendWasm);
  // Never silently without the SIMD kernels or their native versions: the summary says why.
  const elementwise = !simd
    ? ` (SIMD kernels off: ${simdKernelsUnavailable()})`
    : native.ok
      ? ` + native element-wise kernels (${native.kernels.threads} thread${native.kernels.threads === 1 ? '' : 's'})`
      : ` (native element-wise kernels off: ${native.reason})`;
  const pkg = `@tensorflow/tfjs-backend-wasm${elementwise}`;
  return { ok: true, tfBackend: 'wasm', pkg };
}

/** The wasm backend with BatchMatMul and _FusedMatMul on the system BLAS; the reason when there is no BLAS. */
async function tryBlas(): Promise<Attempt> {
  const loaded = loadBlas();
  if (!loaded.ok) return { ok: false, reason: loaded.reason };
  const wasm = await tryWasm();
  if (!wasm.ok) return wasm;
  const native = loadNativeKernels();
  const gemm = native.ok ? native.kernels.sgemmBatch : undefined;
  useBlasMatMul(loaded.blas, runProductLoop, gemm);
  // Where the small products run (blas-kernels.ts: per-head loops, small dense products, sums), and why not natively.
  const products = gemm
    ? 'small products native'
    : `small products on the BLAS: ${native.ok ? native.kernels.sgemmBatchOff : 'no native library'}`;
  return {
    ok: true,
    tfBackend: 'wasm',
    pkg: `${wasm.pkg} + ${loaded.blas.description} at ${loaded.blas.path} via koffi (${products})`,
  };
}

async function tryCpu(): Promise<Attempt> {
  return (await tf.setBackend('cpu'))
    ? { ok: true, tfBackend: 'cpu', pkg: '@tensorflow/tfjs-backend-cpu' }
    : { ok: false, reason: 'the cpu backend failed to initialise' };
}

function attempt(name: BackendName): Promise<Attempt> {
  switch (name) {
    case 'gpu':
      return tryNative(['@tensorflow/tfjs-node-gpu'], '@tensorflow/tfjs-node-gpu');
    case 'native':
      // `@msd-ner/tfjs-node` is this package's optional alias of @tensorflow/tfjs-node (see README: danfojs-node's
      // override occupies the plain name with @tensorflow/tfjs).
      return tryNative(['@tensorflow/tfjs-node', '@msd-ner/tfjs-node'], '@tensorflow/tfjs-node');
    case 'blas':
      return tryBlas();
    case 'wasm':
      return tryWasm();
    case 'cpu':
      return tryCpu();
  }
}

export function parseBackendName(value: string, from: string): BackendName {
  if ((BACKEND_NAMES as readonly string[]).includes(value)) return value as BackendName;
  throw new Error(`${from}: unknown backend '${value}'; expected one of ${BACKEND_NAMES.join(', ')}`);
}

let current: BackendInfo | undefined;

/** Backends whose kernels run on the calling thread only (BLAS products aside): inference shares jobs with a worker. */
const SINGLE_THREADED = new Set<BackendName>(['blas', 'wasm', 'cpu']);

/**
 * Chooses and initialises the TensorFlow.js backend. Idempotent for the same request; a different explicit
 * request switches backends.
 */
export async function initBackend(opts: InitBackendOptions = {}): Promise<BackendInfo> {
  const env = process.env.MSD_BACKEND?.trim();
  const prefer = opts.prefer ?? (env ? parseBackendName(env, 'MSD_BACKEND') : undefined);
  if (current && (prefer === undefined || prefer === current.name)) return current;

  const skipped: { name: BackendName; reason: string }[] = [];
  const order = prefer ? [prefer] : BACKEND_NAMES;
  for (const name of order) {
    const result = await attempt(name);
    if (!result.ok) {
      if (prefer) {
        throw new Error(
          `Backend '${prefer}' was requested (${opts.prefer ? 'initBackend({ prefer })' : 'MSD_BACKEND'}) but is not available: ${result.reason}`,
        );
      }
      skipped.push({ name, reason: result.reason });
      continue;
    }
    await tf.ready();
    const why = skipped.length ? `; skipped ${skipped.map((s) => `${s.name} (${s.reason})`).join(', ')}` : '';
    const summary = `backend: ${name} [tfjs '${result.tfBackend}' from ${result.pkg}]${prefer ? ' (requested)' : ''}${why}`;
    current = { name, tfBackend: result.tfBackend, pkg: result.pkg, skipped, requested: prefer !== undefined, summary };
    // Sum and Mean gradients without an x-sized tensor of ones (the same bits as tfjs's; reduce-gradients.ts).
    useReduceGradients();
    // A backward pass that frees saved activations and gradients as it walks the tape (backprop.ts).
    useFreeingBackprop();
    // Tensors saved for the backward pass as new references, without a kernel call or a tape node (saved-tensors.ts).
    useLightSaves();
    // Decoding heads on both cores where the backend itself runs on one thread (model/inference-pool.ts).
    setHeadsRunner(isMainThread && SINGLE_THREADED.has(name) ? pooledRunner(name) : unpooledRunner());
    if (opts.verbose) console.log(summary);
    return current;
  }
  throw new Error(
    `No TensorFlow.js backend could be initialised: ${skipped.map((s) => `${s.name}: ${s.reason}`).join('; ')}`,
  );
}

/** The backend chosen by the last `initBackend`, if any. */
export function activeBackend(): BackendInfo | undefined {
  return current;
}
