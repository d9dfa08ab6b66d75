/** loadHubDataset with a stub fetch (no network in tests): listing, download once, cache, clear offline error. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadHubDataset } from '../../src/data/index.js';
import { writeListParquet } from './parquet-writer.js';

const LABELS = ['O', 'B-PER', 'I-PER', 'B-ORG', 'I-ORG', 'B-LOC', 'I-LOC'];
const features = JSON.stringify({ info: { features: { ner_tags: { feature: { names: LABELS } } } } });
const part = (tokens: string[][], tags: number[][]) =>
  writeListParquet(
    [
      { name: 'tokens', kind: 'string', rows: tokens },
      { name: 'ner_tags', kind: 'int64', rows: tags },
    ],
    {
      keyValues: [{ key: 'huggingface', value: features }],
    },
  );

test('lists, downloads each parquet file once, reads them in order with labels from the features', async () => {
  const files: Record<string, Uint8Array> = {
    'https://hub.test/p0': part([['Paris', 'is'], ['Ann']], [[5, 0], [1]]),
    'https://hub.test/p1': part([['ACME', 'Corp']], [[3, 4]]),
  };
  const calls: string[] = [];
  const stub = (async (url: string) => {
    calls.push(url);
    if (url.endsWith('/api/datasets/unimelb-nlp/wikiann/parquet/en/validation'))
      return Response.json(Object.keys(files));
    const body = files[url];
    return body ? new Response(body) : new Response('no', { status: 404, statusText: 'Not Found' });
  }) as typeof fetch;
  const cacheDir = mkdtempSync(join(tmpdir(), 'msd-hub-'));
  const opts = { config: 'en', lang: 'en', cacheDir, endpoint: 'https://hub.test', fetch: stub };
  const ds = await loadHubDataset('unimelb-nlp/wikiann', 'validation', opts);
  assert.deepEqual(
    ds.sentences.map((s) => [s.id, s.tokens.join(' '), s.tags.join(' ')]),
    [
      ['unimelb-nlp/wikiann/en/validation/part0#0', 'Paris is', 'B-LOC O'],
      ['unimelb-nlp/wikiann/en/validation/part0#1', 'Ann', 'B-PER'],
      ['unimelb-nlp/wikiann/en/validation/part1#0', 'ACME Corp', 'B-ORG I-ORG'],
    ],
  );
  assert.equal(calls.length, 3);
  assert.equal(ds.reports.length, 2);
  // Second time: only the listing is fetched, the files come from the cache.
  const again = await loadHubDataset('unimelb-nlp/wikiann', 'validation', opts);
  assert.equal(calls.length, 4);
  assert.deepEqual(again.sentences, ds.sentences);
});

test('offline or missing: errors say what was tried', async () => {
  const offline = (async () => {
    throw new TypeError('fetch failed');
  }) as typeof fetch;
  const cacheDir = mkdtempSync(join(tmpdir(), 'msd-hub-'));
  await assert.rejects(
    loadHubDataset('conll2002', 'test', { config: 'es', cacheDir, endpoint: 'https://hub.test', fetch: offline }),
    /cannot fetch https:\/\/hub\.test\/api\/datasets\/conll2002\/parquet\/es\/test \(fetch failed\); offline\?/,
  );
  const missing = (async () => new Response('', { status: 404, statusText: 'Not Found' })) as typeof fetch;
  await assert.rejects(
    loadHubDataset('x/y', 'train', { cacheDir, fetch: missing, endpoint: 'https://hub.test' }),
    /answered 404 Not Found/,
  );
  const notList = (async () => Response.json({ error: 'x' })) as typeof fetch;
  await assert.rejects(
    loadHubDataset('x/y', 'train', { cacheDir, fetch: notList, endpoint: 'https://hub.test' }),
    /did not list parquet files/,
  );
});
