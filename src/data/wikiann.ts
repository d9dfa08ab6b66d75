/**
 * WikiAnn (PAN-X). Two layouts of the same data:
 *   XTREME  `token<TAB>TAG`, as the XTREME benchmark distributes `train-xx.tsv` / `dev-xx.tsv` / `test-xx.tsv`;
 *   raw     `xx:token<TAB>TAG`, Rahimi et al.'s split of the original release, every token prefixed with its
 *           language code. Only the first `:` separates the prefix, so `en:http://x` is the token `http://x`.
 * Blank lines end sentences. The tag is after the last tab; a token itself may contain spaces but not tabs.
 * `format: 'auto'` (default) reads a file as raw when every token line starts with the same `code:` prefix.
 */
import { basename } from 'node:path';
import { linesSource, SentenceCollector, type ReadOptions } from './collect.js';
import { readLines } from './text.js';
import type { ReadResult } from './types.js';

export interface WikiannOptions extends ReadOptions {
  format?: 'xtreme' | 'raw' | 'auto';
}

/** WikiAnn language codes: `en`, `zh`, and the longer ones such as `zh-yue`, `bat-smg`, `be-x-old`, `simple`. */
const PREFIX_RE = /^([a-z][a-z0-9]*(?:-[a-z0-9]+)*):/;

/** The common language prefix of every token line, if there is one. */
function commonPrefix(lines: readonly string[]): string | undefined {
  let prefix: string | undefined;
  for (const line of lines) {
    if (line.trim() === '') continue;
    const m = PREFIX_RE.exec(line);
    if (!m) return undefined;
    if (prefix === undefined) prefix = m[1];
    else if (m[1] !== prefix) return undefined;
  }
  return prefix;
}

/** `train-xx.tsv` / `dev-xx.tsv` / `test-xx.tsv` */
function guessLang(path: string): string | undefined {
  return /^(?:train|dev|test)-([a-z][a-z0-9-]*)\.tsv$/.exec(basename(path))?.[1];
}

export function readWikiann(path: string, opts: WikiannOptions = {}): ReadResult {
  const decoded = readLines(path, opts.encoding);
  const { lines } = decoded;
  const format = opts.format ?? 'auto';
  const detected = format === 'xtreme' ? undefined : commonPrefix(lines);
  const raw = format === 'raw' || (format === 'auto' && detected !== undefined);
  const lang = opts.lang ?? (raw ? detected : undefined) ?? guessLang(path) ?? 'und';
  const c = new SentenceCollector(path, linesSource(lines), decoded, {
    ...opts,
    lang,
    idPrefix: opts.idPrefix ?? basename(path),
  });
  for (let i = 0; i < lines.length; i++) {
    const lineNo = i + 1;
    const line = lines[i]!;
    if (line.trim() === '') {
      c.end();
      continue;
    }
    const tab = line.lastIndexOf('\t');
    if (tab < 0) {
      c.problem(lineNo, `found no tab; expected ${raw ? `${lang}:token` : 'token'}<TAB>TAG`);
      continue;
    }
    let token = line.slice(0, tab);
    const tag = line.slice(tab + 1).trim();
    if (raw) {
      const colon = token.indexOf(':');
      const prefix = colon < 0 ? undefined : token.slice(0, colon);
      if (prefix === undefined || (opts.lang !== undefined && prefix !== opts.lang) || !PREFIX_RE.test(token)) {
        c.problem(
          lineNo,
          `token has no language prefix${opts.lang ? ` '${opts.lang}:'` : ''}; expected ${opts.lang ?? 'xx'}:token<TAB>TAG (raw WikiAnn)`,
        );
        continue;
      }
      token = token.slice(colon + 1);
    }
    if (token === '') {
      c.problem(lineNo, `empty token; expected ${raw ? `${lang}:token` : 'token'}<TAB>TAG`);
      continue;
    }
    c.token(token, tag, lineNo);
  }
  return c.finish();
}
