/**
 * A sweep: a grid of runs as a first-class object. A sweep file (JSON) holds a base config and axes; the plan is
 * their product, one cell per combination, each a full `msd run` with its own resolved config and a stable id.
 *
 *   {
 *     "name": "ablation",                      optional; default: the file name
 *     "preset": "paper",                       optional; default 'paper'
 *     "set": { "data.corpus": "conll2002" },   base overrides, dotted keys (or a list of 'key=value' strings)
 *     "axes": {
 *       "data.targets": [["de"], ["es"], ["nl"]],      a config key: a list of values of that key's type
 *       "variant": ["full", "noAux", "noMmdL"],         named bundles of student.ablation flags (variants.ts)
 *       "run.seed": [1, 2, 3, 4, 5],
 *       "lr": { "low": { "student.lr": 1e-5 }, "high": { "student.lr": 5e-5 } }   a named axis: label -> overrides
 *     },
 *     "shareTeacher": true                     optional; cells whose teachers would be identical share one
 *   }
 *
 * Cells are the product in axis order (the last axis varies fastest). Values are applied after `set`, axis by axis,
 * and checked exactly as `--set` is (unknown keys and wrong types are errors naming the axis and value). Cells whose
 * resolved configs are equal are kept once (the plan lists the duplicates). A cell's id is built from its axis
 * labels (`targets-nl_variant-noAux_seed-3`), so adding a value to an axis leaves every other id unchanged.
 *
 * The teacher depends only on teacherConfigView (model, source data, teacher settings, seed): cells with equal views
 * share one teacher, trained once in `teachers/<id>/` and reused through `run.teacherDir`.
 *
 * The sweep directory:
 *   sweep.json                      the sweep file as given
 *   plan.json                       cells (id, index, labels, teacher), teachers, duplicates
 *   configs/<cell>.json             each cell's resolved config (`msd run --config ... --resume`)
 *   configs/teacher-<id>.json       each shared teacher's config (`msd teacher --config ... --resume`)
 *   cells/<cell>/                   the cell's run directory
 *   teachers/<id>/                  a shared teacher's run directory
 *   logs/<id>.log                   the output of every attempt at a cell or teacher
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import {
  configKeyPaths,
  configToJson,
  isConfigKey,
  nestKeys,
  parseSets,
  PRESETS,
  resolveConfig,
  teacherConfigView,
  type DeepPartial,
  type MsdConfig,
} from '../config.js';
import { closestMatch, UserError } from '../errors.js';
import { readJsonFile, rejectForbiddenKeys } from '../json.js';
import { writeFileAtomic, writeJsonAtomic } from '../run/io.js';
import { variantAblation, VARIANT_NAMES } from '../run/variants.js';

export interface SweepSpec {
  name?: string;
  preset?: string;
  set?: Record<string, unknown> | string[];
  axes?: Record<string, unknown>;
  shareTeacher?: boolean;
}

export type AxisKind = 'key' | 'variant' | 'named';

export interface Axis {
  /** As written in the sweep file: a config key, `variant`, or a name of a named axis. */
  name: string;
  kind: AxisKind;
  /** Short name used in ids and table columns (the key's last part unless that is ambiguous). */
  short: string;
  labels: string[];
  /** Overrides of each value, as one nested object. */
  overrides: DeepPartial<MsdConfig>[];
  /** The raw values (config values, variant names, or the named axis's override objects). */
  values: unknown[];
}

export interface Cell {
  id: string;
  /** Position in the plan (the Slurm array index). */
  index: number;
  /** Axis short name -> label of this cell's value. */
  labels: Record<string, string>;
  /** Id of the shared teacher ('' when the cell trains its own). */
  teacher: string;
  dir: string;
  configPath: string;
  config: MsdConfig;
}

export interface TeacherJob {
  id: string;
  dir: string;
  configPath: string;
  config: MsdConfig;
  /** Ids of the cells that use it. */
  cells: string[];
}

