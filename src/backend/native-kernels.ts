/**
 * The kernels of src/backend/native-kernels.c (GELU, dropout, AdamW, the attention softmax, the embedding gradient, MMD's pairwise
 * distances; loops of small products), loaded through `koffi`
 * from the shared library kernel-setup/build-native.ts builds at setup (`npm run build`). The element-wise ones
 * compute the same bits as the wasm SIMD kernels of simd-kernels.wat, eight lanes at a time and on every core: the
 * wasm heap cannot be shared with another thread in Node, but native code can work on it by address, from any
 * thread. The product kernel (`sgemmBatch`, x86-64) takes the small products off the BLAS on the `blas` backend:
 * attention's per-head loops, dense products below OpenBLAS's threads, sums over rows (blas-kernels.ts;
 * `MSD_NATIVE_GEMM=off` keeps them on the BLAS).
 *
 * Nothing here is required: without the library (no C compiler at setup, another OS), on a CPU without AVX2 and FMA, or with
 * `MSD_NATIVE=off`, `loadNativeKernels()` says why and the wasm kernels run. `MSD_NATIVE=/path/to/lib` loads that
 * file instead; `MSD_NATIVE_THREADS` sets the threads of a call (default: one per core, the caller included).
 */
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { firstLine } from '../errors.js';
import { fileURLToPath } from 'node:url';
import type { AdamwCall } from './simd-kernels.js';

/** The kernels, called with byte addresses (the wasm heap's base plus a tensor's offset, or a host array's). */
export interface NativeKernels {
  /** The library file that was loaded. */
  path: string;
  /** Threads a call uses, the caller included. */
  threads: number;
  /** mode 0: out = gelu(x); 1: out = dy gelu'(x); 2: out = gelu(x) and dy (written) = gelu'(x). */
  gelu(mode: 0 | 1 | 2, x: number, dy: number, out: number, n: number): void;
  /** x = 0: out = the dropout mask; else out = x times it (simd-kernels.wat's dropout_mask / dropout_apply). */
  dropout(x: number, out: number, n: number, base: number, threshold: number, scale: number): void;
  /** AdamW's fused update (simd-kernels.wat's $adamw): c = 0 is the hf variant, c = sqrtBc2 > 0 torch's. */
  adamw(...args: AdamwCall): void;
  /** out row i = x row ids[i] (rows of `width` 4-byte values; ids checked by the caller): an embedding lookup. */
  gatherRows(x: number, ids: number, out: number, n: number, width: number): void;
  /** simd-kernels.wat's rows_to_heads and heads_to_rows (head-layout-kernels.ts), row by row on every core. */
  rowsToHeads(
    x: number,
    out: number,
    ids: number,
    rows: number,
    heads: number,
    dh: number,
    seqLen: number,
    zeros: number,
  ): void;
  headsToRows(x: number, out: number, ids: number, rows: number, heads: number, dh: number, seqLen: number): void;
  /**
   * out = softmax(s scale + mask) over rows of `cols`, the mask's row r / rowsPerMask for row r: the attention
   * weights (attention-softmax-kernel.ts).
   */
  attentionSoftmax(
    s: number,
    mask: number,
    out: number,
    rows: number,
    rowsPerMask: number,
    cols: number,
    scale: number,
  ): void;
  /**
   * out [segments, width] = rows of x [rows, width] summed by their ids (int32; outside [0, segments) dropped): the
   * gradient of an embedding lookup (wasm-kernels.ts's UnsortedSegmentSum).
   */
  segmentSum(x: number, ids: number, out: number, rows: number, width: number, segments: number): void;
  /**
   * out [n, n] = the squared distances between the rows of z [n, d] (pair-distance-kernels.ts); 0, or -1 when it
   * could not allocate its buffer.
   */
  pairDistances(z: number, out: number, n: number, d: number): number;
  /** dz [n, d] = the gradient of sum(g * distances) with respect to z, for g [n, n]. */
  pairDistancesGrad(z: number, g: number, dz: number, n: number, d: number): void;
  /**
   * Small products, C_i (+)= op(A_{i mod aBatch}) op(B_{i mod bBatch}) for each entry i (blas-kernels.ts's rule;
   * addresses in bytes, k >= 1); returns 0, or -1 when it could not allocate its buffer. Undefined where the library
   * has no such kernel (it is built for x86-64 only), when `MSD_NATIVE_GEMM=off`, or when its check failed; then
   * `sgemmBatchOff` says which.
   */
  sgemmBatch?: SgemmBatch;
  sgemmBatchOff?: string;
  /**
   * The byte address of a typed array's first element, its `byteOffset` included (an off-heap array: more than 64
   * bytes; a view of the wasm heap is one).
   */
  address(view: ArrayBufferView): number;
}

