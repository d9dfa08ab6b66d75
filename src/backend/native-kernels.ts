/**
 * The element-wise kernels of src/backend/native-kernels.c (GELU, dropout, AdamW, +=, *, LayerNorm, the attention
 * softmax's gradient and layout changes), loaded through `koffi` from
 * the shared library kernel-setup/build-native.ts builds at setup (`npm run build`). They compute the same bits as
 * the wasm SIMD kernels of simd-kernels.wat, eight lanes at a time and on every core: the wasm heap cannot be
 * shared with another thread in Node, but native code can work on it by address, from any thread.
 *
 * Nothing here is required: without the library (no C compiler at setup, another OS), on a CPU without AVX2, or with
 * `MSD_NATIVE=off`, `loadNativeKernels()` says why and the wasm kernels run. `MSD_NATIVE=/path/to/lib` loads that
 * file instead; `MSD_NATIVE_THREADS` sets the threads of a call (default: one per core, the caller included).
 */
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

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
  adamw(
    p: number,
    g: number,
    m: number,
    v: number,
    out: number,
    n: number,
    b1: number,
    b2: number,
    eps: number,
    step: number,
    c: number,
    decay: number,
    gs: number,
  ): void;
  /** dst += src. */
  addInto(dst: number, src: number, n: number): void;
  /** out = a b, value by value. */
  mul(a: number, b: number, out: number, n: number): void;
  /** simd-kernels.wat's layer_norm_forward (res = 0: no residual). */
  layerNormForward(
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
  /** simd-kernels.wat's layer_norm_backward. */
  layerNormBackward(
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
  /** simd-kernels.wat's softmax_backward. */
  softmaxBackward(p: number, dp: number, ds: number, rows: number, cols: number, scale: number): void;
  /** simd-kernels.wat's rows_to_heads (zeroBytes bytes of out zeroed first). */
  rowsToHeads(
    x: number,
    out: number,
    ids: number,
    rows: number,
    heads: number,
    dh: number,
    seqLen: number,
    zeroBytes: number,
  ): void;
  /** simd-kernels.wat's heads_to_rows. */
  headsToRows(x: number, out: number, ids: number, rows: number, heads: number, dh: number, seqLen: number): void;
  /** The byte address of a typed array's first element (an off-heap array: more than 64 bytes). */
  address(view: ArrayBufferView): number;
}

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
    if (!cpuOk()) return { ok: false, reason: `${path}: this CPU lacks AVX2, which the library was built for` };
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
    const addInto = fn<NativeKernels['addInto']>('void msd_add_into(uintptr_t dst, uintptr_t src, size_t n)');
    const mul = fn<NativeKernels['mul']>('void msd_mul(uintptr_t a, uintptr_t b, uintptr_t out, size_t n)');
    const layerNormForward = fn<NativeKernels['layerNormForward']>(
      'void msd_layer_norm_forward(uintptr_t x, uintptr_t res, uintptr_t gamma, uintptr_t beta, uintptr_t y, uintptr_t xhat, uintptr_t rstd, size_t rows, size_t cols, float eps)',
    );
    const layerNormBackward = fn<NativeKernels['layerNormBackward']>(
      'void msd_layer_norm_backward(uintptr_t dy, uintptr_t xhat, uintptr_t rstd, uintptr_t gamma, uintptr_t dx, uintptr_t dgamma, uintptr_t dbeta, size_t rows, size_t cols)',
    );
    const softmaxBackward = fn<NativeKernels['softmaxBackward']>(
      'void msd_softmax_backward(uintptr_t p, uintptr_t dp, uintptr_t ds, size_t rows, size_t cols, float scale)',
    );
    const rowsToHeads = fn<NativeKernels['rowsToHeads']>(
      'void msd_rows_to_heads(uintptr_t x, uintptr_t out, uintptr_t ids, size_t rows, size_t heads, size_t dh, size_t seqLen, size_t zeroBytes)',
    );
    const headsToRows = fn<NativeKernels['headsToRows']>(
      'void msd_heads_to_rows(uintptr_t x, uintptr_t out, uintptr_t ids, size_t rows, size_t heads, size_t dh, size_t seqLen)',
    );
    const address = (view: ArrayBufferView) => Number(koffi.address(view));
    const kernels: NativeKernels = {
      path,
      threads,
      gelu,
      dropout,
      adamw,
      addInto,
      mul,
      layerNormForward,
      layerNormBackward,
      softmaxBackward,
      rowsToHeads,
      headsToRows,
      address,
    };
    const problem = selfTest(kernels);
    if (problem) return { ok: false, reason: `${path}: ${problem}` };
    return { ok: true, kernels };
  } catch (err) {
    return { ok: false, reason: `${path}: ${firstLine(err)} (rebuild it: npm run build)` };
  }
}

/** A few values through += and dropout's mask: catches a wrong ABI or a stale library before any training. */
function selfTest(k: NativeKernels): string | undefined {
  const a = new Float32Array(40).map((_, i) => i);
  const b = new Float32Array(40).fill(0.5);
  k.addInto(k.address(a), k.address(b), 37);
  if (a[0] !== 0.5 || a[36] !== 36.5 || a[37] !== 37) return 'msd_add_into gave wrong results on a check';
  const mask = new Float32Array(40);
  k.dropout(0, k.address(mask), 40, 1, 0, 2);
  if (!mask.every((v) => v === 2)) return 'msd_dropout gave wrong results on a check';
  return undefined;
}

function firstLine(err: unknown): string {
  return String((err as Error)?.message ?? err).split('\n')[0]!;
}
