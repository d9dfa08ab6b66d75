/**
 * Headless Chromium for the tests that look at a page (report.html, the web tagger, JupyterLab): where the browser
 * is, and the flags it needs on a machine with no network beyond loopback (without the background-networking flags
 * Chromium keeps opening connections that are refused).
 *
 * The browser: MSD_CHROMIUM, else chromium / chromium-browser / google-chrome on PATH; on CI (CI=true) a missing
 * one is installed with test/viz/install-chromium.sh (apt, as root). Without one, `reason` says why, for `skip`.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser, BrowserContext } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));

export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

function find(): { path?: string; reason?: string } {
  const env = process.env.MSD_CHROMIUM;
  if (env) return existsSync(env) ? { path: env } : { reason: `MSD_CHROMIUM=${env} does not exist` };
  for (const c of ['chromium', 'chromium-browser', 'google-chrome']) {
    const r = spawnSync('sh', ['-c', `command -v ${c}`], { encoding: 'utf8' });
    if (r.status === 0 && r.stdout.trim()) return { path: r.stdout.trim() };
  }
  if (!process.env.CI) {
    return {
      reason:
        'no chromium on PATH (apt-get install chromium, or set MSD_CHROMIUM); CI installs it with test/viz/install-chromium.sh',
    };
  }
  const r = spawnSync('bash', [join(here, 'viz', 'install-chromium.sh')], { encoding: 'utf8' });
  return r.status === 0 && r.stdout.trim()
    ? { path: r.stdout.trim().split('\n').pop() }
    : { reason: `install-chromium.sh failed: ${r.stderr.trim().split('\n').pop()}` };
}

let found: { path?: string; reason?: string } | undefined;

/** Where Chromium is (`path`), or why there is none (`reason`); looked up (and on CI installed) once. */
export function findChromium(): { path?: string; reason?: string } {
  return (found ??= find());
}

function executablePath(): string {
  const { path, reason } = findChromium();
  if (!path) throw new Error(reason);
  return path;
}

/** A headless Chromium with the flags above. */
export async function launchChromium(): Promise<Browser> {
  const { chromium } = await import('playwright-core');
  return chromium.launch({ executablePath: executablePath(), headless: true, args: CHROMIUM_ARGS });
}

/** The same, with a profile directory of its own (pages opened from file:// URLs). */
export async function launchChromiumContext(
  profileDir: string,
  viewport: { width: number; height: number },
): Promise<BrowserContext> {
  const { chromium } = await import('playwright-core');
  return chromium.launchPersistentContext(profileDir, {
    executablePath: executablePath(),
    headless: true,
    args: CHROMIUM_ARGS,
    viewport,
  });
}
