/**
 * `BatchMatMul` and `_FusedMatMul` for the wasm backend on a system BLAS (src/backend/blas.ts), registered through
 * tfjs-core's public kernel registry, and `Sum` over leading axes (the bias gradients) as a matrix-vector product.
 * Every other op stays on the wasm backend's SIMD kernels.
 *
 * The BLAS reads and writes the tensors where they live, in views of the wasm heap: no copy in or out. tfjs's
 * semantics are kept: optional transposes of either operand, batch dimensions broadcast as tfjs's own kernels do
 * (see `plan`), empty dimensions (k = 0 gives zeros), and for `_FusedMatMul` a bias that broadcasts to the output
 * and the activations tfjs can fuse.
 *
 * Batched products call `sgemm` once per batch entry, except when one weight matrix is shared by every entry and A
 * is not transposed: the entries then stack into one tall GEMM (`[b*m, k] x [k, n]`), which is what BLAS is best at.
 * Where the native library is loaded (native-kernels.c's `msd_sgemm_batch`, on every core), the products OpenBLAS
 * runs worst go there instead: loops of small entries (attention's per-head products, up to `NATIVE_MAX_MNK`), dense
 * products below `ONE_THREAD_MACS` and sums over rows up to `SUM_ONE_THREAD_VALUES` (README, "Small products in C").
 *
 *   useBlasMatMul(blas, runProductLoop, nativeLoop?)   route the wasm backend's matmuls to the BLAS (initBackend)
 *   useStockMatMul()      restore tfjs-backend-wasm's own kernels (initBackend does this for 'wasm')
 */
import {
  BatchMatMul,
  Sum,
  _FusedMatMul,
  broadcast_util,
  engine,
  getBackend,
  getKernel,
  registerKernel,
  unregisterKernel,
  util,
  type BatchMatMulAttrs,
  type SumAttrs,
  type KernelConfig,
  type KernelFunc,
  type TensorInfo,
  type _FusedMatMulAttrs,
} from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import type { Blas } from './blas.js';
import type { ProductLoop } from './product-helper.js';
import type { SgemmBatch } from './native-kernels.js';

let blasInUse: Blas | undefined;
/**
 * How a loop of per-entry products runs: product-helper.ts's `runProductLoop`, given by initBackend (a parameter, not
 * an import, so that the browser tagger, which reaches this file through host-memory.ts, needs no Node module).
 */
let runLoop: ((blas: Blas, loop: ProductLoop) => void) | undefined;
/** The native small products (native-kernels.ts's `sgemmBatch`), when initBackend found them. */
let nativeLoop: SgemmBatch | undefined;

/**
 * Entries of a loop of two or more up to this m n k (2^21: 128 x 128 x 128) go to `nativeLoop`. One thread, 128
 * entries a loop, both called from C (5 December): [40, 32] x [32, 40]^T 1.7 us an entry against OpenBLAS's 2.3,
 * [64, 32] x [32, 64] 3.0 against 4.5, [128, 64] x [64, 128]^T 30.5 against 33.8, [256, 64] x [64, 256]^T 132
 * against 128 and [512, 64] x [64, 512]^T 537 against 489: the larger entries stay on the BLAS.
 */
export const NATIVE_MAX_MNK = 1 << 21;

/**
 * A product of fewer multiply-adds than this (2^26) runs on one BLAS thread. OpenBLAS splits every product above
 * 262,144 multiply-adds among its threads; at the tiny preset's sizes (every product has a side of 64, the hidden
 * width; 2^8-2^26 multiply-adds) two threads gain little on a product alone and cost the step as a whole: the tiny
 * teacher step ran at 26,200-26,500 real tokens/s with OpenBLAS's rule and 32,700-37,000 with this one, the student
 * step at 32,600-38,400 and 40,100-41,600 (three alternating rounds, 4 December, README "The CPU path"). An mBERT
 * dense product reaches 2^26 from 114 rows of 768 x 768 on, and the classifier heads' (768 x 9 per row), which stay
 * below it, run twice as fast on one thread. Loops of per-head products have their own rule (product-helper.ts).
 * With the native products loaded, the dense products below it go there (on every core, 1.1-1.8x OpenBLAS's one
 * thread at the tiny preset's sizes, bench/native-gemm.ts) and this rule holds only for the BLAS's path.
 */
