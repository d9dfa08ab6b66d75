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
    'expectShape',
    'stopGradient',
    'parseSafetensors',
    'WordPieceTokenizer',
    'firstPieceMask',
    'batchToTensors',
    'trainableVars',
    'lambdaName',
    'DEFAULT_AUX_LAYERS',
    'RunDir',
    'writeFileAtomic',
    'canonicalVariant',
  ];
  for (const n of internal) assert.ok(!exported.has(n), `internal ${n} is exported`);
});
