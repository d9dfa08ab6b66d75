/**
 * AdamW: Adam with decoupled weight decay (Loshchilov & Hutter). tfjs ships Adam only, whose L2 penalty would be
 * rescaled by the adaptive denominator; BERT fine-tuning (and the MSD reference code) uses the decoupled form.
 *
 * For each variable p with gradient g, at its t-th update (t counted per variable, from 1), learning rate lr:
 *
 *   m <- b1 m + (1 - b1) g              v <- b2 v + (1 - b2) g^2
 *
 *   variant 'hf' (default; HF `transformers.AdamW(correct_bias=True)`, the optimizer of the reference code):
 *     p <- p - lr * sqrt(1 - b2^t) / (1 - b1^t) * m / (sqrt(v) + eps)
 *     p <- p - lr * wd * p                                   (decay after the Adam update)
 *   variant 'torch' (`torch.optim.AdamW`):
 *     p <- p * (1 - lr * wd)                                 (decay before the Adam update)
 *     p <- p - lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
 *
 * The two differ only in where eps sits relative to the bias correction and in the order of the decay, which is
 * negligible for eps = 1e-8 and lr ~ 1e-5; both are here so either reference can be matched.
 * wd is 0 for variables whose name matches `noDecay` (default `defaultNoDecay`: bias and LayerNorm parameters, as the
 * reference's `no_decay = ["bias", "LayerNorm.weight"]`; the training loop uses exactly this rule).
 *
 * Only the variables given to the constructor are updated; frozen ones are simply left out and get no state.
 * A variable with no gradient in a step is skipped entirely (no decay, no state change), as PyTorch does for
 * `grad is None`. State is created on a variable's first update. `exportState`/`importState` move the state as
 * named Float32Arrays (for a safetensors checkpoint); a restored optimizer continues bit-exactly.
 */
import type { Tensor, Variable } from '../tf.js';
import { updateVariable, updateVariableInHeap } from '../backend/host-memory.js';
import { HOST_MOMENTS_MIN_VALUES, heapKernels, type HeapKernels } from '../backend/simd-kernels.js';
import { HeapFloats } from '../backend/heap-floats.js';

export interface AdamWOptions {
  /** Default 0.9. */
  beta1?: number;
  /** Default 0.999. */
  beta2?: number;
  /** Default 1e-8. */
  eps?: number;
  /** Decoupled weight decay; default 0.01. */
  weightDecay?: number;
  /** Names of variables that get no weight decay; default `defaultNoDecay` (bias and LayerNorm). */
  noDecay?: (name: string) => boolean;
  /** Which reference to follow exactly; default 'hf'. */
  variant?: 'hf' | 'torch';
  /**
   * Where the moment estimates live: 'host' (plain Float32Arrays), 'heap' (in the wasm heap, when the backend has the
   * SIMD kernels; else host) or 'auto' (default: the heap when all of them fit in `HEAP_MOMENTS_MAX_BYTES`).
   */
  moments?: 'auto' | 'heap' | 'host';
}

/**
 * The most bytes of moment estimates (8 per trained parameter) that 'auto' keeps in the wasm heap: the tiny preset's
 * 1.5 M parameters (12 MB) are in; mBERT's trained layers (2 x 255 MB) stay in host memory, out of the 4 GiB heap.
 */
export const HEAP_MOMENTS_MAX_BYTES = 64 * 2 ** 20;

/** Gradients by variable name (what `tf.variableGrads` returns) or by variable. */
export type Gradients = Record<string, Tensor> | Map<Variable, Tensor>;

/**
 * The one no-decay rule: true for bias vectors (a last name part `bias`, after `.`, `/` or `_`, optionally followed by
 * a uniquifying `#n` or TF's `:0`) and every LayerNorm parameter (`LayerNorm`, `layer_norm`, `layernorm` anywhere).
 * A weight whose name merely contains "bias" (`bias_proj.kernel`) decays.
 */
