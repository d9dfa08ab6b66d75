import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tf } from '../../src/tf.js';
import { initBackend } from '../../src/backend/init.js';
import { loadBlas } from '../../src/backend/blas.js';
import { blasMatMulActive } from '../../src/backend/blas-kernels.js';
import { AdamW, defaultNoDecay, linearWarmupDecay } from '../../src/train/optim.js';
import { HEAP_MOMENTS_MAX_BYTES } from '../../src/train/adamw.js';
import { sumOfSquares } from '../../src/backend/host-memory.js';
import { heapKernels } from '../../src/backend/simd-kernels.js';

/** Seeded float32-representable numbers in [-1, 1). */
function data(n: number, seed: number): number[] {
  let s = seed >>> 0;
  return Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return Math.fround(s / 2147483648 - 1);
  });
}

interface Ref {
  p: number[];
  m: number[];
  v: number[];
  t: number;
}

/** The update rules written out in float64 (see adamw.ts for the two references). */
function refStep(
  r: Ref,
  g: number[],
  lr: number,
  wd: number,
  variant: 'hf' | 'torch',
  b1 = 0.9,
  b2 = 0.999,
  eps = 1e-8,
): void {
  r.t += 1;
  const bc1 = 1 - b1 ** r.t;
  const bc2 = 1 - b2 ** r.t;
  for (let i = 0; i < r.p.length; i++) {
    r.m[i] = b1 * r.m[i] + (1 - b1) * g[i];
    r.v[i] = b2 * r.v[i] + (1 - b2) * g[i] * g[i];
    if (variant === 'hf') {
      r.p[i] -= ((lr * Math.sqrt(bc2)) / bc1) * (r.m[i] / (Math.sqrt(r.v[i]) + eps));
      r.p[i] -= lr * wd * r.p[i];
    } else {
      r.p[i] *= 1 - lr * wd;
      r.p[i] -= (lr / bc1) * (r.m[i] / (Math.sqrt(r.v[i]) / Math.sqrt(bc2) + eps));
    }
  }
}

function close(got: ArrayLike<number>, want: number[], tol: number, what: string): void {
  for (let i = 0; i < want.length; i++) {
    const err = Math.abs(got[i] - want[i]);
    assert.ok(err <= tol * Math.max(1, Math.abs(want[i])), `${what}[${i}]: ${got[i]} vs ${want[i]} (err ${err})`);
  }
}

/**
 * Every test runs on each backend: on wasm and blas the update reads gradients and writes parameters in the wasm heap
 * (in place when the variable alone holds its bytes), on cpu through copies (src/backend/host-memory.ts).
 */
const checks: [string, () => void][] = [];
const check = (name: string, fn: () => void) => checks.push([name, fn]);

let uid = 0;
const fresh = (values: number[], shape: number[], name: string) =>
  tf.variable(tf.tensor(values, shape), true, `${name}#${uid++}`);

check('one step equals the hand-computed update (decayed weight and undecayed bias, both variants)', () => {
  for (const variant of ['hf', 'torch'] as const) {
    const w0 = data(6, 1);
    const b0 = data(3, 2);
    const gw = data(6, 3);
    const gb = data(3, 4);
    const w = fresh(w0, [2, 3], 'enc/dense/kernel');
    const b = fresh(b0, [3], 'enc/dense/bias');
    const opt = new AdamW([w, b], { variant, weightDecay: 0.01 });
    const lr = 5e-3;
    tf.tidy(() => opt.step({ [w.name]: tf.tensor(gw, [2, 3]), [b.name]: tf.tensor(gb, [3]) }, lr));
    // After one step m = (1-b1) g, v = (1-b2) g^2, so m / sqrt(v) = sign(g) * 0.1/sqrt(0.001) ... written out:
    const rw: Ref = { p: [...w0], m: [0, 0, 0, 0, 0, 0], v: [0, 0, 0, 0, 0, 0], t: 0 };
    const rb: Ref = { p: [...b0], m: [0, 0, 0], v: [0, 0, 0], t: 0 };
    refStep(rw, gw, lr, 0.01, variant);
    refStep(rb, gb, lr, 0, variant);
    close(w.dataSync(), rw.p, 1e-6, `${variant} weight`);
    close(b.dataSync(), rb.p, 1e-6, `${variant} bias`);
    // First step with bias correction moves every coordinate by ~lr (|m_hat / sqrt(v_hat)| = 1).
    w0.forEach((x, i) => {
      const adam = x - lr * Math.sign(gw[i]);
      const want = variant === 'hf' ? adam * (1 - lr * 0.01) : x * (1 - lr * 0.01) - lr * Math.sign(gw[i]);
      assert.ok(Math.abs(w.dataSync()[i] - want) < 1e-6, `closed form ${variant} ${i}`);
    });
    opt.dispose();
    tf.dispose([w, b]);
  }
});

