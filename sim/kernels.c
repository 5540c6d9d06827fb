/* kernels.c - the vector kernels under every rule.  The double build calls
 * CBLAS (OpenBLAS); the MPFR build runs loops that accumulate with fma, one
 * rounding per product-sum, in a scratch scalar created once. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sim/estimate.h"
#include "sim/net.h"

#ifndef SNN_MPFR
#include <cblas.h> /* includes <complex.h>: keep it out of files that name a member I */
#endif

int SNN_SFX(snn_rctx_init)(rctx *c, long prec) {
  memset(c, 0, sizeof *c);
#ifdef SNN_MPFR
  if (prec < MPFR_PREC_MIN || prec > MPFR_PREC_MAX) return SNN_EVALUE;
  c->prec = prec;
  c->emu64 = prec == 53;
  if (c->emu64) {
    /* binary64: emin -1073 and emax 1024 in MPFR's convention */
    c->old_emin = mpfr_get_emin();
    c->old_emax = mpfr_get_emax();
    mpfr_set_emin(-1073);
    mpfr_set_emax(1024);
  }
#else
  if (prec != 53) return SNN_EVALUE;
  c->prec = 53;
#endif
  r_init(c->leaf, c);
  for (int i = 0; i < 2; i++) r_init(c->spike[i], c);
  for (int i = 0; i < SNN_CELL_SCRATCH; i++) r_init(c->cell[i], c);
  return SNN_OK;
}

void SNN_SFX(snn_rctx_clear)(rctx *c) {
  r_clear(c->leaf, c);
  for (int i = 0; i < 2; i++) r_clear(c->spike[i], c);
  for (int i = 0; i < SNN_CELL_SCRATCH; i++) r_clear(c->cell[i], c);
#ifdef SNN_MPFR
  if (c->emu64) {
    mpfr_set_emin(c->old_emin);
    mpfr_set_emax(c->old_emax);
  }
#endif
}

size_t SNN_SFX(snn_real_bytes)(const rctx *c) {
#ifdef SNN_MPFR
  return sizeof(relt) + mpfr_custom_get_size((mpfr_prec_t)c->prec);
#else
  (void)c;
  return sizeof(relt);
#endif
}

relt *SNN_SFX(snn_vec_alloc)(size_t n, const rctx *c) {
  relt *v = malloc((n ? n : 1) * sizeof *v);
  if (!v) return NULL;
  for (size_t i = 0; i < n; i++) r_init(v + i, c);
  return v;
}

void SNN_SFX(snn_vec_free)(relt *v, size_t n, const rctx *c) {
  if (!v) return;
  for (size_t i = 0; i < n; i++) r_clear(v + i, c);
  free(v);
}

#ifdef SNN_MPFR
/* t = fma(a, b, t), as r_fma computes it, with the work of a factor 0 or 1
 * saved (spikes are 0 or 1): the same bits.  A zero product leaves t as it
 * is, unless t is -0 (the sum's sign rule decides) or the other factor is
 * not a number; a factor 1 makes the exact sum a + t, which one addition
 * rounds as the fma does. */
#define ACC_NUMBER(x) (mpfr_regular_p(x) || mpfr_zero_p(x))
#define ACC_ONE(x) (mpfr_regular_p(x) && mpfr_get_exp(x) == 1 && mpfr_cmp_ui(x, 1) == 0) /* 1 = 0.5 2^1 */
static inline void acc_fma(relt *t, const relt *a, const relt *b, rctx *c) {
  if ((mpfr_zero_p(b) && ACC_NUMBER(a)) || (mpfr_zero_p(a) && ACC_NUMBER(b))) {
    if (!mpfr_zero_p(t) || !mpfr_signbit(t)) return;
  } else if (ACC_ONE(b)) {
    r_add(t, a, t, c);
    return;
  } else if (ACC_ONE(a)) {
    r_add(t, b, t, c);
    return;
  }
  r_fma(t, a, b, t, c);
}
#endif

void SNN_SFX(snn_gemm)(int ta, int tb, size_t M, size_t N, size_t K, const relt *A, size_t lda, const relt *B,
                       size_t ldb, int acc, relt *C, size_t ldc, rctx *c) {
  if (M == 0 || N == 0) return;
#ifndef SNN_MPFR
  (void)c;
  if (K == 0) {
    if (!acc)
      for (size_t i = 0; i < M; i++) memset(C + i * ldc, 0, N * sizeof *C);
    return;
  }
  cblas_dgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, (int)M, (int)N, (int)K,
              1.0, A, (int)lda, B, (int)ldb, acc ? 1.0 : 0.0, C, (int)ldc);
#else
  relt *t = c->leaf;
  for (size_t i = 0; i < M; i++)
    for (size_t j = 0; j < N; j++) {
      if (acc)
        r_set(t, C + i * ldc + j, c);
      else
        r_zero(t, c);
      for (size_t k = 0; k < K; k++) {
        const relt *a = ta ? A + k * lda + i : A + i * lda + k;
        const relt *b = tb ? B + j * ldb + k : B + k * ldb + j;
        acc_fma(t, a, b, c);
      }
      r_set(C + i * ldc + j, t, c);
    }
