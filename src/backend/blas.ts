/**
 * The system BLAS, called from JavaScript through the FFI package `koffi` (prebuilt binaries inside its npm
 * package: nothing is compiled or downloaded at install time).
 *
 * Why: tfjs-backend-wasm runs one thread in Node and its matmul with `transposeB` (the shape of every weight
 * gradient) misses the fast path: 2-28 GFLOP/s here against ~160 for OpenBLAS on two cores, transposed or not.
 * Matmuls are >90% of a BERT step's FLOPs, so routing them to an optimised BLAS is most of the speed-up
 * (src/backend/blas-kernels.ts registers the kernels).
 *
 * Which library: `MSD_BLAS` (a path or a soname) if set, else OpenBLAS under its usual Debian/Ubuntu/Fedora/macOS
 * names, else any `libcblas`/`libblas` that exports `cblas_sgemm`. Nothing found is not an error here: `loadBlas()`
 * returns the reason, and `initBackend()` falls back to the stock wasm kernels and prints that reason.
 *
 * Threads: OpenBLAS's own default (one per core) unless `MSD_BLAS_THREADS` or `OPENBLAS_NUM_THREADS` says otherwise.
 * OpenBLAS's idle threads spin for about 2^28 cycles after each product (`OPENBLAS_THREAD_TIMEOUT`, read when it loads):
 * product-helper.ts uses the second core only when that is set to 16 or less.
 */
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { firstLine } from '../errors.js';
import { cpus } from 'node:os';
import { isMainThread } from 'node:worker_threads';

/**
 * Row-major `C = alpha * op(A) op(B) + beta * C`, the operands given as `P`: typed-array views (of the wasm heap,
 * say) passed without a copy, or byte addresses.
 */
export type SgemmOf<P> = (
  transA: boolean,
  transB: boolean,
  m: number,
  n: number,
  k: number,
  alpha: number,
  a: P,
  lda: number,
  b: P,
  ldb: number,
  beta: number,
  c: P,
  ldc: number,
) => void;
/** Operands as typed-array views. */
export type Sgemm = SgemmOf<Float32Array>;
/** Operands as byte addresses (see `Blas.address`): no typed array per call. */
export type SgemmAt = SgemmOf<number>;

export interface Blas {
  /** The library file that was loaded. */
  path: string;
  /** e.g. `OpenBLAS 0.3.21 (Haswell, 2 threads)`, or the file name for another CBLAS. */
  description: string;
  /** Threads each call uses (OpenBLAS), as loaded; 1 in a worker thread (see `loadBlas`). */
  threads: number;
  /**
   * Sets the threads of later calls (OpenBLAS's `openblas_set_num_threads`; process-wide): inference-pool.ts runs
   * one per thread while two threads call sgemm. Does nothing for a CBLAS without it, or in a worker thread.
   */
  setThreads(n: number): void;
  /** The threads later calls use: `threads`, or what `setThreads` set since (always 1 for a CBLAS without it). */
  activeThreads(): number;
  /** Runs `f` with the calls on one thread, then sets back the count it found (nothing to set when that is 1). */
  oneThread<T>(f: () => T): T;
  sgemm: Sgemm;
  /**
   * The same function called with addresses: the batched per-head products make one call per (sentence, head),
   * tens of thousands per step, where a typed-array view per operand cost as much as a small product itself
   * (1.99 against 1.36 us for a [24, 64] x [64, 24] product here).
   */
  sgemmAt: SgemmAt;
  /** The byte address of a typed array's first element (valid while its buffer is neither detached nor moved). */
  address(view: Float32Array): number;
}

export type BlasLoad = { ok: true; blas: Blas } | { ok: false; reason: string };

const CBLAS_ROW_MAJOR = 101;
const CBLAS_NO_TRANS = 111;
const CBLAS_TRANS = 112;

