/**
 * End to end on the local executor: a 2 variants x 2 seeds sweep on real CoNLL-2002 data, once uninterrupted and
 * once killed with SIGKILL (the executor and its children) while one cell is finished and another half-trained, then
 * re-run: the same collected table, the same losses and the same selected weights, finished cells not re-run.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { collectSweep } from '../../src/sweep/collect.js';
import { readPlan } from '../../src/sweep/plan.js';
import { cellDone } from '../../src/sweep/state.js';
import { cellFingerprints, msd, requireBuild, TINY_SWEEP, writeSpec } from './helpers.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function partialCells(root: string): string[] {
  return readPlan(root)
    .cells.filter(
      (c) =>
        !cellDone(c.dir) &&
        existsSync(join(c.dir, 'students')) &&
        readdirSync(join(c.dir, 'students')).some((l) =>
          existsSync(join(c.dir, 'students', l, 'checkpoints', 'last.safetensors')),
        ),
    )
    .map((c) => c.id);
}

test(
  'local executor: SIGKILL mid-sweep and re-run gives the same table as an uninterrupted sweep',
  { timeout: 20 * 60_000 },
  async () => {
    requireBuild();
    const dir = mkdtempSync(join(tmpdir(), 'msd-sweep-e2e-'));
    try {
      // One student epoch (13 steps) is enough here: the executor is killed by this process, not caught through Slurm.
      const spec = writeSpec(dir, {
        ...TINY_SWEEP,
        set: { ...(TINY_SWEEP.set as Record<string, unknown>), 'student.epochs': 1 },
      });
      const a = join(dir, 'a');
      const b = join(dir, 'b');
      const plainRun = await msd(['sweep', 'run', spec, '--out', a, '--jobs', '2', '--plain']).done;
      assert.equal(plainRun.code, 0, plainRun.out);
      assert.match(plainRun.out, /all 4 cells done/);

      // The interrupted sweep: its own process group, so SIGKILL takes the executor and every child (a crash).
      const run1 = msd(['sweep', 'run', spec, '--out', b, '--jobs', '2', '--plain'], { detached: true });
      let killedAt: { done: string[]; partial: string[] } | undefined;
      const exited = run1.done.then(() => true);
      while (!killedAt) {
        if (await Promise.race([exited, sleep(150).then(() => false)])) break;
        if (!existsSync(join(b, 'plan.json'))) continue;
        const done = readPlan(b)
          .cells.filter((c) => cellDone(c.dir))
          .map((c) => c.id);
        const partial = partialCells(b);
        if (done.length >= 1 && partial.length >= 1) {
          process.kill(-run1.child.pid!, 'SIGKILL');
          killedAt = { done, partial };
        }
      }
      await run1.done;
      assert.ok(killedAt, 'the sweep finished before it could be killed with a finished and a partial cell');
      // The killed children may linger a moment as zombies (their pid files then still look alive).
      let before = collectSweep(b);
      for (let i = 0; i < 50 && before.incomplete.some((c) => c.state === 'running'); i++) {
        await sleep(100);
        before = collectSweep(b);
      }
      assert.ok(before.incomplete.length >= 1, 'the killed sweep has unfinished cells, listed by collect');
      assert.ok(
        before.incomplete.some((c) => c.state === 'partial'),
        JSON.stringify(before.incomplete),
      );

      const run2 = await msd(['sweep', 'run', b, '--jobs', '2', '--plain']).done;
      assert.equal(run2.code, 0, run2.out);
      // Finished cells are skipped (one attempt in their logs); a partial one resumed from its checkpoint.
      for (const id of killedAt.done) {
        const log = readFileSync(join(b, 'logs', `${id}.log`), 'utf8');
        assert.equal(log.match(/^== .* local executor/gm)?.length, 1, `${id} was run again`);
      }
      const resumed = killedAt.partial.map((id) => readFileSync(join(b, 'logs', `${id}.log`), 'utf8'));
      assert.ok(
        resumed.some((log) => /resumed from .* at step [1-9]/.test(log)),
        'a partial cell resumed from its checkpoint',
      );

      const ca = collectSweep(a);
      const cb = collectSweep(b);
      assert.deepEqual(cb.incomplete, []);
      assert.deepEqual(cb.rows, ca.rows);
      assert.deepEqual(cb.main, ca.main);
      assert.deepEqual(cb.layers, ca.layers);
      assert.equal(ca.main.length, 3 * 1); // teacher, full, noAux on nl
      assert.ok(
        ca.main.every((r) => r.n === 2),
        'two seeds per group',
      );
      assert.deepEqual(cellFingerprints(b), cellFingerprints(a));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
);
