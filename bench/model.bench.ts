/**
 * `npm run bench -- model`: the mBERT-size encoder (random weights, mBERT's config) on the active backend.
 *
 * - forward (eval) for a batch of 8 x 128 tokens, and forward + backward (training, dropout on) for 8x128, 4x128
 *   and 8x32, each in a child process (a step that outgrows the wasm heap aborts the wasm module), with the
 *   paper's freezing (embeddings + layers 1..3, run off the gradient tape) so gradients and optimizer state cover
 *   the trainable part only;
 * - the two ways of computing Q K^T (explicit K^T + plain matMul, or matMul with transposeB);
 * - peak memory: process RSS, tfjs bytes, and the wasm heap (limited to 4 GiB);
 * - a PyTorch reference for the same shapes when Debian's /usr/bin/python3 has torch (skipped with a note if not).
 *
 * Set MSD_BENCH_REPS (default 2) for more timed repetitions of the in-process measurements.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Bench, BenchRow } from './run.js';
import { initBackend } from '../src/backend/init.js';
import { tf } from '../src/tf.js';
import { withKeyTranspose } from '../src/model/bert.js';
import { BertEncoder, type BertInput } from '../src/model/bert.js';
import { bertConfig, readBertConfig } from '../src/model/config.js';
import { countParameters, type FreezeOptions } from '../src/model/params.js';

const B = 8;
const T = 128;
const MiB = 1024 * 1024;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/** Bytes of the wasm backend's linear memory (it only grows, so its size now is its peak). */
function wasmHeapBytes(): number | undefined {
  const backend = tf.backend() as unknown as { wasm?: { HEAPU8?: Uint8Array } };
  return backend.wasm?.HEAPU8?.length;
}

async function time(reps: number, fn: () => void | Promise<void>): Promise<number> {
  await fn(); // warm-up: kernel set-up, allocation
  const ts: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    await fn();
    ts.push(performance.now() - t0);
  }
  return median(ts) / 1000;
}

/** The same encoder shapes in PyTorch (nn.TransformerEncoder, post-LN, exact GELU), if torch is importable. */
function torchReference(reps: number): { fwd: number; fwdBwd: number; threads: number } | string {
  const py = '/usr/bin/python3';
  if (!existsSync(py)) return `${py} not found`;
  const script = `
import time, json, torch, torch.nn as nn
torch.manual_seed(0)
H, L, V = 768, 12, 119547
emb = nn.Embedding(V, H); pos = nn.Embedding(512, H); ln = nn.LayerNorm(H, eps=1e-12)
layer = nn.TransformerEncoderLayer(H, 12, 3072, dropout=0.1, activation='gelu', batch_first=True, norm_first=False, layer_norm_eps=1e-12)
enc = nn.TransformerEncoder(layer, L, enable_nested_tensor=False)
for p in list(emb.parameters()) + list(pos.parameters()) + list(ln.parameters()) + list(enc.layers[:3].parameters()): p.requires_grad_(False)
ids = torch.randint(0, V, (${B}, ${T})); mask = torch.zeros(${B}, ${T}, dtype=torch.bool)
def fwd():
    x = ln(emb(ids) + pos.weight[:${T}])
    return enc(x, src_key_padding_mask=mask)
def run(train):
    enc.train(train)
    if train:
        y = fwd(); (y * y).mean().backward()
    else:
        with torch.no_grad(): fwd()
def t(train):
    run(train); ts = []
    for _ in range(${reps}):
        t0 = time.perf_counter(); run(train); ts.append(time.perf_counter() - t0)
    return sorted(ts)[len(ts)//2]
print(json.dumps({'fwd': t(False), 'fwdBwd': t(True), 'threads': torch.get_num_threads()}))
`;
  try {
    const out = execFileSync(py, ['-c', script], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: 900_000,
    });
    return JSON.parse(out.trim().split('\n').pop()!) as { fwd: number; fwdBwd: number; threads: number };
  } catch (err) {
    const msg = String((err as { stderr?: string }).stderr ?? (err as Error).message);
    return /No module named 'torch'/.test(msg)
      ? `torch is not installed for ${py}`
      : `torch reference failed: ${msg.split('\n').filter(Boolean).pop()}`;
  }
}

const PAPER_FREEZE: FreezeOptions = { freezeEmbeddings: true, freezeLayers: 3 };

interface StepResult {
  seconds: number;
  heapMiB?: number;
  afterForwardMiB: number;
}