export interface SweepPlan {
  name: string;
  /** Absolute sweep directory. */
  root: string;
  spec: SweepSpec;
  axes: Axis[];
  cells: Cell[];
  teachers: TeacherJob[];
  /** Cells left out because another cell has the same resolved config. */
  duplicates: { labels: Record<string, string>; sameAs: string }[];
}

const SPEC_KEYS = ['name', 'preset', 'set', 'axes', 'shareTeacher'];

/**
 * Reads and checks a sweep file; errors name the file and what was expected (invalid JSON: line and column;
 * `__proto__`, `constructor` and `prototype` are refused as keys anywhere in it).
 */
export function readSweepSpec(path: string): SweepSpec {
  const spec = readJsonFile(path, 'sweep file');
  checkSpec(spec, path);
  return spec;
}

function checkSpec(spec: unknown, where: string): asserts spec is SweepSpec {
  if (typeof spec !== 'object' || spec === null || Array.isArray(spec))
    throw new Error(`${where}: expected a JSON object with ${SPEC_KEYS.join(', ')}`);
  rejectForbiddenKeys(spec, where);
  const s = spec as Record<string, unknown>;
  for (const k of Object.keys(s))
    if (!SPEC_KEYS.includes(k)) throw new Error(`${where}: unknown key '${k}'; expected ${SPEC_KEYS.join(', ')}`);
  if (s.name !== undefined && (typeof s.name !== 'string' || !/^[A-Za-z0-9._-]+$/.test(s.name)))
    throw new Error(`${where}: name: expected letters, digits, '.', '_' or '-', got ${JSON.stringify(s.name)}`);
  if (s.preset !== undefined && (typeof s.preset !== 'string' || !PRESETS[s.preset]))
    throw new Error(
      `${where}: preset: expected one of ${Object.keys(PRESETS).join(', ')}, got ${JSON.stringify(s.preset)}`,
    );
  if (s.set !== undefined) {
    const ok = Array.isArray(s.set)
      ? s.set.every((x) => typeof x === 'string')
      : typeof s.set === 'object' && s.set !== null;
    if (!ok)
      throw new Error(
        `${where}: set: expected an object of dotted keys ({"student.lr": 1e-5}) or a list of 'key=value' strings`,
      );
  }
  if (s.axes !== undefined && (typeof s.axes !== 'object' || s.axes === null || Array.isArray(s.axes)))
    throw new Error(`${where}: axes: expected an object (axis -> values)`);
  if (s.shareTeacher !== undefined && typeof s.shareTeacher !== 'boolean')
    throw new Error(`${where}: shareTeacher: expected true or false`);
}

/** ` (did you mean 'run.seed'?)` for an axis name that looks like a misspelt config key. */
function guess(name: string): string {
  const m = name.includes('.') ? closestMatch(name, configKeyPaths()) : undefined;
  return m ? ` (did you mean '${m}'?)` : '';
}

/** An error of resolveConfig under a prefix that names the sweep file and the part of it (its own `config` dropped). */
function within(prefix: string, err: unknown): Error {
  const msg = (err as Error).message.replace(/^config:? /, '');
  return err instanceof UserError ? new UserError(`${prefix}: ${msg}`, err.hint) : new Error(`${prefix}: ${msg}`);
}

/** A value as a file-name-safe label: numbers as written, arrays joined with '+'. */
function label(v: unknown): string {
  if (Array.isArray(v)) return v.map(label).join('+') || 'none';
  if (v !== null && typeof v === 'object') return `h${hash(JSON.stringify(v)).slice(0, 6)}`;
  return String(v).replace(/[^A-Za-z0-9.+=-]/g, '_');
}

function hash(s: string): string {
  return createHash('sha256').update(s).digest('hex');
}

