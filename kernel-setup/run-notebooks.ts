/**
 * `npm run test:notebooks [-- [--out DIR] [--timeout SECONDS] [--full] [notebook.ipynb ...]]`
 *
 * Executes every notebook under notebooks/ (or the ones named) headless with
 *   jupyter nbconvert --to notebook --execute   (tslab kernel, project-local JUPYTER_PATH)
 * one after the other, in name order, into a temp dir (or --out DIR, kept), and fails if any cell fails or an
 * executed notebook lacks what notebooks.ts's EXPECTATIONS ask for (the charts it promises, as Vega-Lite v5 specs
 * that vega-lite compiles, with static copies). The last line is `notebooks: N passed, M failed`.
 *
 * Quick by default: the kernel gets MSD_NOTEBOOK_QUICK=1, so the config cell of the training notebooks shrinks the
 * data and epochs, and trains into runs/notebooks-quick/, which is emptied first so that every test run trains
 * from scratch (notebooks 02-05 reuse what 01-04 left there, as a user's notebooks share one run). Then the
 * notebooks in OPEN_RUN_NOTEBOOKS run a second time with `runDir` set to that run (the open-a-finished-run path).
 * `--full` runs the notebooks as a user gets them (MSD_NOTEBOOK_QUICK=0; runs/notebooks-<preset>/ is left as it is).
 *
 * The kernel is registered first (kernel-setup/install.sh --no-system-deps) when it is missing or points at
 * another checkout's tslab. Notebooks import the built library (lib/), so lib/index.js must exist (npm run build).
 *
 * Environment:
 *   MSD_NOTEBOOK_TIMEOUT_S  the most seconds one notebook (and so any one cell) may run (default 600; `--timeout`
 *                           wins)
 *   MSD_JUPYTER_PYTHON      the Python with nbconvert (default: see find-python.sh)
 *   MSD_BACKEND             passed through to the kernel, so notebooks run on that backend
 */
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, mkdirSync, existsSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname, basename, resolve, delimiter } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  listNotebooks,
  parseNotebook,
  checkExecuted,
  parseCellErrors,
  formatCellError,
  kernelSpecProblem,
  outputsWithMime,
  rel,
  QUICK_RUN_DIR,
  OPEN_RUN_NOTEBOOKS,
  withRunDir,
  VEGA_LITE_MIME,
  interruptProblems,
  type InterruptReport,
  type Notebook,
} from './notebooks.js';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '..');
const jupyterData = join(here, '.jupyter', 'share', 'jupyter');
const tslabBin = join(root, 'node_modules', '.bin', 'tslab');

interface Options {
  out?: string;
  timeoutS: number;
  full: boolean;
  files: string[];
  /** Run the Kernel > Interrupt check (after all notebooks by default; `--interrupt` alone: only it). */
  interrupt: boolean;
}

function parseArgs(argv: string[]): Options {
  const envTimeout = process.env.MSD_NOTEBOOK_TIMEOUT_S;
  let timeoutS = envTimeout ? Number(envTimeout) : 600;
  if (!(timeoutS > 0))
    throw new Error(`MSD_NOTEBOOK_TIMEOUT_S: expected a positive number of seconds, got '${envTimeout}'`);
  let out: string | undefined;
  let full = false;
  let interrupt: boolean | undefined;
  const files: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--full') full = true;
    else if (a === '--interrupt') interrupt = true;
    else if (a === '--out') out = argv[++i];
    else if (a.startsWith('--out=')) out = a.slice(6);
    else if (a === '--timeout' || a.startsWith('--timeout=')) {
      const v = a.includes('=') ? a.slice(10) : argv[++i];
      timeoutS = Number(v);
      if (!(timeoutS > 0)) throw new Error(`--timeout: expected a positive number of seconds, got '${v}'`);
    } else if (a.startsWith('-'))
      throw new Error(`unknown option '${a}' (expected --out DIR, --timeout S, --full, --interrupt, notebook paths)`);
    else files.push(resolve(a));
  }
  if (out === '') throw new Error('--out needs a directory');
  return { out: out ? resolve(out) : undefined, timeoutS, files, full, interrupt: interrupt ?? files.length === 0 };
}

