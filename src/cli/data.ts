/**
 * `msd data`: where the corpora and the tokenizer come from, and prefetching them for offline use.
 *
 *   msd data where [corpus] [langs...]      each split's file and why (data.root, MSD_DATA_ROOT, cache, Hub)
 *   msd data pull <corpus> [langs...]       download what is not local yet into the cache ($MSD_CACHE)
 *   msd data pull tokenizer                 the tiny preset's tokenizer files (model.pretrained's)
 */
import type { Command } from 'commander';
import { TINY } from '../config.js';
import { HUB_CORPORA, hubCorpus } from '../data/hub-corpora.js';
import { DATASET_NAMES, locateDataset, SPLITS, type DatasetName } from '../data/registry.js';
import { hubSettings, msdCacheDir } from '../hub/client.js';

function corpusName(name: string): DatasetName {
  if (!DATASET_NAMES.includes(name as DatasetName))
    throw new Error(`unknown corpus '${name}'; expected one of ${DATASET_NAMES.join(', ')} or 'tokenizer'`);
  return name as DatasetName;
}

/** The languages to show for a corpus when none are given: the table's, else the demo's English. */
function defaultLangs(name: DatasetName): string[] {
  const langs = HUB_CORPORA.filter((c) => c.corpus === name).flatMap((c) => c.langs ?? []);
  return langs.length ? langs : ['en'];
}

export function registerDataCommands(program: Command): void {
  const data = program.command('data').description('where corpora and the tokenizer come from; prefetch them');
  data
    .command('where')
    .description('print where each corpus split and the tokenizer resolve, and why')
    .argument('[corpus]', `one of ${DATASET_NAMES.join(', ')} (default: all)`)
    .argument('[langs...]', 'languages (default: those the Hub table lists)')
    .option('--root <dir>', 'a data.root to look at first')
    .action(async (corpus: string | undefined, langs: string[], o: { root?: string }) => {
      const { locateTokenizer } = await import('../model/hub.js'); // loads tfjs: imported when used
      const s = hubSettings();
      console.log(
        `resolution: data.root ${o.root ?? '(unset)'} > MSD_DATA_ROOT ${process.env.MSD_DATA_ROOT || '(unset)'} > ` +
          `cache ${msdCacheDir()} > Hub ${s.endpoint}${s.offline ? ' (off: HF_HUB_OFFLINE)' : ''}`,
      );
      for (const name of corpus ? [corpusName(corpus)] : DATASET_NAMES) {
        for (const lang of langs.length ? langs : defaultLangs(name)) {
          for (const split of SPLITS) {
            const r = locateDataset(name, lang, split, o.root);
            const hub = hubCorpus(name, lang);
            const why = r.path
              ? `${r.source!.padEnd(13)} ${r.path}`
              : hub?.repo
                ? `${'Hub'.padEnd(13)} not local; downloads from ${hub.repo} (${hub.config!(lang)}/${hub.splits![split]}) on first use`
                : `${'missing'.padEnd(13)} not local, not on the Hub: ${hub?.terms ?? 'no Hub source known'}`;
            console.log(`${name.padEnd(10)} ${lang.padEnd(3)} ${split.padEnd(5)} ${why}`);
          }
        }
      }
      const id = TINY.model.pretrained;
      const t = locateTokenizer(id);
      console.log(
        `tokenizer  ${id}: ${t.dir ? `${t.source} ${t.dir}` : `not local (tried ${t.tried.join(', ')}); downloads from ${s.endpoint}/${id} on first use`}`,
      );
    });
  data
    .command('pull')
    .description('download corpora (or the tokenizer) not yet local into the cache, for offline use later')
    .argument('<corpus>', `one of ${DATASET_NAMES.join(', ')}, or 'tokenizer'`)
    .argument('[langs...]', 'languages (default: those the Hub table lists)')
    .action(async (corpus: string, langs: string[]) => {
      const { ensureCorpus } = await import('../data/hub.js'); // loads tfjs: imported when used
      const { resolveTokenizerDir } = await import('../model/hub.js');
      if (corpus === 'tokenizer') {
        const dir = await resolveTokenizerDir(langs[0] ?? TINY.model.pretrained);
        console.log(`tokenizer: ${dir}`);
        return;
      }
      const name = corpusName(corpus);
      for (const r of await ensureCorpus(name, langs.length ? langs : defaultLangs(name)))
        console.log(
          `${name} ${r.lang} ${r.split}: ${r.path ? `${r.source} ${r.path}` : 'none (the corpus has no such split)'}`,
        );
    });
}
