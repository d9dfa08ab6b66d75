import { tf } from '../src/tf.js';
import { initBackend } from '../src/backend/init.js';
await initBackend({ prefer: 'blas' });
const a = tf.ones([4]); const w = tf.variable(tf.ones([4]));
for (let r = 0; r < 3; r++) {
  let t0 = performance.now();
  for (let i = 0; i < 10000; i++) tf.add(a, a).dispose();
  const plain = (performance.now() - t0) / 10;
  t0 = performance.now();
  const { value, grads } = tf.variableGrads(() => { let x = tf.mul(w, a); for (let i = 0; i < 2000; i++) x = tf.add(x, a); return tf.sum(x) as tf.Scalar; });
  tf.dispose([value, ...Object.values(grads)]);
  const taped = (performance.now() - t0) / 2;
  console.log(`plain op ${plain.toFixed(2)} us; taped op + its gradient ${taped.toFixed(2)} us`);
}
