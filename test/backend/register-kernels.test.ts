/**
 * src/backend/register-kernels.ts: a kernel some earlier registration put under a name is kept, and a list is
 * registered once (its gradients are not registered again, which tfjs would take as an override).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { getGradient, getKernel, type GradConfig, type KernelConfig } from '@tensorflow/tfjs-core';
import { registerKernels } from '../../src/backend/register-kernels.js';

const kernel = (name: string, tag: number): KernelConfig => ({
  kernelName: name,
  backendName: 'cpu',
  kernelFunc: () => ({ dataId: {}, shape: [tag], dtype: 'float32' }),
});
const gradient = (name: string): GradConfig => ({ kernelName: name, gradFunc: () => ({}) });

test('a kernel already registered under a name and backend is kept; the others are registered', () => {
  const first = kernel('MsdRegisterTestA', 1);
  registerKernels([first]);
  const later = [kernel('MsdRegisterTestA', 2), kernel('MsdRegisterTestB', 3)];
  registerKernels(later);
  assert.equal(getKernel('MsdRegisterTestA', 'cpu'), first);
  assert.equal(getKernel('MsdRegisterTestB', 'cpu'), later[1]);
});

test('a list is registered once: a second call with it registers no gradient again', () => {
  const kernels = [kernel('MsdRegisterTestC', 1)];
  const g1 = gradient('MsdRegisterTestC');
  registerKernels(kernels, [g1]);
  registerKernels(kernels, [gradient('MsdRegisterTestC')]);
  assert.equal(getGradient('MsdRegisterTestC'), g1);
  // Another list with the same kernel name is a registration of its own (its gradient replaces the first).
  const g2 = gradient('MsdRegisterTestC');
  registerKernels([kernel('MsdRegisterTestC', 2)], [g2]);
  assert.equal(getGradient('MsdRegisterTestC'), g2);
});