/** The axes of a spec, each value checked on its own against the preset and `set` (errors name the axis and the value). */
export function parseAxes(spec: SweepSpec, where = 'sweep'): Axis[] {
  const preset = spec.preset ?? 'paper';
  const base = baseOverrides(spec, where);
  const axes: Axis[] = [];
  for (const [name, raw] of Object.entries(spec.axes ?? {})) {
    const at = `${where}: axes.${name}`;
    let axis: Omit<Axis, 'short'>;
    if (name === 'variant') {
      if (!Array.isArray(raw) || raw.length === 0)
        throw new Error(`${at}: expected a non-empty list of variant names (${VARIANT_NAMES.join(', ')})`);
      raw.forEach((v) => {
        if (typeof v !== 'string') throw new Error(`${at}: expected variant names, got ${JSON.stringify(v)}`);
      });
      const names = raw as string[];
      axis = {
        name,
        kind: 'variant',
        values: names,
        labels: names,
        overrides: names.map((v) => {
          try {
            return { student: { ablation: variantAblation(v) } };
          } catch (err) {
            throw new Error(`${at}: ${(err as Error).message}`);
          }
        }),
      };
    } else if (isConfigKey(name)) {
      if (!Array.isArray(raw) || raw.length === 0)
        throw new Error(
          `${at}: expected a non-empty list of values for the config key '${name}', got ${JSON.stringify(raw)}`,
        );
      axis = {
        name,
        kind: 'key',
        values: raw,
        labels: raw.map(label),
        overrides: raw.map((v) => nestKeys({ [name]: v }, at)),
      };
    } else {
      if (typeof raw !== 'object' || raw === null || Array.isArray(raw) || Object.keys(raw).length === 0) {
        throw new UserError(
          `${at}: '${name}' is not a config key${guess(name)}; an axis is a config key (e.g. run.seed: [1, 2]), 'variant', or a named axis {label: {"key": value, ...}}`,
        );
      }
      const entries = Object.entries(raw as Record<string, unknown>);
      for (const [l, o] of entries) {
        if (typeof o !== 'object' || o === null || Array.isArray(o))
          throw new Error(`${at}.${l}: expected an object of dotted config keys, got ${JSON.stringify(o)}`);
        if (label(l) !== l) throw new Error(`${at}: label '${l}': use letters, digits, '.', '+', '=' or '-'`);
      }
      axis = {
        name,
        kind: 'named',
        values: entries.map(([, o]) => o),
        labels: entries.map(([l]) => l),
        overrides: entries.map(([l, o]) => nestKeys(o as Record<string, unknown>, `${at}.${l}`)),
      };
    }
    // Each value alone on the base must be a valid override (the product is checked again cell by cell).
    axis.overrides.forEach((o, i) => {
      try {
        resolveConfig(preset, base, o);
      } catch (err) {
        throw within(`${at}: value ${JSON.stringify(axis.values[i])}`, err);
      }
    });
    axes.push({ ...axis, short: '' });
  }
  // Short names: the last part of a key, unless two axes would share it.
  const last = (n: string) => n.split('.').pop()!;
  for (const a of axes) {
    const clash = axes.filter((b) => last(b.name) === last(a.name)).length > 1;
    a.short = clash ? a.name.replace(/\./g, '-') : last(a.name);
  }
  return axes;
}

/** The base overrides of a spec (`set`). */
function baseOverrides(spec: SweepSpec, where: string): DeepPartial<MsdConfig> {
  if (!spec.set) return {};
  if (!Array.isArray(spec.set)) return nestKeys(spec.set, `${where}: set`);
  try {
    return parseSets(spec.set);
  } catch (err) {
    throw within(`${where}: set`, err);
  }
}

/** A config's identity for deduplication (where it runs is not part of what it computes). */
function configIdentity(c: MsdConfig): string {
  return configToJson({ ...c, run: { ...c.run, outDir: '', teacherDir: '' } });
}

/**
 * One teacher per distinct teacher-relevant config (teacherConfigView) of the cells, which then point at it
 * (`cell.teacher`, `run.teacherDir`); each teacher's config lists every target of its cells.
 */
