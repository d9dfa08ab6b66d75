/**
 * No function in src/ runs over 80 lines (issue 20, item 8): a longer one is read as several roles in one closure.
 * A function may stay longer only when listed below with the reason; the list is checked both ways (an entry that is
 * no longer long, or no longer there, fails too, so it cannot go stale).
 *
 * Lines are counted from the line of the function's first token to the line of its last, comments inside included.
 * Every function-like node counts: declarations, methods, constructors, accessors, arrow functions and function
 * expressions, nested ones on their own (an inner closure is named outer/inner, a method Class/method).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import ts from 'typescript';

const root = join(import.meta.dirname, '..', '..');
export const MAX_LINES = 80;

/** `file:name` -> why it stays longer than MAX_LINES. */
const ALLOWED: Record<string, string> = {
  // Listed so that any other long function fails; remove an entry when its function is split (a stale one fails).
};

interface LongFunction {
  key: string;
  lines: number;
  at: string;
}

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    if (statSync(p).isDirectory()) return sources(p);
    return p.endsWith('.ts') && !p.endsWith('.d.ts') ? [p] : [];
  });
}

function nameOf(n: ts.FunctionLikeDeclaration): string {
  if (ts.isConstructorDeclaration(n)) return 'constructor';
  if (n.name) return n.name.getText();
  const p = n.parent;
  if (ts.isVariableDeclaration(p) || ts.isPropertyAssignment(p) || ts.isPropertyDeclaration(p)) return p.name.getText();
  if (ts.isCallExpression(p)) return `${p.expression.getText().slice(0, 40)}(callback)`;
  return '<anonymous>';
}

/** Every function-like node in src/ longer than MAX_LINES. */
export function longFunctions(dir = join(root, 'src')): LongFunction[] {
  const out: LongFunction[] = [];
  for (const file of sources(dir)) {
    const rel = relative(dir.startsWith(root) ? root : dir, file);
    const sf = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true);
    const visit = (n: ts.Node, outer: string): void => {
      let name = outer;
      if (ts.isClassLike(n) && n.name) name = outer ? `${outer}/${n.name.text}` : n.name.text;
      if (ts.isFunctionLike(n) && 'body' in n && n.body) {
        const f = n as ts.FunctionLikeDeclaration;
        name = outer ? `${outer}/${nameOf(f)}` : nameOf(f);
        const first = sf.getLineAndCharacterOfPosition(f.getStart(sf)).line;
        const last = sf.getLineAndCharacterOfPosition(f.getEnd()).line;
        if (last - first + 1 > MAX_LINES)
          out.push({ key: `${rel}:${name}`, lines: last - first + 1, at: `${rel}:${first + 1}` });
      }
      ts.forEachChild(n, (c) => visit(c, name));
    };
    visit(sf, '');
  }
  return out;
}

test(`no function in src/ over ${MAX_LINES} lines but the listed ones`, () => {
  const long = longFunctions();
  const unlisted = long.filter((f) => !(f.key in ALLOWED));
  assert.deepEqual(
    unlisted.map((f) => `${f.at} ${f.key.split(':')[1]}: ${f.lines} lines`),
    [],
    `split these (or list them in ALLOWED with the reason)`,
  );
  const stale = Object.keys(ALLOWED).filter((k) => !long.some((f) => f.key === k));
  assert.deepEqual(stale, [], 'ALLOWED lists functions that are no longer over the limit: remove them');
});

test('the counter sees nested closures and class methods', () => {
  // A file of known lengths: outer() 90 lines holding inner 86, Long.method 82, Long.short and a short arrow.
  const body = (n: number, v: string) => Array.from({ length: n }, () => `    ${v} += 1;`).join('\n');
  const text = [
    'export function outer(): number {',
    '  const inner = (): number => {',
    '    let x = 0;',
    body(82, 'x'),
    '    return x;',
    '  };',
    '  const y = inner();',
    '  return y;',
    '}',
    'export class Long {',
    '  method(): number {',
    '    let z = 0;',
    body(78, 'z'),
    '    return z;',
    '  }',
    '  short(): number {',
    '    return 1;',
    '  }',
    '}',
    'export const shortArrow = (): number => 2;',
  ].join('\n');
  const dir = mkdtempSync(join(tmpdir(), 'fn-length-'));
  writeFileSync(join(dir, 'lengths.ts'), text);
  const found = longFunctions(dir).map((f) => `${f.key.split(':')[1]} ${f.lines}`);
  assert.deepEqual(found.sort(), ['Long/method 82', 'outer 90', 'outer/inner 86']);
});
