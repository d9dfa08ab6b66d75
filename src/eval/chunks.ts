/**
 * Entity chunking: which runs of tags form an entity. Two modes.
 *
 * `conlleval` (the default) reproduces conlleval.pl (CoNLL-2000..2003 shared tasks, version 2004-01-26), whose
 * `startOfChunk` / `endOfChunk` decide chunk boundaries from the previous and the current tag alone:
 *   - a chunk starts at `B-`, at `I-`/`E-` after `O`, at `I-` after `E-`, at `E-` after `E-`, and at any non-`O`
 *     tag whose type differs from the previous tag's type;
 *   - a chunk ends before `O`, before `B-` (after `B-` or `I-`), before `I-`/`E-` after `E-`, and before any
 *     type change.
 *   So IOB1 (`I-` starts an entity, `B-` only separates adjacent same-type entities) and IOB2 score alike, a
 *   stray `I-` after `O` starts an entity, and `B-X` after `I-X` starts a new entity of the same type. With
 *   `E-` tags it follows conlleval too (IOE1/IOE2; note conlleval does NOT end a chunk at `E-X B-X`, and
 *   neither do we). The chunk type is everything after the first hyphen, so types may contain hyphens.
 *
 * `strict` is IOB2 read literally (seqeval's strict IOB2 mode): only `B-T` starts an entity, which goes on over
 * the `I-T` tags that follow it; an `I-` that does not continue an entity of its type (after `O`, after another
 * type) starts nothing, and its whole run is dropped. `E-` is not IOB2 and is rejected in this mode.
 *
 * Not supported (rejected with an error naming the sentence and token): `S-` (IOBES: convert to IOB2 first with
 * the data area's scheme conversion; conlleval.pl itself would merge `S-X S-X` into one chunk), conlleval's
 * bracket tags `[`/`]`, and tags other than `O` without a `PREFIX-TYPE` shape. Sentence boundaries always end
 * chunks: every function here works on one sentence.
 */

/** The chunking rules: conlleval.pl's (default) or strict IOB2. */
export type ChunkMode = 'conlleval' | 'strict';

/** One entity: word indices `start` (inclusive) to `end` (exclusive), as in `words.slice(start, end)`. */
export interface Chunk {
  type: string;
  start: number;
  end: number;
}

/** Prefix codes, kept small so the hot loops compare integers. */
export const O = 0;
export const B = 1;
export const I = 2;
export const E = 3;
export type Prefix = typeof O | typeof B | typeof I | typeof E;

/** A tag split into its prefix code and type (`''` for `O`). */
export interface ParsedTag {
  prefix: Prefix;
  type: string;
}

/** Where a tag came from, for error messages. */
export interface TagLocation {
  /** 0-based sentence index in the input. */
  sentence?: number;
  /** Sentence id, when the caller has one. */
  id?: string;
  /** 0-based token index in the sentence. */
  token?: number;
  /** Which side the tag is on, e.g. `gold` or `predicted`. */
  side?: string;
}

function describe(where: TagLocation | undefined): string {
  if (!where) return '';
  const parts: string[] = [];
  if (where.side) parts.push(where.side);
  if (where.sentence !== undefined)
    parts.push(`sentence ${where.sentence}${where.id !== undefined ? ` (id ${where.id})` : ''}`);
  if (where.token !== undefined) parts.push(`token ${where.token}`);
  return parts.length ? ` (${parts.join(', ')})` : '';
}

const parsedCache = new Map<string, ParsedTag>();

/**
 * Splits a tag at its first hyphen (conlleval.pl since 2004 does the same, so `B-ORG-X` has type `ORG-X`).
 * Results are cached per tag string: a corpus has a handful of distinct tags and millions of tokens.
 */
export function parseTag(tag: string, where?: TagLocation): ParsedTag {
  const hit = parsedCache.get(tag);
  if (hit) return hit;
  let parsed: ParsedTag;
  if (tag === 'O') parsed = { prefix: O, type: '' };
  else {
    const dash = tag.indexOf('-');
    const head = dash < 0 ? tag : tag.slice(0, dash);
    const type = dash < 0 ? '' : tag.slice(dash + 1);
    const prefix = head === 'B' ? B : head === 'I' ? I : head === 'E' ? E : -1;
    if (prefix < 0 || type === '') {
      const hint = head === 'S' ? '; S- (IOBES) tags are not scored: convert the tags to IOB2 first' : '';
      throw new Error(
        `invalid tag ${JSON.stringify(tag)}${describe(where)}: expected O, B-TYPE, I-TYPE or E-TYPE${hint}`,
      );
    }
    parsed = { prefix: prefix as Prefix, type };
  }
  if (parsedCache.size < 10_000) parsedCache.set(tag, parsed);
  return parsed;
}

/**
 * conlleval.pl `endOfChunk`: did a chunk end between the previous tag and this one? (`O` has type `''`.)
 */
export function endOfChunk(prevPrefix: Prefix, prefix: Prefix, prevType: string, type: string): boolean {
  if (prevPrefix === O) return false;
  if (prevType !== type) return true;
  if (prevPrefix === E) return prefix === E || prefix === I || prefix === O;
  // prev B or I
  return prefix === B || prefix === O;
}

/**
 * conlleval.pl `startOfChunk`: did a chunk start at this tag?
 */
export function startOfChunk(prevPrefix: Prefix, prefix: Prefix, prevType: string, type: string): boolean {
  if (prefix === O) return false;
  if (prevType !== type) return true;
  if (prevPrefix === O) return true; // O then B, I or E (O's type '' never equals a real type anyway)
  if (prefix === B) return prevPrefix === B || prevPrefix === I;
  if (prevPrefix === E) return prefix === E || prefix === I;
  return false;
}

/**
 * The entities of one sentence's tags, in order of their start. In `conlleval` mode every non-`O` tag belongs
 * to exactly one chunk (the rules above are consistent for O/B/I/E: a chunk ends exactly where the next starts
 * or at `O`), so this matches conlleval.pl's counts.
 */
export function chunks(tags: readonly string[], mode: ChunkMode = 'conlleval', where?: TagLocation): Chunk[] {
  const out: Chunk[] = [];
  let prevPrefix: Prefix = O;
  let prevType = '';
  let open: Chunk | undefined;
  const loc: TagLocation = { ...where };
  for (let t = 0; t < tags.length; t++) {
    let p: ParsedTag;
    try {
      p = parseTag(tags[t]!);
    } catch {
      loc.token = t;
      p = parseTag(tags[t]!, loc); // throws again, now naming the place
    }
    if (mode === 'conlleval') {
      if (open && endOfChunk(prevPrefix, p.prefix, prevType, p.type)) {
        open.end = t;
        out.push(open);
        open = undefined;
      }
      if (startOfChunk(prevPrefix, p.prefix, prevType, p.type)) open = { type: p.type, start: t, end: t + 1 };
    } else {
      if (p.prefix === E) {
        loc.token = t;
        throw new Error(
          `invalid tag ${JSON.stringify(tags[t])}${describe(loc)}: strict IOB2 mode accepts only O, B-TYPE and I-TYPE`,
        );
      }
      const continues = open !== undefined && p.prefix === I && p.type === open.type;
      if (open && !continues) {
        open.end = t;
        out.push(open);
        open = undefined;
      }
      if (p.prefix === B) open = { type: p.type, start: t, end: t + 1 };
      // an I- that does not continue an open entity of its type is dropped (and so is the rest of its run,
      // since nothing is open for it to continue)
    }
    prevPrefix = p.prefix;
    prevType = p.type;
  }
  if (open) {
    open.end = tags.length;
    out.push(open);
  }
  return out;
}
