/**
 * A shortened demo (`msd demo` with fewer sentences and steps, through the real CLI) learns NER: the teacher's
 * Spanish dev F1 ends above a threshold measured on this machine with a wide margin (random guessing and the
 * all-O predictor score 0), and the printed and written summary has every field.
 *
 * It runs as a new user would: in a temporary `git clone` of this repository with nothing beside it (no local data
 * mirror), an empty cache, and `HF_ENDPOINT` at a loopback fake Hub (test/hub/fake-hub.ts) that serves CoNLL-2002
 * es/nl as parquet and mBERT's tokenizer files, made from the real files that `MSD_DATA_ROOT` / `MSD_TOKENIZER_DIR`
 * name (set by .ci/run), else from the user cache (filled by setup's demo). node_modules is linked from this
 * checkout. With neither it runs here with the ordinary resolution (the real Hub on a connected machine).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { DemoSummary } from '../../src/train/demo-summary.js';
import { mirrorHubOptions, startFakeHub, type FakeHub } from '../hub/fake-hub.js';
import { SHORT_DEMO_SETS, SHORT_DEMO_MIN_DEV_F1 } from './short-demo.js';
import { REAL_DATA, REAL_TOKENIZER } from '../real-data.js';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const MIRROR = REAL_DATA; // MSD_DATA_ROOT, else the cache
const TOKENIZER = REAL_TOKENIZER; // MSD_TOKENIZER_DIR, else the cache
const inClone = !!MIRROR && !!TOKENIZER && existsSync(join(MIRROR, 'conll2002')) && existsSync(TOKENIZER);

/** Runs a command without blocking this process (the fake Hub in it must keep answering). */
function run(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv): Promise<string> {
  return new Promise((ok, fail) => {
    const child = spawn(cmd, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', fail);
    child.on('exit', (code) =>
      code === 0 ? ok(out) : fail(new Error(`${cmd} ${args.join(' ')} exited ${code}:\n${err.slice(-4000)}`)),
    );
  });
}

test('a shortened demo in a plain clone (data and tokenizer from the Hub) learns Spanish NER and prints a complete summary', async (t) => {
  const tmp = mkdtempSync(join(tmpdir(), 'demo-'));
  const out = join(tmp, 'run');
  let hub: FakeHub | undefined;
  try {
    let cwd = REPO;
    const env: NodeJS.ProcessEnv = { ...process.env };
    if (inClone) {
      hub = await startFakeHub(mirrorHubOptions(MIRROR!, TOKENIZER!));
      cwd = join(tmp, 'msd-ner');
      execFileSync('git', ['clone', '--quiet', REPO, cwd]);
      symlinkSync(join(REPO, 'node_modules'), join(cwd, 'node_modules'), 'dir');
      assert.equal(existsSync(join(cwd, '..', 'shared')), false, 'nothing beside the clone');
      for (const k of ['MSD_DATA_ROOT', 'MSD_TOKENIZER_DIR', 'HF_HUB_OFFLINE', 'HF_TOKEN']) delete env[k];
      env.HF_ENDPOINT = hub.endpoint;
      env.MSD_CACHE = join(tmp, 'cache');
      t.diagnostic(`clone ${cwd}, HF_ENDPOINT ${hub.endpoint}, MSD_CACHE ${env.MSD_CACHE}`);
    }
    const args = [
      '--import',
      'tsx',
      join('src', 'cli', 'msd.ts'),
      'demo',
      '--plain',
      '--out',
      out,
      ...SHORT_DEMO_SETS.flatMap((s) => ['--set', s]),
    ];
    const stdout = await run(process.execPath, args, cwd, env);
    if (hub) {
      // Everything came through the Hub client into the empty cache.
      for (const f of ['es/esp.train', 'es/esp.testa', 'es/esp.testb', 'nl/ned.train', 'nl/ned.testa', 'nl/ned.testb'])
        assert.ok(existsSync(join(env.MSD_CACHE!, 'data', 'conll2002', f)), `${f} in the cache`);
      assert.ok(hub.log.some((l) => l.url.endsWith('/api/datasets/eriktks/conll2002/parquet/nl/train')));
      assert.ok(hub.log.some((l) => l.url === '/bert-base-multilingual-cased/resolve/main/vocab.txt'));
    }

    // Learning: the teacher's best Spanish dev F1 (its selection score).
    const report = JSON.parse(readFileSync(join(out, 'teacher', 'train-report.json'), 'utf8')) as {
      bestDevF1: number;
      steps: number;
    };
    t.diagnostic(`teacher es dev F1 ${report.bestDevF1.toFixed(4)} after ${report.steps} steps`);
    assert.ok(
      report.bestDevF1 > SHORT_DEMO_MIN_DEV_F1,
      `teacher es dev F1 ${report.bestDevF1} after ${report.steps} steps; expected > ${SHORT_DEMO_MIN_DEV_F1}`,
    );

    // The summary: every field present and consistent with the per-layer results.
    const s = JSON.parse(readFileSync(join(out, 'results', 'demo-summary.json'), 'utf8')) as DemoSummary;
    for (const key of [
      'what',
      'why',
      'model',
      'data',
      'teacherSource',
      'target',
      'difference',
      'zeroShot',
      'paperCommand',
      'exportCommands',
      'timing',
      'measuredAt',
    ] as const) {
      assert.ok(s[key] !== undefined && s[key] !== '', `summary.${key} is missing`);
    }
    assert.match(s.what, /no multilingual pretraining/);
    assert.equal(s.teacherSource.lang, 'es');
    assert.equal(s.target.lang, 'nl');
    assert.ok(s.teacherSource.perHead.length >= 2, 'every head of the teacher is reported');
    assert.equal(s.teacherSource.perHead.at(-1)!.layer, s.teacherSource.mainLayer);
    assert.equal(s.teacherSource.perHead.at(-1)!.f1, s.teacherSource.main);
    for (const f of [s.teacherSource.main, s.target.teacher, s.target.student]) assert.ok(f >= 0 && f <= 1);
    assert.ok(s.target.published.label.includes('mBERT'), 'the paper figure is labelled as mBERT');
    assert.ok(s.target.published.f1 === null || (s.target.published.f1 > 0 && s.target.published.f1 <= 1));
    assert.match(s.difference, /student - teacher on nl/);
    assert.match(s.paperCommand, /--preset paper/);
    assert.equal(s.zeroShot, true);
    assert.ok(s.model.vocabSize !== null && s.model.vocabSize < 119547, 'the vocabulary was pruned');
    assert.ok(typeof s.timing.wallSec === 'number' && s.timing.wallSec > 0);

    // What the terminal shows.
    assert.match(stdout, /What this is: /);
    assert.match(stdout, /Teacher, es test F1 \(%\) by head/);
    assert.match(stdout, /nl test F1 \(%\), zero-shot/);
    assert.match(stdout, /main-head F1 \(%\) on each language's test split/);
    assert.match(stdout, /teacher \(es only\)\s+\d/);
    assert.match(stdout, /student \(distilled on nl text\)\s+\d/);
    assert.match(stdout, /paper: .*mBERT/);
    assert.match(stdout, /The paper's setting \(mBERT\): node lib\/cli\/msd\.js run --preset paper/);
    assert.match(
      stdout,
      /Use the student elsewhere: node lib\/cli\/msd\.js export \S+students\/nl\/best --format hf --out exports\/nl-hf/,
    );
    assert.match(stdout, /msd\.js export \S+students\/nl\/best --format web --out exports\/nl-web/);
  } finally {
    await hub?.stop();
    rmSync(tmp, { recursive: true, force: true });
  }
});
