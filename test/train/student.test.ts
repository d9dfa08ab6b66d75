/**
 * The student's objective under every ablation and option, on a very small model and a few sentences of real
 * CoNLL-2002 es -> nl data (one teacher shared by all variants, one epoch of 3 steps each):
 *
 * - each ablation changes exactly the terms it names (KD per layer present or absent, MMD terms present and non-zero
 *   or absent), and the logged total is the weighted sum of the logged terms;
 * - no zero-shot mode reads a target label: the same run on a copy of the Dutch data whose every tag is replaced
 *   logs bit-identical numbers;
 * - `initFrom: 'teacher'` starts from the teacher's weights, and releases the teacher on an error;
 * - `selectOn: 'target-dev'` selects on the target dev set and says it is not zero-shot.
 */
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { DeepPartial, MsdConfig, StudentConfig } from '../../src/config.js';
import { readSafetensors } from '../../src/model/safetensors.js';
import { tf } from '../../src/tf.js';
import { readJsonl } from '../../src/run/io.js';
import { distillStudent } from '../../src/train/student.js';
import { trainTeacher } from '../../src/train/teacher.js';
import { noData, conllData, tinyConfig, tmpRun } from './helpers.js';

let teacherRun = '';
let relabelledRoot = '';

/** A data root whose Dutch files hold the first sentences of the real ones with every tag changed (O <-> B-PER). */
function relabelledData(): string {
  const root = tmpRun('relabelled');
  mkdirSync(join(root, 'conll2002', 'nl'), { recursive: true });
  symlinkSync(join(conllData, 'es'), join(root, 'conll2002', 'es'));
  for (const file of ['ned.train', 'ned.testa', 'ned.testb']) {
    const lines = readFileSync(join(conllData, 'nl', file), 'latin1')
      .split('\n')
      .slice(0, 1500);
    const changed = lines.map((l) => {
      const parts = l.split(' ');
      if (parts.length < 2 || parts[0] === '-DOCSTART-') return l;
      parts[parts.length - 1] = parts[parts.length - 1] === 'O' ? 'B-PER' : 'O';
      return parts.join(' ');
    });
    writeFileSync(
      join(root, 'conll2002', 'nl', file),
      changed.slice(0, changed.lastIndexOf('')).join('\n') + '\n',
      'latin1',
    );
  }
  return root;
}

before(async () => {
  if (noData) return;
  teacherRun = tmpRun('student-teacher');
  await trainTeacher(tinyConfig(teacherRun));
  relabelledRoot = relabelledData();
});

function variant(
  name: string,
  student: DeepPartial<StudentConfig>,
  data: DeepPartial<MsdConfig['data']> = {},
): MsdConfig {
  return tinyConfig(tmpRun(`student-${name}`), { student, data, run: { teacherDir: teacherRun } });
}

type Step = { kind: 'step'; step: number; loss: number; terms: Record<string, number> };
type Eval = { kind: 'eval'; step: number; score: number; devLang: string };

async function distil(cfg: MsdConfig): Promise<{ steps: Step[]; evals: Eval[] }> {
  await distillStudent(cfg, 'nl');
  const log = readJsonl<Step | Eval>(join(cfg.run.outDir, 'students', 'nl', 'metrics.jsonl'));
  return {
    steps: log.filter((r): r is Step => r.kind === 'step'),
    evals: log.filter((r): r is Eval => r.kind === 'eval'),
  };
}

const close = (a: number, b: number) => Math.abs(a - b) <= 1e-5 * Math.max(1, Math.abs(b));

