/**
 * Learning-rate schedule: linear warmup from 0, then linear decay to 0 (HF `get_linear_schedule_with_warmup`,
 * the reference code's `WarmupLinearSchedule`).
 *
 *   mult(s) = s / max(1, W)                          for s < W
 *   mult(s) = max(0, (T - s) / max(1, T - W))        for s >= W
 *
 * s counts optimizer steps taken before this one (0 for the first update), T = totalSteps, W = warmup steps.
 * The learning rate of update s is `baseLr * mult(s)`. Like HF, the very first update (s = 0) therefore has lr 0
 * when W > 0, and mult reaches 1 at s = W.
 *
 * W from a ratio is floor(T * ratio), as the reference code's `int(t_total * args.warmup_ratio)` (HF's Trainer
 * rounds up instead). The reference calls `scheduler.step()` before `optimizer.step()` (pre-1.1 PyTorch order), so
 * its update s uses mult(s + 1); pass `step + 1` to reproduce that exactly.
 */

export interface LinearWarmupDecayOptions {
  /** Total number of optimizer steps T (> 0). */
  totalSteps: number;
  /** Fraction of T spent warming up; default 0.1. Ignored when `warmupSteps` is given. */
  warmupRatio?: number;
  /** Warmup steps W, explicitly (0 <= W <= T). */
  warmupSteps?: number;
}

export interface LrSchedule {
  /** Multiplier of the base learning rate for the update that follows `step` completed updates. */
  (step: number): number;
  readonly totalSteps: number;
  readonly warmupSteps: number;
}

export function linearWarmupDecay(opts: LinearWarmupDecayOptions): LrSchedule {
  const where = 'train/schedule.ts: linearWarmupDecay';
  const total = opts.totalSteps;
  if (!Number.isInteger(total) || total <= 0) {
    throw new Error(`${where}: totalSteps is ${String(total)}; expected an integer > 0`);
  }
  let warmup: number;
  if (opts.warmupSteps !== undefined) {
    warmup = opts.warmupSteps;
    if (!Number.isInteger(warmup) || warmup < 0 || warmup > total) {
      throw new Error(`${where}: warmupSteps is ${String(warmup)}; expected an integer in [0, totalSteps = ${total}]`);
    }
  } else {
    const ratio = opts.warmupRatio ?? 0.1;
    if (typeof ratio !== 'number' || !(ratio >= 0 && ratio <= 1)) {
      throw new Error(`${where}: warmupRatio is ${String(ratio)}; expected a number in [0, 1]`);
    }
    warmup = Math.floor(total * ratio);
  }
  const mult = (step: number): number => {
    if (!Number.isInteger(step) || step < 0) {
      throw new Error(`${where}: step is ${String(step)}; expected an integer >= 0`);
    }
    if (step < warmup) return step / Math.max(1, warmup);
    return Math.max(0, (total - step) / Math.max(1, total - warmup));
  };
  return Object.assign(mult, { totalSteps: total, warmupSteps: warmup });
}
