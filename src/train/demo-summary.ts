/**
 * What the demo (`msd demo`, the tiny preset) shows, as one typed object and the text the CLI prints: what the
 * model is, the teacher's source test F1 at every head, Dutch zero-shot for the teacher and the student side by
 * side with the paper's mBERT figures (read from src/run/published.json, labelled as published; never typed in
 * here), what the difference between the two means, and the one command for the paper's setting.
 *
 *   const s = demoSummary(cfg, await runMsd(cfg), { wallSec, backend: info.summary });
 *   console.log(formatDemoSummary(s));
 */
import { existsSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import type { MsdConfig } from '../config.js';
import { defaultPublishedPath, loadPublished, publishedRow } from '../run/published.js';
import type { RunSummary } from './pipeline.js';
import { runDir } from '../run/dir.js';

export interface PublishedFigure {
  /** F1 in [0, 1], or null where the data file has no verified number yet. */
  f1: number | null;
  /** e.g. `Ma et al. 2022, Table 1, MSD (full), mBERT (source en), published` */
  label: string;
  verified: boolean;
}

export interface DemoSummary {
  /** One paragraph: what ran and why its zero-shot numbers are far below the paper's. */
  what: string;
  why: string;
  model: { layers: number; hiddenSize: number; vocabSize: number | null; pretrained: false | string };
  data: { corpus: string; source: string; target: string; trainSentences: number | 'all'; split: string };
  /** The teacher's F1 on the source test split at every head; `main` is the main head (the last). */
  teacherSource: { lang: string; perHead: { layer: number; f1: number }[]; mainLayer: number; main: number };
  /** Target test F1: teacher applied directly (zero-shot) vs the student distilled on unlabelled target text. */
  target: {
    lang: string;
    teacher: number;
    student: number;
    studentPerHead: { layer: number; f1: number }[];
    published: PublishedFigure;
  };
  /** One line on what the student - teacher difference shows. */
  difference: string;
  zeroShot: boolean;
  /** The command for the paper's setting (mBERT). */
  paperCommand: string;
  /** The commands that take the student out of the library: for transformers (hf) and as a browser page (web). */
  exportCommands: { hf: string; web: string };
  /**
   * Wall time and the process's CPU time (user + system, all threads): on a shared machine the wall time is
   * inflated by the other jobs, and the CPU time is close to what the run takes on the machine alone.
   */
  timing: { wallSec: number | null; cpuSec: number | null; backend: string; loadAverage1m: number; cores: number };
  measuredAt: string;
}

export interface DemoSummaryOptions {
  wallSec?: number;
  cpuSec?: number;
  backend?: string;
  /** Size of the (pruned) vocabulary, if known. */
  vocabSize?: number;
  /** Where to read the published figures (default: src/run/published.json of this package). */
  publishedPath?: string;
  now?: Date;
}

/** The paper's MSD (full) mBERT figure for `lang` on CoNLL, in [0, 1], or null with the reason in the label. */
export function publishedFigure(lang: string, path = defaultPublishedPath()): PublishedFigure {
  const shown = path === defaultPublishedPath() ? 'src/run/published.json' : path;
  if (!existsSync(path))
    return { f1: null, label: `published figure not available (${path} not found)`, verified: false };
  const doc = loadPublished(path);
  const row = publishedRow('conll', 'full', path);
  const value = row?.backbone === 'mBERT' ? row.f1[lang] : undefined;
  const where = `Ma et al. 2022${row?.table ? `, Table ${row.table}` : ''}, MSD with mBERT on a GPU (source en)`;
  if (value === undefined || value === null) {
    return {
      f1: null,
      label: `${where}: not filled in yet (${shown}${doc.status ? `, status ${doc.status}` : ''})`,
      verified: false,
    };
  }
  return {
    f1: value / 100,
    label: `${where}, published${row?.verified ? '' : ' (unverified in the data file)'}`,
    verified: row?.verified === true,
  };
}

function headRows(s: RunSummary, model: string, lang: string): { layer: number; f1: number }[] {
  return s.rows
    .filter((r) => r.model === model && r.language === lang)
    .sort((a, b) => a.layer - b.layer)
    .map((r) => ({ layer: r.layer, f1: r.f1 }));
}

/** Builds the summary of a finished demo run from its RunSummary (see the file comment). */
export function demoSummary(cfg: MsdConfig, s: RunSummary, opts: DemoSummaryOptions = {}): DemoSummary {
  const src = cfg.data.source;
  const tgt = cfg.data.targets[0];
  if (!tgt) throw new Error('demoSummary: the config has no target language');
  const studentName = `student:${tgt}`;
  const need = (model: string, lang: string): number => {
    const v = s.main[model]?.[lang];
    if (v === undefined)
      throw new Error(`demoSummary: the run summary has no main-head F1 for ${model} on ${lang}; did evaluation run?`);
    return v;
  };
  const teacherSrc = need('teacher', src);
  const teacherTgt = need('teacher', tgt);
  const studentTgt = need(studentName, tgt);
  const split = s.rows.find((r) => r.language === src)?.split ?? 'test';
  const tiny = cfg.model.tiny;
  const layers = tiny.enabled ? tiny.numLayers : 12;
  const hidden = tiny.enabled ? tiny.hiddenSize : 768;
  const train = cfg.data.limit.train > 0 ? cfg.data.limit.train : 'all';
  const diff = studentTgt - teacherTgt;
  const pts = (x: number) => `${x >= 0 ? '+' : ''}${(100 * x).toFixed(1)}`;
  const what = tiny.enabled
    ? `A ${layers}-layer, ${hidden}-wide BERT with random initial weights and no multilingual pretraining, trained from ` +
      `scratch here on ${train === 'all' ? 'all' : train} ${cfg.data.corpus} ${src} training sentences (the teacher), then a student ` +
      `distilled from it on unlabelled ${tgt} text only, and every head evaluated on both test sets.`
    : `MSD with ${cfg.model.pretrained}: teacher on ${src}, student distilled on unlabelled ${tgt} text.`;
  const why = tiny.enabled
    ? `nothing here links the two languages: mBERT's pretraining on ` +
      `104 languages puts Spanish and Dutch words in one space before any NER training, while this model has only ever ` +
      `seen ${src} labels and the ${tgt} text it is distilled on.`
    : 'The paper setting.';
  return {
    what,
    why,
    model: {
      layers,
      hiddenSize: hidden,
      vocabSize: opts.vocabSize ?? null,
      pretrained: tiny.enabled ? false : cfg.model.pretrained,
    },
    data: { corpus: cfg.data.corpus, source: src, target: tgt, trainSentences: train, split },
    teacherSource: {
      lang: src,
      perHead: headRows(s, 'teacher', src),
      mainLayer: s.mainLayer.teacher ?? layers,
      main: teacherSrc,
    },
    target: {
      lang: tgt,
      teacher: teacherTgt,
      student: studentTgt,
      studentPerHead: headRows(s, studentName, tgt),
      published: publishedFigure(tgt, opts.publishedPath),
    },
    difference:
      `student - teacher on ${tgt}: ${pts(diff)} F1 points, the effect of distilling on unlabelled ${tgt} text (no ${tgt} label ` +
      `read) over applying the ${src} teacher directly. ` +
      (diff > 0
        ? `The student learnt ${tgt} beyond its teacher's direct transfer, which is what MSD is for.`
        : `The student copies the teacher's ${tgt} predictions, and a teacher with no cross-lingual knowledge has little ` +
          `${tgt} to pass on; MSD's gain over direct transfer (the paper's, with mBERT) needs a shared multilingual encoder.`),
    zeroShot: s.zeroShot,
    exportCommands: exportCommands(runDir(cfg).student(tgt).best, tgt),
    paperCommand:
      'node lib/cli/msd.js run --preset paper --set data.corpus=conll2002 --set data.source=es --set data.targets=nl --out runs/es-nl   # mBERT weights; a GPU is advised',
    timing: {
      wallSec: opts.wallSec ?? null,
      cpuSec: opts.cpuSec ?? null,
      backend: opts.backend ?? '',
      loadAverage1m: Number(loadavg()[0]!.toFixed(2)),
      cores: availableParallelism(),
    },
    measuredAt: (opts.now ?? new Date()).toISOString(),
  };
}

/** `msd export` for a model directory, into exports/<lang>-hf and exports/<lang>-web. */
function exportCommands(best: string, lang: string): { hf: string; web: string } {
  const cmd = (format: string) =>
    `node lib/cli/msd.js export ${best} --format ${format} --out exports/${lang}-${format}`;
  return { hf: cmd('hf'), web: cmd('web') };
}

const pct = (x: number) => (100 * x).toFixed(1).padStart(5);

/** Wraps prose at `width` columns, continuation lines indented by `indent` spaces. */
function wrap(text: string, width = 110, indent = 2): string {
  const lead = /^ */.exec(text)![0];
  const lines: string[] = [];
  let line = lead;
  for (const word of text.slice(lead.length).split(' ')) {
    if (line.trim() && line.length + 1 + word.length > width) {
      lines.push(line);
      line = ' '.repeat(indent) + word;
    } else {
      line = line.trim() ? `${line} ${word}` : `${line}${word}`;
    }
  }
  if (line) lines.push(line);
  return lines.join('\n');
}

/** The summary as the text the demo prints. */
export function formatDemoSummary(d: DemoSummary): string {
  const p = d.target.published;
  const lines = [
    '',
    wrap(`What this is: ${d.what}`),
    '',
    `Teacher, ${d.teacherSource.lang} ${d.data.split} F1 (%) by head (layer: F1):  ${d.teacherSource.perHead.map((h) => `${h.layer}: ${pct(h.f1).trim()}`).join('   ')}`,
    `  main head (layer ${d.teacherSource.mainLayer}): ${pct(d.teacherSource.main).trim()}%`,
    '',
    `${d.target.lang} ${d.data.split} F1 (%), zero-shot (no ${d.target.lang} label read${d.zeroShot ? '' : ' in training; NOT zero-shot: selected on target dev'}):`,
    `  ${`teacher (${d.teacherSource.lang} only)`.padEnd(32)}${pct(d.target.teacher)}`,
    `  ${`student (distilled on ${d.target.lang} text)`.padEnd(32)}${pct(d.target.student)}`,
    wrap(`  ${'paper, published'.padEnd(32)}${p.f1 === null ? '  n/a' : pct(p.f1)}   ${p.label}`, 110, 4),
    wrap(`  ${d.difference}`, 110, 4),
    '',
    wrap(`Why so far below the paper: ${d.why}`),
    `The paper's setting (mBERT): ${d.paperCommand}`,
    `Use the student elsewhere: ${d.exportCommands.hf}   # transformers' BertForTokenClassification`,
    `${' '.repeat('Use the student elsewhere: '.length)}${d.exportCommands.web}   # a tagger page for any static host`,
  ];
  if (d.timing.wallSec !== null) {
    const cpu = d.timing.cpuSec === null ? '' : `, CPU time ${d.timing.cpuSec.toFixed(0)} s`;
    lines.push(
      `Took ${d.timing.wallSec.toFixed(0)} s wall${cpu} on ${d.timing.cores} cores (1-min load average ${d.timing.loadAverage1m}), ${d.measuredAt.slice(0, 16).replace('T', ' ')} UTC.`,
    );
  }
  return lines.join('\n');
}
