/**
 * Property: no bad command line ends in a stack trace. Generated bad inputs (unknown and misspelt keys, wrong types,
 * partial and malformed config files, __proto__ & co., missing and corrupt model directories, empty and huge
 * sentences, unknown corpora and languages, commander usage errors) are given to the built CLI (lib/cli/msd.js,
 * spawned), and for each: a non-zero exit (1: bad input, not 70: a bug), a short `msd:` message that names the
 * offending input, no stack frame, nothing on stdout, and nothing written to the run directory.
 *
 * The cases are drawn from a seeded generator: MSD_FUZZ_SEED=<n> draws another set; a failure prints the seed, the
 * case and the command line, so it reproduces. About 50 processes, two at a time.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { configKeyPath, configKeyPaths, isConfigKey, PAPER, resolveConfig } from '../../src/config.js';
import { CORPUS_LANGUAGES, DATASET_NAMES } from '../../src/data/registry.js';
import { writeTinyCheckpoint } from '../../src/model/tiny.js';
import { mulberry32 } from '../../src/rng.js';
import { MSD, REPO, requireBuild } from '../sweep/helpers.js';

const SEED = Number(process.env.MSD_FUZZ_SEED ?? 24);
const rand = mulberry32(SEED);
const int = (n: number) => Math.floor(rand() * n);
const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)]!;
const word = (min = 3, max = 9) =>
  Array.from({ length: min + int(max - min + 1) }, () => 'abcdefghijklmnopqrstuvwxyz'[int(26)]).join('');

const tmp = mkdtempSync(join(tmpdir(), 'msd-bad-input-'));
process.on('exit', () => rmSync(tmp, { recursive: true, force: true }));

/**
 * The children's world: a data root with one sentence per CoNLL-2002 file and a tokenizer folder with a vocab.txt,
 * so that a good config passes the data and model checks and each case fails on its own bad input only; offline and
 * with an empty cache, so nothing is downloaded or found elsewhere.
 */
function world(): NodeJS.ProcessEnv {
  const data = join(tmp, 'data');
  for (const [lang, prefix] of [
    ['es', 'esp'],
    ['nl', 'ned'],
  ] as const) {
    mkdirSync(join(data, 'conll2002', lang), { recursive: true });
    for (const split of ['train', 'testa', 'testb'])
      writeFileSync(join(data, 'conll2002', lang, `${prefix}.${split}`), 'Jan B-PER\nwoont O\n\n');
  }
  const tokenizer = join(tmp, 'tokenizer');
  mkdirSync(tokenizer);
  writeFileSync(join(tokenizer, 'vocab.txt'), ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]', 'Jan'].join('\n'));
  return {
    ...process.env,
    MSD_DATA_ROOT: data,
    MSD_TOKENIZER_DIR: tokenizer,
    MSD_CACHE: join(tmp, 'cache'),
    MSD_HUB_CACHE: join(tmp, 'cache', 'hub'),
    HF_HUB_OFFLINE: '1',
  };
}
const ENV = world();

interface Case {
  kind: string;
  args: string[];
  /** A piece of the input the message must quote. */
  names: string;
  /** The run directory the command was pointed at (must not be created). */
  out?: string;
}

let n = 0;
/** A training command line around `extra`, pointed at a fresh run directory; sometimes with --print-config. */
function training(kind: string, extra: string[], names: string, cmd?: string): Case {
  const out = join(tmp, `run-${n++}`);
  const c = cmd ?? pick(['run', 'teacher', 'demo', 'eval', 'distill']);
  const args = [c, ...(c === 'distill' ? ['--lang', 'nl'] : []), '--preset', 'tiny', ...extra, '--out', out];
  if (rand() < 0.5) args.push('--print-config');
  return { kind, args, names, out };
}

const LEAVES = configKeyPaths().filter((p) => {
  const v = configKeyPath(p).value;
  return v === null || typeof v !== 'object' || Array.isArray(v);
});

/** One edit of a word (drop, double, swap or change a letter) that `valid` rejects: a misspelling. */
function mutate(w: string, valid: (x: string) => boolean): string {
  for (;;) {
    const i = int(w.length);
    const edits = [
      w.slice(0, i) + w.slice(i + 1),
      w.slice(0, i) + w[i] + w.slice(i),
      i > 0 ? w.slice(0, i - 1) + w[i] + w[i - 1] + w.slice(i + 1) : `${w}s`,
      w.slice(0, i) + 'xq'[int(2)] + w.slice(i + 1),
    ];
    const m = pick(edits);
    if (m !== '' && !valid(m)) return m;
  }
}

