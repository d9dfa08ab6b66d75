/** The unlabelled target view: no tags at run time, and none at compile time (see unlabelled.typecheck.ts). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import ts from 'typescript';
import { loadDataset, unlabelled } from '../../src/data/index.js';
import { DATA_ROOT } from './helpers.js';
import { noRealData } from '../real-data.js';

test(
  'unlabelled() keeps ids, language, tokens and source, and holds no tags at run time',
  { skip: noRealData('multiconer/ko') },
  () => {
    const ds = loadDataset('multiconer', 'ko', 'dev', { root: DATA_ROOT });
    const view = unlabelled(ds);
    assert.equal(view.length, ds.sentences.length);
    view.forEach((u, i) => {
      const s = ds.sentences[i]!;
      assert.deepEqual([u.id, u.lang, [...u.tokens], { ...u.source }], [s.id, s.lang, s.tokens, s.source]);
      assert.equal('tags' in u, false);
      assert.ok(Object.isFrozen(u) && Object.isFrozen(u.tokens));
      assert.notEqual(u.tokens, s.tokens, 'a copy, not the labelled array');
    });
    assert.ok(!JSON.stringify(view).includes('B-PER'));
    assert.deepEqual(
      unlabelled(ds.sentences).map((u) => u.id),
      view.map((u) => u.id),
    );
  },
);

const FILE = join(process.cwd(), 'test', 'data', 'unlabelled.typecheck.ts');
const OPTIONS: ts.CompilerOptions = {
  target: ts.ScriptTarget.ES2022,
  module: ts.ModuleKind.NodeNext,
  moduleResolution: ts.ModuleResolutionKind.NodeNext,
  strict: true,
  noEmit: true,
  skipLibCheck: true,
  types: ['node'],
};

/** Type-checks `file`, optionally with its text replaced, and returns the diagnostics' 1-based lines and texts. */
let previous: ts.Program | undefined;
function diagnostics(file: string, text?: string): { line: number; message: string }[] {
  const host = ts.createCompilerHost(OPTIONS);
  if (text !== undefined) {
    const original = host.getSourceFile.bind(host);
    host.getSourceFile = (name, lang, ...rest) =>
      name === file ? ts.createSourceFile(name, text, lang) : original(name, lang, ...rest);
  }
  // Reusing the previous program skips re-parsing the unchanged files (lib and @types/node).
  const program = ts.createProgram([file], OPTIONS, host, previous);
  previous = program;
  return ts.getPreEmitDiagnostics(program, program.getSourceFile(file)).map((d) => ({
    line: d.file ? d.file.getLineAndCharacterOfPosition(d.start ?? 0).line + 1 : 0,
    message: ts.flattenDiagnosticMessageText(d.messageText, '\n'),
  }));
}

test('compile time: reading tags from, or passing Sentence[] as, the unlabelled view does not type-check', () => {
  const source = readFileSync(FILE, 'utf8');
  const directives = source.split('\n').flatMap((l, i) => (l.trim().startsWith('// @ts-expect-error') ? [i + 2] : []));
  assert.equal(directives.length, 6);
  // As written: every @ts-expect-error is used, nothing else fails.
  assert.deepEqual(diagnostics(FILE), []);
  // Without the directives: exactly the marked lines fail.
  const bare = source.replace(/\/\/ @ts-expect-error/g, '//');
  const errors = diagnostics(FILE, bare);
  assert.deepEqual(
    [...new Set(errors.map((e) => e.line))],
    directives,
    errors.map((e) => `${e.line}: ${e.message}`).join('\n'),
  );
});
