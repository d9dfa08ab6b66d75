/*
 * The largest element-wise kernels of src/backend/simd-kernels.wat in native code, on every core: the same arithmetic
 * in the same order per value (so the same bits), eight lanes at a time (AVX2 on x86-64) instead of wasm SIMD's four,
 * and the values of one call shared among the calling thread and a pool of worker threads.
 *
 * Why: tfjs-backend-wasm's heap cannot be shared with another thread in Node, so the wasm kernels run on one core
 * while the BLAS products use all of them. Code outside wasm can work on the heap by address (as sgemm does through
 * koffi), from any thread. Built at setup by kernel-setup/build-native.ts (a C compiler; without one the wasm
 * kernels run), loaded by src/backend/native-kernels.ts.
 *
 * Bits: every kernel here computes each value independently of the others, so how the values are split among
 * threads and lanes cannot change a result. Compiled without -ffast-math and with -ffp-contract=off: each + - * /
 * sqrt is one IEEE float32 operation, as in wasm (no fused multiply-add; the product kernel at the end, which has no
 * wasm twin, calls fused multiply-adds by name).
 *
 * Only the passes that gain are here. The .wat's memory-bound kernels were ported too and measured slower or no
 * faster at mBERT's sizes, right after a BLAS product (as in a step), because a worker's wake-up and the cold
 * caches cost what the second core saves on passes of 0.1-0.5 ms: += and tfjs's Multiply over [512, 3072],
 * LayerNorm forward and backward and the layout changes over [512, 768], the softmax gradient
 * (bench/native-kernels.ts at 5afe1d5; README, "Element-wise kernels on every core").
 *
 *   msd_gelu(mode, x, dy, out, n)   mode 0: out = x Phi(x); 1: out = dy (Phi + x phi); 2: out = x Phi(x) and
 *                                   dy (an output here) = Phi + x phi   (gelu_forward / _backward / _forward_train)
 *   msd_dropout(x, out, n, base, threshold, scale)   x = 0: the mask; else x times it (dropout_mask / _apply)
 *   msd_adamw(p, g, m, v, out, n, b1, b2, eps, step, c, decay, gs)   c = 0: hf, else torch with sqrtBc2 = c
 *   msd_gather_rows, msd_rows_to_heads, msd_heads_to_rows   row copies (embedding lookups, attention's layouts)
 *   msd_attention_softmax(s, mask, out, rows, rows_per_mask, cols, scale)   softmax(s scale + mask), rows
 *   msd_segment_sum(x, ids, out, rows, width, segments)   the gradient of an embedding lookup (UnsortedSegmentSum)
 *   msd_pair_distances(z, out, n, d)         the pairwise squared distances of MMD's kernels, and their gradient
 *   msd_pair_distances_grad(z, g, dz, n, d)  (pair-distance-kernels.ts's twins in JavaScript; the same bits)
 *   msd_sgemm_batch(...)            small products (per-head loops, small dense products, sums), x86-64 only
 *   msd_threads()                   threads a call uses (the caller included)
 *   msd_cpu_ok()                    1 where this build's instructions run (x86-64: AVX2 and FMA; built apart,
 *                                   MSD_CPU_CHECK)
 */
#define _GNU_SOURCE
#ifdef MSD_CPU_CHECK
/* Compiled on its own without -mavx2 (kernel-setup/build-native.ts), so that it runs on any x86-64 CPU. */
int msd_cpu_ok(void) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_cpu_init();
  /* FMA for msd_sgemm_batch; every x86-64 CPU with AVX2 so far has it too (Intel from Haswell, AMD from Excavator). */
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
  return 1;
#endif
}
#else
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

typedef float f8 __attribute__((vector_size(32)));
typedef int32_t i8 __attribute__((vector_size(32)));
typedef uint32_t u8 __attribute__((vector_size(32)));

#define LANES 8

static inline f8 splat(float v) { return (f8){v, v, v, v, v, v, v, v}; }
static inline i8 isplat(int32_t v) { return (i8){v, v, v, v, v, v, v, v}; }
static inline u8 usplat(uint32_t v) { return (u8){v, v, v, v, v, v, v, v}; }
static inline f8 load(const float *p) {
  f8 v;
  memcpy(&v, p, sizeof v);
  return v;
}
static inline void store(float *p, f8 v) { memcpy(p, &v, sizeof v); }
/* The first k < 8 values, the other lanes 0 (they compute something harmless and are never stored). */
static inline f8 load_part(const float *p, size_t k) {
  f8 v = splat(0.0f);
  memcpy(&v, p, k * sizeof(float));
  return v;
}
static inline void store_part(float *p, f8 v, size_t k) { memcpy(p, &v, k * sizeof(float)); }
static inline f8 as_f(i8 v) { return (f8)v; }
#if defined(__AVX__)
#include <immintrin.h>
static inline f8 vsqrt(f8 v) { return (f8)_mm256_sqrt_ps((__m256)v); }
#else
static inline f8 vsqrt(f8 v) {
  for (int l = 0; l < LANES; l++) v[l] = __builtin_sqrtf(v[l]);
  return v;
}
#endif
static inline i8 as_i(f8 v) { return (i8)v; }

/* ---------------------------------------------------------------- the pool */

/* A job: fn over [0, n) in chunks of `chunk` values, claimed through `next` by the caller and the workers. */
typedef void (*range_fn)(const void *args, size_t begin, size_t end);

#define OPEN 0x80000000u
#define MAX_THREADS 64
/* Values per claim: about 10-40 us of work, so a worker the OS has put aside holds the caller up that long at most. */
#define CHUNK 16384
/*
 * How long a worker waits for the next job before it sleeps, in microseconds (MSD_NATIVE_SPIN_US, default 50). It
 * waits with sched_yield, not a busy loop: OpenBLAS's threads take the core the moment they have work (they yield
 * as they wait too), and the next element-wise pass, usually a few microseconds away, finds the worker awake.
 */
static long spin_ns = 50000;