export const ONE_THREAD_MACS = 1 << 26;

/** Runs `f`, BLAS calls worth `macs` multiply-adds, on one BLAS thread when that is below `ONE_THREAD_MACS`. */
function onThreadsFor(blas: Blas, macs: number, f: () => void): void {
  if (macs < ONE_THREAD_MACS) blas.oneThread(f);
  else f();
}

/** A float32 view of a tensor's bytes in the wasm heap (valid until the next allocation may grow the heap). */
function heapView(backend: BackendWasm, t: TensorInfo): Float32Array {
  if (t.dtype !== 'float32') throw new Error(`matMul (blas): expected float32 tensors, got ${t.dtype}`);
  return backend.typedArrayFromHeap(t) as Float32Array;
}

interface Product {
  m: number;
  n: number;
  k: number;
  outShape: number[];
  /** Output batch entries; entry i reads A's entry i % aBatch and B's entry i % bBatch (see `plan`). */
  batch: number;
  aBatch: number;
  bBatch: number;
}

/** Shapes of `op(a) x op(b)` as tfjs defines them, with the broadcast of the batch dimensions resolved. */
function plan(a: TensorInfo, b: TensorInfo, transposeA: boolean, transposeB: boolean): Product {
  const ar = a.shape.length;
  const br = b.shape.length;
  if (ar < 2 || br < 2)
    throw new Error(`matMul (blas): operands must have rank >= 2, got shapes [${a.shape}] and [${b.shape}]`);
  const m = transposeA ? a.shape[ar - 1]! : a.shape[ar - 2]!;
  const k = transposeA ? a.shape[ar - 2]! : a.shape[ar - 1]!;
  const kb = transposeB ? b.shape[br - 1]! : b.shape[br - 2]!;
  const n = transposeB ? b.shape[br - 2]! : b.shape[br - 1]!;
  util.assert(
    k === kb,
    () =>
      `Error in matMul: inner shapes (${k}) and (${kb}) of Tensors with shapes ${a.shape} and ${b.shape} and transposeA=${transposeA} and transposeB=${transposeB} must match.`,
  );
  const aOuter = a.shape.slice(0, -2);
  const bOuter = b.shape.slice(0, -2);
  const outer = broadcast_util.assertAndGetBroadcastShape(aOuter, bOuter);
  const batch = util.sizeFromShape(outer);
  const aBatch = util.sizeFromShape(aOuter);
  const bBatch = util.sizeFromShape(bOuter);
  // Output entry i reads A's entry i % aBatch and B's entry i % bBatch: the rule of tfjs's cpu and wasm kernels.
  // It equals numpy broadcasting when one side has a single entry or both have the same batch shape (every use in
  // this library), and keeps tfjs's results for the exotic rest ([2,1] x [3] and the like).
  return { m, n, k, outShape: [...outer, m, n], batch, aBatch, bBatch };
}

/**
 * `nativeLoop` with msd_sgemm_batch's arguments (addresses in bytes; `bias` 0 for none); throws when it could not
 * allocate its panel.
 */
function native(
  transA: boolean,
  transB: boolean,
  ...rest: [number, number, number, number, number, 0 | 1, number, number, number, number, number, number, number]
): void {
  if (nativeLoop!(transA ? 1 : 0, transB ? 1 : 0, ...rest) !== 0) {
    const [m, n, k] = rest;
    throw new Error(`msd_sgemm_batch (native products) could not allocate its panel for [${m}, ${k}] x [${k}, ${n}]`);
  }
}

