/**
 * Backpropagation that frees memory as it walks the tape.
 *
 * tfjs's `engine.gradients` (tfjs-core 4.22 `engine.ts` and `tape.ts`) walks the gradient tape backward and holds two
 * things until the walk has ended: every tensor the forward pass saved for the backward pass (`node.saved`, freed
 * after the last node), and the gradient of every intermediate tensor (its accumulated-gradient map, freed when the
 * `backward` scope closes). Its peak is therefore the forward's saved activations plus the gradients of all the
 * intermediate tensors.
 *
 * Each tensor is the output of one node, and every node that consumes it comes after that node on the tape, so it is
 * walked first: when the walk reaches a node, the gradients of its outputs are complete, and once the node's own
 * gradient has run, neither those gradients nor the node's saved tensors are read again. This walk frees them
 * there. The peak becomes the saved activations not yet walked plus the gradients in flight: an mBERT student step
 * with 512-token micro-batches went from a 2.50 to a 1.65 GiB wasm heap, and 1024-token ones now take 1.92 GiB
 * (README, Backends, "And in training").
 *
 * Everything else is tfjs's: the same filtered tape (`filteredTape` is tfjs's `getFilteredNodesXToY`), the same
 * gradient calls in the same order, the same accumulation (the sum of the old sum and the new part, as `add`
 * computes it; written into the old sum's bytes where nothing else reads them, `addInto`), so the same numbers
 * (test/backend/backprop.test.ts compares gradients and counts the live bytes on every backend). A gradient tensor
 * held under two keys (a gradient function that returns its dy, or one object for two inputs) is freed only when
 * neither needs it. Nested gradients (`tf.grads` inside a function being differentiated, whose tape the outer
 * tape records) go to tfjs's own `gradients` unchanged.
 *
 * `useFreeingBackprop()` installs it on tfjs's engine (one per process); `initBackend` calls it.
 */
import { tf } from '../tf.js';
import { addInto } from './host-memory.js';

type Tensor = tf.Tensor;

/** The parts of tfjs's engine this walk uses (tfjs-core `engine.ts`; not public API). */
interface TapeNode {
  id: number;
  kernelName: string;
  outputs: Tensor[];
  inputs: Record<string, Tensor>;
  gradient?: (dys: (Tensor | null)[]) => Record<string, () => Tensor>;
  saved?: Tensor[];
}
interface EngineInternals {
  state: { activeTape: TapeNode[] | null; gradientDepth: number };
  gradients: GradientsFn;
  scopedRun<T>(start: () => void, end: () => void, f: () => T): T;
  startTape(): void;
  endTape(): void;
  tidy<T>(nameOrFn: string | (() => T), fn?: () => T): T;
}
type GradientsFn = (
  this: EngineInternals,
  f: () => Tensor,
  xs: Tensor[],
  dy?: Tensor | null,
  allowNoGradients?: boolean,
) => { value: Tensor; grads: Tensor[] };

/**
 * tfjs's `getFilteredNodesXToY`: the nodes on a path from an x to y, each with only its inputs that come from an x.
 * `y` may be several tensors (`recordForward`'s walk from several outputs): the nodes on a path to any of them.
 */
export function filteredTape(tape: TapeNode[], xs: Tensor[], y: Tensor | Tensor[]): TapeNode[] {
  const fromX = new Set(xs.map((x) => x.id));
  const nodesFromX = new Set<number>();
  for (const node of tape) {
    for (const name in node.inputs) {
      if (fromX.has(node.inputs[name]!.id)) {
        for (const o of node.outputs) fromX.add(o.id);
        nodesFromX.add(node.id);
        break;
      }
    }
  }
  const leadToY = new Set((Array.isArray(y) ? y : [y]).map((t) => t.id));
  const nodesToY = new Set<number>();
  for (let i = tape.length - 1; i >= 0; i--) {
    const node = tape[i]!;
    if (node.outputs.some((o) => leadToY.has(o.id))) {
      for (const name in node.inputs) {
        leadToY.add(node.inputs[name]!.id);
        nodesToY.add(node.id);
      }
    }
  }
  const out: TapeNode[] = [];
  for (const node of tape) {
    if (!nodesFromX.has(node.id) || !nodesToY.has(node.id)) continue;
    const inputs: Record<string, Tensor> = {};
    for (const name in node.inputs) if (fromX.has(node.inputs[name]!.id)) inputs[name] = node.inputs[name]!;
    out.push({ ...node, inputs, outputs: node.outputs });
  }
  return out;
}

