/**
 * Native memory and process exit on the default CPU path: 200 training steps of a small BERT (encoder + AdamW,
 * BLAS matmuls through koffi, the wasm heap) in a child process. After warm-up the resident set must stay flat (no
 * leak in the FFI calls, the heap views or the host-side optimizer state), and the process must exit on its own
 * (no BLAS thread or handle keeping it alive).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

const child = join(import.meta.dirname, 'fixtures', 'train-steps.ts');

test('200 steps on the default backend: RSS flat after warm-up, the process exits by itself', () => {
  const r = spawnSync(process.execPath, ['--expose-gc', '--import', 'tsx', child, '200'], {
    encoding: 'utf8',
    timeout: 240_000,
  });
  assert.equal(r.error, undefined, `child did not exit on its own: ${r.error?.message}`);
  assert.equal(r.status, 0, `child failed: ${r.stderr.slice(-2000)}`);
  const out = JSON.parse(r.stdout.trim().split('\n').pop()!) as {
    backend: string;
    rss: [number, number][];
    tensors: [number, number][];
  };
  // Samples every 20 steps; warm-up is the first 60 (kernel set-up, heap growth, allocator pools).
  const after = out.rss.filter(([step]) => step >= 60).map(([, bytes]) => bytes);
  const growth = Math.max(...after) - after[0]!;
  const MiB = 1024 * 1024;
  assert.ok(
    growth < 24 * MiB,
    `RSS grew by ${(growth / MiB).toFixed(1)} MiB between step 60 and 200 on ${out.backend}: ${after.map((b) => (b / MiB).toFixed(0)).join(', ')}`,
  );
  const tensors = out.tensors.map(([, n]) => n);
  assert.ok(
    tensors.every((n) => n === tensors[0]),
    `tensor count changed across steps: ${tensors.join(', ')}`,
  );
});
