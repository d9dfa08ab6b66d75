/**
 * The native element-wise kernels (src/backend/native-kernels.c): built by `npm run build` and loaded, unless
 * `MSD_NATIVE=off` says otherwise; bit for bit the wasm SIMD kernels' results (simd-kernels.wat) for GELU (three
 * modes), dropout (mask and apply) and AdamW (both variants, moments in the heap and in host memory), over sizes
 * that exercise the eight-lane loop, the tail, one chunk and several (the worker threads), with special values; the
 * same bits on one thread as on all; the backend's summary names them; `MSD_NATIVE=off` leaves the wasm kernels.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { initBackend } from '../../src/backend/init.js';
import {
  HOST_MOMENTS_MIN_VALUES,
  heapKernels,
  wasmHeapKernels,
  type SimdExports,
} from '../../src/backend/simd-kernels.js';
import { loadNativeKernels, nativeLibraryPath } from '../../src/backend/native-kernels.js';
import { HeapFloats } from '../../src/backend/heap-floats.js';
import { createRng } from '../../src/rng.js';
import { runModule } from '../child-module.js';

const off = process.env.MSD_NATIVE?.trim() === 'off';

/** Sizes: below the native threshold, the lanes and their tail, one chunk (16,384) and several. */
const SIZES = [5, 1024, 1031, 16_384, 16_391, 50_003];

const SPECIALS = [NaN, Infinity, -Infinity, 0, -0, 1e-40, -1e-40, 3.4e38, -3.4e38, 13.2, -13.2, 20, -20, 1e-7];

/** n values: specials first, then normal draws at the scale of activations, with some large ones. */
function values(n: number, seed: number): Float32Array {
  const rng = createRng(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    out[i] = i < SPECIALS.length ? SPECIALS[i]! : (rng.next() - 0.5) * (i % 97 === 0 ? 200 : 10);
  }
  return out;
}

function heapOf(v: Float32Array): HeapFloats {
  const h = HeapFloats.zeros(v.length)!;
  h.view().set(v);
  return h;
}

function bitsOf(h: HeapFloats): Uint32Array {
  return new Uint32Array(Float32Array.from(h.view()).buffer);
}

/** Runs `call` with the native exports and with the wasm ones on copies of the same inputs; outputs must agree. */
function sameBits(
  what: string,
  inputs: Float32Array[],
  outputs: number,
  call: (k: SimdExports, ins: HeapFloats[], outs: HeapFloats[]) => void,
): void {
  const native = heapKernels() as SimdExports;
  const wasm = wasmHeapKernels()!;
  assert.notEqual(native, wasm, 'heapKernels() should be the native-backed exports');
  const n = inputs[0]!.length;
  const run = (k: SimdExports) => {
    const ins = inputs.map(heapOf);
    const outs = Array.from({ length: outputs }, () => HeapFloats.zeros(n)!);
    call(k, ins, outs);
    // Inputs written in place (AdamW's moments, +='s destination) are outputs too.
    const result = [...ins, ...outs].map(bitsOf);
    for (const h of [...ins, ...outs]) h.free();
    return result;
  };
  const a = run(native);
  const b = run(wasm);
  // NaN is NaN: which NaN comes out of an operation on two (its sign, its payload) depends on the order the
  // compiler (C's, or V8's for wasm) puts a commutative operation's operands in, which neither language fixes.
  const nan = (u: number) => (u & 0x7f800000) === 0x7f800000 && (u & 0x7fffff) !== 0;
  for (let j = 0; j < a.length; j++) {
    const i = a[j]!.findIndex((x, k) => x !== b[j]![k] && !(nan(x) && nan(b[j]![k]!)));
    const at = (u: Uint32Array) => new Float32Array(u.buffer)[i];
    assert.equal(
      i,
      -1,
      `${what}, n = ${n}, array ${j}: native ${at(a[j]!)} and wasm ${at(b[j]!)} differ first at ${i}`,
    );
  }
}