/**
 * Writes `op(a) x op(b)` into `c` (row-major, batch entries consecutive), plus `bias` (a row of n values) in every
 * row when given.
 */
function gemm(
  blas: Blas,
  p: Product,
  transposeA: boolean,
  transposeB: boolean,
  A: Float32Array,
  B: Float32Array,
  C: Float32Array,
  bias?: Float32Array,
  accumulate = false,
): void {
  const { m, n, k } = p;
  const batch = p.batch;
  if (C.length === 0) return;
  if (k === 0) {
    if (accumulate) return;
    if (bias) fillRows(C, bias, n);
    else C.fill(0);
    return;
  }
  const lda = transposeA ? m : k;
  const ldb = transposeB ? k : n;
  const stacked = p.bBatch === 1 && p.aBatch === batch && !transposeA;
  if (nativeLoop && (stacked || batch === 1) && batch * m * n * k < ONE_THREAD_MACS) {
    // Dense products below OpenBLAS's threads (stacked or single): the native library, its rows on every core, each
    // sum starting from the bias (the bits of beta 1 over rows set to it, without that pass over C).
    const [a, b, c] = [blas.address(A), blas.address(B), blas.address(C)];
    const s = bias ? blas.address(bias) : 0;
    const add = accumulate ? 1 : 0;
    if (stacked) native(false, transposeB, batch * m, n, k, k, ldb, add, a, b, c, 1, 1, 1, s);
    else native(transposeA, transposeB, m, n, k, lda, ldb, add, a, b, c, 1, 1, 1, s);
    return;
  }
  // Elsewhere the bias is copied into each row of C and the product added to it (beta = 1): a row copy instead of a
  // pass over C after the product. `accumulate`: the product is added to C as it is (beta = 1).
  const beta = bias || accumulate ? 1 : 0;
  if (bias) fillRows(C, bias, n);
  if (stacked) {
    // One shared B (a weight matrix): A's entries stack into one [batch*m, k] matrix.
    onThreadsFor(blas, batch * m * n * k, () =>
      blas.sgemm(false, transposeB, batch * m, n, k, 1, A, k, B, ldb, beta, C, n),
    );
    return;
  }
  // One call per entry (the per-head products: many small ones), by address: no view per operand and call; one BLAS
  // thread per call, on both cores when the helper thread runs (product-helper.ts).
  const [a, b, c] = [blas.address(A), blas.address(B), blas.address(C)];
  const [aBatch, bBatch] = [Math.max(1, p.aBatch), Math.max(1, p.bBatch)];
  const loop: ProductLoop = {
    transA: transposeA,
    transB: transposeB,
    m,
    n,
    k,
    lda,
    ldb,
    beta,
    a,
    b,
    c,
    aBatch,
    bBatch,
    batch,
  };
  if (nativeLoop && batch >= 2 && m * n * k <= NATIVE_MAX_MNK) {
    native(transposeA, transposeB, m, n, k, lda, ldb, beta, a, b, c, aBatch, bBatch, batch, 0);
    return;
  }
  // A single product (a weight gradient, A transposed) follows the rule above; loops of two or more, their own.
  if (batch === 1) onThreadsFor(blas, m * n * k, () => runLoop!(blas, loop));
  else runLoop!(blas, loop);
}

function batchMatMulBlas({ inputs, backend, attrs }: Parameters<KernelFunc>[0]): TensorInfo {
  const { a, b } = inputs as { a: TensorInfo; b: TensorInfo };
  const { transposeA, transposeB } = attrs as unknown as BatchMatMulAttrs;
  const wasm = backend as BackendWasm;
  const p = plan(a, b, transposeA, transposeB);
  // Allocate first: allocation may grow the wasm memory and detach views taken before it.
  const out = wasm.makeOutput(p.outShape, 'float32');
  gemm(blasInUse!, p, transposeA, transposeB, heapView(wasm, a), heapView(wasm, b), heapView(wasm, out));
  return out;
}

