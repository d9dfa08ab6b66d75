/**
 * The part every line-based reader shares: it receives tokens, sentence ends and document markers in file order,
 * checks each tag as it arrives (so in strict mode the first bad line of the file is the one reported), and at the
 * end detects the tag scheme over the whole file, converts to IOB2, counts and builds the load report.
 */
import { DataError, ProblemSink } from './errors.js';
import {
  countEntities,
  detectScheme,
  parseTag,
  TAG_EXPECTATION,
  toIob2,
  type ParsedTag,
  type SchemeOption,
} from './schemes.js';
import type { Encoding } from './text.js';
import type { LabelSchema, LoadReport, ReadResult, Sentence, SourceLocation, TagScheme } from './types.js';

/** Options every reader accepts. */
export interface ReadOptions {
  /** Language code stored on each sentence. Default: guessed from the file name where the format allows, else `und`. */
  lang?: string;
  /** Sentence ids are `${idPrefix}#${index}` (index in file order, counting dropped sentences). Default: the file name. */
  idPrefix?: string;
  /** Input tag scheme; `auto` (default) detects it from the whole file. */
  scheme?: SchemeOption;
  /** Allowed entity types: a tag of any other type is an error. */
  schema?: LabelSchema | readonly string[];
  /** `true` (default): throw on the first problem. `false`: collect problems in the report, drop their sentences. */
  strict?: boolean;
  /** Text encoding; `auto` (default) is UTF-8 with a latin-1 fallback. */
  encoding?: Encoding | 'auto';
}

/** The lines (or, for parquet, rows) of the input, 1-based, for problem messages. */
export interface LineSource {
  readonly count: number;
  text(line: number): string;
}

export function linesSource(lines: readonly string[]): LineSource {
  return { count: lines.length, text: (line) => lines[line - 1] ?? '' };
}

interface Pending {
  tokens: string[];
  parsed: ParsedTag[];
  lines: number[];
  /** The line that started the sentence: its header, or its first token. */
  start: number;
  id?: string;
  doc?: number;
  bad: boolean;
  index: number;
}

/** How many repair locations the report lists (the count is always complete). */
const MAX_LISTED_REPAIRS = 20;

export class SentenceCollector {
  readonly sink: ProblemSink;
  private readonly done: Pending[] = [];
  private current: Pending | undefined;
  private documents = 0;
  private nextIndex = 0;
  private readonly allowed: ReadonlySet<string> | undefined;

  constructor(
    readonly file: string,
    private readonly source: LineSource,
    private readonly decoded: { encoding: Encoding; bom: boolean },
    private readonly opts: ReadOptions & { lang: string; idPrefix: string },
  ) {
    this.sink = new ProblemSink(file, opts.strict ?? true, (line) => source.text(line));
    const types = opts.schema === undefined ? undefined : 'types' in opts.schema ? opts.schema.types : opts.schema;
    this.allowed = types ? new Set(types) : undefined;
  }

  /** Starts a sentence explicitly (formats with header lines); otherwise the first token starts one. */
  begin(line: number, id?: string): void {
    this.end();
    const doc = this.documents > 0 ? this.documents - 1 : undefined;
    this.current = { tokens: [], parsed: [], lines: [], start: line, id, doc, bad: false, index: this.nextIndex++ };
  }

  /** Whether a sentence is open (begun or with tokens). */
  get open(): boolean {
    return this.current !== undefined;
  }

  token(token: string, tag: string, line: number): void {
    if (!this.current) this.begin(line);
    const s = this.current!;
    s.tokens.push(token);
    s.lines.push(line);
    const parsed = parseTag(tag);
    if (!parsed) {
      this.problem(line, `invalid tag '${tag}'; ${TAG_EXPECTATION}`);
      s.parsed.push({ prefix: 'O', type: '' });
      return;
    }
    if (parsed.prefix !== 'O' && this.allowed && !this.allowed.has(parsed.type)) {
      this.problem(
        line,
        `tag '${tag}' is outside the schema; expected O or a tag of type ${[...this.allowed].join(', ')}`,
      );
    }
    s.parsed.push(parsed);
  }

