/**
 * `npm run bench -- eval`: entity scoring speed on CoNLL-2002 Dutch test (5195 sentences, 3941 entities) against
 * a seeded perturbed copy of its gold tags. Target (issue 6): under 50 ms per scoring run.
 *
 * Reference, measured in the same run: test/eval/conlleval-ref.pl (a from-memory recreation of conlleval.pl's
 * logic, see its header) under perl, reading the same tags from a temp file; its time includes perl's start-up
 * and parsing the text, which is what using conlleval.pl costs. Its report must equal ours character for
 * character, which the bench checks and notes.
 */
import { mulberry32 } from '../src/rng.js';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Bench, BenchRow } from './run.js';
import { loadDataset } from '../src/data/index.js';
import { scoreEntities } from '../src/eval/metric.js';
import { conllevalReport } from '../src/eval/report.js';
/** mulberry32 from the library: the same seed gives the same cases. */
const rng = mulberry32;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

function time(runs: number, f: () => void): number[] {
  const out: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    f();
    out.push(performance.now() - t0);
  }
  return out;
}

const bench: Bench = async (ctx) => {
  const { sentences } = loadDataset('conll2002', 'nl', 'test', { root: join(ctx.root, '..', 'shared', 'data') });
  // perturb 10% of the tokens: a random tag (O half the time), so boundaries, types and IOB1-style I- starts vary
  const r = rng(2002);
  const tags = ['O', 'B-PER', 'I-PER', 'B-LOC', 'I-LOC', 'B-ORG', 'I-ORG', 'B-MISC', 'I-MISC'];
  const pred = sentences.map((s) =>
    s.tags.map((t) => (r() < 0.1 ? (r() < 0.5 ? 'O' : tags[1 + Math.floor(r() * 8)]!) : t)),
  );
  const tokens = sentences.reduce((a, s) => a + s.tokens.length, 0);
  ctx.log(`conll2002 nl test: ${sentences.length} sentences, ${tokens} tokens`);

  // warm-up (JIT and the tag-parse cache), then timed runs
  for (let i = 0; i < 5; i++) scoreEntities(sentences, pred);
  let scores = scoreEntities(sentences, pred);
  const scoreTimes = time(30, () => {
    scores = scoreEntities(sentences, pred);
  });
  const strictTimes = time(30, () => scoreEntities(sentences, pred, { mode: 'strict' }));
  const reportTimes = time(30, () => conllevalReport(scoreEntities(sentences, pred)));
  const ours = conllevalReport(scores);
  ctx.log(
    `F1 ${(100 * scores.f1).toFixed(2)} (gold ${scores.support}, predicted ${scores.predicted}, correct ${scores.correct})`,
  );

  const rows: BenchRow[] = [];
  let reference: { name: string; value: number } | undefined;
  let note = 'perl not available: no reference';
  const perl = spawnSync('perl', ['-e', '1']);
  if (perl.status === 0) {
    const dir = mkdtempSync(join(tmpdir(), 'eval-bench-'));
    try {
      const file = join(dir, 'nl-test.txt');
      const lines: string[] = [];
      sentences.forEach((s, i) => {
        s.tokens.forEach((w, t) => lines.push(`${w.replace(/ /g, '_')} ${s.tags[t]} ${pred[i]![t]}`));
        lines.push('');
      });
      writeFileSync(file, lines.join('\n') + '\n');
      const script = join(ctx.root, 'test', 'eval', 'conlleval-ref.pl');
      let out = '';
      const perlTimes = time(3, () => {
        const res = spawnSync('sh', ['-c', `perl "${script}" < "${file}"`], { encoding: 'utf8', maxBuffer: 1 << 26 });
        if (res.status !== 0) throw new Error(`conlleval reference failed: ${res.stderr}`);
        out = res.stdout;
      });
      reference = { name: 'conlleval.pl (recreated) under perl', value: median(perlTimes) };
      note = out === ours ? 'report identical to the perl reference' : 'REPORT DIFFERS from the perl reference';
      ctx.log(note);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  rows.push({
    what: 'score nl test vs perturbed gold (conlleval mode), median of 30',
    value: median(scoreTimes),
    unit: 'ms',
    better: 'lower',
    reference,
    target: { on: 'value', op: '<=', value: 50 },
    note,
  });
  rows.push({
    what: 'score nl test, strict IOB2 mode, median of 30',
    value: median(strictTimes),
    unit: 'ms',
    better: 'lower',
    target: { on: 'value', op: '<=', value: 50 },
  });
  rows.push({
    what: 'score + conlleval text report, median of 30',
    value: median(reportTimes),
    unit: 'ms',
    better: 'lower',
  });
  return rows;
};

export default bench;
