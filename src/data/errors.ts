/**
 * Bad input gets a clear error, and nothing is lost silently. Every reader funnels what it finds wrong through a
 * `ProblemSink`: in strict mode (the default) the first problem throws a `DataError` naming the file, the line
 * number, the line itself and what was expected; with `strict: false` problems are collected into the load report
 * and the sentence they belong to is left out (and counted), so a caller can see exactly what was skipped.
 */
import type { LoadProblem } from './types.js';

/** Thrown by the readers for malformed input; `problem` holds the structured details. */
export class DataError extends Error {
  readonly problem: LoadProblem;
  constructor(problem: LoadProblem) {
    super(formatProblem(problem));
    this.name = 'DataError';
    this.problem = problem;
  }
}

/** `file:line: message` and the offending line, quoted so that tabs and trailing spaces are visible. */
export function formatProblem(p: LoadProblem): string {
  return `${p.file}:${p.line}: ${p.message}\n  line ${p.line}: ${JSON.stringify(p.text)}`;
}

export class ProblemSink {
  readonly problems: LoadProblem[] = [];
  constructor(
    readonly file: string,
    readonly strict: boolean,
    private readonly lineText: (line: number) => string,
  ) {}

  /** Records a problem at a 1-based line (throws in strict mode). */
  report(line: number, message: string, text?: string): void {
    const problem: LoadProblem = { file: this.file, line, text: text ?? this.lineText(line), message };
    if (this.strict) throw new DataError(problem);
    this.problems.push(problem);
  }
}
