/** A BERT `config.json` read from disk; the parsing and validation are bert-config.ts (re-exported here). */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseBertConfig, type BertConfig } from './bert-config.js';

export * from './bert-config.js';

/** The `config.json` of a model directory (not a run directory's config: src/run/dir.ts has that). */
export function modelConfigPath(modelDir: string): string {
  return join(modelDir, 'config.json');
}

/** Reads and validates `config.json` from a file. */
export function readBertConfig(path: string): BertConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new Error(`${path}: cannot read BERT config: ${(err as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new Error(`${path}: not valid JSON: ${(err as Error).message}`);
  }
  return parseBertConfig(json, path);
}
