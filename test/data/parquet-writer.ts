/**
 * A minimal parquet writer for the tests (hyparquet only reads, and hyparquet-writer is not a dependency): one row
 * group, one uncompressed-or-gzip PLAIN data page (v1) per column, written as the Hugging Face Hub writes its
 * `Sequence` columns:
 *
 *   required group <name> (LIST) { repeated group list { required <type> element; } }
 *
 * so each value has repetition level 0 (first of a row) or 1 (continuing the list) and definition level 1, and an
 * empty list is one entry with definition level 0. Levels are RLE/bit-packed hybrid runs of bit width 1 behind a
 * 4-byte length. The footer is FileMetaData in the Thrift compact protocol.
 */
import { gzipSync } from 'node:zlib';

type ListColumn =
  { name: string; kind: 'string'; rows: string[][] } | { name: string; kind: 'int64'; rows: number[][] };

class Bytes {
  private buf = new Uint8Array(1024);
  private n = 0;
  private room(k: number): void {
    if (this.n + k <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.n + k) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.n));
    this.buf = next;
  }
  byte(b: number): this {
    this.room(1);
    this.buf[this.n++] = b & 0xff;
    return this;
  }
  bytes(b: Uint8Array | number[]): this {
    this.room(b.length);
    this.buf.set(b, this.n);
    this.n += b.length;
    return this;
  }
  varint(n: number | bigint): this {
    let v = BigInt(n);
    while (v >= 0x80n) {
      this.byte(Number((v & 0x7fn) | 0x80n));
      v >>= 7n;
    }
    this.byte(Number(v));
    return this;
  }
  u32le(n: number): this {
    return this.bytes([n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, (n >>> 24) & 0xff]);
  }
  i64le(n: number): this {
    this.room(8);
    new DataView(this.buf.buffer).setBigInt64(this.n, BigInt(n), true);
    this.n += 8;
    return this;
  }
  get length(): number {
    return this.n;
  }
  done(): Uint8Array {
    return this.buf.slice(0, this.n);
  }
}

// Thrift compact protocol.
const T = { I32: 5, I64: 6, BINARY: 8, LIST: 9, STRUCT: 12 } as const;
type Field = [id: number, type: number, value: unknown, elemType?: number];

function zigzag(n: number | bigint): bigint {
  const v = BigInt(n);
  return v >= 0n ? v << 1n : (-v << 1n) - 1n;
}

function writeValue(out: Bytes, type: number, value: unknown, elemType?: number): void {
  switch (type) {
    case T.I32:
    case T.I64:
      out.varint(zigzag(value as number));
      return;
    case T.BINARY: {
      const b = typeof value === 'string' ? new TextEncoder().encode(value) : (value as Uint8Array);
      out.varint(b.length).bytes(b);
      return;
    }
    case T.LIST: {
      const items = value as unknown[];
      if (items.length < 15) out.byte((items.length << 4) | elemType!);
      else out.byte(0xf0 | elemType!).varint(items.length);
      for (const item of items) writeValue(out, elemType!, item, undefined);
      return;
    }
    case T.STRUCT:
      writeStruct(out, value as Field[]);
      return;
  }
}

function writeStruct(out: Bytes, fields: Field[]): void {
  let last = 0;
  for (const [id, type, value, elemType] of fields) {
    if (value === undefined) continue;
    out.byte(((id - last) << 4) | type);
    last = id;
    writeValue(out, type, value, elemType);
  }
  out.byte(0);
}

/** RLE runs (bit width 1) of a level sequence, behind their 4-byte length. */
function levels(values: number[]): Uint8Array {
  const runs = new Bytes();
  for (let i = 0; i < values.length;) {
    let j = i;
    while (j < values.length && values[j] === values[i]) j++;
    runs.varint((j - i) << 1).byte(values[i]!);
    i = j;
  }
  return new Bytes().u32le(runs.length).bytes(runs.done()).done();
}

export interface WriteOptions {
  gzip?: boolean;
  /** Extra key-value metadata, e.g. `huggingface` features JSON. */
  keyValues?: { key: string; value: string }[];
}

