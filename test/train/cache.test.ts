/**
 * The teacher-output cache (src/train/cache.ts): its key changes with the teacher's weights and the settings, each
 * file is refused for other windows, round trips are exact, and a student run never reuses stale outputs.
 */
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { unlabelled } from '../../src/data/unlabelled.js';
import { disposeNerModel, saveNerModel, type NerModel } from '../../src/model/ner-model.js';
import { tf } from '../../src/tf.js';
import { firstPieceMask } from '../../src/tokenizer/align.js';
import { makeBatches } from '../../src/tokenizer/batching.js';
import { encodeDataset } from '../../src/tokenizer/dataset.js';
import { batchToTensors, disposeBatchTensors } from '../../src/tokenizer/tensors.js';
import {
  computeCls,
  computeTargetProbs,
  loadCls,
  loadTargetProbs,
  saveCls,
  saveTargetProbs,
  teacherCacheKey,
  windowsFingerprint,
} from '../../src/train/cache.js';
import { backendFor } from '../../src/train/backend.js';
import { loadSplit } from '../../src/train/data.js';
import type { ProgressEvent } from '../../src/train/progress.js';
import { newModel, pretrainedDir } from '../../src/train/models.js';
import { runDir } from '../../src/run/dir.js';
import { distillStudent } from '../../src/train/student.js';
import { noData, tinyConfig, tmpRun } from './helpers.js';

const cfg = tinyConfig(tmpRun('cache'));
let model: NerModel;
let dir = '';

before(async () => {
  if (noData) return;
  await backendFor(cfg);
  dir = await pretrainedDir(cfg);
  model = newModel('teacher', dir, loadSplit(cfg, 'es', 'train').schema, cfg, 5);
});

function windows(n = 6, maxLength = cfg.data.maxLength) {
  return encodeDataset(model.tokenizer, unlabelled(loadSplit(cfg, 'nl', 'train')).slice(0, n), { maxLength }).encoded;
}

test(
  'windowsFingerprint: same windows, same print; other ids, order, sentences or windowing, another',
  { skip: noData },
  () => {
    const w = windows();
    assert.equal(windowsFingerprint(w), windowsFingerprint(windows()));
    const changedId = w.map((x, i) =>
      i === 2 ? { ...x, inputIds: Int32Array.from(x.inputIds, (v, j) => (j === 1 ? v + 1 : v)) } : x,
    );
    const prints = [w, changedId, [...w].reverse(), windows(5), windows(6, 16)].map(windowsFingerprint);
    assert.equal(new Set(prints).size, prints.length, prints.join(' '));
  },
);

test(
  "teacherCacheKey: changes with the teacher's weights and with every setting, not otherwise",
  { skip: noData },
  () => {
    const a = mkdtempSync(join(tmpdir(), 'msd-cache-key-'));
    writeFileSync(join(a, 'model.safetensors'), 'weights A');
    const settings = { maxLength: 32, clsLayer: 4, heads: [2, 3, 4] };
    const key = teacherCacheKey(a, settings);
    assert.match(key, /^teacher-[0-9a-f]{12}$/);
    assert.equal(teacherCacheKey(a, { ...settings }), key);
    const keys = [
      teacherCacheKey(a, { ...settings, maxLength: 64 }),
      teacherCacheKey(a, { ...settings, clsLayer: 3 }),
      teacherCacheKey(a, { ...settings, heads: [3, 4] }),
    ];
    writeFileSync(join(a, 'model.safetensors'), 'weights B');
    keys.push(teacherCacheKey(a, settings));
    assert.equal(new Set([key, ...keys]).size, 5, [key, ...keys].join(' '));
  },
);