/** msd_sgemm_batch's arguments, in its order. */
export type SgemmBatch = (
  transA: 0 | 1,
  transB: 0 | 1,
  m: number,
  n: number,
  k: number,
  lda: number,
  ldb: number,
  beta: 0 | 1,
  a: number,
  b: number,
  c: number,
  aBatch: number,
  bBatch: number,
  batch: number,
  /** The address of a row of n values each sum starts from (beta 0), or 0 for none. */
  bias: number,
) => number;

export type NativeLoad = { ok: true; kernels: NativeKernels } | { ok: false; reason: string };

/** The file build-native.ts writes, for this platform. */
export function nativeLibraryPath(): string {
  const ext = process.platform === 'darwin' ? 'dylib' : process.platform === 'win32' ? 'dll' : 'so';
  // src/backend/ and lib/backend/ are both two levels below the package root.
  return fileURLToPath(new URL(`../../lib/native/msd-kernels.${ext}`, import.meta.url));
}

let cached: NativeLoad | undefined;

/** Loads the library once per process; later calls return the same result. */
export function loadNativeKernels(): NativeLoad {
  cached ??= load();
  return cached;
}

function load(): NativeLoad {
  const env = process.env.MSD_NATIVE?.trim();
  if (env === 'off') return { ok: false, reason: 'MSD_NATIVE=off' };
  const path = env || nativeLibraryPath();
  if (!existsSync(path)) {
    return {
      ok: false,
      reason: `${path} is not built (npm run build builds it with a C compiler; kernel-setup/system-deps.sh installs gcc)`,
    };
  }
  let koffi: typeof import('koffi');
  try {
    koffi = createRequire(import.meta.url)('koffi') as typeof import('koffi');
  } catch (err) {
    return { ok: false, reason: `the FFI package koffi failed to load (${firstLine(err)})` };
  }
  let lib: ReturnType<typeof koffi.load>;
  try {
    lib = koffi.load(path);
  } catch (err) {
    return { ok: false, reason: `${path}: ${firstLine(err)}` };
  }
  const fn = <T>(decl: string): T => lib.func(decl) as T;
  try {
    const cpuOk = fn<() => number>('int msd_cpu_ok()');
    if (!cpuOk()) return { ok: false, reason: `${path}: this CPU lacks AVX2 or FMA, which the library was built for` };
    const threads = fn<() => number>('int msd_threads()')();
    const gelu = fn<NativeKernels['gelu']>(
      'void msd_gelu(int mode, uintptr_t x, uintptr_t dy, uintptr_t out, size_t n)',
    );
    const dropout = fn<NativeKernels['dropout']>(
      'void msd_dropout(uintptr_t x, uintptr_t out, size_t n, uint32_t base, uint32_t threshold, float scale)',
    );
    const adamw = fn<NativeKernels['adamw']>(
      'void msd_adamw(uintptr_t p, uintptr_t g, uintptr_t m, uintptr_t v, uintptr_t out, size_t n, float b1, float b2, float eps, float step, float c, float decay, float gs)',
    );
    const gatherRows = fn<NativeKernels['gatherRows']>(
      'void msd_gather_rows(uintptr_t x, uintptr_t ids, uintptr_t out, size_t n, size_t width)',
    );
    const rowsToHeads = fn<NativeKernels['rowsToHeads']>(
      'void msd_rows_to_heads(uintptr_t x, uintptr_t out, uintptr_t ids, size_t rows, size_t heads, size_t dh, size_t seqLen, size_t zeros)',
    );
    const headsToRows = fn<NativeKernels['headsToRows']>(
      'void msd_heads_to_rows(uintptr_t x, uintptr_t out, uintptr_t ids, size_t rows, size_t heads, size_t dh, size_t seqLen)',
    );
    const attentionSoftmax = fn<NativeKernels['attentionSoftmax']>(
      'void msd_attention_softmax(uintptr_t s, uintptr_t mask, uintptr_t out, size_t rows, size_t rowsPerMask, size_t cols, float scale)',
    );
    const segmentSum = fn<NativeKernels['segmentSum']>(
      'void msd_segment_sum(uintptr_t x, uintptr_t ids, uintptr_t out, size_t rows, size_t width, size_t segments)',
    );
    const pairDistances = fn<NativeKernels['pairDistances']>(
      'int msd_pair_distances(uintptr_t z, uintptr_t out, size_t n, size_t d)',
    );
    const pairDistancesGrad = fn<NativeKernels['pairDistancesGrad']>(
      'void msd_pair_distances_grad(uintptr_t z, uintptr_t g, uintptr_t dz, size_t n, size_t d)',
    );
    const address = (view: ArrayBufferView) => Number(koffi.address(view));
    const kernels: NativeKernels = {
      ...{ path, threads, gelu, dropout, adamw, gatherRows, rowsToHeads, headsToRows, attentionSoftmax, segmentSum },
      ...{ pairDistances, pairDistancesGrad, address },
    };
    const problem = selfTest(kernels);
    if (problem) return { ok: false, reason: `${path}: ${problem}` };
    const gemm = loadSgemmBatch(lib, kernels);
    if (typeof gemm === 'string') kernels.sgemmBatchOff = gemm;
    else kernels.sgemmBatch = gemm;
    return { ok: true, kernels };
  } catch (err) {
    return { ok: false, reason: `${path}: ${firstLine(err)} (rebuild it: npm run build)` };
  }
}

