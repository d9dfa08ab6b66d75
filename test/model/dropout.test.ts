/**
 * Dropout (src/model/dropout.ts): the mask's values and keep rate, its determinism across backends, independence of
 * positions and seeds, the gradient dy * mask (on wasm from one kernel that hashes and multiplies, the same bits),
 * and no leaked tensors.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tf } from '../../src/tf.js';
import { initBackend } from '../../src/backend/init.js';
import { loadBlas } from '../../src/backend/blas.js';
import { dropout, dropoutMask, siteDropout } from '../../src/model/dropout.js';
import { DROPOUT, hasKernel } from '../../src/backend/simd-kernels.js';

const backends = ['cpu', 'wasm', ...(loadBlas().ok ? ['blas' as const] : [])] as const;

test('the mask holds 0 and 1/keep only, kept at rate keep (1M draws, 5 sigma)', async () => {
  await initBackend({ prefer: 'cpu' });
  for (const rate of [0.1, 0.5, 0.9]) {
    const n = 1 << 20;
    const m = dropoutMask([n], rate, 7);
    const v = m.dataSync();
    const scale = Math.fround(1 / Math.fround(1 - rate));
    let kept = 0;
    for (const x of v) {
      if (x === scale) kept++;
      else assert.equal(x, 0, `rate ${rate}: value ${x}`);
    }
    const keep = 1 - rate;
    const sigma = Math.sqrt((n * keep * rate) / n / n) * n;
    assert.ok(Math.abs(kept - n * keep) < 5 * sigma, `rate ${rate}: kept ${kept} of ${n}`);
    m.dispose();
  }
  assert.throws(() => dropoutMask([4], 1, 1), /rate is 1; expected a number in \[0, 1\)/);
  assert.throws(() => dropoutMask([4], -0.1, 1), /rate is -0.1/);
});

test('neighbouring positions and neighbouring seeds are uncorrelated', async () => {
  await initBackend({ prefer: 'cpu' });
  const n = 1 << 18;
  const [ta, tb] = [dropoutMask([n], 0.5, 1), dropoutMask([n], 0.5, 2)];
  const [a, b] = [ta.dataSync(), tb.dataSync()];
  const corr = (x: ArrayLike<number>, y: ArrayLike<number>, shift: number) => {
    let sx = 0,
      sy = 0,
      sxy = 0,
      sxx = 0,
      syy = 0;
    const len = x.length - shift;
    for (let i = 0; i < len; i++) {
      const p = x[i]!,
        q = y[i + shift]!;
      sx += p;
      sy += q;
      sxy += p * q;
      sxx += p * p;
      syy += q * q;
    }
    const cov = sxy / len - (sx / len) * (sy / len);
    return cov / Math.sqrt((sxx / len - (sx / len) ** 2) * (syy / len - (sy / len) ** 2));
  };
  // |r| < 5 / sqrt(n) ~ 0.01 for independent draws.
  for (const shift of [1, 2, 768]) assert.ok(Math.abs(corr(a, a, shift)) < 0.01, `lag ${shift}: ${corr(a, a, shift)}`);
  for (const shift of [0, 1, 2]) assert.ok(Math.abs(corr(a, b, shift)) < 0.01, `seeds 1/2 at shift ${shift}`);
  tf.dispose([ta, tb]);
});

test('same seed and shape: the same mask on every backend; another seed: another mask', async () => {
  const masks: number[][] = [];
  for (const backend of backends) {
    await initBackend({ prefer: backend });
    const before = tf.memory().numTensors;
    const m = dropoutMask([3, 5, 7], 0.3, 12345);
    masks.push(Array.from(m.dataSync()));
    m.dispose();
    assert.equal(tf.memory().numTensors, before, `${backend}: leaked`);
  }
  for (const m of masks.slice(1)) assert.deepEqual(m, masks[0]);
  await initBackend({ prefer: 'cpu' });
  assert.notDeepEqual(Array.from(dropoutMask([3, 5, 7], 0.3, 12346).dataSync()), masks[0]);
  // Unseeded: two calls differ.
  assert.notDeepEqual(Array.from(dropoutMask([64], 0.5).dataSync()), Array.from(dropoutMask([64], 0.5).dataSync()));
});

for (const backend of backends) {
  test(`dropout: y = x * mask, dy/dx = mask, bit for bit (the sign of zero too), rate 0 is the identity, no leaks [${backend}]`, async () => {
    await initBackend({ prefer: backend });
    // On wasm one kernel hashes and multiplies in one pass, forward and backward (MsdDropout).
    assert.equal(hasKernel(DROPOUT), backend !== 'cpu', 'MsdDropout registered on wasm');
    const before = tf.memory().numTensors;
    // [4, 6]: whole vectors of four; [3, 7]: a tail of one.
    for (const shape of [
      [4, 6],
      [3, 7],
    ]) {
      const x = tf.randomNormal(shape, 0, 1, 'float32', 3);
      const maskT = dropoutMask(shape, 0.25, 9);
      const mask = maskT.dataSync();
      const y = dropout(x, 0.25, 9);
      const xv = x.dataSync();
      y.dataSync().forEach((v, i) => assert.equal(v, Math.fround(xv[i]! * mask[i]!), `y[${i}]`));
      const dy = tf.randomNormal(shape, 0, 1, 'float32', 4);
      const g = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(dropout(t, 0.25, 9), dy)))(x);
      const dyv = dy.dataSync();
      g.dataSync().forEach((v, i) => assert.equal(v, Math.fround(dyv[i]! * mask[i]!), `dx[${i}]`));
      assert.ok(Array.from(mask).some((m) => m === 0) && Array.from(mask).some((m) => m > 1));
      assert.equal(dropout(x, 0, 9), x);
      tf.dispose([x, y, dy, g, maskT]);
    }
    assert.equal(tf.memory().numTensors, before, 'tensors leaked');
  });
}

test('siteDropout: a mask per site name, whatever the order the sites ask in; a name twice is refused', async () => {
  await initBackend({ prefer: 'cpu' });
  const before = tf.memory().numTensors;
  const sites = ['embeddings', 'layer.0.attention.probs', 'layer.0.attention.output', 'layer.0.output'];
  const masksInOrder = (order: readonly string[], seed: number) => {
    const drop = siteDropout(true, seed);
    const masks = new Map<string, number[]>();
    for (const site of order) {
      const ones = tf.ones([8, 16]);
      const y = drop(ones, 0.5, site);
      masks.set(site, Array.from(y.dataSync()));
      tf.dispose([ones, y]);
    }
    return masks;
  };
  const forward = masksInOrder(sites, 11);
  const permuted = masksInOrder([sites[2]!, sites[0]!, sites[3]!, sites[1]!], 11);
  for (const site of sites) assert.deepEqual(permuted.get(site), forward.get(site), site);
  // Each site its own mask; another seed, other masks.
  assert.equal(new Set(sites.map((s) => forward.get(s)!.join())).size, sites.length);
  assert.notDeepEqual(masksInOrder(sites, 12).get(sites[0]!), forward.get(sites[0]!));
  const drop = siteDropout(true, 11);
  const x = tf.ones([2, 2]);
  drop(x, 0.5, 'layer.0.output').dispose();
  assert.throws(() => drop(x, 0.5, 'layer.0.output'), /site 'layer.0.output' used twice in one pass/);
  // Not training: the identity, and still one name per site.
  const off = siteDropout(false, 11);
  assert.equal(off(x, 0.5, 'a'), x);
  assert.throws(() => off(x, 0.5, 'a'), /used twice/);
  x.dispose();
  assert.equal(tf.memory().numTensors, before, 'tensors leaked');
});
