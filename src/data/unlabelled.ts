/**
 * The target-language view for distillation. The student is trained on target-language text without its labels;
 * the public reference code read the target gold tags there by accident. `unlabelled()` returns frozen
 * `UnlabelledSentence`s (see types.ts): at run time they hold no `tags` property, and at compile time a `Sentence`
 * is not assignable to `UnlabelledSentence` (brand) and reading `.tags` from one is an error (`never`).
 */
import type { Sentence, UnlabelledSentence } from './types.js';

/** Drops the tags: accepts sentences or anything holding them (a `Dataset`, a reader's result). */
export function unlabelled(
  input: readonly Sentence[] | { readonly sentences: readonly Sentence[] },
): UnlabelledSentence[] {
  const sentences = 'sentences' in input ? input.sentences : input;
  return sentences.map(
    (s) =>
      Object.freeze({
        id: s.id,
        lang: s.lang,
        tokens: Object.freeze([...s.tokens]),
        source: Object.freeze({ file: s.source.file, line: s.source.line }),
      }) as unknown as UnlabelledSentence,
  );
}