static struct {
  range_fn fn;
  const void *args;
  size_t n, chunk;
  _Atomic size_t next;
  _Atomic uint32_t gate; /* OPEN | workers that joined the open job */
  _Atomic uint32_t done; /* workers of the closed job that finished */
  _Atomic uint32_t seq;  /* counts posted jobs; workers wait for it to change */
  _Atomic uint32_t sleepers;
  pthread_mutex_t lock;
  pthread_cond_t wake;
  pthread_mutex_t owner; /* one caller at a time (a second JS thread runs its calls alone) */
  int workers;           /* started */
} pool = {.lock = PTHREAD_MUTEX_INITIALIZER, .wake = PTHREAD_COND_INITIALIZER, .owner = PTHREAD_MUTEX_INITIALIZER};

static pthread_once_t pool_once = PTHREAD_ONCE_INIT;

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  __asm__ __volatile__("yield");
#endif
}

static void run_chunks(void) {
  const size_t n = pool.n, chunk = pool.chunk;
  for (;;) {
    size_t i = atomic_fetch_add_explicit(&pool.next, chunk, memory_order_relaxed);
    if (i >= n) return;
    pool.fn(pool.args, i, i + chunk < n ? i + chunk : n);
  }
}

static inline long long now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (long long)t.tv_sec * 1000000000LL + t.tv_nsec;
}

static void *worker_main(void *arg) {
  (void)arg;
  uint32_t seen = atomic_load(&pool.seq);
  for (;;) {
    const long long deadline = now_ns() + spin_ns;
    while (atomic_load_explicit(&pool.seq, memory_order_acquire) == seen) {
      if (now_ns() < deadline) {
        sched_yield();
        continue;
      }
      pthread_mutex_lock(&pool.lock);
      atomic_fetch_add(&pool.sleepers, 1);
      while (atomic_load(&pool.seq) == seen) pthread_cond_wait(&pool.wake, &pool.lock);
      atomic_fetch_sub(&pool.sleepers, 1);
      pthread_mutex_unlock(&pool.lock);
    }
    seen = atomic_load(&pool.seq);
    uint32_t g = atomic_load_explicit(&pool.gate, memory_order_acquire);
    int joined = 0;
    while (g & OPEN) {
      if (atomic_compare_exchange_weak_explicit(&pool.gate, &g, g + 1, memory_order_acquire, memory_order_acquire)) {
        joined = 1;
        break;
      }
    }
    if (!joined) continue;
    run_chunks();
    atomic_fetch_add_explicit(&pool.done, 1, memory_order_release);
  }
  return NULL;
}

static int wanted_threads(void) {
  const char *env = getenv("MSD_NATIVE_THREADS");
  long t = env && *env ? strtol(env, NULL, 10) : 0;
  if (t <= 0) t = sysconf(_SC_NPROCESSORS_ONLN);
  if (t < 1) t = 1;
  if (t > MAX_THREADS) t = MAX_THREADS;
  return (int)t;
}

static void start_pool(void) {
  const char *spin = getenv("MSD_NATIVE_SPIN_US");
  if (spin && *spin) spin_ns = strtol(spin, NULL, 10) * 1000;
  int want = wanted_threads() - 1;
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  pthread_attr_setstacksize(&attr, 1 << 16);
  for (int i = 0; i < want; i++) {
    pthread_t t;
    if (pthread_create(&t, &attr, worker_main, NULL) != 0) break;
    pool.workers++;
  }
  pthread_attr_destroy(&attr);
}

int msd_threads(void) {
  pthread_once(&pool_once, start_pool);
  return pool.workers + 1;
}

/* fn over [0, n) in chunks of `chunk` values: on the calling thread alone when there is one chunk, the pool has no
 * workers, or another caller holds it. */
static void run_items(range_fn fn, const void *args, size_t n, size_t chunk) {
  if (n == 0) return;
  pthread_once(&pool_once, start_pool);
  if (n <= chunk || pool.workers == 0 || pthread_mutex_trylock(&pool.owner) != 0) {
    fn(args, 0, n);
    return;
  }
  pool.fn = fn;
  pool.args = args;
  pool.n = n;
  pool.chunk = chunk;
  atomic_store_explicit(&pool.next, 0, memory_order_relaxed);
  atomic_store_explicit(&pool.done, 0, memory_order_relaxed);
  atomic_store_explicit(&pool.gate, OPEN, memory_order_release);
  atomic_fetch_add(&pool.seq, 1);
  if (atomic_load(&pool.sleepers) > 0) {
    pthread_mutex_lock(&pool.lock);
    pthread_cond_broadcast(&pool.wake);
    pthread_mutex_unlock(&pool.lock);
  }
  run_chunks();
  /* Close the gate: workers that have not joined by now stay out; wait for those that did. */
  uint32_t joined = atomic_exchange_explicit(&pool.gate, 0, memory_order_acq_rel) & ~OPEN;
  while (atomic_load_explicit(&pool.done, memory_order_acquire) != joined) cpu_relax();
  pthread_mutex_unlock(&pool.owner);
}

/* fn over n values. */
static void run(range_fn fn, const void *args, size_t n) { run_items(fn, args, n, CHUNK); }

/* ---------------------------------------------------------------- GELU */

struct gelu_args {
  int mode;
  const float *x;
  float *dy;
  float *out;
};

/*
 * exp(z) for z <= 0 (GELU's exp(-x^2/2), a softmax row's z - max): simd-kernels.wat's, operation for operation.
 * n = round(z log2 e) by the magic bias, r = z - n ln 2 in two steps, e^r by Cephes' degree-5 polynomial, times 2^n;
 * 0 below -87.3 (2^n would leave the normal range) and for NaN, so a masked key (-1e4 below its row's maximum) gets
 * exactly 0.
 */
