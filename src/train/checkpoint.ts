/**
 * Resumable training checkpoints: ONE safetensors file holding the trainable weights, the AdamW state and the
 * trainer's position (epoch, step, best dev score) as JSON metadata, written atomically (temp file + rename), so a
 * run killed at any moment leaves either the previous checkpoint or the new one, never half of one.
 *
 * Frozen weights are not stored: they are the pretrained weights the run started from, reloaded on resume.
 * Variables are stored under stable names (`encoder/<param>`, `heads/<param>`, `lambda`), not tfjs's global
 * variable names, which carry a per-process instance prefix.
 */
import { existsSync } from 'node:fs';
import type { NamedVariable } from '../model/bert.js';
import { writeSafetensors, readSafetensors, type TensorToWrite } from '../model/safetensors.js';
import { tf } from '../tf.js';
import type { AdamW } from './adamw.js';

export interface TrainerState {
  /** Epoch in progress (0-based) and batches of it already done. */
  epoch: number;
  stepInEpoch: number;
  /** Optimizer steps done in the whole run. */
  globalStep: number;
  /** Best selection score so far (dev F1 of the main head) and the step it was reached at. */
  bestScore: number;
  bestStep: number;
  /** Whether training finished (a finished run is not trained again on resume). */
  finished: boolean;
}

export function freshState(): TrainerState {
  return { epoch: 0, stepInEpoch: 0, globalStep: 0, bestScore: -1, bestStep: -1, finished: false };
}

const WEIGHT = 'weight:';
const OPT = 'optim:';

/** Writes variables + optimizer state + trainer state atomically to `path`. */
export function saveTrainingCheckpoint(
  path: string,
  vars: readonly NamedVariable[],
  optimizer: AdamW,
  state: TrainerState,
  meta: Record<string, string> = {},
): void {
  const stable = new Map(vars.map((v) => [v.variable.name, v.name]));
  const tensors: [string, TensorToWrite][] = vars.map(({ name, variable }) => [
    `${WEIGHT}${name}`,
    { shape: variable.shape, data: variable.dataSync() as Float32Array },
  ]);
  for (const [key, data] of Object.entries(optimizer.exportState())) {
    const slash = key.lastIndexOf('/');
    const name = stable.get(key.slice(0, slash));
    if (name === undefined) throw new Error(`saveTrainingCheckpoint: optimizer state for unknown variable '${key}'`);
    tensors.push([`${OPT}${name}${key.slice(slash)}`, { shape: [data.length], data }]);
  }
  writeSafetensors(path, tensors, { ...meta, trainer_state: JSON.stringify(state) });
}

/**
 * Restores variables and optimizer state from `path` and returns the trainer state and metadata. Every variable of
 * `vars` must be in the file and vice versa: a checkpoint of another model is an error, not a partial load.
 */
export function loadTrainingCheckpoint(
  path: string,
  vars: readonly NamedVariable[],
  optimizer: AdamW,
): { state: TrainerState; meta: Record<string, string> } {
  if (!existsSync(path)) throw new Error(`${path}: no checkpoint to resume from`);
  const file = readSafetensors(path);
  const byName = new Map(vars.map((v) => [v.name, v.variable]));
  const seen = new Set<string>();
  const optState: Record<string, Float32Array> = {};
  for (const name of file.names) {
    if (name.startsWith(WEIGHT)) {
      const stableName = name.slice(WEIGHT.length);
      const variable = byName.get(stableName);
      if (!variable)
        throw new Error(
          `${path}: tensor '${stableName}' is not a trainable variable of this model (different freeze settings or model?)`,
        );
      const data = file.getFloat32(name);
      if (data.length !== variable.size)
        throw new Error(
          `${path}: '${stableName}' has ${data.length} values; the model expects ${variable.size} ([${variable.shape}])`,
        );
      tf.tidy(() => variable.assign(tf.tensor(data, variable.shape, 'float32')));
      seen.add(stableName);
    } else if (name.startsWith(OPT)) {
      const key = name.slice(OPT.length);
      const slash = key.lastIndexOf('/');
      const variable = byName.get(key.slice(0, slash));
      if (!variable)
        throw new Error(
          `${path}: optimizer state for '${key.slice(0, slash)}', which is not a trainable variable of this model`,
        );
      optState[`${variable.name}${key.slice(slash)}`] = file.getFloat32(name);
    }
  }
  const missing = vars.filter((v) => !seen.has(v.name)).map((v) => v.name);
  if (missing.length)
    throw new Error(`${path}: missing ${missing.length} trainable variables, e.g. ${missing.slice(0, 3).join(', ')}`);
  optimizer.importState(optState);
  const meta = { ...file.metadata };
  if (!meta.trainer_state) throw new Error(`${path}: no trainer_state metadata; not a training checkpoint`);
  const state = JSON.parse(meta.trainer_state) as TrainerState;
  delete meta.trainer_state;
  return { state, meta };
}
