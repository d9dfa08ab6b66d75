/**
 * The worker thread of inference-pool.ts: its own tfjs backend and its own copy of the model, updated from each job's
 * weights (all of them, but those the job marks unchanged since the image this copy holds). It claims batches from the job's
 * shared counter until none is left, posts each readout back, and then marks the job done, or failed with the
 * error's message.
 */
import { workerData } from 'node:worker_threads';
import { initBackend } from '../backend/init.js';
import { BertEncoder } from './bert.js';
import { LayerHeads } from './heads.js';
import { readBatchHeads } from './inference.js';
import { writeVariable } from '../backend/host-memory.js';
import {
  CLOSED,
  DONE,
  FAILED,
  JOINED,
  claim,
  OPEN,
  STATE,
  type Job,
  type ModelImage,
  type WorkerData,
  type WorkerReply,
} from './inference-pool.js';

const { backend, port, ready: readyFlag } = workerData as WorkerData;
const ready = initBackend({ prefer: backend });
void ready.then(
  () => signal(1),
  () => signal(2),
);
function signal(value: number): void {
  Atomics.store(readyFlag, 0, value);
  Atomics.notify(readyFlag, 0);
}
let model: { encoder: BertEncoder; heads: LayerHeads } | undefined;

/** The worker's model with the job's weights: written into the current one when the layout is the same. */
function withWeights(image: ModelImage): { encoder: BertEncoder; heads: LayerHeads } {
  const weights = new Map(
    image.index.map(({ name, offset, length }) => [name, image.weights.subarray(offset, offset + length)]),
  );
  if (model && layout === layoutOf(image)) {
    // Weights unchanged since the previous image stay as they are, if that image is the one this copy holds.
    const skip = new Set(applied === image.version - 1 ? image.unchanged : []);
    for (const { name, variable } of [...model.encoder.variables(), ...model.heads.variables()]) {
      if (!skip.has(name)) writeVariable(variable, weights.get(name)!);
    }
    applied = image.version;
    return model;
  }
  model?.encoder.dispose();
  model?.heads.dispose();
  model = undefined;
  model = { encoder: new BertEncoder(image.config, weights), heads: new LayerHeads({ ...image.heads }, weights) };
  layout = layoutOf(image);
  applied = image.version;
  return model;
}

/** The version of the image this copy of the model holds. */
let applied = -1;

let layout = '';
function layoutOf(image: ModelImage): string {
  return JSON.stringify([image.config, image.heads, image.index.map(({ name, length }) => [name, length])]);
}

const reply = (r: WorkerReply) => port.postMessage(r);

port.on('message', (job: Job) => {
  void ready.then(
    () => run(job),
    (err: unknown) => fail(job, err),
  );
});

function run(job: Job): void {
  const { control, batches, readout } = job;
  if (Atomics.load(control, STATE) === CLOSED) return; // the main thread finished alone: skip loading the weights
  try {
    const m = withWeights(job.model);
    if (Atomics.compareExchange(control, STATE, OPEN, JOINED) !== OPEN) return;
    for (let i = claim(control, batches.length); i >= 0; i = claim(control, batches.length)) {
      reply({ kind: 'batch', index: i, readout: readBatchHeads(m, batches[i]!, readout, i) });
    }
    Atomics.store(control, STATE, DONE);
  } catch (err) {
    fail(job, err);
    return;
  }
  Atomics.notify(control, STATE);
}

function fail(job: Job, err: unknown): void {
  reply({ kind: 'failed', message: (err as Error)?.message ?? String(err) });
  // A failure before joining leaves the job to the main thread; one after it fails the job.
  if (Atomics.compareExchange(job.control, STATE, JOINED, FAILED) === JOINED) Atomics.notify(job.control, STATE);
}
