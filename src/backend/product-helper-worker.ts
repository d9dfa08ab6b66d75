/**
 * The helper thread of product-helper.ts: it loads the same BLAS, then sleeps on the job counter; woken, it joins the
 * job if the main thread has not closed it yet, computes chunks of it until none is left, and marks it done.
 */
import { workerData } from 'node:worker_threads';
import { loadBlas } from './blas.js';
import { DONE, FAILED, HELPED, JOINED, OPEN, READY, SEQ, STATE, runChunks, type HelperData } from './product-helper.js';

const { control, job } = workerData as HelperData;
const load = loadBlas();
if (!load.ok) {
  Atomics.store(control, READY, 2);
} else {
  Atomics.store(control, READY, 1);
  const { sgemmAt } = load.blas;
  let seen = Atomics.load(control, SEQ);
  for (;;) {
    // A timeout, so that a thread asked to stop (the process exiting) is never stuck here for long.
    Atomics.wait(control, SEQ, seen, 1000);
    const seq = Atomics.load(control, SEQ);
    if (seq === seen) continue;
    seen = seq;
    if (Atomics.compareExchange(control, STATE, OPEN, JOINED) !== OPEN) continue;
    let state = DONE;
    try {
      Atomics.add(control, HELPED, runChunks(sgemmAt, control, job));
    } catch {
      // Entries it claimed may be missing: the main thread reports the loop as failed, and works alone from then on.
      state = FAILED;
      Atomics.store(control, READY, 2);
    } finally {
      Atomics.store(control, STATE, state);
      Atomics.notify(control, STATE);
    }
  }
}
