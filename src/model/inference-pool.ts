/**
 * Decoding heads on both cores (Node only). tfjs-backend-wasm runs on one thread and its memory cannot be shared
 * with another, so the second core works on a copy of the model: one worker thread (inference-worker.ts) with its
 * own backend. A job shares out whole batches (`readHeads` in inference.ts):
 *
 *   main thread                                  worker thread
 *   copies the weights to shared memory,
 *   posts the job ---------------------------->  builds (or rebuilds) its model from them
 *   claims batch i = next++, reads it out        claims batch j = next++, reads it out, posts it back
 *   ...until no batch is left                    ...until no batch is left, then says it is done
 *   waits for the worker (Atomics.wait), takes its batches (receiveMessageOnPort), returns them in batch order
 *
 * The main thread never waits for the worker to start: if it runs out of batches before the worker has joined, it
 * closes the job and the worker leaves it alone. So a job costs at most the weights' copy even when the worker is
 * slow to start (a second or two at mBERT size: loading tfjs, the backend, and the weights into its heap).
 *
 * Same numbers: every batch is computed by the same code on the same backend whichever thread claims it, and the
 * system BLAS is set to one thread per caller for the job (OpenBLAS splits rows and columns among its threads,
 * never the inner dimension, so each dot product is summed in the same order). test/model/inference-pool.test.ts
 * checks that the pool's readouts equal the one-thread loop's bit for bit on every backend.
 *
 * When: on the single-threaded backends (blas, wasm, cpu) with 2 or more cores, for jobs worth a second or more
 * (`inferenceThreads`; an mBERT-size model over 30 sentences, a tiny one hardly ever); `MSD_INFERENCE_THREADS=1`
 * (or `threads: 1`) keeps everything in this thread, `MSD_INFERENCE_THREADS=2` (or `threads: 2`) always shares. The worker
 * is `unref`ed (it never keeps the process alive) and is ended after `IDLE_MS` without a job, which frees its copy
 * of the model. Evaluation and prediction are synchronous, so the main thread blocks while it waits, as it did
 * while it computed.
 */
import { availableParallelism } from 'node:os';
import { MessageChannel, receiveMessageOnPort, Worker, type MessagePort } from 'node:worker_threads';
import { loadBlas } from '../backend/blas.js';
import { readFloats } from '../backend/host-memory.js';
import type { BackendName } from '../backend/names.js';
import type { BertConfig } from './bert-config.js';
import type { Batch } from '../tokenizer/batching.js';
import {
  readBatchHeads,
  readHeadsHere,
  type BatchArrays,
  type BatchReadout,
  type HeadReadout,
  type HeadsRunner,
} from './inference.js';
import type { NerModel } from './ner-model-type.js';

/** Multiply-adds (padded tokens x the encoder layers' weights) from which a job starts a worker. */
export const MIN_WORK = 5e10;
/** A joined worker that sends no batch for this long is taken for dead. */
const STALL_MS = 600_000;
/** A worker without a job for this long is ended. */
export const IDLE_MS = 300_000;

/** Slots of the job's control array (an Int32Array over a SharedArrayBuffer). */
export const NEXT = 0;
export const STATE = 1;
/** STATE values: open (nobody but the main thread yet), worker in, closed by the main thread, worker done / failed. */
export const OPEN = 0;
export const JOINED = 1;
export const CLOSED = 2;
export const DONE = 3;
export const FAILED = 4;

/** The model as the worker rebuilds it: the encoder's config, the heads' shape, and every weight by name. */
export interface ModelImage {
  config: BertConfig;
  heads: { layers: number[]; numLabels: number; hiddenSize: number; numLayers: number; dropout: number };
  /** All weights, back to back, in a SharedArrayBuffer (no copy on posting). */
  weights: Float32Array;
  index: { name: string; offset: number; length: number }[];
  /** This image's number, and the weights that did not change since image `version - 1` (see `Pool.run`). */
  version: number;
  unchanged: string[];
}

/**
 * The next batch to read, or -1 when none is left. Last first: batches come sorted by length, so the long ones go
 * first and the job ends on short ones, where the two threads finish close together.
 */
