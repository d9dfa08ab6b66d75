/**
 * Compile-time checks for the unlabelled view, type-checked by unlabelled.test.ts (not run). Each
 * `@ts-expect-error` line must fail to compile; if the types ever let gold tags through, the directive itself
 * becomes an error ("unused @ts-expect-error") and the test fails.
 */
import { unlabelled, type Sentence, type UnlabelledSentence } from '../../src/data/index.js';

declare function trainStudent(target: readonly UnlabelledSentence[]): void;
declare const gold: Sentence[];

const view = unlabelled(gold);
trainStudent(view);
trainStudent(unlabelled({ sentences: gold }));
export const tokens: readonly string[] = view[0]!.tokens;

// @ts-expect-error gold tags cannot be read from the unlabelled view as tags
export const leaked: readonly string[] = view[0]!.tags;
// @ts-expect-error not even a bare read compiles (the type has no `tags`)
export const bare = view[0]!.tags;
// @ts-expect-error nor used as an array
export const n = view[0]!.tags.length;
// @ts-expect-error a labelled Sentence[] is not accepted where UnlabelledSentence[] is required
trainStudent(gold);
// @ts-expect-error nor a single labelled sentence
trainStudent([gold[0]!]);
// @ts-expect-error an unlabelled sentence cannot be forged from a plain object (the brand is missing)
export const forged: UnlabelledSentence = { id: 'x', lang: 'en', tokens: [], source: { file: 'f', line: 1 } };
