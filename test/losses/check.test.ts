/** The input checks of src/losses/check.ts: each one is used by a loss (no dead helper), and messages name the place. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as check from '../../src/losses/check.js';

test('every helper of check.ts has a caller among the losses', () => {
  const dir = join('src', 'losses');
  const others = readdirSync(dir)
    .filter((f) => f.endsWith('.ts') && f !== 'check.ts')
    .map((f) => readFileSync(join(dir, f), 'utf8'))
    .join('\n');
  const own = readFileSync(join(dir, 'check.ts'), 'utf8');
  for (const name of Object.keys(check)) {
    const used = new RegExp(`\\b${name}\\b`).test(others) || own.split(new RegExp(`\\b${name}\\b`)).length > 2;
    assert.ok(used, `check.ts exports ${name}, which no loss uses`);
  }
});

test('expectLayerList names the loss and the missing list', () => {
  assert.throws(
    () => check.expectLayerList('kd.ts: studentLoss', 'auxLayers', undefined),
    /^LossInputError: losses\/kd\.ts: studentLoss: auxLayers is undefined; expected a list of layers/,
  );
  check.expectLayerList('kd.ts: studentLoss', 'auxLayers', []);
});