/**
 * msd_sgemm_batch where the library has it (x86-64 builds) and `MSD_NATIVE_GEMM` is not `off`, checked on a small
 * loop with exact sums; else why not (the small products then stay on the BLAS).
 */
function loadSgemmBatch(lib: ReturnType<typeof import('koffi').load>, k: NativeKernels): SgemmBatch | string {
  if (process.env.MSD_NATIVE_GEMM?.trim() === 'off') return 'MSD_NATIVE_GEMM=off';
  let f: SgemmBatch;
  try {
    f = lib.func(
      'int msd_sgemm_batch(int transA, int transB, size_t m, size_t n, size_t k, size_t lda, size_t ldb, int beta, uintptr_t a, uintptr_t b, uintptr_t c, size_t aBatch, size_t bBatch, size_t batch, uintptr_t bias)',
    ) as SgemmBatch;
  } catch {
    return `${process.arch} builds have no msd_sgemm_batch`;
  }
  const wrong = 'msd_sgemm_batch gave wrong results on a check';
  // Two entries of [3, 5] x [5, 9]^T (B transposed: the panel path, a partial vector) sharing one A.
  const [m, n, kk] = [3, 9, 5];
  const a = Float32Array.from({ length: m * kk }, (_, i) => (i % 7) - 3);
  const b = Float32Array.from({ length: 2 * n * kk }, (_, i) => (i % 5) - 2);
  const c = new Float32Array(2 * m * n + 16).fill(7);
  if (f(0, 1, m, n, kk, kk, kk, 0, k.address(a), k.address(b), k.address(c), 1, 2, 2, 0) !== 0) return wrong;
  for (let e = 0; e < 2; e++) {
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let want = 0;
        for (let p = 0; p < kk; p++) want += a[i * kk + p]! * b[e * n * kk + j * kk + p]!;
        if (c[e * m * n + i * n + j] !== want) return wrong;
      }
    }
  }
  return c[2 * m * n] === 7 ? f : wrong;
}

