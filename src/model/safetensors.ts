/**
 * Safetensors files on disk: the format itself (parsing, validation, serialisation) is safetensors-format.ts,
 * re-exported here, which the browser bundle uses without Node's file system.
 */
import { readFileSync } from 'node:fs';
import { writeFileAtomic } from '../run/io.js';
import {
  parseSafetensors,
  serializeSafetensors,
  type SafetensorsFile,
  type TensorToWrite,
} from './safetensors-format.js';

export * from './safetensors-format.js';

/** Reads and validates a safetensors file (the whole file is read; tensors are decoded on demand). */
export function readSafetensors(path: string): SafetensorsFile {
  let buf: Buffer;
  try {
    buf = readFileSync(path);
  } catch (err) {
    throw new Error(`${path}: cannot read safetensors file: ${(err as Error).message}`);
  }
  return parseSafetensors(buf, path);
}

/** Writes a safetensors file atomically (temp file + rename). */
export function writeSafetensors(
  path: string,
  tensors: Iterable<[string, TensorToWrite]>,
  metadata?: Record<string, string>,
): void {
  writeFileAtomic(path, serializeSafetensors(tensors, metadata));
}