/**
 * tfjs's `backpropagateGradients`, freeing each node's saved tensors and its outputs' gradients once the node's
 * gradient has run (see the header). `keep`: the ids whose gradients the caller returns; `external`: tensors the
 * caller owns (the dys passed in), never freed here.
 */
export function backpropagate(
  grads: Map<number, Tensor>,
  tape: TapeNode[],
  tidy: (f: () => Tensor) => Tensor,
  keep: Set<number>,
  external: ReadonlySet<Tensor> = new Set(),
): void {
  // How many keys of `grads` hold each tensor object: one is freed only when no key holds it any more.
  const holders = new Map<Tensor, number>();
  const hold = (id: number, t: Tensor) => {
    grads.set(id, t);
    holders.set(t, (holders.get(t) ?? 0) + 1);
  };
  const release = (id: number): Tensor | undefined => {
    const t = grads.get(id);
    if (!t) return undefined;
    grads.delete(id);
    const n = (holders.get(t) ?? 1) - 1;
    if (n > 0) {
      holders.set(t, n);
      return undefined;
    }
    holders.delete(t);
    return t;
  };
  for (const [id, t] of [...grads]) hold(id, t);
  for (let i = tape.length - 1; i >= 0; i--) {
    const node = tape[i]!;
    const dys = node.outputs.map((o) => grads.get(o.id) ?? null);
    if (!node.gradient) throw new Error(`Cannot compute gradient: gradient function not found for ${node.kernelName}.`);
    const inputGradients = node.gradient(dys);
    for (const name in node.inputs) {
      if (!(name in inputGradients)) {
        throw new Error(
          `Cannot backprop through input ${name}. Available gradients found: ${Object.keys(inputGradients)}.`,
        );
      }
      const dx = tidy(() => inputGradients[name]!());
      if (dx.dtype !== 'float32') {
        throw new Error(
          `Error in gradient for op ${node.kernelName}. The gradient of input ${name} must have 'float32' dtype, but has '${dx.dtype}'`,
        );
      }
      const x = node.inputs[name]!;
      if (!tf.util.arraysEqual(dx.shape, x.shape)) {
        throw new Error(
          `Error in gradient for op ${node.kernelName}. The gradient of input '${name}' has shape '${dx.shape}', which does not match the shape of the input '${x.shape}'`,
        );
      }
      const current = grads.get(x.id);
      if (current === undefined) hold(x.id, dx);
      else {
        release(x.id);
        const ours = (t: Tensor) => !holders.has(t) && !external.has(t);
        // The old sum and dx read by nothing else: dx added into the sum's bytes (addInto: tf.add's bits, both freed
        // or reused), instead of a new tensor for each sum (a weight used by two forwards on one tape, an input read
        // by several products).
        if (ours(current) && ours(dx) && current !== dx && !node.saved?.includes(dx)) hold(x.id, addInto(current, dx));
        else {
          hold(x.id, tf.add(current, dx));
          // tfjs disposes the old sum here; a tensor another key still holds is left to that key.
          if (ours(current)) current.dispose();
        }
      }
    }
    // Nothing after this node reads its saved tensors or its outputs' (complete) gradients.
    for (const t of node.saved ?? []) t.dispose();
    for (const o of node.outputs) {
      if (keep.has(o.id)) continue;
      const t = release(o.id);
      if (t && !external.has(t)) t.dispose();
    }
  }
}

/** tfjs's own `engine.gradients`, once the freeing walk is installed. */
let tfjsGradients: GradientsFn | undefined;
let freeingGradients: GradientsFn | undefined;

/**
 * Runs `fn` with tfjs's own backward walk (the comparisons in test/backend/backprop.test.ts and
 * scratch A/B timings; not exported by the package).
 */
export function withTfjsBackprop<T>(fn: () => T): T {
  const engine = tf.engine() as unknown as EngineInternals;
  if (!tfjsGradients) return fn();
  engine.gradients = tfjsGradients;
  try {
    return fn();
  } finally {
    engine.gradients = freeingGradients!;
  }
}

