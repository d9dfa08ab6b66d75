/**
 * Showing a chart or a table in a tslab notebook cell.
 *
 *   await show(perLayerF1Chart(rows));        // in a tslab cell
 *   showTable(df);                            // a danfojs DataFrame or rows, as an HTML table
 *
 * `show` sends ONE display message holding several representations of the same figure: the Vega-Lite spec as a JSON
 * object (`application/vnd.vegalite.v5+json`, interactive in JupyterLab), a static PNG (`image/png`, for the classic
 * notebook, GitHub's preview, nbconvert to HTML/PDF) and a text line. The front end picks the richest it can draw,
 * so the figure appears once everywhere. tslab's public `display.raw` sends one MIME type per message, so the bundle
 * goes through the kernel's own display writer (checked by executing a notebook with nbconvert: one display_data
 * output holding all three). Outside a running tslab kernel nothing is displayed; `opts.sink` receives the bundle.
 */
import { createRequire } from 'node:module';
import { compileSpec, renderSvg, svgToPng, type VlSpec } from './render.js';
import { toCsv, toHtml, type FormatOptions } from './tables.js';
import type { TableInput } from './table-input.js';

export const VEGALITE_MIME = 'application/vnd.vegalite.v5+json';

export type MimeBundle = Record<string, unknown>;

export interface ShowOptions {
  /** Include a static PNG (default true) and/or SVG (default false) beside the spec. */
  png?: boolean;
  svg?: boolean;
  /** PNG scale (default 2). */
  scale?: number;
  /** Where to send the bundle (default: the running tslab kernel, if any). */
  sink?: (bundle: MimeBundle) => void;
}

type WriteDisplayData = (
  data: { data: MimeBundle; metadata: Record<string, unknown>; transient: Record<string, unknown> },
  update: boolean,
) => void;

/** The running tslab kernel's display writer, or undefined outside a kernel. */
function tslabWriter(): WriteDisplayData | undefined {
  try {
    const jupyter = createRequire(import.meta.url)('tslab/dist/jupyter.js') as {
      lastWriteDisplayData?: WriteDisplayData | null;
    };
    return jupyter.lastWriteDisplayData ?? undefined;
  } catch {
    return undefined;
  }
}

/** The MIME bundle `show` displays: the spec object, a base64 PNG and/or an SVG string, and a text line. */
export async function figureBundle(spec: VlSpec, opts: Omit<ShowOptions, 'sink'> = {}): Promise<MimeBundle> {
  compileSpec(spec); // fail here, with the reason, rather than as a blank output in the notebook
  const bundle: MimeBundle = { [VEGALITE_MIME]: spec };
  if (opts.png !== false || opts.svg) {
    const svg = await renderSvg(spec);
    if (opts.png !== false) bundle['image/png'] = svgToPng(svg, { scale: opts.scale }).png.toString('base64');
    if (opts.svg) bundle['image/svg+xml'] = svg;
  }
  const t = spec.title as unknown;
  const title =
    typeof t === 'string' ? t : t && typeof t === 'object' ? String((t as { text?: unknown }).text ?? '') : '';
  bundle['text/plain'] = `<Vega-Lite chart${title ? `: ${title}` : ''}>`;
  return bundle;
}

/**
 * Displays a chart in the current tslab cell (see the module comment). Returns nothing, so that tslab does not
 * also print the bundle as the cell's value; `figureBundle` gives the bundle itself.
 */
export async function show(spec: VlSpec, opts: ShowOptions = {}): Promise<void> {
  emit(await figureBundle(spec, opts), opts.sink);
}

function emit(bundle: MimeBundle, sink?: (bundle: MimeBundle) => void): void {
  if (sink) return sink(bundle);
  const write = tslabWriter();
  if (write) write({ data: bundle, metadata: {}, transient: {} }, false);
}

/** Displays a table (rows or a danfojs DataFrame) as HTML with a plain-text fallback (CSV). Returns nothing. */
export function showTable(
  input: TableInput<Record<string, unknown>>,
  opts: FormatOptions & { caption?: string; sink?: (b: MimeBundle) => void } = {},
): void {
  emit({ 'text/html': toHtml(input, opts), 'text/plain': toCsv(input, opts) }, opts.sink);
}
