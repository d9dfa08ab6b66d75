/**
 * The jobs of the local executor (src/sweep/local.ts): a shared teacher or a cell, with the live state the pool,
 * the children and the display share, and the plan's jobs in start order.
 */
import { cellDone, teacherDone, type Plan } from './state.js';

export type LiveState = 'queued' | 'waiting' | 'running' | 'done' | 'failed' | 'blocked' | 'skipped';

export interface LiveJob {
  /** Log/state key: the cell id, or `teacher-<id>`. */
  key: string;
  kind: 'teacher' | 'cell';
  state: LiveState;
  /** Model in progress, its step, total steps and seconds left, from the child's JSON progress messages. */
  task?: string;
  step?: number;
  total?: number;
  etaSec?: number;
  startedAt?: number;
  endedAt?: number;
  exitCode?: number;
  tail?: string[];
  /** Teacher key a cell waits for. */
  needs?: string;
  configPath: string;
  done: () => boolean;
}

/** The jobs of a plan: teachers with an unfinished cell, then every cell. */
export function localJobs(plan: Plan): LiveJob[] {
  const jobs: LiveJob[] = [];
  const cellsDone = new Map(plan.cells.map((c) => [c.id, cellDone(c.dir)]));
  for (const t of plan.teachers) {
    const needed = t.cells.some((id) => !cellsDone.get(id));
    const done = () => teacherDone(t.dir);
    jobs.push({
      key: `teacher-${t.id}`,
      kind: 'teacher',
      state: done() ? 'done' : needed ? 'queued' : 'skipped',
      configPath: t.config,
      done,
    });
  }
  for (const c of plan.cells) {
    const done = () => cellDone(c.dir);
    jobs.push({
      key: c.id,
      kind: 'cell',
      state: cellsDone.get(c.id) ? 'done' : 'queued',
      configPath: c.config,
      needs: c.teacher ? `teacher-${c.teacher}` : undefined,
      done,
    });
  }
  return jobs;
}
