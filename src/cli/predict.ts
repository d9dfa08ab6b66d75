/**
 * `msd predict --model <dir> "sentence" ...`: tags and entities for raw sentences with a trained model (a `best/`
 * directory of a run). The sentences and the model directory are checked before the backend starts: an empty
 * sentence, one longer than `--max-words`, or a directory that is not a saved model is one clear error.
 */
import type { Command } from 'commander';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { UserError } from '../errors.js';

/** Default of `--max-words`: far above any real sentence (CoNLL's longest has 124 words), far below a pasted book. */
export const PREDICT_MAX_WORDS = 1000;

function positiveInt(name: string, v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new UserError(`${name} is '${v}'; expected a positive integer`);
  return n;
}

/** Every sentence must have at least one word and at most `maxWords`. */
export function checkSentences(
  sentences: readonly string[],
  maxWords: number,
  pretokenize: (s: string) => string[],
): void {
  sentences.forEach((s, i) => {
    const n = pretokenize(s).length;
    const which = sentences.length > 1 ? `sentence ${i + 1} of ${sentences.length}` : 'the sentence';
    if (n === 0)
      throw new UserError(
        `predict: ${which} is empty${s.length ? ' (only spaces)' : ''}; nothing to tag`,
        'give each sentence as one quoted argument, e.g. msd predict --model <dir> "Jan woont in Amsterdam."',
      );
    if (n > maxWords)
      throw new UserError(
        `predict: ${which} has ${n} words, more than --max-words ${maxWords} (it starts "${s.slice(0, 40)}...")`,
        'split the text into sentences (one argument each), or raise --max-words',
      );
  });
}

/** The directory must be a saved model: config.json and model.safetensors (what saveNerModel writes). */
export function checkModelDir(dir: string): void {
  const hint = 'pass a model directory written by training, e.g. runs/demo/students/nl/best';
  if (!existsSync(dir)) throw new UserError(`--model ${dir}: no such directory`, hint);
  if (!statSync(dir).isDirectory()) throw new UserError(`--model ${dir}: a file, not a model directory`, hint);
  for (const f of ['config.json', 'model.safetensors'])
    if (!existsSync(join(dir, f))) throw new UserError(`--model ${dir}: not a saved model (no ${f} in it)`, hint);
}

export function registerPredictCommand(program: Command): void {
  program
    .command('predict')
    .description('tag raw sentences with a trained model (a best/ directory of a run)')
    .requiredOption('--model <dir>', 'model directory, e.g. runs/tiny/students/nl/best')
    .option('--max-words <n>', 'refuse a sentence of more words than this', String(PREDICT_MAX_WORDS))
    .argument('<sentences...>', 'sentences, one argument each')
    .action(async (sentences: string[], o: { model: string; maxWords: string }) => {
      const maxWords = positiveInt('--max-words', o.maxWords);
      checkModelDir(o.model);
      // The modules that load tfjs, after the directory check.
      const { predict, pretokenize } = await import('../eval/predict.js');
      checkSentences(sentences, maxWords, pretokenize);
      const { initBackend } = await import('../backend/init.js');
      const { disposeNerModel, loadNerModel } = await import('../model/ner-model.js');
      await initBackend();
      const model = loadNerModel(o.model);
      try {
        for (const p of predict(model, sentences)) {
          console.log(p.tokens.map((t, i) => (p.tags[i] === 'O' ? t : `${t}/${p.tags[i]}`)).join(' '));
          for (const e of p.entities) console.log(`  ${e.type.padEnd(5)} ${e.text}  (${(e.prob ?? 0).toFixed(2)})`);
        }
      } finally {
        disposeNerModel(model);
      }
    });
}
