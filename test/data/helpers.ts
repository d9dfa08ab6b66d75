/** Shared helpers for the data tests: temp files and an independent conlleval-style chunk counter. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REAL_DATA } from '../real-data.js';

/** The local data root with the real corpora (MSD_DATA_ROOT, set by .ci/run); tests that read it skip without it. */
export const DATA_ROOT = REAL_DATA ?? '';

let dir: string | undefined;
/** Writes a file into this process's temp dir and returns its path. */
export function writeTemp(name: string, content: string | Uint8Array): string {
  dir ??= mkdtempSync(join(tmpdir(), 'msd-data-'));
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
}

/**
 * Chunks per type as conlleval.pl counts them on raw tags (IOB1, IOB2 or IOBES): a chunk starts at B-/S-, or at
 * I-/E- after O, after another type, or after E-/S-. Written independently of src/data/schemes.ts.
 */
export function conllevalChunks(sentences: string[][]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const tags of sentences) {
    let prevTag = 'O';
    let prevType = '';
    for (const raw of tags) {
      const [tag, type] = raw === 'O' ? ['O', ''] : [raw.slice(0, 1), raw.slice(2)];
      const start =
        tag === 'B' ||
        tag === 'S' ||
        ((tag === 'I' || tag === 'E') && (prevTag === 'O' || prevTag === 'E' || prevTag === 'S' || prevType !== type));
      if (start) out[type] = (out[type] ?? 0) + 1;
      prevTag = tag;
      prevType = type;
    }
  }
  return out;
}

/** Raw tag sequences of a column file: last column of each line, blank lines and -DOCSTART- split sentences. */
export function rawTagSequences(
  text: string,
  opts: { skip?: (line: string) => boolean; sep?: RegExp } = {},
): string[][] {
  const seqs: string[][] = [];
  let cur: string[] = [];
  for (const line of text.split(/\r?\n/)) {
    if (line.trim() === '' || line.startsWith('-DOCSTART-') || opts.skip?.(line)) {
      if (cur.length) seqs.push(cur);
      cur = [];
      continue;
    }
    const cols = line.trim().split(opts.sep ?? /\s+/);
    cur.push(cols[cols.length - 1]!);
  }
  if (cur.length) seqs.push(cur);
  return seqs;
}

export function sum(r: Record<string, number>): number {
  return Object.values(r).reduce((a, b) => a + b, 0);
}
