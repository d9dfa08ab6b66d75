/** newModel: heads are checked against the layer count of the checkpoint it loads. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { labelSchema } from '../../src/data/schema.js';
import { disposeNerModel } from '../../src/model/ner-model.js';
import { tf } from '../../src/tf.js';
import { newModel, pretrainedDir } from '../../src/train/models.js';
import { noData, tinyConfig, tmpRun } from './helpers.js';

test(
  'newModel rejects heads past the checkpoint layers, naming its config.json, and leaks nothing',
  { skip: noData },
  async () => {
    const small = tinyConfig(tmpRun('models')); // writes a 4-layer checkpoint
    const dir = await pretrainedDir(small);
    const schema = labelSchema(['PER', 'LOC', 'ORG', 'MISC']);
    const ok = newModel('ok', dir, schema, small, 1);
    assert.deepEqual(ok.heads.layers, [2, 3, 4]);
    disposeNerModel(ok);
    // The same checkpoint used as a "pretrained" one with a config that asks for heads up to layer 6.
    const wide = tinyConfig(small.run.outDir, {
      model: { tiny: { enabled: false }, headLayers: [2, 6] },
      run: { evalLayers: [2, 6] },
    });
    const before = tf.memory().numTensors;
    assert.throws(
      () => newModel('wide', dir, schema, wide, 1),
      (err: Error) => err.message.includes('must lie within 1..4') && err.message.includes(join(dir, 'config.json')),
    );
    assert.equal(tf.memory().numTensors, before);
  },
);