/** A key path whose last part is misspelt (no key any more). */
function misspell(path: string): string {
  const parts = path.split('.');
  const last = parts.pop()!;
  return [...parts, mutate(last, (x) => isConfigKey([...parts, x].join('.')) || x === 'preset')].join('.');
}

/** A `--set` value that cannot have the key's type (the value's type is that of the paper preset). */
function wrongSetValue(path: string): string | undefined {
  const v = configKeyPath(path).value;
  if (typeof v === 'number') return word();
  if (typeof v === 'boolean') return pick(['yes', 'no', '1', word()]);
  if (Array.isArray(v)) return typeof v[0] === 'string' ? '[1, 2]' : '"x"';
  if (path === 'run.backend' || path.endsWith('selectOn') || path.endsWith('initFrom')) return word(4, 6);
  return undefined; // a free string: any --set value is a string
}

/** A JSON value of another type than the key's. */
function wrongJsonValue(path: string): unknown {
  const v = configKeyPath(path).value;
  if (path.endsWith('lambda')) return pick([5, true, 'softmax']);
  if (typeof v === 'number') return pick([String(v), true, [v], { v }]);
  if (typeof v === 'boolean') return pick([1, 'true', null]);
  if (typeof v === 'string') return pick([1, false, [v]]);
  return pick([1, 'x', { a: 1 }]);
}

/** `{run: {seed: 3}}` from 'run.seed' and 3. */
function nested(path: string, value: unknown): Record<string, unknown> {
  return path
    .split('.')
    .reverse()
    .reduce<unknown>((acc, k) => ({ [k]: acc }), value) as Record<string, unknown>;
}

function configFile(content: string): string {
  const p = join(tmp, `config-${n++}.json`);
  writeFileSync(p, content);
  return p;
}

/** A valid partial config file's text, corrupted so that it is not JSON any more. */
function malformed(): string {
  const good = JSON.stringify({ run: { seed: 1 + int(9), logEvery: 5 }, teacher: { epochs: 1 } }, null, 2);
  for (;;) {
    const i = 1 + int(good.length - 2);
    const bad = pick([
      good.slice(0, i), // truncated
      good.replace(/(\d)\n/, '$1,\n'), // trailing comma
      good.replace('"seed"', "'seed'"), // single quotes
      good.replace('{\n', '{\n  // my settings\n'), // a comment
      `${good.slice(0, i)}x${good.slice(i)}`, // a stray character
    ]);
    try {
      JSON.parse(bad);
    } catch {
      return bad;
    }
  }
}

// Model directories: missing, empty, not a model, and a checkpoint corrupted in the ways files get corrupted.
const models = join(tmp, 'models');
function modelDirs(): { dir: string; what: string }[] {
  const base = join(models, 'bert-no-heads');
  writeTinyCheckpoint(base, { hiddenSize: 8, numLayers: 1, numHeads: 1, intermediateSize: 8 });
  const weights = readFileSync(join(base, 'model.safetensors'));
  const variant = (name: string, file: string, content: string | Buffer) => {
    const d = join(models, name);
    cpSync(base, d, { recursive: true });
    writeFileSync(join(d, file), content);
    return d;
  };
  mkdirSync(join(models, 'empty'), { recursive: true });
  return [
    { dir: join(models, `missing-${word()}`), what: 'missing' },
    { dir: join(models, 'empty'), what: 'empty directory' },
    { dir: join(base, 'config.json'), what: 'a file' },
    { dir: base, what: 'a BERT without NER heads' },
    { dir: variant('truncated', 'model.safetensors', weights.subarray(0, 40 + int(200))), what: 'truncated weights' },
    { dir: variant('garbage', 'model.safetensors', 'not safetensors at all'), what: 'garbage weights' },
    { dir: variant('zero', 'model.safetensors', ''), what: 'empty weights file' },
    { dir: variant('bad-config', 'config.json', '{"hidden_size": 8,'), what: 'config.json not JSON' },
    { dir: variant('config-fields', 'config.json', '{"hidden_size": "8"}'), what: 'config.json missing fields' },
  ];
}