static inline f8 exp_nonpos8(f8 z) {
  const f8 one = splat(1.0f), zmin = splat(-87.3f);
  const i8 keep = (i8)(z >= zmin);
  z = as_f((keep & as_i(z)) | (~keep & as_i(zmin)));
  const f8 magic = splat(12583039.0f);
  f8 b = z * splat(1.44269504088896341f) + magic;
  f8 k = b - magic;
  f8 r = z - k * splat(0.693359375f);
  r = r + k * splat(2.12194440e-4f);
  f8 p = splat(1.9875691500e-4f) * r + splat(1.3981999507e-3f);
  p = p * r + splat(8.3334519073e-3f);
  p = p * r + splat(4.1665795894e-2f);
  p = p * r + splat(1.6666665459e-1f);
  p = p * r + splat(5.0000001201e-1f);
  p = (p * (r * r) + r) + one;
  return as_f(keep & as_i(p * as_f(as_i(b) << 23)));
}

/* One vector of gelu_pass in simd-kernels.wat, operation for operation (its comment has the formulas). */
static inline void gelu8(int mode, f8 v, f8 d, f8 *res, f8 *deriv) {
  const f8 one = splat(1.0f), half = splat(0.5f);
  const i8 absmask = isplat(0x7fffffff), signmask = isplat((int32_t)0x80000000u);
  f8 u = v * splat(0.70710678118654752f);
  f8 a = as_f(as_i(u) & absmask);
  f8 t = one / (one + a * splat(0.3275911f));
  /* The .wat clamps with f32x4.pmax (NaN stays NaN) where exp_nonpos8 selects zmin; either way keep is false there
   * and e is 0, so the bits are the same. */
  f8 e = exp_nonpos8(as_f(as_i(a * a) ^ signmask));
  f8 y = splat(1.061405429f) * t + splat(-1.453152027f);
  y = y * t + splat(1.421413741f);
  y = y * t + splat(-0.284496736f);
  y = y * t + splat(0.254829592f);
  y = one - (y * t) * e;
  y = as_f(as_i(y) | (as_i(u) & signmask));
  const f8 p = (one + y) * half;
  const f8 isqrt2pi = splat(0.39894228040143268f);
  if (mode == 1) {
    *res = d * (p + v * (e * isqrt2pi));
  } else {
    *res = v * p;
    if (mode == 2) *deriv = p + v * (e * isqrt2pi);
  }
}

static void gelu_range(const void *args, size_t begin, size_t end) {
  const struct gelu_args *g = args;
  const int mode = g->mode;
  size_t i = begin;
  f8 d = splat(0.0f), res, deriv;
  for (; i + LANES <= end; i += LANES) {
    if (mode == 1) d = load(g->dy + i);
    gelu8(mode, load(g->x + i), d, &res, &deriv);
    store(g->out + i, res);
    if (mode == 2) store(g->dy + i, deriv);
  }
  if (i < end) {
    size_t k = end - i;
    if (mode == 1) d = load_part(g->dy + i, k);
    gelu8(mode, load_part(g->x + i, k), d, &res, &deriv);
    store_part(g->out + i, res, k);
    if (mode == 2) store_part(g->dy + i, deriv, k);
  }
}

void msd_gelu(int mode, const float *x, float *dy, float *out, size_t n) {
  struct gelu_args a = {mode, x, dy, out};
  run(gelu_range, &a, n);
}

/* ---------------------------------------------------------------- dropout */

struct dropout_args {
  const float *x;
  float *out;
  uint32_t base, threshold;
  float scale;
};

/* all ones where position i is kept: lowbias32(i * golden ^ base) >= threshold, unsigned ($keep4 in the .wat) */
static inline i8 keep8(u8 i, u8 base, u8 thr) {
  u8 x = (i * usplat(0x9e3779b9u)) ^ base;
  x = x ^ (x >> 16);
  x = x * usplat(0x7feb352du);
  x = x ^ (x >> 15);
  x = x * usplat(0x846ca68bu);
  x = x ^ (x >> 16);
  return (i8)(x >= thr);
}

static void dropout_range(const void *args, size_t begin, size_t end) {
  const struct dropout_args *a = args;
  const u8 base = usplat(a->base), thr = usplat(a->threshold);
  const i8 scale = as_i(splat(a->scale));
  u8 idx = usplat((uint32_t)begin) + (u8){0, 1, 2, 3, 4, 5, 6, 7};
  size_t i = begin;
  for (; i + LANES <= end; i += LANES, idx += usplat(LANES)) {
    f8 m = as_f(scale & keep8(idx, base, thr));
    if (a->x) m = load(a->x + i) * m;
    store(a->out + i, m);
  }
  if (i < end) {
    size_t k = end - i;
    f8 m = as_f(scale & keep8(idx, base, thr));
    if (a->x) m = load_part(a->x + i, k) * m;
    store_part(a->out + i, m, k);
  }
}

void msd_dropout(const float *x, float *out, size_t n, uint32_t base, uint32_t threshold, float scale) {
  struct dropout_args a = {x, out, base, threshold, scale};
  run(dropout_range, &a, n);
}

/* ---------------------------------------------------------------- AdamW */

struct adamw_args {
  const float *p, *g;
  float *m, *v, *out;
  float b1, b2, eps, step, c, decay, gs;
};

static inline void adamw8(const struct adamw_args *a, f8 *x, f8 *gi, f8 *mi, f8 *vi) {
  const f8 B1 = splat(a->b1), C1 = splat(1.0f - a->b1), B2 = splat(a->b2), C2 = splat(1.0f - a->b2);
  const f8 EPS = splat(a->eps), S = splat(a->step), GS = splat(a->gs);
  *gi = *gi * GS;
  *mi = B1 * *mi + C1 * *gi;
  *vi = B2 * *vi + (C2 * *gi) * *gi;
  f8 sq = vsqrt(*vi);
  if (a->c != 0.0f) {
    *x = *x * splat(1.0f - a->decay) - S * (*mi / (sq / splat(a->c) + EPS));
  } else {
    *x = *x - S * (*mi / (sq + EPS));
    *x = *x - *x * splat(a->decay);
  }
}