/** A parquet file with the given list columns (all with the same number of rows). */
export function writeListParquet(columns: ListColumn[], opts: WriteOptions = {}): Uint8Array {
  const numRows = columns[0]!.rows.length;
  const file = new Bytes().bytes(new TextEncoder().encode('PAR1'));
  const chunks: Field[][] = [];
  for (const col of columns) {
    const rep: number[] = [];
    const def: number[] = [];
    const values = new Bytes();
    for (const row of col.rows as (string | number)[][]) {
      if (row.length === 0) {
        rep.push(0);
        def.push(0);
        continue;
      }
      row.forEach((v, i) => {
        rep.push(i === 0 ? 0 : 1);
        def.push(1);
        if (col.kind === 'string') {
          const b = new TextEncoder().encode(v as string);
          values.u32le(b.length).bytes(b);
        } else {
          values.i64le(v as number);
        }
      });
    }
    const page = new Bytes().bytes(levels(rep)).bytes(levels(def)).bytes(values.done()).done();
    const body = opts.gzip ? new Uint8Array(gzipSync(page)) : page;
    const header = new Bytes();
    writeStruct(header, [
      [1, T.I32, 0], // DATA_PAGE
      [2, T.I32, page.length],
      [3, T.I32, body.length],
      [
        5,
        T.STRUCT,
        [
          [1, T.I32, rep.length], // num_values (level entries, empty lists included)
          [2, T.I32, 0], // PLAIN
          [3, T.I32, 3], // RLE definition levels
          [4, T.I32, 3], // RLE repetition levels
        ],
      ],
    ]);
    const offset = file.length;
    const h = header.done();
    file.bytes(h).bytes(body);
    chunks.push([
      [2, T.I64, offset],
      [
        3,
        T.STRUCT,
        [
          [1, T.I32, col.kind === 'string' ? 6 : 2], // BYTE_ARRAY | INT64
          [2, T.LIST, [0, 3], T.I32], // encodings PLAIN, RLE
          [3, T.LIST, [col.name, 'list', 'element'], T.BINARY],
          [4, T.I32, opts.gzip ? 2 : 0], // GZIP | UNCOMPRESSED
          [5, T.I64, rep.length],
          [6, T.I64, h.length + page.length],
          [7, T.I64, h.length + body.length],
          [9, T.I64, offset],
        ],
      ],
    ]);
  }
  const schema: Field[][] = [
    [
      [4, T.BINARY, 'schema'],
      [5, T.I32, columns.length],
    ],
  ];
  for (const col of columns) {
    schema.push([
      [3, T.I32, 0],
      [4, T.BINARY, col.name],
      [5, T.I32, 1],
      [6, T.I32, 3],
    ]); // required, LIST
    schema.push([
      [3, T.I32, 2],
      [4, T.BINARY, 'list'],
      [5, T.I32, 1],
    ]); // repeated
    schema.push(
      col.kind === 'string'
        ? [
            [1, T.I32, 6],
            [3, T.I32, 0],
            [4, T.BINARY, 'element'],
            [6, T.I32, 0],
          ] // BYTE_ARRAY UTF8
        : [
            [1, T.I32, 2],
            [3, T.I32, 0],
            [4, T.BINARY, 'element'],
          ], // INT64
    );
  }
  const meta = new Bytes();
  writeStruct(meta, [
    [1, T.I32, 1],
    [2, T.LIST, schema, T.STRUCT],
    [3, T.I64, numRows],
    [
      4,
      T.LIST,
      [
        [
          [1, T.LIST, chunks, T.STRUCT],
          [2, T.I64, file.length - 4],
          [3, T.I64, numRows],
        ],
      ],
      T.STRUCT,
    ],
    [
      5,
      T.LIST,
      opts.keyValues?.map((kv) => [
        [1, T.BINARY, kv.key],
        [2, T.BINARY, kv.value],
      ]),
      T.STRUCT,
    ],
  ]);
  const m = meta.done();
  return file.bytes(m).u32le(m.length).bytes(new TextEncoder().encode('PAR1')).done();
}
