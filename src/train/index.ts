/** The training stages (what src/index.ts exports of src/train, for code that imports this folder lazily). */
export { backendFor } from './backend.js';
export { loadSplit, evalSplit, ensureRunData } from './data.js';
export { pretrainedDir, newModel } from './models.js';
export { trainTeacher, type TeacherResult } from './teacher.js';
export { distillStudent, type StudentResult } from './student.js';
export { runMsd, evaluateRun, type RunSummary, type EvalRunOptions } from './pipeline.js';
export type { TrainOptions } from './loop.js';
export { consoleProgress, formatProgress, type ProgressEvent, type ProgressCallback } from './progress.js';
