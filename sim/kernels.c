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
  free(c->xacc);
  free(c->xel);
  c->xacc = NULL;
  c->xel = NULL;
  c->xcap = c->xelcap = 0;
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

#ifdef SNN_MPFR
/* Above 53 bits a product-sum is rounded once: every element of a product
 * is the correctly rounded value of the exact sum (the addend C when
 * accumulating, plus every a_k b_k), computed in a fixed-point accumulator.
 * That is the most accurate result there is, and it does not depend on the
 * order of the terms, so a batch, a shard or a single sequence give the
 * same bits for the same sums.  It is also faster than a chain of mpfr_fma:
 * a term costs one multiplication of two significands (none for a spike 1,
 * nothing for a 0) and one shifted addition of limbs.  At 53 bits the MPFR
 * build emulates binary64 and keeps the fma chain of a double loop,
 * subnormals included (xsetup says which).
 *
 * The accumulator: a term m 2^l (m the integer significand of the product
 * of two operands, or of the addend) is added at bit l - base of one of two
 * magnitudes, positive and negative terms apart, so that no borrow runs;
 * base is the least l any term of the call can have, from the operands'
 * exponent ranges, and the width covers the greatest term and the carries.
 * The operands are unpacked once per call (exponent, sign, kind, limbs),
 * the rows of A with their zeros left out. */
/* xround writes the result itself up to this many limbs (1024 bits) */
#define SNN_XNL 16

typedef struct {
  const mp_limb_t *d;
  mpfr_exp_t e;
  uint32_t k;  /* the column of A's row, or B's row */
  uint16_t sl; /* the limbs from the top up to the last that is not 0 */
  uint8_t one; /* exactly 1 */
  uint8_t neg;
} xel;

typedef struct {
  mp_limb_t *pos, *neg, *tmp; /* two magnitudes of L limbs, a term of 2 nl + 1 */
  size_t L, nl;
  size_t qlo, qhi;       /* the limbs [qlo, qhi) a term touched; the others are 0 */
  mpfr_exp_t base, W;    /* W = nl limbs' bits */
  mpfr_exp_t emin, emax; /* the exponent range, read once per call */
  mpfr_prec_t prec;
  xel *a, *b; /* A's rows (na[i] terms each, at a + i K), B's columns (b + j K, zeros kept) */
  size_t *na;
} xacc;

typedef struct {
  mpfr_exp_t lo, hi;
  int any;
} xrange;

static inline void xrange_put(xrange *r, mpfr_exp_t e) {
  if (!r->any || e < r->lo) r->lo = e;
  if (!r->any || e > r->hi) r->hi = e;
  r->any = 1;
}

/* 0 when v is a NaN or an infinity (the fma chain handles those) */
static inline int xunpack(xel *x, const relt *v, size_t nl, xrange *r) {
  x->d = v->_mpfr_d;
  x->neg = (uint8_t)(mpfr_signbit(v) != 0);
  x->one = 0;
  if (mpfr_zero_p(v)) {
    x->e = 0;
    x->d = NULL;
    return 1;
  }
  if (!mpfr_regular_p(v)) return 0;
  x->e = mpfr_get_exp(v);
  xrange_put(r, x->e);
  size_t z = 0; /* low limbs that are 0: a value read from a double has one limb */
  while (x->d[z] == 0) z++;
  x->sl = (uint16_t)(nl - z);
  x->one = x->e == 1 && !x->neg && x->sl == 1 && x->d[nl - 1] == (mp_limb_t)1 << (GMP_NUMB_BITS - 1);
  return 1;
}

/* acc += m << r (m of ml limbs, r < 64), then the carry up to acc's end (n
 * limbs) */