test('the native kernels are built and loaded (MSD_NATIVE=off: not)', { skip: off && 'MSD_NATIVE=off' }, () => {
  const r = loadNativeKernels();
  assert.ok(r.ok, `${r.ok ? '' : r.reason} (expected ${nativeLibraryPath()}; npm run build builds it)`);
  assert.ok(r.kernels.threads >= 1);
});

test('GELU (forward, backward, forward with its derivative): the bits of the wasm kernels', { skip: off }, async () => {
  await initBackend({ prefer: 'wasm' });
  for (const n of SIZES) {
    const x = values(n, n);
    const dy = values(n, n + 1);
    sameBits('gelu_forward', [x], 1, (k, [hx], [out]) => k.gelu_forward(hx!.byteOffset, out!.byteOffset, n));
    sameBits('gelu_backward', [x, dy], 1, (k, [hx, hdy], [out]) =>
      k.gelu_backward(hx!.byteOffset, hdy!.byteOffset, out!.byteOffset, n),
    );
    sameBits('gelu_forward_train', [x], 2, (k, [hx], [out, d]) =>
      k.gelu_forward_train(hx!.byteOffset, out!.byteOffset, d!.byteOffset, n),
    );
  }
});

test(
  'dropout (the mask, and x times it): the bits of the wasm kernels for any seed and rate',
  { skip: off },
  async () => {
    await initBackend({ prefer: 'wasm' });
    // Thresholds as the callers pass them: `| 0` of an unsigned 32-bit value (rates 0, 0.1, 0.5, 0.9, ~1).
    const cases = [
      [0, 0, 1],
      [0x12345678 | 0, 429496730 | 0, 1 / 0.9],
      [-7, 2147483648 | 0, 2],
      [987654321, 3865470566 | 0, 10],
      [1, 4294967295 | 0, 1e6],
    ] as const;
    for (const n of SIZES) {
      const x = values(n, 3 * n);
      for (const [base, threshold, scale] of cases) {
        sameBits(`dropout_mask ${base}/${threshold}`, [x], 1, (k, _ins, [out]) =>
          k.dropout_mask(out!.byteOffset, n, base, threshold, scale),
        );
        sameBits(`dropout_apply ${base}/${threshold}`, [x], 1, (k, [hx], [out]) =>
          k.dropout_apply(hx!.byteOffset, out!.byteOffset, n, base, threshold, scale),
        );
      }
    }
  },
);

test(
  'AdamW (hf and torch; moments in the heap or host memory): the bits of the wasm kernels',
  { skip: off },
  async () => {
    await initBackend({ prefer: 'wasm' });
    const f = Math.fround;
    for (const n of SIZES) {
      const p = values(n, 5 * n);
      const g = values(n, 5 * n + 1).map((v, i) => (i < SPECIALS.length ? v : v / 10));
      const m = values(n, 5 * n + 2).map((v) => v / 100);
      const v = values(n, 5 * n + 3).map((x) => (Number.isFinite(x) ? (x * x) / 1000 : x));
      const c = [f(0.9), f(0.999), f(1e-8), f(2e-5)] as const;
      sameBits('adamw_hf', [p, g, m, v], 1, (k, [hp, hg, hm, hv], [out]) =>
        k.adamw_hf(
          hp!.byteOffset,
          hg!.byteOffset,
          hm!.byteOffset,
          hv!.byteOffset,
          out!.byteOffset,
          n,
          ...c,
          f(0.01),
          f(0.7),
        ),
      );
      sameBits('adamw_torch', [p, g, m, v], 1, (k, [hp, hg, hm, hv], [out]) =>
        k.adamw_torch(
          hp!.byteOffset,
          hg!.byteOffset,
          hm!.byteOffset,
          hv!.byteOffset,
          hp!.byteOffset,
          n,
          ...c,
          f(0.3),
          f(0.01),
          1,
        ),
      );
      if (n < HOST_MOMENTS_MIN_VALUES) continue;
      // Host moments, updated where they are, against the wasm kernel on heap copies.
      for (const torch of [false, true]) {
        const [hp, hg] = [heapOf(p), heapOf(g)];
        const [out1, out2] = [HeapFloats.zeros(n)!, HeapFloats.zeros(n)!];
        const [hm, hv] = [heapOf(m), heapOf(v)];
        const [m2, v2] = [Float32Array.from(m), Float32Array.from(v)];
        const native = heapKernels()!;
        const wasm = wasmHeapKernels()!;
        const sqrtBc2 = torch ? f(0.3) : 0;
        native.adamw_host!(hp.byteOffset, hg.byteOffset, m2, v2, out1.byteOffset, n, ...c, sqrtBc2, f(0.01), f(0.7));
        const head = [hp.byteOffset, hg.byteOffset, hm.byteOffset, hv.byteOffset, out2.byteOffset, n, ...c] as const;
        if (torch) wasm.adamw_torch(...head, sqrtBc2, f(0.01), f(0.7));
        else wasm.adamw_hf(...head, f(0.01), f(0.7));
        assert.deepEqual(bitsOf(out1), bitsOf(out2), `adamw_host (torch ${torch}), n = ${n}: parameters`);
        assert.deepEqual(new Uint32Array(m2.buffer), bitsOf(hm), `adamw_host (torch ${torch}), n = ${n}: m`);
        assert.deepEqual(new Uint32Array(v2.buffer), bitsOf(hv), `adamw_host (torch ${torch}), n = ${n}: v`);
        for (const h of [hp, hg, out1, out2, hm, hv]) h.free();
      }
    }
  },
);

