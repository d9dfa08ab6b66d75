/**
 * The backends msd-ner can run on, best first: the one list that initBackend's order, the `BackendName` type, the
 * config's `run.backend` check and the error messages derive from. A file of its own, free of imports, so that
 * config.ts can use it without loading TensorFlow.js.
 */
export const BACKEND_NAMES = ['gpu', 'native', 'blas', 'wasm', 'cpu'] as const;

export type BackendName = (typeof BACKEND_NAMES)[number];