static inline __attribute__((always_inline)) size_t xshadd(mp_limb_t *restrict acc, size_t n,
                                                           const mp_limb_t *restrict m, size_t ml, unsigned r) {
  /* the bits a limb sends up: (v >> 1) >> (63 - r), defined for r = 0 too */
  mp_limb_t cy = 0, prev = 0;
  size_t i = 0;
  for (; i < ml; i++) {
    mp_limb_t v = (m[i] << r) | ((prev >> 1) >> (63 - r));
    prev = m[i];
    unsigned __int128 t = (unsigned __int128)acc[i] + v + cy;
    acc[i] = (mp_limb_t)t;
    cy = (mp_limb_t)(t >> 64);
  }
  unsigned __int128 t = (unsigned __int128)acc[i] + ((prev >> 1) >> (63 - r)) + cy;
  acc[i++] = (mp_limb_t)t;
  cy = (mp_limb_t)(t >> 64);
  while (cy && i < n) cy = ++acc[i++] == 0;
  return i;
}

static inline __attribute__((always_inline)) void xterm(xacc *x, const mp_limb_t *m, size_t ml, mpfr_exp_t l, int neg) {
  size_t s = (size_t)(l - x->base), q = s / GMP_NUMB_BITS;
  mp_limb_t *acc = (neg ? x->neg : x->pos) + q;
  size_t end = q + xshadd(acc, x->L - q, m, ml, (unsigned)(s % GMP_NUMB_BITS));
  if (q < x->qlo) x->qlo = q;
  if (end > x->qhi) x->qhi = end;
}

/* p = a b, 2 nl limbs */
static inline __attribute__((always_inline)) void xmul(mp_limb_t *restrict p, const mp_limb_t *restrict a,
                                                       const mp_limb_t *restrict b, size_t nl) {
  if (nl > 3) {
    mpn_mul_n(p, a, b, (mp_size_t)nl);
    return;
  }
  mp_limb_t cy = 0;
  for (size_t j = 0; j < nl; j++) {
    unsigned __int128 t = (unsigned __int128)a[0] * b[j] + cy;
    p[j] = (mp_limb_t)t;
    cy = (mp_limb_t)(t >> 64);
  }
  p[nl] = cy;
  for (size_t i = 1; i < nl; i++) {
    cy = 0;
    for (size_t j = 0; j < nl; j++) {
      unsigned __int128 t = (unsigned __int128)a[i] * b[j] + p[i + j] + cy;
      p[i + j] = (mp_limb_t)t;
      cy = (mp_limb_t)(t >> 64);
    }
    p[i + nl] = cy;
  }
}

/* p = a b, a of na limbs and b of one */
static inline __attribute__((always_inline)) void xmul1(mp_limb_t *restrict p, const mp_limb_t *restrict a, size_t na,
                                                        mp_limb_t b) {
  mp_limb_t cy = 0;
  for (size_t j = 0; j < na; j++) {
    unsigned __int128 t = (unsigned __int128)a[j] * b + cy;
    p[j] = (mp_limb_t)t;
    cy = (mp_limb_t)(t >> 64);
  }
  p[na] = cy;
}

/* a b: of their significands only the limbs from the first that is not 0
 * (a significand of sl limbs is the integer of its top sl limbs, times
 * 2^(e - 64 sl)) */
static inline __attribute__((always_inline)) void xprod(xacc *x, const xel *a, const xel *b, size_t nl) {
  int neg = a->neg != b->neg;
  if (a->one)
    xterm(x, b->d, nl, b->e - x->W, neg);
  else if (b->one)
    xterm(x, a->d, nl, a->e - x->W, neg);
  else if (a->sl == nl && b->sl == nl) {
    xmul(x->tmp, a->d, b->d, nl);
    xterm(x, x->tmp, 2 * nl, a->e + b->e - 2 * x->W, neg);
  } else {
    if (a->sl < b->sl) {
      const xel *t = a;
      a = b;
      b = t;
    }
    size_t sa = a->sl, sb = b->sl;
    const mp_limb_t *da = a->d + nl - sa, *db = b->d + nl - sb;
    if (sb == 1 && sa == nl) { /* a full significand times a double's (an input): nl constant, unrolled */
      xmul1(x->tmp, da, nl, *db);
      xterm(x, x->tmp, nl + 1, a->e + b->e - (mpfr_exp_t)((nl + 1) * GMP_NUMB_BITS), neg);
      return;
    }
    if (sb == 1)
      xmul1(x->tmp, da, sa, *db);
    else
      mpn_mul(x->tmp, da, (mp_size_t)sa, db, (mp_size_t)sb);
    xterm(x, x->tmp, sa + sb, a->e + b->e - (mpfr_exp_t)((sa + sb) * GMP_NUMB_BITS), neg);
  }
}