/**
 * One forward+backward step of the mBERT-size encoder (paper freezing, dropout on, frozen prefix off the tape)
 * in a child node process on the same backend; an abort (wasm heap exhausted) becomes an error string.
 */
function trainStepInChild(root: string, cfgPath: string, b: number, t: number): StepResult | { error: string } {
  const code = `
const { initBackend } = await import(${JSON.stringify(join(root, 'src/backend/init.ts'))});
const { tf } = await import(${JSON.stringify(join(root, 'src/tf.ts'))});
const { readBertConfig } = await import(${JSON.stringify(join(root, 'src/model/config.ts'))});
const { BertEncoder } = await import(${JSON.stringify(join(root, 'src/model/bert.ts'))});
await initBackend();
const cfg = readBertConfig(${JSON.stringify(cfgPath)});
const enc = BertEncoder.random(cfg, 0);
const freeze = ${JSON.stringify(PAPER_FREEZE)};
const vars = enc.trainableVariables(freeze).map((v) => v.variable);
const ids = tf.tidy(() => tf.cast(tf.floor(tf.randomUniform([${b}, ${t}], 1000, cfg.vocabSize, 'float32', 1)), 'int32'));
const mask = tf.ones([${b}, ${t}], 'int32');
let afterForward = 0;
const t0 = performance.now();
const { value, grads } = tf.variableGrads(() => {
  const { hidden } = enc.forward({ inputIds: ids, attentionMask: mask }, { training: true, dropoutSeed: 1, frozen: freeze });
  afterForward = tf.memory().numBytes;
  return tf.mean(tf.square(hidden[cfg.numLayers]));
}, vars);
value.dataSync();
const seconds = (performance.now() - t0) / 1000;
const heap = tf.backend().wasm?.HEAPU8?.length;
console.log('RESULT ' + JSON.stringify({ seconds, heapMiB: heap === undefined ? undefined : heap / 2 ** 20, afterForwardMiB: afterForward / 2 ** 20 }));
`;
  try {
    const out = execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], {
      cwd: root,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: 900_000,
      maxBuffer: 64 * MiB,
    });
    const line = out.split('\n').find((l) => l.startsWith('RESULT '));
    if (!line) return { error: 'the child printed no result' };
    return JSON.parse(line.slice(7)) as StepResult;
  } catch (err) {
    const stderr = String((err as { stderr?: string }).stderr ?? '');
    if (/Aborted\(\)/.test(stderr))
      return { error: 'does not fit: the wasm heap (max 4 GiB) ran out and the wasm module aborted' };
    return {
      error: `child failed: ${
        stderr
          .split('\n')
          .filter((l) => l && l.length < 300)
          .pop() ?? (err as Error).message
      }`,
    };
  }
}

