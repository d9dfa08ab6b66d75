// Makes `import ... from 'msd-ner'` resolve inside this checkout for tools that do not know Node's package
// self-reference: tslab type-checks notebook cells with TypeScript's `node10` module resolution, which only looks in
// node_modules. Creates node_modules/msd-ner -> .. (a relative link, so a moved or copied checkout keeps working).
// Run by `npm ci`/`npm install` (the `prepare` script) and by kernel-setup/run-notebooks.ts.
import { lstatSync, mkdirSync, readlinkSync, rmSync, symlinkSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const link = join(root, 'node_modules', 'msd-ner');
let current;
try {
  current = lstatSync(link).isSymbolicLink() ? readlinkSync(link) : 'not a link';
} catch {
  current = undefined;
}
if (current !== '..') {
  if (current !== undefined) rmSync(link, { recursive: true, force: true });
  mkdirSync(dirname(link), { recursive: true });
  symlinkSync('..', link, 'dir');
}
