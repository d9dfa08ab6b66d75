import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cachePathFor, fromPretrained, type DownloadProgress } from '../../src/model/hub.js';
import { loadBert } from '../../src/model/checkpoint.js';
import { serializeSafetensors } from '../../src/model/safetensors.js';
import { writeTinyCheckpoint } from '../../src/model/tiny.js';
import { modelFromDir, startFakeHub, type FakeHub } from '../hub/fake-hub.js';

const tmp = () => mkdtempSync(join(tmpdir(), 'hub-'));

type Repo = Map<string, Uint8Array>;

/** The loopback Hub of test/hub/fake-hub.ts serving these model repositories (every file through its CDN). */
const startHub = (repos: Map<string, Repo>) => startFakeHub({ models: repos });

/** The sha256 the fake Hub serves a repository's file under (its CDN object). */
const objectOf = (hub: FakeHub, id: string, file: string) => hub.shaOf.get(`${id}/${file}`)!;

/** The requests for a repository file's bytes that asked for a range (the CDN object's). */
const rangedOf = (hub: FakeHub, id: string, file: string) =>
  hub.log.filter((r) => r.url === `/cdn/${objectOf(hub, id, file)}` && r.range);

const tinyDir = tmp();
writeTinyCheckpoint(tinyDir, { seed: 5, hiddenSize: 16, numLayers: 2, numHeads: 2, intermediateSize: 32 });
const tinyWeights = loadBert(tinyDir);
after(() => tinyWeights.encoder.dispose());

test('downloads a Hub model, resumes an interrupted transfer with a Range request, then works offline', async () => {
  const hub = await startHub(new Map([['org/tiny-bert', modelFromDir(tinyDir)]]));
  hub.cutHalf.set(objectOf(hub, 'org/tiny-bert', 'model.safetensors'), 1);
  const cacheDir = tmp();
  const expectedDir = cachePathFor('org/tiny-bert', 'main', cacheDir);
  const part = join(expectedDir, 'model.safetensors.part');
  const size = statSync(join(tinyDir, 'model.safetensors')).size;
  try {
    // No retries: the interrupted call fails and leaves the partial file.
    await assert.rejects(
      fromPretrained('org/tiny-bert', { cacheDir, endpoint: hub.endpoint, retries: 0 }),
      /download interrupted after \d+ bytes.*the next call resumes from/,
    );
    const partial = statSync(part).size;
    assert.ok(partial > 0 && partial < size, `partial ${partial} of ${size}`);
    assert.equal(existsSync(join(expectedDir, '.complete')), false);

    const progress: DownloadProgress[] = [];
    const model = await fromPretrained('org/tiny-bert', {
      cacheDir,
      endpoint: hub.endpoint,
      retries: 0,
      onProgress: (p) => progress.push(p),
    });
    assert.deepEqual(
      rangedOf(hub, 'org/tiny-bert', 'model.safetensors').map((r) => r.range),
      [`bytes=${partial}-`],
    );
    assert.equal(model.dir, expectedDir);
    assert.equal(existsSync(part), false);
    assert.ok(
      readFileSync(join(expectedDir, 'model.safetensors')).equals(readFileSync(join(tinyDir, 'model.safetensors'))),
    );
    const done = progress.find((p) => p.file === 'model.safetensors' && p.done);
    assert.deepEqual(done, { file: 'model.safetensors', loaded: size, total: size, done: true });
    assert.ok(progress.some((p) => p.file === 'model.safetensors' && !p.done && p.loaded > partial));
    assert.deepEqual(model.encoder.getWeights(), tinyWeights.encoder.getWeights());
    assert.ok(model.tokenizer.vocab && model.tokenizer.tokenizerConfig);
    model.encoder.dispose();
  } finally {
    await hub.stop();
  }
  // Server gone: the cache is used without any network access, with or without allowRemote.
  for (const allowRemote of [false, true]) {
    const offline = await fromPretrained('org/tiny-bert', { cacheDir, endpoint: hub.endpoint, allowRemote });
    assert.equal(offline.dir, expectedDir);
    offline.encoder.dispose();
  }
});

