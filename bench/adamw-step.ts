/**
 * AdamW alone: `AdamW.step` over the shapes of the mBERT teacher's trained layers (9 BERT-base layers' weights and
 * biases, 63.7 M parameters), on the default backend, after one step that creates the state, with the moments in host
 * memory and in the wasm heap (`AdamWOptions.moments`). Prints the median of 9 steps in ms and ns per parameter. For
 * an A/B of optimizer changes on a loaded machine: run it before and after.
 *
 *   node --import tsx bench/adamw-step.ts
 */
import { initBackend } from '../src/backend/init.js';
import { tf } from '../src/tf.js';
import { AdamW } from '../src/train/optim.js';

await initBackend();
const layer = [[768, 768], [768, 768], [768, 768], [768, 768], [768, 3072], [3072, 768], [768], [3072]];
const shapes = Array.from({ length: 9 }, () => layer).flat();
const vars = shapes.map((s, i) => tf.variable(tf.randomNormal(s, 0, 0.02), true, `layer${i >> 3}/p${i % 8}/kernel`));
const grads = Object.fromEntries(vars.map((v) => [v.name, tf.randomNormal(v.shape, 0, 1e-3)]));
const n = vars.reduce((a, v) => a + v.size, 0);
// Moments in host memory (what 'auto' picks at this size) and in the wasm heap (what it picks for small models).
for (const moments of ['host', 'heap'] as const) {
  const opt = new AdamW(vars, { moments });
  opt.step(grads, 1e-5);
  const ms: number[] = [];
  for (let r = 0; r < 9; r++) {
    const t0 = performance.now();
    opt.step(grads, 1e-5);
    ms.push(performance.now() - t0);
  }
  ms.sort((a, b) => a - b);
  console.log(
    `${(n / 1e6).toFixed(1)} M parameters, moments in ${moments}: step ${ms[4]!.toFixed(1)} ms (median of 9), ${((ms[4]! * 1e6) / n).toFixed(2)} ns per parameter`,
  );
  opt.dispose();
}
tf.dispose([...vars, ...Object.values(grads)]);
