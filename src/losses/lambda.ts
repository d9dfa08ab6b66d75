/**
 * Layer weights lambda_m for the auxiliary terms of the teacher and student losses:
 *
 *   L_tea = L_main + alpha * sum_m lambda_m  L_aux_m          L_stu = L_12^KD + beta * sum_m lambda'_m L_m^KD
 *
 * Three modes:
 * - `'learned'`: lambda = softmax(omega), omega one trainable scalar per auxiliary layer, initialised
 *   U(-1, 1) from a seed. This is the public reference code (`self.omega = nn.Parameter(torch.Tensor(8, 1))`,
 *   `nn.init.uniform_(omega, -1, 1)`, `F.softmax(omega, dim=0)`). omega is a `tf.Variable`: give it to the
 *   optimizer with the model's variables, and save it with the checkpoint.
 * - `'uniform'`: lambda_m = 1 / n, constant.
 * - an explicit `number[]`: used as given (not renormalised), one non-negative finite weight per auxiliary layer.
 *
 * With zero auxiliary layers (the "no auxiliary distillers" ablation) every mode yields an empty weight vector.
 */
import { tf } from '../tf.js';
import type { Scalar, Tensor1D, Variable } from '../tf.js';
import { LossInputError } from './check.js';

export type LambdaMode = 'learned' | 'uniform' | readonly number[];

export interface LayerWeights {
  readonly mode: 'learned' | 'uniform' | 'explicit';
  /** Number of auxiliary layers weighted. */
  readonly count: number;
  /** The trainable omega (`'learned'` with count > 0 only), shape [count]. */
  readonly variable: Variable | null;
  /** lambda as a tensor [count]; differentiable with respect to `variable` in `'learned'` mode. Caller disposes. */
  weights(): Tensor1D;
  /** lambda as numbers (for logs). */
  values(): number[];
  /** Disposes the variable, if any. */
  dispose(): void;
}

export interface LayerWeightsOptions {
  /** Seed of the U(-1, 1) initialisation of omega (`'learned'`); default 0. */
  seed?: number;
  /**
   * Name of the omega variable (`'learned'`); default `'msd/lambda'`. tfjs variable names are global, so a teacher
   * and a student alive in one process need different names (e.g. `'teacher/lambda'`, `'student/lambda'`).
   */
  name?: string;
}

const WHERE = 'lambda.ts: layerWeights';

/** Creates the lambda of one loss for `count` auxiliary layers. */
export function layerWeights(mode: LambdaMode, count: number, opts: LayerWeightsOptions = {}): LayerWeights {
  if (!Number.isInteger(count) || count < 0) {
    throw new LossInputError(
      WHERE,
      `count is ${String(count)}; expected a non-negative integer (number of auxiliary layers)`,
    );
  }
  if (mode === 'uniform') return constantWeights('uniform', new Array<number>(count).fill(count > 0 ? 1 / count : 0));
  if (Array.isArray(mode)) {
    const list = mode as readonly number[];
    if (list.length !== count) {
      throw new LossInputError(
        WHERE,
        `explicit lambda has ${list.length} weights; expected ${count} (one per auxiliary layer)`,
      );
    }
    list.forEach((w, i) => {
      if (typeof w !== 'number' || !Number.isFinite(w) || w < 0) {
        throw new LossInputError(WHERE, `explicit lambda[${i}] is ${String(w)}; expected a finite number >= 0`);
      }
    });
    return constantWeights('explicit', [...list]);
  }
  if (mode !== 'learned') {
    throw new LossInputError(WHERE, `mode is ${JSON.stringify(mode)}; expected 'learned', 'uniform' or a number[]`);
  }
  if (count === 0) return constantWeights('learned', []);
  const name = opts.name ?? 'msd/lambda';
  let variable: Variable;
  try {
    variable = tf.tidy(() => tf.variable(tf.randomUniform([count], -1, 1, 'float32', opts.seed ?? 0), true, name));
  } catch (err) {
    throw new LossInputError(
      WHERE,
      `could not create variable '${name}': ${(err as Error).message} (give each learned lambda a distinct name)`,
    );
  }
  return {
    mode: 'learned',
    count,
    variable,
    weights: () => tf.softmax(variable) as Tensor1D,
    values: () => {
      const w = tf.softmax(variable);
      const out = Array.from(w.dataSync());
      w.dispose();
      return out;
    },
    dispose: () => variable.dispose(),
  };
}

function constantWeights(mode: 'uniform' | 'explicit' | 'learned', values: number[]): LayerWeights {
  return {
    mode,
    count: values.length,
    variable: null,
    weights: () => tf.tensor1d(values, 'float32'),
    values: () => [...values],
    dispose: () => undefined,
  };
}

/** sum_m lambda_m * terms_m as a scalar (0 when there are no terms). */
export function weightedSum(lambda: LayerWeights, terms: readonly Scalar[]): Scalar {
  if (terms.length !== lambda.count) {
    throw new LossInputError('lambda.ts: weightedSum', `${terms.length} terms for ${lambda.count} layer weights`);
  }
  return tf.tidy(() =>
    terms.length === 0 ? tf.scalar(0) : (tf.sum(tf.mul(tf.stack([...terms]), lambda.weights())) as Scalar),
  );
}
