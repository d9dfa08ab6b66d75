/**
 * Vega-Lite specs to pictures, headless and offline: vega-lite compiles the spec, vega renders SVG (no canvas
 * needed), resvg (`@resvg/resvg-js`, a prebuilt binary shipped inside the npm package, no download step) turns the
 * SVG into PNG with the bundled Liberation Sans (fonts/, licence beside it), so text renders the same on a fresh
 * machine with no fonts installed.
 *
 *   await exportFigure(spec, 'figures/f1.png');            // PNG at 2x; .svg, .vl.json too
 *   const svg = await renderSvg(spec);  const png = await renderPng(spec, { scale: 3 });
 *
 * Versions: vega 5 and vega-lite 5, loaded lazily with `require` (their CommonJS builds). vega 6 / vega-lite 6 are
 * ESM with top-level await, which a tslab cell cannot load (it requires this library through require(esm)); all
 * rendering happens here, inside the compiled library, so notebooks only hand over plain spec objects.
 *
 * PDF is not offered: no maintained npm library renders SVG to PDF offline without a headless browser here.
 */
import { createRequire } from 'node:module';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeFileAtomic } from '../run/io.js';

/** A Vega-Lite v5 specification as a plain JSON object. */
export type VlSpec = Record<string, unknown>;

export const VEGALITE_SCHEMA = 'https://vega.github.io/schema/vega-lite/v5.json';
/** Font of every chart: the bundled Liberation Sans first (metric-compatible with Arial), then common fallbacks. */
export const FONT_FAMILY = 'Liberation Sans, Arial, Helvetica, sans-serif';

const req = createRequire(import.meta.url);
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Any = any;
let vegaMod: Any;
let vlMod: Any;
let resvgMod: Any;

export function loadVega(): Any {
  vegaMod ??= req('vega');
  return vegaMod;
}
export function loadVegaLite(): Any {
  vlMod ??= req('vega-lite');
  return vlMod;
}

/** The repository / package root (where package.json, fonts/ and src/ are), from this file in src/viz or lib/viz. */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'fonts'))) return dir;
    dir = dirname(dir);
  }
  throw new Error(`render.ts: could not find the package root (with fonts/) above ${fileURLToPath(import.meta.url)}`);
}

/** The bundled font files (Liberation Sans regular and bold). */
export function fontFiles(): string[] {
  const dir = join(packageRoot(), 'fonts');
  const files = ['LiberationSans-Regular.ttf', 'LiberationSans-Bold.ttf'].map((f) => join(dir, f));
  for (const f of files) if (!existsSync(f)) throw new Error(`render.ts: bundled font ${f} is missing`);
  return files;
}

export interface CompileResult {
  /** The compiled Vega spec. */
  vega: Record<string, unknown>;
  /** Warnings vega-lite logged while compiling (e.g. a field it could not find a type for). */
  warnings: string[];
}

/** Compiles a Vega-Lite spec to Vega; throws naming the problem when vega-lite rejects it. */
export function compileSpec(spec: VlSpec): CompileResult {
  if (spec === null || typeof spec !== 'object' || Array.isArray(spec)) {
    throw new Error(
      `compileSpec: expected a Vega-Lite spec object, got ${Array.isArray(spec) ? 'an array' : typeof spec}`,
    );
  }
  const vl = loadVegaLite();
  const warnings: string[] = [];
  const logger = {
    level: () => logger,
    warn: (...a: unknown[]) => (warnings.push(a.map(String).join(' ')), logger),
    info: () => logger,
    debug: () => logger,
    error: (...a: unknown[]) => {
      throw new Error(a.map(String).join(' '));
    },
  };
  try {
    return { vega: vl.compile(spec, { logger }).spec, warnings };
  } catch (err) {
    throw new Error(
      `compileSpec: vega-lite could not compile the spec${spec.title ? ` '${titleText(spec)}'` : ''}: ${(err as Error).message}`,
    );
  }
}

function titleText(spec: VlSpec): string {
  const t = spec.title as unknown;
  if (typeof t === 'string') return t;
  if (t && typeof t === 'object' && 'text' in t) return String((t as { text: unknown }).text);
  return '';
}

