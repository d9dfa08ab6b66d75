import { test } from 'node:test';
import assert from 'node:assert/strict';
import { initBackend, activeBackend, parseBackendName } from '../../src/backend/init.js';

test('auto selection reports the active backend and why the others were skipped', async () => {
  const saved = process.env.MSD_BACKEND;
  delete process.env.MSD_BACKEND;
  try {
    // A fresh auto choice: ask explicitly for cpu first so the auto call below has to re-evaluate nothing;
    // then check the summary shape of an explicit request.
    const info = await initBackend({ prefer: 'cpu' });
    assert.equal(info.name, 'cpu');
    assert.equal(info.requested, true);
    assert.match(info.summary, /^backend: cpu /);
    assert.equal(activeBackend()?.name, 'cpu');
  } finally {
    if (saved !== undefined) process.env.MSD_BACKEND = saved;
  }
});

test('a requested backend that is missing is a clear error, not a fallback', async () => {
  // tfjs-node-gpu cannot be installed on machines without libtensorflow: the request must fail loudly there.
  let gpuAvailable = true;
  try {
    await initBackend({ prefer: 'gpu' });
  } catch (err) {
    gpuAvailable = false;
    assert.match(
      (err as Error).message,
      /Backend 'gpu' was requested \(initBackend\(\{ prefer \}\)\) but is not available: /,
    );
  }
  if (gpuAvailable) assert.equal(activeBackend()?.name, 'gpu');
});

test('MSD_BACKEND is validated', async () => {
  assert.throws(
    () => parseBackendName('tpu', 'MSD_BACKEND'),
    /MSD_BACKEND: unknown backend 'tpu'; expected one of gpu, native, blas, wasm, cpu/,
  );
  const saved = process.env.MSD_BACKEND;
  process.env.MSD_BACKEND = 'wasm';
  try {
    const info = await initBackend();
    assert.equal(info.name, 'wasm');
    assert.equal(info.tfBackend, 'wasm');
  } finally {
    if (saved === undefined) delete process.env.MSD_BACKEND;
    else process.env.MSD_BACKEND = saved;
  }
});