check('several steps with a scheduled lr follow the float64 reference', () => {
  for (const variant of ['hf', 'torch'] as const) {
    const p0 = data(10, 11);
    const p = fresh(p0, [10], 'layer/attention/query/kernel');
    const opt = new AdamW([p], { variant, beta1: 0.8, beta2: 0.99, weightDecay: 0.1 });
    const sched = linearWarmupDecay({ totalSteps: 8, warmupSteps: 2 });
    const ref: Ref = { p: [...p0], m: new Array(10).fill(0), v: new Array(10).fill(0), t: 0 };
    for (let s = 0; s < 8; s++) {
      const g = data(10, 100 + s).map((x) => x * (s + 1));
      const lr = 1e-2 * sched(s);
      tf.tidy(() => opt.step({ [p.name]: tf.tensor(g) }, lr));
      refStep(ref, g, lr, 0.1, variant, 0.8, 0.99);
    }
    close(p.dataSync(), ref.p, 2e-6, variant);
    assert.deepEqual(opt.steps(), { [p.name]: 8 });
    opt.dispose();
    p.dispose();
  }
});

check('no weight decay on bias and LayerNorm by default; the predicate is configurable', () => {
  for (const [name, decays] of [
    ['bert/encoder/layer_3/output/dense/bias', false],
    ['bert.encoder.layer.3.output.LayerNorm.weight', false],
    ['encoder/layer_3/attention/output/layer_norm/gamma', false],
    ['bert/encoder/layer_3/output/dense/kernel', true],
    ['heads/layer_12/kernel', true],
    ['heads/classifier.layer_4.bias', false],
    ['encoder/embeddings.layer_norm.beta', false],
    ['encoder/attention.bias_proj.kernel', true],
    ['lambda', true],
    ['enc/dense/bias#3', false],
    ['dense/bias:0', false],
  ] as const) {
    assert.equal(defaultNoDecay(name), !decays, name);
  }
  // With a zero gradient Adam does not move a parameter, so only the decay shows.
  const a = fresh([1, 2], [2], 'x/kernel');
  const c = fresh([1, 2], [2], 'x/bias');
  const opt = new AdamW([a, c], { weightDecay: 0.5, noDecay: (n) => n.startsWith('x/kernel') });
  tf.tidy(() =>
    opt.step(
      new Map([
        [a, tf.zeros([2])],
        [c, tf.zeros([2])],
      ]),
      0.1,
    ),
  );
  close(a.dataSync(), [1, 2], 0, 'not decayed by the custom predicate');
  close(c.dataSync(), [0.95, 1.9], 1e-7, 'decayed');
  assert.equal(opt.decays(a.name), false);
  assert.equal(opt.decays(c.name), true);
  opt.dispose();
  tf.dispose([a, c]);
});

check('variables without a gradient are skipped; foreign or misshapen gradients are errors', () => {
  const a = fresh([1, 2], [2], 'y/kernel');
  const frozen = fresh([3], [1], 'y/frozen');
  const opt = new AdamW([a]);
  tf.tidy(() => opt.step({}, 0.1));
  close(a.dataSync(), [1, 2], 0, 'no gradient, no change (not even decay)');
  assert.deepEqual(opt.steps(), {});
  assert.throws(
    () => tf.tidy(() => opt.step({ [frozen.name]: tf.ones([1]) }, 0.1)),
    /gradient for 'y\/frozen#\d+', which is not among the 1 optimised variables/,
  );
  assert.throws(
    () => tf.tidy(() => opt.step({ [a.name]: tf.ones([3]) }, 0.1)),
    /expected float32 \[2\] like the variable/,
  );
  assert.throws(() => opt.step({}, NaN), /lr is NaN/);
  assert.throws(() => new AdamW([a, a]), /listed twice/);
  assert.throws(() => new AdamW([a], { beta2: 1 }), /beta2 is 1; expected a number in \[0, 1\)/);
  opt.dispose();
  tf.dispose([a, frozen]);
});

