/**
 * `msd export --format hf` and its way back in:
 * - the export holds exactly transformers' BertForTokenClassification tensors in model.safetensors, every head in the
 *   side file, and re-imports without loss (every tensor bit for bit; `--layer m` too);
 * - a token-classification checkpoint starts a teacher: encoder and main head load (rows reordered by id2label into
 *   the corpus's schema), auxiliary heads start fresh, an unmappable label is an error naming it;
 * - against real Python transformers (the venv of kernel-setup/hf-venv.sh): no missing or unexpected keys, the same
 *   token ids, logits within 1e-4 on real CoNLL-2002 nl and es test sentences, and pipeline('token-classification')
 *   finding the entities that `predict` (what `msd predict` prints) finds. Skipped, saying why, without the venv.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { labelSchema } from '../../src/data/schema.js';
import { loadDataset } from '../../src/data/registry.js';
import { predict, pretokenize, wordOffsets } from '../../src/eval/predict.js';
import { HEADS_FILE, loadBert } from '../../src/model/checkpoint.js';
import { exportHf } from '../../src/model/export-hf.js';
import { disposeNerModel, loadNerModel, type NerModel } from '../../src/model/ner-model.js';
import { mapClassifier, normalizeLabel } from '../../src/model/classifier-labels.js';
import { readSafetensors, writeSafetensors } from '../../src/model/safetensors.js';
import { tf } from '../../src/tf.js';
import { encodeDataset } from '../../src/tokenizer/dataset.js';
import { newModel } from '../../src/train/models.js';
import { resolveConfig } from '../../src/config.js';
import { noRealData, noRealTokenizer, REAL_DATA } from '../real-data.js';
import { MAX_LENGTH, SCHEMA, savedModel } from './saved-model.js';

const tmp = () => mkdtempSync(join(tmpdir(), 'export-hf-'));

/** Every tensor of a loaded model by our name. */
function tensorsOf(m: NerModel): Map<string, Float32Array> {
  return new Map(
    [...m.encoder.variables(), ...m.heads.variables()].map(({ name, variable }) => [
      name,
      variable.dataSync() as Float32Array,
    ]),
  );
}

const noTokenizer = noRealTokenizer();

