import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  halfToFloat,
  parseSafetensors,
  readSafetensors,
  serializeSafetensors,
  writeSafetensors,
} from '../../src/model/safetensors.js';
import { mulberry32 } from '../../src/model/random.js';

/** Builds a safetensors buffer by hand from a header object and raw data bytes. */
function build(header: unknown, data: Uint8Array, headerText?: string): Uint8Array {
  const json = new TextEncoder().encode(headerText ?? JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

function sample(): Uint8Array {
  const a = Float32Array.from({ length: 6 }, (_, i) => i * 0.5 - 1);
  const b = Float32Array.from([Math.PI, -0, 1e-30, 3e38]);
  return serializeSafetensors(
    [
      ['a', { shape: [2, 3], data: a }],
      ['b.c', { shape: [4], data: b }],
    ],
    { format: 'pt' },
  );
}

test('write + read round-trips float32 bit-exactly, with metadata and 8-byte aligned data', () => {
  const dir = mkdtempSync(join(tmpdir(), 'st-'));
  const rand = mulberry32(7);
  const x = Float32Array.from({ length: 37 }, () => rand() * 2 - 1);
  writeSafetensors(
    join(dir, 'x.safetensors'),
    [
      ['x', { shape: [37], data: x }],
      ['empty', { shape: [0, 3], data: new Float32Array(0) }],
    ],
    { k: 'v' },
  );
  const buf = readFileSync(join(dir, 'x.safetensors'));
  assert.equal(Number(buf.readBigUInt64LE(0)) % 8, 0);
  const f = readSafetensors(join(dir, 'x.safetensors'));
  assert.deepEqual(f.metadata, { k: 'v' });
  assert.deepEqual(f.info('x').shape, [37]);
  assert.deepEqual(f.getFloat32('x'), x);
  assert.deepEqual(f.getFloat32('empty'), new Float32Array(0));
});

test('F16, BF16 and F64 are decoded to float32 (unaligned offsets too)', () => {
  const f16 = [0x3c00, 0xc000, 0x7bff, 0x0001, 0x7c00, 0x8000]; // 1, -2, 65504, 2^-24, inf, -0
  const bf16Values = [1.5, -3.25, 1e20];
  const bf16 = bf16Values.map((v) => new Uint32Array(new Float32Array([v]).buffer)[0] >>> 16);
  const f64 = [Math.E, -1e-3];
  const data = new Uint8Array(f16.length * 2 + bf16.length * 2 + f64.length * 8);
  const dv = new DataView(data.buffer);
  f16.forEach((h, i) => dv.setUint16(i * 2, h, true));
  bf16.forEach((h, i) => dv.setUint16(12 + i * 2, h, true));
  f64.forEach((v, i) => dv.setFloat64(18 + i * 8, v, true));
  // Header length 3 mod 8 puts every tensor at an unaligned file offset.
  const header = {
    h: { dtype: 'F16', shape: [6], data_offsets: [0, 12] },
    b: { dtype: 'BF16', shape: [3], data_offsets: [12, 18] },
    d: { dtype: 'F64', shape: [2], data_offsets: [18, 34] },
  };
  const f = parseSafetensors(build(header, data));
  assert.deepEqual([...f.getFloat32('h')], [1, -2, 65504, 2 ** -24, Infinity, -0]);
  const b = f.getFloat32('b');
  assert.deepEqual([b[0], b[1]], [1.5, -3.25]); // exact in bfloat16
  assert.ok(Math.abs(b[2] - 1e20) / 1e20 < 2 ** -7, `${b[2]}`); // truncated to 8 significant bits
  assert.deepEqual(
    [...f.getFloat32('d')],
    f64.map((v) => Math.fround(v)),
  );
  assert.ok(Number.isNaN(halfToFloat(0x7e00)));
});

test('integer tensors are validated but not decoded as floats', () => {
  const f = parseSafetensors(build({ ids: { dtype: 'I64', shape: [2], data_offsets: [0, 16] } }, new Uint8Array(16)));
  assert.deepEqual(f.names, ['ids']);
  assert.throws(() => f.getFloat32('ids'), /dtype I64; only F64\/F32\/F16\/BF16/);
});

const f32 = (shape: number[], begin: number, end: number) => ({ dtype: 'F32', shape, data_offsets: [begin, end] });
const bad: [string, () => Uint8Array, RegExp][] = [
  ['shorter than 8 bytes', () => new Uint8Array(5), /shorter than the 8-byte header length/],
  [
    'header length beyond the file',
    () => {
      const b = sample();
      new DataView(b.buffer).setBigUint64(0, BigInt(b.length), true);
      return b;
    },
    /exceeds the .* bytes after it/,
  ],
  [
    'header length 2^64-1',
    () => {
      const b = sample();
      new DataView(b.buffer).setBigUint64(0, 0xffffffffffffffffn, true);
      return b;
    },
    /exceeds/,
  ],
  ['header not JSON', () => build(null, new Uint8Array(0), '{"a": '), /not valid UTF-8 JSON/],
  [
    'header not UTF-8',
    () => build(null, new Uint8Array(0), '{}').map((v, i) => (i === 8 ? 0xff : v)),
    /not valid UTF-8 JSON/,
  ],
  ['header an array', () => build([], new Uint8Array(0)), /not a JSON object/],
  [
    'unknown dtype',
    () => build({ a: { dtype: 'F128', shape: [1], data_offsets: [0, 16] } }, new Uint8Array(16)),
    /unknown dtype "F128"/,
  ],
  [
    'negative dimension',
    () => build({ a: f32([-1], 0, 4) }, new Uint8Array(4)),
    /shape must be an array of non-negative integers/,
  ],
  [
    'fractional offset',
    () => build({ a: f32([1], 0.5, 4) }, new Uint8Array(4)),
    /data_offsets must be two non-negative integers/,
  ],
  ['offsets out of bounds', () => build({ a: f32([2], 0, 8) }, new Uint8Array(4)), /outside the 4 data bytes/],
  ['begin after end', () => build({ a: f32([0], 4, 0) }, new Uint8Array(4)), /outside/],
  [
    'shape inconsistent with size',
    () => build({ a: f32([3], 0, 8) }, new Uint8Array(8)),
    /needs 12 bytes but data_offsets span 8/,
  ],
  ['huge shape', () => build({ a: f32([2 ** 40, 2 ** 40], 0, 4) }, new Uint8Array(4)), /too large|needs/],
  ['overlapping tensors', () => build({ a: f32([2], 0, 8), b: f32([2], 4, 12) }, new Uint8Array(12)), /overlaps/],
  ['a hole', () => build({ a: f32([1], 0, 4), b: f32([1], 8, 12) }, new Uint8Array(12)), /hole of 4 bytes/],
  ['trailing bytes', () => build({ a: f32([1], 0, 4) }, new Uint8Array(8)), /4 trailing bytes/],
  [
    'bad metadata',
    () => build({ __metadata__: { a: 1 } }, new Uint8Array(0)),
    /__metadata__ must be an object of strings/,
  ],
  ['entry not an object', () => build({ a: 3 }, new Uint8Array(0)), /entry is not an object/],
];
for (const [what, make, re] of bad) {
  test(`rejects a file with ${what}`, () => {
    assert.throws(
      () => parseSafetensors(make(), 'bad.safetensors'),
      (err: Error) => err.message.startsWith('bad.safetensors: invalid safetensors file') && re.test(err.message),
    );
  });
}

/** A bad file must give our Error, never a RangeError/TypeError from reading out of bounds. */
function parsesOrRejectsCleanly(buf: Uint8Array): 'ok' | 'rejected' {
  try {
    const f = parseSafetensors(buf, 'fuzz');
    for (const n of f.names) {
      const info = f.info(n);
      if (['F32', 'F16', 'BF16', 'F64'].includes(info.dtype)) {
        const v = f.getFloat32(n);
        assert.equal(
          v.length,
          info.shape.reduce((a, b) => a * b, 1),
        );
      }
    }
    return 'ok';
  } catch (err) {
    assert.ok(
      err instanceof Error && /^fuzz: invalid safetensors file: /.test(err.message),
      `unexpected failure: ${(err as Error).stack}`,
    );
    return 'rejected';
  }
}

test('fuzz: every truncation of a valid file is rejected cleanly', () => {
  const full = sample();
  assert.equal(parsesOrRejectsCleanly(full), 'ok');
  for (let n = 0; n < full.length; n++)
    assert.equal(parsesOrRejectsCleanly(full.subarray(0, n)), 'rejected', `prefix of ${n} bytes`);
});

test('fuzz: random byte corruptions never crash or read out of bounds', () => {
  const full = sample();
  const rand = mulberry32(12345);
  const outcomes = { ok: 0, rejected: 0 };
  for (let trial = 0; trial < 3000; trial++) {
    const buf = full.slice();
    const flips = 1 + Math.floor(rand() * 4);
    for (let k = 0; k < flips; k++) {
      // Bias corruption towards the header, where the structure lives.
      const at = rand() < 0.8 ? Math.floor(rand() * Math.min(buf.length, 8 + 120)) : Math.floor(rand() * buf.length);
      buf[at] = rand() < 0.5 ? Math.floor(rand() * 256) : '0123456789[]{},:"'.charCodeAt(Math.floor(rand() * 17));
    }
    outcomes[parsesOrRejectsCleanly(buf)]++;
  }
  assert.ok(outcomes.rejected > 1000, JSON.stringify(outcomes));
});

test('serializeRawSafetensors: tensors of any dtype as bytes, 8-byte aligned data; the float32 writer is the same file', async () => {
  const { serializeRawSafetensors } = await import('../../src/model/safetensors-format.js');
  const half = new Uint8Array(new Uint16Array([0x3c00, 0xc000, 0x0000]).buffer); // 1, -2, 0 as F16
  const f32 = new Float32Array([0.5, -1.25]);
  const buf = serializeRawSafetensors(
    [
      ['h', { dtype: 'F16', shape: [3], bytes: half }],
      ['f', { dtype: 'F32', shape: [2], bytes: new Uint8Array(f32.buffer) }],
    ],
    { note: 'x' },
  );
  const headerLength = Number(new DataView(buf.buffer).getBigUint64(0, true));
  assert.equal((8 + headerLength) % 8, 0, 'data starts 8-byte aligned');
  const st = parseSafetensors(buf);
  assert.deepEqual(st.metadata, { note: 'x' });
  assert.deepEqual(Array.from(st.getFloat32('h')), [1, -2, 0]);
  assert.deepEqual(Array.from(st.getFloat32('f')), [0.5, -1.25]);
  assert.deepEqual(
    serializeSafetensors([['f', { shape: [2], data: f32 }]], { note: 'x' }),
    serializeRawSafetensors([['f', { dtype: 'F32', shape: [2], bytes: new Uint8Array(f32.buffer) }]], { note: 'x' }),
  );
  assert.throws(
    () => serializeRawSafetensors([['h', { dtype: 'F16', shape: [4], bytes: half }]]),
    /"h" has 6 bytes for F16 shape \[4\] \(8 expected\)/,
  );
  assert.throws(
    () => serializeRawSafetensors([['q', { dtype: 'Q4', shape: [1], bytes: half }]]),
    /unsupported dtype Q4/,
  );
});
