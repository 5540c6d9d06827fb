/* fd.c - BPTT against finite differences, at the working precision.
 *
 * Each trainable scalar theta_i is moved by a relative step h (h |theta_i|,
 * at least h), and the step actually taken is recovered exactly as
 * (theta_i + h) - theta_i, so the difference quotient divides by the true
 * distance between the two evaluation points.  Central:
 *     D(h) = (E(theta + h+) - E(theta - h-)) / (h+ + h-)
 * Richardson: (4 D(h/2) - D(h)) / 3, which cancels the h^2 term. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "par/par.h"
#include "sim/driver.h"

static void eval_loss(snn_run *R, relt *out) {
  SNN_SFX(snn_net_derive)(&R->N);
  SNN_SFX(snn_forward)(&R->N, &R->tr);
  r_set(out, R->tr.loss, &R->c);
}

/* Central difference at relative step h for parameter i, into D. */
static void central(snn_run *R, size_t i, double h, relt *D, relt *save, relt *ep, relt *em, relt *hp, relt *hm) {
  rctx *c = &R->c;
  relt *th = R->N.theta + i;
  r_set(save, th, c);
  r_abs(hp, th, c);
  if (r_cmp_d(hp, 1.0) < 0) r_set_d(hp, 1.0, c);
  r_mul_d(hp, hp, h, c); /* nominal step */
  r_add(th, save, hp, c);
  r_sub(D, th, save, c); /* exact forward step */
  eval_loss(R, ep);
  r_sub(th, save, hp, c);
  r_sub(hm, save, th, c); /* exact backward step */
  eval_loss(R, em);
  r_add(hm, hm, D, c);
  r_sub(D, ep, em, c);
  r_div(D, D, hm, c);
  r_set(th, save, c);
}

typedef struct {
  real save, ep, em, hp, hm, d1, d2, a, b, cc, ng, nf;
} fdtmp;

static void tmp_init(fdtmp *t, rctx *c) {
  relt *all[] = {t->save, t->ep, t->em, t->hp, t->hm, t->d1, t->d2, t->a, t->b, t->cc, t->ng, t->nf};
  for (size_t i = 0; i < sizeof all / sizeof *all; i++) r_init(all[i], c);
}
static void tmp_clear(fdtmp *t, rctx *c) {
  relt *all[] = {t->save, t->ep, t->em, t->hp, t->hm, t->d1, t->d2, t->a, t->b, t->cc, t->ng, t->nf};
  for (size_t i = 0; i < sizeof all / sizeof *all; i++) r_clear(all[i], c);
}

/* Whether scalar j of block b is a column (the diagonal of a spiking
 * model's w_rec is held at zero). */
static int is_column(const snn_spec *s, const snn_block *bk, size_t j) {
  if (!bk->trainable) return 0;
  return !(bk->kind == SNN_BLK_W_REC && !s->layers[bk->layer].sh->selfconn &&
           (j / bk->cols) % bk->cols == j % bk->cols);
}

/* The columns of this process: its share [lo, hi) of the m columns. */
static size_t count_columns(const snn_spec *s) {
  size_t m = 0;
  for (size_t b = 0; b < s->nblk; b++)
    for (size_t j = 0; j < s->blk[b].rows * s->blk[b].cols; j++) m += is_column(s, &s->blk[b], j);
  return m;
}

/* The columns every process computed, to every process, as exact images:
 * column k of the list travels in its owner's part, in order. */
static int exchange(const snn_spec *s, const snn_group *g, relt *f, size_t m, rctx *c) {
  int R = snn_group_size(g), me = snn_group_rank(g);
  size_t one = SNN_SFX(snn_vec_pack_bytes)(1, c), lo, hi, k = 0;
  size_t *counts = malloc((size_t)R * sizeof *counts);
  unsigned char *all = malloc(m * one + 1), *mine = malloc(m * one + 1);
  int rc = counts && all && mine ? 0 : -1;
  for (int r = 0; !rc && r < R; r++) snn_share(m, r, R, &lo, &hi), counts[r] = (hi - lo) * one;
  if (!rc) snn_share(m, me, R, &lo, &hi);
  for (size_t b = 0; !rc && b < s->nblk; b++)
    for (size_t j = 0; j < s->blk[b].rows * s->blk[b].cols; j++) {
      if (!is_column(s, &s->blk[b], j)) continue;
      if (k >= lo && k < hi) SNN_SFX(snn_vec_pack)(f + s->blk[b].off + j, 1, mine + (k - lo) * one, c);
      k++;
    }
  if (!rc) rc = snn_group_allgatherv(g, mine, (hi - lo) * one, all, counts);
  k = 0;
  for (size_t b = 0; !rc && b < s->nblk; b++)
    for (size_t j = 0; j < s->blk[b].rows * s->blk[b].cols; j++)
      if (is_column(s, &s->blk[b], j)) SNN_SFX(snn_vec_unpack)(f + s->blk[b].off + j, 1, all + (k++) * one, c);
  free(counts), free(all), free(mine);
  return rc;
}