test(
  'computeTargetProbs: the softmax of every head at every first sub-token, exact save/load, refused for other windows, no leak',
  { skip: noData },
  () => {
    const w = windows();
    const before = tf.memory().numTensors;
    const tp = computeTargetProbs(model, w, 4);
    assert.equal(tf.memory().numTensors, before);
    // Reference: one window at a time through the model.
    const C = model.heads.numLabels;
    w.forEach((win, k) => {
      const [batch] = makeBatches([win], { batchSize: 1, shuffle: false, padId: model.tokenizer.padId });
      const x = batchToTensors(batch!);
      const mask = firstPieceMask(win.wordIndex);
      tf.tidy(() => {
        const logits = model.heads.logits(model.encoder.forward(x, { training: false }).hidden, { training: false });
        for (const m of tp.layers) {
          const p = tf.softmax(logits.get(m)!).dataSync();
          let row = tp.offsets[k]!;
          for (let t = 0; t < mask.length; t++) {
            if (!mask[t]) continue;
            for (let c = 0; c < C; c++)
              assert.ok(
                Math.abs(tp.probs.get(m)![row * C + c]! - p[t * C + c]!) < 1e-5,
                `window ${k} layer ${m} position ${t}`,
              );
            row++;
          }
          assert.equal(row, tp.offsets[k + 1]);
        }
      });
      disposeBatchTensors(x);
    });
    const path = join(mkdtempSync(join(tmpdir(), 'msd-cache-io-')), 'target.safetensors');
    saveTargetProbs(path, tp, windowsFingerprint(w));
    const back = loadTargetProbs(path, windowsFingerprint(w))!;
    assert.deepEqual(back.layers, tp.layers);
    assert.deepEqual(Array.from(back.offsets), Array.from(tp.offsets));
    for (const m of tp.layers) assert.deepEqual(back.probs.get(m), tp.probs.get(m));
    assert.equal(loadTargetProbs(path, windowsFingerprint(windows(5))), undefined, 'other windows: refused');

    const cls = computeCls(model, w, 4, 4);
    assert.equal(cls.length, w.length * model.encoder.config.hiddenSize);
    const clsPath = join(mkdtempSync(join(tmpdir(), 'msd-cache-cls-')), 'cls.safetensors');
    saveCls(clsPath, cls, model.encoder.config.hiddenSize, windowsFingerprint(w));
    assert.deepEqual(loadCls(clsPath, windowsFingerprint(w)), cls);
    assert.equal(loadCls(clsPath, windowsFingerprint(windows(5))), undefined);
  },
);

test(
  'a student run recomputes the cache for a changed teacher or changed windows, and reuses it otherwise',
  { skip: noData },
  async () => {
    const studentCfg = tinyConfig(cfg.run.outDir, { student: { epochs: 0 } }); // no step: only the cache matters here
    const run = runDir(cfg.run.outDir);
    run.init(studentCfg);
    saveNerModel(run.teacher().best, model, { tokenizerFrom: dir });
    const computed = async (over: Parameters<typeof distillStudent>[2] = {}) => {
      const events: ProgressEvent[] = [];
      await distillStudent(studentCfg, 'nl', { ...over, onProgress: (e) => events.push(e) });
      return events.filter((e) => e.task === 'cache:nl').map((e) => (e.message ?? '').replace(/ on .*/, ''));
    };
    assert.deepEqual(await computed(), ['teacher probabilities', 'teacher [CLS]'], 'first run: computed');
    assert.deepEqual(await computed(), [], 'same teacher, same windows: reused');
    const target = unlabelled(loadSplit(cfg, 'nl', 'train')).slice(0, 10);
    assert.deepEqual(
      await computed({ target }),
      ['teacher probabilities'],
      'other target windows: recomputed (source [CLS] reused)',
    );
    // Another teacher: new weights in teacher/best, so a new cache directory.
    const other = newModel('teacher', dir, model.schema, cfg, 6);
    saveNerModel(run.teacher().best, other, { tokenizerFrom: dir });
    disposeNerModel(other);
    assert.deepEqual(await computed(), ['teacher probabilities', 'teacher [CLS]'], 'changed teacher: recomputed');
    assert.equal(readdirSync(join(cfg.run.outDir, 'cache')).length, 2);
  },
);
