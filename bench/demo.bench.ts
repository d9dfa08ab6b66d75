/**
 * `npm run bench -- demo`: the whole demo (`msd demo`, tiny preset, real CoNLL-2002 es -> nl) in a child process,
 * as a new user runs it, against its targets (issue 22): wall time <= 300 s on two cores, evaluation included, and
 * the teacher's Spanish test F1 (main head) >= 0.55; every head's F1 and the Dutch zero-shot figures are printed.
 *
 * References, measured in the same run: the same tiny teacher (architecture, recipe, steps, the demo's pruned
 * tokenizer and the same windows) trained in PyTorch (bench/reference/torch_tiny.py, all cores), for calibration:
 * its Spanish test F1 says whether our stack learns as well as PyTorch does with the same recipe. The speed of the
 * tiny teacher and student steps against PyTorch is bench/tiny-speed.ts, the one measure the speed bench prints too.
 * Without torch (`apt-get install python3-torch`) the references are skipped with that note. The machine's 1-minute
 * load average is noted with each figure: timings on a shared machine are pessimistic.
 *
 * MSD_BENCH_DEMO_ARGS adds arguments to `msd demo` (e.g. `--set teacher.epochs=1` for a quick look).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Bench, BenchRow } from './run.js';
import type { DemoSummary } from '../src/train/demo-summary.js';
import type { MsdConfig } from '../src/config.js';
import { loadDataset } from '../src/data/registry.js';
import { loadTokenizer } from '../src/tokenizer/load.js';
import { encodeDataset } from '../src/tokenizer/dataset.js';
import { tinySpeed, tinySpeedRows } from './tiny-speed.js';

const PY = '/usr/bin/python3';

/** The demo's own windows (pruned tokenizer, the preset's max length) for the PyTorch side, as JSON. */
function dumpWindows(cfg: MsdConfig, tokenizerDir: string, dataRoot: string, file: string): void {
  const tok = loadTokenizer(tokenizerDir);
  const train = loadDataset(cfg.data.corpus as 'conll2002', cfg.data.source, 'train', { root: dataRoot });
  const test = loadDataset(cfg.data.corpus as 'conll2002', cfg.data.source, 'test', { root: dataRoot });
  const limit = cfg.data.limit.train > 0 ? cfg.data.limit.train : train.sentences.length;
  const enc = (sentences: typeof train.sentences) =>
    encodeDataset(tok, sentences, { schema: train.schema, maxLength: cfg.data.maxLength }).encoded.map((e) => ({
      ids: [...e.inputIds],
      labels: [...e.labels!],
      sentence: e.sentenceId,
      window: e.window.index,
    }));
  writeFileSync(
    file,
    JSON.stringify({
      vocabSize: tok.vocabSize,
      tags: train.schema.tags,
      train: enc(train.sentences.slice(0, limit)),
      test: enc(test.sentences),
    }),
  );
}

