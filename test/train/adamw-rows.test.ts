/**
 * AdamW's row updates (`beginRows`, src/train/adamw.ts): the rows of a table that a step's lookups do not reach are
 * updated by the native pool's idle workers while the step runs, the others at `step`. The result must be the bits of
 * the whole update, nothing may change before `step`, and whatever does not match the plan falls back to the whole
 * update.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tf } from '../../src/tf.js';
import { initBackend } from '../../src/backend/init.js';
import { loadBlas } from '../../src/backend/blas.js';
import { loadNativeKernels } from '../../src/backend/native-kernels.js';
import { AdamW, ROW_UPDATE_MIN_VALUES } from '../../src/train/adamw.js';

const native = loadNativeKernels().ok;
const skip = !native || !loadBlas().ok ? 'needs the native kernels and the BLAS (npm run build)' : false;

/** Deterministic float32 values in [-1, 1). */
function data(n: number, seed: number): Float32Array {
  let s = seed >>> 0;
  return Float32Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return Math.fround(s / 2147483648 - 1);
  });
}

/** ids in [0, rows), repeats included, in no order. */
function someIds(rows: number, n: number, seed: number): Int32Array {
  let s = seed >>> 0;
  return Int32Array.from({ length: n }, () => {
    s = (Math.imul(s, 22695477) + 1) >>> 0;
    return s % rows;
  });
}

const ROWS = 1100;
const WIDTH = 64; // 70,400 values: above ROW_UPDATE_MIN_VALUES
let uid = 0;

/** A variable holding `values` (the initial tensor freed). */
function variable(values: Float32Array, shape: number[], name: string): tf.Variable {
  return tf.tidy(() => tf.variable(tf.tensor(values, shape), true, `${name}#${uid++}`));
}

/** The gradient of a lookup of `ids`: random rows where looked up, exact zeros elsewhere. */
function lookupGradient(ids: Int32Array, seed: number): tf.Tensor {
  const g = new Float32Array(ROWS * WIDTH);
  const values = data(ids.length * WIDTH, seed);
  ids.forEach((id, i) => {
    for (let j = 0; j < WIDTH; j++) g[id * WIDTH + j] += values[i * WIDTH + j]!;
  });
  return tf.tensor2d(g, [ROWS, WIDTH]);
}

interface Outcome {
  table: Float32Array;
  bias: Float32Array;
  state: Record<string, Float32Array>;
  started: boolean[];
}

