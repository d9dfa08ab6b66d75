/**
 * The one measure of the tiny preset's speed against PyTorch, used by both `npm run bench -- speed` and
 * `npm run bench -- demo` (before, the two disagreed: 0.45x and 1.55x, because they timed different things).
 *
 * What it measures, for the teacher step and the student step of the `tiny` preset:
 * - ours: `bench/speed-msd.ts <task> tiny` trains through the library's own `trainTeacher` / `distillStudent` on
 *   real CoNLL-2002 sentences (es for the teacher; nl targets + es source batches for the student, with the teacher's
 *   outputs cached as the demo does), at the preset's batch sizes (teacher 16, student 64 + 64) with its pruned
 *   vocabulary; the time of a step is the loop's whole step (tensors from the batch, forward, loss, backward,
 *   clipping norm, AdamW, the log line), read from `metrics.jsonl`;
 * - PyTorch: `bench/reference/torch_msd.py msd --size tiny --padding dynamic --teacher cached` on exactly the same
 *   batches (same token ids, same order, same padding), the same model, loss, clipping and AdamW; the time of a step
 *   is forward, loss, backward, clipping and `opt.step()` on tensors padded beforehand;
 * - both: the first `TINY_WARMUP` steps are left out (allocation, kernel set-up, V8 compiling the host-side loops), then
 *   real (non-padding) tokens over time, summed over `STEPS` steps. Our BLAS uses all cores (OpenBLAS's default) and
 *   PyTorch `torch.set_num_threads(os.cpu_count())`: 2 threads each on the 2-core machine.
 *
 * - rounds: `TINY_ROUNDS` (default 3; `MSD_BENCH_TINY_ROUNDS`, else `MSD_BENCH_ROUNDS`) alternating rounds, ours then
 *   PyTorch's, each side's best counting (see `tinySpeed`); the rows' notes list every round.
 *
 * Not measured here: data loading, tokenisation, evaluation and checkpoints (the demo bench times the whole demo).
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { resolveConfig } from '../src/config.js';
import type { BenchRow } from './run.js';

/** Timed steps per side (after the warm-up). */
export const TINY_STEPS = Number(process.env.MSD_BENCH_TINY_STEPS ?? 60);
/**
 * Steps left out at the start of each side (the same batches on both; the batches file carries the number). 40, not
 * 10: V8 is still compiling the step's JavaScript over its first tens of steps (about 12 ms each), on the second
 * core too; five alternating runs of `bench/speed-msd.ts teacher tiny <dir> 60 "" <warmup>` measured 36,298-47,467
 * real tokens/s after 10 left out against 47,089-52,489 after 40 (6 December, 01:48 UTC). A training run has
 * thousands of steps (the demo's teacher about 4,000), so the steady state is what compares.
 */
export const TINY_WARMUP = 40;

const PY = '/usr/bin/python3';

export interface TinySpeed {
  task: 'teacher' | 'student';
  /** Real tokens/s, ours. */
  ours: number;
  /** Real tokens/s, PyTorch on the same batches (undefined without torch). */
  torch?: number;
  torchThreads?: number;
  steps: number;
  /** Every round's real tokens/s, ours and PyTorch's (`ours` and `torch` above are the best of them). */
  rounds: { ours: number; torch?: number }[];
}

/** The tiny preset's architecture for the PyTorch script (read from the preset, so both sides stay the same). */
function tinyArgs(vocabSize: number): string[] {
  const m = resolveConfig('tiny').model;
  const t = m.tiny;
  return [
    ...['--hidden', String(t.hiddenSize), '--layers', String(t.numLayers), '--heads-n', String(t.numHeads)],
    ...['--inter', String(t.intermediateSize), '--head-first', String(m.headLayers[0]), '--dropout', String(t.dropout)],
    ...['--vocab', String(vocabSize)],
  ];
}

/** Alternating rounds per side (ours, then PyTorch's, in each); each side's best round counts. */
export const TINY_ROUNDS = Math.max(1, Number(process.env.MSD_BENCH_TINY_ROUNDS ?? process.env.MSD_BENCH_ROUNDS ?? 3));