static void adamw_range(const void *args, size_t begin, size_t end) {
  const struct adamw_args *a = args;
  size_t i = begin;
  f8 x, gi, mi, vi;
  for (; i + LANES <= end; i += LANES) {
    x = load(a->p + i), gi = load(a->g + i), mi = load(a->m + i), vi = load(a->v + i);
    adamw8(a, &x, &gi, &mi, &vi);
    store(a->m + i, mi), store(a->v + i, vi), store(a->out + i, x);
  }
  if (i < end) {
    size_t k = end - i;
    x = load_part(a->p + i, k), gi = load_part(a->g + i, k), mi = load_part(a->m + i, k);
    vi = load_part(a->v + i, k);
    adamw8(a, &x, &gi, &mi, &vi);
    store_part(a->m + i, mi, k), store_part(a->v + i, vi, k), store_part(a->out + i, x, k);
  }
}

void msd_adamw(const float *p, const float *g, float *m, float *v, float *out, size_t n, float b1, float b2, float eps,
               float step, float c, float decay, float gs) {
  struct adamw_args a = {p, g, m, v, out, b1, b2, eps, step, c, decay, gs};
  run(adamw_range, &a, n);
}


/* ---------------------------------------------------------------- the attention softmax */


struct softmax_args {
  const float *s, *mask;
  float *out;
  size_t rows_per_mask, cols;
  float scale;
};

/*
 * Rows [begin, end) of p = softmax(s scale + mask) over the last axis, the mask row shared by `rows_per_mask` rows
 * (heads x queries). Three passes over a row: z = s scale + mask (two roundings, as the tfjs ops) and its maximum;
 * e = exp(z - max) and its sum (eight lane sums, then lanes 0..7 added in order); p = e / sum.
 */
static void attention_softmax_range(const void *args, size_t begin, size_t end) {
  const struct softmax_args *a = args;
  const size_t cols = a->cols;
  const f8 scale = splat(a->scale);
  for (size_t row = begin; row < end; row++) {
    const float *x = a->s + row * cols, *m = a->mask + row / a->rows_per_mask * cols;
    float *o = a->out + row * cols;
    f8 mx = splat(-__builtin_inff());
    for (size_t i = 0; i < cols; i += LANES) {
      const size_t w = cols - i < LANES ? cols - i : LANES;
      f8 z = (w == LANES ? load(x + i) : load_part(x + i, w)) * scale + (w == LANES ? load(m + i) : load_part(m + i, w));
      if (w < LANES)
        for (size_t l = w; l < LANES; l++) z[l] = -__builtin_inff();
      const i8 gt = (i8)(z > mx);
      mx = as_f((gt & as_i(z)) | (~gt & as_i(mx)));
      if (w == LANES)
        store(o + i, z);
      else
        store_part(o + i, z, w);
    }
    float top = mx[0];
    for (int l = 1; l < LANES; l++) top = mx[l] > top ? mx[l] : top;
    const f8 topv = splat(top);
    f8 acc = splat(0.0f);
    for (size_t i = 0; i < cols; i += LANES) {
      const size_t w = cols - i < LANES ? cols - i : LANES;
      f8 e = exp_nonpos8((w == LANES ? load(o + i) : load_part(o + i, w)) - topv);
      if (w < LANES)
        for (size_t l = w; l < LANES; l++) e[l] = 0.0f;
      acc = acc + e;
      if (w == LANES)
        store(o + i, e);
      else
        store_part(o + i, e, w);
    }
    float sum = acc[0];
    for (int l = 1; l < LANES; l++) sum += acc[l];
    const f8 sumv = splat(sum);
    for (size_t i = 0; i < cols; i += LANES) {
      const size_t w = cols - i < LANES ? cols - i : LANES;
      if (w == LANES)
        store(o + i, load(o + i) / sumv);
      else
        store_part(o + i, load_part(o + i, w) / sumv, w);
    }
  }
}

/* out = softmax(s scale + mask) for `rows` rows of `cols`, mask [rows / rows_per_mask, cols]. */
void msd_attention_softmax(const float *s, const float *mask, float *out, size_t rows, size_t rows_per_mask,
                           size_t cols, float scale) {
  struct softmax_args a = {s, mask, out, rows_per_mask, cols, scale};
  size_t chunk = CHUNK / 4 / (cols ? cols : 1);
  run_items(attention_softmax_range, &a, rows, chunk ? chunk : 1);
}

/* ---------------------------------------------------------------- copies: embedding rows, attention's layouts */

/*
 * Row copies that were one call each from JavaScript or WebAssembly (a `copyWithin` per embedding row, a
 * `memory.copy` per row and head), about 80 ns apiece: here a memcpy each, the rows shared among the threads. Copies
 * only, so the bits are the values' own. The indices are checked by the callers (wasm-kernels.ts,
 * head-layout-kernels.ts).
 */
struct copy_args {
  const float *x;
  const int32_t *ids;
  float *out;
  size_t width, heads, dh, seq_len;
};

/* out row i = x row ids[i], rows of `width` 4-byte values. */
static void gather_rows_range(const void *args, size_t begin, size_t end) {
  const struct copy_args *a = args;
  const size_t w = a->width;
  for (size_t i = begin; i < end; i++) memcpy(a->out + i * w, a->x + (size_t)a->ids[i] * w, w * sizeof(float));
}

void msd_gather_rows(const float *x, const int32_t *ids, float *out, size_t n, size_t width) {
  struct copy_args a = {x, ids, out, width, 0, 0, 0};
  const size_t chunk = CHUNK / (width ? width : 1);
  run_items(gather_rows_range, &a, n, chunk ? chunk : 1);
}

/* Row r's head h <-> (bi, h, ti) of [batch * heads, seq_len, dh], p = ids[r] = bi seq_len + ti. */
static inline size_t head_slot(const struct copy_args *a, size_t r) {
  const size_t p = (size_t)a->ids[r], bi = p / a->seq_len;
  return (bi * a->heads * a->seq_len + (p - bi * a->seq_len)) * a->dh;
}

static void rows_to_heads_range(const void *args, size_t begin, size_t end) {
  const struct copy_args *a = args;
  const size_t dh = a->dh, stride = a->seq_len * dh;
  for (size_t r = begin; r < end; r++) {
    float *dst = a->out + head_slot(a, r);
    for (size_t h = 0; h < a->heads; h++) memcpy(dst + h * stride, a->x + (r * a->heads + h) * dh, dh * sizeof(float));
  }
}