/**
 * `sum += op(a) x op(b)` in `sum`'s own bytes (beta 1; gradient-sinks.ts), for one product (no batch dimensions) on
 * the BLAS backend with `sum` [m, n] float32 held by nothing else. Returns false, having done nothing, elsewhere.
 */
export function accumulateProduct(
  sum: TensorInfo,
  a: TensorInfo,
  b: TensorInfo,
  transposeA: boolean,
  transposeB: boolean,
): boolean {
  const blas = blasInUse;
  if (!blas || !blasMatMulActive() || getBackend() !== 'wasm') return false;
  const wasm = engine().findBackend('wasm') as unknown as BackendWasm;
  const onWasm = (t: TensorInfo) => engine().state.tensorInfo.get(t.dataId)?.backend === wasm;
  if (![sum, a, b].every((t) => t.dtype === 'float32' && onWasm(t)) || a.shape.length !== 2 || b.shape.length !== 2)
    return false;
  const p = plan(a, b, transposeA, transposeB);
  if (sum.shape.length !== 2 || sum.shape[0] !== p.m || sum.shape[1] !== p.n) return false;
  if (wasm.refCount(sum.dataId) !== 1) return false;
  gemm(blas, p, transposeA, transposeB, heapView(wasm, a), heapView(wasm, b), heapView(wasm, sum), undefined, true);
  return true;
}

/** Maps a flat index of `outShape` to the flat index of a tensor of `shape` broadcast to it. */
function broadcastIndex(shape: number[], outShape: number[]): (i: number) => number {
  const size = util.sizeFromShape(shape);
  if (size === util.sizeFromShape(outShape)) return (i) => i;
  if (size === 1) return () => 0;
  const last = outShape[outShape.length - 1]!;
  if (size === last && shape[shape.length - 1] === last) return (i) => i % last;
  const rank = outShape.length;
  const padded = [...Array<number>(rank - shape.length).fill(1), ...shape];
  const strides = new Array<number>(rank).fill(0);
  let acc = 1;
  for (let d = rank - 1; d >= 0; d--) {
    strides[d] = padded[d] === 1 ? 0 : acc;
    acc *= padded[d]!;
  }
  return (i) => {
    let rest = i;
    let j = 0;
    for (let d = rank - 1; d >= 0; d--) {
      j += (rest % outShape[d]!) * strides[d]!;
      rest = Math.floor(rest / outShape[d]!);
    }
    return j;
  };
}

/** Every row of `c` (rows of `n`) set to `row`, by doubling the filled part. */
export function fillRows(c: Float32Array, row: Float32Array, n: number): void {
  if (c.length === 0) return;
  c.set(row.subarray(0, n), 0);
  for (let filled = n; filled < c.length; filled *= 2) c.copyWithin(filled, 0, Math.min(filled, c.length - filled));
}