/**
 * Measures the tiny teacher and student steps in `TINY_ROUNDS` alternating rounds, ours then PyTorch's in each,
 * every measurement in its own child process, and keeps each side's best round: back-to-back runs of the same code
 * on the idle 2-core machine measured the tiny teacher at 20,900-30,000 real tokens/s, so one run per side decided
 * the ratio by chance. `work` is a scratch directory; `withTorch` false skips the PyTorch side (torch missing).
 */
export function tinySpeed(root: string, work: string, withTorch: boolean, log: (l: string) => void): TinySpeed[] {
  const out: TinySpeed[] = [];
  for (const task of ['teacher', 'student'] as const) {
    const batches = join(work, `batches-tiny-${task}.json`);
    const rounds: { ours: number; torch?: number }[] = [];
    let measured: { vocabSize: number; steps: number } | undefined;
    let torchThreads: number | undefined;
    for (let round = 1; round <= TINY_ROUNDS; round++) {
      log(
        `tiny ${task}, round ${round} of ${TINY_ROUNDS}: ${TINY_WARMUP} + ${TINY_STEPS} steps through the library...`,
      );
      const ours = JSON.parse(
        execFileSync(
          process.execPath,
          [
            '--import',
            'tsx',
            join(root, 'bench', 'speed-msd.ts'),
            task,
            'tiny',
            work,
            String(TINY_STEPS),
            batches,
            String(TINY_WARMUP),
          ],
          { cwd: root, encoding: 'utf8', maxBuffer: 1 << 26, stdio: ['ignore', 'pipe', 'inherit'] },
        )
          .trim()
          .split('\n')
          .pop()!,
      ) as { tokensPerSec: number; vocabSize: number; steps: number };
      measured = ours;
      let torch: { tokensPerSec: number; threads: number } | undefined;
      if (withTorch) {
        const args = ['msd', '--task', task, '--batches', batches, '--padding', 'dynamic', '--teacher', 'cached'];
        const env = {
          ...process.env,
          OMP_WAIT_POLICY: 'PASSIVE',
          MALLOC_MMAP_MAX_: '0',
          MALLOC_TRIM_THRESHOLD_: '68719476736',
        };
        torch = JSON.parse(
          execFileSync(
            PY,
            [join(root, 'bench', 'reference', 'torch_msd.py'), ...args, '--size', 'tiny', ...tinyArgs(ours.vocabSize)],
            { env, encoding: 'utf8', maxBuffer: 1 << 26 },
          )
            .trim()
            .split('\n')
            .pop()!,
        ) as typeof torch;
        torchThreads = torch!.threads;
      }
      rounds.push({ ours: ours.tokensPerSec, torch: torch?.tokensPerSec });
      const shown = (v: number | undefined) => (v === undefined ? '-' : Math.round(v).toLocaleString('en-US'));
      log(
        `tiny ${task}, round ${round}: ours ${shown(ours.tokensPerSec)}, PyTorch ${shown(torch?.tokensPerSec)} real tokens/s`,
      );
    }
    const best = (vs: (number | undefined)[]) => {
      const known = vs.filter((v): v is number => v !== undefined);
      return known.length ? Math.max(...known) : undefined;
    };
    out.push({
      task,
      ours: best(rounds.map((r) => r.ours))!,
      torch: best(rounds.map((r) => r.torch)),
      torchThreads,
      steps: measured!.steps,
      rounds,
    });
  }
  return out;
}

/** The bench rows of a measure: real tokens/s of each step against PyTorch's, target 1.5x. */
export function tinySpeedRows(speeds: TinySpeed[], note?: string): BenchRow[] {
  return speeds.map((s) => ({
    what: `tiny preset ${s.task} step: real tokens/s vs the same model in PyTorch (bench/tiny-speed.ts)`,
    value: s.ours,
    unit: 'tokens/s',
    better: 'higher',
    ...(s.torch === undefined ? {} : { reference: { name: `PyTorch ${s.torchThreads} threads`, value: s.torch } }),
    target: { on: 'ratio', op: '>=', value: 1.5 },
    note: `${s.steps} steps after ${TINY_WARMUP} left out; best of ${s.rounds.length} alternating rounds each side (ours ${s.rounds.map((r) => Math.round(r.ours)).join(' / ')}${s.torch === undefined ? '' : `, PyTorch ${s.rounds.map((r) => Math.round(r.torch!)).join(' / ')}`})${note ? `; ${note}` : ''}`,
  }));
}