function findPython(): string {
  try {
    return execFileSync('bash', [join(here, 'find-python.sh')], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    }).trim();
  } catch (err) {
    const stderr = String((err as { stderr?: unknown }).stderr ?? '');
    throw new Error(`Jupyter is not installed.\n${stderr.trim()}`);
  }
}

function ensureKernel(python: string): void {
  const problem = kernelSpecProblem(join(jupyterData, 'kernels', 'tslab', 'kernel.json'), tslabBin);
  if (!problem) return;
  console.log(`registering the tslab kernel (${problem})`);
  execFileSync('bash', [join(here, 'install.sh'), '--no-system-deps', '--python', python], { stdio: 'inherit' });
  const still = kernelSpecProblem(join(jupyterData, 'kernels', 'tslab', 'kernel.json'), tslabBin);
  if (still) throw new Error(`kernel-setup/install.sh did not register the kernel: ${still}`);
}

interface RunResult {
  code: number | null;
  stderr: string;
  timedOut: boolean;
}

/** Pids of the live descendants of `pid` (Linux /proc; empty elsewhere). */
function descendants(pid: number): number[] {
  let entries: string[];
  try {
    entries = readdirSync('/proc').filter((e) => /^\d+$/.test(e));
  } catch {
    return [];
  }
  const children = new Map<number, number[]>();
  for (const e of entries) {
    try {
      // /proc/<pid>/stat: "pid (comm) state ppid ..."; comm may contain spaces, so split after the last ')'.
      const stat = readFileSync(`/proc/${e}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(e)]);
    } catch {
      /* exited meanwhile */
    }
  }
  const out: number[] = [];
  const walk = (p: number): void => {
    for (const c of children.get(p) ?? []) {
      out.push(c);
      walk(c);
    }
  };
  walk(pid);
  return out;
}

function kill(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    /* already gone */
  }
}

/**
 * Runs nbconvert. nbclient stops a cell that runs past the per-cell timeout itself and shuts its kernel down; the
 * timer here is the backstop for the whole notebook. jupyter_client starts the kernel in a session of its own, so
 * killing nbconvert's process group would leave the kernel running (and holding our stdout pipe open): the
 * kernel's pid is collected first, nbconvert is interrupted (it then shuts the kernel down), and whatever is still
 * alive 5 s later is killed.
 */
function nbconvert(python: string, file: string, outDir: string, timeoutS: number, quick: boolean): Promise<RunResult> {
  const args = [
    '-Xfrozen_modules=off', // silences debugpy's warning on Python 3.11
    '-m',
    'nbconvert',
    '--config',
    join(here, 'nbconvert_config.py'),
    '--to',
    'notebook',
    '--execute',
    '--ExecutePreprocessor.kernel_name=tslab',
    `--ExecutePreprocessor.timeout=${Math.ceil(timeoutS)}`,
    '--output-dir',
    outDir,
    '--output',
    executedName(file),
    file,
  ];
  const env = {
    ...process.env,
    JUPYTER_PATH: [jupyterData, process.env.JUPYTER_PATH].filter((x) => x).join(delimiter),
    PYDEVD_DISABLE_FILE_VALIDATION: '1',
    MSD_NOTEBOOK_QUICK: quick ? '1' : '0',
  };
  return new Promise((done, fail) => {
    const child = spawn(python, args, { cwd: root, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stderr += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    let timedOut = false;
    let finished = false;
    const finish = (code: number | null): void => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      done({ code, stderr, timedOut });
    };
    const timer = setTimeout(
      () => {
        timedOut = true;
        const pid = child.pid!;
        const family = descendants(pid);
        kill(pid, 'SIGINT');
        setTimeout(() => {
          for (const p of [pid, ...family, ...descendants(pid)]) kill(p, 'SIGKILL');
        }, 5000).unref();
      },
      timeoutS * 1000 + 10_000,
    ); // 10 s of slack lets nbclient's per-cell timeout (which names the cell) win
    child.on('error', (err) => {
      clearTimeout(timer);
      fail(err);
    });
    // 'close' waits for the pipes; an orphaned kernel could keep them open, so 'exit' also ends the wait.
    child.on('close', (code) => finish(code));
    child.on('exit', (code) => setTimeout(() => finish(code), 2000).unref());
  });
}

/** Vega-Lite must compile each spec: a JSON object that vega-lite rejects would render as an error in JupyterLab. */
async function vegaLiteProblems(nb: Notebook): Promise<string[]> {
  const outs = outputsWithMime(nb, VEGA_LITE_MIME).filter((o) => typeof o.data === 'object' && o.data !== null);
  if (outs.length === 0) return [];
  const { compile } = await import('vega-lite');
  const problems: string[] = [];
  for (const o of outs) {
    try {
      compile(o.data as Parameters<typeof compile>[0]);
    } catch (err) {
      problems.push(`cell ${o.cellIndex}: vega-lite cannot compile the spec: ${(err as Error).message}`);
    }
  }
  return problems;
}

/** The executed copy's file name: `.open-02_students.ipynb` (the open-a-run copy) becomes `02_students.open.ipynb`. */
function executedName(file: string): string {
  return basename(file).replace(/^\.open-(.*)\.ipynb$/, '$1.open.ipynb');
}

/** Executes one notebook and checks it; `checkAs` is the file whose EXPECTATIONS apply and whose name is reported. */
async function runOne(
  python: string,
  file: string,
  outDir: string,
  timeoutS: number,
  quick: boolean,
  checkAs = file,
): Promise<string[]> {
  const name = rel(root, checkAs) + (checkAs === file ? '' : ` (as ${basename(file)})`);
  const res = await nbconvert(python, file, outDir, timeoutS, quick);
  const raise = '(MSD_NOTEBOOK_TIMEOUT_S or --timeout raises it)';
  if (res.timedOut) return [`${name}: still running after ${timeoutS} s, stopped ${raise}`];
  if (/CellTimeoutError|Cell execution timed out/.test(res.stderr)) {
    const cell = /(?:following cell|preview of the cell contents):\n-+\n([\s\S]*?)\n-+\n/.exec(res.stderr)?.[1];
    return [
      `${name}: a cell ran longer than ${timeoutS} s ${raise}${cell ? `:\n  | ${cell.split('\n').join('\n  | ')}` : ''}`,
    ];
  }
  if (res.code !== 0) {
    const reports = parseCellErrors(res.stderr);
    if (reports.length) return reports.map((r) => formatCellError(name, r));
    const tail = res.stderr.trim().split('\n').slice(-25).join('\n');
    return [`${name}: nbconvert exited with ${res.code}:\n${tail}`];
  }
  const executed = join(outDir, executedName(file));
  if (!existsSync(executed)) return [`${name}: nbconvert wrote no ${executed}`];
  const nb = parseNotebook(readFileSync(executed, 'utf8'), executed);
  return [...checkExecuted(nb, checkAs), ...(await vegaLiteProblems(nb))].map((p) => `${name}: ${p}`);
}

/**
 * Kernel > Interrupt during training, through jupyter_client's interrupt request on a live tslab kernel
 * (interrupt_check.py), into a fresh run directory under runs/; the checks are interruptProblems().
 */
async function interruptCheck(python: string, timeoutS: number): Promise<string[]> {
  const runDir = join(root, 'runs', 'interrupt-check');
  rmSync(runDir, { recursive: true, force: true });
  const env = {
    ...process.env,
    JUPYTER_PATH: [jupyterData, process.env.JUPYTER_PATH].filter((x) => x).join(delimiter),
  };
  const out = await new Promise<{ code: number | null; stdout: string; stderr: string }>((done) => {
    const child = spawn(python, [join(here, 'interrupt_check.py'), root, runDir], { cwd: root, env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutS * 1000);
    child.on('close', (code) => {
      clearTimeout(timer);
      done({ code, stdout, stderr });
    });
  });
  const line = out.stdout.trim().split('\n').pop() ?? '';
  let report: InterruptReport;
  try {
    report = JSON.parse(line) as InterruptReport;
  } catch {
    return [
      `interrupt_check.py exited with ${out.code} and no report:\n${out.stderr.trim().split('\n').slice(-15).join('\n')}`,
    ];
  }
  const problems = interruptProblems(report);
  if (problems.length === 0) rmSync(runDir, { recursive: true, force: true });
  return problems;
}

async function main(): Promise<number> {
  const opts = parseArgs(process.argv.slice(2));
  const onlyInterrupt = opts.interrupt && opts.files.length === 0 && process.argv.includes('--interrupt');
  const files = onlyInterrupt ? [] : opts.files.length ? opts.files : listNotebooks(join(root, 'notebooks'));
  if (files.length === 0 && !onlyInterrupt) throw new Error(`no notebooks under ${join(root, 'notebooks')}`);
  for (const f of files) if (!existsSync(f)) throw new Error(`${f}: no such notebook`);
  if (!existsSync(join(root, 'lib', 'index.js'))) {
    throw new Error('lib/index.js is missing: notebooks import the built library; run `npm run build` first');
  }
  // Notebooks import the package by name ('msd-ner'); tslab's type check finds it through node_modules/msd-ner.
  execFileSync(process.execPath, [join(root, 'kernel-setup', 'self-link.mjs')], { stdio: 'inherit' });
  const python = findPython();
  ensureKernel(python);

  const outDir = opts.out ?? mkdtempSync(join(tmpdir(), 'msd-notebooks-'));
  if (!opts.full && !onlyInterrupt) {
    // The quick run directory the notebooks' config cell picks (MSD_NOTEBOOK_QUICK=1): start from nothing.
    rmSync(join(root, QUICK_RUN_DIR), { recursive: true, force: true });
    console.log(
      `quick mode (MSD_NOTEBOOK_QUICK=1): small data, one epoch, training into ${QUICK_RUN_DIR}/ (emptied first); --full for the real thing`,
    );
  }
  mkdirSync(outDir, { recursive: true });
  let passed = 0;
  let failed = 0;
  const ok = new Set<string>();
  const report = (name: string, t0: number, problems: string[]): void => {
    const secs = ((Date.now() - t0) / 1000).toFixed(1);
    if (problems.length === 0) {
      passed++;
      console.log(`ok   ${name} (${secs} s)`);
    } else {
      failed++;
      console.log(`FAIL ${name} (${secs} s)`);
      for (const p of problems) console.log(p);
    }
  };
  for (const file of files) {
    const name = rel(root, file);
    const t0 = Date.now();
    console.log(`running ${name} ...`);
    const problems = await runOne(python, file, outDir, opts.timeoutS, !opts.full);
    if (problems.length === 0) ok.add(basename(file));
    report(name, t0, problems);
  }
  // The open-a-finished-run path: in quick mode, some notebooks run again with runDir set to the run the first pass
  // trained. The copy lives in notebooks/ (hidden name) so that it starts in the same directory; it is removed after.
  if (!opts.full && existsSync(join(root, QUICK_RUN_DIR, 'results', 'summary.json'))) {
    for (const file of files.filter((f) => OPEN_RUN_NOTEBOOKS.includes(basename(f)) && ok.has(basename(f)))) {
      const copy = join(dirname(file), `.open-${basename(file)}`);
      const name = `${rel(root, file)} opening ${QUICK_RUN_DIR}`;
      const t0 = Date.now();
      console.log(`running ${name} ...`);
      try {
        const nb = withRunDir(parseNotebook(readFileSync(file, 'utf8'), file), QUICK_RUN_DIR);
        writeFileSync(copy, `${JSON.stringify(nb, null, 1)}\n`);
        report(name, t0, await runOne(python, copy, outDir, opts.timeoutS, true, file));
      } finally {
        rmSync(copy, { force: true });
      }
    }
  }
  if (opts.interrupt) {
    const t0 = Date.now();
    console.log('running Kernel > Interrupt during training (interrupt_check.py) ...');
    report(
      'interrupt: a training cell stopped by Jupyter, then resumed',
      t0,
      await interruptCheck(python, opts.timeoutS),
    );
  }
  if (opts.out) console.log(`executed notebooks: ${rel(root, outDir)}`);
  else if (failed === 0 || readdirSync(outDir).length === 0) rmSync(outDir, { recursive: true, force: true });
  else console.log(`executed notebooks kept in ${outDir}`);
  console.log(`notebooks: ${passed} passed, ${failed} failed`);
  return failed === 0 ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (err: Error) => {
    // A setup problem (no Jupyter, no lib/, bad option): no notebook ran, so no summary line.
    console.error(`run-notebooks: ${err.message}`);
    process.exit(1);
  },
);
