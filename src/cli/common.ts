/**
 * What every `msd` command that trains or evaluates shares: the config options (`--preset`, `--config`, `--set`,
 * `--out`, `--resume`, `--print-config`), how they resolve into one MsdConfig, starting the backend the config asks
 * for, and the summary printed at the end. Commands in their own files (src/cli/<name>.ts) import these.
 */
import { Command, Option } from 'commander';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { configToJson, parseSets, PRESETS, resolveConfig, type DeepPartial, type MsdConfig } from '../config.js';
import type { RunSummary } from '../train/pipeline.js';
import { readJson } from '../train/runs.js';
import { backendFor } from '../train/backend.js';

export interface CommonOptions {
  preset: string;
  config?: string;
  set: string[];
  out?: string;
  resume?: boolean;
  force?: boolean;
  plain?: boolean;
  printConfig?: boolean;
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

/** Adds the config options to a command; `defaultPreset` is what `--preset` means when not given. */
export function withCommon(cmd: Command, defaultPreset = 'paper'): Command {
  return cmd
    .addOption(new Option('--preset <name>', 'config preset').choices(Object.keys(PRESETS)).default(defaultPreset))
    .option('--config <file>', "a JSON config (e.g. a run's config.json); --set applies on top")
    .option(
      '--set <key=value>',
      'override one config key, e.g. --set student.lr=1e-5 (repeatable)',
      collect,
      [] as string[],
    )
    .option('--out <dir>', 'run directory (run.outDir)')
    .option('--resume', 'continue from the last checkpoint of the run directory')
    .option('--force', 'delete an existing run directory first and start clean')
    .option('--plain', 'plain progress lines even on a terminal')
    .option('--print-config', 'print the resolved config as JSON and exit without running anything');
}

/** The resolved config of a command: preset or --config file, then --set overrides, then --out. */
export function configFrom(opts: CommonOptions): MsdConfig {
  const base: MsdConfig | string = opts.config ? readJson<MsdConfig>(opts.config) : opts.preset;
  const overrides: DeepPartial<MsdConfig>[] = [parseSets(opts.set)];
  if (opts.out) overrides.push({ run: { outDir: opts.out } });
  let cfg = resolveConfig(base, ...overrides);
  // Resuming without --config: the run's saved config is the one to continue with.
  const saved = join(cfg.run.outDir, 'config.json');
  if (opts.resume && !opts.config && existsSync(saved)) cfg = resolveConfig(readJson<MsdConfig>(saved), ...overrides);
  return cfg;
}

/**
 * The config of a command, or undefined after printing it for `--print-config` (the caller then returns). Starts the
 * backend the config asks for (`run.backend`) and prints which one runs: the CLI's one place for that.
 */
export async function prepare(opts: CommonOptions): Promise<MsdConfig | undefined> {
  const cfg = configFrom(opts);
  if (opts.printConfig) {
    process.stdout.write(configToJson(cfg));
    return undefined;
  }
  console.log((await backendFor(cfg)).summary);
  return cfg;
}

/** The main-head F1 of every model (at each model's own main head layer) and where the per-layer table is. */
export function printSummary(s: RunSummary, cfg: MsdConfig, log: (line: string) => void = console.log): void {
  const protocol = s.zeroShot ? ' (zero-shot: selected on source dev)' : ' (NOT zero-shot: selected on target dev)';
  log(`\nmain-head F1 on each language's test split${protocol}:`);
  for (const [model, byLang] of Object.entries(s.main)) {
    const scores = Object.entries(byLang).map(([l, f]) => `${l} ${(100 * f).toFixed(2)}`);
    log(`  ${`${model} (layer ${s.mainLayer[model]})`.padEnd(24)} ${scores.join('   ')}`);
  }
  log(`per-layer table: ${join(cfg.run.outDir, 'results', 'summary.json')}`);
}
