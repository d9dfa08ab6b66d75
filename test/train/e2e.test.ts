/**
 * End to end on real data: teacher on CoNLL-2002 Spanish, one student on Dutch (unlabelled), per-layer evaluation,
 * with a small random BERT (the `tiny` preset made smaller still) on a few hundred sentences. Checks that the
 * losses fall, that every artefact of the run directory is written, and that a run killed mid-epoch (SIGKILL, in a
 * child process) and resumed ends exactly where an uninterrupted run ends.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { configToJson, resolveConfig, type MsdConfig } from '../../src/config.js';
import { tf } from '../../src/tf.js';
import { runMsd } from '../../src/train/pipeline.js';
import type { ProgressEvent } from '../../src/train/progress.js';
import { readJsonl } from '../../src/run/io.js';
import { noData } from './helpers.js';

function testConfig(outDir: string): MsdConfig {
  return resolveConfig('tiny', {
    model: { tiny: { hiddenSize: 16, numLayers: 4, numHeads: 2, intermediateSize: 32 }, headLayers: [2, 4] },
    data: { maxLength: 48, limit: { train: 160, dev: 40, test: 40 } },
    teacher: { epochs: 2, batchSize: 8, lr: 3e-3, freezeLayers: 1 },
    student: { epochs: 2, batchSize: 8, lr: 3e-3, freezeLayers: 1 },
    run: { outDir, seed: 7, evalLayers: [2, 4], checkpointEvery: 5, logEvery: 1 },
  });
}

function stepLosses(events: ProgressEvent[], task: string): number[] {
  return events.filter((e) => e.kind === 'step' && e.task === task).map((e) => e.loss!);
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

let fullDir = '';

test(
  'teacher + student + evaluation on real es -> nl data: losses fall, every artefact is written',
  { skip: noData },
  async () => {
    fullDir = mkdtempSync(join(tmpdir(), 'msd-e2e-full-'));
    const cfg = testConfig(fullDir);
    const events: ProgressEvent[] = [];
    const tensorsAtStep = new Map<string, number[]>();
    const summary = await runMsd(cfg, {
      onProgress: (e) => {
        events.push(e);
        if (e.kind === 'step')
          (tensorsAtStep.get(e.task) ?? tensorsAtStep.set(e.task, []).get(e.task)!).push(tf.memory().numTensors);
      },
    });
    // No tensor growth across steps (between evaluations and checkpoints, which allocate and free their own).
    for (const [task, counts] of tensorsAtStep) {
      assert.ok(counts.length >= 20, `${task}: ${counts.length} steps`);
      assert.equal(
        counts[counts.length - 1],
        counts[0],
        `${task}: ${counts[0]} tensors after step 1, ${counts[counts.length - 1]} after step ${counts.length}`,
      );
    }

    for (const task of ['teacher', 'student:nl']) {
      const losses = stepLosses(events, task);
      assert.ok(losses.length >= 20, `${task}: ${losses.length} steps`);
      assert.ok(
        mean(losses.slice(-5)) < 0.8 * mean(losses.slice(0, 5)),
        `${task}: losses ${losses.slice(0, 5).map((l) => l.toFixed(3))} ... ${losses.slice(-5).map((l) => l.toFixed(3))}`,
      );
    }

    const must = [
      'config.json',
      'pretrained/model.safetensors',
      'teacher/metrics.jsonl',
      'teacher/checkpoints/last.safetensors',
      'teacher/best/model.safetensors',
      'teacher/best/config.json',
      'teacher/best/vocab.txt',
      'teacher/best/training_config.json',
      'teacher/train-report.json',
      'teacher/results/es-test.json',
      'teacher/results/nl-test.json',
      'students/nl/metrics.jsonl',
      'students/nl/checkpoints/last.safetensors',
      'students/nl/best/model.safetensors',
      'students/nl/results/nl-test.json',
      'results/summary.json',
    ];
    for (const f of must) assert.ok(existsSync(join(fullDir, f)), `missing ${f}`);
    const [cacheKey] = readdirSync(join(fullDir, 'cache'));
    assert.match(cacheKey!, /^teacher-[0-9a-f]{12}$/);
    assert.deepEqual(readdirSync(join(fullDir, 'cache', cacheKey!)).sort(), [
      'source-es-train-cls4.safetensors',
      'target-nl-train.safetensors',
    ]);
    assert.equal(readFileSync(join(fullDir, 'config.json'), 'utf8'), configToJson(cfg));

    // Per-layer rows: teacher on es and nl, student on nl, layers 2..4 each.
    const rows = summary.rows.map((r) => `${r.model} ${r.language} ${r.split} ${r.layer}`);
    for (const model of ['teacher es', 'teacher nl', 'student:nl nl']) {
      for (const layer of [2, 3, 4])
        assert.ok(rows.includes(`${model} test ${layer}`), `no row for ${model} layer ${layer}`);
    }
    for (const r of summary.rows) assert.ok(r.f1 >= 0 && r.f1 <= 1 && r.support > 0);
    assert.equal(summary.zeroShot, true);
    // The metrics log has every step of the teacher once, with losses and learning rates.
    const log = readJsonl<{ kind: string; step: number; loss?: number; lr?: number; terms?: Record<string, number> }>(
      join(fullDir, 'teacher', 'metrics.jsonl'),
    );
    const steps = log.filter((r) => r.kind === 'step').map((r) => r.step);
    assert.deepEqual(
      steps,
      Array.from({ length: steps.length }, (_, i) => i + 1),
    );
    assert.ok(log.every((r) => r.kind !== 'step' || (Number.isFinite(r.loss) && r.lr! >= 0 && 'ce_4' in r.terms!)));
    const studentLog = readJsonl<{ kind: string; terms?: Record<string, number> }>(
      join(fullDir, 'students', 'nl', 'metrics.jsonl'),
    );
    const terms = Object.keys(studentLog.find((r) => r.kind === 'step')!.terms!);
    for (const t of ['kd_4', 'kd_2', 'mmd_m', 'mmd_l'])
      assert.ok(
        terms.some((k) => k.toLowerCase() === t),
        `student term ${t} in ${terms.join(', ')}`,
      );
  },
);

test('a run killed mid-epoch resumes and ends with the same metrics and weights', { skip: noData }, async () => {
  assert.ok(fullDir, 'needs the uninterrupted run of the previous test');
  const dir = mkdtempSync(join(tmpdir(), 'msd-e2e-kill-'));
  const cfg = testConfig(dir);
  const cfgPath = join(dir, 'test-config.json');
  writeFileSync(cfgPath, configToJson(cfg));
  // Kill the child at teacher step 8: mid epoch 1, three steps after the step-5 checkpoint (it waits there).
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', join('test', 'train', 'fixtures', 'run-child.ts'), cfgPath, 'teacher:8'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const killedAt = await new Promise<string>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (/step teacher 8\n/.test(out)) {
        child.kill('SIGKILL');
        resolve('teacher 8');
      }
    });
    child.on('exit', (code, signal) =>
      signal === 'SIGKILL'
        ? undefined
        : reject(new Error(`child ended (${code}) before the kill: ${stderr.slice(-2000)}`)),
    );
  });
  assert.equal(killedAt, 'teacher 8');
  await new Promise((r) => setTimeout(r, 200));
  // Step 8 is before the first evaluation (evalEvery 0: at the end of epoch 1, step 20 or later), so no model was
  // selected yet: the resumed run below must produce teacher/best itself.
  assert.ok(!existsSync(join(dir, 'teacher', 'best')), 'teacher/best exists before the first evaluation');
  assert.ok(
    existsSync(join(dir, 'teacher', 'checkpoints', 'last.safetensors')),
    'the step-5 checkpoint survived the kill',
  );

  const events: ProgressEvent[] = [];
  const resumed = await runMsd(cfg, { resume: true, onProgress: (e) => events.push(e) });
  assert.ok(
    events.some((e) => e.kind === 'info' && /resumed from .* at step 5/.test(e.message ?? '')),
    'resumed at step 5',
  );
  const full = JSON.parse(readFileSync(join(fullDir, 'results', 'summary.json'), 'utf8')) as { rows: unknown[] };
  assert.deepEqual(resumed.rows, full.rows, 'same per-layer results as the uninterrupted run');
  for (const f of ['teacher/best/model.safetensors', 'students/nl/best/model.safetensors']) {
    assert.ok(
      readFileSync(join(dir, f)).equals(readFileSync(join(fullDir, f))),
      `${f} differs from the uninterrupted run`,
    );
  }
  const losses = (d: string) =>
    readJsonl<{ kind: string; step: number; loss?: number }>(join(d, 'teacher', 'metrics.jsonl')).map(
      (r) => `${r.kind}:${r.step}:${r.loss}`,
    );
  assert.deepEqual(losses(dir), losses(fullDir));
});
