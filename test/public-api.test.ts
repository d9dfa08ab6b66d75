/**
 * The public API, as a notebook gets it: each entry point of package.json "exports" imported by its package name
 * (`msd-ner`, `msd-ner/viz`, ...) from the BUILT package, both as an ES module and through require() (tslab compiles
 * notebook cells to CommonJS). Its value names must equal the committed list below: a name added or removed by
 * accident fails here, and a deliberate change edits the list in the same commit. Every name a notebook imports
 * must be in the list of the entry point it imports from.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';

const ROOT = join(import.meta.dirname, '..');

/** The value names of every entry point (types are not values and do not appear). */
const PUBLIC: Record<string, readonly string[]> = {
  'msd-ner': [
    'BACKEND_NAMES',
    'PAPER',
    'PRESETS',
    'SOURCE_TARGET',
    'TEACHER_STUDENT',
    'TINY',
    'UserError',
    'VARIANT_LABELS',
    'VARIANT_NAMES',
    'activeBackend',
    'backendFor',
    'clsEmbeddings',
    'configToJson',
    'conllevalReport',
    'consoleProgress',
    'countParameters',
    'crossModelMmd',
    'datasetStats',
    'disposeNerModel',
    'distillStudent',
    'encodeDataset',
    'encodeSentence',
    'ensureRunData',
    'evalSplit',
    'evaluate',
    'evaluateRows',
    'evaluateRun',
    'formatPercent',
    'formatProgress',
    'fromPretrained',
    'initBackend',
    'labelSchema',
    'liveProgress',
    'loadDataset',
    'loadNerModel',
    'loadSplit',
    'loadTokenizer',
    'makeBatches',
    'mmdByLayer',
    'mmdFrame',
    'notebookRun',
    'notebookSweep',
    'parseSets',
    'predict',
    'pretrainedDir',
    'project2d',
    'publishedCorpus',
    'publishedF1',
    'publishedRows',
    'readConfigFile',
    'readConll',
    'readJson',
    'readJsonl',
    'resolveConfig',
    'resultsFrame',
    'resultsTable',
    'runDiagnostics',
    'runDir',
    'runMsd',
    'saveNerModel',
    'scoreEntities',
    'tf',
    'trainTeacher',
    'unlabelled',
    'variantOf',
    'writeTinyCheckpoint',
  ],
  'msd-ner/data': [
    'CORPUS_LANGUAGES',
    'DATASET_NAMES',
    'DataError',
    'HUB_CORPORA',
    'SPLITS',
    'STANDARD_TYPES',
    'availableDatasets',
    'checkCorpus',
    'checkSchema',
    'countEntities',
    'datasetStats',
    'detectScheme',
    'ensureCorpus',
    'ensureDataset',
    'hubCorpus',
    'iob2Spans',
    'labelSchema',
    'loadDataset',
    'loadHubDataset',
    'mapSchema',
    'parseTag',
    'readConll',
    'readMulticoner',
    'readParquet',
    'readWikiann',
    'schemaFromSentences',
    'splitStats',
    'toIob2',
    'unlabelled',
  ],
  'msd-ner/losses': [
    'IGNORE_INDEX',
    'LossInputError',
    'finalLoss',
    'kdLayerLoss',
    'layerWeights',
    'mmd',
    'readTerms',
    'studentLoss',
    'teacherLoss',
    'tokenCrossEntropy',
  ],
  'msd-ner/viz': [
    'FONT_FAMILY',
    'VEGALITE_MIME',
    'VEGALITE_SCHEMA',
    'ablationChart',
    'ablationTable',
    'compileSpec',
    'exportFigure',
    'mmdByLayerChart',
    'perLayerF1Chart',
    'perLayerF1ErrorBarChart',
    'projectionChart',
    'renderPng',
    'renderSvg',
    'reportHtml',
    'runCharts',
    'show',
    'showTable',
    'svgToPng',
    'toCsv',
    'toHtml',
    'toLatex',
    'trainingCurvesChart',
    'writeReport',
  ],
  'msd-ner/sweep': [
    'collectSweep',
    'describeSample',
    'formatCollect',
    'formatJobs',
    'formatPlan',
    'formatStatus',
    'latexTable',
    'mean',
    'planSweep',
    'readPlan',
    'readSweepSpec',
    'runLocal',
    'std',
    'submitSlurm',
    'sweepFileStatus',
    'sweepStatus',
    'tTest',
    'tidyFrame',
    'writeCollect',
    'writePlan',
  ],
  'msd-ner/export': ['exportHf', 'exportWeb', 'pruneVocabulary'],
};

