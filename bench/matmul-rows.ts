/**
 * GFLOP/s of mBERT's dense products by row count: [rows, in] x [in, out] for the three weight shapes of a layer,
 * forward, input gradient and weight gradient, medians of 7 calls on the default backend. Few rows run far below
 * the BLAS rate, which is why a student pass runs a small side with the other (src/train/student-pass.ts).
 *
 *   node --import tsx bench/matmul-rows.ts
 */
import { initBackend } from '../src/backend/init.js';
import { tf } from '../src/tf.js';

const backend = await initBackend();
console.log(backend.summary.split(';')[0]);

function median(fn: () => void, reps = 7): number {
  fn();
  const ms: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t = performance.now();
    fn();
    ms.push(performance.now() - t);
  }
  return ms.sort((a, b) => a - b)[reps >> 1]!;
}

for (const [k, n] of [
  [768, 768],
  [768, 3072],
  [3072, 768],
]) {
  for (const m of [24, 88, 160, 256, 512, 736, 1024, 2048, 4096]) {
    const [a, w, g] = [tf.randomNormal([m, k]), tf.randomNormal([k, n]), tf.randomNormal([m, n])];
    const rate = (fn: () => tf.Tensor) => ((2 * m * k * n) / median(() => fn().dispose()) / 1e6).toFixed(0);
    const forms = [
      rate(() => tf.matMul(a, w)),
      rate(() => tf.matMul(g, w, false, true)),
      rate(() => tf.matMul(a, g, true, false)),
    ];
    console.log(
      `[${m}, ${k}] x [${k}, ${n}]: forward ${forms[0]}, input gradient ${forms[1]}, weight gradient ${forms[2]} GFLOP/s`,
    );
    tf.dispose([a, w, g]);
  }
}