/* out = m 2^e (m of n limbs, its top one not 0) rounded to nearest, ties to
 * even, written into out's limbs (out has the context's precision): the work of mpfr_set_z_2exp without its
 * copies; 0 (out untouched) when the result leaves the exponent range */
static inline int xput(const xacc *x, const mp_limb_t *m, size_t n, mpfr_exp_t e, int neg, relt *out) {
  size_t nl = x->nl, t = n - 1;
  while (m[t] == 0) t--;
  unsigned lz = (unsigned)__builtin_clzl(m[t]);
  /* the bits of m: nb; the window w[0..nl] holds its top (nl + 1) 64 bits,
   * from bit s on; rest: a bit below the window is set */
  long nb = (long)(t * GMP_NUMB_BITS + GMP_NUMB_BITS - lz), s = nb - (long)((nl + 1) * GMP_NUMB_BITS);
  mp_limb_t w[SNN_XNL + 1];
  int rest = 0;
  for (size_t i = 0; i <= nl; i++) {
    /* bits [s + 64 i, s + 64 i + 64) of m, 0 outside [0, nb) */
    long b = s + (long)(i * GMP_NUMB_BITS);
    mp_limb_t v = 0;
    if (b + GMP_NUMB_BITS > 0) {
      long q = b >= 0 ? b / GMP_NUMB_BITS : -1;
      unsigned r = (unsigned)(b - q * GMP_NUMB_BITS);
      mp_limb_t lo = q >= 0 ? m[q] : 0, hi = (size_t)(q + 1) <= t ? m[q + 1] : 0;
      v = (lo >> r) | ((hi << 1) << (GMP_NUMB_BITS - 1 - r));
    }
    w[i] = v;
  }
  if (s > 0) {
    size_t q = (size_t)s / GMP_NUMB_BITS;
    unsigned r = (unsigned)s % GMP_NUMB_BITS;
    for (size_t i = 0; i < q && !rest; i++) rest = m[i] != 0;
    if (r && (m[q] << (GMP_NUMB_BITS - r))) rest = 1;
  }
  /* keep p bits: the lowest kept one is bit sh of w[1] */
  unsigned sh = (unsigned)(nl * GMP_NUMB_BITS - (size_t)x->prec);
  mp_limb_t half = sh ? (mp_limb_t)1 << (sh - 1) : (mp_limb_t)1 << (GMP_NUMB_BITS - 1);
  mp_limb_t *rl = sh ? w + 1 : w; /* the limb of the round bit */
  mp_limb_t below = sh ? (w[1] & (half - 1)) | w[0] : w[0] & (half - 1);
  int up = (*rl & half) && (below || rest || ((w[1] >> sh) & 1));
  e += nb;
  if (up) {
    size_t i = 1;
    mp_limb_t add = (mp_limb_t)1 << sh;
    while (i <= nl && (w[i] += add) < add) {
      add = 1;
      i++;
    }
    if (i > nl) { /* all ones rounded up: 2^(bits) */
      w[nl] = (mp_limb_t)1 << (GMP_NUMB_BITS - 1);
      e++;
    }
  }
  if (e < x->emin || e > x->emax) return 0;
  w[1] &= ~(((mp_limb_t)1 << sh) - 1);
  memcpy(out->_mpfr_d, w + 1, nl * sizeof *w);
  out->_mpfr_exp = e;
  out->_mpfr_sign = neg ? -1 : 1;
  return 1;
}

/* out = the sum accumulated, rounded once (an exact 0 is +0); the
 * accumulator is left 0 */