const bench: Bench = async (ctx) => {
  const backend = await initBackend();
  ctx.log(backend.summary);
  const reps = Number(process.env.MSD_BENCH_REPS ?? 2);
  const cfgPath = join(ctx.root, '..', 'shared', 'models', 'bert-base-multilingual-cased', 'config.json');
  const cfg = existsSync(cfgPath)
    ? readBertConfig(cfgPath)
    : bertConfig({ vocabSize: 119547, hiddenSize: 768, numLayers: 12, numHeads: 12, intermediateSize: 3072 });
  const rows: BenchRow[] = [];

  const t0 = performance.now();
  const enc = BertEncoder.random(cfg, 0);
  const initS = (performance.now() - t0) / 1000;
  ctx.log(
    `mBERT-size encoder: ${enc.numParameters().toLocaleString('en')} parameters (${((countParameters(cfg) * 4) / MiB).toFixed(0)} MiB float32), random init ${initS.toFixed(1)} s`,
  );

  const ids = tf.tidy(() =>
    tf.cast(tf.floor(tf.randomUniform([B, T], 1000, cfg.vocabSize, 'float32', 1)), 'int32'),
  ) as tf.Tensor2D;
  const batch: BertInput = { inputIds: ids, attentionMask: tf.ones([B, T], 'int32') as tf.Tensor2D };

  for (const keyTranspose of ['explicit', 'fused'] as const) {
    const s = await time(reps, () => {
      const { hidden } = withKeyTranspose(keyTranspose, () => enc.forward(batch, { training: false }));
      hidden[cfg.numLayers].dataSync();
      tf.dispose(hidden);
    });
    rows.push({ what: `forward ${B}x${T} (eval), K^T ${keyTranspose}`, value: s, unit: 's', better: 'lower' });
  }

  // Training steps run in child processes: a step that outgrows the wasm heap aborts the wasm module, which
  // must not take the bench down with it. Each child builds its own encoder (same seed).
  const trainable = enc.trainableVariables(PAPER_FREEZE).reduce((n, v) => n + v.variable.size, 0);
  const stateNote = `${(trainable / 1e6).toFixed(1)}M trainable; AdamW state would be ${((2 * trainable * 4) / MiB).toFixed(0)} MiB`;
  const shapes: [number, number][] = [
    [B, T],
    [4, T],
    [B, 32],
  ];
  for (const [b, t] of shapes) {
    const res = trainStepInChild(ctx.root, cfgPath, b, t);
    if ('error' in res) {
      ctx.log(`forward+backward ${b}x${t}: ${res.error}`);
      rows.push({
        what: `forward+backward ${b}x${t}, embeddings + layers 1-3 frozen`,
        value: NaN,
        unit: 's',
        better: 'lower',
        note: res.error,
      });
      continue;
    }
    rows.push({
      what: `forward+backward ${b}x${t}, embeddings + layers 1-3 frozen`,
      value: res.seconds,
      unit: 's',
      better: 'lower',
      note: `${stateNote}; peak wasm heap ${res.heapMiB?.toFixed(0) ?? '?'} MiB, tfjs after forward ${res.afterForwardMiB.toFixed(0)} MiB`,
    });
  }

  const mem = process.memoryUsage();
  const heap = wasmHeapBytes();
  rows.push({ what: 'peak RSS', value: mem.rss / MiB, unit: 'MiB', better: 'lower' });
  rows.push({
    what: 'tfjs bytes held (weights + batch)',
    value: tf.memory().numBytes / MiB,
    unit: 'MiB',
    better: 'lower',
  });
  if (heap !== undefined)
    rows.push({
      what: 'wasm heap (peak; limit 4096)',
      value: heap / MiB,
      unit: 'MiB',
      better: 'lower',
      target: { on: 'value', op: '<=', value: 4096 },
    });

  // Reference: PyTorch on the same shapes, same freezing, in the same run.
  const ref = torchReference(reps);
  if (typeof ref === 'string') {
    ctx.log(`PyTorch reference skipped: ${ref}`);
  } else {
    ctx.log(`PyTorch reference: ${ref.threads} threads`);
    rows[0].reference = { name: `PyTorch (${ref.threads} threads)`, value: ref.fwd };
    const fb = rows.find((r) => r.what.startsWith(`forward+backward ${B}x${T}`));
    if (fb) fb.reference = { name: `PyTorch (${ref.threads} threads)`, value: ref.fwdBwd };
  }

  // Matmul layouts at BERT-base attention and dense shapes: why kernels are stored [in, out].
  const x = tf.randomNormal([B * T, 768]) as tf.Tensor2D;
  const w = tf.randomNormal([768, 768]) as tf.Tensor2D;
  const q = tf.randomNormal([B * 12, T, 64]) as tf.Tensor3D;
  const kT = tf.randomNormal([B * 12, 64, T]) as tf.Tensor3D;
  const k = tf.randomNormal([B * 12, T, 64]) as tf.Tensor3D;
  const mm = async (what: string, f: () => tf.Tensor) => {
    const s = await time(Math.max(reps, 5), () => {
      const y = f();
      y.dataSync();
      y.dispose();
    });
    rows.push({ what, value: s * 1000, unit: 'ms', better: 'lower' });
  };
  await mm('matMul [1024,768]@[768,768]', () => tf.matMul(x, w));
  await mm('matMul [1024,768]@[768,768]^T (transposeB)', () => tf.matMul(x, w, false, true));
  const wi = tf.randomNormal([768, 3072]) as tf.Tensor2D;
  await mm('matMul [1024,768]@[768,3072] (intermediate)', () => tf.matMul(x, wi));
  await mm('scores Q@K^T from stored K^T', () => tf.matMul(q, kT));
  await mm('scores transpose(K) + matMul', () => tf.tidy(() => tf.matMul(q, tf.transpose(k, [0, 2, 1]))));
  await mm('scores matMul(Q, K, transposeB)', () => tf.matMul(q, k, false, true));
  tf.dispose([x, w, wi, q, k, kT, ids, batch.attentionMask]);
  enc.dispose();
  return rows;
};

export default bench;