check('export/import of the state resumes bit-exactly', () => {
  const p0 = data(12, 21);
  const grads = Array.from({ length: 6 }, (_, s) => data(12, 200 + s));
  const lrs = [1e-3, 2e-3, 3e-3, 2e-3, 1e-3, 5e-4];
  const run = (p: tf.Variable, opt: AdamW, from: number, to: number) => {
    for (let s = from; s < to; s++) tf.tidy(() => opt.step({ [p.name]: tf.tensor(grads[s], [3, 4]) }, lrs[s]));
  };
  for (const variant of ['hf', 'torch'] as const) {
    const straight = fresh(p0, [3, 4], 'resume/kernel');
    const optA = new AdamW([straight], { variant });
    run(straight, optA, 0, 6);

    const first = fresh(p0, [3, 4], 'resume/kernel');
    const optB = new AdamW([first], { variant });
    run(first, optB, 0, 3);
    const saved = optB.exportState();
    const savedWeights = new Float32Array(first.dataSync());
    assert.deepEqual(
      Object.keys(saved).sort(),
      [`${first.name}/exp_avg`, `${first.name}/exp_avg_sq`, `${first.name}/step`].sort(),
    );
    optB.dispose();

    // A new process would create variables with the same names; here the names differ, so map the state over.
    const second = tf.variable(tf.tensor(savedWeights, [3, 4]), true, `${first.name}-resumed`);
    const optC = new AdamW([second], { variant });
    const renamed = Object.fromEntries(Object.entries(saved).map(([k, v]) => [k.replace(first.name, second.name), v]));
    optC.importState(renamed);
    renamed[`${second.name}/exp_avg`].fill(123); // the optimizer must have copied its input
    run(second, optC, 3, 6);
    assert.deepEqual(Array.from(second.dataSync()), Array.from(straight.dataSync()), `${variant}: resumed run differs`);
    assert.deepEqual(optC.exportState()[`${second.name}/exp_avg`], optA.exportState()[`${straight.name}/exp_avg`]);
    assert.throws(
      () => optC.importState({ 'nope/exp_avg': new Float32Array(12) }),
      /state for 'nope', which is not among/,
    );
    assert.throws(
      () => optC.importState({ [`${second.name}/exp_avg`]: new Float32Array(11) }),
      /has 11 values; expected 12/,
    );
    assert.throws(() => optC.importState({ [`${second.name}/exp_avg`]: new Float32Array(12) }), /incomplete state/);
    [optA, optC].forEach((o) => o.dispose());
    tf.dispose([straight, first, second]);
  }
});

check('no tensor growth across steps; minimises a quadratic with tf.variableGrads', () => {
  const target = tf.tensor(data(32, 5), [4, 8]);
  const w = fresh(new Array(32).fill(0), [4, 8], 'quad/kernel');
  const bias = fresh(new Array(8).fill(0), [8], 'quad/bias');
  const opt = new AdamW([w, bias], { weightDecay: 0.01 });
  const loss = () => tf.sum(tf.square(tf.sub(tf.add(w, bias), target))) as tf.Scalar;
  const first = tf.tidy(() => loss().dataSync()[0]);
  const stepOnce = () => {
    const { value, grads } = tf.variableGrads(loss, [w, bias]);
    opt.step(grads, 0.05);
    tf.dispose([value, ...Object.values(grads)]);
  };
  stepOnce();
  const after1 = tf.memory().numTensors;
  for (let i = 1; i < 50; i++) stepOnce();
  assert.equal(tf.memory().numTensors, after1);
  const last = tf.tidy(() => loss().dataSync()[0]);
  assert.ok(last < first / 10, `loss ${first} -> ${last}`);
  // The moments are host arrays, not tensors: the optimizer holds no tensor at all, and dispose drops its state.
  assert.deepEqual(Object.keys(opt.exportState()).length, 6);
  opt.dispose();
  assert.equal(tf.memory().numTensors, after1);
  assert.deepEqual(opt.exportState(), {});
  tf.dispose([target, w, bias]);
});

check('step(grads, lr, scale) equals a step on gradients scaled by `scale` (how the loop applies clipping)', () => {
  const run = (scaleInStep: boolean) => {
    const w = fresh(data(12, 3), [3, 4], 'scale/kernel');
    const opt = new AdamW([w], { weightDecay: 0.01 });
    for (let i = 0; i < 3; i++) {
      const g = tf.tensor(data(12, 10 + i), [3, 4]);
      const scaled = tf.mul(g, 0.37);
      if (scaleInStep) opt.step({ [w.name]: g }, 0.01, 0.37);
      else opt.step({ [w.name]: scaled }, 0.01);
      tf.dispose([g, scaled]);
    }
    const out = Array.from(w.dataSync());
    opt.dispose();
    w.dispose();
    return out;
  };
  const fused = run(true);
  const explicit = run(false);
  for (let i = 0; i < fused.length; i++)
    assert.ok(Math.abs(fused[i]! - explicit[i]!) < 1e-6, `${i}: ${fused[i]} vs ${explicit[i]}`);
  assert.throws(() => new AdamW([]).step({}, 0.1, Number.NaN), /gradScale is NaN/);
});

