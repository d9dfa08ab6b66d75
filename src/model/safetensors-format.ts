/**
 * The safetensors format (https://github.com/huggingface/safetensors): an 8-byte little-endian header length N,
 * N bytes of JSON `{ name: { dtype, shape, data_offsets: [begin, end] }, "__metadata__"?: { str: str } }`, then
 * the raw little-endian tensor bytes, offsets relative to the end of the header.
 *
 * Files are untrusted input: everything is validated before a byte of tensor data is touched (header within the
 * file, known dtypes, shapes consistent with byte sizes, offsets in bounds, non-overlapping and covering the data
 * without holes, as the reference implementation requires). A bad file is an Error naming the file and the
 * problem, never an out-of-bounds read. Only the tensors asked for are decoded (F64/F32/F16/BF16 -> float32).
 *
 * This module is pure (no Node imports), so the browser tagger (src/web) reads weights with it; the file
 * functions are in safetensors.ts.
 */

/** Bytes per element of every dtype the format defines. Integer and bool tensors are validated but not decoded. */
export const DTYPE_SIZES: Record<string, number> = {
  F64: 8,
  F32: 4,
  F16: 2,
  BF16: 2,
  I64: 8,
  I32: 4,
  I16: 2,
  I8: 1,
  U64: 8,
  U32: 4,
  U16: 2,
  U8: 1,
  BOOL: 1,
  F8_E4M3: 1,
  F8_E5M2: 1,
};
const FLOAT_DTYPES = new Set(['F64', 'F32', 'F16', 'BF16']);
/** The reference implementation refuses headers over 100 MB. */
const MAX_HEADER = 100_000_000;

export interface TensorInfo {
  dtype: string;
  shape: number[];
  /** Absolute byte range in the file. */
  begin: number;
  end: number;
}

export interface SafetensorsFile {
  source: string;
  metadata: Record<string, string>;
  /** Tensor names in file order of their data. */
  names: string[];
  info(name: string): TensorInfo;
  has(name: string): boolean;
  /** Decodes one floating-point tensor to float32 (a fresh copy). */
  getFloat32(name: string): Float32Array;
}

/** A tensor to write: float32 values with their shape. */
export interface TensorToWrite {
  shape: readonly number[];
  data: Float32Array;
}

function fail(source: string, msg: string): never {
  throw new Error(`${source}: invalid safetensors file: ${msg}`);
}

/** One tensor's header entry, checked: dtype, shape, offsets inside the data and matching the shape's size. */
function tensorEntry(source: string, name: string, entry: unknown, dataStart: number, dataLen: number): TensorInfo {
  if (typeof entry !== 'object' || entry === null) fail(source, `tensor "${name}": entry is not an object`);
  const { dtype, shape, data_offsets: offsets } = entry as Record<string, unknown>;
  if (typeof dtype !== 'string' || !(dtype in DTYPE_SIZES))
    fail(source, `tensor "${name}": unknown dtype ${JSON.stringify(dtype)}`);
  if (!Array.isArray(shape) || shape.some((d) => !Number.isSafeInteger(d) || (d as number) < 0)) {
    fail(source, `tensor "${name}": shape must be an array of non-negative integers, got ${JSON.stringify(shape)}`);
  }
  if (
    !Array.isArray(offsets) ||
    offsets.length !== 2 ||
    offsets.some((o) => !Number.isSafeInteger(o) || (o as number) < 0)
  ) {
    fail(source, `tensor "${name}": data_offsets must be two non-negative integers, got ${JSON.stringify(offsets)}`);
  }
  const [b, e] = offsets as number[];
  if (b > e || e > dataLen)
    fail(source, `tensor "${name}": data_offsets [${b}, ${e}] outside the ${dataLen} data bytes`);
  let elems = 1;
  for (const d of shape as number[]) {
    elems *= d;
    if (!Number.isSafeInteger(elems)) fail(source, `tensor "${name}": shape ${JSON.stringify(shape)} is too large`);
  }
  if (elems * DTYPE_SIZES[dtype] !== e - b) {
    fail(
      source,
      `tensor "${name}": shape [${shape}] of ${dtype} needs ${elems * DTYPE_SIZES[dtype]} bytes but data_offsets span ${e - b}`,
    );
  }
  return { dtype, shape: [...(shape as number[])], begin: dataStart + b, end: dataStart + e };
}

