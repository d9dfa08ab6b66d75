/** Optimisation pieces of training: AdamW, the learning-rate schedule and gradient clipping. */
export { AdamW, defaultNoDecay } from './adamw.js';
export type { AdamWOptions, Gradients } from './adamw.js';
export { linearWarmupDecay } from './schedule.js';
export type { LinearWarmupDecayOptions, LrSchedule } from './schedule.js';
export { clipByGlobalNorm } from './clip.js';
export type { ClipOptions, ClipResult } from './clip.js';
