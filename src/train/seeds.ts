/**
 * Every random choice of a run comes from the run seed through one named stream per use, so adding or reordering a
 * use never shifts another one's numbers (nanoGPT keeps one seed; with several models and data streams per run,
 * naming them is what keeps "same seed, same numbers" true):
 *
 *   streamSeed(seed, 'teacher/init')              weights of the teacher's new heads
 *   streamSeed(seed, 'student:nl/batches')        batch order (makeBatches mixes in the epoch)
 *   streamSeed(seed, 'teacher/dropout', step)     dropout masks of one optimizer step
 */
import { deriveSeed } from '../model/random.js';
import { mixSeed } from '../rng.js';

/** The seed of the stream `name` of a run seeded with `seed`, optionally mixed with counters (step, epoch). */
export function streamSeed(seed: number, name: string, ...counters: number[]): number {
  const base = deriveSeed(seed, name);
  return counters.length ? mixSeed(base, ...counters) : base;
}
