/** src/diagnostics: the numbers behind the pictures ([CLS] vectors, MMD per layer, 2-D projections). */
export { clsEmbeddings, clsByLayer, matrixRows } from './cls.js';
export type { ClsMatrix, ClsOptions } from './cls.js';
export {
  mmdByLayer,
  mmdByLayerRows,
  crossModelMmd,
  crossModelMmdRows,
  mmdFrame,
  sampleSentences,
  SOURCE_TARGET,
  TEACHER_STUDENT,
} from './mmd.js';
export type { MmdRow, MmdByLayerOptions } from './mmd.js';
export { project2d } from './project.js';
export type { ProjectionMethod, ProjectOptions } from './project.js';
export { runDiagnostics } from './run.js';
export type { RunDiagnosticsOptions, ProjectionRow } from './run.js';