static void heads_to_rows_range(const void *args, size_t begin, size_t end) {
  const struct copy_args *a = args;
  const size_t dh = a->dh, stride = a->seq_len * dh;
  for (size_t r = begin; r < end; r++) {
    const float *src = a->x + head_slot(a, r);
    for (size_t h = 0; h < a->heads; h++) memcpy(a->out + (r * a->heads + h) * dh, src + h * stride, dh * sizeof(float));
  }
}

struct fill_args {
  float *out;
};

static void zero_values_range(const void *args, size_t begin, size_t end) {
  memset(((const struct fill_args *)args)->out + begin, 0, (end - begin) * sizeof(float));
}

/* simd-kernels.wat's rows_to_heads: the first `zeros` values of out set to 0, then every row's heads copied. */
void msd_rows_to_heads(const float *x, float *out, const int32_t *ids, size_t rows, size_t heads, size_t dh,
                       size_t seq_len, size_t zeros) {
  struct fill_args f = {out};
  run(zero_values_range, &f, zeros);
  struct copy_args a = {x, ids, out, 0, heads, dh, seq_len};
  const size_t width = heads * dh, chunk = CHUNK / (width ? width : 1);
  run_items(rows_to_heads_range, &a, rows, chunk ? chunk : 1);
}

/* simd-kernels.wat's heads_to_rows: every row's heads gathered back. */
void msd_heads_to_rows(const float *x, float *out, const int32_t *ids, size_t rows, size_t heads, size_t dh,
                       size_t seq_len) {
  struct copy_args a = {x, ids, out, 0, heads, dh, seq_len};
  const size_t width = heads * dh, chunk = CHUNK / (width ? width : 1);
  run_items(heads_to_rows_range, &a, rows, chunk ? chunk : 1);
}

/* ---------------------------------------------------------------- the gradient of an embedding lookup */

/*
 * out [segments, width] = 0, then row r of x [rows, width] added into out's row ids[r] (ids outside [0, segments)
 * dropped, as TensorFlow does), for r = 0, 1, ... in order: wasm-kernels.ts's UnsortedSegmentSum, whose loop in
 * JavaScript gives the same bits. The threads share the zeroing by values and the sums by columns, so each value of
 * out still gets its rows added in order.
 */
struct segment_args {
  const float *x;
  const int32_t *ids;
  float *out;
  size_t rows, width, segments;
};

/* Columns [begin, end) of every row (begin a multiple of 8). */
static void segment_sum_range(const void *args, size_t begin, size_t end) {
  const struct segment_args *a = args;
  const size_t width = a->width;
  for (size_t r = 0; r < a->rows; r++) {
    const int32_t seg = a->ids[r];
    if (seg < 0 || (size_t)seg >= a->segments) continue;
    float *o = a->out + (size_t)seg * width;
    const float *xr = a->x + r * width;
    size_t j = begin;
    for (; j + LANES <= end; j += LANES) store(o + j, load(o + j) + load(xr + j));
    for (; j < end; j++) o[j] += xr[j];
  }
}

void msd_segment_sum(const float *x, const int32_t *ids, float *out, size_t rows, size_t width, size_t segments) {
  struct segment_args a = {x, ids, out, rows, width, segments};
  struct fill_args f = {out};
  run(zero_values_range, &f, segments * width);
  /* Claims of whole vectors of columns, about 2^15 values of work each. */
  size_t chunk = ((size_t)1 << 15) / (rows ? rows : 1);
  chunk = chunk < LANES ? LANES : chunk / LANES * LANES;
  run_items(segment_sum_range, &a, width, chunk);
}

/* ---------------------------------------------------------------- pairwise squared distances (MMD) */

/*
 * D[i][j] = sum_p (z[j][p] - z[i][p])^2 over the rows of z [n, d], and its gradient dz[k] = 2 sum_j (G[k][j] + G[j][k])
 * (z[k] - z[j]) (src/backend/pair-distance-kernels.ts has the JavaScript twin and why). Each sum runs in one fixed
 * order, one IEEE operation at a time: D over p = 0..d-1 from 0 (tfjs's Sum over the last axis, so the same bits as
 * the composition of tfjs ops), dz over j = 0..n-1 from 0, then doubled. The lanes hold eight values of D (eight j)
 * or of dz (eight p), never parts of one sum, so the bits do not depend on the lanes or the threads.
 */
struct pair_args {
  const float *z, *zt, *g;
  float *out;
  size_t n, d;
};

/* Rows [begin, end) of D; zt is z transposed, [d, n]. */
static void pair_distances_range(const void *args, size_t begin, size_t end) {
  const struct pair_args *a = args;
  const size_t n = a->n, d = a->d;
  for (size_t i = begin; i < end; i++) {
    const float *zi = a->z + i * d;
    float *row = a->out + i * n;
    for (size_t j = 0; j < n; j += LANES) {
      const size_t w = n - j < LANES ? n - j : LANES;
      f8 acc = splat(0.0f);
      for (size_t p = 0; p < d; p++) {
        const f8 v = (w == LANES ? load(a->zt + p * n + j) : load_part(a->zt + p * n + j, w)) - splat(zi[p]);
        acc = acc + v * v;
      }
      if (w == LANES)
        store(row + j, acc);
      else
        store_part(row + j, acc, w);
    }
  }
}

/* Rows [begin, end) of dz, from G (a->g, [n, n]). */
static void pair_distances_grad_range(const void *args, size_t begin, size_t end) {
  const struct pair_args *a = args;
  const size_t n = a->n, d = a->d;
  for (size_t k = begin; k < end; k++) {
    const float *zk = a->z + k * d;
    for (size_t p = 0; p < d; p += LANES) {
      const size_t w = d - p < LANES ? d - p : LANES;
      const f8 zkv = w == LANES ? load(zk + p) : load_part(zk + p, w);
      f8 acc = splat(0.0f);
      for (size_t j = 0; j < n; j++) {
        const float s = a->g[k * n + j] + a->g[j * n + k];
        const f8 zj = w == LANES ? load(a->z + j * d + p) : load_part(a->z + j * d + p, w);
        acc = acc + splat(s) * (zkv - zj);
      }
      acc = acc + acc;
      if (w == LANES)
        store(a->out + k * d + p, acc);
      else
        store_part(a->out + k * d + p, acc, w);
    }
  }
}