/* Finite-difference gradient of every trainable scalar into f; with a group
 * of R processes each computes every R-th share of the columns. */
static int fd_gradient(snn_run *R, int method, double h, relt *f, fdtmp *t, const snn_group *g) {
  const snn_spec *s = R->N.spec;
  rctx *c = &R->c;
  size_t m = count_columns(s), lo = 0, hi = m, k = 0;
  if (g) snn_share(m, snn_group_rank(g), snn_group_size(g), &lo, &hi);
  for (size_t i = 0; i < s->P; i++) r_zero(f + i, c);
  for (size_t b = 0; b < s->nblk; b++) {
    const snn_block *bk = &s->blk[b];
    for (size_t j = 0; j < bk->rows * bk->cols; j++) {
      size_t i = bk->off + j;
      if (!is_column(s, bk, j)) continue;
      size_t col = k++;
      if (col < lo || col >= hi) continue;
      central(R, i, h, t->d1, t->save, t->ep, t->em, t->hp, t->hm);
      if (method == SNN_FD_RICHARDSON) {
        central(R, i, h / 2, t->d2, t->save, t->ep, t->em, t->hp, t->hm);
        r_mul_d(t->d2, t->d2, 4.0, c);
        r_sub(t->d2, t->d2, t->d1, c);
        r_div_d(f + i, t->d2, 3.0, c);
      } else {
        r_set(f + i, t->d1, c);
      }
    }
  }
  SNN_SFX(snn_net_derive)(&R->N);
  return g && snn_group_size(g) > 1 ? exchange(s, g, f, m, c) : 0;
}

/* Whether the stencil of a column (the central differences reach h |d|, at
 * least h, on both sides) crosses a kink of the loss: a delay of the linear
 * kernel within a step of an integer, or of the ends of [0, max], where BPTT
 * takes the one-sided derivative of docs/delays.md and a central difference
 * averages two different ones.  Such columns are not compared. */
static int at_kink(const snn_spec *s, const snn_block *bk, double d, double h) {
  if (bk->kind != SNN_BLK_DELAY) return 0;
  const snn_layer_spec *ly = &s->layers[bk->layer];
  if (ly->dkernel != SNN_DK_LINEAR || ly->dround) return 0;
  double a = h * (fabs(d) > 1.0 ? fabs(d) : 1.0), lo = d - a, hi = d + a;
  return lo < 0 || hi > (double)ly->dmax || floor(lo) != floor(hi);
}

/* Normwise relative error ||g - f|| / ||f|| over [off, off+n), as log10. */
static double lg_relerr(const relt *g, const relt *f, size_t off, size_t n, fdtmp *t, rctx *c) {
  r_zero(t->a, c);
  r_zero(t->nf, c);
  for (size_t i = off; i < off + n; i++) {
    r_sub(t->b, g + i, f + i, c);
    r_fma(t->a, t->b, t->b, t->a, c);
    r_fma(t->nf, f + i, f + i, t->nf, c);
  }
  r_sqrt(t->a, t->a, c);
  r_sqrt(t->nf, t->nf, c);
  if (r_sgn(t->nf) == 0) return r_log10abs(t->a); /* absolute error when the reference is zero */
  r_div(t->a, t->a, t->nf, c);
  return r_log10abs(t->a);
}

static void compare_block(const snn_block *bk, const relt *g, const relt *f, snn_blockcmp *o, fdtmp *t, rctx *c) {
  size_t n = bk->rows * bk->cols, off = bk->off;
  o->present = 1;
  o->lg_rel = lg_relerr(g, f, off, n, t, c);
  o->lg_ref = r_log10abs(t->nf);
  /* worst element relative to the block's largest reference entry */
  r_zero(t->hp, c); /* max |f| */
  r_zero(t->hm, c); /* max |g - f| */
  for (size_t j = 0; j < n; j++) {
    r_abs(t->b, f + off + j, c);
    if (r_cmp(t->b, t->hp) > 0) r_set(t->hp, t->b, c);
    r_sub(t->b, g + off + j, f + off + j, c);
    r_abs(t->b, t->b, c);
    if (r_cmp(t->b, t->hm) > 0 || j == 0) {
      r_set(t->hm, t->b, c);
      o->worst_r = j / bk->cols;
      o->worst_c = j % bk->cols;
    }
  }
  if (r_sgn(t->hp) > 0) r_div(t->hm, t->hm, t->hp, c);
  o->lg_worst = r_log10abs(t->hm);
  /* cosine, and 1 - cosine at the working precision */
  r_zero(t->cc, c);
  r_zero(t->ng, c);
  r_zero(t->nf, c);
  for (size_t j = 0; j < n; j++) {
    r_fma(t->cc, g + off + j, f + off + j, t->cc, c);
    r_fma(t->ng, g + off + j, g + off + j, t->ng, c);
    r_fma(t->nf, f + off + j, f + off + j, t->nf, c);
  }
  r_mul(t->ng, t->ng, t->nf, c);
  r_sqrt(t->ng, t->ng, c);
  if (r_sgn(t->ng) == 0) {
    o->cosine = NAN;
    o->lg_1mcos = NAN;
    return;
  }
  r_div(t->cc, t->cc, t->ng, c);
  o->cosine = r_get_d(t->cc);
  r_d_sub(t->cc, 1.0, t->cc, c);
  o->lg_1mcos = r_log10abs(t->cc);
}