/** A few values through GELU and dropout's mask: catches a wrong ABI or a stale library before any training. */
function selfTest(k: NativeKernels): string | undefined {
  const x = new Float32Array(40).map((_, i) => i - 20);
  const y = new Float32Array(40).fill(7);
  k.gelu(0, k.address(x), 0, k.address(y), 37);
  if (y[20] !== 0 || Math.abs(y[21]! - 0.8413447) > 1e-6 || y[0] !== -0 || y[37] !== 7) {
    return 'msd_gelu gave wrong results on a check';
  }
  const mask = new Float32Array(40);
  k.dropout(0, k.address(mask), 40, 1, 0, 2);
  if (!mask.every((v) => v === 2)) return 'msd_dropout gave wrong results on a check';
  // Rows 2, 0, 2 of [[1..5], [6..10], [11..15], ...] gathered; then rows 0..3 of [4, 2 heads x 2] into the heads'
  // layout of a batch of 2 x 3 positions (rows at positions 0, 1, 3, 5) and back.
  const table = Float32Array.from({ length: 20 }, (_, i) => i + 1);
  const picks = Int32Array.from([2, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
  const gathered = new Float32Array(20).fill(7);
  k.gatherRows(k.address(table), k.address(picks), k.address(gathered), 3, 5);
  if (gathered.slice(0, 16).join() !== '11,12,13,14,15,1,2,3,4,5,11,12,13,14,15,7') {
    return 'msd_gather_rows gave wrong results on a check';
  }
  const slots = Int32Array.from([0, 1, 3, 5, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
  const heads = new Float32Array(32).fill(7);
  k.rowsToHeads(k.address(table), k.address(heads), k.address(slots), 4, 2, 2, 3, 24);
  if (heads.slice(0, 25).join() !== '1,2,5,6,0,0,3,4,7,8,0,0,9,10,0,0,13,14,11,12,0,0,15,16,7') {
    return 'msd_rows_to_heads gave wrong results on a check';
  }
  const back = new Float32Array(20).fill(7);
  k.headsToRows(k.address(heads), k.address(back), k.address(slots), 4, 2, 2, 3);
  if (back.slice(0, 17).join() !== '1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,7') {
    return 'msd_heads_to_rows gave wrong results on a check';
  }
  // Two rows of 17 zeros, the second's mask -1e4 at every other key: weights 1/17, and 1/9 or exactly 0.
  const scores = new Float32Array(40);
  const maskRows = Float32Array.from({ length: 40 }, (_, i) => (i >= 17 && (i - 17) % 2 === 1 ? -1e4 : 0));
  const probs = new Float32Array(40).fill(7);
  k.attentionSoftmax(k.address(scores), k.address(maskRows), k.address(probs), 2, 1, 17, 0.125);
  const third = probs.slice(17, 34).every((v, i) => v === (i % 2 === 1 ? 0 : Math.fround(1 / 9)));
  if (!probs.slice(0, 17).every((v) => v === Math.fround(1 / 17)) || !third || probs[34] !== 7) {
    return 'msd_attention_softmax gave wrong results on a check';
  }
  // Rows 0..3 of [[1..5], [6..10], ...] into segments 2, 0, 2, 9 (dropped) of 3: [6..10], 0, [1..5] + [11..15].
  const rows = Float32Array.from({ length: 20 }, (_, i) => i + 1);
  const ids = Int32Array.from([2, 0, 2, 9, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
  const sums = new Float32Array(20).fill(7);
  k.segmentSum(k.address(rows), k.address(ids), k.address(sums), 4, 5, 3);
  if (sums.slice(0, 16).join() !== '6,7,8,9,10,0,0,0,0,0,12,14,16,18,20,7') {
    return 'msd_segment_sum gave wrong results on a check';
  }
  // Rows (0, 0) and (3, 4): distances 0 and 25; with g all ones, dz = 2 * 2 * (z_k - z_other) = (-12, -16), (12, 16).
  const z = Float32Array.from([0, 0, 3, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
  const dist = new Float32Array(20).fill(7);
  if (k.pairDistances(k.address(z), k.address(dist), 2, 2) !== 0 || dist.slice(0, 5).join() !== '0,25,25,0,7') {
    return 'msd_pair_distances gave wrong results on a check';
  }
  const ones = new Float32Array(20).fill(1);
  const dz = new Float32Array(20).fill(7);
  k.pairDistancesGrad(k.address(z), k.address(ones), k.address(dz), 2, 2);
  if (dz.slice(0, 5).join() !== '-12,-16,12,16,7') return 'msd_pair_distances_grad gave wrong results on a check';
  return undefined;
}
