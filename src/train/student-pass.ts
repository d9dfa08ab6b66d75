/**
 * One forward pass of a student step: the target rows (the KD terms, and MMD_L's [CLS]) and, when MMD_M is on, the
 * source rows (MMD_M's [CLS]). When one side is small (fewer than `MERGE_BELOW_ROWS` real tokens), both sides run as
 * ONE batch of the encoder, target rows first:
 *
 *   pass = [target rows; source rows], padded to the longer of the two lengths
 *   hidden_m(target) = pass hidden_m[0:b_t, 0:t_t]        (the heads' input, layers 4-12 in the paper)
 *   H_cls(target)    = pass H_cls[0:b_t],   H_cls(source) = pass H_cls[b_t:]
 *
 * otherwise each side runs a forward of its own (the source's dropout seed `sourceSeed` of the pass's).
 *
 * Why: the layers run on the packed real tokens (model/packing.ts), so a merged pass makes each dense product one
 * call over both sides' rows, and products of few rows run far below the BLAS rate (`node --import tsx
 * bench/matmul-rows.ts`, [rows, 768] x [768, 3072] on this 2-core machine, two runs on 5 December: 66-81 GFLOP/s at
 * 24 rows, 132-167 at 88, 173-182 at 160, 187-199 from 512 on), while a cut mBERT student batch often pairs a few
 * short target rows with longer source rows (the speed bench's micro-batches: 8 x 3 target rows with 8 x 92 source
 * rows). The cost is the attention, which sees the shorter side's rows padded to the pass's length: when both sides
 * are large the products gain little and that cost dominates (the tiny preset's student, 64 + 64 rows 64 wide, all
 * merged: 41,100-42,100 real tokens/s against 47,000-47,700 apart, its per-head products 8 -> 14 ms a step), hence
 * the rule.
 *
 * Each side's rows get the values of a forward of their own (every op but the attention is row-wise, padded keys
 * get zero attention weight; float rounding of the products aside; test/train/student-pass.test.ts), with one
 * difference: in a merged pass one dropout seed, the pass's, draws the masks of both sides' rows (the reference code
 * runs the source forward separately, with masks of its own; the distribution of the masks is the same).
 */
import type { MsdConfig } from '../config.js';
import { clsSlice } from '../model/cls.js';
import type { NerModel } from '../model/ner-model.js';
import { tf } from '../tf.js';
import { padBatch, realTokens, type Batch } from '../tokenizer/batching.js';
import { streamSeed } from '../rng.js';
import { batchToTensors } from '../tokenizer/tensors.js';

/** Passes where one side has fewer real tokens than this run as one encoder batch (see the header). */
export const MERGE_BELOW_ROWS = 512;

/** The dropout seed of the source rows' own forward in a pass that is not merged. */
export function sourceSeed(passSeed: number): number {
  return streamSeed(passSeed, 'mmd-source');
}

/**
 * One encoder forward of a pass: its batch, dropout seed, and how its rows split: the first `targetRows` rows are
 * the target's, the next `sourceRows` the source's.
 */
export interface PassForward {
  batch: Batch;
  seed: number;
  targetRows: number;
  sourceRows: number;
}

/** The forwards of a pass (see the header): one batch of both sides, or one batch per side. */
export function passForwards(target: Batch, source: Batch | undefined, seed: number, padId: number): PassForward[] {
  const bt = target.shape[0];
  if (!source) return [{ batch: target, seed, targetRows: bt, sourceRows: 0 }];
  const bs = source.shape[0];
  if (Math.min(realTokens(target), realTokens(source)) < MERGE_BELOW_ROWS)
    return [{ batch: padBatch([...target.items, ...source.items], padId), seed, targetRows: bt, sourceRows: bs }];
  return [
    { batch: target, seed, targetRows: bt, sourceRows: 0 },
    { batch: source, seed: sourceSeed(seed), targetRows: 0, sourceRows: bs },
  ];
}

export interface PassOptions {
  /** The pass's dropout seed. */
  seed: number;
  /** The student's frozen part (embeddings, leading layers). */
  frozen: MsdConfig['student'];
  /** The frozen prefix's states of an earlier identical pass, one list per forward (`ForwardOptions.frozenPrefix`). */
  prefix?: tf.Tensor3D[][];
  /** The hidden layers whose target rows the caller reads (the heads' layers). */
  layers: readonly number[];
  /** The [CLS] layer, and which sides' [CLS] rows to return. */
  clsLayer: number;
  cls: { target: boolean; source: boolean };
}

export interface StudentPass {
  /** Hidden states of the target rows at the target batch's length, [b_t, t_t, H], at `layers` (other slots unset). */
  target: tf.Tensor3D[];
  /** [CLS] rows [b_t, H] and [b_s, H] at `clsLayer`, where asked for. */
  clsTarget?: tf.Tensor2D;
  clsSource?: tf.Tensor2D;
}

/** The forwards of one pass (see the header), on the tape when called under one; the caller frees the outputs. */
export function studentPass(student: NerModel, target: Batch, source: Batch | undefined, o: PassOptions): StudentPass {
  const [bt, tt] = target.shape;
  const H = student.encoder.config.hiddenSize;
  const out: StudentPass = { target: [] };
  passForwards(target, source, o.seed, student.tokenizer.padId).forEach((f, i) => {
    // The batch's tensors are made in the caller's scope (under a step's gradient: freed with its intermediates).
    const { hidden } = student.encoder.forward(batchToTensors(f.batch), {
      training: true,
      dropoutSeed: f.seed,
      frozen: o.frozen,
      frozenPrefix: o.prefix?.[i],
    });
    // The target rows and positions of a merged forward's states; a forward of the target alone is them.
    const whole = f.batch === target;
    if (f.targetRows > 0)
      for (const m of o.layers)
        out.target[m] = whole ? hidden[m]! : (tf.slice(hidden[m]!, [0, 0, 0], [bt, tt, H]) as tf.Tensor3D);
    const wantTarget = o.cls.target && f.targetRows > 0;
    const wantSource = o.cls.source && f.sourceRows > 0;
    if (!wantTarget && !wantSource) return;
    const cls = clsSlice(hidden[o.clsLayer]!);
    if (wantTarget) out.clsTarget = f.sourceRows === 0 ? cls : (tf.slice(cls, [0, 0], [bt, H]) as tf.Tensor2D);
    if (wantSource)
      out.clsSource = f.targetRows === 0 ? cls : (tf.slice(cls, [f.targetRows, 0], [f.sourceRows, H]) as tf.Tensor2D);
  });
  return out;
}
