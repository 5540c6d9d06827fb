/* real.h - the scalar API: the only header that branches on the precision.
 *
 * Every numeric source in snngrad is compiled twice: once as is (double, names
 * suffixed _d) and once with -DSNN_MPFR (GNU MPFR, names suffixed _mp).  Both
 * builds see the same one-element-array scalar type, so that
 *
 *     real x;  r_init(x, c);  r_add(x, a, b, c);  r_clear(x, c);
 *
 * reads the same in both.  Arrays are arrays of the element type `relt`, and an
 * element is passed by address (`v + i`).  Operations are three-address, as in
 * MPFR, and take the precision context last.
 *
 * At 53 bits the MPFR build emulates binary64 exactly (exponent range of
 * binary64 and mpfr_subnormalize after each operation), so that +, -, *, /,
 * sqrt and fma reproduce the double build bit for bit when the double build is
 * compiled with -ffp-contract=off.  exp, log and tanh from glibc are not
 * correctly rounded, so those agree only to an ulp or so. */
#ifndef SNN_REAL_H
#define SNN_REAL_H

#include <math.h>
#include <mpfr.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#ifdef SNN_MPFR
typedef __mpfr_struct relt;
typedef mpfr_t real;
#define SNN_SFX(name) name##_mp
#else
typedef double relt;
typedef double real[1];
#define SNN_SFX(name) name##_d
#endif

/* The precision context: precision, binary64 emulation flag, and scratch
 * scalars created once, named by who may use them so that no two users
 * share one (library functions take the context non-const because they
 * write them):
 *   leaf      code that calls no other function using scratch (the kernels,
 *             short loops in the rules and the training loop);
 *   spike[2]  the spike function and its surrogates (sim/spike.h);
 *   cell[5]   a cell's step and Jacobians (models/), and the parts of the
 *             shared step that call no cell (the loss, the delay kernels). */
#define SNN_CELL_SCRATCH 5
typedef struct {
  long prec; /* bits; 53 in the double build */
  int emu64; /* MPFR build only: emulate binary64 (prec == 53) */
  long old_emin, old_emax;
  real leaf;
  real spike[2];
  real cell[SNN_CELL_SCRATCH];
#ifdef SNN_MPFR
  /* the exact accumulator of snn_gemm and snn_gemv above 53 bits (kernels.c):
   * grown when a product-sum's exponent range needs more limbs, kept for
   * the context's life, freed by snn_rctx_clear */
  mp_limb_t *xacc;
  size_t xcap;
  void *xel; /* the operands' terms, unpacked once per call */
  size_t xelcap;
#endif
} SNN_SFX(snn_rctx);
typedef SNN_SFX(snn_rctx) rctx;

int SNN_SFX(snn_rctx_init)(rctx *c, long prec);
void SNN_SFX(snn_rctx_clear)(rctx *c);
/* Bytes used by one scalar of this context (element plus limbs). */
size_t SNN_SFX(snn_real_bytes)(const rctx *c);

#ifdef SNN_MPFR
#define R_RND MPFR_RNDN
static inline void r_fix_(relt *r, int t, const rctx *c) {
  if (c->emu64) mpfr_subnormalize(r, t, R_RND);
}
static inline void r_init(relt *r, const rctx *c) {
  mpfr_init2(r, (mpfr_prec_t)c->prec);
  mpfr_set_zero(r, 1);
}
static inline void r_clear(relt *r, const rctx *c) {
  (void)c;
  mpfr_clear(r);
}
static inline void r_set(relt *r, const relt *a, const rctx *c) {
  r_fix_(r, mpfr_set(r, a, R_RND), c);
}
static inline void r_set_d(relt *r, double a, const rctx *c) {
  r_fix_(r, mpfr_set_d(r, a, R_RND), c);
}
static inline void r_set_si(relt *r, long a, const rctx *c) {
  r_fix_(r, mpfr_set_si(r, a, R_RND), c);
}
static inline void r_zero(relt *r, const rctx *c) {
  (void)c;
  mpfr_set_zero(r, 1);
}
/* whether a value that r_keep keeps only when keep must be computed: in
 * MPFR only then (each operation is a call); in double always, so that the
 * loop has no branch and vectorises */