check("a tensor sharing the parameter's bytes keeps its values; a sole owner is updated in place", () => {
  const w = fresh(data(8, 7), [8], 'share/kernel');
  const opt = new AdamW([w], { weightDecay: 0 });
  opt.step({ [w.name]: tf.tensor(data(8, 8)) }, 0.1); // the initial tensor still shares the bytes: a fresh buffer
  const snapshot = tf.clone(w); // shares the bytes on wasm (copy-free Identity): must not see the next update
  const before = Array.from(snapshot.dataSync());
  opt.step({ [w.name]: tf.tensor(data(8, 9)) }, 0.1);
  assert.deepEqual(Array.from(snapshot.dataSync()), before, 'a clone taken before the step was changed');
  assert.notDeepEqual(Array.from(w.dataSync()), before, 'the variable did not change');
  snapshot.dispose();
  const id = w.dataId;
  opt.step({ [w.name]: tf.tensor(data(8, 10)) }, 0.1);
  // In place only under the BLAS matmuls: tfjs-wasm's own (XNNPACK) caches packed weights by data id, so on plain
  // wasm new values need a new id (src/backend/host-memory.ts, inPlaceAllowed).
  if (blasMatMulActive()) assert.equal(w.dataId, id, 'sole owner on blas: expected an in-place update');
  else assert.notEqual(w.dataId, id, `${tf.getBackend()} without the BLAS matmuls: expected a new buffer`);
  opt.dispose();
  w.dispose();
});

/**
 * Three steps of both variants on the active backend (moments where `moments` says): the final parameters, moments
 * and the gradients' norm.
 */
function threeSteps(
  n: number,
  moments?: 'heap' | 'host',
): { params: Float32Array[]; state: Record<string, Float32Array>; sumSq: number } {
  const w = fresh(data(n, 31), [n], 'bits/kernel');
  const b = fresh(data(7, 32), [7], 'bits/bias');
  const out: { params: Float32Array[]; state: Record<string, Float32Array>; sumSq: number } = {
    params: [],
    state: {},
    sumSq: 0,
  };
  for (const variant of ['hf', 'torch'] as const) {
    const opt = new AdamW([w, b], { variant, weightDecay: 0.01, moments });
    for (let step = 0; step < 3; step++) {
      const grads = { [w.name]: tf.tensor(data(n, 40 + step)), [b.name]: tf.tensor(data(7, 50 + step)) };
      out.sumSq += sumOfSquares(grads[w.name]!) + sumOfSquares(grads[b.name]!);
      // a clipping factor < 1 on the middle step
      opt.step(grads, 1e-3 * (step + 1), step === 1 ? 0.37 : 1);
      tf.dispose(Object.values(grads));
    }
    out.params.push(w.dataSync().slice() as Float32Array, b.dataSync().slice() as Float32Array);
    Object.assign(
      out.state,
      Object.fromEntries(Object.entries(opt.exportState()).map(([k, v]) => [`${variant}/${k.replace(/#\d+/, '')}`, v])),
    );
    opt.dispose();
  }
  w.dispose();
  b.dispose();
  return out;
}

for (const moments of ['host', 'heap'] as const) {
  test(`wasm's SIMD update and sum of squares give the same bits as the JavaScript loops (cpu), moments in ${moments}`, async () => {
    // 2 x 16384 + 3: two whole chunks of the heap scratch, a short one, an odd last value; 7: shorter than a chunk.
    const n = 2 * 16384 + 3;
    await initBackend({ prefer: 'cpu' });
    const onCpu = threeSteps(n, moments);
    await initBackend({ prefer: 'wasm' });
    assert.ok(heapKernels(), 'expected the SIMD kernels on wasm (is MSD_SIMD=off set?)');
    const onWasm = threeSteps(n, moments);
    assert.equal(onWasm.sumSq, onCpu.sumSq, 'sum of squares');
    onCpu.params.forEach((want, i) => assert.deepEqual(onWasm.params[i], want, `parameters ${i}`));
    assert.deepEqual(Object.keys(onWasm.state), Object.keys(onCpu.state));
    for (const [key, want] of Object.entries(onCpu.state)) assert.deepEqual(onWasm.state[key], want, key);
  });
}

