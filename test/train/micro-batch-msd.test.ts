/**
 * Gradient accumulation in the real teacher and student steps: with `run.microBatchTokens` small enough to cut every
 * batch into several micro-batches, a run logs the same losses and terms and ends with the same weights as the run
 * that takes each batch in one pass (dropout off, so both see the same function; float tolerance). The student
 * case covers the MMD terms, which are not sums over rows (see src/train/student-micro-batches.ts). Step 1 of a
 * student step (the forwards off the tape) stays on the training thread. Likewise the last layer run on the rows the
 * losses read (`ForwardOptions.lastLayerReads`) against the whole layer, teacher and student.
 */
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import type { MsdConfig } from '../../src/config.js';
import { writeTinyCheckpoint } from '../../src/model/tiny.js';
import { tf } from '../../src/tf.js';
import { readSafetensors } from '../../src/model/safetensors.js';
import { readJsonl } from '../../src/run/io.js';
import { trainTeacher } from '../../src/train/teacher.js';
import { distillStudent } from '../../src/train/student.js';
import { noData, tinyConfig, tmpRun } from './helpers.js';
import { keptMicroBatches } from '../../src/train/student-micro-batches.js';
import type { Batch } from '../../src/tokenizer/batching.js';
import { REAL_TOKENIZER } from '../real-data.js';
import { closeInferencePool, startInferenceWorker } from '../../src/model/inference-pool.js';
import { setHeadsRunner } from '../../src/model/inference.js';
import { useLastLayerNarrowing } from '../../src/model/bert.js';

const mbert = REAL_TOKENIZER ?? '';
let pretrained = '';

/** A small random BERT with mBERT's vocabulary and the given dropout (hidden and attention), written into `dir`. */
function smallBert(dir: string, dropout: number): string {
  writeTinyCheckpoint(dir, {
    seed: 5,
    hiddenSize: 16,
    numLayers: 4,
    numHeads: 2,
    intermediateSize: 32,
    vocab: join(mbert, 'vocab.txt'),
    dropout,
  });
  return dir;
}

before(() => {
  if (noData) return;
  // Every dropout off: one pass and micro-batches then compute the same function.
  pretrained = smallBert(tmpRun('micro-pretrained'), 0);
});

function config(name: string, microBatchTokens: number, teacherDir = ''): MsdConfig {
  return tinyConfig(tmpRun(`micro-${name}`), {
    model: { tiny: { enabled: false }, pretrained, classifierDropout: 0 },
    run: { microBatchTokens, teacherDir },
  });
}

type Step = { kind: string; step: number; loss: number; terms: Record<string, number> };

function steps(dir: string): Step[] {
  return readJsonl<Step>(join(dir, 'metrics.jsonl')).filter((r) => r.kind === 'step');
}

function assertSameRun(a: string, b: string, what: string): void {
  const sa = steps(a);
  const sb = steps(b);
  assert.ok(sa.length >= 2, `${what}: expected a few steps, got ${sa.length}`);
  assert.equal(sb.length, sa.length);
  for (let i = 0; i < sa.length; i++) {
    assert.ok(
      Math.abs(sa[i]!.loss - sb[i]!.loss) < 1e-4,
      `${what} step ${i + 1}: loss ${sa[i]!.loss} vs ${sb[i]!.loss}`,
    );
    assert.deepEqual(
      Object.keys(sb[i]!.terms).sort(),
      Object.keys(sa[i]!.terms).sort(),
      `${what}: the same terms are logged`,
    );
    for (const [k, v] of Object.entries(sa[i]!.terms))
      assert.ok(Math.abs(v - sb[i]!.terms[k]!) < 1e-4, `${what} step ${i + 1} term ${k}: ${v} vs ${sb[i]!.terms[k]}`);
  }
  const fa = readSafetensors(join(a, 'checkpoints', 'last.safetensors'));
  const fb = readSafetensors(join(b, 'checkpoints', 'last.safetensors'));
  const weights = fa.names.filter((n) => n.startsWith('weight:'));
  assert.ok(weights.length > 0);
  let worst = 0;
  for (const name of weights) {
    const v = fa.getFloat32(name);
    const u = fb.getFloat32(name);
    for (let i = 0; i < v.length; i++) worst = Math.max(worst, Math.abs(v[i]! - u[i]!));
  }
  assert.ok(worst < 1e-4, `${what}: weights differ by up to ${worst}`);
}

