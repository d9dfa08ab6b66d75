/**
 * CoNLL-2002 / CoNLL-2003 column files: one token per line, whitespace-separated columns with the token first and
 * the tag last (`word TAG`, `word POS TAG`, `word POS chunk TAG`, German `word lemma POS chunk TAG`), a blank line
 * after each sentence, and `-DOCSTART-` lines (with any number of columns) that start a document and are not
 * sentences. Every token line of a file must have the same number of columns: a different count almost always
 * means a token with a space in it or a lost column, which would silently shift the tag.
 */
import { basename } from 'node:path';
import { linesSource, SentenceCollector, type ReadOptions } from './collect.js';
import { readLines } from './text.js';
import type { ReadResult } from './types.js';

export type ConllOptions = ReadOptions;

/** Language of the standard CoNLL file names (`esp.train`, `ned.testa`, `eng.testb`, `deu.train`, ...). */
const CONLL_LANG: Record<string, string> = { esp: 'es', ned: 'nl', eng: 'en', deu: 'de' };

export function guessConllLang(path: string): string | undefined {
  return CONLL_LANG[basename(path).split('.')[0]!.toLowerCase()];
}

/** Columns are separated by spaces or tabs only: a no-break space (U+00A0, byte 0xA0 in latin-1) is text. */
const COLUMN_SEP = /[ \t]+/;

export function readConll(path: string, opts: ConllOptions = {}): ReadResult {
  const decoded = readLines(path, opts.encoding);
  const { lines } = decoded;
  const c = new SentenceCollector(path, linesSource(lines), decoded, {
    ...opts,
    lang: opts.lang ?? guessConllLang(path) ?? 'und',
    idPrefix: opts.idPrefix ?? basename(path),
  });
  let columns = 0;
  let columnsLine = 0;
  for (let i = 0; i < lines.length; i++) {
    const lineNo = i + 1;
    const text = lines[i]!.replace(/^[ \t]+|[ \t]+$/g, '');
    if (text === '') {
      c.end();
      continue;
    }
    const cols = text.split(COLUMN_SEP);
    if (cols[0] === '-DOCSTART-') {
      c.docStart();
      continue;
    }
    if (cols.length < 2) {
      c.problem(
        lineNo,
        `found 1 column; expected at least 2 whitespace-separated columns, the token first and the tag last`,
      );
      continue;
    }
    if (columns === 0) {
      columns = cols.length;
      columnsLine = lineNo;
    } else if (cols.length !== columns) {
      c.problem(
        lineNo,
        `found ${cols.length} columns; expected ${columns} like line ${columnsLine} (the token first and the tag last)`,
      );
      continue;
    }
    c.token(cols[0]!, cols[cols.length - 1]!, lineNo);
  }
  return c.finish();
}
