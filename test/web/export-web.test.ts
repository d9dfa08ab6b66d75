/**
 * `msd export --format web` in headless Chromium: the folder is served as static files on 127.0.0.1, real Dutch and
 * Spanish test sentences (CoNLL-2002, from the data root) are typed into the page, and the entities it highlights
 * must equal what `msd predict` prints for the same model and sentences. The page loads without console errors and
 * says something useful for an empty input and for a line longer than the model's window.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { extname, join, normalize } from 'node:path';
import { loadDataset } from '../../src/data/registry.js';
import { noRealData, noRealTokenizer, REAL_DATA } from '../real-data.js';
import { savedModel } from '../model/saved-model.js';
import { findChromium, launchChromium } from '../browser.js';

const repo = process.cwd();
const msd = (...args: string[]) =>
  execFileSync(process.execPath, ['--import', 'tsx', join(repo, 'src', 'cli', 'msd.ts'), ...args], {
    encoding: 'utf8',
    maxBuffer: 64 << 20,
  });

const chromium = findChromium();
const why = chromium.reason
  ? chromium.reason
  : !existsSync(join(repo, 'lib', 'web', 'tagger.js'))
    ? 'the browser tagger is not built (npm run build writes lib/web/tagger.js)'
    : noRealTokenizer() || noRealData('conll2002');

/** A static file server for `dir` on 127.0.0.1 (what any static host does). */
async function serve(dir: string): Promise<{ server: Server; url: string }> {
  const types: Record<string, string> = {
    '.html': 'text/html; charset=utf-8',
    '.js': 'text/javascript',
    '.json': 'application/json',
    '.txt': 'text/plain; charset=utf-8',
  };
  const server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    const file = join(dir, normalize(path === '/' ? '/index.html' : path));
    if (!file.startsWith(dir) || !existsSync(file)) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': types[extname(file)] ?? 'application/octet-stream' });
    res.end(readFileSync(file));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const addr = server.address() as { port: number };
  return { server, url: `http://127.0.0.1:${addr.port}/` };
}

/** `msd predict`'s entity lines ("  TYPE  words  (0.87)") per sentence, as "TYPE:words". */
function parsePredict(stdout: string, n: number): string[][] {
  const out: string[][] = [];
  for (const line of stdout.split('\n')) {
    if (line.startsWith('backend:') || line === '') continue;
    const m = /^ {2}(\S+) +(.+) {2}\(\d+\.\d\d\)$/.exec(line);
    if (m) out[out.length - 1]!.push(`${m[1]}:${m[2]}`);
    else out.push([]);
  }
  assert.equal(out.length, n, `msd predict printed ${out.length} sentences, expected ${n}:\n${stdout}`);
  return out;
}

test(
  'the exported page tags Dutch and Spanish test sentences as msd predict does, in headless Chromium',
  { skip: why, timeout: 300_000 },
  async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'export-web-'));
    let server: Server | undefined;
    try {
      const best = savedModel(dir);
      const out = join(dir, 'web');
      const printed = msd('export', best, '--format', 'web', '--out', out);
      assert.match(printed, /static tagger page/);
      // Real sentences: 8 Dutch and 8 Spanish test sentences, and one Dutch line longer than the window (64).
      const lines: string[] = [];
      let long: string | undefined;
      for (const lang of ['nl', 'es']) {
        const { sentences } = loadDataset('conll2002', lang, 'test', { root: REAL_DATA });
        lines.push(
          ...sentences
            .filter((s) => s.tokens.length >= 8 && s.tokens.length <= 30)
            .slice(0, 8)
            .map((s) => s.tokens.join(' ')),
        );
        long ??= sentences.find((s) => s.tokens.length > 60)?.tokens.join(' ');
      }
      assert.ok(long, 'a test sentence longer than the window');
      lines.push(long);
      const expected = parsePredict(msd('predict', '--model', best, ...lines), lines.length);
      assert.ok(expected.flat().length > 20, 'the model finds entities to compare');

      ({ server } = await serve(out));
      const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/`;
      const browser = await launchChromium();
      try {
        const page = await browser.newPage({ viewport: { width: 1000, height: 900 } });
        const problems: string[] = [];
        page.on('console', (m) => {
          if (m.type() === 'error' || m.type() === 'warning') problems.push(`${m.type()}: ${m.text()}`);
        });
        page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
        const foreign: string[] = [];
        page.on('request', (r) => {
          if (!r.url().startsWith(url) && !r.url().startsWith('data:')) foreign.push(r.url());
        });
        await page.goto(url);
        await page.waitForFunction("document.body.dataset.state === 'ready'", undefined, { timeout: 120_000 });
        // Empty input: a message saying what to do.
        assert.match((await page.textContent('#empty-message')) ?? '', /type or paste text/i);

        const tagged = async (text: string) => {
          const before = JSON.stringify(await page.evaluate('document.body.dataset.tagged'));
          await page.fill('#input', text);
          await page.waitForFunction(
            `document.body.dataset.state === 'ready' && document.body.dataset.tagged !== ${before}`,
            undefined,
            { timeout: 120_000 },
          );
        };
        await tagged(lines.join('\n'));
        const got = await page.$$eval('#output p.line', (ps) =>
          ps.map((p) => Array.from(p.querySelectorAll('mark')).map((m) => `${m.dataset.type}:${m.dataset.words}`)),
        );
        assert.deepEqual(got, expected);
        // What a person sees: each highlighted span is the entity's text from the input, with its type.
        const first = await page.$eval('#output p.line mark', (m) => m.textContent);
        assert.ok(first && expected.flat()[0]!.endsWith(first.replace(/(PER|ORG|LOC|MISC)$/, '')), String(first));
        const note = await page.textContent('.long-message');
        assert.match(
          note ?? '',
          new RegExp(
            `Line ${lines.length} is \\d+ sub-word tokens, longer than the model's window of 62.*read in \\d+ overlapping windows`,
          ),
        );
        t.diagnostic(
          `${lines.length} lines, ${expected.flat().length} entities equal to msd predict's; long line: ${note}`,
        );

        await tagged('   \n ');
        assert.match((await page.textContent('#empty-message')) ?? '', /type or paste text/i);
        assert.deepEqual(problems, [], 'console errors or warnings');
        assert.deepEqual(foreign, [], 'requests beyond the served folder');
      } finally {
        await browser.close();
      }
    } finally {
      server?.close();
      rmSync(dir, { recursive: true, force: true });
    }
  },
);
