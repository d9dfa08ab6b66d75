/**
 * The encoder tests of bert.test.ts again, on the backend users get by default (initBackend(): 'blas' where a BLAS
 * loads, else wasm): padding invariance, float64 parity, determinism, freezing and leak checks hold there too.
 * bert.test.ts alone runs them on tfjs's cpu backend, the reference.
 */
import assert from 'node:assert/strict';
import { initBackend } from '../../src/backend/init.js';
import { tf } from '../../src/tf.js';

const info = await initBackend();
assert.equal(tf.getBackend(), info.tfBackend);
console.log(`# encoder tests on ${info.summary}`);
await import('./bert.test.js');
