/** MSD losses: pure functions of tensors, one concept per file (see each file's header for the equation). */
export { LossInputError } from './check.js';
export { readTerms } from './terms.js';
export type { LossResult } from './terms.js';
export { stopGradient } from './stop-gradient.js';
export { tokenCrossEntropy, IGNORE_INDEX } from './ce.js';
export type { CrossEntropyOptions } from './ce.js';
export { layerWeights, weightedSum } from './lambda.js';
export type { LambdaMode, LayerWeights, LayerWeightsOptions } from './lambda.js';
export { teacherLoss, DEFAULT_AUX_LAYERS, DEFAULT_MAIN_LAYER } from './teacher.js';
export type { TeacherLossInput } from './teacher.js';
export { kdLayerLoss, studentLoss } from './kd.js';
export type { StudentLossInput } from './kd.js';
export { mmd, mmdBandwidths } from './mmd.js';
export type { MmdOptions } from './mmd.js';
export { finalLoss } from './final.js';
export type { FinalLossInput } from './final.js';