/** Internals that once leaked through `export *` blocks or barrels: in no entry point. */
const INTERNAL = [
  'escapeHtml',
  'escapeLatex',
  'rowsOf',
  'slurmScript',
  'registerWasmKernels',
  'trainLoop',
  'AdamW',
  'writeFileAtomic',
  'parseBackendName',
  'withKeyTranspose',
];

const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
  exports: Record<string, string | { types: string; default: string }>;
};
const entryPoints = Object.entries(pkg.exports).filter(([sub]) => sub !== './package.json');
const specifier = (sub: string) => `msd-ner${sub.slice(1)}`;
const requireHere = createRequire(import.meta.url);

test('package.json "exports": the entry points of the committed list, each with built types and code', () => {
  assert.deepEqual(entryPoints.map(([sub]) => specifier(sub)).sort(), Object.keys(PUBLIC).sort());
  for (const [sub, target] of entryPoints) {
    assert.ok(typeof target === 'object', `${sub}: expected { types, default }`);
    for (const file of [target.types, target.default])
      assert.ok(existsSync(join(ROOT, file)), `${sub}: ${file} is missing (npm run build)`);
  }
});

for (const [sub] of entryPoints) {
  test(`${specifier(sub)}: exactly the committed names, by import and by require`, async () => {
    const want = PUBLIC[specifier(sub)] ?? [];
    const imported = Object.keys((await import(specifier(sub))) as object).sort();
    const missing = want.filter((n) => !imported.includes(n));
    const unexpected = imported.filter((n) => !want.includes(n));
    assert.deepEqual(
      { missing, unexpected },
      { missing: [], unexpected: [] },
      `${specifier(sub)} (lib/ as npm run build left it): edit PUBLIC in test/public-api.test.ts with the change`,
    );
    const required = Object.keys(requireHere(specifier(sub)) as object).filter(
      (n) => n !== '__esModule' && n !== 'module.exports',
    );
    assert.deepEqual(required.sort(), imported, `require('${specifier(sub)}') differs from import`);
    for (const n of INTERNAL) assert.ok(!imported.includes(n), `${specifier(sub)} exports the internal ${n}`);
  });
}

test('every name a notebook imports from msd-ner is in the list of its entry point', () => {
  const dir = join(ROOT, 'notebooks');
  let checked = 0;
  for (const nb of readdirSync(dir).filter((f) => f.endsWith('.ipynb'))) {
    const cells = (JSON.parse(readFileSync(join(dir, nb), 'utf8')) as { cells: { source: string[] | string }[] }).cells;
    for (const cell of cells) {
      const src = Array.isArray(cell.source) ? cell.source.join('') : cell.source;
      for (const m of src.matchAll(/import\s*\{([^}]*)\}\s*from\s*['"]([^'"]*)['"]/g)) {
        const from = m[2]!;
        if (from === 'tslab' || from.startsWith('node:')) continue;
        const names = PUBLIC[from];
        assert.ok(
          names,
          `${nb} imports from '${from}', not an entry point of the package (${Object.keys(PUBLIC).join(', ')})`,
        );
        for (const part of m[1]!
          .split(',')
          .map((p) => p.trim())
          .filter(Boolean)) {
          if (part.startsWith('type ')) continue; // types are checked when the notebook runs
          const name = part.split(/\s+as\s+/)[0]!;
          assert.ok(names.includes(name), `${nb} imports ${name} from '${from}', which does not export it`);
          checked++;
        }
      }
    }
  }
  assert.ok(checked > 20, `only ${checked} imported names found in notebooks/: is the pattern still right?`);
});
