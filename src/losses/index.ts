/**
 * `msd-ner/losses`: the paper's equations as pure functions of tensors (each file starts with the equation it
 * implements). Training composes them; they are here for reading, testing and experiments of one's own.
 */
export { tokenCrossEntropy, IGNORE_INDEX } from './ce.js';
export { teacherLoss, type TeacherLossInput } from './teacher.js';
export { kdLayerLoss, studentLoss, type StudentLossInput } from './kd.js';
export { mmd, type MmdOptions } from './mmd.js';
export { finalLoss, type FinalLossInput } from './final.js';
export { layerWeights, type LambdaMode, type LayerWeights } from './lambda.js';
export { readTerms, type LossResult } from './terms.js';
export { LossInputError } from './check.js';