export function claim(control: Int32Array, batches: number): number {
  const k = Atomics.add(control, NEXT, 1);
  return k < batches ? batches - 1 - k : -1;
}

export interface Job {
  control: Int32Array;
  model: ModelImage;
  batches: BatchArrays[];
  readout: HeadReadout;
}

export type WorkerReply = { kind: 'batch'; index: number; readout: BatchReadout } | { kind: 'failed'; message: string };

export interface WorkerData {
  backend: BackendName;
  port: MessagePort;
  /** Set to 1 by the worker once its backend is up (2 if it failed to start), with Atomics.notify. */
  ready: Int32Array;
}

/**
 * The threads a job runs on: the caller's `threads`, else `MSD_INFERENCE_THREADS`, else 2 on a machine with 2 or
 * more cores when the job is worth a worker: about `MIN_WORK` multiply-adds in the encoder's layers (a second of
 * work; a worker's start costs about that much CPU), or any job of 2 or more batches once the worker is running.
 */
export function inferenceThreads(
  model: Pick<NerModel, 'encoder'>,
  batches: readonly Pick<Batch, 'shape'>[],
  requested?: number,
): number {
  const env = process.env.MSD_INFERENCE_THREADS?.trim();
  const chosen = requested ?? (env ? Number(env) : undefined);
  if (chosen !== undefined) {
    if (!Number.isInteger(chosen) || chosen < 1)
      throw new Error(
        `${requested !== undefined ? 'threads' : 'MSD_INFERENCE_THREADS'}: expected a whole number >= 1, got ${requested ?? env}`,
      );
    return Math.min(chosen, 2);
  }
  if (batches.length < 2 || availableParallelism() < 2) return 1;
  const { hiddenSize: H, intermediateSize: I, numLayers: L } = model.encoder.config;
  const tokens = batches.reduce((n, b) => n + b.shape[0] * b.shape[1], 0);
  return (pool && !pool.dead) || tokens * L * (4 * H * H + 2 * H * I) >= MIN_WORK ? 2 : 1;
}

/**
 * Every weight of the model copied, back to back, into one shared buffer: `into` when it has the right size (a
 * pool reuses its buffer from job to job), else a new one. Read straight from the wasm heap, so one copy in all.
 * Weights named in `unchanged` are not copied: `into` already holds them (the caller's promise).
 */
export function modelImage(
  model: Pick<NerModel, 'encoder' | 'heads'>,
  into?: Float32Array,
  unchanged: ReadonlySet<string> = new Set(),
  version = 0,
): ModelImage {
  const vars = [...model.encoder.variables(), ...model.heads.variables()];
  const index: ModelImage['index'] = [];
  let offset = 0;
  for (const { name, variable } of vars) {
    index.push({ name, offset, length: variable.size });
    offset += variable.size;
  }
  const reuse = into?.length === offset;
  const weights = reuse ? into! : new Float32Array(new SharedArrayBuffer(offset * 4));
  const kept = reuse ? vars.filter(({ name }) => unchanged.has(name)).map(({ name }) => name) : [];
  vars.forEach(({ name, variable }, i) => {
    if (!(reuse && unchanged.has(name))) weights.set(readFloats(variable), index[i]!.offset);
  });
  const h = model.heads;
  return {
    config: model.encoder.config,
    heads: {
      layers: [...h.layers],
      numLabels: h.numLabels,
      hiddenSize: h.hiddenSize,
      numLayers: model.encoder.config.numLayers,
      dropout: h.dropout,
    },
    weights,
    index,
    version,
    unchanged: kept,
  };
}

class Pool {
  private readonly worker: Worker;
  private readonly port: MessagePort;
  private idle: NodeJS.Timeout | undefined;
  /** The weights' shared buffer, reused by the next job of a model of the same size. */
  private weights: Float32Array | undefined;
  private version = 0;
  /** The last job's frozen weights: variable and data id by name (see `unchangedSince`). */
  private frozen = new Map<string, { variable: object; dataId: object }>();

