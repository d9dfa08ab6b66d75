#!/usr/bin/env node
/**
 * `msd`: the command line over the same functions the notebooks call.
 *
 *   msd teacher  [--preset tiny|paper] [--config run.json] [--set key=value ...] [--out dir] [--resume]
 *   msd distill  --lang nl [...]
 *   msd eval     [...]                      per-layer P/R/F1 of the teacher and every student
 *   msd run      [...]                      teacher + all students + evaluation
 *   msd demo                                `run` with the tiny preset on real CoNLL-2002 es -> nl data
 *   msd predict  --model dir "text" ...     tags and entities for raw sentences
 */
import { Command, Option } from 'commander';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { parseSets, resolveConfig, type DeepPartial, type MsdConfig } from '../config.js';
import { readJson } from '../train/runs.js';
import { consoleProgress } from '../train/progress.js';
import { trainTeacher } from '../train/teacher.js';
import { distillStudent } from '../train/student.js';
import { evaluateRun, runMsd, type RunSummary } from '../train/pipeline.js';
import { initBackend } from '../backend/init.js';
import { loadNerModel, disposeNerModel } from '../model/ner-model.js';
import { predict } from '../eval/predict.js';

interface CommonOptions {
  preset: string;
  config?: string;
  set: string[];
  out?: string;
  resume?: boolean;
  plain?: boolean;
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

function withCommon(cmd: Command, defaultPreset = 'paper'): Command {
  return cmd
    .addOption(new Option('--preset <name>', 'config preset').choices(['paper', 'tiny']).default(defaultPreset))
    .option('--config <file>', 'a JSON config (e.g. a run\'s config.json); --set applies on top')
    .option('--set <key=value>', 'override one config key, e.g. --set student.lr=1e-5 (repeatable)', collect, [] as string[])
    .option('--out <dir>', 'run directory (run.outDir)')
    .option('--resume', 'continue from the last checkpoint of the run directory')
    .option('--plain', 'plain progress lines even on a terminal');
}

/** The resolved config of a command: preset or --config file, then --set overrides, then --out. */
function configFrom(opts: CommonOptions): MsdConfig {
  const base: MsdConfig | string = opts.config ? readJson<MsdConfig>(opts.config) : opts.preset;
  const overrides: DeepPartial<MsdConfig>[] = [parseSets(opts.set)];
  if (opts.out) overrides.push({ run: { outDir: opts.out } });
  let cfg = resolveConfig(base, ...overrides);
  // Resuming without --config: the run's saved config is the one to continue with.
  const saved = join(cfg.run.outDir, 'config.json');
  if (opts.resume && !opts.config && existsSync(saved)) cfg = resolveConfig(readJson<MsdConfig>(saved), ...overrides);
  return cfg;
}

function printSummary(s: RunSummary, cfg: MsdConfig): void {
  const last = cfg.run.evalLayers[1];
  console.log(`\nmain-head (layer ${last}) F1 on each language's test split${s.zeroShot ? ' (zero-shot: selected on source dev)' : ' (NOT zero-shot: selected on target dev)'}:`);
  for (const [model, byLang] of Object.entries(s.main)) {
    console.log(`  ${model.padEnd(14)} ${Object.entries(byLang).map(([l, f]) => `${l} ${(100 * f).toFixed(2)}`).join('   ')}`);
  }
  console.log(`per-layer table: ${join(cfg.run.outDir, 'results', 'summary.json')}`);
}

async function main(argv: string[]): Promise<void> {
  const program = new Command('msd').description('MSD: zero-shot cross-lingual NER with Mixture of Short-channel Distillers').showHelpAfterError();

  withCommon(program.command('teacher').description('train the teacher on the source language')).action(async (o: CommonOptions) => {
    const cfg = configFrom(o);
    console.log((await initBackend(cfg.run.backend ? { prefer: cfg.run.backend } : {})).summary);
    const r = await trainTeacher(cfg, { resume: o.resume, onProgress: consoleProgress({ plain: o.plain }) });
    console.log(`teacher: best source-dev F1 ${(100 * r.state.bestScore).toFixed(2)} at step ${r.state.bestStep}; model in ${r.bestDir}`);
  });

  withCommon(program.command('distill').description('distil the student of one target language from the teacher'))
    .requiredOption('--lang <code>', 'target language')
    .action(async (o: CommonOptions & { lang: string }) => {
      const cfg = configFrom(o);
      console.log((await initBackend(cfg.run.backend ? { prefer: cfg.run.backend } : {})).summary);
      const r = await distillStudent(cfg, o.lang, { resume: o.resume, onProgress: consoleProgress({ plain: o.plain }) });
      console.log(`student:${o.lang}: best ${cfg.student.selectOn} F1 ${(100 * r.state.bestScore).toFixed(2)} at step ${r.state.bestStep}; model in ${r.bestDir}`);
    });

  withCommon(program.command('eval').description('per-layer P/R/F1 of the selected teacher and students')).action(async (o: CommonOptions) => {
    const cfg = configFrom(o);
    printSummary(await evaluateRun(cfg, { onProgress: consoleProgress({ plain: o.plain }) }), cfg);
  });

  withCommon(program.command('run').description('teacher + every student + evaluation')).action(async (o: CommonOptions) => {
    const cfg = configFrom(o);
    console.log((await initBackend(cfg.run.backend ? { prefer: cfg.run.backend } : {})).summary);
    printSummary(await runMsd(cfg, { resume: o.resume, onProgress: consoleProgress({ plain: o.plain }) }), cfg);
  });

  withCommon(program.command('demo').description('the whole method on the tiny preset (CoNLL-2002 es -> nl, real data, CPU minutes)'), 'tiny').action(
    async (o: CommonOptions) => {
      const cfg = configFrom({ ...o, preset: o.config ? o.preset : 'tiny' });
      console.log((await initBackend(cfg.run.backend ? { prefer: cfg.run.backend } : {})).summary);
      console.log(`demo: ${cfg.data.corpus} ${cfg.data.source} -> ${cfg.data.targets.join(', ')}, run directory ${cfg.run.outDir}`);
      printSummary(await runMsd(cfg, { resume: o.resume, onProgress: consoleProgress({ plain: o.plain }) }), cfg);
    },
  );

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

  await program.parseAsync(argv);
}

main(process.argv).catch((err: Error) => {
  console.error(`msd: ${err.message}`);
  process.exit(1);
});
