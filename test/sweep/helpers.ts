/** A very small real sweep (2 variants x 2 seeds, a 4-layer 32-wide random BERT, ~100 CoNLL-2002 sentences) for the e2e tests. */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { SweepSpec } from '../../src/sweep/plan.js';

export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const MSD = join(REPO, 'lib', 'cli', 'msd.js');

export const TINY_SWEEP: SweepSpec = {
  name: 'tiny-ab',
  preset: 'tiny',
  set: {
    // The real corpora and tokenizer come from MSD_DATA_ROOT / MSD_TOKENIZER_DIR (set by .ci/run), as in any run.
    'data.limit.train': 200,
    'data.limit.dev': 40,
    'data.limit.test': 60,
    'data.maxLength': 48,
    'model.tiny.numLayers': 4,
    'model.headLayers': [2, 4],
    'run.evalLayers': [2, 4],
    'teacher.epochs': 1,
    'student.epochs': 2, // 26 student steps with a checkpoint every 3: time to catch a cell mid-run
    // Frozen (random) embeddings: no 119k x 32 embedding gradient and optimizer state, so steps and checkpoints are cheap.
    'teacher.freezeEmbeddings': true,
    'student.freezeEmbeddings': true,
    'run.checkpointEvery': 3,
    'run.logEvery': 1,
  },
  axes: { variant: ['full', 'noAux'], 'run.seed': [1, 2] },
};

export function writeSpec(dir: string, spec: SweepSpec = TINY_SWEEP): string {
  const p = join(dir, 'sweep.json');
  writeFileSync(p, JSON.stringify(spec, null, 2));
  return p;
}

/** Fails early, with the fix, when the built CLI the sweep's children run is missing. */
export function requireBuild(): void {
  if (!existsSync(MSD)) throw new Error(`${MSD} not found: the sweep runs the built CLI; run \`npm run build\` first`);
}

export function msd(
  args: string[],
  opts: { detached?: boolean; env?: NodeJS.ProcessEnv } = {},
): { child: ChildProcess; done: Promise<{ code: number | null; out: string }> } {
  const child = spawn(process.execPath, [MSD, ...args], {
    cwd: REPO,
    detached: opts.detached,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...opts.env },
  });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  return { child, done: new Promise((res) => child.on('close', (code) => res({ code, out }))) };
}

/** Per cell: every logged loss of each student and the bytes of its selected model (what a resume must reproduce). */
export function cellFingerprints(root: string): Record<string, { losses: number[]; best: string }> {
  const out: Record<string, { losses: number[]; best: string }> = {};
  for (const cell of readdirSync(join(root, 'cells')).sort()) {
    const sdir = join(root, 'cells', cell, 'students');
    for (const lang of readdirSync(sdir).sort()) {
      const metrics = readFileSync(join(sdir, lang, 'metrics.jsonl'), 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as { kind: string; loss?: number });
      const best = createHash('sha256')
        .update(readFileSync(join(sdir, lang, 'best', 'model.safetensors')))
        .digest('hex');
      out[`${cell}/${lang}`] = { losses: metrics.filter((m) => m.kind === 'step').map((m) => m.loss!), best };
    }
  }
  return out;
}
