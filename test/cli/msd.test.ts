/** The `msd` command line: presets are honoured (also by `demo`), and the summary names each model's main head. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { printSummary } from '../../src/cli/common.js';
import { resolveConfig, type MsdConfig } from '../../src/config.js';

function msd(...args: string[]): string {
  return execFileSync(process.execPath, ['--import', 'tsx', join('src', 'cli', 'msd.ts'), ...args], {
    encoding: 'utf8',
  });
}

test('demo honours --preset (tiny by default, paper when asked)', () => {
  const demoDefault = JSON.parse(msd('demo', '--print-config')) as MsdConfig;
  assert.equal(demoDefault.preset, 'tiny');
  const demoPaper = JSON.parse(
    msd('demo', '--preset', 'paper', '--set', 'teacher.epochs=1', '--print-config'),
  ) as MsdConfig;
  assert.equal(demoPaper.preset, 'paper');
  assert.equal(demoPaper.model.tiny.enabled, false);
  assert.equal(demoPaper.teacher.epochs, 1);
  assert.deepEqual(demoPaper, resolveConfig('paper', { teacher: { epochs: 1 } }));
});

test('run --print-config applies --set and --out on top of the preset', () => {
  const cfg = JSON.parse(
    msd('run', '--preset', 'tiny', '--set', 'student.lr=1e-4', '--out', 'runs/x', '--print-config'),
  ) as MsdConfig;
  assert.deepEqual(cfg, resolveConfig('tiny', { student: { lr: 1e-4 }, run: { outDir: 'runs/x' } }));
});

test('printSummary names each model main head layer, not the last evaluated layer', () => {
  const cfg = resolveConfig('paper', { run: { evalLayers: [4, 10] } });
  const lines: string[] = [];
  printSummary(
    {
      rows: [],
      main: { teacher: { en: 0.5 }, 'student:de': { de: 0.25 } },
      mainLayer: { teacher: 12, 'student:de': 12 },
      zeroShot: true,
    },
    cfg,
    (l) => lines.push(l),
  );
  const text = lines.join('\n');
  assert.match(text, /teacher \(layer 12\)\s+en 50\.00/);
  assert.match(text, /student:de \(layer 12\)\s+de 25\.00/);
  assert.doesNotMatch(text, /layer 10/);
  assert.match(text, /zero-shot/);
});