test(
  'the export is a plain BertForTokenClassification checkpoint and re-imports without loss',
  { skip: noTokenizer },
  () => {
    const dir = tmp();
    try {
      savedModel(dir);
      const best = join(dir, 'best');
      const original = loadNerModel(best);
      const want = tensorsOf(original);
      for (const layer of [undefined, 1]) {
        const out = join(dir, `hf-${layer ?? 'main'}`);
        const r = exportHf(best, out, { layer });
        const m = layer ?? 3;
        assert.equal(r.layer, m);
        // model.safetensors: bert.* up to the head's layer, and transformers' classifier; nothing else.
        const names = readSafetensors(join(out, 'model.safetensors')).names;
        assert.ok(names.includes('classifier.weight') && names.includes('classifier.bias'));
        for (const n of names) assert.match(n, /^(bert\.|classifier\.(weight|bias)$)/, n);
        const layersIn = new Set(names.map((n) => /^bert\.encoder\.layer\.(\d+)\./.exec(n)?.[1]).filter(Boolean));
        assert.deepEqual(
          [...layersIn].sort(),
          Array.from({ length: m }, (_, i) => String(i)),
        );
        const cfg = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8'));
        assert.deepEqual(cfg.architectures, ['BertForTokenClassification']);
        assert.equal(cfg.num_hidden_layers, m);
        assert.equal(cfg.msd_heads.num_hidden_layers, 3);
        assert.deepEqual(Object.values(cfg.id2label), SCHEMA.tags);
        assert.equal(cfg.label2id['B-LOC'], SCHEMA.tagToId.get('B-LOC'));
        for (const f of ['vocab.txt', 'tokenizer_config.json', 'training_config.json', HEADS_FILE])
          assert.ok(existsSync(join(out, f)), f);
        // classifier = head m, in PyTorch's [labels, hidden] layout.
        const w = readSafetensors(join(out, 'model.safetensors')).getFloat32('classifier.weight');
        const k = want.get(`classifier.layer_${m}.kernel`)!;
        assert.equal(w[2 * 32 + 5], k[5 * SCHEMA.tags.length + 2]);
        // Back in: the same model, every tensor equal.
        const back = loadNerModel(out);
        try {
          assert.deepEqual(back.heads.layers, [1, 2, 3]);
          assert.equal(back.maxLength, MAX_LENGTH);
          assert.deepEqual(back.schema.tags, SCHEMA.tags);
          const got = tensorsOf(back);
          assert.deepEqual([...got.keys()].sort(), [...want.keys()].sort());
          for (const [name, data] of want) assert.deepEqual(got.get(name), data, name);
        } finally {
          disposeNerModel(back);
        }
      }
      // What transformers trained last wins: a changed classifier.* replaces the head it was exported from.
      const out = join(dir, 'hf-main');
      const f = readSafetensors(join(out, 'model.safetensors'));
      const bias = f.getFloat32('classifier.bias').map((x) => x + 1);
      writeSafetensors(
        join(out, 'model.safetensors'),
        f.names.map((n) => [n, { shape: f.info(n).shape, data: n === 'classifier.bias' ? bias : f.getFloat32(n) }]),
      );
      const tuned = loadNerModel(out);
      try {
        assert.deepEqual(tensorsOf(tuned).get('classifier.layer_3.bias'), bias);
        assert.deepEqual(tensorsOf(tuned).get('classifier.layer_2.bias'), want.get('classifier.layer_2.bias'));
      } finally {
        disposeNerModel(tuned);
      }
      disposeNerModel(original);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
);

test(
  'a token-classification checkpoint starts a teacher: encoder and main head load, labels mapped by name, the rest fresh',
  { skip: noTokenizer },
  () => {
    const dir = tmp();
    try {
      savedModel(dir);
      const out = join(dir, 'hf');
      exportHf(join(dir, 'best'), out);
      // A checkpoint from elsewhere: no side file, its own label order and spelling, and one type fewer (no MISC).
      rmSync(join(out, HEADS_FILE));
      const cfgPath = join(out, 'config.json');
      const cfg = JSON.parse(readFileSync(cfgPath, 'utf8'));
      delete cfg.msd_heads;
      const theirs = ['B-ORGANIZATION', 'O', 'i-per', 'B-PER', 'I-LOC', 'B-LOC', 'I-ORG'];
      const rows = theirs.map((l) => SCHEMA.tagToId.get(l === 'B-ORGANIZATION' ? 'B-ORG' : l.toUpperCase())!);
      cfg.id2label = Object.fromEntries(theirs.map((l, i) => [String(i), l]));
      cfg.label2id = Object.fromEntries(theirs.map((l, i) => [l, i]));
      writeFileSync(cfgPath, JSON.stringify(cfg));
      const f = readSafetensors(join(out, 'model.safetensors'));
      const W = f.getFloat32('classifier.weight');
      const B = f.getFloat32('classifier.bias');
      const W2 = new Float32Array(theirs.length * 32);
      rows.forEach((r, i) => W2.set(W.subarray(r * 32, r * 32 + 32), i * 32));
      writeSafetensors(
        join(out, 'model.safetensors'),
        f.names.map((n) => [
          n,
          n === 'classifier.weight'
            ? { shape: [theirs.length, 32], data: W2 }
            : n === 'classifier.bias'
              ? { shape: [theirs.length], data: Float32Array.from(rows, (r) => B[r]!) }
              : { shape: f.info(n).shape, data: f.getFloat32(n) },
        ]),
      );

      const run = resolveConfig('tiny', {
        model: { pretrained: out, tiny: { enabled: false }, headLayers: [2, 3] },
        run: { evalLayers: [2, 3] },
      });
      const teacher = newModel('teacher', out, SCHEMA, run, 5, { mainHeadFromCheckpoint: true });
      const plain = newModel('teacher', out, SCHEMA, run, 5);
      try {
        const C = SCHEMA.tags.length;
        const t = tensorsOf(teacher);
        const p = tensorsOf(plain);
        const k = t.get('classifier.layer_3.kernel')!;
        const b = t.get('classifier.layer_3.bias')!;
        rows.forEach((r, i) => {
          assert.equal(b[r], B[r], `bias of ${SCHEMA.tags[r]} (their id ${i})`);
          for (let h = 0; h < 32; h += 7) assert.equal(k[h * C + r], W[r * 32 + h]);
        });
        // MISC is not in the checkpoint: its rows are the fresh head's; the auxiliary head is fresh.
        for (const tag of ['B-MISC', 'I-MISC']) {
          const r = SCHEMA.tagToId.get(tag)!;
          for (let h = 0; h < 32; h++) assert.equal(k[h * C + r], p.get('classifier.layer_3.kernel')![h * C + r]);
        }
        assert.deepEqual(t.get('classifier.layer_2.kernel'), p.get('classifier.layer_2.kernel'));
        assert.notDeepEqual(k, p.get('classifier.layer_3.kernel'));
        for (const n of ['embeddings.word_embeddings', 'layer.2.output.kernel'])
          assert.deepEqual(t.get(n), p.get(n), `encoder tensor ${n} loads either way`);
      } finally {
        disposeNerModel(teacher);
        disposeNerModel(plain);
      }

      // An unmappable label is an error naming it.
      const loaded = loadBert(out);
      try {
        const bad = { ...loaded.classifier!, labels: [...loaded.classifier!.labels!] };
        bad.labels[0] = 'B-DATE';
        const fresh = { kernel: new Float32Array(32 * 5), bias: new Float32Array(5) };
        assert.throws(
          () => mapClassifier(bad, labelSchema(['PER', 'ORG']), 'ckpt', fresh),
          /label "B-DATE" \(id 0 in id2label\) has no counterpart/,
        );
        bad.labels[0] = 'LABEL_0';
        assert.throws(
          () => mapClassifier(bad, labelSchema(['PER', 'ORG']), 'ckpt', fresh),
          /LABEL_0.*does not say what it tags/,
        );
      } finally {
        loaded.encoder.dispose();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
);

const VENV = resolve(process.env.MSD_HF_VENV ?? join('.venv', 'transformers'));
const PY = join(VENV, 'bin', 'python');
/** Why the venv cannot run the check (no venv, or transformers without PyTorch in it), or false. */
function pythonProblem(): string | false {
  const create = 'create it with `bash kernel-setup/hf-venv.sh` (CI does)';
  if (!existsSync(PY)) return `Python transformers is not installed: no ${PY}; ${create}`;
  const r = spawnSync(
    PY,
    [
      '-c',
      'import torch, transformers.utils as u; assert u.is_torch_available(), "transformers cannot use torch " + torch.__version__',
    ],
    {
      encoding: 'utf8',
      timeout: 120_000,
    },
  );
  const last = (r.stderr ?? '').trim().split('\n').pop();
  return r.status === 0
    ? false
    : `Python transformers does not work in ${VENV} (${last || r.error?.message}); ${create}`;
}

const whyNoPython = noTokenizer || noRealData('conll2002') || pythonProblem();

test(
  'real transformers loads the export: no missing keys, same logits (<= 1e-4) and same entities as predict',
  { skip: whyNoPython },
  (t) => {
    const dir = tmp();
    try {
      savedModel(dir);
      const out = join(dir, 'hf');
      exportHf(join(dir, 'best'), out);
      const model = loadNerModel(join(dir, 'best'));
      try {
        // Real test sentences that fit one window (transformers reads a sentence in one pass; predict windows longer ones).
        const texts: string[] = [];
        for (const lang of ['nl', 'es']) {
          const { sentences } = loadDataset('conll2002', lang, 'test', { root: REAL_DATA });
          let n = 0;
          for (const s of sentences) {
            const text = s.tokens.join(' ');
            const { encoded } = encodeDataset(model.tokenizer, [{ ...s, tokens: pretokenize(text) }], {
              maxLength: MAX_LENGTH,
            });
            if (encoded.length === 1 && s.tokens.length >= 6 && n < 20) {
              texts.push(text);
              n++;
            }
          }
        }
        const request = join(dir, 'request.json');
        const resaved = join(dir, 'resaved');
        writeFileSync(request, JSON.stringify({ sentences: texts, resave: resaved }));
        const py = JSON.parse(
          execFileSync(PY, [join('test', 'model', 'transformers_check.py'), out, request], {
            encoding: 'utf8',
            maxBuffer: 256 << 20,
            stdio: ['ignore', 'pipe', 'pipe'],
          }),
        ) as {
          class: string;
          loading_info: Record<string, string[]>;
          input_ids: number[][];
          logits: number[][][];
          simple: { type: string; start: number; end: number }[][];
          first: { type: string; start: number; end: number }[][];
          resaved_logits: number[][][];
          resaved_labels: string[];
        };
        assert.equal(py.class, 'BertForTokenClassification');
        for (const [k, v] of Object.entries(py.loading_info)) assert.deepEqual(v, [], `transformers ${k}`);

        // Ids and logits, sentence by sentence.
        let maxDiff = 0;
        texts.forEach((text, i) => {
          const words = pretokenize(text);
          const { encoded } = encodeDataset(
            model.tokenizer,
            [{ id: 's', lang: 'und', tokens: words, tags: words.map(() => 'O'), source: { file: '-', line: 1 } }],
            { maxLength: MAX_LENGTH },
          );
          const ids = [...encoded[0]!.inputIds];
          assert.deepEqual(py.input_ids[i], ids, `token ids of "${text}"`);
          const logits = tf.tidy(() => {
            const input = {
              inputIds: tf.tensor2d([ids], [1, ids.length], 'int32'),
              attentionMask: tf.ones([1, ids.length], 'int32') as tf.Tensor2D,
            };
            const { hidden } = model.encoder.forward(input, { training: false });
            return model.heads.logits(hidden, { training: false }).get(3)!.arraySync()[0]!;
          });
          logits.forEach((row, p) =>
            row.forEach((x, c) => (maxDiff = Math.max(maxDiff, Math.abs(x - py.logits[i]![p]![c]!)))),
          );
        });
        t.diagnostic(`${texts.length} sentences (nl + es test): max |logit difference| ${maxDiff.toExponential(2)}`);
        assert.ok(maxDiff <= 1e-4, `max abs logit difference ${maxDiff}`);

        // In from transformers: the checkpoint save_pretrained wrote (labels reversed and renamed) starts a teacher
        // whose main head computes transformers' logits, column for column under the label mapping.
        const run = resolveConfig('tiny', {
          model: { pretrained: resaved, tiny: { enabled: false }, headLayers: [1, 3] },
          run: { evalLayers: [1, 3] },
        });
        const logs: string[] = [];
        const teacher = newModel('teacher', resaved, SCHEMA, run, 5, {
          mainHeadFromCheckpoint: true,
          log: (m) => logs.push(m),
        });
        try {
          t.diagnostic(logs.join('; '));
          const column = SCHEMA.tags.map((tag) => py.resaved_labels.findIndex((l) => normalizeLabel(l) === tag));
          assert.ok(
            column.every((c) => c >= 0),
            `every tag maps: ${py.resaved_labels.join(' ')}`,
          );
          let diff = 0;
          texts.forEach((text, i) => {
            const ids = py.input_ids[i]!;
            const logits = tf.tidy(() => {
              const input = {
                inputIds: tf.tensor2d([ids], [1, ids.length], 'int32'),
                attentionMask: tf.ones([1, ids.length], 'int32') as tf.Tensor2D,
              };
              const { hidden } = teacher.encoder.forward(input, { training: false });
              return teacher.heads.logits(hidden, { training: false }).get(3)!.arraySync()[0]!;
            });
            logits.forEach((row, p) =>
              row.forEach((x, c) => (diff = Math.max(diff, Math.abs(x - py.resaved_logits[i]![p]![column[c]!]!)))),
            );
          });
          t.diagnostic(
            `teacher started from transformers' save_pretrained: max |logit difference| ${diff.toExponential(2)}`,
          );
          assert.ok(diff <= 1e-4, `max abs logit difference of the imported main head ${diff}`);
        } finally {
          disposeNerModel(teacher);
        }

        // Entities: ours (what `msd predict` prints) as character spans of the text, against the pipeline's.
        const ours = predict(model, texts).map((p, i) => {
          const off = wordOffsets(texts[i]!, p.tokens);
          return p.entities.map((e) => ({ type: e.type, start: off[e.start]![0], end: off[e.end - 1]![1] }));
        });
        const total = ours.reduce((n, e) => n + e.length, 0);
        assert.ok(total > 20, `the model finds entities to compare (${total})`);
        assert.deepEqual(
          py.first,
          ours,
          "aggregation_strategy='first' (a word's tag is its first sub-token's, as predict decodes)",
        );
        // 'simple' tags every sub-token on its own; where each word is one sub-token it must agree exactly.
        let same = 0;
        texts.forEach((text, i) => {
          const oneEach = pretokenize(text).every((w) => model.tokenizer.tokenizeWord(w).ids.length === 1);
          const eq = JSON.stringify(py.simple[i]) === JSON.stringify(ours[i]);
          if (eq) same++;
          if (oneEach) assert.deepEqual(py.simple[i], ours[i], `'simple' on "${text}"`);
        });
        t.diagnostic(
          `aggregation_strategy='simple' agrees with predict on ${same}/${texts.length} sentences (this model's heads are random, so a word's sub-tokens often disagree)`,
        );
      } finally {
        disposeNerModel(model);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
);
