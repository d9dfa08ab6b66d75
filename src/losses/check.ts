/**
 * Input checks shared by the loss functions. A loss that silently broadcasts a [b,t] mask against [b,t,C] logits of
 * another batch, or gathers an out-of-range label as a zero one-hot row, trains on garbage without any error; these
 * checks turn such mistakes into messages that name the function, the argument and what was expected.
 */
import type { Tensor } from '../tf.js';

/** Thrown for malformed loss inputs; the message starts with `losses/<file>: <function>:`. */
export class LossInputError extends Error {
  constructor(where: string, message: string) {
    super(`losses/${where}: ${message}`);
    this.name = 'LossInputError';
  }
}

export function fmtShape(shape: readonly number[]): string {
  return `[${shape.join(',')}]`;
}

export function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

export function expectRank(where: string, name: string, t: Tensor, ranks: readonly number[]): void {
  if (!ranks.includes(t.rank)) {
    throw new LossInputError(
      where,
      `${name} has shape ${fmtShape(t.shape)} (rank ${t.rank}); expected rank ${ranks.join(' or ')}`,
    );
  }
}

/** A list of layers must be given (the losses take their layers from the run config; they have no default). */
export function expectLayerList(where: string, name: string, layers: unknown): void {
  if (!Array.isArray(layers)) {
    throw new LossInputError(
      where,
      `${name} is ${String(layers)}; expected a list of layers (model.headLayers of the config)`,
    );
  }
}

export function expectFloat(where: string, name: string, t: Tensor): void {
  if (t.dtype !== 'float32') {
    throw new LossInputError(where, `${name} has dtype ${t.dtype}; expected float32`);
  }
}

export function expectFiniteNumber(where: string, name: string, v: number, opts: { min?: number } = {}): void {
  if (typeof v !== 'number' || !Number.isFinite(v) || (opts.min !== undefined && v < opts.min)) {
    const range = opts.min !== undefined ? ` >= ${opts.min}` : '';
    throw new LossInputError(where, `${name} is ${String(v)}; expected a finite number${range}`);
  }
}

/** Layers named in `layers` must be distinct integers and present in `map`. */
export function expectLayers(
  where: string,
  name: string,
  map: ReadonlyMap<number, unknown>,
  layers: readonly number[],
): void {
  const seen = new Set<number>();
  for (const l of layers) {
    if (!Number.isInteger(l)) throw new LossInputError(where, `${name}: layer ${String(l)} is not an integer`);
    if (seen.has(l)) throw new LossInputError(where, `${name}: layer ${l} is listed twice`);
    seen.add(l);
    if (!map.has(l)) {
      const have = [...map.keys()].sort((a, b) => a - b).join(', ') || 'none';
      throw new LossInputError(where, `${name}: no tensor for layer ${l} (layers given: ${have})`);
    }
  }
}
