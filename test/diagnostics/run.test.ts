/**
 * runDiagnostics on a small run directory: two saved tiny random models (teacher/best, students/nl/best) and the
 * run's config pointing at the real CoNLL-2002 es/nl test data (limited to 40 sentences). It writes MMD per layer and
 * the Figure-2 projection, and the report then holds the MMD chart and the scatter.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveConfig } from '../../src/config.js';
import { labelSchema } from '../../src/data/schema.js';
import { loadBert } from '../../src/model/checkpoint.js';
import { LayerHeads } from '../../src/model/heads.js';
import { disposeNerModel, saveNerModel, type NerModel } from '../../src/model/ner-model.js';
import { writeTinyCheckpoint } from '../../src/model/tiny.js';
import { loadTokenizer } from '../../src/tokenizer/load.js';
import { runDiagnostics, type ProjectionRow } from '../../src/diagnostics/run.js';
import type { MmdRow } from '../../src/diagnostics/mmd.js';
import { runCharts } from '../../src/viz/index.js';
import { REAL_DATA } from '../real-data.js';

const dataRoot = REAL_DATA ?? '';

const made: string[] = [];
after(() => made.forEach((d) => rmSync(d, { recursive: true, force: true })));

function saveTiny(run: string, sub: string, seed: number): void {
  const ckpt = mkdtempSync(join(tmpdir(), 'msd-diag-ckpt-'));
  made.push(ckpt);
  writeTinyCheckpoint(ckpt, { seed, hiddenSize: 16, numLayers: 3, numHeads: 2, intermediateSize: 32 });
  const schema = labelSchema(['PER', 'ORG', 'LOC', 'MISC']);
  const { encoder } = loadBert(ckpt);
  const heads = new LayerHeads({ hiddenSize: 16, numLabels: schema.tags.length, numLayers: 3, layers: [2, 3], seed });
  const model: NerModel = { name: sub, encoder, heads, tokenizer: loadTokenizer(ckpt), schema, maxLength: 32 };
  saveNerModel(join(run, sub, 'best'), model, { tokenizerFrom: ckpt });
  disposeNerModel(model);
}

/** The tiny preset on CoNLL-2002 es -> nl with `test` test sentences, on the cpu backend. */
function tinyEsNl(test: number, run: { outDir: string; teacherDir?: string }) {
  return resolveConfig('tiny', {
    data: { root: dataRoot, corpus: 'conll2002', source: 'es', targets: ['nl'], limit: { train: 0, dev: 0, test } },
    run: { ...run, backend: 'cpu' },
  });
}

test(
  'runDiagnostics writes MMD per layer and the projection; the report draws them',
  { skip: existsSync(join(dataRoot, 'conll2002')) ? undefined : `no CoNLL-2002 data under ${dataRoot}` },
  async () => {
    const run = mkdtempSync(join(tmpdir(), 'msd-diag-run-'));
    made.push(run);
    const cfg = tinyEsNl(40, { outDir: run });
    writeFileSync(join(run, 'config.json'), JSON.stringify(cfg, null, 2));
    saveTiny(run, 'teacher', 3);
    mkdirSync(join(run, 'students'));
    saveTiny(run, join('students', 'nl'), 4);
    const messages: string[] = [];
    const out = await runDiagnostics(run, { sample: 20, projectSample: 12, onProgress: (m) => messages.push(m) });
    const mmd = JSON.parse(readFileSync(join(run, 'diagnostics', 'mmd.json'), 'utf8')) as MmdRow[];
    assert.deepEqual(mmd, out.mmd);
    assert.deepEqual(
      mmd.map((r) => `${r.model}/${r.pair}/${r.layer}`),
      [
        ...[1, 2, 3].map((l) => `teacher/source-target/${l}`),
        ...[1, 2, 3].map((l) => `student:nl/source-target/${l}`),
        ...[1, 2, 3].map((l) => `teacher vs student:nl/teacher-student (source)/${l}`),
      ],
    );
    assert.ok(mmd.every((r) => Number.isFinite(r.mmd2) && r.mmd2 > 0));
    const proj = JSON.parse(readFileSync(join(run, 'diagnostics', 'projection.json'), 'utf8')) as ProjectionRow[];
    assert.equal(proj.length, 2 * 24, '12 es + 12 nl sentences for each of the two models');
    assert.deepEqual([...new Set(proj.map((p) => p.language))], ['es', 'nl']);
    assert.ok(proj.every((p) => Number.isFinite(p.x) && Number.isFinite(p.y) && p.id.startsWith('conll2002/')));
    assert.ok(messages.some((m) => /projection \(t-sne\)/.test(m)));
    const names = runCharts(run).map((c) => c.name);
    assert.ok(names.includes('mmd-by-layer') && names.includes('projection'), names.join(', '));
    await assert.rejects(runDiagnostics(join(run, 'nope')), /config.json not found/);
  },
);

test(
  'runDiagnostics on a sweep cell that reuses a shared teacher reads the teacher from the shared run',
  { skip: existsSync(join(dataRoot, 'conll2002')) ? undefined : `no CoNLL-2002 data under ${dataRoot}` },
  async () => {
    const shared = mkdtempSync(join(tmpdir(), 'msd-diag-teacher-'));
    const cell = mkdtempSync(join(tmpdir(), 'msd-diag-cell-'));
    made.push(shared, cell);
    const cfg = tinyEsNl(30, { outDir: cell, teacherDir: shared });
    writeFileSync(join(cell, 'config.json'), JSON.stringify(cfg, null, 2));
    saveTiny(shared, 'teacher', 3); // the cell has no teacher/ of its own
    saveTiny(cell, join('students', 'nl'), 4);
    const out = await runDiagnostics(cell, { sample: 12, projectSample: 8 });
    assert.deepEqual([...new Set(out.mmd.map((r) => r.model))], ['teacher', 'student:nl', 'teacher vs student:nl']);
    assert.deepEqual(out.paths, [join(cell, 'diagnostics', 'mmd.json'), join(cell, 'diagnostics', 'projection.json')]);
    assert.ok(!existsSync(join(shared, 'diagnostics')), 'written into the cell, not the shared run');
    assert.deepEqual([...new Set(out.projection.map((p) => p.model))], ['teacher', 'student:nl']);
  },
);