#endif
}

void SNN_SFX(snn_gemv)(int ta, size_t M, size_t N, const relt *A, size_t lda, const relt *x, int acc, relt *y,
                       rctx *c) {
  size_t ny = ta ? N : M, nx = ta ? M : N;
  if (ny == 0) return;
#ifndef SNN_MPFR
  (void)c;
  if (nx == 0) {
    if (!acc) memset(y, 0, ny * sizeof *y);
    return;
  }
  cblas_dgemv(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, (int)M, (int)N, 1.0, A, (int)lda, x, 1, acc ? 1.0 : 0.0, y,
              1);
#else
  relt *t = c->leaf;
  for (size_t i = 0; i < ny; i++) {
    if (acc)
      r_set(t, y + i, c);
    else
      r_zero(t, c);
    for (size_t k = 0; k < nx; k++) acc_fma(t, ta ? A + k * lda + i : A + i * lda + k, x + k, c);
    r_set(y + i, t, c);
  }
#endif
}

void SNN_SFX(snn_rows)(int ta, size_t B, size_t M, size_t N, const relt *A, size_t lda, const relt *X, size_t ldx,
                       int acc, relt *Y, size_t ldy, rctx *c) {
  if (B == 1) {
    SNN_SFX(snn_gemv)(ta, M, N, A, lda, X, acc, Y, c);
    return;
  }
  /* row form: y_b^T = x_b^T op(A)^T */
  if (!ta)
    SNN_SFX(snn_gemm)(0, 1, B, M, N, X, ldx, A, lda, acc, Y, ldy, c);
  else
    SNN_SFX(snn_gemm)(0, 0, B, N, M, X, ldx, A, lda, acc, Y, ldy, c);
}

/* Element-wise kernels of the trace rules: each element gets exactly the
 * operation of the scalar API (fma with one rounding), so a rule written
 * with them gives the bytes of its scalar definition.  The double build
 * compiles them with a copy for CPUs with FMA, picked at run time. */
SNN_FMA_CLONES void SNN_SFX(snn_vfma)(size_t n, const relt *a, const relt *restrict x, relt *restrict y, rctx *c) {
#ifndef SNN_MPFR
  (void)c;
  double av = *a;
  for (size_t i = 0; i < n; i++) y[i] = fma(av, x[i], y[i]);
#else
  for (size_t i = 0; i < n; i++) r_fma(y + i, a, x + i, y + i, c);
#endif
}

SNN_FMA_CLONES void SNN_SFX(snn_vfmay)(size_t n, const relt *a, const relt *restrict x, relt *restrict y, rctx *c) {
#ifndef SNN_MPFR
  (void)c;
  double av = *a;
  for (size_t i = 0; i < n; i++) y[i] = fma(av, y[i], x[i]);
#else
  for (size_t i = 0; i < n; i++) r_fma(y + i, a, y + i, x + i, c);
#endif
}

SNN_FMA_CLONES void SNN_SFX(snn_vmul)(size_t n, const relt *a, const relt *restrict x, relt *restrict y, rctx *c) {
#ifndef SNN_MPFR
  (void)c;
  double av = *a;
  for (size_t i = 0; i < n; i++) y[i] = x[i] * av;
#else
  for (size_t i = 0; i < n; i++) r_mul(y + i, x + i, a, c);
#endif
}

SNN_FMA_CLONES void SNN_SFX(snn_vadd)(size_t n, const relt *restrict x, relt *restrict y, rctx *c) {
#ifndef SNN_MPFR
  (void)c;
  for (size_t i = 0; i < n; i++) y[i] = y[i] + x[i];
#else
  for (size_t i = 0; i < n; i++) r_add(y + i, y + i, x + i, c);
#endif
}

void SNN_SFX(snn_vset)(size_t n, const relt *restrict x, relt *restrict y, rctx *c) {
#ifndef SNN_MPFR
  (void)c;
  memcpy(y, x, n * sizeof *y);
#else
  for (size_t i = 0; i < n; i++) r_set(y + i, x + i, c);
#endif
}

void SNN_SFX(snn_vzero)(size_t n, relt *y, rctx *c) {
#ifndef SNN_MPFR
  (void)c;
  memset(y, 0, n * sizeof *y);
#else
  for (size_t i = 0; i < n; i++) r_zero(y + i, c);
#endif
}

void SNN_SFX(snn_axpy)(size_t n, const relt *a, const relt *x, relt *y, rctx *c) {
#ifndef SNN_MPFR
  (void)c;
  cblas_daxpy((int)n, *a, x, 1, y, 1);
#else
  for (size_t i = 0; i < n; i++) r_fma(y + i, a, x + i, y + i, c);
#endif
}

void SNN_SFX(snn_scal)(size_t n, const relt *a, relt *y, rctx *c) {
#ifndef SNN_MPFR
  (void)c;
  cblas_dscal((int)n, *a, y, 1);
#else
  for (size_t i = 0; i < n; i++) r_mul(y + i, y + i, a, c);
#endif
}