/** Four steps of AdamW on a table and a bias, with row updates (`rows`) or without. */
function fourSteps(variant: 'hf' | 'torch', rows: boolean): Outcome {
  const table = variable(data(ROWS * WIDTH, 3), [ROWS, WIDTH], 'rows/table');
  const bias = variable(data(WIDTH, 4), [WIDTH], 'rows/bias');
  const opt = new AdamW([table, bias], { variant, weightDecay: 0.01 });
  const started: boolean[] = [];
  for (let step = 0; step < 4; step++) {
    const ids = [someIds(ROWS, 300, 10 + step), someIds(ROWS, 40, 20 + step)];
    const lr = 1e-3 * (step + 1);
    if (rows) started.push(opt.beginRows(table, ids, lr));
    const g = lookupGradient(new Int32Array([...ids[0]!, ...ids[1]!]), 30 + step);
    const gb = tf.tensor1d(data(WIDTH, 40 + step));
    // A clipping factor below 1 on the second step.
    opt.step({ [table.name]: g, [bias.name]: gb }, lr, step === 1 ? 0.37 : 1);
    tf.dispose([g, gb]);
  }
  const state = Object.fromEntries(
    Object.entries(opt.exportState()).map(([k, v]) => [k.replace(/#\d+/, ''), v] as const),
  );
  const out = { table: table.dataSync() as Float32Array, bias: bias.dataSync() as Float32Array, state, started };
  opt.dispose();
  tf.dispose([table, bias]);
  return out;
}

for (const backend of ['blas', 'wasm'] as const) {
  for (const variant of ['hf', 'torch'] as const) {
    test(`row updates give the bits of the whole update (${variant}) [${backend}]`, { skip }, async () => {
      await initBackend({ prefer: backend });
      const before = tf.memory().numTensors;
      const whole = fourSteps(variant, false);
      const byRows = fourSteps(variant, true);
      assert.deepEqual(byRows.started, [true, true, true, true], 'beginRows did not start');
      assert.deepEqual(byRows.table, whole.table, 'table');
      assert.deepEqual(byRows.bias, whole.bias, 'bias');
      assert.deepEqual(Object.keys(byRows.state), Object.keys(whole.state));
      for (const [k, v] of Object.entries(whole.state)) assert.deepEqual(byRows.state[k], v, k);
      assert.equal(tf.memory().numTensors, before, 'tensors leaked');
    });
  }
}

test(
  'nothing changes before the step; cancelRows, a changed lr and a missing gradient drop the work',
  { skip },
  async () => {
    await initBackend({ prefer: 'blas' });
    const table = variable(data(ROWS * WIDTH, 5), [ROWS, WIDTH], 'rows/drop');
    const opt = new AdamW([table]);
    const ids = [someIds(ROWS, 200, 7)];
    const step = (lr: number) => {
      const g = lookupGradient(ids[0]!, 8);
      opt.step({ [table.name]: g }, lr);
      g.dispose();
    };
    step(1e-3); // moments exist from here on
    const start = table.dataSync().slice();
    const state = opt.exportState();
    assert.ok(opt.beginRows(table, ids, 1e-3));
    // The workers write other buffers: the variable and the moments stay as they were until the step.
    await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(table.dataSync(), start);
    assert.deepEqual(opt.exportState(), state);
    opt.cancelRows();
    assert.deepEqual(table.dataSync(), start);
    assert.deepEqual(opt.exportState(), state);
    // Begun with one lr, stepped with another: the whole update at the step's lr, as without beginRows.
    const twin = variable(start as Float32Array, [ROWS, WIDTH], 'rows/twin');
    const twinOpt = new AdamW([twin]);
    twinOpt.importState(
      Object.fromEntries(Object.entries(state).map(([k, v]) => [k.replace(table.name, twin.name), v])),
    );
    assert.ok(opt.beginRows(table, ids, 1e-3));
    step(2e-3);
    const g = lookupGradient(ids[0]!, 8);
    twinOpt.step({ [twin.name]: g }, 2e-3);
    g.dispose();
    assert.deepEqual(table.dataSync(), twin.dataSync());
    // A step without the table's gradient leaves it alone, begun or not.
    const after = table.dataSync().slice();
    const steps = opt.steps()[table.name];
    assert.ok(opt.beginRows(table, ids, 1e-3));
    opt.step({}, 1e-3);
    assert.deepEqual(table.dataSync(), after);
    assert.equal(opt.steps()[table.name], steps);
    tf.dispose([table, twin]);
    opt.dispose();
    twinOpt.dispose();
  },
);

test(
  'beginRows declines what it cannot do: small tables, ids outside the table, other variables, cpu',
  { skip },
  async () => {
    await initBackend({ prefer: 'blas' });
    const small = variable(new Float32Array(640), [10, 64], 'rows/small');
    const table = variable(new Float32Array(ROWS * WIDTH), [ROWS, WIDTH], 'rows/big');
    const other = variable(new Float32Array(ROWS * WIDTH), [ROWS, WIDTH], 'rows/other');
    assert.ok(small.size < ROW_UPDATE_MIN_VALUES && table.size >= ROW_UPDATE_MIN_VALUES);
    const opt = new AdamW([small, table]);
    assert.equal(opt.beginRows(small, [[1, 2]], 1e-3), false);
    assert.equal(opt.beginRows(table, [[1, ROWS]], 1e-3), false, 'an id past the last row');
    assert.equal(opt.beginRows(table, [[-1]], 1e-3), false, 'a negative id');
    assert.equal(opt.beginRows(other, [[1]], 1e-3), false, 'a variable the optimizer does not hold');
    assert.equal(opt.beginRows(table, [[1, 2]], 1e-3), true);
    opt.cancelRows();
    opt.dispose();
    tf.dispose([small, table, other]);
    await initBackend({ prefer: 'cpu' });
    const onCpu = variable(new Float32Array(ROWS * WIDTH), [ROWS, WIDTH], 'rows/cpu');
    const cpuOpt = new AdamW([onCpu]);
    assert.equal(cpuOpt.beginRows(onCpu, [[1]], 1e-3), false);
    cpuOpt.dispose();
    onCpu.dispose();
  },
);