// initFrom 'teacher': with no dropout (the test model has none) the student at step 1 is the teacher, so every KD
// term and MMD_M (teacher vs student [CLS] on the same source sentences) are exactly 0 there, and only there.
const MODES: {
  name: string;
  student: DeepPartial<StudentConfig>;
  kd: number[];
  mmdM: boolean;
  mmdL: boolean;
  asTeacher?: boolean;
}[] = [
  { name: 'full', student: {}, kd: [4, 2, 3], mmdM: true, mmdL: true },
  { name: 'noAux', student: { ablation: { noAux: true } }, kd: [4], mmdM: true, mmdL: true },
  { name: 'noMmdM', student: { ablation: { noMmdM: true } }, kd: [4, 2, 3], mmdM: false, mmdL: true },
  { name: 'noMmdL', student: { ablation: { noMmdL: true } }, kd: [4, 2, 3], mmdM: true, mmdL: false },
  {
    name: 'all three',
    student: { ablation: { noAux: true, noMmdM: true, noMmdL: true } },
    kd: [4],
    mmdM: false,
    mmdL: false,
  },
  {
    name: 'initFrom teacher',
    student: { initFrom: 'teacher' },
    kd: [4, 2, 3],
    mmdM: true,
    mmdL: true,
    asTeacher: true,
  },
];

for (const mode of MODES) {
  test(`student ${mode.name}: exactly its loss terms, and no target label read`, { skip: noData }, async () => {
    const cfg = variant(mode.name, mode.student);
    const { steps, evals } = await distil(cfg);
    assert.ok(steps.length >= 3, `${steps.length} steps`);
    for (const { step, terms, loss } of steps) {
      const want = [
        'total',
        'stu',
        'aux',
        ...mode.kd.map((m) => `kd_${m}`),
        ...(mode.mmdM ? ['mmd_M'] : []),
        ...(mode.mmdL ? ['mmd_L'] : []),
      ];
      assert.deepEqual(Object.keys(terms).sort(), want.sort(), `step ${step}`);
      // A student that starts as its teacher matches the teacher's cached outputs at step 1, up to float rounding:
      // its pass runs the target and source rows as one batch (src/train/student-pass.ts), whose products round
      // differently from the teacher's forward: KD terms ~1e-20 (squares of ~1e-10 differences), MMD_M ~1e-6 (a
      // difference of float32 kernel means of order 1, so of either sign).
      const zero = mode.asTeacher === true && step === 1;
      const isZero = (v: number | undefined, tol: number) => v !== undefined && v >= 0 && v < tol;
      const nearZero = (v: number | undefined, tol: number) => v !== undefined && Math.abs(v) < tol;
      for (const m of mode.kd)
        assert.ok(
          zero ? isZero(terms[`kd_${m}`], 1e-12) : terms[`kd_${m}`]! > 0,
          `step ${step}: kd_${m} = ${terms[`kd_${m}`]}`,
        );
      if (mode.kd.length === 1) assert.equal(terms.aux, 0, 'no auxiliary layer, no auxiliary term');
      if (mode.mmdM)
        assert.ok(zero ? nearZero(terms.mmd_M, 1e-5) : terms.mmd_M! > 0, `step ${step}: mmd_M = ${terms.mmd_M}`);
      if (mode.mmdL) assert.ok(terms.mmd_L! > 0, `step ${step}: mmd_L = ${terms.mmd_L}`);
      // L_final = L_12^KD + beta * aux + alpha' MMD_M + beta' MMD_L, with exactly the terms that are there.
      const s = cfg.student;
      assert.ok(
        close(terms.stu!, terms.kd_4! + s.beta * terms.aux!),
        `step ${step}: stu ${terms.stu} vs kd_4 + beta aux`,
      );
      const total = terms.stu! + s.alphaPrime * (terms.mmd_M ?? 0) + s.betaPrime * (terms.mmd_L ?? 0);
      assert.ok(close(terms.total!, total) && close(loss, total), `step ${step}: total ${terms.total} vs ${total}`);
    }
    assert.ok(evals.length > 0 && evals.every((e) => e.devLang === 'es'), 'selected on the source dev set');

    // The same run with every Dutch tag changed: bit-identical logs, so no target label reached loss or selection.
    const relabelled = await distil(variant(`${mode.name}-relabelled`, mode.student, { root: relabelledRoot }));
    const numbers = (r: { steps: Step[]; evals: Eval[] }) => [
      ...r.steps.map((x) => [x.step, x.loss, x.terms]),
      ...r.evals.map((x) => [x.step, x.score]),
    ];
    assert.deepEqual(numbers(relabelled), numbers({ steps, evals }));
  });
}

