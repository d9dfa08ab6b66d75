/**
 * Chart and table builders take plain row arrays or danfojs DataFrames; this turns either into rows.
 */

/** What the builders need from a danfojs DataFrame (duck-typed, so no danfojs import here). */
export interface DataFrameLike {
  columns: string[];
  values: unknown[][] | unknown[];
}

export type TableInput<T> = readonly T[] | DataFrameLike;

function isFrame(x: unknown): x is DataFrameLike {
  return (
    !!x &&
    typeof x === 'object' &&
    !Array.isArray(x) &&
    Array.isArray((x as DataFrameLike).columns) &&
    Array.isArray((x as DataFrameLike).values)
  );
}

/** Rows of a row array (copied) or of a DataFrame (one object per row, keyed by column). */
export function rowsOf<T extends object>(input: TableInput<T>, where: string): T[] {
  if (Array.isArray(input)) return [...(input as readonly T[])];
  if (isFrame(input)) {
    const { columns, values } = input;
    return (values as unknown[]).map((v) => {
      const row = Array.isArray(v) ? v : [v];
      return Object.fromEntries(columns.map((c, i) => [c, row[i]])) as T;
    });
  }
  throw new Error(
    `${where}: expected an array of rows or a danfojs DataFrame, got ${input === null ? 'null' : typeof input}`,
  );
}

/** Checks that every row has the named fields with the right kind of value; names the first bad row. */
export function requireFields(
  rows: readonly object[],
  fields: Record<string, 'number' | 'string' | 'number|null'>,
  where: string,
): void {
  rows.forEach((row, i) => {
    for (const [f, kind] of Object.entries(fields)) {
      const v = (row as Record<string, unknown>)[f];
      const ok =
        kind === 'number'
          ? typeof v === 'number' && Number.isFinite(v)
          : kind === 'string'
            ? typeof v === 'string'
            : v === null || (typeof v === 'number' && Number.isFinite(v));
      if (!ok)
        throw new Error(
          `${where}: row ${i} has ${f} = ${JSON.stringify(v)}; expected a ${kind === 'number|null' ? 'finite number or null' : kind === 'number' ? 'finite number' : 'string'} (row: ${JSON.stringify(row).slice(0, 160)})`,
        );
    }
  });
}
