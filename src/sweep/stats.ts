/**
 * Statistics of a sweep: mean and sample standard deviation over seeds, and the two-sample t-test of a variant
 * against full MSD (the paper's significance test). The t-test is @stdlib/stats-ttest2 (maintained, tested against
 * R); this file only fixes the conventions and the degenerate cases.
 *
 *   mean  = (1/n) sum_i x_i
 *   std   = sqrt( (1/(n-1)) sum_i (x_i - mean)^2 )             sample std (n - 1), as papers report over seeds
 *   Welch: t = (mean_x - mean_y) / sqrt(s_x^2/n_x + s_y^2/n_y),  df by Welch-Satterthwaite   (default)
 *   Student (variance 'equal'): pooled s^2 = ((n_x-1)s_x^2 + (n_y-1)s_y^2) / (n_x+n_y-2),  df = n_x+n_y-2
 *   p = two-sided P(|T_df| >= |t|)
 */
import ttest2 from '@stdlib/stats-ttest2';

export function mean(xs: readonly number[]): number {
  if (xs.length === 0) return Number.NaN;
  let s = 0;
  for (const x of xs) s += x;
  return s / xs.length;
}

/** Sample standard deviation (n - 1); NaN for fewer than two values (no spread can be estimated from one seed). */
export function std(xs: readonly number[]): number {
  if (xs.length < 2) return Number.NaN;
  const m = mean(xs);
  let s = 0;
  for (const x of xs) s += (x - m) * (x - m);
  return Math.sqrt(s / (xs.length - 1));
}

export interface TTestResult {
  /** Two-sided p-value; NaN when the test is undefined (see `note`). */
  p: number;
  t: number;
  df: number;
  method: 'welch' | 'student';
  /** Why p is NaN or was decided without the t distribution. */
  note?: string;
}

/**
 * Two-sample two-sided t-test of x against y. `variance: 'unequal'` (default) is Welch's test, `'equal'` Student's
 * pooled test. Fewer than two values in a sample: p = NaN (undefined, said in `note`). Both samples without spread
 * (every seed gave the same F1): t is infinite unless the means are equal, so p = 0, or p = 1 for equal means.
 */
export function tTest(
  x: readonly number[],
  y: readonly number[],
  opts: { variance?: 'equal' | 'unequal' } = {},
): TTestResult {
  const method = opts.variance === 'equal' ? 'student' : 'welch';
  if (x.length < 2 || y.length < 2) {
    return {
      p: Number.NaN,
      t: Number.NaN,
      df: Number.NaN,
      method,
      note: `needs at least 2 values per sample, got ${x.length} and ${y.length}`,
    };
  }
  const sx = std(x);
  const sy = std(y);
  if (sx === 0 && sy === 0) {
    const same = mean(x) === mean(y);
    return {
      p: same ? 1 : 0,
      t: same ? 0 : Math.sign(mean(x) - mean(y)) * Infinity,
      df: x.length + y.length - 2,
      method,
      note: 'no spread in either sample',
    };
  }
  const r = ttest2([...x], [...y], { variance: opts.variance ?? 'unequal', alternative: 'two-sided' });
  return { p: r.pValue, t: r.statistic, df: r.df, method };
}

export interface GroupStats {
  n: number;
  mean: number;
  std: number;
  min: number;
  max: number;
}

export function describe(xs: readonly number[]): GroupStats {
  return {
    n: xs.length,
    mean: mean(xs),
    std: std(xs),
    min: xs.length ? Math.min(...xs) : Number.NaN,
    max: xs.length ? Math.max(...xs) : Number.NaN,
  };
}
