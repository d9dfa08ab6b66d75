import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { existsSync, mkdtempSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import {
  cachePathFor,
  fromPretrained,
  loadBert,
  serializeSafetensors,
  writeTinyCheckpoint,
  type DownloadProgress,
} from '../../src/model/index.js';

const tmp = () => mkdtempSync(join(tmpdir(), 'hub-'));

interface Repo {
  files: Map<string, Buffer>;
}
interface Behaviour {
  /** Cut the connection after half the body, this many times per file. */
  interrupt?: Map<string, number>;
  /** Announce a wrong size. */
  linkedSize?: Map<string, number>;
}

/** A tiny Hub: GET /<id>/resolve/<rev>/<file>, Range requests answered with 206, 404 otherwise. */
async function startHub(repos: Map<string, Repo>, behaviour: Behaviour = {}) {
  const log: { path: string; range?: string }[] = [];
  const server: Server = createServer((req, res) => {
    log.push({ path: req.url ?? '', range: req.headers.range });
    const m = /^\/(.+)\/resolve\/([^/]+)\/([^/]+)$/.exec(req.url ?? '');
    const body = m ? repos.get(m[1])?.files.get(m[3]) : undefined;
    if (!m || m[2] !== 'main' || !body) {
      res.writeHead(404).end('not found');
      return;
    }
    const file = m[3];
    const headers: Record<string, string | number> = {};
    const linked = behaviour.linkedSize?.get(file);
    if (linked !== undefined) headers['X-Linked-Size'] = linked;
    let start = 0;
    const range = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    if (range) {
      start = Number(range[1]);
      if (start >= body.length) {
        res.writeHead(416, { 'Content-Range': `bytes */${body.length}` }).end();
        return;
      }
      res.writeHead(206, {
        ...headers,
        'Content-Length': body.length - start,
        'Content-Range': `bytes ${start}-${body.length - 1}/${body.length}`,
      });
    } else {
      res.writeHead(200, { ...headers, 'Content-Length': body.length });
    }
    const left = behaviour.interrupt?.get(file) ?? 0;
    if (left > 0) {
      behaviour.interrupt!.set(file, left - 1);
      const half = start + Math.floor((body.length - start) / 2);
      res.write(body.subarray(start, half), () => setTimeout(() => res.socket?.destroy(), 30));
      return;
    }
    res.end(body.subarray(start));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const stop = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return { endpoint, log, stop };
}

function repoFromDir(dir: string): Repo {
  return { files: new Map(readdirSync(dir).map((f) => [f, readFileSync(join(dir, f))])) };
}

const tinyDir = tmp();
writeTinyCheckpoint(tinyDir, { seed: 5, hiddenSize: 16, numLayers: 2, numHeads: 2, intermediateSize: 32 });
const tinyWeights = loadBert(tinyDir);
after(() => tinyWeights.encoder.dispose());

test('downloads a Hub model, resumes an interrupted transfer with a Range request, then works offline', async () => {
  const hub = await startHub(new Map([['org/tiny-bert', repoFromDir(tinyDir)]]), {
    interrupt: new Map([['model.safetensors', 1]]),
  });
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
    const ranged = hub.log.filter((r) => r.path.endsWith('/model.safetensors') && r.range);
    assert.deepEqual(
      ranged.map((r) => r.range),
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
  const hub = await startHub(new Map([['tiny', repoFromDir(tinyDir)]]), {
    interrupt: new Map([
      ['model.safetensors', 2],
      ['config.json', 1],
    ]),
  });
  try {
    const model = await fromPretrained('tiny', { cacheDir: tmp(), endpoint: hub.endpoint });
    assert.equal(hub.log.filter((r) => r.path.endsWith('/model.safetensors') && r.range).length, 2);
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
  const hub = await startHub(new Map([['tiny', repoFromDir(tinyDir)]]), {
    linkedSize: new Map([['model.safetensors', size + 10]]),
  });
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
  const sharded = repoFromDir(tinyDir);
  const whole = sharded.files.get('model.safetensors')!;
  sharded.files.delete('model.safetensors');
  // Re-split the tiny checkpoint into two shards.
  const { parseSafetensors } = await import('../../src/model/index.js');
  const f = parseSafetensors(whole);
  const names = f.names;
  const weightMap: Record<string, string> = {};
  [names.slice(0, 10), names.slice(10)].forEach((part, i) => {
    const file = `model-0000${i + 1}-of-00002.safetensors`;
    sharded.files.set(
      file,
      Buffer.from(serializeSafetensors(part.map((n) => [n, { shape: f.info(n).shape, data: f.getFloat32(n) }]))),
    );
    for (const n of part) weightMap[n] = file;
  });
  sharded.files.set('model.safetensors.index.json', Buffer.from(JSON.stringify({ weight_map: weightMap })));
  const pickle: Repo = {
    files: new Map([
      ['config.json', readFileSync(join(tinyDir, 'config.json'))],
      ['pytorch_model.bin', Buffer.from('x')],
    ]),
  };
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
    assert.ok(!hub.log.some((r) => r.path.endsWith('pytorch_model.bin')));
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
