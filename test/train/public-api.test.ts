/**
 * The public API (src/index.ts): every name a notebook imports from the library exists, the names users call are
 * there, and the internals are not.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as api from '../../src/index.js';

const exported = new Set(Object.keys(api));

function srcFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? srcFiles(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}
const typeOnly = (src: string) => new Set([...src.matchAll(/\btype\s+(\w+)/g)].map((m) => m[1]!));

test('every value a notebook imports from ../lib/index.js is exported', () => {
  const dir = join(process.cwd(), 'notebooks');
  for (const nb of readdirSync(dir).filter((f) => f.endsWith('.ipynb'))) {
    const cells = (JSON.parse(readFileSync(join(dir, nb), 'utf8')) as { cells: { source: string[] | string }[] }).cells;
    for (const cell of cells) {
      const src = Array.isArray(cell.source) ? cell.source.join('') : cell.source;
      for (const m of src.matchAll(/import\s*\{([^}]*)\}\s*from\s*['"][^'"]*lib\/index\.js['"]/g)) {
        const types = typeOnly(m[1]!);
        const names = m[1]!
          .split(',')
          .map(
            (n) =>
              n
                .trim()
                .replace(/^type\s+/, '')
                .split(/\s+as\s+/)[0]!,
          )
          .filter(Boolean);
        for (const n of names)
          if (!types.has(n)) assert.ok(exported.has(n), `${nb} imports ${n}, which src/index.ts does not export`);
      }
    }
  }
});

test('the public API has what users call and leaves internals out', () => {
  const wanted = [
    'initBackend',
    'tf',
    'resolveConfig',
    'parseSets',
    'PRESETS',
    'PAPER',
    'TINY',
    'loadDataset',
    'readConll',
    'unlabelled',
    'datasetStats',
    'labelSchema',
    'loadTokenizer',
    'encodeDataset',
    'makeBatches',
    'fromPretrained',
    'loadNerModel',
    'saveNerModel',
    'writeTinyCheckpoint',
    'evaluate',
    'evaluateRows',
    'predict',
    'scoreEntities',
    'conllevalReport',
    'tokenCrossEntropy',
    'teacherLoss',
    'kdLayerLoss',
    'studentLoss',
    'mmd',
    'finalLoss',
    'layerWeights',
    'trainTeacher',
    'distillStudent',
    'runMsd',
    'evaluateRun',
    'runDir',
    'readJsonl',
    'consoleProgress',
    'formatProgress',
  ];
  for (const n of wanted) assert.ok(exported.has(n), `missing ${n}`);
  const internal = [
    'registerWasmKernels',
    'trainLoop',
    'runSettings',
    'AdamW',
    'clipByGlobalNorm',
    'computeTargetProbs',
    'teacherCacheKey',
    'windowsFingerprint',
    'saveTrainingCheckpoint',
    'streamSeed',
    'stopGradient',
    'parseSafetensors',
    'WordPieceTokenizer',
    'firstPieceMask',
    'batchToTensors',
    'trainableVars',
    'lambdaName',
    'RunDir',
    'writeFileAtomic',
  ];
  for (const n of internal) assert.ok(!exported.has(n), `internal ${n} is exported`);
  // Both lists name things that exist: a renamed or removed name must leave the list, or the check means nothing.
  const sources = srcFiles(join(process.cwd(), 'src')).map((f) => readFileSync(f, 'utf8'));
  for (const n of [...wanted, ...internal]) {
    const defined = new RegExp(`\\b(function|class|const|let|interface|type|import \\* as)\\s+${n}\\b`);
    assert.ok(
      sources.some((text) => defined.test(text)),
      `${n} is defined nowhere in src/; take it off the list`,
    );
  }
});
