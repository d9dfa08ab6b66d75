/**
 * Loaded before every test file (`npm run test:unit` passes `--import ./test/temp-root.ts`, and node's test runner
 * hands it on to each file's process): the process gets a temporary folder of its own, `$TMPDIR` points there, and
 * the folder is removed when the process exits. Every `mkdtempSync(join(tmpdir(), ...))` of a test, and every child
 * process it starts, then writes under that folder, so a test run leaves nothing behind in the system's temporary
 * folder (before this, each run left about a hundred folders there, some of 12 MB: fake Hub caches, checkpoints).
 *
 * A process killed outright (SIGKILL, a test runner's timeout) keeps its folder: `msd-test-*` in the system's
 * temporary folder.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const root = mkdtempSync(join(tmpdir(), 'msd-test-'));
process.env.TMPDIR = root;
process.on('exit', () => rmSync(root, { recursive: true, force: true }));