const bench: Bench = async (ctx) => {
  const work = mkdtempSync(join(tmpdir(), 'demo-bench-'));
  const out = join(work, 'run');
  const dataRoot = join(ctx.root, '..', 'shared', 'data');
  const rows: BenchRow[] = [];
  try {
    const extra = (process.env.MSD_BENCH_DEMO_ARGS ?? '').split(/\s+/).filter(Boolean);
    const load0 = loadavg()[0]!;
    const t0 = performance.now();
    const child = spawnSync(
      process.execPath,
      ['--import', 'tsx', join(ctx.root, 'src', 'cli', 'msd.ts'), 'demo', '--plain', '--out', out, ...extra],
      {
        cwd: ctx.root,
        encoding: 'utf8',
        maxBuffer: 256 << 20,
      },
    );
    const wall = (performance.now() - t0) / 1000;
    if (child.status !== 0) throw new Error(`msd demo failed (exit ${child.status}):\n${child.stderr.slice(-4000)}`);
    const load = `1-min load average ${load0.toFixed(1)} at start, ${loadavg()[0]!.toFixed(1)} at the end`;
    ctx.log(child.stdout.split('\n').slice(-32).join('\n   '));
    const s = JSON.parse(readFileSync(join(out, 'results', 'demo-summary.json'), 'utf8')) as DemoSummary;
    const cfg = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8')) as MsdConfig;

    // The PyTorch reference: same teacher, same windows, same recipe and number of steps.
    let ref: { testF1: Record<string, number>; tokensPerSec: number; trainSec: number; mainLayer: number } | undefined;
    let refNote = 'no /usr/bin/python3 with torch: no PyTorch reference';
    const withTorch = existsSync(PY) && spawnSync(PY, ['-c', 'import torch'], { encoding: 'utf8' }).status === 0;
    if (withTorch) {
      const tokDir = existsSync(join(out, 'pretrained-pruned'))
        ? join(out, 'pretrained-pruned')
        : join(out, 'pretrained');
      const data = join(work, 'windows.json');
      dumpWindows(cfg, tokDir, dataRoot, data);
      const t = cfg.model.tiny;
      const args = [
        join(ctx.root, 'bench', 'reference', 'torch_tiny.py'),
        '--data',
        data,
        '--layers',
        String(t.numLayers),
        '--hidden',
        String(t.hiddenSize),
        '--heads-attn',
        String(t.numHeads),
        '--inter',
        String(t.intermediateSize),
        '--head-first',
        String(cfg.model.headLayers[0]),
        '--dropout',
        String(cfg.model.classifierDropout),
        '--alpha',
        String(cfg.teacher.alpha),
        '--lr',
        String(cfg.teacher.lr),
        '--warmup',
        String(cfg.teacher.warmupRatio),
        '--epochs',
        String(cfg.teacher.epochs),
        '--batch',
        String(cfg.teacher.batchSize),
        '--seed',
        String(cfg.run.seed),
      ];
      const lines = execFileSync(PY, args, {
        encoding: 'utf8',
        env: { ...process.env, OMP_WAIT_POLICY: 'PASSIVE' },
        maxBuffer: 64 << 20,
      })
        .trim()
        .split('\n');
      ref = JSON.parse(lines[lines.length - 1]!) as typeof ref;
      refNote = `PyTorch, same tiny teacher and windows, ${ref!.trainSec} s of training`;
    }

    rows.push({
      what: 'msd demo wall time (teacher + student + per-layer evaluation)',
      value: wall,
      unit: 's',
      better: 'lower',
      target: { on: 'value', op: '<=', value: 300 },
      note: load,
    });
    rows.push({
      what: `teacher ${s.teacherSource.lang} test F1, main head (layer ${s.teacherSource.mainLayer})`,
      value: s.teacherSource.main,
      unit: 'F1',
      better: 'higher',
      target: { on: 'value', op: '>=', value: 0.55 },
      ...(ref ? { reference: { name: 'PyTorch same recipe', value: ref.testF1[String(ref.mainLayer)]! } } : {}),
      note: refNote,
    });
    for (const h of s.teacherSource.perHead)
      rows.push({
        what: `teacher ${s.teacherSource.lang} test F1, head on layer ${h.layer}`,
        value: h.f1,
        unit: 'F1',
        better: 'higher',
      });
    rows.push({
      what: `teacher ${s.target.lang} test F1 (zero-shot)`,
      value: s.target.teacher,
      unit: 'F1',
      better: 'higher',
    });
    rows.push({
      what: `student ${s.target.lang} test F1 (distilled on unlabelled ${s.target.lang})`,
      value: s.target.student,
      unit: 'F1',
      better: 'higher',
    });
    const speedLoad = loadavg()[0]!.toFixed(1);
    rows.push(
      ...tinySpeedRows(tinySpeed(ctx.root, join(work, 'speed'), withTorch, ctx.log), `1-min load ${speedLoad}`),
    );
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  return rows;
};

export default bench;
