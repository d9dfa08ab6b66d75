/** How msd tells bad input from a bug: what the one handler in src/cli/msd.ts prints for each kind of error. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { closestMatch, editDistance, EXIT, formatError, isInternalError, UserError } from '../../src/errors.js';
import { InterruptedError } from '../../src/interrupt.js';

function thrown(f: () => unknown): unknown {
  try {
    f();
  } catch (err) {
    return err;
  }
  throw new Error('did not throw');
}

test('bad input: one msd: line, the hint under it, exit 1, no stack', () => {
  const r = formatError(new UserError('mine.json: unknown key run.sed', 'did you mean run.seed?'));
  assert.equal(r.text, 'msd: mine.json: unknown key run.sed\n  did you mean run.seed?');
  assert.equal(r.exitCode, EXIT.user);
  // A plain Error with a message this library wrote, and an operating-system error (its message names the path).
  assert.equal(formatError(new Error('data: no file x')).text, 'msd: data: no file x');
  const enoent = thrown(() => readFileSync('/no/such/file'));
  assert.equal(isInternalError(enoent), false);
  assert.match(formatError(enoent).text, /^msd: ENOENT: no such file or directory, open '\/no\/such\/file'$/);
});

test('a bug: an internal error with a --debug hint and exit 70; the stack only with --debug', () => {
  const bug = thrown(() => (undefined as unknown as { model: { headLayers: number } }).model.headLayers);
  assert.ok(bug instanceof TypeError);
  const r = formatError(bug);
  assert.equal(r.exitCode, EXIT.internal);
  assert.match(r.text, /^msd: internal error \(a bug in msd, not in your input\): TypeError: Cannot read properties/);
  assert.match(r.text, /re-run with --debug for the stack/);
  assert.doesNotMatch(r.text, /^\s+at /m);
  const d = formatError(bug, { debug: true });
  assert.match(d.text, /^\s+at /m);
  assert.doesNotMatch(d.text, /re-run with --debug/);
  // Thrown values that are not errors, assertion failures and the losses' input checks are bugs too.
  assert.equal(isInternalError('a string'), true);
  assert.equal(isInternalError(thrown(() => assert.equal(1, 2))), true);
  const loss = new Error('losses/kd.ts: shapes');
  loss.name = 'LossInputError';
  assert.equal(isInternalError(loss), true);
});

test('an Error constructed inside a dependency (first frame under node_modules) is a bug', () => {
  // Where an error was constructed is its stack's first frame (tfjs's shape checks throw plain Errors).
  const dep = new Error('Error in matMul: inner shapes (3) and (4) of Tensors must match');
  dep.stack = `Error: x\n    at assert (/repo/node_modules/@tensorflow/tfjs-core/dist/util_base.js:1:1)`;
  assert.equal(isInternalError(dep), true);
  const ours = new Error('x');
  ours.stack = `Error: x\n    at loadBert (/repo/lib/model/checkpoint.js:10:5)`;
  assert.equal(isInternalError(ours), false);
});

test('an interrupt: msd: interrupted: ..., exit 130', () => {
  const r = formatError(new InterruptedError('teacher stopped at step 12; run again with --resume'));
  assert.deepEqual(r, { text: 'msd: interrupted: teacher stopped at step 12; run again with --resume', exitCode: 130 });
});

test('close matches: one or two letters off, never a far one', () => {
  assert.equal(editDistance('sede', 'seed'), 1);
  assert.equal(closestMatch('sed', ['seed', 'outDir']), 'seed');
  assert.equal(closestMatch('headLayer', ['headLayers', 'evalLayers']), 'headLayers');
  assert.equal(closestMatch('wsm', ['wasm', 'gpu', 'cpu']), 'wasm');
  assert.equal(closestMatch('xyzzy', ['seed', 'outDir']), undefined);
});
