/**
 * The row both halves of a sweep speak: `collectSweep` (src/sweep/collect.ts) computes these statistics over seeds
 * and adds its t-test columns; the sweep figures (src/viz/sweep-figures.ts) draw them. Declared here, below both,
 * so that viz and sweep do not depend on each other.
 */

/** One statistic over seeds: a variant (in a setting) on a language at a layer. F1 as a fraction. */
export interface SeedStatRow {
  /** Non-seed, non-variant, non-target axis labels joined (`lr=low`), '' when there are none. */
  setting: string;
  variant: string;
  language: string;
  layer: number;
  /** Seeds averaged. */
  n: number;
  mean: number;
  /** Sample standard deviation over the seeds. */
  std: number;
}
