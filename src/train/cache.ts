/**
 * Teacher outputs the students need, computed once and cached on disk so the teacher is not held in memory while
 * students train:
 *
 * - per-layer probabilities p_m^teacher at every first sub-token of the target language's unlabelled training
 *   windows (the KD targets of L_m^KD), and
 * - the teacher's [CLS] vector (layer `clsLayer`) of every source training window (H_cls^teacher on source, the
 *   left side of both MMD_M and MMD_L).
 *
 * Files are safetensors under `<run>/cache/teacher-<hash>/`, where the hash covers the teacher's weights and the
 * settings that change the numbers (windows, layers); a changed teacher or setting gets a new directory rather
 * than stale outputs. Each file also records a fingerprint of the windows it was computed on and is rejected if
 * the windows differ.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { inferenceBatches, readHeads } from '../model/inference.js';
import type { NerModel } from '../model/ner-model.js';
import { readSafetensors, writeSafetensors } from '../model/safetensors.js';
import { firstPieceMask, type Encoded } from '../tokenizer/align.js';

export interface TargetProbs {
  layers: number[];
  numLabels: number;
  /** Per layer: rows [N, C] for every first sub-token of every window, window by window. */
  probs: Map<number, Float32Array>;
  /** Row of window k's first first-sub-token; offsets[k + 1] - offsets[k] rows belong to window k. */
  offsets: Int32Array;
}

/** A fingerprint of windows (ids, sub-token ids), so a cache is only reused for exactly the same inputs. */
export function windowsFingerprint(windows: readonly Encoded[]): string {
  const h = createHash('sha256');
  for (const w of windows) {
    h.update(`${w.sentenceId}#${w.window.index}:`);
    h.update(new Uint8Array(w.inputIds.buffer, w.inputIds.byteOffset, w.inputIds.byteLength));
  }
  return h.digest('hex').slice(0, 16);
}

/** The cache directory key: the teacher's weights file and the settings the outputs depend on. */
export function teacherCacheKey(teacherDir: string, settings: Record<string, unknown>): string {
  const h = createHash('sha256');
  h.update(readFileSync(join(teacherDir, 'model.safetensors')));
  h.update(JSON.stringify(settings));
  return `teacher-${h.digest('hex').slice(0, 12)}`;
}

/** Teacher probabilities at first sub-tokens of `windows` for each head layer (evaluation mode). */
export function computeTargetProbs(teacher: NerModel, windows: readonly Encoded[], batchSize = 32): TargetProbs {
  const layers = teacher.heads.layers;
  const C = teacher.heads.numLabels;
  const index = new Map(windows.map((w, k) => [w, k]));
  const offsets = new Int32Array(windows.length + 1);
  const masks = windows.map((w) => firstPieceMask(w.wordIndex));
  masks.forEach((m, k) => (offsets[k + 1] = offsets[k]! + m.reduce((a, b) => a + b, 0)));
  const probs = new Map(layers.map((m) => [m, new Float32Array(offsets[windows.length]! * C)]));
  const batches = inferenceBatches(windows, teacher.tokenizer.padId, batchSize);
  const readouts = readHeads(teacher, batches, { layers: [], softmaxOf: layers });
  batches.forEach(({ items, shape: [rows, len] }, b) => {
    const p = readouts[b]!.softmax!;
    layers.forEach((m, j) => {
      const out = probs.get(m)!;
      items.forEach((w, r) => {
        const k = index.get(w)!;
        let row = offsets[k]!;
        const mask = masks[k]!;
        for (let t = 0; t < mask.length; t++) {
          if (!mask[t]) continue;
          const at = ((j * rows + r) * len + t) * C;
          out.set(p.subarray(at, at + C), row * C);
          row++;
        }
      });
    });
  });
  return { layers, numLabels: C, probs, offsets };
}

/** The [CLS] vector (hidden layer `layer`) of every window, [windows, H] row-major. */
export function computeCls(model: NerModel, windows: readonly Encoded[], layer: number, batchSize = 32): Float32Array {
  const H = model.encoder.config.hiddenSize;
  const index = new Map(windows.map((w, k) => [w, k]));
  const out = new Float32Array(windows.length * H);
  const batches = inferenceBatches(windows, model.tokenizer.padId, batchSize);
  const readouts = readHeads(model, batches, { layers: [], clsOf: [layer] });
  batches.forEach(({ items }, b) => {
    const cls = readouts[b]!.cls!;
    items.forEach((w, r) => out.set(cls.subarray(r * H, (r + 1) * H), index.get(w)! * H));
  });
  return out;
}

/** Writes target probabilities with the windows' fingerprint. */
export function saveTargetProbs(path: string, tp: TargetProbs, fingerprint: string): void {
  const rows = tp.offsets[tp.offsets.length - 1]!;
  writeSafetensors(
    path,
    [
      ...tp.layers.map(
        (m) =>
          [`probs.layer_${m}`, { shape: [rows, tp.numLabels], data: tp.probs.get(m)! }] as [
            string,
            { shape: number[]; data: Float32Array },
          ],
      ),
      ['offsets', { shape: [tp.offsets.length], data: Float32Array.from(tp.offsets) }],
    ],
    { fingerprint, layers: JSON.stringify(tp.layers), num_labels: String(tp.numLabels) },
  );
}

export function loadTargetProbs(path: string, fingerprint: string): TargetProbs | undefined {
  if (!existsSync(path)) return undefined;
  const f = readSafetensors(path);
  if (f.metadata.fingerprint !== fingerprint) return undefined;
  const layers = JSON.parse(f.metadata.layers ?? '[]') as number[];
  return {
    layers,
    numLabels: Number(f.metadata.num_labels),
    probs: new Map(layers.map((m) => [m, f.getFloat32(`probs.layer_${m}`)])),
    offsets: Int32Array.from(f.getFloat32('offsets')),
  };
}

export function saveCls(path: string, cls: Float32Array, dim: number, fingerprint: string): void {
  writeSafetensors(path, [['cls', { shape: [cls.length / dim, dim], data: cls }]], { fingerprint });
}

export function loadCls(path: string, fingerprint: string): Float32Array | undefined {
  if (!existsSync(path)) return undefined;
  const f = readSafetensors(path);
  return f.metadata.fingerprint === fingerprint ? f.getFloat32('cls') : undefined;
}