/** Renders a Vega-Lite spec to an SVG string (headless vega, no canvas). */
export async function renderSvg(spec: VlSpec): Promise<string> {
  const vega = loadVega();
  // a deep copy: vega tags the data objects it loads (Symbol(vega_id)), which would change the caller's spec
  const { vega: compiled } = compileSpec(JSON.parse(JSON.stringify(spec)) as VlSpec);
  const view = new vega.View(vega.parse(compiled), { renderer: 'none', logLevel: vega.Error });
  try {
    return (await view.toSVG()) as string;
  } finally {
    view.finalize();
  }
}

export interface PngOptions {
  /** Pixels per SVG unit (default 2: sharp on high-DPI screens and in print at the chart's size). */
  scale?: number;
  /** Background colour (default white; the chart's own background is also white). */
  background?: string;
}

/** Rasterises an SVG string with resvg and the bundled fonts. */
export function svgToPng(svg: string, opts: PngOptions = {}): { png: Buffer; width: number; height: number } {
  const scale = opts.scale ?? 2;
  if (!Number.isFinite(scale) || scale <= 0 || scale > 16)
    throw new Error(`svgToPng: scale is ${scale}; expected a number in (0, 16]`);
  resvgMod ??= req('@resvg/resvg-js');
  const r = new resvgMod.Resvg(svg, {
    fitTo: { mode: 'zoom', value: scale },
    background: opts.background ?? 'white',
    font: {
      loadSystemFonts: false,
      fontFiles: fontFiles(),
      defaultFontFamily: 'Liberation Sans',
      sansSerifFamily: 'Liberation Sans',
    },
  });
  const img = r.render();
  return { png: img.asPng() as Buffer, width: img.width as number, height: img.height as number };
}

/** Renders a Vega-Lite spec to PNG bytes. */
export async function renderPng(spec: VlSpec, opts: PngOptions = {}): Promise<Buffer> {
  return svgToPng(await renderSvg(spec), opts).png;
}

export interface ExportOptions extends PngOptions {
  /** Override the format the extension implies. */
  format?: 'svg' | 'png' | 'json';
}

/**
 * Writes a figure, the format from the file's extension: `.svg`, `.png` (scale 2 by default) or `.json` (the
 * Vega-Lite spec itself, e.g. `fig.vl.json`). Atomic (temp file + rename); creates the directory. Returns the path.
 */
export async function exportFigure(spec: VlSpec, path: string, opts: ExportOptions = {}): Promise<string> {
  const ext = extname(path).toLowerCase().slice(1);
  const format = opts.format ?? ext;
  mkdirSync(dirname(path), { recursive: true });
  if (format === 'svg') {
    writeFileAtomic(path, await renderSvg(spec));
  } else if (format === 'png') {
    writeFileAtomic(path, await renderPng(spec, opts));
  } else if (format === 'json') {
    compileSpec(spec);
    writeFileAtomic(path, `${JSON.stringify(spec, null, 2)}\n`);
  } else if (format === 'pdf') {
    throw new Error(
      `exportFigure: ${path}: PDF is not supported (no offline SVG-to-PDF renderer here); export .svg and convert it, or print report.html from a browser`,
    );
  } else {
    throw new Error(`exportFigure: ${path}: unknown format '${format}'; expected a path ending in .svg, .png or .json`);
  }
  return path;
}

/** The minified browser builds of vega, vega-lite and vega-embed, for inlining into a self-contained page. */
export function browserBundles(): { name: string; version: string; code: string }[] {
  return [
    ['vega', 'build/vega.min.js'],
    ['vega-lite', 'build/vega-lite.min.js'],
    ['vega-embed', 'build/vega-embed.min.js'],
  ].map(([name, file]) => {
    const pkgDir = packageDirOf(name!, file!);
    const version = (JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8')) as { version: string }).version;
    return { name: name!, version, code: readFileSync(join(pkgDir, file!), 'utf8') };
  });
}

/** The installed directory of a package (its `exports` may hide package.json, so walk up from its entry point). */
function packageDirOf(name: string, file: string): string {
  let dir = dirname(req.resolve(name));
  for (let i = 0; i < 8; i++) {
    const pj = join(dir, 'package.json');
    if (
      existsSync(pj) &&
      existsSync(join(dir, file)) &&
      (JSON.parse(readFileSync(pj, 'utf8')) as { name?: string }).name === name
    )
      return dir;
    dir = dirname(dir);
  }
  throw new Error(`render.ts: could not find ${file} of the installed package ${name}`);
}
