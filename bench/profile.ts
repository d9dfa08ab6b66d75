/**
 * Where a training step's time goes: per kernel (total ms and calls) and per phase (forward, backward, optimizer,
 * the rest: host work such as batching, clipping's norm, logging). `MSD_PROFILE=1 node --import tsx
 * bench/speed-msd.ts teacher paper <dir> 2` prints the table after its JSON line; `MSD_PROFILE=shapes` gives one
 * row per kernel and shapes of its inputs.
 *
 * How: every kernel registered for the wasm backend gets its `kernelFunc` wrapped by a timer (the engine reads the
 * function from the registry's config at each call, and wasm/BLAS kernels are synchronous, so the time is the
 * kernel's). The phases come from wrapping the engine's `tidy` (its scopes named 'forward' and 'backward', which
 * `engine.gradients` and `recordForward` open) and `AdamW.prototype.step`. Everything up to the end of the last
 * optimizer's first step (allocation, kernel set-up; for the student, its teacher's training and the cached teacher
 * outputs) is discarded, as the bench leaves the first step out.
 */
import { getKernelsForBackend, type KernelFunc, type TensorInfo } from '@tensorflow/tfjs-core';
import { tf } from '../src/tf.js';
import { AdamW } from '../src/train/adamw.js';

type Phase = 'forward' | 'backward' | 'optimizer' | 'other';
let phase: Phase = 'other';
const kernels = new Map<string, { ms: number; calls: number; flops: number; byPhase: Record<Phase, number> }>();

/** MSD_PROFILE=shapes: one row per kernel and shapes of its inputs. */
const byShape = process.env.MSD_PROFILE === 'shapes';

/** Matmuls split into the dense projections (one weight matrix for every row) and the per-head attention products. */
function kernelKey(name: string, args: Parameters<KernelFunc>[0]): { key: string; flops: number } {
  const shapes = byShape
    ? ` ${Object.values(args.inputs)
        .map((t) => `[${(t as TensorInfo).shape.join(',')}]`)
        .join(' ')}`
    : '';
  if (name !== 'BatchMatMul' && name !== '_FusedMatMul') return { key: name + shapes, flops: 0 };
  const { a, b } = args.inputs as { a: TensorInfo; b: TensorInfo };
  const { transposeA, transposeB } = args.attrs as { transposeA: boolean; transposeB: boolean };
  const r = a.shape.length;
  const m = transposeA ? a.shape[r - 1]! : a.shape[r - 2]!;
  const k = transposeA ? a.shape[r - 2]! : a.shape[r - 1]!;
  const n = transposeB ? b.shape[b.shape.length - 2]! : b.shape[b.shape.length - 1]!;
  const batch = Math.max(
    a.shape.slice(0, -2).reduce((x, y) => x * y, 1),
    b.shape.slice(0, -2).reduce((x, y) => x * y, 1),
  );
  const perHead = batch > 1 && b.shape.length > 2 && b.shape[0]! > 1;
  return { key: `${name} (${perHead ? 'per head' : 'dense'})${shapes}`, flops: 2 * batch * m * n * k };
}
const phases: Record<Phase, number> = { forward: 0, backward: 0, optimizer: 0, other: 0 };
const stepped = new WeakSet<AdamW>();

function reset(): void {
  kernels.clear();
  for (const p of Object.keys(phases) as Phase[]) phases[p] = 0;
}

/** Installs the timers (after initBackend, so that every kernel of ours is registered). */
export function startProfile(): void {
  for (const config of getKernelsForBackend('wasm')) {
    const inner = config.kernelFunc;
    const name = config.kernelName;
    config.kernelFunc = (args) => {
      const t0 = performance.now();
      const out = inner(args);
      const ms = performance.now() - t0;
      const { key, flops } = kernelKey(name, args);
      const k = kernels.get(key) ?? {
        ms: 0,
        calls: 0,
        flops: 0,
        byPhase: { forward: 0, backward: 0, optimizer: 0, other: 0 },
      };
      k.flops += flops;
      k.ms += ms;
      k.calls++;
      k.byPhase[phase] += ms;
      kernels.set(key, k);
      return out;
    };
  }
  // The forward and backward passes are the engine's scopes named 'forward' and 'backward': the freeing
  // `engine.gradients` and `recordForward` (src/backend/backprop.ts) both run them through `engine.tidy`.
  const engine = tf.engine() as unknown as { tidy: (nameOrFn: unknown, fn?: unknown) => unknown };
  const tidy = engine.tidy.bind(engine);
  engine.tidy = (nameOrFn, fn) => {
    const named = nameOrFn === 'forward' || nameOrFn === 'backward' ? (nameOrFn as Phase) : undefined;
    if (!named || phase !== 'other') return tidy(nameOrFn, fn);
    phase = named;
    const t0 = performance.now();
    try {
      return tidy(nameOrFn, fn);
    } finally {
      phases[named] += performance.now() - t0;
      phase = 'other';
    }
  };
  const step = AdamW.prototype.step;
  AdamW.prototype.step = function (this: AdamW, ...args: Parameters<AdamW['step']>) {
    phase = 'optimizer';
    const t0 = performance.now();
    step.apply(this, args);
    phases.optimizer += performance.now() - t0;
    phase = 'other';
    // The first step of each optimizer (the student run trains its teacher first) ends the set-up.
    if (!stepped.has(this)) {
      stepped.add(this);
      reset();
    }
  };
}

/** The table: phases (with the part of each spent in kernels) and kernels by total time. */
export function profileReport(stepMs: number, steps: number): string {
  const sum = (p: Phase) => [...kernels.values()].reduce((s, k) => s + k.byPhase[p], 0);
  phases.other = stepMs - phases.forward - phases.backward - phases.optimizer;
  const lines = [`profile over ${steps} step(s), ${stepMs.toFixed(0)} ms in all (ms per step):`];
  lines.push('phase      total  in kernels');
  for (const p of ['forward', 'backward', 'optimizer', 'other'] as Phase[]) {
    lines.push(
      `${p.padEnd(9)} ${(phases[p] / steps).toFixed(1).padStart(6)}  ${(sum(p) / steps).toFixed(1).padStart(10)}`,
    );
  }
  lines.push('kernel                      ms/step  calls/step  forward  backward  other  GFLOP/s');
  for (const [name, k] of [...kernels.entries()].sort((a, b) => b[1].ms - a[1].ms)) {
    const f = (v: number) => (v / steps).toFixed(1).padStart(8);
    lines.push(
      `${name.padEnd(byShape ? 60 : 26)} ${f(k.ms)} ${(k.calls / steps).toFixed(0).padStart(11)} ${f(k.byPhase.forward)} ${f(k.byPhase.backward)} ${f(k.byPhase.optimizer + k.byPhase.other)}${k.flops ? (k.flops / k.ms / 1e6).toFixed(0).padStart(9) : ''}`,
    );
  }
  return lines.join('\n');
}
