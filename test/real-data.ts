/**
 * The real corpora and tokenizer for tests that need them, found through the library's own resolution: the data
 * root `MSD_DATA_ROOT`, else the user cache's (`$MSD_CACHE/data`, filled by `msd data pull` or the demo of
 * `kernel-setup/setup.sh`); the tokenizer from `MSD_TOKENIZER_DIR`, else the cache. `bash .ci/run` points both
 * variables at this development setup's local mirror. Nothing here downloads; without the data the tests skip and
 * say why.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { cacheDataRoot } from '../src/data/registry.js';
import { locateTokenizer } from '../src/model/hub.js';

const envRoot = process.env.MSD_DATA_ROOT?.trim() || undefined;

/** The local data root with the real corpora (`MSD_DATA_ROOT`, else the cache's), or undefined. */
export const REAL_DATA: string | undefined = envRoot ?? (existsSync(cacheDataRoot()) ? cacheDataRoot() : undefined);
/** A local folder with mBERT's tokenizer files (vocab.txt, tokenizer.json, config.json), or undefined. */
export const REAL_TOKENIZER: string | undefined = locateTokenizer('bert-base-multilingual-cased').dir;

/** A skip reason when the real data (a sub-folder of it) is not there; false when it is. */
export function noRealData(sub = ''): string | false {
  return (
    (!REAL_DATA || !existsSync(join(REAL_DATA, sub))) &&
    `needs the real corpora${sub ? ` (${sub})` : ''}: set MSD_DATA_ROOT to a local data root (bash .ci/run does), or run \`msd data pull\``
  );
}

/** A skip reason when the real tokenizer (one of its files) is not there; false when it is. */
export function noRealTokenizer(file = 'vocab.txt'): string | false {
  return (
    (!REAL_TOKENIZER || !existsSync(join(REAL_TOKENIZER, file))) &&
    `needs mBERT's tokenizer files: set MSD_TOKENIZER_DIR to a local folder with them (bash .ci/run does), or run \`msd data pull tokenizer\``
  );
}