static inline void xround(xacc *x, relt *out) {
  if (x->qhi <= x->qlo) {
    mpfr_set_zero(out, 1);
    return;
  }
  size_t lo = x->qlo, n = x->qhi - x->qlo;
  mp_limb_t *p = x->pos + lo, *q = x->neg + lo, *m = p;
  int c = mpn_cmp(p, q, (mp_size_t)n);
  if (c == 0) {
    mpfr_set_zero(out, 1);
  } else {
    if (c > 0) {
      mpn_sub_n(p, p, q, (mp_size_t)n);
    } else {
      mpn_sub_n(q, q, p, (mp_size_t)n);
      m = q;
    }
    mpfr_exp_t e = x->base + (mpfr_exp_t)(lo * GMP_NUMB_BITS);
    if (x->nl > SNN_XNL || mpfr_get_prec(out) != x->prec || !xput(x, m, n, e, c < 0, out)) {
      mpz_t z;
      mpz_roinit_n(z, m, c > 0 ? (mp_size_t)n : -(mp_size_t)n);
      mpfr_set_z_2exp(out, z, e, R_RND);
    }
  }
  memset(p, 0, n * sizeof *p);
  memset(q, 0, n * sizeof *q);
  x->qlo = x->L;
  x->qhi = 0;
}

/* grow a buffer of the context; 0 when it cannot be had */
static int xgrow(void **p, size_t *cap, size_t need) {
  if (need <= *cap) return 1;
  void *q = realloc(*p, need);
  if (!q) return 0;
  *p = q;
  *cap = need;
  return 1;
}

/* Unpack op(A) (M x K) and op(B) (K x N) and size the accumulator for the
 * terms of one call, the addends C (M x N) included when given: 0 (use the
 * fma chain) at 53 bits, when an operand holds a NaN or an infinity, or
 * when the memory cannot be had. */
static int xsetup(xacc *x, int ta, int tb, size_t M, size_t N, size_t K, const relt *A, size_t lda, const relt *B,
                  size_t ldb, const relt *C, size_t ldc, rctx *c) {
  if (c->emu64 || K > UINT32_MAX) return 0;
  size_t nl = ((size_t)c->prec + GMP_NUMB_BITS - 1) / GMP_NUMB_BITS;
  size_t nel = (M + N) * K, bytes = nel * sizeof(xel) + M * sizeof(size_t);
  if (!xgrow(&c->xel, &c->xelcap, bytes ? bytes : 1)) return 0;
  x->a = c->xel;
  x->b = x->a + M * K;
  x->na = (size_t *)(void *)(x->b + N * K);
  xrange ra = {0, 0, 0}, rb = {0, 0, 0}, rc = {0, 0, 0};
  for (size_t i = 0; i < M; i++) {
    xel *row = x->a + i * K;
    size_t n = 0;
    for (size_t k = 0; k < K; k++) {
      if (!xunpack(row + n, ta ? A + k * lda + i : A + i * lda + k, nl, &ra)) return 0;
      row[n].k = (uint32_t)k;
      if (row[n].d) n++;
    }
    x->na[i] = n;
  }
  for (size_t j = 0; j < N; j++)
    for (size_t k = 0; k < K; k++)
      if (!xunpack(x->b + j * K + k, tb ? B + j * ldb + k : B + k * ldb + j, nl, &rb)) return 0;
  if (C)
    for (size_t i = 0; i < M; i++)
      for (size_t j = 0; j < N; j++) {
        const relt *v = C + i * ldc + j;
        if (mpfr_zero_p(v)) continue;
        if (!mpfr_regular_p(v)) return 0;
        xrange_put(&rc, mpfr_get_exp(v));
      }
  mpfr_exp_t W = (mpfr_exp_t)(nl * GMP_NUMB_BITS), lo = 0, hi = 0;
  int any = 0;
  if (ra.any && rb.any) {
    lo = ra.lo + rb.lo - 2 * W;
    hi = ra.hi + rb.hi;
    any = 1;
  }
  if (rc.any) {
    if (!any || rc.lo - W < lo) lo = rc.lo - W;
    if (!any || rc.hi > hi) hi = rc.hi;
  }
  /* every term lies below bit hi - lo; the K + 1 terms' carries need a limb
   * more, a shifted term's top one, and one is spare */
  size_t L = (size_t)(hi - lo) / GMP_NUMB_BITS + 4;
  if (!xgrow((void **)&c->xacc, &c->xcap, (2 * L + 2 * nl + 1) * sizeof(mp_limb_t))) return 0;
  x->pos = c->xacc;
  x->neg = c->xacc + L;
  x->tmp = c->xacc + 2 * L;
  x->L = L;
  x->nl = nl;
  x->W = W;
  x->base = lo;
  x->emin = mpfr_get_emin();
  x->emax = mpfr_get_emax();
  x->prec = (mpfr_prec_t)c->prec;
  x->qlo = L;
  x->qhi = 0;
  memset(x->pos, 0, 2 * L * sizeof *x->pos);
  return 1;
}