test('an interruption is resumed within the same call by default', async () => {
  const hub = await startHub(new Map([['tiny', modelFromDir(tinyDir)]]));
  hub.cutHalf.set(objectOf(hub, 'tiny', 'model.safetensors'), 2);
  hub.cutHalf.set(objectOf(hub, 'tiny', 'config.json'), 1);
  try {
    const model = await fromPretrained('tiny', { cacheDir: tmp(), endpoint: hub.endpoint });
    assert.equal(rangedOf(hub, 'tiny', 'model.safetensors').length, 2);
    assert.deepEqual(model.encoder.getWeights(), tinyWeights.encoder.getWeights());
    model.encoder.dispose();
  } finally {
    await hub.stop();
  }
});

test('allowRemote: false with nothing cached names the flag and the expected path', async () => {
  const cacheDir = tmp();
  await assert.rejects(
    fromPretrained('bert-base-multilingual-cased', { cacheDir, allowRemote: false }),
    (err: Error) =>
      err.message.includes('allowRemote is false') &&
      err.message.includes(cachePathFor('bert-base-multilingual-cased', 'main', cacheDir)),
  );
});

test('size check: a file shorter than the announced size is not accepted', async () => {
  const size = statSync(join(tinyDir, 'model.safetensors')).size;
  const hub = await startHub(new Map([['tiny', modelFromDir(tinyDir)]]));
  hub.linkedSize.set(objectOf(hub, 'tiny', 'model.safetensors'), size + 10);
  const cacheDir = tmp();
  try {
    await assert.rejects(
      fromPretrained('tiny', { cacheDir, endpoint: hub.endpoint, retries: 1 }),
      new RegExp(`received ${size} of ${size + 10} bytes`),
    );
    assert.equal(existsSync(join(cachePathFor('tiny', 'main', cacheDir), 'model.safetensors')), false);
  } finally {
    await hub.stop();
  }
});

test('sharded weights are fetched from the index; pickle-only repos and unknown ids get clear errors', async () => {
  const sharded = modelFromDir(tinyDir);
  const whole = sharded.get('model.safetensors')!;
  sharded.delete('model.safetensors');
  // Re-split the tiny checkpoint into two shards.
  const { parseSafetensors } = await import('../../src/model/safetensors.js');
  const f = parseSafetensors(whole);
  const names = f.names;
  const weightMap: Record<string, string> = {};
  [names.slice(0, 10), names.slice(10)].forEach((part, i) => {
    const file = `model-0000${i + 1}-of-00002.safetensors`;
    sharded.set(
      file,
      new Uint8Array(serializeSafetensors(part.map((n) => [n, { shape: f.info(n).shape, data: f.getFloat32(n) }]))),
    );
    for (const n of part) weightMap[n] = file;
  });
  sharded.set('model.safetensors.index.json', new TextEncoder().encode(JSON.stringify({ weight_map: weightMap })));
  const pickle: Repo = new Map([
    ['config.json', new Uint8Array(readFileSync(join(tinyDir, 'config.json')))],
    ['pytorch_model.bin', new TextEncoder().encode('x')],
  ]);
  const hub = await startHub(
    new Map([
      ['sharded', sharded],
      ['pickle', pickle],
    ]),
  );
  try {
    const model = await fromPretrained('sharded', { cacheDir: tmp(), endpoint: hub.endpoint });
    assert.equal(model.report.files.length, 2);
    assert.deepEqual(model.encoder.getWeights(), tinyWeights.encoder.getWeights());
    model.encoder.dispose();
    await assert.rejects(
      fromPretrained('pickle', { cacheDir: tmp(), endpoint: hub.endpoint }),
      /has no model\.safetensors .*Pickled pytorch_model\.bin weights are not downloaded/,
    );
    assert.ok(!hub.log.some((r) => r.url.endsWith('pytorch_model.bin')));
    await assert.rejects(
      fromPretrained('nobody/nothing', { cacheDir: tmp(), endpoint: hub.endpoint }),
      /config\.json: not found \(404\)/,
    );
  } finally {
    await hub.stop();
  }
  await assert.rejects(fromPretrained('./no/such/dir'), /no such model directory/);
  // A local directory is used as is.
  const local = await fromPretrained(tinyDir);
  assert.equal(local.dir, tinyDir);
  local.encoder.dispose();
});
