/**
 * MultiCoNER (SemEval-2022 task 11) `.conll` files. Each sentence starts with a header line
 * `# id <uuid>\tdomain=<split>` and has one `token _ _ TAG` line per token; a blank line follows it. A token may
 * itself be a literal `#` (the line `# _ _ O`), so only a line beginning with `# id ` is a header. Sentence ids are
 * the uuids, which the task's prediction files refer to.
 */
import { basename } from 'node:path';
import { linesSource, SentenceCollector, type ReadOptions } from './collect.js';
import { readLines } from './text.js';
import type { ReadResult } from './types.js';

export type MulticonerOptions = ReadOptions;

const HEADER_RE = /^# id ([^\s]+)(?:\s+domain=(\S*))?\s*$/;
const SEP = /[ \t]+/;

/** `en_dev.conll`, `ko_train.conll`, ... */
function guessLang(path: string): string | undefined {
  return /^([a-z]{2,3})[_-](?:train|dev|test)\.conll$/i.exec(basename(path))?.[1]?.toLowerCase();
}

export function readMulticoner(path: string, opts: MulticonerOptions = {}): ReadResult {
  const decoded = readLines(path, opts.encoding);
  const { lines } = decoded;
  const lang = opts.lang ?? guessLang(path) ?? 'und';
  const c = new SentenceCollector(path, linesSource(lines), decoded, {
    ...opts,
    lang,
    idPrefix: opts.idPrefix ?? basename(path),
  });
  const seen = new Map<string, number>();
  for (let i = 0; i < lines.length; i++) {
    const lineNo = i + 1;
    const line = lines[i]!;
    if (line.trim() === '') {
      c.end();
      continue;
    }
    if (line.startsWith('# id ')) {
      const m = HEADER_RE.exec(line);
      if (!m) {
        c.problem(lineNo, 'malformed sentence header; expected "# id <uuid>\\tdomain=<split>"');
        continue;
      }
      const id = m[1]!;
      const before = seen.get(id);
      c.begin(lineNo, id);
      if (before !== undefined)
        c.problem(lineNo, `duplicate sentence id ${id}; expected ids to be unique (first at line ${before})`);
      seen.set(id, lineNo);
      continue;
    }
    if (!c.open) {
      c.problem(lineNo, 'token line outside a sentence; expected a "# id <uuid>\\tdomain=<split>" header first');
      continue;
    }
    const cols = line.trim().split(SEP);
    if (cols.length !== 4) {
      c.problem(lineNo, `found ${cols.length} column${cols.length === 1 ? '' : 's'}; expected 4: token _ _ TAG`);
      continue;
    }
    c.token(cols[0]!, cols[3]!, lineNo);
  }
  return c.finish();
}