/** Candidates in order; plain sonames go through the dynamic loader's search path. */
function candidates(): string[] {
  const env = process.env.MSD_BLAS?.trim();
  if (env) return [env];
  const multiarch = process.arch === 'arm64' ? 'aarch64-linux-gnu' : 'x86_64-linux-gnu';
  return [
    'libopenblas.so.0',
    `/usr/lib/${multiarch}/openblas-pthread/libopenblas.so.0`,
    `/usr/lib/${multiarch}/openblas-openmp/libopenblas.so.0`,
    `/usr/lib/${multiarch}/openblas-serial/libopenblas.so.0`,
    'libopenblas.so',
    '/usr/lib64/libopenblas.so.0',
    '/opt/homebrew/opt/openblas/lib/libopenblas.dylib',
    '/usr/local/opt/openblas/lib/libopenblas.dylib',
    'libcblas.so.3',
    'libblas.so.3',
  ];
}

let cached: BlasLoad | undefined;

/** Loads the first usable CBLAS once per process; later calls return the same result. */
export function loadBlas(): BlasLoad {
  cached ??= load();
  return cached;
}

function load(): BlasLoad {
  if (process.env.MSD_BLAS?.trim() === 'off') return { ok: false, reason: 'MSD_BLAS=off' };
  let koffi: typeof import('koffi');
  try {
    koffi = createRequire(import.meta.url)('koffi') as typeof import('koffi');
  } catch (err) {
    return { ok: false, reason: `the FFI package koffi failed to load (${firstLine(err)})` };
  }
  const tried: string[] = [];
  for (const path of candidates()) {
    if (path.startsWith('/') && !existsSync(path)) {
      tried.push(`${path}: no such file`);
      continue;
    }
    let lib: ReturnType<typeof koffi.load>;
    try {
      lib = koffi.load(path);
    } catch (err) {
      tried.push(`${path}: ${firstLine(err)}`);
      continue;
    }
    let raw: (...args: unknown[]) => void;
    try {
      raw = lib.func(
        'void cblas_sgemm(int order, int transA, int transB, int m, int n, int k, float alpha, const float *a, int lda, const float *b, int ldb, float beta, float *c, int ldc)',
      ) as (...args: unknown[]) => void;
    } catch (err) {
      tried.push(`${path}: no cblas_sgemm (${firstLine(err)})`);
      continue;
    }
    const optional = <T>(decl: string): T | undefined => {
      try {
        return lib.func(decl) as T;
      } catch {
        return undefined;
      }
    };
    const setThreads = optional<(n: number) => void>('void openblas_set_num_threads(int n)');
    const getThreads = optional<() => number>('int openblas_get_num_threads()');
    const getConfig = optional<() => string>('const char *openblas_get_config()');
    const getCore = optional<() => string>('const char *openblas_get_corename()');
    const control = threadControl(setThreads, getThreads);
    const threads = control.threads;
    const version = getConfig?.().match(/OpenBLAS\s+([\d.]+)/)?.[1];
    const description = version
      ? `OpenBLAS ${version} (${getCore?.() ?? 'unknown core'}, ${threads} thread${threads === 1 ? '' : 's'} of ${cpus().length} cores)`
      : `${path} (CBLAS)`;
    const rawAt = lib.func(
      'void cblas_sgemm(int order, int transA, int transB, int m, int n, int k, float alpha, uintptr_t a, int lda, uintptr_t b, int ldb, float beta, uintptr_t c, int ldc)',
    ) as (...args: unknown[]) => void;
    const sgemm: Sgemm = rowMajor<Float32Array>(raw);
    const sgemmAt: SgemmAt = rowMajor<number>(rawAt);
    // koffi.address takes typed arrays since koffi 2.16 (package.json asks for ^2.16.3); addresses are below 2^53.
    const address = (view: Float32Array) => Number(koffi.address(view));
    if (!selfTest(sgemm)) {
      tried.push(`${path}: cblas_sgemm gave wrong results on a 2x3x2 check`);
      continue;
    }
    if (!selfTestAt(sgemmAt, address)) {
      tried.push(`${path}: cblas_sgemm called with addresses gave wrong results on a 2x3x2 check`);
      continue;
    }
    return {
      ok: true,
      blas: { path, description, ...control, sgemm, sgemmAt, address },
    };
  }
  return {
    ok: false,
    reason: `no BLAS library found (tried ${tried.join('; ')}); on Debian/Ubuntu: apt-get install libopenblas0-pthread, or set MSD_BLAS=/path/to/libopenblas.so`,
  };
}