test("moments: 'auto' puts them in the wasm heap up to HEAP_MOMENTS_MAX_BYTES, 'host' and cpu never", async () => {
  await initBackend({ prefer: 'wasm' });
  const small = fresh(data(64, 5), [64], 'where/small');
  // One parameter past the limit: 8 bytes of moments each.
  const big = tf.variable(tf.zeros([HEAP_MOMENTS_MAX_BYTES / 8 + 1]), true, `where/big#${uid++}`);
  const places = (vars: tf.Variable[], moments?: 'host') => {
    const opt = new AdamW(vars, { moments });
    const grads = Object.fromEntries(vars.map((v) => [v.name, tf.zerosLike(v)]));
    opt.step(grads, 0.1);
    tf.dispose(Object.values(grads));
    const where = opt.momentLocations();
    opt.dispose();
    return new Set(Object.values(where));
  };
  assert.deepEqual(places([small]), new Set(['heap']));
  assert.deepEqual(places([small], 'host'), new Set(['host']));
  assert.deepEqual(places([small, big]), new Set(['host']));
  await initBackend({ prefer: 'cpu' });
  assert.deepEqual(places([small]), new Set(['host']));
  tf.dispose([small, big]);
});

test('a state exported from heap moments resumes on host moments and back, bit for bit', async () => {
  await initBackend({ prefer: 'wasm' });
  const n = 1000;
  const grad = (step: number, name: string) => ({ [name]: tf.tensor(data(n, 70 + step)) });
  const run = (places: ('heap' | 'host')[]) => {
    const w = fresh(data(n, 60), [n], 'resume/kernel');
    let state: Record<string, Float32Array> | undefined;
    places.forEach((moments, step) => {
      const opt = new AdamW([w], { moments });
      if (state) opt.importState(state);
      const g = grad(step, w.name);
      opt.step(g, 1e-2);
      tf.dispose(Object.values(g));
      assert.deepEqual(Object.values(opt.momentLocations()), [moments]);
      state = opt.exportState();
      opt.dispose();
    });
    const out = w.dataSync().slice();
    w.dispose();
    return { out, m: Object.values(state!)[0] };
  };
  const straight = run(['heap', 'heap', 'heap']);
  const mixed = run(['heap', 'host', 'heap']);
  assert.deepEqual(mixed.out, straight.out);
  assert.deepEqual(mixed.m, straight.m);
});

test('the SIMD update gives its heap scratch and heap moments back', async () => {
  await initBackend({ prefer: 'wasm' });
  const heap = (tf.engine().findBackend('wasm') as unknown as { wasm: { HEAPU8: Uint8Array } }).wasm;
  const big = fresh(data(1 << 18, 7), [1 << 18], 'freed/kernel');
  const bigGrads = { [big.name]: tf.zerosLike(big) };
  new AdamW([big], { moments: 'heap' }).dispose(); // nothing allocated before a step
  const first = new AdamW([big], { moments: 'heap' });
  first.step(bigGrads, 0.1); // the heap may grow on the first allocation
  first.dispose();
  const before = heap.HEAPU8.buffer.byteLength;
  // 200 x 2 MiB of moments would grow it if kept
  for (let i = 0; i < 200; i++) {
    const opt = new AdamW([big], { moments: 'heap' });
    opt.step(bigGrads, 0.1);
    opt.dispose();
  }
  assert.equal(heap.HEAPU8.buffer.byteLength, before, 'the heap grew: moments not freed');
  tf.dispose([big, ...Object.values(bigGrads)]);
  const w = fresh(data(64, 5), [64], 'scratch/kernel');
  const opt = new AdamW([w], { moments: 'host' });
  const grads = { [w.name]: tf.tensor(data(64, 6)) };
  opt.step(grads, 0.1);
  const size = heap.HEAPU8.buffer.byteLength;
  for (let i = 0; i < 2000; i++) opt.step(grads, 0.1); // 2000 x 128 KiB of scratch would grow it if kept
  assert.equal(heap.HEAPU8.buffer.byteLength, size, 'the heap grew: scratch not freed');
  tf.dispose(Object.values(grads));
  opt.dispose();
  w.dispose();
});

const backends = ['cpu', 'wasm', ...(loadBlas().ok ? ['blas' as const] : [])] as const;
for (const backend of backends) {
  for (const [name, fn] of checks) {
    test(`${name} [${backend}]`, async () => {
      await initBackend({ prefer: backend });
      const before = tf.memory().numTensors;
      tf.tidy(fn);
      assert.equal(tf.memory().numTensors, before, 'tensors leaked');
    });
  }
}