function cases(): Case[] {
  const out: Case[] = [];
  // Unknown and misspelt keys, in --set and in config files.
  for (let i = 0; i < 5; i++) {
    const wrong = misspell(pick(LEAVES));
    out.push(training('misspelt --set key', ['--set', `${wrong}=1`], `'${wrong}'`));
  }
  for (let i = 0; i < 3; i++) {
    const wrong = `${pick(['', 'run.', 'student.', 'model.tiny.'])}${word()}`;
    const f = configFile(JSON.stringify({ run: { seed: 3 }, ...nested(wrong, 1) }));
    out.push(training('unknown key in a partial config file', ['--config', f], `'${wrong}'`));
  }
  {
    const wrong = misspell(pick(LEAVES));
    out.push(
      training('misspelt dotted key in a config file', ['--config', configFile(`{"${wrong}": 1}`)], `'${wrong}'`),
    );
  }
  // Wrong types.
  for (let i = 0; i < 5;) {
    const key = pick(LEAVES);
    const v = wrongSetValue(key);
    if (v === undefined) continue;
    out.push(training('wrong type in --set', ['--set', `${key}=${v}`], key));
    i++;
  }
  for (let i = 0; i < 4; i++) {
    const key = pick(LEAVES);
    const f = configFile(JSON.stringify(nested(key, wrongJsonValue(key))));
    out.push(training('wrong type in a config file', ['--config', f], key));
  }
  // Malformed config files: invalid JSON (the message gives file:line:column), not an object, missing.
  for (let i = 0; i < 4; i++) {
    const f = configFile(malformed());
    out.push(training('invalid JSON config file', ['--config', f], `${f}:`));
  }
  {
    const f = configFile(pick(['[1, 2]', '"run"', '42', 'null']));
    out.push(training('config file not an object', ['--config', f], f));
    const missing = join(tmp, `no-such-${word()}.json`);
    out.push(training('missing config file', ['--config', missing], missing));
  }
  // __proto__, constructor, prototype: in --set and in config files, at any depth.
  for (let i = 0; i < 4; i++) {
    const bad = pick(['__proto__', 'constructor', 'prototype']);
    const path = [pick(['', 'run.', 'student.ablation.']), bad, pick(['', '.x'])].join('');
    out.push(
      rand() < 0.5
        ? training('forbidden key in --set', ['--set', `${path}=1`], bad)
        : training('forbidden key in a config file', ['--config', configFile(`{"${path}": {"x": 1}}`)], bad),
    );
  }
  // Unknown corpora and languages.
  for (let i = 0; i < 3; i++) {
    const corpus = rand() < 0.5 ? word() : mutate(pick(DATASET_NAMES), (x) => DATASET_NAMES.includes(x as never));
    out.push(training('unknown corpus', ['--set', `data.corpus=${corpus}`], `'${corpus}'`));
  }
  const notConll = () => {
    for (;;) {
      const l = word(2, 2);
      if (!CORPUS_LANGUAGES.conll2002!.includes(l)) return l;
    }
  };
  for (let i = 0; i < 2; i++) {
    const l = notConll();
    out.push(training('unknown source language', ['--set', `data.source=${l}`], `'${l}'`));
    const t = notConll();
    out.push(training('unknown target language', ['--set', `data.targets=nl,${t}`], `'${t}'`));
  }
  {
    const l = notConll();
    const o = join(tmp, `run-${n++}`);
    out.push({
      kind: 'distill --lang unknown',
      args: ['distill', '--preset', 'tiny', '--lang', l, '--out', o],
      names: `'${l}'`,
      out: o,
    });
    const code = pick(['EN', 'e n', 'x', '12']);
    out.push(
      training('bad wikiann code', ['--set', 'data.corpus=wikiann', '--set', `data.targets=${code}`], `'${code}'`),
    );
  }
  // Paths that must exist: the data root, the tiny preset's vocabulary, a pretrained model, a trained teacher.
  {
    const root = join(tmp, `no-data-${word()}`);
    const fresh = () => pick(['run', 'teacher', 'demo']); // commands that start from nothing but the config
    out.push(training('missing data root', ['--set', `data.root=${root}`], root, fresh()));
    const model = join(tmp, `no-model-${word()}`);
    out.push(training('missing model directory', ['--set', `model.pretrained=${model}`], model, fresh()));
    const o = join(tmp, `run-${n++}`);
    out.push({
      kind: 'eval without a trained teacher',
      args: ['eval', '--preset', 'tiny', '--out', o],
      names: 'teacher',
      out: o,
    });
  }
  // Layer ranges against the model.
  {
    const layers = 2 + int(3);
    out.push(
      training(
        'head layers beyond the encoder',
        ['--set', `model.tiny.numLayers=${layers}`, '--set', `model.headLayers=[1,${layers + 1 + int(3)}]`],
        'model.headLayers',
      ),
    );
  }
  // Model directories for predict, and sentences: empty, blank, huge.
  for (const m of modelDirs())
    out.push({
      kind: `predict: ${m.what}`,
      args: ['predict', '--model', m.dir, 'Jan woont in Amsterdam .'],
      names: m.dir,
    });
  const anyModel = join(models, 'bert-no-heads');
  out.push({ kind: 'predict: empty sentence', args: ['predict', '--model', anyModel, ''], names: 'sentence' });
  out.push({
    kind: 'predict: blank sentence',
    args: ['predict', '--model', anyModel, 'ok', ' '.repeat(1 + int(5))],
    names: 'sentence 2 of 2',
  });
  {
    const words = 1001 + int(3000);
    const huge = Array.from({ length: words }, () => word(1, 6)).join(' ');
    out.push({ kind: 'predict: huge sentence', args: ['predict', '--model', anyModel, huge], names: `${words} words` });
  }
  // Commander's own errors.
  out.push({ kind: 'unknown option', args: ['run', '--sett', 'run.seed=1'], names: "'--sett'" });
  out.push({ kind: 'bad preset choice', args: ['run', '--preset', 'tinyy', '--print-config'], names: "'tinyy'" });
  out.push({ kind: 'missing --lang', args: ['distill', '--preset', 'tiny'], names: '--lang' });
  return out;
}