function shareTeachers(cells: Cell[], abs: string): TeacherJob[] {
  const teachers: TeacherJob[] = [];
  const byView = new Map<string, TeacherJob>();
  for (const cell of cells) {
    const tid = `t-${hash(JSON.stringify(teacherConfigView(cell.config))).slice(0, 10)}`;
    let t = byView.get(tid);
    if (!t) {
      const dir = join(abs, 'teachers', tid);
      // The teacher's config is that of the first cell using it; only its teacher-relevant part matters.
      t = {
        id: tid,
        dir,
        configPath: join(abs, 'configs', `teacher-${tid}.json`),
        config: resolveConfig(cell.config, { run: { outDir: dir } }),
        cells: [],
      };
      byView.set(tid, t);
      teachers.push(t);
    }
    t.cells.push(cell.id);
    cell.teacher = tid;
    cell.config = resolveConfig(cell.config, { run: { teacherDir: t.dir } });
  }
  // A teacher's run lists every target of its cells: its vocabulary (model.pruneVocab keeps only the pieces of the
  // source and target training text) must cover each cell's target text.
  for (const t of teachers) {
    const targets = [...new Set(t.cells.flatMap((id) => cells.find((c) => c.id === id)!.config.data.targets))].sort();
    t.config = resolveConfig(t.config, { data: { targets } });
  }
  return teachers;
}

/**
 * Expands a sweep into its plan (nothing is written). `root` is the sweep directory; every path in the plan, and in
 * the cells' configs, is absolute, so that cells run the same from any working directory (local or Slurm).
 */
export function planSweep(spec: SweepSpec, root: string, where = 'sweep'): SweepPlan {
  checkSpec(spec, where);
  const abs = resolve(root);
  const preset = spec.preset ?? 'paper';
  const base = baseOverrides(spec, where);
  try {
    resolveConfig(preset, base);
  } catch (err) {
    throw within(`${where}: set`, err);
  }
  const axes = parseAxes(spec, where);
  const combos: number[][] = [[]];
  for (const a of axes) {
    const next: number[][] = [];
    for (const c of combos) for (let i = 0; i < a.labels.length; i++) next.push([...c, i]);
    combos.splice(0, combos.length, ...next);
  }
  const cells: Cell[] = [];
  const duplicates: SweepPlan['duplicates'] = [];
  const seen = new Map<string, string>();
  const ids = new Map<string, Record<string, string>>();
  for (const combo of combos) {
    const labels: Record<string, string> = {};
    combo.forEach((i, k) => (labels[axes[k]!.short] = axes[k]!.labels[i]!));
    const id = axes.length ? axes.map((a) => `${a.short}-${labels[a.short]}`).join('_') : 'base';
    const dir = join(abs, 'cells', id);
    let config: MsdConfig;
    try {
      config = resolveConfig(preset, base, ...combo.map((i, k) => axes[k]!.overrides[i]!), { run: { outDir: dir } });
    } catch (err) {
      throw within(`${where}: cell ${id}`, err);
    }
    const identity = configIdentity(config);
    const same = seen.get(identity);
    if (same !== undefined) {
      duplicates.push({ labels, sameAs: same });
      continue;
    }
    if (ids.has(id))
      throw new Error(
        `${where}: two different cells get the id '${id}' (${JSON.stringify(ids.get(id))} and ${JSON.stringify(labels)}); make the axis values distinct as labels`,
      );
    ids.set(id, labels);
    seen.set(identity, id);
    cells.push({
      id,
      index: cells.length,
      labels,
      teacher: '',
      dir,
      configPath: join(abs, 'configs', `${id}.json`),
      config,
    });
  }

  const teachers = spec.shareTeacher !== false ? shareTeachers(cells, abs) : [];
  const name = spec.name ?? basename(abs);
  return { name, root: abs, spec, axes, cells, teachers, duplicates };
}

/** The plan file's content: what `status`, `collect` and the executors read back. */
export interface PlanFile {
  name: string;
  axes: { name: string; short: string; kind: AxisKind; labels: string[] }[];
  cells: { id: string; index: number; labels: Record<string, string>; teacher: string; dir: string; config: string }[];
  teachers: { id: string; dir: string; config: string; cells: string[] }[];
  duplicates: SweepPlan['duplicates'];
}