/** Parses and validates a safetensors buffer; `source` (the file path) names it in errors. */
export function parseSafetensors(buf: Uint8Array, source = '<buffer>'): SafetensorsFile {
  if (buf.length < 8) fail(source, `${buf.length} bytes is shorter than the 8-byte header length`);
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const n64 = view.getBigUint64(0, true);
  if (n64 > BigInt(buf.length - 8))
    fail(source, `header length ${n64} exceeds the ${buf.length - 8} bytes after it (truncated file?)`);
  const n = Number(n64);
  if (n > MAX_HEADER) fail(source, `header length ${n} exceeds the ${MAX_HEADER}-byte limit`);
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(buf.subarray(8, 8 + n)));
  } catch (err) {
    fail(source, `header is not valid UTF-8 JSON: ${(err as Error).message}`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header))
    fail(source, 'header is not a JSON object');
  const dataStart = 8 + n;
  const dataLen = buf.length - dataStart;
  const tensors = new Map<string, TensorInfo>();
  let metadata: Record<string, string> = {};
  for (const [name, entry] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (
        typeof entry !== 'object' ||
        entry === null ||
        Array.isArray(entry) ||
        Object.values(entry).some((v) => typeof v !== 'string')
      ) {
        fail(source, '__metadata__ must be an object of strings');
      }
      metadata = { ...(entry as Record<string, string>) };
      continue;
    }
    tensors.set(name, tensorEntry(source, name, entry, dataStart, dataLen));
  }
  // Offsets must tile the data exactly: sorted, no overlap, no hole, nothing after the last tensor.
  const ordered = [...tensors.entries()].sort((x, y) => x[1].begin - y[1].begin || x[1].end - y[1].end);
  let at = dataStart;
  for (const [name, t] of ordered) {
    if (t.begin < at) fail(source, `tensor "${name}" overlaps the previous tensor's data`);
    if (t.begin > at) fail(source, `a hole of ${t.begin - at} bytes precedes tensor "${name}"`);
    at = t.end;
  }
  if (at !== buf.length) fail(source, `${buf.length - at} trailing bytes after the last tensor`);

  const info = (name: string): TensorInfo => {
    const t = tensors.get(name);
    if (!t) throw new Error(`${source}: no tensor named "${name}"`);
    return t;
  };
  return {
    source,
    metadata,
    names: ordered.map(([name]) => name),
    has: (name) => tensors.has(name),
    info,
    getFloat32(name) {
      const t = info(name);
      if (!FLOAT_DTYPES.has(t.dtype))
        throw new Error(
          `${source}: tensor "${name}" has dtype ${t.dtype}; only F64/F32/F16/BF16 can be read as float32`,
        );
      return decodeFloat(buf, t);
    },
  };
}