/* the sum of addend d (or none) and row i of op(A) times column j of op(B),
 * for nl limbs (a constant where it is inlined: the limb loops unroll) */
static inline __attribute__((always_inline)) void xdot_n(xacc *x, size_t i, size_t j, size_t K, const relt *d,
                                                         relt *out, size_t nl) {
  if (d && !mpfr_zero_p(d)) xterm(x, d->_mpfr_d, nl, mpfr_get_exp(d) - x->W, mpfr_signbit(d) != 0);
  const xel *a = x->a + i * K, *b = x->b + j * K;
  for (size_t n = 0, na = x->na[i]; n < na; n++) {
    const xel *bk = b + a[n].k;
    if (bk->d) xprod(x, a + n, bk, nl);
  }
  xround(x, out);
}

/* 128 and 256 bits, the test suites' precisions, with the limb loops unrolled */
static void xdot(xacc *x, size_t i, size_t j, size_t K, const relt *d, relt *out) {
  if (x->nl == 4)
    xdot_n(x, i, j, K, d, out, 4);
  else if (x->nl == 2)
    xdot_n(x, i, j, K, d, out, 2);
  else
    xdot_n(x, i, j, K, d, out, x->nl);
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
  xacc x;
  if (xsetup(&x, ta, tb, M, N, K, A, lda, B, ldb, acc ? C : NULL, ldc, c)) {
    for (size_t i = 0; i < M; i++)
      for (size_t j = 0; j < N; j++) xdot(&x, i, j, K, acc ? C + i * ldc + j : NULL, C + i * ldc + j);
    return;
  }
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
  /* y = op(A) x: a product of ny x nx and nx x 1 */
  xacc X;
  if (xsetup(&X, ta, 0, ny, 1, nx, A, lda, x, 1, acc ? y : NULL, 1, c)) {
    for (size_t i = 0; i < ny; i++) xdot(&X, i, 0, nx, acc ? y + i : NULL, y + i);
    return;
  }
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

#ifndef SNN_MPFR
/* four doubles, at any address of a double (gcc's and clang's vector
 * extension: element-wise +, one rounding each, as the scalar loop) */
typedef double v4d __attribute__((vector_size(32), aligned(8)));

/* 1 if every entry of the K rows (N each, stride ld) is 0 or 1 */
static int binary_rows(size_t K, size_t N, const double *X, size_t ld) {
  int bad = 0;
  for (size_t r = 0; r < K; r++)
    for (size_t j = 0; j < N; j++) bad |= (X[r * ld + j] != 0.0) & (X[r * ld + j] != 1.0);
  return !bad;
}

/* the indices of the ones of a binary row */
static size_t ones(size_t N, const double *x, uint32_t *idx) {
  size_t m = 0;
  for (size_t j = 0; j < N; j++) {
    idx[m] = (uint32_t)j;
    m += x[j] != 0.0;
  }
  return m;
}

/* lo, hi += the eight doubles at A0 + l[e] for e < m, in list order */
static inline __attribute__((always_inline)) void sum1(const double *A0, const uint32_t *l, uint32_t m, v4d *lo,
                                                       v4d *hi) {
  for (uint32_t e = 0; e < m; e++) *lo += *(const v4d *)(A0 + l[e]), *hi += *(const v4d *)(A0 + l[e] + 4);
}

/* The same for four lists at once (eight independent sums: the latency of
 * an add is hidden) up to the shortest, then each alone: v[2 q], v[2 q + 1]
 * take list q; each sum in its own list order. */
static inline __attribute__((always_inline)) void sum4(const double *A0, const uint32_t *const l[4],
                                                       const uint32_t m[4], v4d v[8]) {
  v4d a0 = v[0], a1 = v[1], b0 = v[2], b1 = v[3], c0 = v[4], c1 = v[5], d0 = v[6], d1 = v[7];
  uint32_t mm = m[0], q = 0;
  for (int k = 1; k < 4; k++)
    if (m[k] < mm) mm = m[k];
  for (; q < mm; q++) {
    const double *p = A0 + l[0][q], *r = A0 + l[1][q], *u = A0 + l[2][q], *w = A0 + l[3][q];
    a0 += *(const v4d *)p, a1 += *(const v4d *)(p + 4), b0 += *(const v4d *)r, b1 += *(const v4d *)(r + 4);
    c0 += *(const v4d *)u, c1 += *(const v4d *)(u + 4), d0 += *(const v4d *)w, d1 += *(const v4d *)(w + 4);
  }
  sum1(A0, l[0] + q, m[0] - q, &a0, &a1), sum1(A0, l[1] + q, m[1] - q, &b0, &b1);
  sum1(A0, l[2] + q, m[2] - q, &c0, &c1), sum1(A0, l[3] + q, m[3] - q, &d0, &d1);
  v[0] = a0, v[1] = a1, v[2] = b0, v[3] = b1, v[4] = c0, v[5] = c1, v[6] = d0, v[7] = d1;
}
#endif

SNN_FMA_CLONES int SNN_SFX(snn_rows_bin)(size_t B, size_t M, size_t N, const relt *At, const relt *X, size_t ldx,
                                         int acc, relt *Y, size_t ldy, uint32_t *idx, rctx *c) {
  (void)c;
#ifdef SNN_MPFR
  (void)B, (void)M, (void)N, (void)At, (void)X, (void)ldx, (void)acc, (void)Y, (void)ldy, (void)idx;
  return 0;
#else
  if (!binary_rows(B, N, X, ldx)) return 0;
  /* row b's ones at idx + b (N + 1) + 1 (as offsets into a panel), their
   * count before them */
  for (size_t b = 0; b < B; b++) {
    uint32_t *ib = idx + b * (N + 1);
    ib[0] = (uint32_t)ones(N, X + b * ldx, ib + 1);
    for (uint32_t q = 0; q < ib[0]; q++) ib[1 + q] *= 8;
    if (!acc) memset(Y + b * ldy, 0, M * sizeof *Y);
  }
  /* One panel (eight outputs, a line per one) at a time, four rows at once:
   * eight independent sums hide the latency of an add; the panel is
   * contiguous (the prefetcher follows it) and stays in the first-level
   * cache from one group of rows to the next */
  size_t b4 = B - B % 4;
  for (size_t i0 = 0; i0 < M; i0 += 8) {
    const double *A0 = At + i0 * N;
    size_t w = M - i0 < 8 ? M - i0 : 8;
    for (size_t b = 0; w == 8 && b < b4; b += 4) {
      const uint32_t *l[4],
          m[4] = {idx[b * (N + 1)], idx[(b + 1) * (N + 1)], idx[(b + 2) * (N + 1)], idx[(b + 3) * (N + 1)]};
      v4d v[8];
      for (int r = 0; r < 4; r++) {
        const double *y = Y + (b + (size_t)r) * ldy + i0;
        l[r] = idx + (b + (size_t)r) * (N + 1) + 1;
        v[2 * r] = *(const v4d *)y, v[2 * r + 1] = *(const v4d *)(y + 4);
      }
      sum4(A0, l, m, v);
      for (int r = 0; r < 4; r++) {
        double *y = Y + (b + (size_t)r) * ldy + i0;
        *(v4d *)y = v[2 * r], *(v4d *)(y + 4) = v[2 * r + 1];
      }
    }
    /* the other rows one at a time; a last panel of fewer than eight
     * outputs through a copy (its padding is 0 and is not stored) */
    for (size_t b = w == 8 ? b4 : 0; b < B; b++) {
      const uint32_t *ib = idx + b * (N + 1);
      double *y = Y + b * ldy + i0, t[8] = {0};
      memcpy(t, y, w * sizeof *t);
      v4d lo = *(const v4d *)t, hi = *(const v4d *)(t + 4);
      sum1(A0, ib + 1, ib[0], &lo, &hi);
      *(v4d *)t = lo, *(v4d *)(t + 4) = hi;
      memcpy(y, t, w * sizeof *t);
    }
  }
  return 1;
#endif
}

/* snn_gemm_tn_bin's scratch: C^T (N rows of ldt, on 64-byte lines), a
 * panel of eight columns of A over a chunk of EV_CHUNK rows (packed: A's
 * own rows may be a power of two apart, which maps a column's lines into a
 * few sets of the cache), then per chunk each column's count and its ones
 * (as offsets into the panel) */
#ifndef SNN_MPFR
#define EV_CHUNK 256
static size_t ev_ldt(size_t M) {
  return (M + 7) / 8 * 8 + 8;
}

static size_t ev_chunk(size_t K) {
  return K < EV_CHUNK ? K : EV_CHUNK;
}
#endif

size_t SNN_SFX(snn_gemm_tn_bin_scratch)(size_t M, size_t N, size_t K) {
#ifdef SNN_MPFR
  (void)M, (void)N, (void)K;
  return 0;
#else
  size_t ch = ev_chunk(K);
  return (N * ev_ldt(M) + 8 * ch) * sizeof(double) + (3 * N + 1 + ch * N) * sizeof(uint32_t);
#endif
}

SNN_FMA_CLONES int SNN_SFX(snn_gemm_tn_bin)(size_t M, size_t N, size_t K, const relt *A, size_t lda, const relt *X,
                                            size_t ldx, relt *C, size_t ldc, void *scr, rctx *c) {
  (void)c;
#ifdef SNN_MPFR
  (void)M, (void)N, (void)K, (void)A, (void)lda, (void)X, (void)ldx, (void)C, (void)ldc, (void)scr;
  return 0;
#else
  if (K < 32) return 0; /* a short sum: the dense product is faster */
  size_t ldt = ev_ldt(M), ch = ev_chunk(K);
  double *Ct = scr, *pan = Ct + N * ldt;
  uint32_t *cnt = (uint32_t *)(pan + 8 * ch), *pos = cnt + N + 1, *list = pos + N;
  const v4d zero = {0, 0, 0, 0};
  for (size_t r0 = 0; r0 < K; r0 += ch) {
    int first = r0 == 0; /* the sums start at 0: Ct is not read */
    size_t rc = K - r0 < ch ? K - r0 : ch;
    /* the last chunk's sums go to C itself, the others to Ct */
    int last = r0 + rc == K;
    /* column j's ones, in increasing row order, at list + cnt[j] + j ..
     * cnt[j + 1] + j: one spare entry after each column lets the filling
     * write every row's offset and advance only past the ones.  Counting
     * checks that the chunk is binary (C is written only in the last) */
    memset(cnt, 0, (N + 1) * sizeof *cnt);
    int bad = 0;
    for (size_t r = r0; r < r0 + rc; r++)
      for (size_t j = 0; j < N; j++) {
        double x = X[r * ldx + j];
        cnt[j + 1] += x != 0.0;
        bad |= (x != 0.0) & (x != 1.0);
      }
    if (bad) return 0;
    for (size_t j = 0; j < N; j++) cnt[j + 1] += cnt[j], pos[j] = cnt[j] + (uint32_t)j;
    for (size_t r = r0; r < r0 + rc; r++)
      for (size_t j = 0; j < N; j++) {
        list[pos[j]] = (uint32_t)(8 * (r - r0));
        pos[j] += X[r * ldx + j] != 0.0;
      }
    /* eight outputs at a time (the chunk's rows of A in those columns,
     * packed, stay in the first-level cache), four columns at once */
    size_t i0 = 0, n4 = N - N % 4;
    for (; i0 + 8 <= M; i0 += 8) {
      const double *A0 = pan;
      for (size_t r = 0; r < rc; r++)
        for (int k = 0; k < 8; k++) pan[8 * r + (size_t)k] = A[(r0 + r) * lda + i0 + (size_t)k];
      for (size_t j = 0; j < n4; j += 4) {
        const uint32_t *l[4],
            m[4] = {cnt[j + 1] - cnt[j], cnt[j + 2] - cnt[j + 1], cnt[j + 3] - cnt[j + 2], cnt[j + 4] - cnt[j + 3]};
        v4d v[8];
        for (int r = 0; r < 4; r++) {
          const double *t = Ct + (j + (size_t)r) * ldt + i0;
          l[r] = list + cnt[j + (size_t)r] + j + (size_t)r;
          v[2 * r] = first ? zero : *(const v4d *)t, v[2 * r + 1] = first ? zero : *(const v4d *)(t + 4);
        }
        sum4(A0, l, m, v);
        for (int r = 0; r < 4; r++) {
          if (!last) {
            double *t = Ct + (j + (size_t)r) * ldt + i0;
            *(v4d *)t = v[2 * r], *(v4d *)(t + 4) = v[2 * r + 1];
            continue;
          }
          double *cc = C + i0 * ldc + j + (size_t)r;
          for (size_t e = 0; e < 4; e++) cc[e * ldc] = v[2 * r][e], cc[(e + 4) * ldc] = v[2 * r + 1][e];
        }
      }
      for (size_t j = n4; j < N; j++) {
        double *t0 = Ct + j * ldt + i0;
        v4d a0 = first ? zero : *(const v4d *)t0, a1 = first ? zero : *(const v4d *)(t0 + 4);
        sum1(A0, list + cnt[j] + j, cnt[j + 1] - cnt[j], &a0, &a1);
        if (last)
          for (size_t e = 0; e < 4; e++) C[(i0 + e) * ldc + j] = a0[e], C[(i0 + 4 + e) * ldc + j] = a1[e];
        else
          *(v4d *)t0 = a0, *(v4d *)(t0 + 4) = a1;
      }
    }
    for (size_t j = 0; first && i0 < M && j < N; j++) memset(Ct + j * ldt + i0, 0, (M - i0) * sizeof *Ct);
    for (size_t j = 0; i0 < M && j < N; j++)
      for (uint32_t k = cnt[j] + (uint32_t)j; k < cnt[j + 1] + (uint32_t)j; k++)
        for (size_t i = i0; i < M; i++) Ct[j * ldt + i] += A[(r0 + list[k] / 8) * lda + i];
  }
  /* the rows of C past the last whole panel: C = Ct^T there */
  for (size_t i = M - M % 8; i < M; i++)
    for (size_t j = 0; j < N; j++) C[i * ldc + j] = Ct[j * ldt + i];
  return 1;
#endif
}

void SNN_SFX(snn_rows_sel)(size_t B, size_t M, size_t N, const relt *A, size_t lda, const relt *X, size_t ldx, relt *Y,
                           size_t ldy, const relt *sel, size_t lds, rctx *c) {
#ifndef SNN_MPFR
  (void)sel, (void)lds;
  SNN_SFX(snn_rows)(1, B, M, N, A, lda, X, ldx, 0, Y, ldy, c);
#else
  /* y_b^T = x_b^T A: the product of B x M and M x N, element by element */
  xacc x;
  int ex = xsetup(&x, 0, 0, B, N, M, X, ldx, A, lda, NULL, 0, c);
  relt *t = c->leaf;
  for (size_t b = 0; b < B; b++)
    for (size_t j = 0; j < N; j++) {
      relt *y = Y + b * ldy + j;
      if (mpfr_zero_p(sel + b * lds + j)) {
        r_zero(y, c);
        continue;
      }
      if (ex) {
        xdot(&x, b, j, M, NULL, y);
        continue;
      }
      r_zero(t, c);
      for (size_t k = 0; k < M; k++) acc_fma(t, X + b * ldx + k, A + k * lda + j, c);
      r_set(y, t, c);
    }
#endif
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
