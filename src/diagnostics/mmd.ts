/**
 * MMD diagnostics: how far apart two sets of [CLS] vectors are, layer by layer, with the loss's own estimator
 * (src/losses/mmd.ts: 5 Gaussian kernels, bandwidth = pooled mean squared distance x {1/4 .. 4}, biased MMD^2).
 *
 *   mmdByLayer([teacher, student], esSentences, nlSentences)     // DataFrame: model, layer, pair, mmd2
 *   crossModelMmd(teacher, student, esSentences)                 // teacher vs student on the same source sentences
 *
 * The paper's claim (Sec. 3.3): MMD_L pulls the student's target [CLS] towards the teacher's source [CLS], so a
 * student's source-target MMD^2 should be below the teacher's, at least in the upper layers.
 *
 *   pair 'source-target'            MMD^2(H_cls^model(source sample), H_cls^model(target sample))
 *   pair 'teacher-student (source)' MMD^2(H_cls^teacher(source sample), H_cls^student(same sentences))   (= MMD_M)
 *
 * Sampling: at most `sample` sentences of each set (default 200), drawn with the library's seeded RNG (same seed,
 * same sentences, same numbers). Memory of one MMD^2 is O((n + m)^2 d) floats (the loss keeps the explicit pairwise
 * differences): 200 + 200 vectors of width 768 take about 0.5 GB on the backend for a moment, width 32 about 20 MB.
 */
import { loadDanfo } from '../danfo.js';
import type { DataFrame } from 'danfojs-node';
import type { AnySentence } from '../data/types.js';
import { mmd, type MmdOptions } from '../losses/mmd.js';
import type { NerModel } from '../model/ner-model.js';
import { createRng, streamSeed } from '../rng.js';
import { tf } from '../tf.js';
import { clsByLayer, resolveLayers, type ClsMatrix } from './cls.js';

export interface MmdRow {
  model: string;
  layer: number;
  pair: string;
  mmd2: number;
}

export interface MmdByLayerOptions {
  /** Hidden layers (0 = embeddings); default 1..numLayers. */
  layers?: readonly number[];
  /** Sentences drawn from each set (default 200; all when the set is smaller). */
  sample?: number;
  /** Seed of the sample (default 1). */
  seed?: number;
  /** Sequences per forward pass (default 32). */
  batchSize?: number;
  /** Kernel options passed to the loss's `mmd` (default: the loss's defaults). */
  mmd?: MmdOptions;
  /** Called after each model and layer. */
  onProgress?: (message: string) => void;
}

export const SOURCE_TARGET = 'source-target';
export const TEACHER_STUDENT = 'teacher-student (source)';

/** A seeded sample of at most `n` sentences, in their original order. */
export function sampleSentences<T>(sentences: readonly T[], n: number, seed: number): T[] {
  if (!Number.isInteger(n) || n < 2) throw new Error(`sampleSentences: sample must be an integer >= 2, got ${n}`);
  if (sentences.length <= n) return [...sentences];
  const idx = createRng(seed)
    .shuffle(Array.from({ length: sentences.length }, (_, i) => i))
    .slice(0, n)
    .sort((a, b) => a - b);
  return idx.map((i) => sentences[i]!);
}

/**
 * The seeded sample of one side of a comparison: at most `n` sentences drawn from the stream
 * `diagnostics/source` or `diagnostics/target` of `seed` (src/rng.ts), so the source sample is the same in every
 * diagnostic of a run and the target's never follows from the source's.
 */
export function sampleSide<T>(sentences: readonly T[], n: number, seed: number, side: 'source' | 'target'): T[] {
  return sampleSentences(sentences, n, streamSeed(seed, `diagnostics/${side}`));
}

function mmd2(a: ClsMatrix, b: ClsMatrix, opts: MmdOptions | undefined): number {
  const t = tf.tidy(() => mmd(tf.tensor2d(a.data, [a.rows, a.dim]), tf.tensor2d(b.data, [b.rows, b.dim]), opts));
  const v = t.dataSync()[0]!;
  t.dispose();
  return v;
}

function checkSets(where: string, sets: Record<string, readonly AnySentence[]>): void {
  for (const [name, s] of Object.entries(sets)) {
    if (s.length < 2) throw new Error(`${where}: ${name} has ${s.length} sentence(s); expected at least 2`);
  }
}

