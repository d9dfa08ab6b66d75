/**
 * Bundles the browser tagger (src/web/browser/app.ts and the library modules it imports) with esbuild into
 * lib/web/tagger.js, and copies the page (src/web/page/index.html) beside it; `msd export --format web` copies
 * both into the exported folder. Run by `npm run build` after tsc. esbuild's browser platform refuses Node's
 * modules, so a node-only import reaching the tagger fails this build.
 */
import { build } from 'esbuild';
import { copyFileSync, mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..');
const out = join(root, 'lib', 'web');
mkdirSync(out, { recursive: true });
await build({
  entryPoints: [join(root, 'src', 'web', 'browser', 'app.ts')],
  outfile: join(out, 'tagger.js'),
  bundle: true,
  platform: 'browser',
  format: 'esm',
  target: 'es2020',
  minify: true,
  legalComments: 'linked',
  define: { 'process.env.NODE_ENV': '"production"' },
  logLevel: 'warning',
});
copyFileSync(join(root, 'src', 'web', 'page', 'index.html'), join(out, 'index.html'));
console.log(
  `build-web: lib/web/tagger.js (${(statSync(join(out, 'tagger.js')).size / 1e6).toFixed(2)} MB) and index.html`,
);