static inline int r_needed(int keep) {
  return keep;
}
/* r = a if keep, else +0 (a select, without a branch in double) */
static inline void r_keep(relt *r, int keep, const relt *a, const rctx *c) {
  if (keep)
    r_set(r, a, c);
  else
    r_zero(r, c);
}
static inline double r_get_d(const relt *a) {
  return mpfr_get_d(a, R_RND);
}
static inline void r_add(relt *r, const relt *a, const relt *b, const rctx *c) {
  r_fix_(r, mpfr_add(r, a, b, R_RND), c);
}
static inline void r_sub(relt *r, const relt *a, const relt *b, const rctx *c) {
  r_fix_(r, mpfr_sub(r, a, b, R_RND), c);
}
static inline void r_mul(relt *r, const relt *a, const relt *b, const rctx *c) {
  r_fix_(r, mpfr_mul(r, a, b, R_RND), c);
}
static inline void r_div(relt *r, const relt *a, const relt *b, const rctx *c) {
  r_fix_(r, mpfr_div(r, a, b, R_RND), c);
}
static inline void r_mul_d(relt *r, const relt *a, double b, const rctx *c) {
  r_fix_(r, mpfr_mul_d(r, a, b, R_RND), c);
}
static inline void r_add_d(relt *r, const relt *a, double b, const rctx *c) {
  r_fix_(r, mpfr_add_d(r, a, b, R_RND), c);
}
static inline void r_d_sub(relt *r, double a, const relt *b, const rctx *c) {
  r_fix_(r, mpfr_d_sub(r, a, b, R_RND), c);
}
static inline void r_div_d(relt *r, const relt *a, double b, const rctx *c) {
  r_fix_(r, mpfr_div_d(r, a, b, R_RND), c);
}
static inline void r_d_div(relt *r, double a, const relt *b, const rctx *c) {
  r_fix_(r, mpfr_d_div(r, a, b, R_RND), c);
}
/* r = a*b + d, one rounding (the double build uses fma() for the same). */
static inline void r_fma(relt *r, const relt *a, const relt *b, const relt *d, const rctx *c) {
  r_fix_(r, mpfr_fma(r, a, b, d, R_RND), c);
}
static inline void r_neg(relt *r, const relt *a, const rctx *c) {
  r_fix_(r, mpfr_neg(r, a, R_RND), c);
}
static inline void r_abs(relt *r, const relt *a, const rctx *c) {
  r_fix_(r, mpfr_abs(r, a, R_RND), c);
}
static inline void r_sqrt(relt *r, const relt *a, const rctx *c) {
  r_fix_(r, mpfr_sqrt(r, a, R_RND), c);
}
static inline void r_exp(relt *r, const relt *a, const rctx *c) {
  r_fix_(r, mpfr_exp(r, a, R_RND), c);
}
static inline void r_log(relt *r, const relt *a, const rctx *c) {
  r_fix_(r, mpfr_log(r, a, R_RND), c);
}
static inline void r_tanh(relt *r, const relt *a, const rctx *c) {
  r_fix_(r, mpfr_tanh(r, a, R_RND), c);
}
static inline int r_sgn(const relt *a) {
  return mpfr_sgn(a);
}
static inline int r_cmp(const relt *a, const relt *b) {
  return mpfr_cmp(a, b);
}
static inline int r_cmp_d(const relt *a, double b) {
  return mpfr_cmp_d(a, b);
}
/* compares |a| and |b| (0 when either is NaN) */
static inline int r_cmpabs(const relt *a, const relt *b) {
  return mpfr_nan_p(a) || mpfr_nan_p(b) ? 0 : mpfr_cmpabs(a, b);
}
static inline int r_isfinite(const relt *a) {
  return mpfr_number_p(a);
}
/* log10 |a| as a double (-inf for 0): errors at 4096 bits underflow a double. */
static inline double r_log10abs(const relt *a) {
  if (mpfr_zero_p(a)) return -INFINITY;
  long e;
  double m = mpfr_get_d_2exp(&e, a, R_RND);
  return log10(fabs(m)) + (double)e * 0.30102999566398120;
}
/* Parse a decimal or hexadecimal string; 0 on success. */
static inline int r_set_str(relt *r, const char *s, const rctx *c) {
  char *end;
  int t = mpfr_strtofr(r, s, &end, 0, R_RND); /* base from the prefix: 0x hexadecimal, else decimal */
  r_fix_(r, t, c);
  return (end == s || *end != '\0') ? -1 : 0;
}
#else /* double */
static inline void r_init(relt *r, const rctx *c) {
  (void)c;
  *r = 0.0;
}
static inline void r_clear(relt *r, const rctx *c) {
  (void)r;
  (void)c;
}
static inline void r_set(relt *r, const relt *a, const rctx *c) {
  (void)c;
  *r = *a;
}
static inline void r_set_d(relt *r, double a, const rctx *c) {
  (void)c;
  *r = a;
}
static inline void r_set_si(relt *r, long a, const rctx *c) {
  (void)c;
  *r = (double)a;
}
static inline void r_zero(relt *r, const rctx *c) {
  (void)c;
  *r = 0.0;
}
static inline int r_needed(int keep) {
  (void)keep;
  return 1;
}
static inline void r_keep(relt *r, int keep, const relt *a, const rctx *c) {
  /* the bits masked, not `keep ? *a : 0`: under -ftrapping-math gcc will
   * not turn that select into vector code */
  uint64_t bits, mask = -(uint64_t)(keep != 0);
  (void)c;
  memcpy(&bits, a, sizeof bits);
  bits &= mask;
  memcpy(r, &bits, sizeof bits);
}
static inline double r_get_d(const relt *a) {
  return *a;
}
static inline void r_add(relt *r, const relt *a, const relt *b, const rctx *c) {
  (void)c;
  *r = *a + *b;
}
static inline void r_sub(relt *r, const relt *a, const relt *b, const rctx *c) {
  (void)c;
  *r = *a - *b;
}
static inline void r_mul(relt *r, const relt *a, const relt *b, const rctx *c) {
  (void)c;
  *r = *a * *b;
}
static inline void r_div(relt *r, const relt *a, const relt *b, const rctx *c) {
  (void)c;
  *r = *a / *b;
}
static inline void r_mul_d(relt *r, const relt *a, double b, const rctx *c) {
  (void)c;
  *r = *a * b;
}
static inline void r_add_d(relt *r, const relt *a, double b, const rctx *c) {
  (void)c;
  *r = *a + b;
}
static inline void r_d_sub(relt *r, double a, const relt *b, const rctx *c) {
  (void)c;
  *r = a - *b;
}
static inline void r_div_d(relt *r, const relt *a, double b, const rctx *c) {
  (void)c;
  *r = *a / b;
}
static inline void r_d_div(relt *r, double a, const relt *b, const rctx *c) {
  (void)c;
  *r = a / *b;
}
static inline void r_fma(relt *r, const relt *a, const relt *b, const relt *d, const rctx *c) {
  (void)c;
  *r = fma(*a, *b, *d);
}
static inline void r_neg(relt *r, const relt *a, const rctx *c) {
  (void)c;
  *r = -*a;
}
static inline void r_abs(relt *r, const relt *a, const rctx *c) {
  (void)c;
  *r = fabs(*a);
}
static inline void r_sqrt(relt *r, const relt *a, const rctx *c) {
  (void)c;
  *r = sqrt(*a);
}
static inline void r_exp(relt *r, const relt *a, const rctx *c) {
  (void)c;
  *r = exp(*a);
}
static inline void r_log(relt *r, const relt *a, const rctx *c) {
  (void)c;
  *r = log(*a);
}
static inline void r_tanh(relt *r, const relt *a, const rctx *c) {
  (void)c;
  *r = tanh(*a);
}
static inline int r_sgn(const relt *a) {
  return (*a > 0) - (*a < 0);
}
static inline int r_cmp(const relt *a, const relt *b) {
  return (*a > *b) - (*a < *b);
}
static inline int r_cmp_d(const relt *a, double b) {
  return (*a > b) - (*a < b);
}
static inline int r_cmpabs(const relt *a, const relt *b) {
  return (fabs(*a) > fabs(*b)) - (fabs(*a) < fabs(*b));
}
static inline int r_isfinite(const relt *a) {
  return isfinite(*a);
}
static inline double r_log10abs(const relt *a) {
  return *a == 0.0 ? -INFINITY : log10(fabs(*a));
}
int snn_parse_double(const char *s, double *out);
static inline int r_set_str(relt *r, const char *s, const rctx *c) {
  (void)c;
  return snn_parse_double(s, r);
}
#endif

