/**
 * Runs a test's module script in a child process (`node --import tsx`, from the repository root, so its imports read
 * `./src/...`), with `env` over this process's environment: for what a process decides once, when it loads (the
 * backend, the native library, OpenBLAS's settings). Asserts that the child exited 0 and returns its last line of
 * output parsed as JSON.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));

export function runModule<T>(script: string, env: Record<string, string> = {}): T {
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    cwd: root,
    encoding: 'utf8',
    env: { ...process.env, ...env },
  });
  assert.equal(r.status, 0, `exit ${r.status} ${r.signal ?? ''}: ${r.stderr.slice(-1500)}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as T;
}
