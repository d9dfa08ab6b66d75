/** mulberry32 from the library: the same seed gives the same cases. */
import { mulberry32 } from '../../src/rng.js';
export const rng = mulberry32;
/** Seeded random data and float64 reference computations for the loss tests (plain JS numbers, no tfjs). */

/** n standard-normal numbers (Box-Muller), rounded to float32 so tfjs sees exactly the same inputs. */
export function randn(n: number, seed: number, scale = 1, shift = 0): number[] {
  const r = rng(seed);
  const out: number[] = [];
  while (out.length < n) {
    const u = Math.max(r(), 1e-12);
    const v = r();
    const mag = Math.sqrt(-2 * Math.log(u));
    out.push(mag * Math.cos(2 * Math.PI * v), mag * Math.sin(2 * Math.PI * v));
  }
  return out.slice(0, n).map((x) => Math.fround(x * scale + shift));
}

export function rows(flat: readonly number[], width: number): number[][] {
  const out: number[][] = [];
  for (let i = 0; i < flat.length; i += width) out.push(flat.slice(i, i + width));
  return out;
}

export function softmax64(z: readonly number[]): number[] {
  const max = Math.max(...z);
  const e = z.map((x) => Math.exp(x - max));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((x) => x / s);
}

/** Mean cross-entropy over rows whose label is not -100 (0 when none). */
export function crossEntropy64(logitRows: number[][], labels: readonly number[]): number {
  let sum = 0;
  let count = 0;
  logitRows.forEach((z, i) => {
    if (labels[i] === -100) return;
    sum -= Math.log(softmax64(z)[labels[i]]);
    count++;
  });
  return count === 0 ? 0 : sum / count;
}

/** nn.MSELoss(reduction='mean') between softmax(student rows) and teacher rows, over masked rows (0 when none). */
export function kdMse64(teacherRows: number[][], studentLogitRows: number[][], mask: readonly number[]): number {
  let sum = 0;
  let count = 0;
  studentLogitRows.forEach((z, i) => {
    if (!mask[i]) return;
    const p = softmax64(z);
    sum += p.reduce((acc, pc, c) => acc + (pc - teacherRows[i][c]) ** 2, 0) / p.length;
    count++;
  });
  return count === 0 ? 0 : sum / count;
}

export interface Mmd64Options {
  kernelNum?: number;
  kernelMul?: number;
  fixedBandwidth?: number;
  bandwidths?: number[];
  unbiased?: boolean;
}

/** MMD^2 in float64, written from the definition (pooled-distance bandwidth / mul^floor(Q/2) * mul^q). */
export function mmd64(x: number[][], y: number[][], opts: Mmd64Options = {}): number {
  const z = [...x, ...y];
  const N = z.length;
  const d2 = (a: number[], b: number[]) => a.reduce((s, ai, k) => s + (ai - b[k]) ** 2, 0);
  const D = z.map((a) => z.map((b) => d2(a, b)));
  let widths: number[];
  if (opts.bandwidths) widths = opts.bandwidths;
  else {
    const q = opts.kernelNum ?? 5;
    const mul = opts.kernelMul ?? 2;
    let base = opts.fixedBandwidth;
    if (base === undefined) {
      let s = 0;
      for (let i = 0; i < N; i++) for (let j = 0; j < N; j++) if (i !== j) s += D[i][j];
      base = s / (N * (N - 1));
    }
    base /= mul ** Math.floor(q / 2);
    widths = Array.from({ length: q }, (_, i) => base! * mul ** i);
  }
  const k = (i: number, j: number) => widths.reduce((s, w) => s + Math.exp(-D[i][j] / w), 0);
  const n = x.length;
  const m = y.length;
  const block = (i0: number, i1: number, j0: number, j1: number, skipDiag: boolean) => {
    let s = 0;
    let c = 0;
    for (let i = i0; i < i1; i++)
      for (let j = j0; j < j1; j++) {
        if (skipDiag && i === j) continue;
        s += k(i, j);
        c++;
      }
    return s / c;
  };
  const u = opts.unbiased ?? false;
  return block(0, n, 0, n, u) + block(n, N, n, N, u) - 2 * block(0, n, n, N, false);
}