function decodeFloat(buf: Uint8Array, t: TensorInfo): Float32Array {
  const size = DTYPE_SIZES[t.dtype];
  const count = (t.end - t.begin) / size;
  // Copy the bytes into a fresh, aligned buffer: tensor data need not be aligned inside the file. (Not
  // `buf.slice`: on a Node Buffer that is a view of the whole file, not a copy.)
  const bytes = new Uint8Array(t.end - t.begin);
  bytes.set(buf.subarray(t.begin, t.end));
  const le = new DataView(bytes.buffer);
  const out = new Float32Array(count);
  switch (t.dtype) {
    case 'F32':
      if (LITTLE_ENDIAN) return new Float32Array(bytes.buffer, 0, count);
      for (let i = 0; i < count; i++) out[i] = le.getFloat32(i * 4, true);
      return out;
    case 'F64':
      for (let i = 0; i < count; i++) out[i] = le.getFloat64(i * 8, true);
      return out;
    case 'BF16': {
      // bfloat16 is the upper half of a float32.
      const u32 = new Uint32Array(out.buffer);
      for (let i = 0; i < count; i++) u32[i] = le.getUint16(i * 2, true) << 16;
      return out;
    }
    case 'F16':
      for (let i = 0; i < count; i++) out[i] = halfToFloat(le.getUint16(i * 2, true));
      return out;
    default:
      throw new Error(`unreachable dtype ${t.dtype}`);
  }
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** IEEE 754 binary16 -> number (subnormals, infinities and NaN included). */
export function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 0x1f) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

/** A tensor already in its file bytes (little-endian), in any dtype of DTYPE_SIZES. */
export interface RawTensorToWrite {
  dtype: string;
  shape: readonly number[];
  bytes: Uint8Array;
}

/**
 * Serialises tensors given as raw bytes (in the given order) with optional string metadata: the one writer of the
 * format's header, its 8-byte alignment padding and its length prefix.
 */
export function serializeRawSafetensors(
  tensors: Iterable<[string, RawTensorToWrite]>,
  metadata?: Record<string, string>,
): Uint8Array {
  const header: Record<string, unknown> = {};
  if (metadata && Object.keys(metadata).length) header.__metadata__ = metadata;
  const list = [...tensors];
  let offset = 0;
  for (const [name, t] of list) {
    if (!(t.dtype in DTYPE_SIZES)) throw new Error(`serializeSafetensors: "${name}" has unsupported dtype ${t.dtype}`);
    const expected = t.shape.reduce((a, b) => a * b, 1) * DTYPE_SIZES[t.dtype]!;
    if (t.bytes.length !== expected)
      throw new Error(
        `serializeSafetensors: "${name}" has ${t.bytes.length} bytes for ${t.dtype} shape [${t.shape}] (${expected} expected)`,
      );
    if (name === '__metadata__' || name in header)
      throw new Error(`serializeSafetensors: duplicate or reserved name "${name}"`);
    header[name] = { dtype: t.dtype, shape: [...t.shape], data_offsets: [offset, offset + t.bytes.length] };
    offset += t.bytes.length;
  }
  let json = JSON.stringify(header);
  // Pad with spaces so the data starts 8-byte aligned (as the reference writer does).
  json += ' '.repeat((8 - ((8 + new TextEncoder().encode(json).length) % 8)) % 8);
  const headerBytes = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + headerBytes.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerBytes.length), true);
  out.set(headerBytes, 8);
  let at = 8 + headerBytes.length;
  for (const [, t] of list) {
    out.set(t.bytes, at);
    at += t.bytes.length;
  }
  return out;
}

/** Float32 values as little-endian bytes (a view when the machine is little-endian). */
function float32Bytes(data: Float32Array): Uint8Array {
  if (LITTLE_ENDIAN) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  const out = new Uint8Array(data.length * 4);
  const view = new DataView(out.buffer);
  for (let i = 0; i < data.length; i++) view.setFloat32(i * 4, data[i]!, true);
  return out;
}

/** Serialises float32 tensors (in the given order) with optional string metadata. */
export function serializeSafetensors(
  tensors: Iterable<[string, TensorToWrite]>,
  metadata?: Record<string, string>,
): Uint8Array {
  const list = [...tensors];
  for (const [name, t] of list) {
    const expected = t.shape.reduce((a, b) => a * b, 1);
    if (t.data.length !== expected)
      throw new Error(`serializeSafetensors: "${name}" has ${t.data.length} values for shape [${t.shape}]`);
  }
  return serializeRawSafetensors(
    list.map(([name, t]) => [name, { dtype: 'F32', shape: t.shape, bytes: float32Bytes(t.data) }]),
    metadata,
  );
}