/** A child process that runs every native kernel over 200,003 values and prints a hash of the outputs. */
function childHash(env: Record<string, string>): { hash: string; summary: string } {
  const script = `
    import { initBackend } from './src/backend/init.ts';
    import { heapKernels } from './src/backend/simd-kernels.ts';
    import { HeapFloats } from './src/backend/heap-floats.ts';
    import { createHash } from 'node:crypto';
    const info = await initBackend({ prefer: 'wasm' });
    const k = heapKernels();
    const n = 200003;
    const x = HeapFloats.zeros(n), a = HeapFloats.zeros(n), b = HeapFloats.zeros(n), m = HeapFloats.zeros(n), v = HeapFloats.zeros(n);
    x.view().forEach((_, i, arr) => { arr[i] = Math.sin(i) * 8; });
    k.gelu_forward_train(x.byteOffset, a.byteOffset, b.byteOffset, n);
    k.dropout_apply(a.byteOffset, a.byteOffset, n, 42, 429496730, 1 / 0.9);
    k.adamw_hf(x.byteOffset, b.byteOffset, m.byteOffset, v.byteOffset, x.byteOffset, n, 0.9, 0.999, 1e-8, 1e-3, 0.01, 1);
    const h = createHash('sha256');
    for (const t of [x, a, b, m, v]) h.update(new Uint8Array(Float32Array.from(t.view()).buffer));
    console.log(JSON.stringify({ hash: h.digest('hex'), summary: info.summary }));`;
  return runModule<{ hash: string; summary: string }>(script, env);
}

test(
  'one thread, all threads and MSD_NATIVE=off give the same bits; the summary says which ran (child processes)',
  { skip: off },
  () => {
    const all = childHash({ MSD_NATIVE_THREADS: '' });
    const one = childHash({ MSD_NATIVE_THREADS: '1' });
    const wasm = childHash({ MSD_NATIVE: 'off' });
    assert.match(all.summary, /native element-wise kernels \(\d+ threads?\)/);
    assert.match(one.summary, /native element-wise kernels \(1 thread\)/);
    assert.match(wasm.summary, /native element-wise kernels off: MSD_NATIVE=off/);
    assert.equal(one.hash, all.hash);
    assert.equal(wasm.hash, all.hash);
    // The hash covers something: a different input gives another.
    assert.notEqual(all.hash, createHash('sha256').update('').digest('hex'));
  },
);
