/**
 * What every `msd` command that trains or evaluates shares: the config options (`--preset`, `--config`, `--set`,
 * `--out`, `--resume`, `--print-config`), how they resolve into one MsdConfig, starting the backend the config asks
 * for, and the summary printed at the end. Commands in their own files (src/cli/<name>.ts) import these.
 */
import { Command, Option } from 'commander';
import { existsSync } from 'node:fs';
import {
  configToJson,
  parseSet,
  PRESETS,
  readConfigFile,
  resolveLayers,
  type ConfigLayer,
  type MsdConfig,
} from '../config.js';
import { UserError } from '../errors.js';
import type { RunSummary } from '../train/pipeline.js';
import { runDir } from '../run/dir.js';
import { preflight, type PreflightOptions } from '../train/preflight.js';

export interface CommonOptions {
  /** Given on the command line (undefined: the file's preset, else `defaultPreset`). */
  preset?: string;
  defaultPreset?: string;
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

/** The layers of a command's config, in the order they apply (said in every command's --help and the README). */
export const CONFIG_ORDER =
  'Config layers, a later one wins:\n  1. the preset (--preset, else the --config file\'s "preset", else the default)\n' +
  '  2. --config FILE (any subset of keys)\n  3. each --set, in order\n  4. --out\n' +
  'Checked before anything runs (also by --print-config); errors name the file or --set and the key.';

/** Adds the config options to a command; `defaultPreset` is what `--preset` means when neither it nor the file names one. */
export function withCommon(cmd: Command, defaultPreset = 'paper'): Command {
  return cmd
    .addOption(
      new Option('--preset <name>', `config preset (default: the --config file's "preset", else ${defaultPreset})`)
        .choices(Object.keys(PRESETS))
        .default(undefined),
    )
    .option(
      '--config <file>',
      "a JSON config file: any subset of the config's keys (nested or dotted), or a run's whole config.json",
    )
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
    .option('--print-config', 'check and print the resolved config as JSON, and exit without running anything')
    .addHelpText('after', `\n${CONFIG_ORDER}`)
    .hook('preAction', (c) => {
      c.setOptionValue('defaultPreset', defaultPreset);
    });
}

/**
 * The resolved config of a command, in layers: the preset (--preset, else the file's "preset", else the command's
 * default), then the --config file, then each --set, then --out. Errors name the layer (the file, the --set).
 */
export function configFrom(opts: CommonOptions): MsdConfig {
  let file = opts.config ? readConfigFile(opts.config) : undefined;
  const layers: ConfigLayer[] = opts.set.map(parseSet);
  if (opts.out) layers.push({ from: '--out', values: { run: { outDir: opts.out } } });
  // Resuming without --config: the run's saved config is the file layer (the one to continue with).
  if (!file && opts.resume) {
    const outDir = resolveLayers(opts.preset ?? opts.defaultPreset ?? 'paper', layers).run.outDir;
    const saved = runDir(outDir).configPath;
    if (existsSync(saved)) file = readConfigFile(saved);
  }
  if (file?.preset && opts.preset && file.preset !== opts.preset)
    throw new UserError(
      `${file.from} is a config of the '${file.preset}' preset, and --preset ${opts.preset} was given`,
      `drop --preset (the file's preset applies), or remove "preset" from ${file.from}`,
    );
  const preset = opts.preset ?? file?.preset ?? opts.defaultPreset ?? 'paper';
  return resolveLayers(preset, file ? [file, ...layers] : layers);
}

/**
 * The config of a command after its pre-flight checks (src/train/preflight.ts: names, data files, model, what the
 * stage continues from), or undefined after printing it for `--print-config` (the caller then returns). Starts the
 * backend the config asks for (`run.backend`) and prints which one runs: the CLI's one place for that.
 */
export async function prepare(
  opts: CommonOptions,
  stage: PreflightOptions['stage'],
  lang?: string,
): Promise<MsdConfig | undefined> {
  if (opts.resume && opts.force)
    throw new UserError(
      '--resume and --force both given: --resume continues the run, --force deletes it',
      'choose one',
    );
  const cfg = configFrom(opts);
  await preflight(cfg, { stage, lang });
  if (opts.printConfig) {
    process.stdout.write(configToJson(cfg));
    return undefined;
  }
  const { backendFor } = await import('../train/backend.js'); // tfjs loads here, after the checks
  console.log((await backendFor(cfg)).summary);
  return cfg;
}

/** The main-head F1 of every model (at each model's own main head layer) and where the per-layer table is. */
export function printSummary(s: RunSummary, cfg: MsdConfig, log: (line: string) => void = console.log): void {
  const protocol = s.zeroShot ? ' (zero-shot: selected on source dev)' : ' (NOT zero-shot: selected on target dev)';
  log(`\nmain-head F1 (%) on each language's test split${protocol}:`);
  for (const [model, byLang] of Object.entries(s.main)) {
    const scores = Object.entries(byLang).map(([l, f]) => `${l} ${(100 * f).toFixed(2)}`);
    log(`  ${`${model} (layer ${s.mainLayer[model]})`.padEnd(24)} ${scores.join('   ')}`);
  }
  log(`per-layer table: ${runDir(cfg).summaryPath}`);
}
