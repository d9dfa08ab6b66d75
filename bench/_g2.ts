import { tf } from '../src/tf.js';
import { initBackend } from '../src/backend/init.js';
await initBackend({ prefer: 'blas' });
function time(name: string, flops: number, f: () => tf.Tensor) {
  for (let i = 0; i < 20; i++) f().dispose();
  const t0 = performance.now(); const n = 300;
  for (let i = 0; i < n; i++) f().dispose();
  const us = (performance.now() - t0) / n * 1000;
  console.log(name, us.toFixed(1), 'us', (flops / us / 1e3).toFixed(0), 'GFLOP/s');
}
for (const [m, k, n] of [[2560, 64, 256], [2560, 256, 64], [1554, 64, 64], [1024, 64, 64]]) {
  const a = tf.randomNormal([m, k]); const b = tf.randomNormal([k, n]); const bias = tf.randomNormal([n]);
  const dy = tf.randomNormal([m, n]);
  time(`[${m},${k}]x[${k},${n}]      `, 2 * m * n * k, () => tf.matMul(a, b));
  time(`[${m},${k}]x[${k},${n}]+bias `, 2 * m * n * k, () => tf.fused.matMul({ a, b, bias }));
  time(`dW [${m},${k}]^T x [${m},${n}]`, 2 * m * n * k, () => tf.matMul(a, dy, true, false));
  time(`dX [${m},${n}] x [${k},${n}]^T`, 2 * m * n * k, () => tf.matMul(dy, b, false, true));
}
