#!/usr/bin/env node
/**
 * `msd`: the command line over the same functions the notebooks call.
 *
 *   msd teacher  [--preset tiny|paper] [--config run.json] [--set key=value ...] [--out dir] [--resume|--force]
 *   msd distill  --lang nl [...]
 *   msd eval     [...]                      per-layer P/R/F1 of the teacher and every student
 *   msd run      [...]                      teacher + all students + evaluation
 *   msd demo     [...]                      `run` with the tiny preset (default) on real CoNLL-2002 es -> nl data
 *   msd predict  --model dir "text" ...     tags and entities for raw sentences
 *   msd data     where | pull <corpus> [langs]   where corpora and the tokenizer resolve; prefetch them
 *   msd export   dir --format hf|web --out d   for transformers, or a tagger page for the browser (export.ts)
 *
 * Config layers, later wins: the preset, then `--config FILE` (any subset of keys), then each `--set`, then `--out`.
 * Every training command checks the config before it starts (src/train/preflight.ts); `--print-config` runs the
 * same checks and prints the resolved config without running. Shared option handling lives in common.ts; a new
 * command goes in its own file with one import and one call here.
 *
 * Errors: whatever a command throws ends here, in one handler: bad input is one `msd: ...` line (plus a hint; exit
 * 1), commander's usage errors too (exit 1), an interrupt as `msd: interrupted: ...` (exit 130), and a bug is
 * reported as an internal error with a hint to re-run with --debug for the stack (exit 70). A command needs nothing
 * of its own for this (src/errors.ts).
 *
 * The modules that load tfjs are imported inside the actions, after the config and its checks: `--help`, a bad
 * option or a misspelt key answer in a tenth of a second instead of half a second.
 */
import { Command } from 'commander';
import { consoleProgress } from '../train/progress.js';
import { withJsonProgress } from '../train/progress-json.js';
import { formatError } from '../errors.js';
import { prepare, printSummary, withCommon, type CommonOptions } from './common.js';
import { registerDataCommands } from './data.js';
import { registerDemoCommand } from './demo.js';
import { registerPredictCommand } from './predict.js';
import { registerExportCommand } from './export.js';
import { registerReportCommand } from './report.js';
import { registerSweepCommands } from './sweep.js';
import { formatPercent } from '../eval/table.js';

async function main(argv: string[]): Promise<void> {
  const program = new Command('msd')
    .description('MSD: zero-shot cross-lingual NER with Mixture of Short-channel Distillers')
    .option('--debug', 'on an error, also print its stack (or set MSD_DEBUG=1)')
    // Commander's own errors (unknown option, missing argument) as one `msd:` line; subcommands inherit this.
    .configureOutput({ outputError: (text, write) => write(`msd: ${text.replace(/^error: /, '')}`) })
    .showHelpAfterError('  (add --help for the usage)');
  const train = (o: CommonOptions) => ({
    resume: o.resume,
    force: o.force,
    onProgress: withJsonProgress(consoleProgress({ plain: o.plain })),
  });

  withCommon(program.command('teacher').description('train the teacher on the source language')).action(
    async (o: CommonOptions) => {
      const cfg = await prepare(o, 'teacher');
      if (!cfg) return;
      const { trainTeacher } = await import('../train/teacher.js');
      const r = await trainTeacher(cfg, train(o));
      console.log(
        `teacher: best source-dev F1 ${formatPercent(r.state.bestScore)} at step ${r.state.bestStep}; model in ${r.bestDir}`,
      );
    },
  );

  withCommon(program.command('distill').description('distil the student of one target language from the teacher'))
    .requiredOption('--lang <code>', 'target language')
    .action(async (o: CommonOptions & { lang: string }) => {
      const cfg = await prepare(o, 'distill', o.lang);
      if (!cfg) return;
      const { distillStudent } = await import('../train/student.js');
      const r = await distillStudent(cfg, o.lang, train(o));
      console.log(
        `student:${o.lang}: best ${cfg.student.selectOn} F1 ${formatPercent(r.state.bestScore)} at step ${r.state.bestStep}; model in ${r.bestDir}`,
      );
    });

  withCommon(program.command('eval').description('per-layer P/R/F1 of the selected teacher and students')).action(
    async (o: CommonOptions) => {
      const cfg = await prepare(o, 'eval');
      if (!cfg) return;
      const { evaluateRun } = await import('../train/pipeline.js');
      printSummary(await evaluateRun(cfg, { onProgress: withJsonProgress(consoleProgress({ plain: o.plain })) }), cfg);
    },
  );

  withCommon(program.command('run').description('teacher + every student + evaluation')).action(
    async (o: CommonOptions) => {
      const cfg = await prepare(o, 'run');
      if (!cfg) return;
      const { runMsd } = await import('../train/pipeline.js');
      printSummary(await runMsd(cfg, train(o)), cfg);
    },
  );

  registerDemoCommand(program);

  registerPredictCommand(program);
  registerSweepCommands(program);
  registerReportCommand(program);
  registerDataCommands(program);
  registerExportCommand(program);

  await program.parseAsync(argv);
}

// The one place an error ends `msd`: bad input as `msd: <what and how to fix it>` (exit 1), an interrupt as
// `msd: interrupted: ...` (exit 130), a bug as an internal error with a hint to re-run with --debug (exit 70);
// src/errors.ts tells them apart.
main(process.argv).catch((err: unknown) => {
  const { text, exitCode } = formatError(err, {
    debug: process.argv.includes('--debug') || ['1', 'true'].includes(process.env.MSD_DEBUG ?? ''),
  });
  console.error(text);
  process.exit(exitCode);
});