export function defaultNoDecay(name: string): boolean {
  return /(^|[./_])bias([#:]\w*)?$|layer_?norm/i.test(name);
}

/**
 * A variable's moment estimates, never tensors (the update below is one fused pass instead of a dozen tensor ops that
 * each allocate a parameter-sized intermediate). In host memory (`host`: for mBERT's trained layers 2 x 255 MB kept
 * out of the 4 GiB wasm heap) or, for small models on wasm, in the heap (`heap`), where the SIMD update reads and
 * writes them in place instead of copying them through a scratch: 0.85-0.91 against 1.34-1.49 ns per parameter
 * (the update alone over 1.5 M, 16 M and 64 M parameters, the two ways alternated in one process, 5 December).
 */
interface Slot {
  host?: { m: Float32Array; v: Float32Array };
  heap?: { m: HeapFloats; v: HeapFloats };
  step: number;
}

/** The moments as arrays: the host ones, or views of the heap ones (valid until the next allocation). */
function momentArrays(slot: Slot): { m: Float32Array; v: Float32Array } {
  return slot.host ?? { m: slot.heap!.m.view(), v: slot.heap!.v.view() };
}

/** Moments in the heap holding `m` and `v` (zeros when absent), or undefined when the backend has no wasm heap. */
function heapMoments(size: number, m?: Float32Array, v?: Float32Array): Slot['heap'] {
  const hm = HeapFloats.zeros(size);
  if (!hm) return undefined;
  let hv: HeapFloats;
  try {
    hv = HeapFloats.zeros(size)!;
  } catch (e) {
    hm.free();
    throw e;
  }
  if (m) hm.view().set(m);
  if (v) hv.view().set(v);
  return { m: hm, v: hv };
}

function freeMoments(slot: Slot): void {
  slot.heap?.m.free();
  slot.heap?.v.free();
}

const WHERE = 'train/adamw.ts: AdamW';

/**
 * On wasm with the SIMD kernels, the update is `adamw_hf`/`adamw_torch` of src/backend/simd-kernels.wat (four float32
 * lanes, the same operations in the same order as the loops below: the same bits). Host moments pass through two
 * heap scratch arrays of this many values (copied in and out, about 0.5 ns per parameter), except with the native
 * kernels (src/backend/native-kernels.c, `adamw_host`), which read and write them where they are.
 */
const CHUNK = 16384;

/** The kernels of one `step` and the heap scratch that host moments pass through (allocated at first use). */
interface HeapPass {
  kernels: HeapKernels;
  scratch?: { m: HeapFloats; v: HeapFloats };
}

/*
 * The fused loops, in float32 arithmetic as PyTorch's AdamW: every operation's result is rounded to float32
 * (`f`, Math.fround). A float64 operation on float32 operands rounded to float32 is exactly the float32 operation
 * (+, -, *, / and sqrt: double rounding is harmless at 53 against 24 bits), so these give the bits of the SIMD
 * kernels. The constants come rounded to float32 (`StepConstants`), as the kernels' float32 parameters take them.
 * Two loops, not one with neutral parameters: a single loop computing both formulas (an extra division and
 * multiplication per element) measured 10.3 against 5.4 ns per parameter (63.8M parameters on blas, float64 loops).
 */
const f = Math.fround;

/** 'hf': p <- p - stepSize * m / (sqrt(v) + eps), then p <- p - decay * p. */
function adamwHf(
  next: Float32Array,
  pv: Float32Array,
  gv: Float32Array,
  m: Float32Array,
  v: Float32Array,
  c: StepConstants,
): void {
  const { b1, b2, eps, stepSize, decay, gradScale } = c;
  const [c1, c2] = [f(1 - b1), f(1 - b2)];
  const n = next.length;
  for (let i = 0; i < n; i++) {
    const gi = f(gv[i]! * gradScale);
    const mi = (m[i] = f(f(b1 * m[i]!) + f(c1 * gi)));
    const vi = (v[i] = f(f(b2 * v[i]!) + f(f(c2 * gi) * gi)));
    const x = f(pv[i]! - f(stepSize * f(mi / f(f(Math.sqrt(vi)) + eps))));
    next[i] = x - f(x * decay);
  }
}

/** 'torch': p <- p (1 - decay), then p <- p - stepSize * m / (sqrt(v) / sqrtBc2 + eps). */
function adamwTorch(
  next: Float32Array,
  pv: Float32Array,
  gv: Float32Array,
  m: Float32Array,
  v: Float32Array,
  c: StepConstants,
): void {
  const { b1, b2, eps, stepSize, sqrtBc2, decay, gradScale } = c;
  const [c1, c2, keep] = [f(1 - b1), f(1 - b2), f(1 - decay)];
  const n = next.length;
  for (let i = 0; i < n; i++) {
    const gi = f(gv[i]! * gradScale);
    const mi = (m[i] = f(f(b1 * m[i]!) + f(c1 * gi)));
    const vi = (v[i] = f(f(b2 * v[i]!) + f(f(c2 * gi) * gi)));
    next[i] = f(pv[i]! * keep) - f(stepSize * f(mi / f(f(f(Math.sqrt(vi)) / sqrtBc2) + eps)));
  }
}

/** The scratch of one step when the active backend has the SIMD kernels, else undefined (the loops above run). */
function heapPass(): HeapPass | undefined {
  const kernels = heapKernels();
  return kernels && { kernels };
}

/** The constants of one variable's update (see the loops above), each a float32 value. */
interface StepConstants {
  b1: number;
  b2: number;
  eps: number;
  stepSize: number;
  sqrtBc2: number;
  decay: number;
  gradScale: number;
}

/**
 * One variable's update by the SIMD kernel: in place on heap moments, or host moments moved through the scratch a
 * chunk at a time. `at` holds byte offsets in the heap (updateVariableInHeap allocated `out` before calling).
 */
function heapUpdate(
  pass: HeapPass,
  variant: 'hf' | 'torch',
  at: { out: number; p: number; g: number },
  slot: Slot,
  c: StepConstants,
): void {
  const { kernels } = pass;
  const run = (i: number, len: number, m: number, v: number) => {
    const head = [at.p + 4 * i, at.g + 4 * i, m, v, at.out + 4 * i, len, c.b1, c.b2, c.eps, c.stepSize] as const;
    if (variant === 'hf') kernels.adamw_hf(...head, c.decay, c.gradScale);
    else kernels.adamw_torch(...head, c.sqrtBc2, c.decay, c.gradScale);
  };
  if (slot.heap) {
    run(0, slot.heap.m.length, slot.heap.m.byteOffset, slot.heap.v.byteOffset);
    return;
  }
  const { m, v } = slot.host!;
  if (kernels.adamw_host && m.length >= HOST_MOMENTS_MIN_VALUES) {
    // The native kernels read and write host moments where they are.
    const sqrtBc2 = variant === 'hf' ? 0 : c.sqrtBc2;
    kernels.adamw_host(
      at.p,
      at.g,
      m,
      v,
      at.out,
      m.length,
      c.b1,
      c.b2,
      c.eps,
      c.stepSize,
      sqrtBc2,
      c.decay,
      c.gradScale,
    );
    return;
  }
  pass.scratch ??= { m: HeapFloats.zeros(CHUNK)!, v: HeapFloats.zeros(CHUNK)! };
  const scratch = pass.scratch;
  // Views after every allocation of this update.
  const sm = scratch.m.view();
  const sv = scratch.v.view();
  for (let i = 0; i < m.length; i += CHUNK) {
    const len = Math.min(m.length, i + CHUNK) - i;
    sm.set(m.subarray(i, i + len));
    sv.set(v.subarray(i, i + len));
    run(i, len, scratch.m.byteOffset, scratch.v.byteOffset);
    m.set(sm.subarray(0, len), i);
    v.set(sv.subarray(0, len), i);
  }
}

export class AdamW {
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  readonly weightDecay: number;
  readonly variant: 'hf' | 'torch';
  readonly moments: 'auto' | 'heap' | 'host';
  private readonly noDecay: (name: string) => boolean;
  private readonly vars = new Map<string, Variable>();
  private readonly slots = new Map<string, Slot>();
  /** Trained parameters in all (for `momentsInHeap`). */
  private size = 0;

  constructor(variables: readonly Variable[], opts: AdamWOptions = {}) {
    this.beta1 = opts.beta1 ?? 0.9;
    this.beta2 = opts.beta2 ?? 0.999;
    this.eps = opts.eps ?? 1e-8;
    this.weightDecay = opts.weightDecay ?? 0.01;
    this.variant = opts.variant ?? 'hf';
    this.moments = opts.moments ?? 'auto';
    this.noDecay = opts.noDecay ?? defaultNoDecay;
    for (const [name, v, lo, hi] of [
      ['beta1', this.beta1, 0, 1],
      ['beta2', this.beta2, 0, 1],
    ] as const) {
      if (!(v >= lo && v < hi)) throw new Error(`${WHERE}: ${name} is ${v}; expected a number in [${lo}, ${hi})`);
    }
    if (!(this.eps > 0 && Number.isFinite(this.eps)))
      throw new Error(`${WHERE}: eps is ${this.eps}; expected a finite number > 0`);
    if (!(this.weightDecay >= 0 && Number.isFinite(this.weightDecay))) {
      throw new Error(`${WHERE}: weightDecay is ${this.weightDecay}; expected a finite number >= 0`);
    }
    if (this.variant !== 'hf' && this.variant !== 'torch') {
      throw new Error(`${WHERE}: variant is ${JSON.stringify(this.variant)}; expected 'hf' or 'torch'`);
    }
    if (!['auto', 'heap', 'host'].includes(this.moments)) {
      throw new Error(`${WHERE}: moments is ${JSON.stringify(this.moments)}; expected 'auto', 'heap' or 'host'`);
    }
    for (const v of variables) {
      if (this.vars.has(v.name)) throw new Error(`${WHERE}: variable '${v.name}' is listed twice`);
      if (v.dtype !== 'float32')
        throw new Error(`${WHERE}: variable '${v.name}' has dtype ${v.dtype}; expected float32`);
      this.vars.set(v.name, v);
      this.size += v.size;
    }
  }

  /** Names of the variables this optimizer updates, in constructor order. */
  get variableNames(): string[] {
    return [...this.vars.keys()];
  }

  /** Whether `name` receives weight decay. */
  decays(name: string): boolean {
    return this.weightDecay > 0 && !this.noDecay(name);
  }

  /**
   * One update with learning rate `lr` (the schedule's multiplier times the base rate). Each gradient is used times
   * `gradScale` (the global-norm clipping factor, so clipping needs no scaled copy of every gradient). Gradients are
   * not disposed; a gradient for a variable this optimizer does not hold is an error (a frozen variable that
   * received gradients usually means the wrong variable list was differentiated).
   */
  step(grads: Gradients, lr: number, gradScale = 1): void {
    if (typeof lr !== 'number' || !Number.isFinite(lr) || lr < 0) {
      throw new Error(`${WHERE}: step: lr is ${String(lr)}; expected a finite number >= 0`);
    }
    if (typeof gradScale !== 'number' || !Number.isFinite(gradScale) || gradScale < 0) {
      throw new Error(`${WHERE}: step: gradScale is ${String(gradScale)}; expected a finite number >= 0`);
    }
    const entries: [string, Tensor][] =
      grads instanceof Map ? [...grads.entries()].map(([v, g]) => [v.name, g]) : Object.entries(grads);
    for (const [name, g] of entries) {
      const variable = this.vars.get(name);
      if (!variable) {
        throw new Error(
          `${WHERE}: step: gradient for '${name}', which is not among the ${this.vars.size} optimised variables`,
        );
      }
      if (
        g.dtype !== 'float32' ||
        g.shape.length !== variable.shape.length ||
        g.shape.some((d, i) => d !== variable.shape[i])
      ) {
        throw new Error(
          `${WHERE}: step: gradient for '${name}' is ${g.dtype} [${g.shape}]; expected float32 [${variable.shape}] like the variable`,
        );
      }
    }
    const pass = heapPass();
    try {
      for (const [name, g] of entries) this.update(this.vars.get(name)!, g, lr, gradScale, pass);
    } finally {
      pass?.scratch?.m.free();
      pass?.scratch?.v.free();
    }
  }

  /**
   * The update of one variable, fused: one pass over p, g, m and v (float32, as PyTorch's). On the
   * wasm/blas backend it reads the gradient and writes the parameter in the wasm heap, in place when nothing else
   * shares the parameter's bytes (src/backend/host-memory.ts): no copy of either is made.
   */
  private update(p: Variable, g: Tensor, lr: number, gradScale: number, pass: HeapPass | undefined): void {
    const slot = this.slots.get(p.name) ?? this.newSlot(p.size);
    this.slots.set(p.name, slot);
    const t = slot.step + 1;
    const { beta1: b1, beta2: b2, eps } = this;
    const bc1 = 1 - b1 ** t;
    const bc2 = 1 - b2 ** t;
    const decay = this.decays(p.name) ? lr * this.weightDecay : 0;
    const variant = this.variant;
    // The step's scalars in float64, then each rounded to float32 once (as PyTorch passes its Python floats).
    const c: StepConstants = {
      b1: f(b1),
      b2: f(b2),
      eps: f(eps),
      stepSize: f(variant === 'hf' ? (lr * Math.sqrt(bc2)) / bc1 : lr / bc1),
      sqrtBc2: f(Math.sqrt(bc2)),
      decay: f(decay),
      gradScale: f(gradScale),
    };
    if (
      pass &&
      updateVariableInHeap(p, g, (out, pv, gv) => heapUpdate(pass, variant, { out, p: pv, g: gv }, slot, c))
    ) {
      slot.step = t;
      return;
    }
    // `next` may be `pv` itself (an in-place update): each pv[i] is read before next[i] is written.
    updateVariable(p, g, (next, pv, gv) => {
      const { m, v } = momentArrays(slot);
      if (variant === 'hf') adamwHf(next, pv, gv, m, v, c);
      else adamwTorch(next, pv, gv, m, v, c);
    });
    slot.step = t;
  }

  /** Where each variable's moments live: the wasm heap or host memory (variables never updated are absent). */
  momentLocations(): Record<string, 'heap' | 'host'> {
    return Object.fromEntries([...this.slots].map(([name, s]) => [name, s.heap ? 'heap' : 'host']));
  }

  /** Per-variable update counts (variables never updated are absent). */
  steps(): Record<string, number> {
    return Object.fromEntries([...this.slots].map(([name, s]) => [name, s.step]));
  }

  /**
   * The state as named arrays: `<name>/exp_avg`, `<name>/exp_avg_sq` (shape of the variable, row-major) and
   * `<name>/step` (length 1; exact up to 2^24 updates) for every variable updated at least once.
   */
  exportState(): Record<string, Float32Array> {
    const out: Record<string, Float32Array> = {};
    for (const [name, s] of this.slots) {
      const { m, v } = momentArrays(s);
      out[`${name}/exp_avg`] = m.slice();
      out[`${name}/exp_avg_sq`] = v.slice();
      out[`${name}/step`] = Float32Array.of(s.step);
    }
    return out;
  }

  /** Replaces the whole state by one from `exportState` (of an optimizer over variables with the same names). */
  importState(state: Record<string, Float32Array>): void {
    const where = `${WHERE}: importState`;
    const parsed = new Map<string, { m?: Float32Array; v?: Float32Array; step?: number }>();
    for (const [key, arr] of Object.entries(state)) {
      const match = /^(.*)\/(exp_avg|exp_avg_sq|step)$/.exec(key);
      if (!match) throw new Error(`${where}: key '${key}'; expected '<variable>/exp_avg', '/exp_avg_sq' or '/step'`);
      const [, name, part] = match;
      const variable = this.vars.get(name);
      if (!variable) throw new Error(`${where}: state for '${name}', which is not among the optimised variables`);
      if (!(arr instanceof Float32Array)) throw new Error(`${where}: '${key}' is not a Float32Array`);
      const entry = parsed.get(name) ?? {};
      if (part === 'step') {
        const step = arr.length === 1 ? arr[0] : NaN;
        if (!Number.isInteger(step) || step < 1)
          throw new Error(`${where}: '${key}' is [${arr.join(',')}]; expected one integer >= 1`);
        entry.step = step;
      } else {
        if (arr.length !== variable.size) {
          throw new Error(
            `${where}: '${key}' has ${arr.length} values; expected ${variable.size} (shape [${variable.shape}])`,
          );
        }
        entry[part === 'exp_avg' ? 'm' : 'v'] = arr;
      }
      parsed.set(name, entry);
    }
    for (const [name, e] of parsed) {
      if (!e.m || !e.v || e.step === undefined)
        throw new Error(`${where}: incomplete state for '${name}'; expected exp_avg, exp_avg_sq and step`);
    }
    this.clearState();
    for (const [name, e] of parsed) this.slots.set(name, this.newSlot(e.m!.length, e.m, e.v, e.step));
  }

  /** Drops the moment estimates (the variables are the caller's). */
  dispose(): void {
    this.clearState();
  }

  private clearState(): void {
    for (const slot of this.slots.values()) freeMoments(slot);
    this.slots.clear();
  }

  /** A slot holding zeros or copies of `m` and `v` (the caller keeps its arrays), where `moments` says. */
  private newSlot(size: number, m?: Float32Array, v?: Float32Array, step = 0): Slot {
    const heap = this.momentsInHeap() ? heapMoments(size, m, v) : undefined;
    if (heap) return { heap, step };
    return { host: { m: m ? m.slice() : new Float32Array(size), v: v ? v.slice() : new Float32Array(size) }, step };
  }

  /** Whether new moments go to the wasm heap: there is one with the SIMD kernels, and `moments` allows it. */
  private momentsInHeap(): boolean {
    if (this.moments === 'host' || !heapKernels()) return false;
    return this.moments === 'heap' || 8 * this.size <= HEAP_MOMENTS_MAX_BYTES;
  }
}
