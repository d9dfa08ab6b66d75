// Makes `import ... from 'msd-ner'` type-check inside this checkout for tools that do not know Node's package
// self-reference: tslab type-checks notebook cells with TypeScript's `node10` module resolution, which only looks in
// node_modules. Writes node_modules/msd-ner/package.json, a stub whose `types`/`main` point at this checkout's lib/
// (relative, so a moved or copied checkout keeps working). Not a symlink to the checkout: that would put the
// checkout inside its own node_modules, a cycle for every tool that walks node_modules. At run time Node resolves
// 'msd-ner' through the package's own "exports" (self-reference) before it looks in node_modules.
// Run by `npm ci`/`npm install` (the `prepare` script) and by kernel-setup/run-notebooks.ts.
import { lstatSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const stub = join(root, 'node_modules', 'msd-ner');
// The subpath exports (msd-ner/viz, ...): node10 resolution ignores "exports", but reads "typesVersions", so each
// subpath's types are mapped there, derived from package.json so that the list has one home.
const { exports } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const typesVersions = {};
for (const [sub, target] of Object.entries(exports)) {
  if (sub === '.' || typeof target !== 'object') continue;
  typesVersions[sub.slice(2)] = [join('..', '..', target.types)];
}
const pkg = `${JSON.stringify(
  {
    name: 'msd-ner',
    private: true,
    description: 'stub written by kernel-setup/self-link.mjs: the checkout two levels up, for node10 module resolution',
    main: '../../lib/index.js',
    types: '../../lib/index.d.ts',
    typesVersions: { '*': typesVersions },
  },
  null,
  2,
)}\n`;
try {
  if (lstatSync(stub).isSymbolicLink()) rmSync(stub); // an older setup linked the checkout itself
} catch {
  // not there yet
}
let current = '';
try {
  current = readFileSync(join(stub, 'package.json'), 'utf8');
} catch {
  // not there yet
}
if (current !== pkg) {
  mkdirSync(stub, { recursive: true });
  rmSync(join(stub, 'package.json'), { force: true }); // a new file, not one hard-linked into another checkout
  writeFileSync(join(stub, 'package.json'), pkg);
}