static int vacuity(const snn_spec *s, const snn_run *R, snn_err *err) {
  for (size_t l = 0; l < s->L; l++)
    if (R->tr.crossings[l] == 0) {
      char key[32];
      snprintf(key, sizeof key, "layers[%zu]", l);
      return snn_err_set(err, SNN_EVACUOUS, s->path, key,
                         "no unit of this layer ever crosses its threshold (u > 0) in %zu steps; a gradient check on a "
                         "silent layer would prove nothing (raise w_scale or the input rate)",
                         s->T);
    }
  return SNN_OK;
}

static int fdcheck(const snn_spec *s, const snn_data *d, long prec, const snn_fdopts *o, snn_fdreport *rep,
                   snn_err *err) {
  int st = snn_fd_allowed(s, err);
  if (st) return st;
  snn_run R;
  if ((st = SNN_SFX(snn_run_init)(&R, s, d, prec, err))) return st;
  rctx *c = &R.c;
  relt *f = vec_alloc(s->P, c);
  if (!f) {
    SNN_SFX(snn_run_clear)(&R);
    return snn_err_set(err, SNN_ENOMEM, s->path, "", "out of memory");
  }
  fdtmp t;
  tmp_init(&t, c);
  SNN_SFX(snn_forward)(&R.N, &R.tr);
  SNN_SFX(snn_bptt)(&R.N, &R.tr, R.ws, R.g);
  SNN_SFX(snn_zero_frozen)(s, R.g, c);
  for (size_t l = 0; l < s->L; l++) rep->crossings[l] = R.tr.crossings[l];
  rep->prec = prec;
#ifdef SNN_MPFR
  rep->mpfr = 1;
#endif
  int finite = r_isfinite(R.tr.loss);
  for (size_t i = 0; finite && i < s->P; i++) finite = r_isfinite(R.g + i);
  st = finite ? vacuity(s, &R, err)
              : snn_err_set(err, SNN_ENONFINITE, s->path, "",
                            "the loss or its gradient is not finite (the values overflow: check the parameters and "
                            "w_scale); nothing to compare");
  if (!st && SNN_SFX(snn_export)(R.tr.loss, 1, &rep->loss, c))
    st = snn_err_set(err, SNN_ENOMEM, "", "", "out of memory");
  if (!st) {
    rep->step = o->step > 0 ? o->step : snn_fd_auto_step(prec, o->method);
    rep->lg_tol = snn_fd_lg_tol(prec, o->method);
    if (fd_gradient(&R, o->method, rep->step, f, &t, o->group))
      st = snn_err_set(err, SNN_EIO, s->path, "",
                       "the exchange of the finite-difference columns between MPI ranks failed");
  }
  /* the columns at a kink take BPTT's value: they are counted, not compared */
  for (size_t b = 0; !st && b < s->nblk; b++) {
    const snn_block *bk = &s->blk[b];
    for (size_t j = 0; bk->trainable && j < bk->rows * bk->cols; j++)
      if (at_kink(s, bk, r_get_d(R.N.theta + bk->off + j), rep->step)) {
        r_set(f + bk->off + j, R.g + bk->off + j, c);
        rep->nkink++;
      }
  }
  if (!st) {
    rep->lg_rel_all = lg_relerr(R.g, f, 0, s->P, &t, c);
    rep->lg_ref_all = r_log10abs(t.nf);
    if (r_sgn(t.nf) == 0)
      st = snn_err_set(err, SNN_EVACUOUS, s->path, "",
                       "the finite-difference gradient is zero everywhere; a comparison "
                       "with it would prove nothing");
    rep->pass = !st && rep->lg_rel_all <= rep->lg_tol;
    for (size_t b = 0; !st && b < s->nblk; b++) {
      if (!s->blk[b].trainable) continue;
      snn_blockcmp *bc = &rep->blk[b];
      compare_block(&s->blk[b], R.g, f, bc, &t, c);
      /* a zero reference (e.g. a recurrent matrix that is only its diagonal):
         the error is absolute, judged against the whole gradient's scale */
      int zero_ref = isinf(bc->lg_ref) && bc->lg_ref < 0;
      bc->lg_tol =
          zero_ref ? rep->lg_tol + rep->lg_ref_all : snn_fd_block_lg_tol(rep->lg_tol, rep->lg_ref_all, bc->lg_ref);
      if (!zero_ref && bc->lg_tol > SNN_FD_LG_UNRESOLVED) {
        bc->verdict = SNN_BLK_UNRESOLVED;
        rep->nunresolved++;
      } else if (bc->lg_rel <= bc->lg_tol) {
        bc->verdict = SNN_BLK_OK;
      } else {
        bc->verdict = SNN_BLK_FAIL;
        rep->pass = 0;
      }
    }
  }
  tmp_clear(&t, c);
  vec_free(f, s->P, c);
  SNN_SFX(snn_run_clear)(&R);
  return st;
}

