/**
 * The method's variants: the paper's ablations (Tables 1-3) as named bundles of the student's ablation flags
 * (`student.ablation`), with their labels, defined once here and used by sweeps (`variant` axis), `msd collect`,
 * the report, the published numbers and the notebooks:
 *
 *   full    L_final = L_stu + alpha' MMD_M + beta' MMD_L        (full MSD)
 *   noAux   only the main layer is distilled (no short channels: L_stu = L_12^KD)
 *   noMmdL  without MMD_L (student source vs student target)
 *   noMmdM  without MMD_M (teacher vs student on the same source sentences)
 *   noAll   none of the three: plain KD from the last layer
 */
import type { StudentConfig } from '../config.js';

export type Ablation = StudentConfig['ablation'];

export const ABLATION_VARIANTS = {
  full: { noAux: false, noMmdM: false, noMmdL: false },
  noAux: { noAux: true, noMmdM: false, noMmdL: false },
  noMmdL: { noAux: false, noMmdM: false, noMmdL: true },
  noMmdM: { noAux: false, noMmdM: true, noMmdL: false },
  noAll: { noAux: true, noMmdM: true, noMmdL: true },
} as const satisfies Record<string, Ablation>;

export type VariantName = keyof typeof ABLATION_VARIANTS;

export const VARIANT_NAMES = Object.keys(ABLATION_VARIANTS) as VariantName[];

/** The ablation flags of a variant; an unknown name is an error listing the known ones. */
export function variantAblation(name: string): Ablation {
  if (!(name in ABLATION_VARIANTS)) throw new Error(`variant '${name}': expected one of ${VARIANT_NAMES.join(', ')}`);
  return { ...ABLATION_VARIANTS[name as VariantName] };
}

/** The variant a set of ablation flags is, or undefined for a combination that has no name. */
export function variantOf(ablation: Ablation): VariantName | undefined {
  return VARIANT_NAMES.find((n) => {
    const v = ABLATION_VARIANTS[n];
    return v.noAux === ablation.noAux && v.noMmdM === ablation.noMmdM && v.noMmdL === ablation.noMmdL;
  });
}

/**
 * A variant of the method, named as above (full, noAux, noMmdL, noMmdM, noAll); other strings are allowed for
 * variants a study adds.
 */
export type Variant = VariantName | (string & {});

/**
 * The label of each variant in every chart, table, notebook and the report: the paper's own name of the row (Tables
 * 1-3), so a measured bar and the published one read the same.
 */
export const VARIANT_LABELS: Record<string, string> = {
  full: 'MSD',
  noAux: 'MSD w/o. distillers',
  noMmdL: 'MSD w/o. L_MMD^L',
  noMmdM: 'MSD w/o. L_MMD^M',
  noAll: 'MSD w/o. all',
};

/**
 * The variant a run's config (as read from its config.json) describes: 'full', 'noMmdL', ..., or for a combination
 * without a name its flags joined ('noMmdM+noMmdL').
 */
export function runVariant(config: Record<string, unknown> | undefined): string {
  const a = ((config?.student as Record<string, unknown> | undefined)?.ablation ?? {}) as Record<string, unknown>;
  const named = variantOf({ noAux: a.noAux === true, noMmdM: a.noMmdM === true, noMmdL: a.noMmdL === true });
  return (
    named ??
    Object.keys(a)
      .filter((k) => a[k] === true)
      .join('+')
  );
}