/**
 * The thread count of a library with OpenBLAS's `set` and `get` (without them: one thread, fixed), after
 * `MSD_BLAS_THREADS`. OpenBLAS's count is one setting for the whole process, so only the main thread sets it. A
 * worker thread (the inference worker, the product helper) computes while the main thread has set it to 1, and its
 * calls count as one thread each: were it to set the count back after a call, the main thread's products would run
 * on two threads beside it.
 */
function threadControl(
  set: ((n: number) => void) | undefined,
  get: (() => number) | undefined,
): Pick<Blas, 'threads' | 'setThreads' | 'activeThreads' | 'oneThread'> {
  if (!isMainThread) set = undefined;
  const wanted = Number(process.env.MSD_BLAS_THREADS ?? '');
  if (set && Number.isInteger(wanted) && wanted > 0) set(wanted);
  const threads = isMainThread ? (get?.() ?? 1) : 1;
  let active = threads;
  const setThreads = (n: number) => {
    if (!set) return;
    set(n);
    active = n;
  };
  return {
    threads,
    setThreads,
    activeThreads: () => active,
    oneThread: (f) => {
      const was = active;
      if (was === 1) return f();
      setThreads(1);
      try {
        return f();
      } finally {
        setThreads(was);
      }
    },
  };
}

/** A CBLAS `cblas_sgemm` as `SgemmOf<P>`: row-major, the transposes as CBLAS's enums. */
function rowMajor<P>(raw: (...args: unknown[]) => void): SgemmOf<P> {
  return (transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc) =>
    raw(
      CBLAS_ROW_MAJOR,
      transA ? CBLAS_TRANS : CBLAS_NO_TRANS,
      transB ? CBLAS_TRANS : CBLAS_NO_TRANS,
      m,
      n,
      k,
      alpha,
      a,
      lda,
      b,
      ldb,
      beta,
      c,
      ldc,
    );
}

/** A 2x3 times 3x2 product, plain and with both operands transposed: catches a wrong ABI before any training. */
function selfTest(sgemm: Sgemm): boolean {
  const a = new Float32Array([1, 2, 3, 4, 5, 6]); // 2x3
  const b = new Float32Array([7, 8, 9, 10, 11, 12]); // 3x2
  const c = new Float32Array(4);
  sgemm(false, false, 2, 2, 3, 1, a, 3, b, 2, 0, c, 2);
  const plain = [58, 64, 139, 154].every((v, i) => c[i] === v);
  // (B^T A^T) = (A B)^T with A^T given as a 3x2 row-major matrix read transposed.
  const at = new Float32Array([1, 4, 2, 5, 3, 6]); // A^T, 3x2
  const bt = new Float32Array([7, 9, 11, 8, 10, 12]); // B^T, 2x3
  sgemm(true, true, 2, 2, 3, 1, at, 2, bt, 3, 0, c, 2);
  const transposed = [58, 64, 139, 154].every((v, i) => c[i] === v);
  return plain && transposed;
}

/** The same 2x3 times 3x2 product through addresses, the operands at offsets inside one buffer. */
function selfTestAt(sgemmAt: SgemmAt, address: (view: Float32Array) => number): boolean {
  const buf = new Float32Array([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 0, 0, 0, 0]);
  const at = address(buf);
  sgemmAt(false, false, 2, 2, 3, 1, at + 4, 3, at + 28, 2, 0, at + 52, 2);
  return [58, 64, 139, 154].every((v, i) => buf[13 + i] === v);
}
