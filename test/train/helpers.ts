/**
 * Shared pieces of the training tests: a very small random BERT (16 wide, 4 layers, heads on 2..4) on a few
 * sentences of the real CoNLL-2002 es -> nl data, so a run of a few steps takes seconds.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveConfig, type DeepPartial, type MsdConfig } from '../../src/config.js';
import { noRealData, noRealTokenizer, REAL_DATA } from '../real-data.js';

/** The real CoNLL-2002 folder of the local data root (MSD_DATA_ROOT, set by .ci/run); the tests skip without it. */
export const conllData = join(REAL_DATA ?? '', 'conll2002');
export const noData = noRealData('conll2002') || noRealTokenizer();

export function tmpRun(name: string): string {
  return mkdtempSync(join(tmpdir(), `msd-${name}-`));
}

/**
 * The tiny preset made smaller still: 16 wide, 4 layers, heads on 2..4, no dropout, the vocabulary pruned to the
 * run's text (fast to load), 24 sentences, 1 epoch of batch 8.
 */
export function tinyConfig(outDir: string, ...overrides: DeepPartial<MsdConfig>[]): MsdConfig {
  return resolveConfig(
    'tiny',
    {
      model: {
        tiny: { hiddenSize: 16, numLayers: 4, numHeads: 2, intermediateSize: 32, dropout: 0 },
        headLayers: [2, 4],
        pruneVocab: true,
        classifierDropout: 0,
      },
      data: { maxLength: 32, limit: { train: 24, dev: 8, test: 8 } },
      teacher: { epochs: 1, batchSize: 8 },
      student: { epochs: 1, batchSize: 8 },
      run: { outDir, seed: 3, evalLayers: [2, 4], logEvery: 1 },
    },
    ...overrides,
  );
}
