/**
 * Tag schemes and their conversion to IOB2, the one scheme used after loading.
 *
 *   IOB1 (CoNLL-2003):  every entity token is `I-T`; `B-T` only marks the first token of an entity that directly
 *                       follows another entity of the same type.
 *   IOB2 (CoNLL-2002, WikiAnn, MultiCoNER): every entity starts with `B-T`, continues with `I-T`.
 *   BIOES / IOBES:      `B-T` `I-T`* `E-T` for multi-token entities, `S-T` for single tokens.
 *
 * Conversion keeps the chunks conlleval would read from the raw file: conlleval starts a chunk at any `B-`/`S-`,
 * and at an `I-`/`E-` whose previous tag is `O` or of another type. Rewriting exactly those starting `I-T`/`E-T`
 * to `B-T` (and `S-T` to `B-T`, `E-T` to `I-T`) gives a valid IOB2 sequence with the same chunks. In IOB1 that
 * rewrite is the scheme itself; in an IOB2 or BIOES file a starting `I-T` is an annotation slip (one per CoNLL-2002
 * Spanish split, hundreds in WikiAnn zh around `#`), so it is counted as a repair and its location reported.
 * Because the tags are valid IOB2 afterwards, the number of entities is the number of `B-` tags.
 */
import type { TagScheme } from './types.js';

export type SchemeOption = TagScheme | 'auto';
export type TagPrefix = 'B' | 'I' | 'E' | 'S';

export interface ParsedTag {
  prefix: TagPrefix | 'O';
  type: string;
}

const TAG_RE = /^([BIES])-(\S+)$/;
const O_TAG: ParsedTag = { prefix: 'O', type: '' };

/** Parses `O` or `B-T`/`I-T`/`E-T`/`S-T`; anything else is `undefined` (the caller reports it). */
export function parseTag(tag: string): ParsedTag | undefined {
  if (tag === 'O') return O_TAG;
  // A corpus has a handful of distinct tags and millions of tokens: parse each distinct string once.
  let parsed = PARSED.get(tag);
  if (parsed === undefined && !PARSED.has(tag)) {
    const m = TAG_RE.exec(tag);
    parsed = m ? Object.freeze({ prefix: m[1] as TagPrefix, type: m[2]! }) : undefined;
    if (PARSED.size < 10_000) PARSED.set(tag, parsed);
  }
  return parsed;
}
const PARSED = new Map<string, ParsedTag | undefined>();

/** What an invalid tag was expected to look like, for error messages. */
export const TAG_EXPECTATION = "expected 'O' or B-/I-/E-/S- followed by an entity type (e.g. B-PER)";

export interface SchemeEvidence {
  scheme: TagScheme;
  /** `B-` tags that open an entity after `O`, another type or the sentence start (IOB2 evidence). */
  openingB: number;
  /** `I-` tags that open an entity (IOB1 evidence, or IOB2 slips). */
  openingI: number;
  /** `E-`/`S-` tags seen (BIOES evidence). */
  endOrSingle: number;
}

/**
 * Detects the scheme of a file from all its (already validated) tag sequences. Any `E-`/`S-` means BIOES. Else
 * IOB1 when more entities open with `I-` than with `B-` (in IOB1 `B-` never opens an entity after `O`; in IOB2
 * almost every entity does, the rest being slips), otherwise IOB2, which is also the answer for a file without
 * entities (the two schemes agree there).
 */
export function detectScheme(sequences: Iterable<readonly ParsedTag[]>): SchemeEvidence {
  let openingB = 0;
  let openingI = 0;
  let endOrSingle = 0;
  for (const seq of sequences) {
    let prev: ParsedTag = O_TAG;
    for (const t of seq) {
      if (t.prefix === 'E' || t.prefix === 'S') endOrSingle++;
      const opens = prev.prefix === 'O' || prev.type !== t.type;
      if (t.prefix === 'B' && opens) openingB++;
      if (t.prefix === 'I' && opens) openingI++;
      prev = t;
    }
  }
  const scheme: TagScheme = endOrSingle > 0 ? 'bioes' : openingI > openingB ? 'iob1' : 'iob2';
  return { scheme, openingB, openingI, endOrSingle };
}

export interface Iob2Conversion {
  tags: string[];
  /** Token indices whose `I-`/`E-` tag opened an entity in an IOB2/BIOES sequence and became `B-`. */
  repaired: number[];
}

/**
 * Converts one sentence's parsed tags to IOB2 strings (see the file comment for the rules). In IOB1 an opening
 * `I-` is the normal case and is not counted as a repair; `E-`/`S-` are not allowed in IOB1/IOB2 and the caller
 * rejects them before calling this.
 */
export function toIob2(seq: readonly ParsedTag[], scheme: TagScheme): Iob2Conversion {
  const tags: string[] = new Array(seq.length);
  const repaired: number[] = [];
  let prev: ParsedTag = O_TAG;
  for (let i = 0; i < seq.length; i++) {
    const t = seq[i]!;
    if (t.prefix === 'O') {
      tags[i] = 'O';
    } else {
      const opens = prev.prefix === 'O' || prev.type !== t.type || prev.prefix === 'E' || prev.prefix === 'S';
      let prefix: 'B' | 'I';
      if (t.prefix === 'B' || t.prefix === 'S') prefix = 'B';
      else if (opens) {
        // After `E-T`/`S-T` an `I-T` opens a new entity too (the previous one was closed).
        prefix = 'B';
        if (scheme !== 'iob1') repaired.push(i);
      } else prefix = 'I';
      tags[i] = `${prefix}-${t.type}`;
    }
    prev = t;
  }
  return { tags, repaired };
}

/** Entities per type in an IOB2 sequence: one per `B-` tag (valid after loading, see the file comment). */
export function countEntities(tags: readonly string[], into: Record<string, number> = {}): Record<string, number> {
  for (const tag of tags) {
    if (tag.charCodeAt(0) === 66 /* B */ && tag.charCodeAt(1) === 45 /* - */) {
      const type = tag.slice(2);
      into[type] = (into[type] ?? 0) + 1;
    }
  }
  return into;
}

/** Entity spans `[start, end)` with their type, from an IOB2 sequence. */
export function iob2Spans(tags: readonly string[]): { type: string; start: number; end: number }[] {
  const spans: { type: string; start: number; end: number }[] = [];
  for (let i = 0; i < tags.length; i++) {
    const tag = tags[i]!;
    if (!tag.startsWith('B-')) continue;
    const type = tag.slice(2);
    let end = i + 1;
    while (end < tags.length && tags[end] === `I-${type}`) end++;
    spans.push({ type, start: i, end });
  }
  return spans;
}