test('teacher: micro-batches of 64 tokens train like whole batches', { skip: noData }, async () => {
  const whole = config('teacher-whole', 0);
  const cut = config('teacher-cut', 64);
  await trainTeacher(whole);
  await trainTeacher(cut);
  assertSameRun(join(whole.run.outDir, 'teacher'), join(cut.run.outDir, 'teacher'), 'teacher');
});

test(
  'teacher and student: the last layer run on the rows read (lastLayerReads) trains like the whole layer',
  { skip: noData },
  async () => {
    const narrow = config('last-narrow', 0);
    const whole = config('last-whole', 0);
    await trainTeacher(narrow);
    await distillStudent(narrow, 'nl');
    const before = useLastLayerNarrowing(false);
    try {
      await trainTeacher(whole);
      await distillStudent(whole, 'nl');
    } finally {
      useLastLayerNarrowing(before);
    }
    assertSameRun(join(whole.run.outDir, 'teacher'), join(narrow.run.outDir, 'teacher'), 'teacher');
    const student = (c: MsdConfig) => join(c.run.outDir, 'students', 'nl');
    assertSameRun(student(whole), student(narrow), 'student');
  },
);

test('keptMicroBatches: the leading micro-batches whose target + source tokens fit in run.keptTapeTokens, the first always', () => {
  const batch = (rows: number, t: number) => ({ shape: [rows, t] }) as unknown as Batch;
  // Micro-batches of 4x10 target + 4x20 source rows (120 tokens each, each side at its own length), 3 of them.
  const cut = {
    targets: [batch(4, 10), batch(4, 10), batch(4, 10)],
    sources: [batch(4, 20), batch(4, 20), batch(4, 20)],
  };
  const kept = (tokens: number, c: Parameters<typeof keptMicroBatches>[1] = cut) =>
    keptMicroBatches(tinyConfig(tmpRun('kept'), { run: { keptTapeTokens: tokens } }), c);
  for (const [tokens, expected] of [
    [0, 1],
    [119, 1],
    [120, 1],
    [239, 1],
    [240, 2],
    [359, 2],
    [360, 3],
    [100000, 3],
  ] as const)
    assert.equal(kept(tokens), expected, `keptTapeTokens ${tokens}`);
  assert.equal(kept(80, { targets: [batch(4, 10), batch(4, 10)], sources: [] }), 2, 'target rows only: 40 + 40');
});

// Passes of at most 32 target + 32 source tokens: one or two rows of these 8-row batches each. keptTapeTokens: 0 keeps
// only the first pass's tape (every other one runs its forward twice), 150 about the first three, 4096 all of them
// (no second forward). The ablations drop one MMD term or both.
const frozenPrefix = { freezeEmbeddings: true, freezeLayers: 1 };
const studentCases: {
  freeze?: typeof frozenPrefix;
  kept: number;
  ablation?: { noMmdM?: boolean; noMmdL?: boolean };
}[] = [
  { kept: 0 },
  { kept: 150 },
  { freeze: frozenPrefix, kept: 0 },
  { freeze: frozenPrefix, kept: 4096 },
  { kept: 0, ablation: { noMmdM: true } },
  { freeze: frozenPrefix, kept: 150, ablation: { noMmdL: true } },
  { kept: 0, ablation: { noMmdM: true, noMmdL: true } },
];
for (const { freeze, kept, ablation = {} } of studentCases) {
  const terms = ['KD', ...(ablation.noMmdM ? [] : ['MMD_M']), ...(ablation.noMmdL ? [] : ['MMD_L'])].join(' + ');
  const frozen = freeze ? ', embeddings and layer 1 frozen (micro-batches reuse the frozen-prefix states)' : '';
  const name = `${freeze ? '-frozen' : ''}-kept${kept}${ablation.noMmdM ? '-noM' : ''}${ablation.noMmdL ? '-noL' : ''}`;
  test(
    `student (${terms}${frozen}, keptTapeTokens ${kept}): passes of 32 + 32 tokens train like whole batches`,
    { skip: noData },
    async () => {
      const student = (c: MsdConfig): MsdConfig => ({
        ...c,
        student: { ...c.student, ...freeze, ablation: { ...c.student.ablation, ...ablation } },
      });
      const teacher = config(`student-teacher${name}`, 0);
      await trainTeacher(teacher);
      const whole = student(config(`student-whole${name}`, 0, teacher.run.outDir));
      const cut = student(config(`student-cut${name}`, 32, teacher.run.outDir));
      cut.run.keptTapeTokens = kept;
      await distillStudent(whole, 'nl');
      const tensors: number[] = [];
      await distillStudent(cut, 'nl', {
        onProgress: (e) => void (e.kind === 'step' && tensors.push(tf.memory().numTensors)),
      });
      assert.ok(tensors.length >= 2);
      assert.equal(tensors.at(-1), tensors[0], `no tensor growth across cut steps: ${tensors.join(', ')}`);
      const s = steps(join(cut.run.outDir, 'students', 'nl'));
      assert.equal(s[0]!.terms.mmd_M !== undefined, !ablation.noMmdM, 'MMD_M is logged when on');
      assert.equal(s[0]!.terms.mmd_L !== undefined, !ablation.noMmdL, 'MMD_L is logged when on');
      for (const term of ['mmd_M', 'mmd_L']) if (s[0]!.terms[term] !== undefined) assert.ok(s[0]!.terms[term]! > 0);
      assertSameRun(join(whole.run.outDir, 'students', 'nl'), join(cut.run.outDir, 'students', 'nl'), 'student');
    },
  );
}

