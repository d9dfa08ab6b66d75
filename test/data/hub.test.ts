/**
 * loadHubDataset (any Hub dataset in the tokens + ner_tags layout) against the loopback fake Hub
 * (test/hub/fake-hub.ts): listing, download once, labels from the features metadata, clear errors.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadHubDataset } from '../../src/data/index.js';
import { startFakeHub } from '../hub/fake-hub.js';
import { writeListParquet } from './parquet-writer.js';

const LABELS = ['O', 'B-PER', 'I-PER', 'B-ORG', 'I-ORG', 'B-LOC', 'I-LOC'];
const features = JSON.stringify({ info: { features: { ner_tags: { feature: { names: LABELS } } } } });
const part = (tokens: string[][], tags: number[][]) =>
  writeListParquet(
    [
      { name: 'tokens', kind: 'string', rows: tokens },
      { name: 'ner_tags', kind: 'int64', rows: tags },
    ],
    { keyValues: [{ key: 'huggingface', value: features }] },
  );

test('lists, downloads each parquet file once, reads them in order with labels from the features', async () => {
  const hub = await startFakeHub({
    datasets: new Map([
      [
        'unimelb-nlp/wikiann',
        new Map([
          ['en/validation', [part([['Paris', 'is'], ['Ann']], [[5, 0], [1]]), part([['ACME', 'Corp']], [[3, 4]])]],
        ]),
      ],
    ]),
  });
  try {
    const cacheDir = mkdtempSync(join(tmpdir(), 'msd-hub-'));
    const opts = { config: 'en', lang: 'en', cacheDir, hub: { endpoint: hub.endpoint } };
    const ds = await loadHubDataset('unimelb-nlp/wikiann', 'validation', opts);
    assert.deepEqual(
      ds.sentences.map((s) => [s.id, s.tokens.join(' '), s.tags.join(' ')]),
      [
        ['unimelb-nlp/wikiann/en/validation/part0#0', 'Paris is', 'B-LOC O'],
        ['unimelb-nlp/wikiann/en/validation/part0#1', 'Ann', 'B-PER'],
        ['unimelb-nlp/wikiann/en/validation/part1#0', 'ACME Corp', 'B-ORG I-ORG'],
      ],
    );
    assert.equal(ds.reports.length, 2);
    const cdn = () => hub.log.filter((l) => l.url.startsWith('/cdn/')).length;
    assert.equal(cdn(), 2);
    // Second time: only the listing is fetched, the files come from the cache.
    const again = await loadHubDataset('unimelb-nlp/wikiann', 'validation', opts);
    assert.equal(cdn(), 2);
    assert.deepEqual(again.sentences, ds.sentences);
  } finally {
    await hub.stop();
  }
});

test('offline or missing: errors say what was tried', async () => {
  const hub = await startFakeHub({});
  const cacheDir = mkdtempSync(join(tmpdir(), 'msd-hub-'));
  try {
    await assert.rejects(
      loadHubDataset('x/y', 'train', { cacheDir, hub: { endpoint: hub.endpoint } }),
      /\/api\/datasets\/x\/y\/parquet\/default\/train: not found \(404\)/,
    );
  } finally {
    await hub.stop();
  }
  // Port 1 on the loopback: nothing listens there (the stopped server's port could be taken again).
  await assert.rejects(
    loadHubDataset('x/y', 'train', { cacheDir, hub: { endpoint: 'http://127.0.0.1:1' } }),
    /cannot reach the Hub/,
  );
  await assert.rejects(
    loadHubDataset('x/y', 'train', { cacheDir, hub: { endpoint: hub.endpoint, offline: true } }),
    /HF_HUB_OFFLINE is set/,
  );
});