/** Source-target MMD^2 per layer for each model, as plain rows (model, layer, pair, mmd2). */
export function mmdByLayerRows(
  models: NerModel | readonly NerModel[],
  source: readonly AnySentence[],
  target: readonly AnySentence[],
  opts: MmdByLayerOptions = {},
): MmdRow[] {
  const list = Array.isArray(models) ? (models as readonly NerModel[]) : [models as NerModel];
  if (list.length === 0) throw new Error('mmdByLayer: no model given');
  checkSets('mmdByLayer', { source, target });
  const seed = opts.seed ?? 1;
  const n = opts.sample ?? 200;
  const src = sampleSide(source, n, seed, 'source');
  const tgt = sampleSide(target, n, seed, 'target');
  const rows: MmdRow[] = [];
  for (const model of list) {
    const layers = resolveLayers(model, opts.layers, 'mmdByLayer');
    const a = clsByLayer(model, src, layers, opts);
    const b = clsByLayer(model, tgt, layers, opts);
    for (const m of layers) {
      rows.push({ model: model.name, layer: m, pair: SOURCE_TARGET, mmd2: mmd2(a.get(m)!, b.get(m)!, opts.mmd) });
      opts.onProgress?.(`${model.name} layer ${m}: MMD^2 ${rows[rows.length - 1]!.mmd2.toPrecision(4)}`);
    }
  }
  return rows;
}

/** Teacher vs student [CLS] on the same source sentences (the MMD_M term), per layer, as plain rows. */
export function crossModelMmdRows(
  teacher: NerModel,
  student: NerModel,
  source: readonly AnySentence[],
  opts: MmdByLayerOptions = {},
): MmdRow[] {
  checkSets('crossModelMmd', { source });
  const layers = resolveLayers(teacher, opts.layers, 'crossModelMmd');
  resolveLayers(student, layers, 'crossModelMmd');
  if (teacher.encoder.config.hiddenSize !== student.encoder.config.hiddenSize) {
    throw new Error(
      `crossModelMmd: ${teacher.name} has width ${teacher.encoder.config.hiddenSize} and ${student.name} ${student.encoder.config.hiddenSize}; expected the same`,
    );
  }
  const src = sampleSide(source, opts.sample ?? 200, opts.seed ?? 1, 'source');
  const a = clsByLayer(teacher, src, layers, opts);
  const b = clsByLayer(student, src, layers, opts);
  return layers.map((m) => ({
    model: `${teacher.name} vs ${student.name}`,
    layer: m,
    pair: TEACHER_STUDENT,
    mmd2: mmd2(a.get(m)!, b.get(m)!, opts.mmd),
  }));
}

/** MMD rows as a danfojs DataFrame with columns model, layer, pair, mmd2. */
export function mmdFrame(rows: readonly MmdRow[]): DataFrame {
  const { DataFrame } = loadDanfo();
  const columns = ['model', 'layer', 'pair', 'mmd2'];
  return new DataFrame(
    rows.map((r) => [r.model, r.layer, r.pair, r.mmd2]),
    { columns },
  );
}

/**
 * Source-target MMD^2 at every layer for each model; with `opts.crossModel` (default true) and two or more models,
 * also the first model (the teacher) against each other one on the source sample. A tidy DataFrame: model, layer,
 * pair, mmd2.
 */
export function mmdByLayer(
  models: NerModel | readonly NerModel[],
  source: readonly AnySentence[],
  target: readonly AnySentence[],
  opts: MmdByLayerOptions & { crossModel?: boolean } = {},
): DataFrame {
  const list = Array.isArray(models) ? (models as readonly NerModel[]) : [models as NerModel];
  const rows = mmdByLayerRows(list, source, target, opts);
  if ((opts.crossModel ?? true) && list.length >= 2) {
    for (const student of list.slice(1)) rows.push(...crossModelMmdRows(list[0]!, student, source, opts));
  }
  return mmdFrame(rows);
}

/** `crossModelMmdRows` as a DataFrame. */
export function crossModelMmd(
  teacher: NerModel,
  student: NerModel,
  source: readonly AnySentence[],
  opts: MmdByLayerOptions = {},
): DataFrame {
  return mmdFrame(crossModelMmdRows(teacher, student, source, opts));
}