test(
  'student with dropout on: passes run twice (step 1, then 5) train like passes that keep their tapes',
  { skip: noData },
  async () => {
    // The same micro-batches and dropout seeds either way: only where each pass's [CLS] rows come from differs.
    const withDropout = smallBert(tmpRun('micro-pretrained-dropout'), 0.1);
    const cfg = (name: string, kept: number, teacherDir = ''): MsdConfig => {
      const c = tinyConfig(tmpRun(`micro-dropout-${name}`), {
        model: { tiny: { enabled: false }, pretrained: withDropout },
        run: { microBatchTokens: 32, keptTapeTokens: kept, teacherDir },
      });
      return { ...c, student: { ...c.student, freezeEmbeddings: true, freezeLayers: 1 } };
    };
    const teacher = cfg('teacher', 0);
    await trainTeacher(teacher);
    const twice = cfg('twice', 0, teacher.run.outDir);
    const kept = cfg('kept', 1 << 20, teacher.run.outDir);
    await distillStudent(twice, 'nl');
    await distillStudent(kept, 'nl');
    assertSameRun(join(kept.run.outDir, 'students', 'nl'), join(twice.run.outDir, 'students', 'nl'), 'student');
  },
);

test(
  'student: step 1 (the pass off the tape) runs on the training thread, even where the worker would take a job',
  { skip: noData },
  async () => {
    const cfg = (name: string, teacherDir = ''): MsdConfig =>
      // Only the first micro-batch keeps its tape: the others' [CLS] rows come from step 1.
      tinyConfig(tmpRun(`micro-${name}`), {
        model: { tiny: { enabled: false }, pretrained, classifierDropout: 0 },
        run: { microBatchTokens: 64, keptTapeTokens: 0, teacherDir },
      });
    const teacher = cfg('thread-teacher');
    await trainTeacher(teacher);
    const saved = process.env.MSD_INFERENCE_THREADS;
    // The threads each training-mode job (dropout seeds given: step 1's forwards) asked readHeads for.
    const asked: (number | undefined)[] = [];
    const runner = setHeadsRunner((model, batches, readout, opts) => {
      if (readout.dropout) asked.push(opts.threads);
      return runner(model, batches, readout, opts);
    });
    try {
      process.env.MSD_INFERENCE_THREADS = '2';
      assert.equal(await startInferenceWorker(), true, 'the worker started');
      await distillStudent(cfg('thread-student', teacher.run.outDir), 'nl');
    } finally {
      setHeadsRunner(runner);
      if (saved === undefined) delete process.env.MSD_INFERENCE_THREADS;
      else process.env.MSD_INFERENCE_THREADS = saved;
      await closeInferencePool();
    }
    assert.ok(asked.length >= 2, `step 1 ran in ${asked.length} step(s)`);
    assert.deepEqual(new Set(asked), new Set([1]), 'every step-1 job on one thread');
  },
);