int SNN_SFX(snn_export)(const relt *v, size_t n, snn_nums *out, const rctx *c) {
  for (size_t i = 0; i < n; i++) {
    out->v[i] = r_get_d(v + i);
#ifdef SNN_MPFR
    /* enough decimal digits to read the value back exactly at this precision */
    size_t dig = mpfr_get_str_ndigits(10, (mpfr_prec_t)c->prec);
    char *txt = NULL;
    if (mpfr_asprintf(&txt, "%.*Re", (int)dig - 1, v + i) < 0) return SNN_ENOMEM;
    int st = snn_nums_set_str(out, i, txt);
    mpfr_free_str(txt);
    if (st) return st;
#else
    (void)c;
#endif
  }
  return SNN_OK;
}

/* Exact transport of a vector (training across MPI ranks): a double is its 8
 * bytes; an MPFR number at precision p its kind and sign, its exponent and
 * its limbs, so that unpacking gives the same number bit for bit. */
#ifdef SNN_MPFR
static size_t limbs(const rctx *c) {
  return mpfr_custom_get_size((mpfr_prec_t)c->prec) / sizeof(mp_limb_t);
}
#endif

size_t SNN_SFX(snn_vec_pack_bytes)(size_t n, const rctx *c) {
#ifdef SNN_MPFR
  return n * (2 * sizeof(int64_t) + limbs(c) * sizeof(mp_limb_t));
#else
  (void)c;
  return n * sizeof(double);
#endif
}

void SNN_SFX(snn_vec_pack)(const relt *v, size_t n, void *buf, const rctx *c) {
#ifdef SNN_MPFR
  unsigned char *p = buf;
  size_t nl = limbs(c);
  for (size_t i = 0; i < n; i++) {
    int64_t kind = mpfr_custom_get_kind(v + i), exp = 0;
    if (mpfr_regular_p(v + i)) exp = (int64_t)mpfr_custom_get_exp(v + i);
    memcpy(p, &kind, sizeof kind);
    memcpy(p + sizeof kind, &exp, sizeof exp);
    memcpy(p + 2 * sizeof kind, mpfr_custom_get_significand(v + i), nl * sizeof(mp_limb_t));
    p += 2 * sizeof kind + nl * sizeof(mp_limb_t);
  }
#else
  (void)c;
  memcpy(buf, v, n * sizeof *v);
#endif
}

void SNN_SFX(snn_vec_unpack)(relt *v, size_t n, const void *buf, rctx *c) {
#ifdef SNN_MPFR
  const unsigned char *p = buf;
  size_t nl = limbs(c);
  mp_limb_t *m = (mp_limb_t *)mpfr_custom_get_significand(c->leaf);
  for (size_t i = 0; i < n; i++) {
    int64_t kind, exp;
    memcpy(&kind, p, sizeof kind);
    memcpy(&exp, p + sizeof kind, sizeof exp);
    /* rebuilt in the scratch scalar's own limbs (same precision), then copied */
    memcpy(m, p + 2 * sizeof kind, nl * sizeof(mp_limb_t));
    __mpfr_struct t;
    mpfr_custom_init_set(&t, (int)kind, (mpfr_exp_t)exp, (mpfr_prec_t)c->prec, m);
    mpfr_set(v + i, &t, R_RND);
    p += 2 * sizeof kind + nl * sizeof(mp_limb_t);
  }
#else
  (void)c;
  memcpy(v, buf, n * sizeof *v);
#endif
}

#ifndef SNN_MPFR
#ifdef SNN_HAVE_BLAS_SHUTDOWN
int blas_thread_shutdown_(void); /* OpenBLAS: ends its server threads (made again when a call wants them) */
#endif

void snn_blas_threads(int n) {
  openblas_set_num_threads(n);
#ifdef SNN_HAVE_BLAS_SHUTDOWN
  /* on one thread the server threads would only spin between calls, taking
   * a core from snngrad's own workers */
  if (n == 1) blas_thread_shutdown_();
#endif
}

/* The machine's limit for a benchmark to be read against: n x n times
 * n x n in double on one BLAS thread (cblas_dgemm), the best of `reps`
 * calls after one that is not timed, in GFLOP/s (2 n^3 flops per call).
 * Leaves BLAS on one thread.  0 if the matrices cannot be allocated. */
double snn_dgemm_gflops(size_t n, int reps) {
  double *a = malloc(3 * n * n * sizeof *a), best = 0;
  if (!a || n == 0) {
    free(a);
    return 0;
  }
  double *b = a + n * n, *c = b + n * n;
  for (size_t i = 0; i < n * n; i++) a[i] = (double)(i % 7) - 3.0, b[i] = (double)(i % 5) * 0.25, c[i] = 0;
  snn_blas_threads(1);
  for (int k = 0; k <= reps; k++) {
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)n, (int)n, (int)n, 1.0, a, (int)n, b, (int)n, 0.0, c,
                (int)n);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double sec = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
    double gf = sec > 0 ? 2.0 * (double)n * (double)n * (double)n / sec / 1e9 : 0;
    if (k > 0 && gf > best) best = gf; /* the first call only warms up */
  }
  free(a);
  return best;
}
#endif
