/**
 * One colour per model, per variant and per score source, defined once, so that the teacher is the same blue in
 * every chart of every notebook and of the report (Vega-Lite's default palette assigns colours by sorted name, so
 * `student:nl` took the teacher's blue as soon as both were in one chart).
 *
 *   colorScale(['teacher', 'student:nl'])        { domain: ['teacher', 'student:nl'], range: ['#1f77b4', '#ff7f0e'] }
 *
 * Variant labels (the paper's names) come from VARIANT_LABELS; their colours are keyed by variant name.
 */

/** The teacher: blue everywhere. */
export const TEACHER_COLOR = '#1f77b4';

/** Students, by target language (the paper's nine, then anything else in order of appearance). */
const STUDENT_COLORS = ['#ff7f0e', '#2ca02c', '#9467bd', '#8c564b', '#e377c2', '#17becf', '#bcbd22', '#d62728'];
const LANGUAGE_ORDER = ['nl', 'de', 'es', 'ar', 'hi', 'zh', 'ko', 'ru', 'tr', 'en'];

/** Published (the paper) against measured (this run): light and dark of one hue, published always the lighter. */
export const SOURCE_COLORS = { published: '#9ecae1', measured: '#08519c' } as const;

/** Variants of the method (src/run/variants.ts names): full MSD strong, each ablation its own hue. */
export const VARIANT_COLORS: Record<string, string> = {
  full: '#08519c',
  noAux: '#e6550d',
  noMmdL: '#31a354',
  noMmdM: '#756bb1',
  noAll: '#636363',
};

/** Dev F1 in the training curves, and reference lines. */
export const DEV_F1_COLOR = '#d62728';

/** A comparison of two models (`teacher vs student:nl`, the cross-model MMD): neither model's colour. */
export const PAIR_COLOR = '#7f7f7f';

/** The colour of a model name as the library writes it: `teacher`, `teacher (nl)`, `student:nl`, `student`. */
export function modelColor(name: string, index = 0): string {
  if (/ vs /.test(name)) return PAIR_COLOR;
  if (/^teacher\b/.test(name)) return TEACHER_COLOR;
  const lang = /^student:(\w+)/.exec(name)?.[1];
  if (lang !== undefined) {
    const i = LANGUAGE_ORDER.indexOf(lang);
    return STUDENT_COLORS[(i >= 0 ? i : LANGUAGE_ORDER.length + index) % STUDENT_COLORS.length]!;
  }
  if (name === 'student') return STUDENT_COLORS[0]!;
  if (name in VARIANT_COLORS) return VARIANT_COLORS[name]!;
  return STUDENT_COLORS[(LANGUAGE_ORDER.length + index) % STUDENT_COLORS.length]!;
}

/** A Vega-Lite colour scale fixing each model's colour (the domain in the order given: teacher first). */
export function colorScale(models: readonly string[]): { domain: string[]; range: string[] } {
  const domain = [...new Set(models)].sort((a, b) => modelRank(a) - modelRank(b));
  return { domain, range: domain.map((m, i) => modelColor(m, i)) };
}

/** Teacher first, then students, then the rest, each group in its given order. */
function modelRank(name: string): number {
  return / vs /.test(name) ? 3 : /^teacher\b/.test(name) ? 0 : /^student\b/.test(name) ? 1 : 2;
}
