/**
 * One forward pass of a student step: the target rows (the KD terms, and MMD_L's [CLS]) and, when MMD_M is on, the
 * source rows (MMD_M's [CLS]), as ONE batch of the encoder, target rows first:
 *
 *   pass = [target rows; source rows], padded to the longer of the two lengths
 *   hidden_m(target) = pass hidden_m[0:b_t, 0:t_t]        (the heads' input, layers 4-12 in the paper)
 *   H_cls(target)    = pass H_cls[0:b_t],   H_cls(source) = pass H_cls[b_t:]
 *
 * Why: the layers run on the packed real tokens (model/packing.ts), so one batch makes each dense product one call
 * over both sides' rows, and products of few rows run far below the BLAS rate (`node --import tsx
 * bench/matmul-rows.ts`, [rows, 768] x [768, 3072] on this 2-core machine, two runs on 5 December: 66-81 GFLOP/s at
 * 24 rows, 132-167 at 88, 173-182 at 160, 187-199 from 512 on), while a cut mBERT student batch often pairs a few
 * short target rows with longer source rows (the speed bench's micro-batches: 8 x 3 target rows with 8 x 92 source
 * rows). The attention runs per segment of rows at their own length (packing.ts, "Segments"), so the short side's
 * rows are not padded to the long side's length there. (Before segments, that padding made a merged pass do 1.66-1.99
 * times the attention work of the two sides apart on the bench's batches, and passes whose sides both held 512 real
 * tokens or more ran as two forwards; now one batch is faster for both presets: README, "Gradient accumulation".)
 *
 * Each side's rows get the values of a forward of their own (every op but the attention is row-wise, and a row's
 * attention sees its own keys only; float rounding of the products aside; test/train/student-pass.test.ts), with one
 * difference: one dropout seed, the pass's, draws the masks of both sides' rows (the reference code runs the source
 * forward separately, with masks of its own; the distribution of the masks is the same).
 *
 * The last layer's states are read at the target's first sub-tokens (the KD heads) and at the [CLS] rows asked for
 * (MMD), so the encoder leaves every other position out of that layer after its keys and values
 * (`ForwardOptions.lastLayerReads`, bert.ts; where the hidden dropout is off in training, as in the tiny preset):
 * the pass's last hidden state is zero elsewhere, the source side's everywhere but at [CLS].
 */
import type { MsdConfig } from '../config.js';
import { clsSlice } from '../model/cls.js';
import type { NerModel } from '../model/ner-model.js';
import { tf } from '../tf.js';
import { firstPieceMask } from '../tokenizer/align.js';
import { padBatch, type Batch } from '../tokenizer/batching.js';
import { batchToTensors } from '../tokenizer/tensors.js';

/**
 * The encoder forward of a pass: its batch, dropout seed, and how its rows split: the first `targetRows` rows are
 * the target's, the next `sourceRows` the source's.
 */
export interface PassForward {
  batch: Batch;
  seed: number;
  targetRows: number;
  sourceRows: number;
}

/** The forward of a pass (see the header): the target's batch, with the source's rows after its own when given. */
export function passForward(target: Batch, source: Batch | undefined, seed: number, padId: number): PassForward {
  const bt = target.shape[0];
  if (!source) return { batch: target, seed, targetRows: bt, sourceRows: 0 };
  return {
    batch: padBatch([...target.items, ...source.items], padId),
    seed,
    targetRows: bt,
    sourceRows: source.shape[0],
  };
}

export interface PassOptions {
  /** The pass's dropout seed. */
  seed: number;
  /** The student's frozen part (embeddings, leading layers). */
  frozen: MsdConfig['student'];
  /** The frozen prefix's states of an earlier identical pass (`ForwardOptions.frozenPrefix`). */
  prefix?: tf.Tensor3D[];
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

/**
 * The positions of the pass's last layer that are read (see the header): the target's first sub-tokens, and the
 * [CLS] rows asked for when it is the [CLS] layer; undefined (every position) when no head reads that layer.
 */
export function lastLayerReads(
  f: PassForward,
  o: Pick<PassOptions, 'layers' | 'clsLayer' | 'cls'>,
  numLayers: number,
): ((item: number, position: number) => boolean) | undefined {
  if (!o.layers.includes(numLayers)) return undefined;
  const clsAt = o.clsLayer === numLayers;
  const [clsTarget, clsSource] = [clsAt && o.cls.target, clsAt && o.cls.source];
  const first = f.batch.items.slice(0, f.targetRows).map((w) => firstPieceMask(w.wordIndex));
  return (item, position) =>
    item < f.targetRows ? first[item]![position] === 1 || (position === 0 && clsTarget) : position === 0 && clsSource;
}

/** The forward of one pass (see the header), on the tape when called under one; the caller frees the outputs. */
export function studentPass(student: NerModel, target: Batch, source: Batch | undefined, o: PassOptions): StudentPass {
  const [bt, tt] = target.shape;
  const H = student.encoder.config.hiddenSize;
  const out: StudentPass = { target: [] };
  const f = passForward(target, source, o.seed, student.tokenizer.padId);
  // The batch's tensors are made in the caller's scope (under a step's gradient: freed with its intermediates).
  const { hidden } = student.encoder.forward(batchToTensors(f.batch), {
    training: true,
    dropoutSeed: f.seed,
    frozen: o.frozen,
    frozenPrefix: o.prefix,
    lastLayerReads: lastLayerReads(f, o, student.encoder.config.numLayers),
  });
  // The target rows and positions of the states; a forward of the target alone is them.
  const whole = f.sourceRows === 0;
  for (const m of o.layers)
    out.target[m] = whole ? hidden[m]! : (tf.slice(hidden[m]!, [0, 0, 0], [bt, tt, H]) as tf.Tensor3D);
  if (!o.cls.target && !(o.cls.source && f.sourceRows > 0)) return out;
  const cls = clsSlice(hidden[o.clsLayer]!);
  if (o.cls.target) out.clsTarget = whole ? cls : (tf.slice(cls, [0, 0], [bt, H]) as tf.Tensor2D);
  if (o.cls.source && f.sourceRows > 0)
    out.clsSource = tf.slice(cls, [f.targetRows, 0], [f.sourceRows, H]) as tf.Tensor2D;
  return out;
}