  /**
   * The weights the shared buffer already holds: those frozen (training-mode jobs name the frozen part) in the last
   * job and in this one, under the same variable and data id. Frozen weights are never written by the optimizer,
   * so between two such jobs of one training run they cannot have changed; anything else is copied again (a
   * student step then copies its trained layers, not the embeddings: about half of mBERT's bytes).
   */
  private unchangedSince(model: NerModel, readout: HeadReadout): Set<string> {
    const last = this.frozen;
    this.frozen = new Map();
    if (!readout.dropout) return new Set();
    const trained = new Set(model.encoder.trainableVariables(readout.dropout.frozen).map((v) => v.name));
    const out = new Set<string>();
    for (const { name, variable } of model.encoder.variables()) {
      if (trained.has(name)) continue;
      this.frozen.set(name, { variable, dataId: variable.dataId });
      const before = last.get(name);
      if (before && before.variable === variable && before.dataId === variable.dataId) out.add(name);
    }
    return out;
  }
  /** Why this worker can take no more jobs (it failed, exited or was ended). */
  dead: string | undefined;
  /** Set when the worker itself failed (its backend, say): the process stops using workers. */
  broken = false;

  private readonly ready = new Int32Array(new SharedArrayBuffer(4));

  constructor(readonly backend: BackendName) {
    const { port1, port2 } = new MessageChannel();
    this.port = port1;
    const data: WorkerData = { backend, port: port2, ready: this.ready };
    const options = { workerData: data, transferList: [port2] };
    // Built, the worker is a sibling .js file. Run from the sources (tests, benchmarks: `node --import tsx`), a worker
    // does not inherit tsx's loader, so it registers it before importing the .ts file.
    this.worker = import.meta.url.endsWith('.ts')
      ? new Worker(
          `import('tsx/esm/api').then((tsx) => { tsx.register(); return import(${JSON.stringify(new URL('./inference-worker.ts', import.meta.url).href)}); });`,
          { ...options, eval: true },
        )
      : new Worker(new URL('./inference-worker.js', import.meta.url), options);
    this.worker.unref();
    this.port.unref();
    this.worker.on('error', (err) => this.breaks(err.message));
    this.worker.on('exit', (code) => (this.dead ??= `the inference worker exited (code ${code})`));
  }

  run(model: NerModel, batches: readonly Batch[], readout: HeadReadout, onProgress?: (d: number, t: number) => void) {
    clearTimeout(this.idle);
    const control = new Int32Array(new SharedArrayBuffer(8));
    const image = modelImage(model, this.weights, this.unchangedSince(model, readout), ++this.version);
    this.weights = image.weights;
    const job: Job = {
      control,
      model: image,
      batches: batches.map(({ inputIds, attentionMask, tokenTypeIds, wordIndex, shape }) => ({
        inputIds,
        attentionMask,
        tokenTypeIds,
        wordIndex,
        shape,
      })),
      readout,
    };
    this.port.postMessage(job);
    const out: (BatchReadout | undefined)[] = new Array(batches.length);
    const total = batches.reduce((n, b) => n + b.shape[0], 0);
    let done = 0;
    let byWorker = 0;
    const take = (reply: WorkerReply) => {
      if (reply.kind === 'failed') this.breaks(reply.message);
      else {
        byWorker++;
        out[reply.index] = reply.readout;
        done += batches[reply.index]!.shape[0];
      }
    };
    const drain = () => {
      for (let m = receiveMessageOnPort(this.port); m; m = receiveMessageOnPort(this.port)) take(m.message);
    };
    const blas = loadBlas();
    const blasThreads = this.backend === 'blas' && blas.ok ? blas.blas : undefined;
    // The BLAS on one thread per caller while the worker computes beside this thread.
    const work = () => {
      for (let i = claim(control, batches.length); i >= 0; i = claim(control, batches.length)) {
        out[i] = readBatchHeads(model, batches[i]!, readout, i);
        done += batches[i]!.shape[0];
        drain();
        onProgress?.(done, total);
      }
      if (Atomics.compareExchange(control, STATE, OPEN, CLOSED) !== OPEN) {
        // The worker joined: wait for its last batches, taking them as they come. A worker thread that died without
        // a word (it catches its errors, so only a crash of the thread itself) is noticed by its silence.
        let heard = Date.now();
        while (Atomics.load(control, STATE) === JOINED) {
          Atomics.wait(control, STATE, JOINED, 1000);
          const before = done;
          drain();
          if (done !== before) heard = Date.now();
          else if (Date.now() - heard > STALL_MS) {
            this.dead = `the inference worker sent nothing for ${STALL_MS / 1000} s`;
            void this.terminate();
            break;
          }
        }
        drain();
        onProgress?.(done, total);
      }
    };
    if (blasThreads) blasThreads.oneThread(work);
    else work();
    // A worker that failed before joining left every batch to this thread; one that failed after it fails the job.
    if (Atomics.load(control, STATE) !== DONE && Atomics.load(control, STATE) !== CLOSED)
      throw new Error(`readHeads: ${this.dead ?? 'the inference worker stopped'}`);
    const missing = out.findIndex((r) => r === undefined);
    if (missing >= 0) throw new Error(`readHeads: batch ${missing} of ${batches.length} came back from no thread`);
    this.idle = setTimeout(() => void this.terminate(), IDLE_MS).unref();
    lastJob = { batches: batches.length, byWorker };
    totals.jobs++;
    totals.batches += batches.length;
    totals.byWorker += byWorker;
    return out as BatchReadout[];
  }