/* Hot numeric functions of the double build get a second copy compiled for
 * CPUs with FMA, picked when the program starts: fma() is then one
 * instruction instead of a call into libm, with the same rounding (so the
 * bytes do not change).  Not with clang or the sanitizers. */
#if !defined(SNN_MPFR) && defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && \
    !defined(__SANITIZE_ADDRESS__)
#define SNN_FMA_CLONES __attribute__((target_clones("fma", "default")))
#else
#define SNN_FMA_CLONES
#endif

/* A scratch scalar of a hot loop, whose value never outlives the loop's
 * body: in double a local, which the compiler keeps in a register (a
 * workspace's scalar is written back to memory at every operation, since it
 * might alias the arrays); in MPFR the workspace's scalar `ws`, created once. */
#ifdef SNN_MPFR
#define R_LOCAL(name, ws) relt *const name = (ws)
#else
#define R_LOCAL(name, ws) \
  real name##_l_;         \
  relt *const name = name##_l_
#endif

/* Vectors of scalars, each initialised at the context's precision. */
relt *SNN_SFX(snn_vec_alloc)(size_t n, const rctx *c);
void SNN_SFX(snn_vec_free)(relt *v, size_t n, const rctx *c);
#define vec_alloc SNN_SFX(snn_vec_alloc)
#define vec_free SNN_SFX(snn_vec_free)

#endif
