/**
 * `msd-ner/viz`: Vega-Lite chart specs, show() and showTable() for notebooks, rendering and figure export (SVG,
 * PNG), tables (HTML, CSV, LaTeX) and the run report.
 */
export { compileSpec, renderSvg, renderPng, svgToPng, exportFigure, FONT_FAMILY, VEGALITE_SCHEMA } from './render.js';
export type { VlSpec, CompileResult, PngOptions, ExportOptions } from './render.js';
export {
  perLayerF1Chart,
  perLayerF1ErrorBarChart,
  trainingCurvesChart,
  mmdByLayerChart,
  projectionChart,
  ablationChart,
} from './charts.js';
export type { F1Row, F1StatRow, PerLayerF1Options, MetricRecord, MmdChartRow, ProjectionPoint } from './charts.js';
export { toCsv, toHtml, toLatex, ablationTable } from './tables.js';
export type { FormatOptions } from './tables.js';
export { show, showTable, VEGALITE_MIME } from './show.js';
export type { ShowOptions, MimeBundle } from './show.js';
export { runCharts, reportHtml, writeReport } from './report.js';
export type { RunChart } from './report.js';
export type { TableInput, DataFrameLike } from './table-input.js';