/** Installs the freeing walk as tfjs's `engine.gradients` (idempotent; nested gradients keep tfjs's). */
export function useFreeingBackprop(): void {
  if (tfjsGradients) return;
  const engine = tf.engine() as unknown as EngineInternals;
  const tfjs = (tfjsGradients = engine.gradients);
  engine.gradients = freeingGradients = function (this: EngineInternals, f, xs, dy, allowNoGradients = false) {
    // Inside a function being differentiated: tfjs's walk, whose kernels the outer tape records.
    if (this.state.gradientDepth > 0) return tfjs.call(this, f, xs, dy, allowNoGradients);
    if (xs.length === 0) throw new Error('gradients() received an empty list of xs.');
    if (dy != null && dy.dtype !== 'float32') throw new Error(`dy must have 'float32' dtype, but has '${dy.dtype}'`);
    const y = this.scopedRun(
      () => this.startTape(),
      () => this.endTape(),
      () => this.tidy('forward', f),
    );
    if (!(y instanceof tf.Tensor)) throw new Error('The result y returned by f() must be a tensor.');
    const tape = this.state.activeTape!;
    try {
      const nodes = filteredTape(tape, xs, y);
      if (!allowNoGradients && nodes.length === 0 && xs.length > 0) {
        throw new Error(
          'Cannot compute gradient of y=f(x) with respect to x. Make sure that the f you passed encloses all operations that lead from x to y.',
        );
      }
      return this.tidy('backward', () => {
        const grads = new Map<number, Tensor>([[y.id, dy ?? tf.ones(y.shape)]]);
        backpropagate(grads, nodes, (fn) => this.tidy(fn), new Set(xs.map((x) => x.id)), new Set(dy ? [dy] : []));
        // An x the walk did not reach (allowNoGradients) gets undefined, as in tfjs.
        return { value: y, grads: xs.map((x) => grads.get(x.id)!) };
      });
    } finally {
      // tfjs frees every saved tensor of the tape here (the walk freed those of the nodes it visited).
      for (const node of tape) for (const t of node.saved ?? []) t.dispose();
      this.state.activeTape = null;
    }
  };
}

/** A forward pass recorded on a tape of its own, walked back later from several of its outputs (`recordForward`). */
export interface RecordedForward<T> {
  /** What the forward returned (tensors, or an object or array of them); the caller disposes it, after `backward`. */
  value: T;
  /**
   * The gradients of sum_i <dy_i, y_i> for the `seeds` [y_i, dy_i] (y_i tensors of `value`, dy_i owned by the
   * caller, not freed) with respect to each of `xs` (undefined for an x no path reaches), walking the tape once with
   * the freeing walk; the tape's saved tensors are freed. At most once.
   */
  backward(seeds: readonly [Tensor, Tensor][], xs: readonly Tensor[]): (Tensor | undefined)[];
  /** Frees the tape's saved tensors (after `backward`, or instead of it); idempotent. */
  release(): void;
}

/**
 * Runs `f` on a gradient tape of its own and keeps the tape, so that its backward walk can run later, seeded from
 * any of its outputs: several forwards can be recorded first and each walked once something computed from all of
 * their outputs is known (the student's micro-batches and their whole-batch MMD term,
 * train/student-micro-batches.ts). The forward's saved tensors stay in memory until `backward` or `release`. The
 * walk is `backpropagate`, so a recorded forward walked from one output with dy = 1 gives `engine.gradients`'s
 * numbers (test/backend/backprop.test.ts). Not inside a function being differentiated.
 */
export function recordForward<T>(f: () => T): RecordedForward<T> {
  const engine = tf.engine() as unknown as EngineInternals;
  if (engine.state.gradientDepth > 0) throw new Error('recordForward: not available inside a gradient computation');
  let tape: TapeNode[] | null = null;
  const value = engine.scopedRun(
    () => engine.startTape(),
    () => engine.endTape(),
    () => {
      tape = engine.state.activeTape;
      // tidy keeps the tensors of any container f returns (an object of tensors here).
      return engine.tidy('forward', f as () => Tensor) as T;
    },
  );
  engine.state.activeTape = null;
  let walked = false;
  const release = () => {
    for (const node of tape ?? []) for (const t of node.saved ?? []) t.dispose();
    tape = null;
  };
  return {
    value,
    release,
    backward(seeds, xs) {
      if (walked || !tape) throw new Error('recordForward: the tape was already walked or released');
      walked = true;
      try {
        const nodes = filteredTape(
          tape,
          [...xs],
          seeds.map(([y]) => y),
        );
        return engine.tidy('backward', () => {
          const grads = new Map<number, Tensor>();
          for (const [y, dy] of seeds) {
            if (!tf.util.arraysEqual(y.shape, dy.shape))
              throw new Error(`recordForward: a seed of shape [${dy.shape}] for an output of shape [${y.shape}]`);
            grads.set(y.id, dy);
          }
          const external = new Set(seeds.map(([, dy]) => dy));
          backpropagate(grads, nodes, (fn) => engine.tidy(fn), new Set(xs.map((x) => x.id)), external);
          return xs.map((x) => grads.get(x.id));
        }) as (Tensor | undefined)[];
      } finally {
        release();
      }
    },
  };
}