function fusedMatMulBlas({ inputs, backend, attrs }: Parameters<KernelFunc>[0]): TensorInfo {
  const { a, b, bias, preluActivationWeights } = inputs as {
    a: TensorInfo;
    b: TensorInfo;
    bias?: TensorInfo;
    preluActivationWeights?: TensorInfo;
  };
  const { transposeA, transposeB, activation, leakyreluAlpha } = attrs as unknown as _FusedMatMulAttrs;
  const wasm = backend as BackendWasm;
  const p = plan(a, b, transposeA, transposeB);
  if (bias) broadcast_util.assertAndGetBroadcastShape(bias.shape, p.outShape);
  const out = wasm.makeOutput(p.outShape, 'float32');
  const C = heapView(wasm, out);
  const n = p.outShape[p.outShape.length - 1]!;
  if (bias && util.sizeFromShape(bias.shape) === n && bias.shape[bias.shape.length - 1] === n) {
    // A bias row (every dense layer's): each sum starts from it (see gemm). A `set` per row of C took longer than
    // the product at the tiny preset's sizes ([1554, 64] x [64, 64] + bias: 182 us against 79 without the bias;
    // 148 with the rows filled by doubling; 141 with the native sums starting from the bias, and 724 against 909
    // for [2560, 64] x [64, 256]; 5 December).
    gemm(blasInUse!, p, transposeA, transposeB, heapView(wasm, a), heapView(wasm, b), C, heapView(wasm, bias));
  } else {
    gemm(blasInUse!, p, transposeA, transposeB, heapView(wasm, a), heapView(wasm, b), C);
    if (bias) {
      const at = broadcastIndex(bias.shape, p.outShape);
      const v = heapView(wasm, bias);
      for (let i = 0; i < C.length; i++) C[i]! += v[at(i)]!;
    }
  }
  switch (activation) {
    case 'linear':
    case undefined:
      break;
    case 'relu':
      for (let i = 0; i < C.length; i++) if (C[i]! < 0) C[i] = 0;
      break;
    case 'relu6':
      for (let i = 0; i < C.length; i++) C[i] = Math.min(6, Math.max(0, C[i]!));
      break;
    case 'leakyrelu': {
      const alpha = leakyreluAlpha ?? 0.2;
      for (let i = 0; i < C.length; i++) if (C[i]! < 0) C[i]! *= alpha;
      break;
    }
    case 'prelu': {
      if (!preluActivationWeights) throw new Error('_FusedMatMul (blas): prelu needs preluActivationWeights');
      const at = broadcastIndex(preluActivationWeights.shape, p.outShape);
      const w = heapView(wasm, preluActivationWeights);
      for (let i = 0; i < C.length; i++) if (C[i]! < 0) C[i]! *= w[at(i)]!;
      break;
    }
    case 'sigmoid':
      for (let i = 0; i < C.length; i++) C[i] = 1 / (1 + Math.exp(-C[i]!));
      break;
    case 'elu':
      for (let i = 0; i < C.length; i++) if (C[i]! < 0) C[i] = Math.expm1(C[i]!);
      break;
    default:
      throw new Error(`_FusedMatMul (blas): activation '${String(activation)}' is not supported`);
  }
  return out;
}

/**
 * A sum over leading axes of at most this many values (2^20) runs on one BLAS thread. OpenBLAS splits the sum's
 * product among its threads from 262,144 values on, and in a step whose products all run on one thread (the tiny
 * preset's: every one is below `ONE_THREAD_MACS`) these sums were the only calls that woke its threads: the tiny
 * student step ran at 48,298-49,922 real tokens/s with this rule against 44,239-47,372 without (four alternating
 * rounds of 100 steps, 5 December). 2^20 is the tiny preset's largest (64 sentences of 64 tokens, 256 wide). Larger
 * sums, mBERT's, keep the threads, which its products keep awake (alone, back to back: [3,000, 768] 520 us on one
 * thread against 299 on two, [3,000, 3,072] 2,875 against 1,340, [1,554, 256] 82 against 69). With the native
 * products loaded, the sums up to it go there (their columns on every core: [2500, 256] 0.11-0.19 ms against 0.20-0.32).
 */
export const SUM_ONE_THREAD_VALUES = 1 << 20;

/** A vector of ones for the row sums below (grown on demand; outside the wasm heap, koffi passes it as it is). */
let ones = new Float32Array(0);

/**
 * Sum over the leading axes ([rows, ...rest] -> [...rest]): every bias and LayerNorm gradient of a training step
 * (dL/db = sum over tokens of dL/dy). The stock wasm kernel reduces only the innermost axis, so it transposes the
 * whole [tokens, width] gradient first; here it is one matrix-vector product, ones[1, rows] x X[rows, cols].
 * Any other reduction goes to the stock kernel.
 */