/* Rows per claim: about 2^16 values of work each. */
static size_t pair_chunk(size_t work_per_row) {
  const size_t c = ((size_t)1 << 16) / (work_per_row ? work_per_row : 1);
  return c ? c : 1;
}

/* out [n, n] = D of z [n, d]; 0, or -1 when the transposed copy could not be allocated. */
int msd_pair_distances(const float *z, float *out, size_t n, size_t d) {
  float *zt = malloc(n * d * sizeof(float));
  if (!zt) return -1;
  for (size_t i = 0; i < n; i++)
    for (size_t p = 0; p < d; p++) zt[p * n + i] = z[i * d + p];
  struct pair_args a = {z, zt, NULL, out, n, d};
  run_items(pair_distances_range, &a, n, pair_chunk(n * d));
  free(zt);
  return 0;
}

/* dz [n, d] = the gradient of sum(G * D) with respect to z, for G [n, n]. */
void msd_pair_distances_grad(const float *z, const float *g, float *dz, size_t n, size_t d) {
  struct pair_args a = {z, NULL, g, dz, n, d};
  run_items(pair_distances_grad_range, &a, n, pair_chunk(n * d));
}

/* ---------------------------------------------------------------- products: loops of small ones, small dense ones */

/*
 * C_i = op(A_{i mod aBatch}) op(B_{i mod bBatch}) for i in [0, batch), row-major, C_i of [m, n] with leading
 * dimension n (beta 1: the sums start from what C_i holds). Two uses (blas-kernels.ts): attention's per-head products,
 * batch x heads entries of [t, 64] x [64, t] and the like, where OpenBLAS pays a call (through koffi, from
 * JavaScript), buffer packing and thread checks for each entry (a [40, 32] x [32, 40] entry took 2.3 us through
 * OpenBLAS on one thread in C, 1.7 us here, and about 3 us from JavaScript in a step); and dense products too small
 * for OpenBLAS's threads (the tiny preset's, mBERT's classifier heads), whose rows are shared here among threads.
 *
 * op(B) is read where it is when it is not transposed and n is a multiple of 8, else copied into a [k, n rounded up
 * to 8] panel (zeros past n; once for all entries when they share B). Tiles of up to 6 rows x 16 columns of C are
 * each summed in 6 x 2 AVX registers, one fused multiply-add per row of B, over blocks of `KC` rows of B (the tile
 * goes back to C between blocks). Work items are whole entries, or blocks of rows of one when there are few entries
 * (blocks of columns when there are few rows), shared among the pool's threads in chunks.
 *
 * Bits: each value of C is fma(a_{i,k-1}, b_{k-1,j}, ... fma(a_{i,0}, b_{0,j}, s)), s = 0, C's value (beta 1) or
 * bias_j, in that order whatever the tile, the blocks, the split into items or the thread, so the result depends
 * only on the inputs (not on MSD_NATIVE_THREADS; test/backend/native-gemm.test.ts). It differs from OpenBLAS's in the last bits
 * (another order of summation), as OpenBLAS's own kernels differ from one CPU type to the next.
 */
#if defined(__x86_64__)
#include <immintrin.h>
#define GEMM_TARGET __attribute__((target("avx2,fma")))
/* Rows of B per block: a 6 x 16 tile's slice of B (KC x 16 floats, 16 KB) stays in the first-level cache. */
#define KC 256

#define TILE(MR, NV)                                                                                                   \
  static GEMM_TARGET __attribute__((always_inline)) inline void tile_##MR##_##NV(                                    \
      size_t k, const float *a, size_t ars, size_t acs, const float *bp, size_t ldp, float *c, size_t ldc, int cols, \
      int from_c, const float *bias) {                                                                                 \
    __m256 acc[MR][NV];                                                                                                \
    _Pragma("GCC unroll 8") for (int r = 0; r < MR; r++) {                                                            \
      const float *src = from_c ? c + r * ldc : bias;                                                                  \
      if (src && cols == 8 * NV) {                                                                                     \
        _Pragma("GCC unroll 2") for (int v = 0; v < NV; v++) acc[r][v] = _mm256_loadu_ps(src + 8 * v);                \
      } else if (src) {                                                                                                \
        float tmp[8 * NV] = {0};                                                                                       \
        memcpy(tmp, src, (size_t)cols * sizeof(float));                                                               \
        _Pragma("GCC unroll 2") for (int v = 0; v < NV; v++) acc[r][v] = _mm256_loadu_ps(tmp + 8 * v);                \
      } else {                                                                                                         \
        _Pragma("GCC unroll 2") for (int v = 0; v < NV; v++) acc[r][v] = _mm256_setzero_ps();                         \
      }                                                                                                                \
    }                                                                                                                  \
    for (size_t p = 0; p < k; p++) {                                                                                   \
      __m256 bv[NV];                                                                                                   \
      _Pragma("GCC unroll 2") for (int v = 0; v < NV; v++) bv[v] = _mm256_loadu_ps(bp + p * ldp + 8 * v);           \
      _Pragma("GCC unroll 8") for (int r = 0; r < MR; r++) {                                                          \
        __m256 av = _mm256_broadcast_ss(a + r * ars + p * acs);                                                        \
        _Pragma("GCC unroll 2") for (int v = 0; v < NV; v++) acc[r][v] = _mm256_fmadd_ps(av, bv[v], acc[r][v]);      \
      }                                                                                                                \
    }                                                                                                                  \
    _Pragma("GCC unroll 8") for (int r = 0; r < MR; r++) {                                                            \
      if (cols == 8 * NV) {                                                                                            \
        _Pragma("GCC unroll 2") for (int v = 0; v < NV; v++) _mm256_storeu_ps(c + r * ldc + 8 * v, acc[r][v]);       \
      } else {                                                                                                         \
        float tmp[8 * NV];                                                                                             \
        _Pragma("GCC unroll 2") for (int v = 0; v < NV; v++) _mm256_storeu_ps(tmp + 8 * v, acc[r][v]);                \
        memcpy(c + r * ldc, tmp, (size_t)cols * sizeof(float));                                                       \
      }                                                                                                                \
    }                                                                                                                  \
  }
