/**
 * Hugging Face Hub datasets stored as parquet (`conll2002`, `wikiann`, `tner/*`, ...): one row per sentence with
 * a list column of tokens and a list column of tags, the tags either integer ids into a label list or strings.
 * The label list comes from `opts.labels` or from the dataset's features, which the Hub's parquet files carry in
 * the `huggingface` key-value metadata (`info.features.<column>.feature.names`). Read with hyparquet; compressed
 * pages (gzip, brotli, zstd, lz4) are decoded with hyparquet-compressors.
 *
 * Problems are reported like the text readers', with "line" meaning the 1-based row and the row shown as JSON.
 * Sentence ids are `${idPrefix}#${row}` (0-based row); a row with no tokens is skipped (it holds no entities) but
 * keeps its number, so ids stay row numbers.
 */
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { parquetMetadata, parquetReadObjects, parquetSchema } from 'hyparquet';
import { compressors } from 'hyparquet-compressors';
import { SentenceCollector, type ReadOptions } from './collect.js';
import type { ReadResult } from './types.js';

export interface ParquetOptions extends Omit<ReadOptions, 'encoding'> {
  /** The list-of-strings column (default `tokens`). */
  tokensColumn?: string;
  /** The list-of-tags column (default `ner_tags`). */
  tagsColumn?: string;
  /** Tag names by id; default: from the file's Hugging Face features metadata. */
  labels?: readonly string[];
}

interface FeatureSpec {
  names?: unknown;
  feature?: FeatureSpec;
}

/** The ClassLabel names of a column from the `huggingface` metadata entry, if present. */
export function hubLabelNames(
  keyValues: readonly { key: string; value?: string }[] | undefined,
  column: string,
): string[] | undefined {
  const entry = keyValues?.find((kv) => kv.key === 'huggingface');
  if (!entry?.value) return undefined;
  let features: Record<string, FeatureSpec> | undefined;
  try {
    features = (JSON.parse(entry.value) as { info?: { features?: Record<string, FeatureSpec> } }).info?.features;
  } catch {
    return undefined;
  }
  // `Sequence(ClassLabel)` is `{feature: {names}}`; newer `datasets` write `List` the same way.
  let spec = features?.[column];
  while (spec && spec.names === undefined && spec.feature) spec = spec.feature;
  const names = spec?.names;
  return Array.isArray(names) && names.every((n) => typeof n === 'string') ? (names as string[]) : undefined;
}

/** Lists in rows can arrive as arrays or typed arrays; int64 values as bigint. */
export function asArray(v: unknown): unknown[] | undefined {
  if (Array.isArray(v)) return v;
  if (ArrayBuffer.isView(v) && !(v instanceof DataView)) return Array.from(v as unknown as ArrayLike<unknown>);
  return undefined;
}

function rowText(row: Record<string, unknown>): string {
  const json = JSON.stringify(row, (_k, v) => (typeof v === 'bigint' ? Number(v) : v));
  return json.length > 300 ? `${json.slice(0, 297)}...` : json;
}

/** A parquet file's rows with the two list columns read, and the tag names by id (given, or from its metadata). */
export interface TagColumns {
  rows: Record<string, unknown>[];
  labels: readonly string[] | undefined;
}

/**
 * The one parquet reader of the library (local files and the Hub's): reads `path`, checks that it is parquet and has
 * both columns, takes the label list from `labels` or the file's Hugging Face features, and reads the two columns.
 */
export async function readTagColumns(
  path: string,
  tokensColumn: string,
  tagsColumn: string,
  labels?: readonly string[],
): Promise<TagColumns> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (err) {
    throw new Error(`cannot read ${path}: ${(err as Error).message}`);
  }
  const file = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
  let metadata: ReturnType<typeof parquetMetadata>;
  try {
    metadata = parquetMetadata(file);
  } catch (err) {
    throw new Error(
      `${path}: not a readable parquet file (${(err as Error).message}); expected a parquet file with columns ${tokensColumn}, ${tagsColumn}`,
    );
  }
  const columns = parquetSchema(metadata).children.map((c) => c.element.name);
  for (const col of [tokensColumn, tagsColumn]) {
    if (!columns.includes(col)) {
      throw new Error(
        `${path}: no column '${col}'; expected list columns ${tokensColumn} and ${tagsColumn} (found ${columns.join(', ')})`,
      );
    }
  }
  const rows = (await parquetReadObjects({
    file,
    metadata,
    columns: [tokensColumn, tagsColumn],
    compressors,
  })) as Record<string, unknown>[];
  return { rows, labels: labels ?? hubLabelNames(metadata.key_value_metadata, tagsColumn) };
}

export async function readParquet(path: string, opts: ParquetOptions = {}): Promise<ReadResult> {
  const tokensColumn = opts.tokensColumn ?? 'tokens';
  const tagsColumn = opts.tagsColumn ?? 'ner_tags';
  const { rows, labels } = await readTagColumns(path, tokensColumn, tagsColumn, opts.labels);

  const firstTag = rows.map((r) => asArray(r[tagsColumn])?.[0]).find((t) => t !== undefined);
  if (!labels && (typeof firstTag === 'bigint' || typeof firstTag === 'number')) {
    throw new Error(
      `${path}: tags are integer ids but no label list was given and the file has no Hugging Face features metadata; expected opts.labels`,
    );
  }
  const c = new SentenceCollector(
    path,
    { count: rows.length, text: (line) => (rows[line - 1] ? rowText(rows[line - 1]!) : '') },
    { encoding: 'utf-8', bom: false },
    {
      ...opts,
      lang: opts.lang ?? 'und',
      idPrefix: opts.idPrefix ?? basename(path),
    },
  );
  for (let r = 0; r < rows.length; r++) {
    const row = rows[r]!;
    const line = r + 1;
    c.begin(line);
    const tokens = asArray(row[tokensColumn]);
    const tags = asArray(row[tagsColumn]);
    if (!tokens || !tags) {
      c.problem(line, `expected list columns ${tokensColumn} and ${tagsColumn}`);
      continue;
    }
    if (tokens.length !== tags.length) {
      c.problem(line, `${tokens.length} tokens but ${tags.length} tags; expected one tag per token`);
      continue;
    }
    for (let i = 0; i < tokens.length; i++) {
      const token = tokens[i];
      let tag = tags[i];
      if (typeof token !== 'string' || token === '') {
        c.problem(line, `token ${i} is ${JSON.stringify(token)}; expected a non-empty string`);
        break;
      }
      if (typeof tag === 'bigint' || typeof tag === 'number') {
        const id = Number(tag);
        if (!labels || !Number.isInteger(id) || id < 0 || id >= labels.length) {
          c.problem(
            line,
            labels
              ? `tag id ${id} of token ${i} is outside the label list; expected 0..${labels.length - 1}`
              : `tag id ${id} of token ${i} but no label list; expected opts.labels`,
          );
          break;
        }
        tag = labels[id];
      }
      if (typeof tag !== 'string') {
        c.problem(line, `tag of token ${i} is ${JSON.stringify(tag)}; expected an integer id or a tag string`);
        break;
      }
      c.token(token, tag, line);
    }
    c.end();
  }
  return c.finish();
}
