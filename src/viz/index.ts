/** src/viz: Vega-Lite chart specs, rendering and export, notebook display, tables, the run report. */
export {
  compileSpec,
  renderSvg,
  renderPng,
  svgToPng,
  exportFigure,
  browserBundles,
  fontFiles,
  FONT_FAMILY,
  VEGALITE_SCHEMA,
} from './render.js';
export type { VlSpec, CompileResult, PngOptions, ExportOptions } from './render.js';
export {
  CHART_CONFIG,
  AVERAGE,
  perLayerF1Chart,
  perLayerF1ErrorBarChart,
  trainingCurvesChart,
  mmdByLayerChart,
  projectionChart,
  ablationChart,
  withAverage,
} from './charts.js';
export type { F1Row, F1StatRow, PerLayerF1Options, MetricRecord, MmdChartRow, ProjectionPoint } from './charts.js';
export { toCsv, toHtml, toLatex, ablationTable, escapeHtml, escapeLatex } from './tables.js';
export type { FormatOptions } from './tables.js';
export { show, showTable, figureBundle, VEGALITE_MIME } from './show.js';
export type { ShowOptions, MimeBundle } from './show.js';
export { runCharts, reportHtml, writeReport } from './report.js';
export type { RunChart } from './report.js';
export { rowsOf } from './table-input.js';
export type { TableInput, DataFrameLike } from './table-input.js';
