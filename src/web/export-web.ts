/**
 * `msd export --format web`: a static folder that tags text in the browser. It holds the page (index.html), the
 * bundled tagger (tagger.js: the library's own tokeniser, windows, decoding and `predict` on TensorFlow.js's cpu
 * backend, built by `npm run build` into lib/web/), the model as this library saves it (config.json,
 * model.safetensors, training_config.json), the vocabulary (the tokenizer file `loadTokenizer` reads: tokenizer.json,
 * else vocab.txt + tokenizer_config.json) and meta.json (title, languages, window length). Serve it from any static
 * host; nothing runs on a server.
 */
import { existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeFileAtomic, writeJsonAtomic } from '../run/io.js';
import { disposeNerModel, loadNerModel } from '../model/ner-model.js';
import type { WebMeta } from './browser/tagger.js';

export interface ExportWebResult {
  outDir: string;
  files: string[];
  /** Total bytes written. */
  bytes: number;
}

/** lib/web (the bundle and the page), from lib/web/export-web.js itself or from src/web under tsx. */
export function webAssetsDir(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  for (const d of [here, join(here, '..', '..', 'lib', 'web')]) {
    if (existsSync(join(d, 'tagger.js')) && existsSync(join(d, 'index.html'))) return d;
  }
  throw new Error(
    `the browser tagger is not built (no tagger.js and index.html in ${here} or lib/web); run npm run build`,
  );
}

/** Languages a saved model's training config names: the source, then the targets. */
function languagesOf(training: { data?: { source?: unknown; targets?: unknown } }): string[] {
  const data = training.data ?? {};
  const langs: string[] = [];
  if (typeof data.source === 'string') langs.push(data.source);
  if (Array.isArray(data.targets)) for (const t of data.targets) if (typeof t === 'string') langs.push(t);
  return langs;
}

/** `nl` -> `Dutch` (the code itself where Intl does not know it). */
function languageName(code: string): string {
  try {
    return new Intl.DisplayNames(['en'], { type: 'language' }).of(code) ?? code;
  } catch {
    return code;
  }
}

export function exportWeb(modelDir: string, outDir: string, opts: { title?: string } = {}): ExportWebResult {
  // Load it once the way `msd predict` does: a directory that does not load here would not load in the page.
  const model = loadNerModel(modelDir);
  const maxLength = model.maxLength;
  disposeNerModel(model);
  const assets = webAssetsDir();
  mkdirSync(outDir, { recursive: true });
  const files: string[] = [];
  let bytes = 0;
  const put = (name: string, data: Uint8Array | string) => {
    writeFileAtomic(join(outDir, name), data);
    files.push(name);
    bytes += typeof data === 'string' ? Buffer.byteLength(data) : data.length;
  };
  const tokenizer = existsSync(join(modelDir, 'tokenizer.json')) ? 'tokenizer.json' : 'vocab.txt';
  const modelFiles = ['config.json', 'model.safetensors', 'training_config.json'];
  modelFiles.push(...(tokenizer === 'tokenizer.json' ? ['tokenizer.json'] : ['vocab.txt', 'tokenizer_config.json']));
  for (const f of modelFiles) {
    const src = join(modelDir, f);
    if (!existsSync(src)) {
      if (f === 'training_config.json' || f === 'tokenizer_config.json') continue;
      throw new Error(`${src}: not found; a saved model directory has it`);
    }
    put(f, readFileSync(src)); // not copyFile: tokenizer files copied from a read-only mirror stay read-only
  }
  const trainingPath = join(modelDir, 'training_config.json');
  const training = existsSync(trainingPath) ? (JSON.parse(readFileSync(trainingPath, 'utf8')) as object) : {};
  const languages = languagesOf(training);
  const role = /students[/\\]([^/\\]+)[/\\]/.exec(modelDir)?.[1];
  const meta: WebMeta = {
    title: opts.title ?? `${role ? `${languageName(role)} named entities` : 'Named entities'}`,
    description: role
      ? `A student distilled on unlabelled ${languageName(role)} text from a ${languageName(languages[0] ?? 'und')} teacher (msd-ner)`
      : `An msd-ner model${languages.length ? ` (${languages.map(languageName).join(', ')})` : ''}`,
    source: modelDir,
    languages,
    tokenizer,
    maxLength,
    exportedAt: new Date().toISOString(),
  };
  writeJsonAtomic(join(outDir, 'meta.json'), meta);
  files.push('meta.json');
  bytes += statSync(join(outDir, 'meta.json')).size;
  for (const f of ['index.html', 'tagger.js']) put(f, readFileSync(join(assets, f)));
  return { outDir, files, bytes };
}
