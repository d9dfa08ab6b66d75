/**
 * Bundles the browser tagger (src/web/browser/app.ts and the library modules it imports) with esbuild into
 * lib/web/tagger.js, and copies the page (src/web/page/index.html) beside it; `msd export --format web` copies
 * both into the exported folder. Run by `npm run build` after tsc. esbuild's browser platform refuses Node's
 * modules, so a node-only import reaching the tagger fails this build, except from the modules in NODE_STUBBED:
 * there the import is replaced by a stub that throws if called (test/web/export-web.test.ts runs the page, so a
 * call on the page's path would fail that test).
 */
import { build, type Plugin } from 'esbuild';
import { copyFileSync, mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..');

/**
 * Modules the tagger reaches only for a value that needs no Node: src/model/heads.ts reads the default head layer from
 * src/config.ts, which imports src/json.ts (config files, node:fs) for functions the page never calls.
 */
const NODE_STUBBED = [join(root, 'src', 'json.ts')];

const nodeStubs: Plugin = {
  name: 'node-stubs',
  setup(b) {
    b.onResolve({ filter: /^node:/ }, (args) =>
      NODE_STUBBED.includes(args.importer)
        ? { path: args.path, namespace: 'node-stub' }
        : {
            errors: [
              { text: `${args.importer} imports ${args.path}: the browser tagger must not reach Node's modules` },
            ],
          },
    );
    b.onLoad({ filter: /.*/, namespace: 'node-stub' }, (args) => ({
      contents: `const no = () => { throw new Error('${args.path} is not available in the browser'); }; export const readFileSync = no; export default {};`,
      loader: 'js',
    }));
  },
};
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
  plugins: [nodeStubs],
});
copyFileSync(join(root, 'src', 'web', 'page', 'index.html'), join(out, 'index.html'));
console.log(
  `build-web: lib/web/tagger.js (${(statSync(join(out, 'tagger.js')).size / 1e6).toFixed(2)} MB) and index.html`,
);
