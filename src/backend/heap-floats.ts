/**
 * Float32 arrays in the wasm backend's heap that are not tensors: AdamW's scratch space, through which its SIMD
 * update (`adamw_hf`/`adamw_torch` in src/backend/simd-kernels.wat) reads and writes the moment estimates in chunks
 * (the moments themselves stay in host memory, out of the 4 GiB heap). Allocated with the backend's own `malloc`,
 * zeroed, never seen by tfjs (no tensor count, no tidy); `free()` gives the bytes back, and a
 * `FinalizationRegistry` frees what a caller forgot.
 *
 * Like every heap view, `view()` is valid only until the next allocation on the backend (growing the memory
 * detaches it): take it, use it, drop it. `byteOffset` stays valid for the array's life.
 */
import { activeWasm } from './host-memory.js';

interface WasmHeap {
  wasm: { _malloc(bytes: number): number; _free(ptr: number): void; HEAPU8: Uint8Array };
}

/** The active wasm backend (host-memory.ts's test) when it exposes its allocator, else undefined. */
function activeHeap(): WasmHeap | undefined {
  const b = activeWasm() as Partial<WasmHeap> | undefined;
  return b?.wasm && typeof b.wasm._malloc === 'function' && typeof b.wasm._free === 'function'
    ? (b as WasmHeap)
    : undefined;
}

const finalizer = new FinalizationRegistry<{ heap: WasmHeap; ptr: number }>(({ heap, ptr }) => heap.wasm._free(ptr));

export class HeapFloats {
  private ptr: number;

  private constructor(
    private readonly heap: WasmHeap,
    ptr: number,
    readonly length: number,
  ) {
    this.ptr = ptr;
    finalizer.register(this, { heap, ptr }, this);
  }

  /** `length` zeros in the active wasm backend's heap, or undefined when the active backend is not wasm. */
  static zeros(length: number): HeapFloats | undefined {
    const heap = activeHeap();
    if (!heap) return undefined;
    // At least 4 bytes, so that an empty array still has an address of its own.
    const ptr = heap.wasm._malloc(Math.max(4, length * 4)) >>> 0;
    if (ptr === 0) throw new Error(`backend/heap-floats.ts: the wasm heap cannot hold ${length} more float32 values`);
    const arr = new HeapFloats(heap, ptr, length);
    arr.view().fill(0);
    return arr;
  }

  /** The byte offset of the values in the heap. */
  get byteOffset(): number {
    if (this.ptr === 0) throw new Error('backend/heap-floats.ts: the array was freed');
    return this.ptr;
  }

  /** A view of the values (valid until the next allocation on the backend). */
  view(): Float32Array {
    return new Float32Array(this.heap.wasm.HEAPU8.buffer, this.byteOffset, this.length);
  }

  /** Gives the bytes back to the heap (idempotent). */
  free(): void {
    if (this.ptr === 0) return;
    finalizer.unregister(this);
    this.heap.wasm._free(this.ptr);
    this.ptr = 0;
  }
}