function sumBlas(args: Parameters<KernelFunc>[0]): TensorInfo | TensorInfo[] {
  const { inputs, backend, attrs } = args;
  const { x } = inputs as { x: TensorInfo };
  const { axis, keepDims } = attrs as unknown as SumAttrs;
  const rank = x.shape.length;
  const axes = util.parseAxisParam(axis, x.shape).sort((a, b) => a - b);
  const leading = axes.length > 0 && axes.length < rank && axes.every((a, i) => a === i);
  if (x.dtype !== 'float32' || !leading) return stock.get(Sum)!.kernelFunc(args);
  const rows = util.sizeFromShape(x.shape.slice(0, axes.length));
  const rest = x.shape.slice(axes.length);
  const cols = util.sizeFromShape(rest);
  const wasm = backend as BackendWasm;
  const out = wasm.makeOutput(keepDims ? [...axes.map(() => 1), ...rest] : rest, 'float32');
  const C = heapView(wasm, out);
  if (cols === 0) return out;
  if (rows === 0) {
    C.fill(0);
    return out;
  }
  if (ones.length < rows) ones = new Float32Array(rows).fill(1);
  const blas = blasInUse!;
  if (nativeLoop && rows * cols <= SUM_ONE_THREAD_VALUES) {
    // The native products, its columns on every core: each column's sum in row order.
    const [o, xs, c] = [blas.address(ones), blas.address(heapView(wasm, x)), blas.address(C)];
    native(false, false, 1, cols, rows, rows, cols, 0, o, xs, c, 1, 1, 1, 0);
    return out;
  }
  const sum = () => blas.sgemm(false, false, 1, cols, rows, 1, ones, rows, heapView(wasm, x), cols, 0, C, cols);
  if (rows * cols <= SUM_ONE_THREAD_VALUES) blas.oneThread(sum);
  else sum();
  return out;
}

const blasConfigs: KernelConfig[] = [
  { kernelName: BatchMatMul, backendName: 'wasm', kernelFunc: batchMatMulBlas as unknown as KernelFunc },
  { kernelName: _FusedMatMul, backendName: 'wasm', kernelFunc: fusedMatMulBlas as unknown as KernelFunc },
  { kernelName: Sum, backendName: 'wasm', kernelFunc: sumBlas as unknown as KernelFunc },
];

/** The stock configs, kept while ours are registered. */
const stock = new Map<string, KernelConfig>();

/**
 * Routes the wasm backend's matmuls to `blas`, loops of per-entry products to `runProductLoop`, or those of small
 * entries to `native` when given. Idempotent.
 */
export function useBlasMatMul(
  blas: Blas,
  runProductLoop: (blas: Blas, loop: ProductLoop) => void,
  native?: SgemmBatch,
): void {
  blasInUse = blas;
  runLoop = runProductLoop;
  nativeLoop = native;
  for (const config of blasConfigs) {
    const current = getKernel(config.kernelName, 'wasm');
    if (current === config) continue;
    if (current && !stock.has(config.kernelName)) stock.set(config.kernelName, current);
    if (current) unregisterKernel(config.kernelName, 'wasm');
    registerKernel(config);
  }
}

/**
 * Restores tfjs-backend-wasm's own matmul kernels. Their `setupFunc` binds the wasm functions; the engine runs it at
 * `setBackend`, so `backend` (the initialised wasm backend, when there is one) gets it run again here.
 */
export function useStockMatMul(backend?: BackendWasm): void {
  for (const config of blasConfigs) {
    const original = stock.get(config.kernelName);
    if (!original || getKernel(config.kernelName, 'wasm') === original) continue;
    unregisterKernel(config.kernelName, 'wasm');
    registerKernel(original);
    if (backend) original.setupFunc?.(backend);
  }
}

/** Whether the wasm backend's matmuls currently run on the BLAS. */
export function blasMatMulActive(): boolean {
  return blasConfigs.every((c) => getKernel(c.kernelName, 'wasm') === c);
}
