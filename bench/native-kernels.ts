/**
 * The native element-wise kernels (src/backend/native-kernels.c) against the wasm SIMD ones they replace, at mBERT's
 * sizes: each pass alone (back to back), and right after a two-thread BLAS product, as in a training step (OpenBLAS's
 * threads then wait for work beside ours, and the caches hold the product). Milliseconds per call, the median of
 * REPS, the four cases interleaved so that they see the same machine.
 *
 *   node --import tsx bench/native-kernels.ts [reps]
 */
import { tf } from '../src/tf.js';
import { initBackend } from '../src/backend/init.js';
import { heapKernels, wasmHeapKernels, type SimdExports } from '../src/backend/simd-kernels.js';
import { HeapFloats } from '../src/backend/heap-floats.js';

const REPS = Number(process.argv[2] ?? 30);
const info = await initBackend({ prefer: 'blas' });
const native = heapKernels() as SimdExports;
const wasm = wasmHeapKernels();
if (!wasm || native === wasm) {
  console.error(`bench/native-kernels.ts: the native kernels are not loaded (${info.summary})`);
  process.exit(1);
}

const rows = 512;
const zeros = (n: number) => HeapFloats.zeros(n)!;
const filled = (n: number, f: (i: number) => number) => {
  const h = zeros(n);
  const v = h.view();
  for (let i = 0; i < n; i++) v[i] = f(i);
  return h;
};
const x = filled(rows * 3072, (i) => Math.sin(i) * 3);
const out = zeros(rows * 3072);
const d = zeros(rows * 3072);
const params = 768 * 3072;
const m = new Float32Array(params);
const v = new Float32Array(params);
const hm = zeros(params);
const hv = zeros(params);
const passes: [string, (k: SimdExports) => void][] = [
  [
    'GELU with its derivative [512, 3072]',
    (k) => k.gelu_forward_train(x.byteOffset, out.byteOffset, d.byteOffset, rows * 3072),
  ],
  ['dropout [512, 3072]', (k) => k.dropout_apply(x.byteOffset, out.byteOffset, rows * 3072, 7, 429496730, 1 / 0.9)],
  [
    'AdamW [768, 3072] (moments: host / heap)',
    (k) =>
      k.adamw_host
        ? k.adamw_host(x.byteOffset, d.byteOffset, m, v, out.byteOffset, params, 0.9, 0.999, 1e-8, 1e-5, 0, 0.01, 1)
        : k.adamw_hf(
            x.byteOffset,
            d.byteOffset,
            hm.byteOffset,
            hv.byteOffset,
            out.byteOffset,
            params,
            0.9,
            0.999,
            1e-8,
            1e-5,
            0.01,
            1,
          ),
  ],
];

const a = tf.randomNormal([rows, 768]);
const b = tf.randomNormal([768, 3072]);
// (Returning the read values from tidy would have it walk 1.5 M keys looking for tensors.)
const product = () => tf.tidy(() => void tf.matMul(a, b).dataSync());
const median = (t: number[]) => [...t].sort((p, q) => p - q)[Math.floor(t.length / 2)]!;
const time = (f: () => void) => {
  const t0 = performance.now();
  f();
  return performance.now() - t0;
};

console.log(info.summary.split(';')[0]);
console.log('pass                                 alone: wasm  native   after sgemm: wasm  native   (ms, median)');
for (const [name, pass] of passes) {
  const t = { wa: [] as number[], na: [] as number[], wp: [] as number[], np: [] as number[] };
  for (let r = 0; r < REPS + 3; r++) {
    pass(wasm);
    const wa = time(() => pass(wasm));
    pass(native);
    const na = time(() => pass(native));
    product();
    const wp = time(() => pass(wasm));
    product();
    const np = time(() => pass(native));
    if (r < 3) continue;
    (t.wa.push(wa), t.na.push(na), t.wp.push(wp), t.np.push(np));
  }
  const f = (l: number[]) => median(l).toFixed(3).padStart(7);
  console.log(`${name.padEnd(36)} ${f(t.wa)} ${f(t.na)}          ${f(t.wp)} ${f(t.np)}`);
}
