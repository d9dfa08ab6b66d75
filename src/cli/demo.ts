/**
 * `msd demo`: the whole method (teacher, a student per target, per-layer evaluation) with the tiny preset on the
 * real CoNLL-2002 es -> nl data, then a summary of what it shows (src/train/demo-summary.ts), written to
 * `<run>/results/demo-summary.json` as well. `--preset` defaults to tiny and is honoured when given (`msd demo
 * --preset paper` is `msd run` plus the summary).
 */
import type { Command } from 'commander';
import { existsSync } from 'node:fs';
import { modelConfigPath } from '../model/config.js';
import { runDir, type RunDir } from '../run/dir.js';
import { readJson, writeJsonAtomic } from '../run/io.js';
import { consoleProgress } from '../train/progress.js';
import { withJsonProgress } from '../train/progress-json.js';
import { prepare, printSummary, withCommon, type CommonOptions } from './common.js';

/** vocab_size of the run's (possibly pruned) starting checkpoint, for the summary. */
function vocabSizeOf(run: RunDir): number | undefined {
  for (const d of [run.prunedPretrained, run.pretrained]) {
    const p = modelConfigPath(d);
    if (existsSync(p)) return readJson<{ vocab_size?: number }>(p).vocab_size;
  }
  return undefined;
}

/** User + system CPU seconds of this process so far (all threads). */
function cpuSeconds(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

export function registerDemoCommand(program: Command): void {
  withCommon(
    program
      .command('demo')
      .description('the whole method on the tiny preset (CoNLL-2002 es -> nl, real data, CPU minutes)'),
    'tiny',
  ).action(async (o: CommonOptions) => {
    const cfg = await prepare(o, 'run');
    if (!cfg) return;
    const { backendFor } = await import('../train/backend.js');
    const { runMsd } = await import('../train/pipeline.js');
    const { demoSummary, formatDemoSummary } = await import('../train/demo-summary.js');
    const backend = (await backendFor(cfg)).summary;
    console.log(
      `demo: ${cfg.preset} preset, ${cfg.data.corpus} ${cfg.data.source} -> ${cfg.data.targets.join(', ')}, run directory ${cfg.run.outDir}`,
    );
    const result = await runMsd(cfg, {
      resume: o.resume,
      force: o.force,
      onProgress: withJsonProgress(consoleProgress({ plain: o.plain })),
    });
    printSummary(result, cfg);
    const summary = demoSummary(cfg, result, {
      wallSec: process.uptime() /* since the process started */,
      cpuSec: cpuSeconds(),
      backend,
      vocabSize: vocabSizeOf(runDir(cfg)),
    });
    writeJsonAtomic(runDir(cfg).demoSummaryPath, summary);
    console.log(formatDemoSummary(summary));
  });
}