static int sweep(const snn_spec *s, const snn_data *d, long prec, const double *steps, size_t nsteps,
                 snn_sweep_row *rows, snn_err *err) {
  int st = snn_fd_allowed(s, err);
  if (st) return st;
  snn_run R;
  if ((st = SNN_SFX(snn_run_init)(&R, s, d, prec, err))) return st;
  rctx *c = &R.c;
  relt *f = vec_alloc(s->P, c);
  if (!f) {
    SNN_SFX(snn_run_clear)(&R);
    return snn_err_set(err, SNN_ENOMEM, s->path, "", "out of memory");
  }
  fdtmp t;
  tmp_init(&t, c);
  SNN_SFX(snn_forward)(&R.N, &R.tr);
  SNN_SFX(snn_bptt)(&R.N, &R.tr, R.ws, R.g);
  SNN_SFX(snn_zero_frozen)(s, R.g, c);
  st = vacuity(s, &R, err);
  for (size_t k = 0; !st && k < nsteps; k++) {
    rows[k].step = steps[k];
    (void)fd_gradient(&R, SNN_FD_CENTRAL, steps[k], f, &t, NULL);
    rows[k].lg_rel_central = lg_relerr(R.g, f, 0, s->P, &t, c);
    (void)fd_gradient(&R, SNN_FD_RICHARDSON, steps[k], f, &t, NULL);
    rows[k].lg_rel_richardson = lg_relerr(R.g, f, 0, s->P, &t, c);
  }
  tmp_clear(&t, c);
  vec_free(f, s->P, c);
  SNN_SFX(snn_run_clear)(&R);
  return st;
}

/* Both gradients parsed at the working precision, then compared. */
static int compare(const snn_spec *s, long prec, const snn_result *ref, const snn_result *x, snn_blockcmp *out,
                   snn_blockcmp *all) {
  rctx c;
  if (SNN_SFX(snn_rctx_init)(&c, prec)) return SNN_EVALUE;
  relt *f = vec_alloc(s->P, &c), *g = vec_alloc(s->P, &c);
  if (!f || !g) {
    vec_free(f, s->P, &c);
    vec_free(g, s->P, &c);
    SNN_SFX(snn_rctx_clear)(&c);
    return SNN_ENOMEM;
  }
  for (size_t i = 0; i < s->P; i++) {
    if (!(ref->grad.s && ref->grad.s[i] && r_set_str(f + i, ref->grad.s[i], &c) == 0))
      r_set_d(f + i, ref->grad.v[i], &c);
    if (!(x->grad.s && x->grad.s[i] && r_set_str(g + i, x->grad.s[i], &c) == 0)) r_set_d(g + i, x->grad.v[i], &c);
  }
  fdtmp t;
  tmp_init(&t, &c);
  for (size_t b = 0; b < s->nblk; b++) {
    memset(&out[b], 0, sizeof out[b]);
    if (s->blk[b].trainable) compare_block(&s->blk[b], g, f, &out[b], &t, &c);
  }
  /* all trainable parameters as one block (frozen entries are 0 in both) */
  snn_block whole = {.rows = s->P, .cols = 1, .off = 0};
  compare_block(&whole, g, f, all, &t, &c);
  tmp_clear(&t, &c);
  vec_free(f, s->P, &c);
  vec_free(g, s->P, &c);
  SNN_SFX(snn_rctx_clear)(&c);
  return SNN_OK;
}

#ifdef SNN_MPFR
const snn_engine snn_engine_mpfr = {"mpfr",       snn_grad_mp, fdcheck,      sweep,
                                    snn_bench_mp, compare,     snn_trace_mp, snn_explain_mp};
#else
const snn_engine snn_engine_double = {"double",    snn_grad_d, fdcheck,     sweep,
                                      snn_bench_d, compare,    snn_trace_d, snn_explain_d};
#endif
