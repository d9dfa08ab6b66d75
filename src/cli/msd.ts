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
 *
 * Every training command takes `--print-config` to show the resolved config without running. Shared option
 * handling lives in common.ts; a new command goes in its own file with one import and one call here.
 */
import { Command } from 'commander';
import { initBackend } from '../backend/init.js';
import { predict } from '../eval/predict.js';
import { disposeNerModel, loadNerModel } from '../model/ner-model.js';
import { evaluateRun, runMsd } from '../train/pipeline.js';
import { consoleProgress } from '../train/progress.js';
import { distillStudent } from '../train/student.js';
import { trainTeacher } from '../train/teacher.js';
import { prepare, printSummary, withCommon, type CommonOptions } from './common.js';
import { registerDemoCommand } from './demo.js';
import { registerReportCommand } from './report.js';
import { registerSweepCommands } from './sweep.js';
import { isInterrupted } from '../interrupt.js';

async function main(argv: string[]): Promise<void> {
  const program = new Command('msd')
    .description('MSD: zero-shot cross-lingual NER with Mixture of Short-channel Distillers')
    .showHelpAfterError();
  const train = (o: CommonOptions) => ({
    resume: o.resume,
    force: o.force,
    onProgress: consoleProgress({ plain: o.plain }),
  });

  withCommon(program.command('teacher').description('train the teacher on the source language')).action(
    async (o: CommonOptions) => {
      const cfg = await prepare(o);
      if (!cfg) return;
      const r = await trainTeacher(cfg, train(o));
      console.log(
        `teacher: best source-dev F1 ${(100 * r.state.bestScore).toFixed(2)} at step ${r.state.bestStep}; model in ${r.bestDir}`,
      );
    },
  );

  withCommon(program.command('distill').description('distil the student of one target language from the teacher'))
    .requiredOption('--lang <code>', 'target language')
    .action(async (o: CommonOptions & { lang: string }) => {
      const cfg = await prepare(o);
      if (!cfg) return;
      const r = await distillStudent(cfg, o.lang, train(o));
      console.log(
        `student:${o.lang}: best ${cfg.student.selectOn} F1 ${(100 * r.state.bestScore).toFixed(2)} at step ${r.state.bestStep}; model in ${r.bestDir}`,
      );
    });

  withCommon(program.command('eval').description('per-layer P/R/F1 of the selected teacher and students')).action(
    async (o: CommonOptions) => {
      const cfg = await prepare(o);
      if (!cfg) return;
      printSummary(await evaluateRun(cfg, { onProgress: consoleProgress({ plain: o.plain }) }), cfg);
    },
  );

  withCommon(program.command('run').description('teacher + every student + evaluation')).action(
    async (o: CommonOptions) => {
      const cfg = await prepare(o);
      if (!cfg) return;
      printSummary(await runMsd(cfg, train(o)), cfg);
    },
  );

  registerDemoCommand(program);

  program
    .command('predict')
    .description('tag raw sentences with a trained model (a best/ directory of a run)')
    .requiredOption('--model <dir>', 'model directory, e.g. runs/tiny/students/nl/best')
    .argument('<sentences...>', 'sentences, one argument each')
    .action(async (sentences: string[], o: { model: string }) => {
      await initBackend();
      const model = loadNerModel(o.model);
      try {
        for (const p of predict(model, sentences)) {
          console.log(p.tokens.map((t, i) => (p.tags[i] === 'O' ? t : `${t}/${p.tags[i]}`)).join(' '));
          for (const e of p.entities) console.log(`  ${e.type.padEnd(5)} ${e.text}  (${(e.prob ?? 0).toFixed(2)})`);
        }
      } finally {
        disposeNerModel(model);
      }
    });

  registerSweepCommands(program);
  registerReportCommand(program);

  await program.parseAsync(argv);
}

main(process.argv).catch((err: Error) => {
  console.error(`msd: ${isInterrupted(err) ? 'interrupted: ' : ''}${err.message}`);
  process.exit(isInterrupted(err) ? 130 : 1);
});
