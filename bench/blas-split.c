/*
 * OpenBLAS's own two threads on one product against two one-thread calls on halves of C's rows, one per thread (our
 * threads, no synchronisation inside the call): GFLOP/s, the best of 15 calls back to back, for the products of an
 * mBERT micro-batch (699 rows) and the speed bench's yardstick shape (4096 rows). A question for the engine (README,
 * "What the mBERT step is made of"): would splitting dense products ourselves beat OpenBLAS's threading?
 *
 *   gcc -O2 bench/blas-split.c -o /tmp/blas-split /usr/lib/x86_64-linux-gnu/libopenblas.so.0 -lpthread
 *   /tmp/blas-split 699 768 3072        # C [699, 3072] = A [699, 768] B [768, 3072]
 *   /tmp/blas-split 768 699 3072 1      # C [768, 3072] = A^T B, A [699, 768] (a weight gradient)
 *
 * Not built by the library (Debian's OpenBLAS ships no cblas.h without -dev: the two declarations below stand in).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

enum { ROW_MAJOR = 101, NO_TRANS = 111, TRANS = 112 };
void cblas_sgemm(int order, int ta, int tb, int m, int n, int k, float alpha, const float *a, int lda, const float *b,
                 int ldb, float beta, float *c, int ldc);
void openblas_set_num_threads(int threads);

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec * 1e-9;
}

struct job {
  int trans_a, m, n, k, lda;
  const float *a, *b;
  float *c;
};

static void run(const struct job *j) {
  cblas_sgemm(ROW_MAJOR, j->trans_a ? TRANS : NO_TRANS, NO_TRANS, j->m, j->n, j->k, 1.0f, j->a, j->lda, j->b, j->n,
              0.0f, j->c, j->n);
}

static void *thread_main(void *j) {
  run(j);
  return NULL;
}

static double best_of(int reps, void (*fn)(const struct job *, const struct job *), const struct job *x,
                      const struct job *y) {
  double best = 1e9;
  for (int r = 0; r < reps; r++) {
    const double t = now();
    fn(x, y);
    const double dt = now() - t;
    if (dt < best) best = dt;
  }
  return best;
}

static void whole(const struct job *x, const struct job *unused) {
  (void)unused;
  run(x);
}

static void halves(const struct job *x, const struct job *y) {
  pthread_t t;
  pthread_create(&t, NULL, thread_main, (void *)y);
  run(x);
  pthread_join(t, NULL);
}

int main(int argc, char **argv) {
  if (argc < 4) {
    fprintf(stderr, "usage: blas-split m k n [trans_a]\n");
    return 2;
  }
  const int m = atoi(argv[1]), k = atoi(argv[2]), n = atoi(argv[3]), ta = argc > 4 && atoi(argv[4]);
  float *a = malloc(sizeof(float) * (size_t)m * k), *b = malloc(sizeof(float) * (size_t)k * n),
        *c = malloc(sizeof(float) * (size_t)m * n);
  for (size_t i = 0; i < (size_t)m * k; i++) a[i] = rand() / (float)RAND_MAX;
  for (size_t i = 0; i < (size_t)k * n; i++) b[i] = rand() / (float)RAND_MAX;
  const int lda = ta ? m : k, h = m / 2;
  const struct job all = {ta, m, n, k, lda, a, b, c};
  /* Rows [0, h) and [h, m) of C: A's rows, or A's columns when it is transposed. */
  const struct job top = {ta, h, n, k, lda, a, b, c};
  const struct job bottom = {ta, m - h, n, k, lda, ta ? a + h : a + (size_t)h * k, b, c + (size_t)h * n};
  const double gflop = 2.0 * m * n * k / 1e9;
  for (int round = 0; round < 3; round++) {
    openblas_set_num_threads(2);
    const double two = best_of(15, whole, &all, NULL);
    openblas_set_num_threads(1);
    const double split = best_of(15, halves, &top, &bottom);
    const double one = best_of(5, whole, &all, NULL);
    printf("[%d, %d] x [%d, %d]%s: OpenBLAS 2 threads %.1f, two 1-thread halves %.1f, 1 thread %.1f GFLOP/s\n", m, k,
           k, n, ta ? " (A transposed)" : "", gflop / two, gflop / split, gflop / one);
  }
  free(a);
  free(b);
  free(c);
  return 0;
}