function runCli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [MSD, ...args], { cwd: REPO, env: ENV, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000); // a case that started real work
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

test(`bad inputs: one clear msd: message, non-zero exit, no stack, nothing written (seed ${SEED})`, async () => {
  requireBuild();
  // The generator itself: every config-file and --set case must be bad, or the CLI would start real work.
  assert.throws(() => resolveConfig('tiny', nested(misspell('run.seed'), 1)));
  // The world: a good config passes every check there (so each case below fails on its own input).
  const good = await runCli(['run', '--preset', 'tiny', '--print-config']);
  assert.equal(good.code, 0, good.stderr);
  const all = cases();
  const failures: string[] = [];
  let next = 0;
  const worker = async () => {
    while (next < all.length) {
      const c = all[next++]!;
      const r = await runCli(c.args);
      const shown = c.args.map((a) => (a.length > 80 ? `${a.slice(0, 40)}...(${a.length} chars)` : a));
      const problems: string[] = [];
      const lines = r.stderr.trimEnd().split('\n');
      if (r.code !== 1) problems.push(`exit code ${r.code}, expected 1`);
      if (!lines[0]!.startsWith('msd: ')) problems.push('the message does not start with "msd: "');
      if (!r.stderr.includes(c.names)) problems.push(`the message does not name ${JSON.stringify(c.names)}`);
      if (/^\s+at /m.test(r.stderr)) problems.push('a stack trace');
      if (/internal error|TypeError|ReferenceError/.test(r.stderr)) problems.push('reported as a bug');
      if (lines.length > 4) problems.push(`${lines.length} lines, not one line or a short block`);
      if (r.stdout !== '') problems.push(`stdout not empty: ${JSON.stringify(r.stdout.slice(0, 200))}`);
      if (c.out && existsSync(c.out)) problems.push(`the run directory ${c.out} was created`);
      if (problems.length)
        failures.push(
          `[${c.kind}] msd ${shown.join(' ')}\n  ${problems.join('; ')}\n  stderr: ${r.stderr.slice(0, 600)}`,
        );
    }
  };
  await Promise.all([worker(), worker()]);
  assert.ok(all.length >= 40, `${all.length} cases`);
  assert.equal(
    failures.length,
    0,
    `MSD_FUZZ_SEED=${SEED}: ${failures.length} of ${all.length} cases failed:\n${failures.join('\n')}`,
  );
});

test('the paper preset default key set is what the generator walks', () => {
  // LEAVES covers every leaf of the config: a new key is fuzzed as soon as it exists.
  const count = (o: object): number =>
    Object.values(o).reduce<number>((s, v) => s + (v && typeof v === 'object' && !Array.isArray(v) ? count(v) : 1), 0);
  assert.equal(LEAVES.length, count(PAPER) - 1 /* preset */);
});
