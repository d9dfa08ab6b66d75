/**
 * Exactly one copy of @tensorflow/tfjs-core may exist in the installed tree: two copies each keep their own engine,
 * and tensors made by one (e.g. inside danfojs-node) are then unknown to the other's backend.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { createRequire } from 'node:module';

function findPackages(dir: string, name: string, found: string[] = [], depth = 0): string[] {
  if (depth > 12 || !existsSync(dir)) return found;
  for (const entry of readdirSync(dir)) {
    if (entry.startsWith('.')) continue;
    const full = join(dir, entry);
    if (entry.startsWith('@')) {
      findPackages(full, name, found, depth);
      continue;
    }
    if (!statSync(full).isDirectory()) continue;
    const pj = join(full, 'package.json');
    if (existsSync(pj)) {
      try {
        if ((JSON.parse(readFileSync(pj, 'utf8')) as { name?: string }).name === name) found.push(full);
      } catch {
        /* not a package */
      }
    }
    findPackages(join(full, 'node_modules'), name, found, depth + 1);
  }
  return found;
}

test('one copy of @tensorflow/tfjs-core in node_modules', () => {
  const copies = findPackages('node_modules', '@tensorflow/tfjs-core');
  assert.deepEqual(copies, [join('node_modules', '@tensorflow', 'tfjs-core')], `copies: ${copies.join(', ')}`);
});

test('danfojs-node resolves the same tfjs-core as the library', () => {
  const root = createRequire(join(process.cwd(), 'package.json'));
  const danfoDir = join(root.resolve('danfojs-node/package.json'), '..');
  const fromDanfo = createRequire(join(danfoDir, 'package.json'));
  const tfjsNodeForDanfo = fromDanfo.resolve('@tensorflow/tfjs-node/package.json');
  const coreForDanfo = createRequire(tfjsNodeForDanfo).resolve('@tensorflow/tfjs-core');
  assert.equal(coreForDanfo, root.resolve('@tensorflow/tfjs-core'));
});
