/**
 * JSON files a person writes (config files, sweep files): parse errors name the file, line and column, and the keys
 * `__proto__`, `constructor` and `prototype` are refused wherever they appear (JSON.parse makes `__proto__` an own
 * key, which code that copies objects key by key would turn into a prototype change).
 *
 *   const spec = readJsonFile('sweep.json', 'sweep file');   // mine.json:3:5: not valid JSON: ...
 */
import { readFileSync } from 'node:fs';
import { UserError } from './errors.js';

/** Keys never accepted in a key path or a JSON object read from a user's file. */
export const FORBIDDEN_KEYS: ReadonlySet<string> = new Set(['__proto__', 'constructor', 'prototype']);

/** Offset of the first character JSON.parse rejects: its own "at position N", else the shortest failing prefix. */
function errorOffset(text: string, message: string): number {
  const m = /at position (\d+)/.exec(message);
  if (m) return Number(m[1]);
  if (/end of JSON input/i.test(message)) return text.length;
  const broken = (k: number) => {
    try {
      JSON.parse(text.slice(0, k));
      return false;
    } catch (err) {
      return !/end of JSON input|Unterminated/i.test((err as Error).message);
    }
  };
  let lo = 0;
  let hi = text.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (broken(mid + 1)) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/** 1-based line and column of a character offset. */
export function lineColumn(text: string, offset: number): { line: number; column: number } {
  const before = text.slice(0, offset);
  const line = before.split('\n').length;
  return { line, column: offset - (before.lastIndexOf('\n') + 1) + 1 };
}

/** Throws when an own key of any object in `value` is `__proto__`, `constructor` or `prototype`, naming its path. */
export function rejectForbiddenKeys(value: unknown, where: string, path = ''): void {
  if (value === null || typeof value !== 'object') return;
  for (const [k, v] of Object.entries(value)) {
    const p = path ? `${path}.${k}` : k;
    if (FORBIDDEN_KEYS.has(k))
      throw new UserError(
        `${where}: key '${p}' is not allowed ('__proto__', 'constructor' and 'prototype' are never config keys)`,
        'remove that key',
      );
    rejectForbiddenKeys(v, where, p);
  }
}

/** JSON text as a value; `where` (a file name) starts every error: `where:line:column: not valid JSON: ...`. */
export function parseJson(text: string, where: string): unknown {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    const full = (err as Error).message;
    // V8 appends a snippet of the text (`, "..." is not valid JSON`); the line is shown below instead.
    const msg = full.replace(/, (\.\.\.)?"[^]*$/, '').split('\n')[0]!;
    const { line, column } = lineColumn(text, errorOffset(text, full));
    const shown = text.split('\n')[line - 1] ?? '';
    throw new UserError(
      `${where}:${line}:${column}: not valid JSON: ${msg.replace(/ in JSON at position \d+.*$/, '')}` +
        (shown.trim() ? `\n  line ${line}: ${shown.length > 100 ? `${shown.slice(0, 100)}...` : shown}` : ''),
      'JSON needs double-quoted keys and strings and no trailing commas or comments',
    );
  }
  rejectForbiddenKeys(value, where);
  return value;
}

/** Reads and parses a JSON file (`what` names it in a read error: 'config file', 'sweep file', ...). */
export function readJsonFile(path: string, what = 'JSON file'): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const why = e.code === 'ENOENT' ? 'no such file' : e.code === 'EISDIR' ? 'a directory, not a file' : e.message;
    throw new UserError(`${path}: cannot read the ${what}: ${why}`);
  }
  return parseJson(text, path);
}
