/**
 * danfojs-node, loaded once and on first use: it is CommonJS and takes about two seconds to load, and most users of
 * the library never build a DataFrame, so it is required lazily (createRequire rather than a static import). It
 * shares the library's tfjs-core (the package's overrides), so its frames and our tensors live in one engine.
 */
import { createRequire } from 'node:module';

let danfo: typeof import('danfojs-node') | undefined;

export function loadDanfo(): typeof import('danfojs-node') {
  danfo ??= createRequire(import.meta.url)('danfojs-node') as typeof import('danfojs-node');
  return danfo;
}
