/**
 * `msd-ner/sweep`: grids of runs. A sweep file (or object) is planned into one run directory per cell, trained by
 * the local executor or a Slurm array, and collected into mean, std and t-test tables. The `msd sweep` commands use
 * the same functions.
 */
export {
  readSweepSpec,
  planSweep,
  writePlan,
  readPlan,
  formatPlan,
  type SweepSpec,
  type SweepPlan,
  type PlanFile,
  type Cell,
  type Axis,
  type TeacherJob,
} from './plan.js';
export { runLocal, type LocalOptions, type LocalResult } from './local.js';
export { formatJobs } from './local-display.js';
export type { LiveJob } from './local-jobs.js';
export {
  submitSlurm,
  sweepStatus,
  formatStatus,
  type SlurmOptions,
  type SlurmSubmission,
  type SlurmJob,
} from './slurm.js';
export { sweepFileStatus, type JobStatus } from './state.js';
export {
  collectSweep,
  writeCollect,
  formatCollect,
  latexTable,
  tidyFrame,
  type TidyRow,
  type StatRow,
  type CollectResult,
  type CollectOptions,
} from './collect.js';
export { mean, std, tTest, describe as describeSample, type TTestResult, type GroupStats } from './stats.js';