test("initFrom 'teacher': the student starts as the teacher (pretrained: it does not)", { skip: noData }, async () => {
  const weights = (dir: string) => {
    const f = readSafetensors(join(dir, 'model.safetensors'));
    return Object.fromEntries(f.names.map((k) => [k, Array.from(f.getFloat32(k))]));
  };
  const teacher = weights(join(teacherRun, 'teacher', 'best'));
  for (const initFrom of ['teacher', 'pretrained'] as const) {
    const cfg = variant(`init-${initFrom}`, { initFrom, epochs: 0 }); // no step: the selected model is the initial one
    const r = await distillStudent(cfg, 'nl');
    const student = weights(r.bestDir);
    assert.deepEqual(Object.keys(student).sort(), Object.keys(teacher).sort());
    const same = Object.keys(teacher).every((k) => student[k]!.every((v, i) => v === teacher[k]![i]));
    assert.equal(same, initFrom === 'teacher', `initFrom ${initFrom}`);
  }
});

test("initFrom 'teacher': an error while the teacher cache is computed leaks no tensor", { skip: noData }, async () => {
  const cfg = variant('init-teacher-error', { initFrom: 'teacher' });
  writeFileSync(join(cfg.run.outDir, 'cache'), 'a file where the cache directory goes');
  await distillStudent(variant('warm-up', { epochs: 0 }), 'nl'); // backend and lazy kernels initialised first
  const before = tf.memory().numTensors;
  await assert.rejects(distillStudent(cfg, 'nl'), /cache/);
  assert.equal(tf.memory().numTensors, before, 'tensors left behind by the failed call');
});

test(
  "selectOn 'target-dev': selection reads the target dev set and the run is marked not zero-shot",
  { skip: noData },
  async () => {
    const cfg = variant('target-dev', { selectOn: 'target-dev' });
    const r = await distillStudent(cfg, 'nl');
    assert.equal(r.zeroShot, false);
    const evals = readJsonl<Eval>(join(cfg.run.outDir, 'students', 'nl', 'metrics.jsonl')).filter(
      (e) => e.kind === 'eval',
    );
    assert.ok(
      evals.length > 0 && evals.every((e) => e.devLang === 'nl'),
      `dev languages ${evals.map((e) => e.devLang)}`,
    );
    const report = JSON.parse(readFileSync(join(cfg.run.outDir, 'students', 'nl', 'train-report.json'), 'utf8')) as {
      zeroShot: boolean;
      selectOn: string;
    };
    assert.deepEqual([report.zeroShot, report.selectOn], [false, 'target-dev']);
  },
);

test(
  'distillStudent with force deletes only this student before starting; the teacher and the cache stay',
  { skip: noData },
  async () => {
    const cfg = variant('force', { epochs: 0 });
    await distillStudent(cfg, 'nl');
    const marker = join(cfg.run.outDir, 'students', 'nl', 'old-result.json');
    writeFileSync(marker, '{}');
    await distillStudent(cfg, 'nl');
    assert.ok(existsSync(marker), 'without force the student directory is reused');
    await distillStudent(cfg, 'nl', { force: true });
    assert.ok(!existsSync(marker), 'force: the old student is gone');
    assert.ok(existsSync(join(cfg.run.outDir, 'students', 'nl', 'best', 'model.safetensors')));
    assert.ok(existsSync(join(teacherRun, 'teacher', 'best', 'model.safetensors')));
    assert.equal(readdirSync(join(cfg.run.outDir, 'cache')).length, 1);
  },
);
