/**
 * Builds src/backend/native-kernels.c into lib/native/msd-kernels.so (.dylib on macOS), the element-wise kernels and
 * the small products on every core (src/backend/native-kernels.ts loads it). Run by `npm run build` after tsc.
 *
 * Optional: without a C compiler (`CC`, else `cc`) the build says so and the library runs the wasm kernels instead
 * (the same bits, one core) and every product on the BLAS; `MSD_NATIVE_BUILD=off` skips it. Flags: -O3
 * -ffp-contract=off (no fused multiply-add the compiler would choose, so every element-wise operation rounds as
 * wasm's do; the product kernel asks for its own by name), and on x86-64 -mavx2 for the kernels, with the CPU check
 * built apart without it so that it runs anywhere.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { nativeLibraryPath } from '../src/backend/native-kernels.js';

const root = join(import.meta.dirname, '..');
const source = join(root, 'src', 'backend', 'native-kernels.c');
const target = nativeLibraryPath();

function cc(args: string[]): string | undefined {
  const compiler = process.env.CC?.trim() || 'cc';
  const r = spawnSync(compiler, args, { encoding: 'utf8' });
  if (r.error) return `${compiler}: ${r.error.message}`;
  if (r.status !== 0) return `${compiler} ${args.join(' ')}\n${r.stderr}`;
  return undefined;
}

function build(): string | undefined {
  const tmp = mkdtempSync(join(tmpdir(), 'msd-native-'));
  try {
    const common = ['-O3', '-fPIC', '-ffp-contract=off', '-fno-math-errno', '-std=gnu11', '-Wall'];
    const x86 = process.arch === 'x64';
    const cpu = join(tmp, 'cpu.o');
    const kernels = join(tmp, 'kernels.o');
    const lib = join(tmp, 'lib');
    const err =
      cc([...common, '-DMSD_CPU_CHECK', '-c', source, '-o', cpu]) ??
      cc([...common, ...(x86 ? ['-mavx2'] : []), '-c', source, '-o', kernels]) ??
      cc(['-shared', '-pthread', '-o', lib, cpu, kernels]);
    if (err) return err;
    mkdirSync(dirname(target), { recursive: true });
    renameSync(lib, target);
    return undefined;
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

if (process.env.MSD_NATIVE_BUILD?.trim() === 'off') {
  console.log('build-native: skipped (MSD_NATIVE_BUILD=off); the wasm kernels will run');
} else {
  const err = build();
  if (err) {
    console.warn(`build-native: not built, the wasm kernels will run (one core): ${err.trim()}`);
  } else {
    console.log(`build-native: ${target}`);
  }
}
