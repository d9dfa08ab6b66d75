/** The Hub client's default progress line when stderr is not a terminal (a log file, CI, a notebook's child). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { progressLine, type DownloadProgress } from '../../src/hub/client.js';

/** The lines `progressLine` writes for a download of `total` bytes reported in `steps` chunks, stderr not a TTY. */
function linesFor(total: number, steps: number): string[] {
  const out: string[] = [];
  const write = process.stderr.write;
  const tty = Object.getOwnPropertyDescriptor(process.stderr, 'isTTY');
  Object.defineProperty(process.stderr, 'isTTY', { value: false, configurable: true });
  process.stderr.write = ((chunk: string) => (out.push(chunk), true)) as typeof process.stderr.write;
  try {
    const show = progressLine('download');
    for (let i = 1; i <= steps; i++) {
      const p: DownloadProgress = { file: 'x.parquet', loaded: Math.round((total * i) / steps), total, done: false };
      show(p);
    }
    show({ file: 'x.parquet', loaded: total, total, done: true });
  } finally {
    process.stderr.write = write;
    if (tty) Object.defineProperty(process.stderr, 'isTTY', tty);
    else delete (process.stderr as { isTTY?: boolean }).isTTY;
  }
  return out.join('').split('\n').filter(Boolean);
}

test('a small file leaves exactly one line, when it is done', () => {
  const lines = linesFor(800_000, 50);
  assert.deepEqual(lines, ['download x.parquet: 0.8 of 0.8 MB (100%) done']);
});

test('a large file gets a line per tenth and a final one', () => {
  const lines = linesFor(50_000_000, 200);
  assert.ok(lines.length >= 10 && lines.length <= 12, `got ${lines.length} lines:\n${lines.join('\n')}`);
  assert.match(lines.at(-1)!, /50\.0 of 50\.0 MB \(100%\) done$/);
});
