/**
 * 2-D projections of [CLS] vectors for the paper's Figure 2 (t-SNE of 100 source + 100 target sentences, teacher
 * and student side by side).
 *
 *   const xy = project2d(vectors, { method: 't-sne', seed: 1 });     // [x, y] per input row
 *
 * The projections come from DruidJS (`@saehrimnir/druidjs`): one maintained library with t-SNE, UMAP and PCA
 * behind the same call, seeded (its own RNG takes `seed`, so the same seed gives the same picture), plain JS with a
 * CommonJS build (loaded lazily through `require`, so importing this library stays fast and works from tslab).
 */
import { createRequire } from 'node:module';

export type ProjectionMethod = 't-sne' | 'umap' | 'pca';

export interface ProjectOptions {
  method?: ProjectionMethod;
  /** Seed of the projection's initialisation (default 1). */
  seed?: number;
  /** t-SNE perplexity (default min(30, (n - 1) / 3)). */
  perplexity?: number;
  /** t-SNE iterations (default 500). */
  iterations?: number;
  /** UMAP neighbourhood size (default min(15, n - 1)). */
  neighbors?: number;
}

type Druid = {
  TSNE: new (
    X: number[][],
    p: Record<string, unknown>,
  ) => { transform(iterations?: number): ArrayLike<ArrayLike<number>> };
  UMAP: new (
    X: number[][],
    p: Record<string, unknown>,
  ) => { transform(iterations?: number): ArrayLike<ArrayLike<number>> };
  PCA: { transform(X: number[][], p: Record<string, unknown>): ArrayLike<ArrayLike<number>> };
};

let druid: Druid | undefined;
function loadDruid(): Druid {
  druid ??= createRequire(import.meta.url)('@saehrimnir/druidjs') as Druid;
  return druid;
}

/** Projects rows of `vectors` (all the same width) to 2-D; returns one [x, y] per row, in input order. */
export function project2d(
  vectors: readonly (readonly number[] | Float32Array)[],
  opts: ProjectOptions = {},
): [number, number][] {
  const method = opts.method ?? 't-sne';
  const n = vectors.length;
  if (n < 3) throw new Error(`project2d: ${n} vector(s) given; expected at least 3`);
  const dim = vectors[0]!.length;
  const X = vectors.map((v, i) => {
    if (v.length !== dim)
      throw new Error(`project2d: row ${i} has width ${v.length}, row 0 has ${dim}; expected equal widths`);
    const row = Array.from(v as ArrayLike<number>);
    if (row.some((x) => !Number.isFinite(x))) throw new Error(`project2d: row ${i} holds a NaN or infinite value`);
    return row;
  });
  const seed = opts.seed ?? 1;
  const d = loadDruid();
  let Y: ArrayLike<ArrayLike<number>>;
  if (method === 't-sne') {
    const perplexity = opts.perplexity ?? Math.max(1, Math.min(30, Math.floor((n - 1) / 3)));
    Y = new d.TSNE(X, { d: 2, seed, perplexity }).transform(opts.iterations ?? 500);
  } else if (method === 'umap') {
    const n_neighbors = opts.neighbors ?? Math.max(2, Math.min(15, n - 1));
    Y = new d.UMAP(X, { d: 2, seed, n_neighbors }).transform(opts.iterations ?? 350);
  } else if (method === 'pca') {
    Y = d.PCA.transform(X, { d: 2, seed });
  } else {
    throw new Error(`project2d: method ${JSON.stringify(method)} is not one of 't-sne', 'umap', 'pca'`);
  }
  const out = Array.from({ length: n }, (_, i) => [Number(Y[i]![0]), Number(Y[i]![1])] as [number, number]);
  if (out.some(([x, y]) => !Number.isFinite(x) || !Number.isFinite(y)))
    throw new Error(`project2d: ${method} produced a non-finite coordinate`);
  return out;
}
