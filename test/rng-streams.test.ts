/** streamSeed and deriveSeed (src/rng.ts): one named stream per use, stable, and independent of other streams. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { deriveSeed, streamSeed } from '../src/rng.js';

test('streamSeed is deterministic, differs per name and counter, and is a 32-bit integer', () => {
  assert.equal(streamSeed(42, 'teacher/init'), streamSeed(42, 'teacher/init'));
  const seeds = [
    streamSeed(42, 'teacher/init'),
    streamSeed(42, 'teacher/batches'),
    streamSeed(43, 'teacher/init'),
    streamSeed(42, 'teacher/dropout', 0),
    streamSeed(42, 'teacher/dropout', 1),
    streamSeed(42, 'student:nl/dropout', 0),
    streamSeed(42, 'student:de/dropout', 0),
  ];
  assert.equal(new Set(seeds).size, seeds.length, `${seeds}`);
  for (const s of seeds) assert.ok(Number.isInteger(s) && s >= 0 && s < 2 ** 32, `${s}`);
  // Step s of one stream never equals step s + k of the naive `seed * K + step` arithmetic's neighbour streams.
  assert.notEqual(streamSeed(1, 'x', 1), streamSeed(2, 'x', 0));
});
