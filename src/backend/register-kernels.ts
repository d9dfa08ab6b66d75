/**
 * The library's own kernels and gradients enter tfjs's registries here, once per list: a kernel only where its name
 * has none for its backend yet (a test, or a second copy of the library in the process, may have registered it
 * first), and the gradients once (tfjs warns when a gradient is registered again).
 */
import { getKernel, registerGradient, registerKernel, type GradConfig, type KernelConfig } from '@tensorflow/tfjs-core';

const registered = new WeakSet<readonly KernelConfig[]>();

/** Registers `kernels` and `gradients`; a second call with the same `kernels` list does nothing. */
export function registerKernels(kernels: readonly KernelConfig[], gradients: readonly GradConfig[] = []): void {
  if (registered.has(kernels)) return;
  for (const k of kernels) if (!getKernel(k.kernelName, k.backendName)) registerKernel(k);
  for (const g of gradients) registerGradient(g);
  registered.add(kernels);
}