  /** A problem on a line of the current sentence (or between sentences): thrown, or recorded and the sentence dropped. */
  problem(line: number, message: string): void {
    this.sink.report(line, message);
    // A bad line always belongs to a sentence, even as its first line, so that the rest of that sentence is
    // dropped with it rather than returned without the line.
    if (!this.current) this.begin(line);
    this.current!.bad = true;
  }

  /** Ends the open sentence (a blank line, a header, a document marker or the end of the file). */
  end(): void {
    const s = this.current;
    this.current = undefined;
    if (!s) return;
    if (s.tokens.length === 0 && !s.bad) {
      // A header with no tokens: keep the index (ids stay stable) but there is no sentence to return.
      if (s.id !== undefined)
        this.sink.report(s.start, 'sentence header without tokens; expected token lines after it');
      return;
    }
    this.done.push(s);
  }

  /** A `-DOCSTART-` line: ends the sentence and starts document `documents`. */
  docStart(): void {
    this.end();
    this.documents++;
  }

  finish(): ReadResult {
    this.end();
    const { file, sink } = this;
    if (this.done.length === 0) {
      let empty = true;
      for (let line = 1; line <= this.source.count && empty; line++) empty = this.source.text(line).trim() === '';
      sink.report(
        1,
        empty
          ? 'the file is empty; expected at least one sentence'
          : 'no sentences found; expected token lines separated by blank lines',
      );
    }
    const good = this.done.filter((s) => !s.bad);
    const given = this.opts.scheme ?? 'auto';
    const evidence = detectScheme(good.map((s) => s.parsed));
    const scheme: TagScheme = given === 'auto' ? evidence.scheme : given;
    if (scheme !== 'bioes' && evidence.endOrSingle > 0) {
      for (const s of good) {
        const i = s.parsed.findIndex((t) => t.prefix === 'E' || t.prefix === 'S');
        if (i < 0) continue;
        sink.report(
          s.lines[i]!,
          `E-/S- tags are not ${scheme.toUpperCase()}; expected B-/I- tags only, or scheme 'bioes'`,
        );
        s.bad = true;
      }
    }
    const sentences: Sentence[] = [];
    const entities: Record<string, number> = {};
    const repairedAt: SourceLocation[] = [];
    let repairedCount = 0;
    let tokens = 0;
    for (const s of this.done) {
      if (s.bad) continue;
      const { tags, repaired } = toIob2(s.parsed, scheme);
      repairedCount += repaired.length;
      for (const i of repaired)
        if (repairedAt.length < MAX_LISTED_REPAIRS) repairedAt.push({ file, line: s.lines[i]! });
      countEntities(tags, entities);
      tokens += s.tokens.length;
      const sentence: Sentence = {
        id: s.id ?? `${this.opts.idPrefix}#${s.index}`,
        lang: this.opts.lang,
        tokens: s.tokens,
        tags,
        source: { file, line: s.lines[0]! },
      };
      if (s.doc !== undefined) sentence.doc = s.doc;
      sentences.push(sentence);
    }
    const sortedEntities: Record<string, number> = {};
    for (const k of Object.keys(entities).sort()) sortedEntities[k] = entities[k]!;
    const report: LoadReport = {
      file,
      sentences: sentences.length,
      tokens,
      entities: sortedEntities,
      entityTotal: Object.values(entities).reduce((a, b) => a + b, 0),
      documents: this.documents,
      repaired: { count: repairedCount, first: repairedAt },
      encoding: this.decoded.encoding,
      bom: this.decoded.bom,
      scheme,
      schemeSource: given === 'auto' ? 'detected' : 'given',
      problems: sink.problems,
      droppedSentences: this.done.length - sentences.length,
    };
    return { sentences, report };
  }
}

export { DataError };
