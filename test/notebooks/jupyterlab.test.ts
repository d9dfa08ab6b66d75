/// <reference lib="dom" />
/**
 * The notebooks as a user sees them: JupyterLab (the one `kernel-setup/jupyterlab.sh` leaves: this checkout's .venv,
 * else `jupyter-lab` 4 on PATH) on 127.0.0.1 serving an executed copy of notebooks/00_setup.ipynb (executed headless
 * first, into runs/, as setup.sh keeps it), opened in headless Chromium through playwright-core. Every Vega-Lite
 * output of the file must have drawn (vega-embed with SVG marks or a painted canvas, no error), no output is an
 * error, and one new cell runs live on the tslab kernel. A screenshot is left in the run folder.
 *
 * Skipped, saying why, where there is no JupyterLab 4 or no Chromium (MSD_CHROMIUM, else chromium on PATH).
 * `.ci/run` installs JupyterLab with kernel-setup/jupyterlab.sh first, so it runs there.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { findChromium, launchChromium } from '../browser.js';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const VEGA_LITE = 'application/vnd.vegalite.v5+json';

function findLab(): { path?: string; reason?: string } {
  const isLab4 = (p: string) => spawnSync(p, ['--version'], { encoding: 'utf8' }).stdout?.trim().startsWith('4.');
  const venv = join(REPO, '.venv', 'bin', 'jupyter-lab');
  if (existsSync(venv) && isLab4(venv)) return { path: venv };
  const r = spawnSync('sh', ['-c', 'command -v jupyter-lab'], { encoding: 'utf8' });
  const onPath = r.stdout?.trim();
  if (r.status === 0 && onPath && isLab4(onPath)) return { path: onPath };
  return { reason: 'no JupyterLab 4 (run bash kernel-setup/jupyterlab.sh; .ci/run does)' };
}

const lab = findLab();
const chromium = findChromium();

function freePort(): Promise<number> {
  return new Promise((ok) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as AddressInfo).port;
      s.close(() => ok(port));
    });
  });
}

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<void> {
  return new Promise((ok, fail) => {
    const child = spawn(cmd, args, { cwd: REPO, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let log = '';
    child.stdout.on('data', (d: Buffer) => (log += d.toString()));
    child.stderr.on('data', (d: Buffer) => (log += d.toString()));
    child.on('exit', (code) => (code === 0 ? ok() : fail(new Error(`${args.join(' ')} exited ${code}:\n${log.slice(-3000)}`))));
  });
}

test(
  'JupyterLab in headless Chromium: the executed 00_setup draws its Vega-Lite chart, no error output, a cell runs live on tslab',
  { skip: lab.reason ?? chromium.reason, timeout: 600_000 },
  async (t) => {
    mkdirSync(join(REPO, 'runs'), { recursive: true });
    const dir = mkdtempSync(join(REPO, 'runs', 'jupyterlab-test-'));
    const home = mkdtempSync(join(tmpdir(), 'msd-jlab-'));
    let server: ChildProcess | undefined;
    try {
      // The executed copy, as setup.sh keeps it (runs/notebooks/00_setup.ipynb), here in a folder of its own.
      await run(process.execPath, ['--import', 'tsx', 'kernel-setup/run-notebooks.ts', '--out', dir, 'notebooks/00_setup.ipynb'], process.env);
      const nbPath = join(dir, '00_setup.ipynb');
      const nb = JSON.parse(readFileSync(nbPath, 'utf8')) as { cells: { outputs?: { data?: Record<string, unknown> }[] }[] };
      const promised = nb.cells.flatMap((c) => c.outputs ?? []).filter((o) => o.data?.[VEGA_LITE]).length;
      assert.ok(promised >= 1, 'the executed notebook holds a Vega-Lite chart');

      const port = await freePort();
      const token = randomBytes(16).toString('hex');
      const env = {
        ...process.env,
        JUPYTER_PATH: [join(REPO, 'kernel-setup', '.jupyter', 'share', 'jupyter'), process.env.JUPYTER_PATH]
          .filter((x) => x)
          .join(delimiter),
        JUPYTER_CONFIG_DIR: join(home, 'config'),
        JUPYTER_RUNTIME_DIR: join(home, 'runtime'),
        JUPYTERLAB_WORKSPACES_DIR: join(home, 'workspaces'),
        JUPYTERLAB_SETTINGS_DIR: join(home, 'settings'),
      };
      const args = [
        '--no-browser',
        '--ServerApp.ip=127.0.0.1',
        `--ServerApp.port=${port}`,
        '--ServerApp.port_retries=0',
        `--IdentityProvider.token=${token}`,
        `--ServerApp.root_dir=${REPO}`,
        '--LabApp.news_url=',
        '--LabServerApp.extra_labextensions_path=[]',
      ];
      if (process.getuid?.() === 0) args.push('--allow-root');
      server = spawn(lab.path!, args, { cwd: REPO, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
      let serverLog = '';
      server.stdout!.on('data', (d: Buffer) => (serverLog += d.toString()));
      server.stderr!.on('data', (d: Buffer) => (serverLog += d.toString()));
      const base = `http://127.0.0.1:${port}`;
      const t0 = Date.now();
      for (;;) {
        try {
          if ((await fetch(`${base}/api/status?token=${token}`)).ok) break;
        } catch {
          // not up yet
        }
        assert.ok(Date.now() - t0 < 90_000, `JupyterLab did not start in 90 s:\n${serverLog.slice(-2000)}`);
        await new Promise((r) => setTimeout(r, 500));
      }
      t.diagnostic(`JupyterLab up in ${((Date.now() - t0) / 1000).toFixed(1)} s`);

      const browser = await launchChromium();
      try {
        const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
        const pageErrors: string[] = [];
        // JupyterLab's debugger panel asks every kernel for a debug session; tslab has none (not an error of ours).
        page.on('pageerror', (e) => {
          if (!/No active debugger session/.test(e.message)) pageErrors.push(e.message);
        });
        const rel = relative(REPO, nbPath).split('\\').join('/');
        await page.goto(`${base}/lab/tree/${rel}?token=${token}`);
        await page.waitForSelector('.jp-Notebook .jp-Cell', { timeout: 120_000 });
        // Every Vega-Lite output drawn: vega-embed with SVG marks, or a canvas with a size, and no error text.
        await page.waitForFunction(
          (n) => document.querySelectorAll('.jp-OutputArea-output .vega-embed').length >= n,
          promised,
          { timeout: 120_000 },
        );
        await page.waitForTimeout(1000);
        const charts = await page.$$eval('.jp-OutputArea-output .vega-embed', (els) =>
          els.map((el) => {
            const svg = el.querySelector('svg');
            const canvas = el.querySelector('canvas');
            // Painted pixels of a canvas (vega-embed's default renderer in JupyterLab): not just an empty box.
            let painted = 0;
            if (canvas && canvas.width > 0 && canvas.height > 0) {
              const px = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height).data;
              for (let i = 3; i < px.length; i += 4) if (px[i]! > 0 && (px[i - 1]! < 200 || px[i - 2]! < 200)) painted++;
            }
            return {
              svgMarks: svg ? svg.querySelectorAll('.mark-symbol path, .mark-line path, .mark-rect path, .mark-text text, .mark-area path, .mark-rule line').length : 0,
              canvas: painted,
              text: el.textContent ?? '',
            };
          }),
        );
        t.diagnostic(`charts: ${JSON.stringify(charts.map((c) => ({ svgMarks: c.svgMarks, canvas: c.canvas })))}`);
        assert.equal(charts.length, promised, 'one drawn chart per Vega-Lite output');
        for (const c of charts) {
          assert.ok(c.svgMarks > 0 || c.canvas > 0, `a chart drew nothing: ${JSON.stringify(c)}`);
          assert.doesNotMatch(c.text, /error/i);
        }
        const errors = await page.$$eval(
          '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"], .jp-RenderedText[data-mime-type="application/vnd.jupyter.error"]',
          (els) => els.map((e) => e.textContent ?? ''),
        );
        assert.deepEqual(errors, [], 'no error output');

        // One cell live on the tslab kernel: a new cell at the end, run with Shift+Enter.
        await page.waitForSelector('.jp-Notebook-ExecutionIndicator[data-status="idle"], .jp-KernelStatus-success, .jp-Toolbar-kernelStatus', {
          timeout: 120_000,
        }).catch(() => undefined);
        const cells = page.locator('.jp-Notebook .jp-Cell');
        await cells.last().click();
        await page.keyboard.press('Escape');
        await page.keyboard.press('b');
        await page.keyboard.press('Enter');
        await page.keyboard.type('const answer: number = 6 * 7; answer');
        await page.keyboard.press('Shift+Enter');
        await page.waitForFunction(
          () =>
            Array.from(document.querySelectorAll(".jp-Notebook .jp-Cell")).some(
              (c) =>
                (c.querySelector('.jp-InputArea-editor')?.textContent ?? '').includes('6 * 7') &&
                (c.querySelector('.jp-OutputArea')?.textContent ?? '').includes('42'),
            ),
          undefined,
          { timeout: 180_000 },
        );
        await page.screenshot({ path: join(dir, 'jupyterlab.png'), fullPage: true });
        assert.deepEqual(pageErrors, [], 'no uncaught errors in the page');
      } finally {
        await browser.close();
      }
    } finally {
      if (server?.pid) {
        try {
          process.kill(-server.pid, 'SIGTERM');
        } catch {
          // already gone
        }
      }
      rmSync(home, { recursive: true, force: true });
      if (!process.env.MSD_KEEP_JUPYTERLAB_TEST) rmSync(dir, { recursive: true, force: true });
    }
  },
);