TILE(6, 2) TILE(5, 2) TILE(4, 2) TILE(3, 2) TILE(2, 2) TILE(1, 2)
TILE(6, 1) TILE(5, 1) TILE(4, 1) TILE(3, 1) TILE(2, 1) TILE(1, 1)

/* Rows [0, m) of a column block of C, `NV` vectors wide: tiles of 6 rows, then one of the m mod 6 left. */
#define ROWS(NV)                                                                                                       \
  static GEMM_TARGET void rows_##NV(size_t m, size_t k, const float *a, size_t ars, size_t acs, const float *bp,      \
                                    size_t ldp, float *c, size_t ldc, int cols, int from_c, const float *bias) {       \
    size_t i = 0;                                                                                                      \
    for (; i + 6 <= m; i += 6) tile_6_##NV(k, a + i * ars, ars, acs, bp, ldp, c + i * ldc, ldc, cols, from_c, bias); \
    const float *ai = a + i * ars;                                                                                     \
    float *ci = c + i * ldc;                                                                                           \
    switch (m - i) {                                                                                                   \
    case 5: tile_5_##NV(k, ai, ars, acs, bp, ldp, ci, ldc, cols, from_c, bias); break;                                \
    case 4: tile_4_##NV(k, ai, ars, acs, bp, ldp, ci, ldc, cols, from_c, bias); break;                                \
    case 3: tile_3_##NV(k, ai, ars, acs, bp, ldp, ci, ldc, cols, from_c, bias); break;                                \
    case 2: tile_2_##NV(k, ai, ars, acs, bp, ldp, ci, ldc, cols, from_c, bias); break;                                \
    case 1: tile_1_##NV(k, ai, ars, acs, bp, ldp, ci, ldc, cols, from_c, bias); break;                                \
    }                                                                                                                  \
  }
ROWS(2)
ROWS(1)

struct gemm_args {
  int trans_a, trans_b, beta, direct;
  size_t m, n, k, lda, ldb, a_batch, b_batch, rows, blocks, cols, cblocks;
  const float *a, *b;
  float *c;
  const float *bias;   /* a row of n values every sum starts from (beta 0 only), or NULL */
  const float *shared; /* B's panel, when every entry shares it (else each thread packs its own) */
  _Atomic int failed;
};

/* Each thread's panel buffer (grown on demand, kept for the thread's life). */
static __thread float *panel;
static __thread size_t panel_cap;

/* dst[c * ldd + r] = src[r * lds + c] for an 8 x 8 block: the usual unpack, shuffle and lane-swap transpose. */
static GEMM_TARGET inline void transpose8(const float *src, size_t lds, float *dst, size_t ldd) {
  __m256 r[8], t[8], u[8];
  for (int i = 0; i < 8; i++) r[i] = _mm256_loadu_ps(src + i * lds);
  for (int i = 0; i < 8; i += 2) {
    t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);
    t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
  }
  for (int i = 0; i < 8; i += 4) {
    u[i] = _mm256_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(1, 0, 1, 0));
    u[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(3, 2, 3, 2));
    u[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(1, 0, 1, 0));
    u[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(3, 2, 3, 2));
  }
  for (int i = 0; i < 4; i++) {
    _mm256_storeu_ps(dst + i * ldd, _mm256_permute2f128_ps(u[i], u[i + 4], 0x20));
    _mm256_storeu_ps(dst + (i + 4) * ldd, _mm256_permute2f128_ps(u[i], u[i + 4], 0x31));
  }
}

/*
 * op(B) of one entry into this thread's panel, [k, n rounded up to 8]; NULL when it could not be allocated. B
 * transposed goes 8 x 8 blocks at a time (the per-head loops' K^T and V^T: a strided load and a store per value took
 * about as long as the entry's product), its edges value by value.
 */
static GEMM_TARGET float *pack(const struct gemm_args *g, const float *b) {
  const size_t n = g->n, k = g->k, npad = (n + 7) & ~(size_t)7, ldb = g->ldb;
  if (panel_cap < k * npad) {
    float *grown = realloc(panel, k * npad * sizeof(float));
    if (!grown) return NULL;
    panel = grown;
    panel_cap = k * npad;
  }
  if (g->trans_b) {
    const size_t n8 = n & ~(size_t)7, k8 = k & ~(size_t)7;
    for (size_t j = 0; j < n8; j += 8) {
      for (size_t p = 0; p < k8; p += 8) transpose8(b + j * ldb + p, ldb, panel + p * npad + j, npad);
      for (size_t p = k8; p < k; p++)
        for (size_t jj = j; jj < j + 8; jj++) panel[p * npad + jj] = b[jj * ldb + p];
    }
    for (size_t p = 0; p < k; p++)
      for (size_t j = n8; j < n; j++) panel[p * npad + j] = b[j * ldb + p];
  } else {
    for (size_t p = 0; p < k; p++) memcpy(panel + p * npad, b + p * ldb, n * sizeof(float));
  }
  for (size_t p = 0; p < k; p++)
    for (size_t j = n; j < npad; j++) panel[p * npad + j] = 0.0f;
  return panel;
}

/* Each thread's copy of a block of A transposed (grown on demand, kept for the thread's life). */
static __thread float *apanel;
static __thread size_t apanel_cap;

/*
 * Rows [0, rows) of op(A) = A^T over B's rows [0, kc), read at a + r + p * lda, copied to [kc, rows] (row p of the
 * copy holds column p of the block): a weight gradient's A^T (k = the batch's tokens) is read 6 values per row of
 * A, one cache line each, and the block's lines did not stay in the first-level cache beside B's across the column
 * tiles; copied, they are rows x 4 bytes apart. NULL when it could not be allocated.
 */