/**
 * Writes the plan into its directory (sweep.json, plan.json, configs/). Re-planning an existing sweep is allowed
 * when every existing cell's config is unchanged (new cells may be added); a changed cell is an error unless
 * `force` (then that cell's old run directory no longer matches and `msd run --resume` will refuse it).
 */
export function writePlan(plan: SweepPlan, opts: { force?: boolean } = {}): void {
  const changed: string[] = [];
  const jobs = [
    ...plan.cells.map((c) => ({ id: c.id, path: c.configPath, config: c.config })),
    ...plan.teachers.map((t) => ({ id: `teacher ${t.id}`, path: t.configPath, config: t.config })),
  ];
  for (const j of jobs) {
    if (existsSync(j.path) && readFileSync(j.path, 'utf8') !== configToJson(j.config)) changed.push(j.id);
  }
  if (changed.length && !opts.force) {
    throw new Error(
      `${plan.root}: the sweep already holds ${changed.length} cell(s) planned with other configs (${changed.slice(0, 5).join(', ')}${changed.length > 5 ? ', ...' : ''}); ` +
        "use a new sweep directory, or --force to replan (delete those cells' run directories first)",
    );
  }
  mkdirSync(join(plan.root, 'configs'), { recursive: true });
  mkdirSync(join(plan.root, 'logs'), { recursive: true });
  writeJsonAtomic(join(plan.root, 'sweep.json'), plan.spec);
  for (const j of jobs) writeFileAtomic(j.path, configToJson(j.config));
  const file: PlanFile = {
    name: plan.name,
    axes: plan.axes.map((a) => ({ name: a.name, short: a.short, kind: a.kind, labels: a.labels })),
    cells: plan.cells.map((c) => ({
      id: c.id,
      index: c.index,
      labels: c.labels,
      teacher: c.teacher,
      dir: c.dir,
      config: c.configPath,
    })),
    teachers: plan.teachers.map((t) => ({ id: t.id, dir: t.dir, config: t.configPath, cells: t.cells })),
    duplicates: plan.duplicates,
  };
  writeJsonAtomic(join(plan.root, 'plan.json'), file);
}

/** Reads a planned sweep directory's plan.json. */
export function readPlan(root: string): PlanFile & { root: string } {
  const path = join(resolve(root), 'plan.json');
  if (!existsSync(path))
    throw new Error(`${root}: no plan.json; plan the sweep first (msd sweep plan <sweep.json> --out ${root})`);
  return { ...(JSON.parse(readFileSync(path, 'utf8')) as PlanFile), root: resolve(root) };
}

/** One line per cell and teacher: what `msd sweep plan` prints. */
export function formatPlan(plan: SweepPlan): string {
  const lines = [
    `sweep ${plan.name}: ${plan.cells.length} cells, ${plan.teachers.length} shared teachers, in ${plan.root}`,
  ];
  for (const a of plan.axes) lines.push(`  axis ${a.name} (${a.kind}): ${a.labels.join(', ')}`);
  if (plan.duplicates.length)
    lines.push(
      `  ${plan.duplicates.length} duplicate combination(s) left out: ${plan.duplicates.map((d) => `${JSON.stringify(d.labels)} = ${d.sameAs}`).join('; ')}`,
    );
  for (const t of plan.teachers)
    lines.push(
      `  teacher ${t.id}: seed ${t.config.run.seed}, ${t.config.data.corpus} ${t.config.data.source}; used by ${t.cells.length} cells`,
    );
  const w = Math.max(4, ...plan.cells.map((c) => c.id.length));
  lines.push(`  ${'#'.padStart(4)}  ${'cell'.padEnd(w)}  teacher`);
  for (const c of plan.cells)
    lines.push(`  ${String(c.index).padStart(4)}  ${c.id.padEnd(w)}  ${c.teacher || '(own)'}`);
  return lines.join('\n');
}