  /** Resolves once the worker's backend is up; false if it failed to start. */
  async started(): Promise<boolean> {
    const waiting = Atomics.waitAsync(this.ready, 0, 0);
    if (waiting.async) {
      // An unref'ed worker does not keep the event loop alive, and a pending waitAsync does not either.
      this.worker.ref();
      try {
        await waiting.value;
      } finally {
        this.worker.unref();
      }
    }
    return Atomics.load(this.ready, 0) === 1;
  }

  private breaks(message: string): void {
    if (!this.broken)
      console.warn(`msd-ner: the inference worker failed (${message}); inference runs on this thread only from now on`);
    this.dead = `the inference worker failed: ${message}`;
    this.broken = true;
  }

  terminate(): Promise<number> {
    this.dead ??= 'the inference worker was ended';
    this.weights = undefined;
    this.frozen = new Map();
    clearTimeout(this.idle);
    return this.worker.terminate();
  }
}

let pool: Pool | undefined;
/** The backend of the runner `initBackend` installed last (the worker runs the same). */
let installedBackend: BackendName | undefined;
let lastJob: { batches: number; byWorker: number } | undefined;

const totals = { jobs: 0, batches: 0, byWorker: 0 };

/** How the last job shared out: its batches, and how many of them the worker read (for tests and benchmarks). */
export function lastPoolJob(): { batches: number; byWorker: number } | undefined {
  return lastJob;
}

/** The same summed over every shared job of this process. */
export function poolTotals(): { jobs: number; batches: number; byWorker: number } {
  return { ...totals };
}

/** A runner for `readHeads` that shares jobs with a worker thread running `backend` (see the top of this file). */
export function pooledRunner(backend: BackendName): HeadsRunner {
  installedBackend = backend;
  return (model, batches, readout, opts) => {
    if (pool?.broken || inferenceThreads(model, batches, opts.threads) < 2)
      return readHeadsHere(model, batches, readout, opts);
    if (!pool || pool.dead || pool.backend !== backend) {
      void pool?.terminate();
      pool = new Pool(backend);
    }
    return pool.run(model, batches, readout, opts.onProgress);
  };
}

/**
 * Starts the worker now, if this process runs inference on two threads (`initBackend` chose a single-threaded
 * backend), and resolves when its backend is up: true when it is. Otherwise the first job worth it starts the
 * worker, which then joins that job late. Benchmarks and tests call this; nobody else needs to.
 */
export async function startInferenceWorker(): Promise<boolean> {
  if (!installedBackend) return false;
  if (!pool || pool.dead || pool.backend !== installedBackend) {
    void pool?.terminate();
    pool = new Pool(installedBackend);
  }
  return pool.started();
}

/** The one-thread runner for a backend that needs no worker (it threads itself, or runs off the main thread). */
export function unpooledRunner(): HeadsRunner {
  installedBackend = undefined;
  void closeInferencePool();
  return readHeadsHere;
}

/** Ends the worker now (tests; otherwise it ends itself when idle and never keeps the process alive). */
export async function closeInferencePool(): Promise<void> {
  const p = pool;
  pool = undefined;
  await p?.terminate();
}