static float *pack_at(const float *a, size_t lda, size_t rows, size_t kc) {
  if (apanel_cap < rows * kc) {
    float *grown = realloc(apanel, rows * kc * sizeof(float));
    if (!grown) return NULL;
    apanel = grown;
    apanel_cap = rows * kc;
  }
  for (size_t p = 0; p < kc; p++) memcpy(apanel + p * rows, a + p * lda, rows * sizeof(float));
  return apanel;
}

/* Items [begin, end): item t is a block of g->rows rows and g->cols columns of one entry (entry-major, then rows). */
static GEMM_TARGET void gemm_range(const void *args, size_t begin, size_t end) {
  struct gemm_args *g = (struct gemm_args *)args;
  const size_t m = g->m, n = g->n, k = g->k, npad = (n + 7) & ~(size_t)7;
  const size_t ars = g->trans_a ? 1 : g->lda, acs = g->trans_a ? g->lda : 1;
  size_t packed = (size_t)-1; /* the entry whose B is in this thread's panel */
  for (size_t t = begin; t < end; t++) {
    const size_t per_entry = g->blocks * g->cblocks, e = t / per_entry, rest = t % per_entry;
    const size_t r0 = rest / g->cblocks * g->rows, j0 = rest % g->cblocks * g->cols;
    const size_t rows = m - r0 < g->rows ? m - r0 : g->rows, j1 = n - j0 < g->cols ? n : j0 + g->cols;
    const float *b = g->b + (e % g->b_batch) * k * n;
    const float *bp = b;
    size_t ldp = g->ldb;
    if (g->shared) {
      bp = g->shared, ldp = npad;
    } else if (!g->direct) {
      if (packed != e % g->b_batch && !pack(g, b)) {
        atomic_store(&g->failed, 1);
        return;
      }
      packed = e % g->b_batch;
      bp = panel, ldp = npad;
    }
    const float *a = g->a + (e % g->a_batch) * m * k + r0 * ars;
    float *c = g->c + e * m * n + r0 * n;
    for (size_t p0 = 0; p0 < k; p0 += KC) {
      const size_t kc = k - p0 < KC ? k - p0 : KC;
      const int from_c = p0 > 0 || g->beta;
      /*
       * A transposed over more than one block of B's rows (a weight gradient's), read by more than one tile of
       * columns: the block copied (pack_at). With one tile (a classifier head's 9 columns) the block is read once.
       */
      const float *ab = a + p0 * acs;
      size_t brs = ars, bcs = acs;
      if (g->trans_a && k > KC && j1 - j0 > 16) {
        ab = pack_at(ab, acs, rows, kc);
        if (!ab) {
          atomic_store(&g->failed, 1);
          return;
        }
        brs = 1, bcs = rows;
      }
      for (size_t j = j0; j < j1; j += 16) {
        const int cols = j1 - j < 16 ? (int)(j1 - j) : 16;
        const float *bias = g->bias && !from_c ? g->bias + j : NULL;
        if (cols > 8)
          rows_2(rows, kc, ab, brs, bcs, bp + p0 * ldp + j, ldp, c + j, n, cols, from_c, bias);
        else
          rows_1(rows, kc, ab, brs, bcs, bp + p0 * ldp + j, ldp, c + j, n, cols, from_c, bias);
      }
    }
  }
}

/* Multiply-adds per work item at least (10-40 us of work); items are claimed in chunks of about this much too. */
#define ITEM_MACS (1u << 18)

/*
 * Returns 0, or -1 when a panel buffer could not be allocated (C is then incomplete). k >= 1, m n >= 1. `bias`, when
 * not NULL (with beta 0), is a row of n values each sum starts from: the bits of beta 1 over C's rows set to it, one
 * pass over C fewer (a dense layer's bias).
 */
int msd_sgemm_batch(int trans_a, int trans_b, size_t m, size_t n, size_t k, size_t lda, size_t ldb, int beta,
                    const float *a, const float *b, float *c, size_t a_batch, size_t b_batch, size_t batch,
                    const float *bias) {
  struct gemm_args g = {trans_a, trans_b, beta, !trans_b && n % 8 == 0, m, n, k, lda, ldb, a_batch, b_batch, m, 1,
                        n, 1, a, b, c, beta ? NULL : bias, NULL, 0};
  const size_t threads = (size_t)msd_threads(), mnk = m * n * k;
  /*
   * Few entries for the threads: blocks of rows (a multiple of the tile's 6), about two per thread, not too small;
   * or, when there are too few rows for that (a sum over rows: m = 1), blocks of columns (a multiple of 16). (Blocks
   * of columns where the blocks of 6 rows fall unevenly on the threads, a weight gradient's 64 rows, measured slower:
   * each block then copies all of A's block, pack_at.)
   */
  if (batch < 2 * threads && mnk > 2 * ITEM_MACS) {
    size_t rows = (m + 2 * threads - 1) / (2 * threads), least = ITEM_MACS / (n * k);
    if (rows < least) rows = least;
    rows = (rows + 5) / 6 * 6;
    if (rows < m) {
      g.rows = rows, g.blocks = (m + rows - 1) / rows;
    } else {
      size_t cols = (n + 2 * threads - 1) / (2 * threads);
      cols = (cols + 15) / 16 * 16;
      if (cols < n) g.cols = cols, g.cblocks = (n + cols - 1) / cols;
    }
  }
  if (!g.direct && b_batch == 1 && g.blocks * g.cblocks * batch > 1) {
    g.shared = pack(&g, b);
    if (!g.shared) return -1;
  }
  const size_t item = g.rows * g.cols * k, chunk = item >= ITEM_MACS ? 1 : ITEM_MACS / item;
  run_items(gemm_range, &g, batch * g.blocks * g.cblocks, chunk);
  return atomic_load(&g.failed) ? -1 : 0;
}
#endif

#endif
