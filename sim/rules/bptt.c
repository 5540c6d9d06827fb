/* bptt.c - backpropagation through time, exact, on a stored trajectory.
 *
 * With F the cell update s^t = F(s^{t-1}, z^{t-1}, I^t; p), U the distance to
 * threshold, z^t = spike(U(s^t)) and I^t = W_in x^t + W_rec z^{t-1}, the
 * total derivatives are, walking t = T..1 (quantities at T+1 are zero):
 *
 *   dE/dz^t = D^t                                   (readout, layer above, rate)
 *           + W_rec^T dE/dI^{t+1}                    (unless gradient.recurrent=detach)
 *           + sum_c dE/ds_c^{t+1} (dF_c/dz_loc + dF_c/dz_reset)   (reset part
 *                                                    dropped with gradient.reset=detach)
 *   dE/du^t = psi^t dE/dz^t
 *   dE/ds^t = dU/ds dE/du^t + (dF^{t+1}/ds^t)^T dE/ds^{t+1}
 *   dE/dI^t = (dF^t/dI)^T dE/ds^t
 *   dE/dp  += (dF^t/dp)^T dE/ds^t + dU/dp dE/du^t
 *
 * and then dE/dW_in = sum_t dE/dI^t x^t^T, dE/dW_rec = sum_t dE/dI^t z^{t-1}^T,
 * the layer below receiving D^t = W_in^T dE/dI^t.  Layers are processed top
 * down, each over all steps, so the projections are matrix products over time.
 * Nothing is allocated once the workspace exists. */
#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sim/jac.h"
#include "sim/net.h"
#include "sim/rules/rules.h"

struct SNN_SFX(snn_bptt_ws) {
  size_t nmax;
  int kmax, pmax, mmax;
  relt **D;        /* per layer: (T+1) * n, external dE/dz */
  relt *dI;        /* (T+2) * mmax * nmax: dE/dI_q^t, current-major per row */
  relt *ds, *dsn;  /* nmax * kmax */
  relt *dsx, *dzx; /* nmax * kmax, nmax: what the mixes of step t+1 send to s^t and z^t */
  relt *mt;        /* Bcap nmax: a mix source's W^T dE/dJ for the batch */
  relt *rec;       /* nmax */
  relt *dy;        /* (T+2) * n_out */
  relt *V;         /* T * nmax, with mixes: a mix source over the rows */
  size_t nV;
  relt *dP; /* (T+2) * Bcap * bnmax, with batch_norm: dE/d(projection) before normalisation */
  size_t nP;
  relt *gw;  /* P, in a workspace for segments shorter than the sequence: one segment's gradient */
  void *evs; /* double, with a recurrent layer: snn_gemm_tn_bin's scratch for the largest */
  jacbuf J[2];
  real dz, du, acc, sv;
  relt *lsig;  /* optional, (T+1) * n of layer 0: see snn_bptt_signal */
  relt *dIcap; /* optional, T+1: dE/dI of one current of one unit (explain) */
  size_t cap_l, cap_q, cap_i;
  relt *rsig; /* per sequence and hidden unit: the rate regulariser's dE/dz */
  size_t H;
  size_t cap;  /* longest segment the buffers hold */
  size_t bcap; /* sequences per step they hold (the network's Bcap); every
                * per-step array above is that many rows of one sequence's */
  size_t bytes;
};
typedef SNN_SFX(snn_bptt_ws) bws;

bws *SNN_SFX(snn_bptt_ws_alloc)(const net *N) {
  return SNN_SFX(snn_bptt_ws_alloc_len)(N, N->spec->T);
}

bws *SNN_SFX(snn_bptt_ws_alloc_len)(const net *N, size_t len) {
  const snn_spec *s = N->spec;
  rctx *c = N->c;
  bws *w = calloc(1, sizeof *w);
  if (!w) return NULL;
  for (size_t l = 0; l < s->L; l++) {
    const lay *L = &N->layers[l];
    if (L->n > w->nmax) w->nmax = L->n;
    if (L->k > w->kmax) w->kmax = L->k;
    if (L->np > w->pmax) w->pmax = L->np;
    if (L->m > w->mmax) w->mmax = L->m;
  }
  size_t T = len, rb = SNN_SFX(snn_real_bytes)(c), Bc = N->Bcap;
  w->cap = len;
  w->bcap = Bc;
  r_init(w->dz, c);
  r_init(w->du, c);
  r_init(w->acc, c);
  r_init(w->sv, c);
  w->D = calloc(s->L, sizeof *w->D);
  if (!w->D) goto oom;
  for (size_t l = 0; l < s->L; l++) {
    w->D[l] = vec_alloc((T + 1) * Bc * N->layers[l].n, c);
    if (!w->D[l]) goto oom;
    w->bytes += rb * (T + 1) * Bc * N->layers[l].n;
  }
  size_t mm = (size_t)w->mmax, bn = Bc * w->nmax;
  w->dI = vec_alloc((T + 2) * mm * bn, c);
  w->ds = vec_alloc(bn * (size_t)w->kmax, c);
  w->dsn = vec_alloc(bn * (size_t)w->kmax, c);
  w->dsx = vec_alloc(bn * (size_t)w->kmax, c);
  w->dzx = vec_alloc(bn, c);
  w->mt = vec_alloc(bn, c);
  w->rec = vec_alloc(bn, c);
  w->dy = vec_alloc((T + 2) * Bc * s->n_out, c);
  w->H = SNN_SFX(snn_nhidden)(s);
  w->rsig = vec_alloc(Bc * w->H, c);
  int mixes = 0;
  for (size_t l = 0; l < s->L; l++) mixes |= N->layers[l].sh->nmix > 0;
  w->nV = mixes ? T * bn : 0;
  w->V = w->nV ? vec_alloc(w->nV, c) : NULL;
  w->bytes += rb * w->nV;
  w->nP = N->bnmax ? (T + 2) * Bc * N->bnmax : 0;
  w->dP = w->nP ? vec_alloc(w->nP, c) : NULL;
  w->bytes += rb * w->nP;
  if (len < s->T) {
    w->gw = vec_alloc(s->P, c);
    if (!w->gw) goto oom;
    w->bytes += rb * s->P;
  }
  size_t ev = 0;
  for (size_t l = 0; l < s->L; l++)
    if (N->layers[l].w_rec) {
      size_t e = SNN_SFX(snn_gemm_tn_bin_scratch)(N->layers[l].n, N->layers[l].n, T * Bc);
      if (e > ev) ev = e;
    }
  if (ev) {
    ev = (ev + 63) / 64 * 64;
    if (!(w->evs = aligned_alloc(64, ev))) goto oom;
    w->bytes += ev;
  }
  if (!w->dI || !w->ds || !w->dsn || !w->dsx || !w->dzx || !w->mt || !w->rec || !w->dy || !w->rsig ||
      (w->nV && !w->V) || (w->nP && !w->dP))
    goto oom;
  for (int j = 0; j < 2; j++)
    if (SNN_SFX(snn_jac_init)(&w->J[j], bn, w->kmax, w->mmax, w->pmax, c)) goto oom;
  w->bytes += sizeof *w + rb * ((T + 2) * Bc * (mm * w->nmax + s->n_out) + bn * (3 * (size_t)w->kmax + 2) + bn +
                                2 * SNN_SFX(snn_jac_count)(bn, w->kmax, w->mmax, w->pmax) + 3 + Bc * w->H);
  return w;
oom:
  SNN_SFX(snn_bptt_ws_free)(w, N);
  return NULL;
}

void SNN_SFX(snn_bptt_ws_free)(bws *w, const net *N) {
  if (!w) return;
  const snn_spec *s = N->spec;
  rctx *c = N->c;
  size_t T = w->cap, Bc = w->bcap, bn = Bc * w->nmax;
  if (w->D)
    for (size_t l = 0; l < s->L; l++) vec_free(w->D[l], (T + 1) * Bc * N->layers[l].n, c);
  free(w->D);
  free(w->evs);
  vec_free(w->dI, (T + 2) * (size_t)w->mmax * bn, c);
  vec_free(w->ds, bn * (size_t)w->kmax, c);
  vec_free(w->dsn, bn * (size_t)w->kmax, c);
  vec_free(w->dsx, bn * (size_t)w->kmax, c);
  vec_free(w->dzx, bn, c);
  vec_free(w->mt, bn, c);
  vec_free(w->rec, bn, c);
  vec_free(w->dy, (T + 2) * Bc * s->n_out, c);
  vec_free(w->V, w->nV, c);
  vec_free(w->dP, w->nP, c);
  if (T < s->T) vec_free(w->gw, s->P, c);
  vec_free(w->rsig, Bc * w->H, c);
  for (int j = 0; j < 2; j++)
    if (w->J[j].psi) SNN_SFX(snn_jac_clear)(&w->J[j], bn, w->kmax, w->mmax, w->pmax, c);
  r_clear(w->dz, c);
  r_clear(w->du, c);
  r_clear(w->acc, c);
  r_clear(w->sv, c);
  free(w);
}

size_t SNN_SFX(snn_bptt_ws_bytes)(const bws *w) {
  return w->bytes;
}

relt *SNN_SFX(snn_bptt_ws_gseg)(bws *w) {
  return w->gw;
}

void SNN_SFX(snn_bptt_capture_dI)(bws *w, size_t l, size_t q, size_t i, relt *cap) {
  w->dIcap = cap, w->cap_l = l, w->cap_q = q, w->cap_i = i;
}

void SNN_SFX(snn_bptt_capture_signal)(bws *w, relt *lsig) {
  w->lsig = lsig;
}

/* Step t of BPTT for the units of one sequence: dE/dz, dE/du, dE/ds and
 * dE/dI of every unit, and the neuron-constant gradients.  Inlined with the
 * state, current and constant counts as constants for the common shapes, so
 * that the compiler unrolls the loops over them. */
static inline __attribute__((always_inline)) void units_back(bws *w, size_t n, size_t k, size_t m, size_t np, int later,
                                                             int keep_rec, int keep_reset, relt *lsig, const relt *Dt,
                                                             const relt *rec, const relt *dzx, const relt *dsn,
                                                             const relt *dsx, relt *dsb, relt *dIt, const jacbuf *Jcp,
                                                             const jacbuf *Jnp, relt *const *gp, rctx *c) {
  const jacbuf Jc = *Jcp, Jn = *Jnp;
  (void)w; /* its scalars serve MPFR only */
  for (size_t i = 0; i < n; i++) {
    R_LOCAL(dz, w->dz);
    R_LOCAL(du, w->du);
    R_LOCAL(acc, w->acc);
    R_LOCAL(ds, w->sv);
    r_set(dz, Dt + i, c);
    if (keep_rec && later) r_add(dz, dz, rec + i, c);
    if (later && keep_reset) {
      for (size_t cc = 0; cc < k; cc++) r_fma(dz, dsn + i * k + cc, Jn.dF_dzr + i * k + cc, dz, c);
      r_add(dz, dz, dzx + i, c);
    }
    /* e-prop's ideal learning signal: dE/dz^t without the local path */
    if (lsig) r_set(lsig + i, dz, c);
    if (later)
      for (size_t cc = 0; cc < k; cc++) r_fma(dz, dsn + i * k + cc, Jn.dF_dzl + i * k + cc, dz, c);
    r_mul(du, Jc.psi + i, dz, c);
    for (size_t q = 0; q < m; q++) r_zero(dIt + q * n + i, c);
    for (size_t cc = 0; cc < k; cc++) {
      r_mul(ds, Jc.dU_ds + i * k + cc, du, c);
      if (later) {
        for (size_t c2 = 0; c2 < k; c2++) r_fma(ds, Jn.dF_ds + (i * k + c2) * k + cc, dsn + i * k + c2, ds, c);
        r_add(ds, ds, dsx + i * k + cc, c);
      }
      r_set(dsb + i * k + cc, ds, c);
      for (size_t q = 0; q < m; q++) r_fma(dIt + q * n + i, Jc.dF_dI + (i * k + cc) * m + q, ds, dIt + q * n + i, c);
    }
    for (size_t p = 0; p < np; p++) {
      r_mul(acc, Jc.dU_dp + i * np + p, du, c);
      for (size_t cc = 0; cc < k; cc++) r_fma(acc, Jc.dF_dp + (i * k + cc) * np + p, dsb + i * k + cc, acc, c);
      r_add(gp[p] + i, gp[p] + i, acc, c);
    }
  }
}

/* units_back for one component, one current and two constants (lif), in
 * the common case (a later step, recurrence and reset kept, no signal
 * recorded): the same operations in the same order, written over restrict
 * pointers so that the double build vectorises the loop. */
SNN_FMA_CLONES static void units_back_lif(size_t n, const relt *restrict Dt, const relt *restrict rec,
                                          const relt *restrict dzx, const relt *restrict dsn, const relt *restrict dsx,
                                          relt *restrict dsb, relt *restrict dIt, const jacbuf *Jcp, const jacbuf *Jnp,
                                          relt *const *gp, bws *w, rctx *c) {
  (void)w;
  const relt *restrict fzr = Jnp->dF_dzr, *restrict fzl = Jnp->dF_dzl, *restrict fs = Jnp->dF_ds;
  const relt *restrict psi = Jcp->psi, *restrict us = Jcp->dU_ds, *restrict fi = Jcp->dF_dI;
  const relt *restrict up = Jcp->dU_dp, *restrict fp = Jcp->dF_dp;
  relt *restrict g0 = gp[0], *restrict g1 = gp[1];
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC ivdep /* (the arrays are distinct: restrict alone does not convince gcc 12) */
#endif
  for (size_t i = 0; i < n; i++) {
    R_LOCAL(dz, w->dz);
    R_LOCAL(du, w->du);
    R_LOCAL(acc, w->acc);
    R_LOCAL(ds, w->sv);
    r_add(dz, Dt + i, rec + i, c);
    r_fma(dz, dsn + i, fzr + i, dz, c);
    r_add(dz, dz, dzx + i, c);
    r_fma(dz, dsn + i, fzl + i, dz, c);
    r_mul(du, psi + i, dz, c);
    r_zero(dIt + i, c);
    r_mul(ds, us + i, du, c);
    r_fma(ds, fs + i, dsn + i, ds, c);
    r_add(ds, ds, dsx + i, c);
    r_set(dsb + i, ds, c);
    r_fma(dIt + i, fi + i, ds, dIt + i, c);
    r_mul(acc, up + 2 * i, du, c);
    r_fma(acc, fp + 2 * i, dsb + i, acc, c);
    r_add(g0 + i, g0 + i, acc, c);
    r_mul(acc, up + 2 * i + 1, du, c);
    r_fma(acc, fp + 2 * i + 1, dsb + i, acc, c);
    r_add(g1 + i, g1 + i, acc, c);
  }
}

/* Batch normalisation at step t, backward (docs/batchnorm.md): from
 * g = dE/dI^t (the normalised projections enter the currents unchanged) to
 * dE/dP^t before normalisation, B rows of F features into dP; gamma's and
 * beta's gradients; with the batch's statistics, the mean and variance's
 * paths, and the step's statistics (times B: the shard's share of the
 * minibatch's) into the running statistics' entries of grad for training
 * (docs/training.md). */
SNN_FMA_CLONES static void bn_back_side(const net *N, const SNN_SFX(snn_bnview) * q, const relt *rec, size_t trow,
                                        const relt *g, size_t ldg, size_t n, const int *cur, relt *dP, size_t ldp,
                                        relt *grad) {
  const snn_spec *s = N->spec;
  rctx *c = N->c;
  size_t B = N->B, F = q->F, f0 = q->f0, FF = q->FF;
  relt *d = c->cell[3];
  /* per feature: the sums of g and of g xh over the rows, and gamma inv (in
   * the network's record scratch, which BPTT's records in the trajectory
   * leave free); row by row over contiguous features, each feature's sums
   * in row order */
  relt *sg = N->bnrec, *sx = N->bnrec + F, *a = N->bnrec + 2 * F;
  relt *gg = grad + s->blk[q->blk[0]].off, *gb = grad + s->blk[q->blk[1]].off;
  const relt *inv = rec + f0, *mean = rec + FF + f0, *var = rec + 2 * FF + f0, *xh = rec + 3 * FF + f0;
  SNN_SFX(snn_vzero)(2 * F, sg, c);
  for (size_t b = 0; b < B; b++)
    for (size_t f0r = 0; f0r < F; f0r += n) { /* one current's n features: g's columns are contiguous */
      const relt *gr = g + b * ldg + (size_t)cur[f0r / n] * n, *xr = xh + b * FF + f0r;
      for (size_t i = 0; i < n; i++) {
        r_add(sg + f0r + i, sg + f0r + i, gr + i, c);
        r_fma(sx + f0r + i, gr + i, xr + i, sx + f0r + i, c);
      }
    }
  for (size_t f = 0; f < F; f++) {
    r_add(gg + f, gg + f, sx + f, c);
    r_add(gb + f, gb + f, sg + f, c);
    r_mul(a + f, q->g + f, inv + f, c); /* gamma / sqrt(var + eps) */
    if (N->bn_train) {
      r_div_d(sg + f, sg + f, (double)B, c);
      r_div_d(sx + f, sx + f, (double)B, c);
    }
  }
  for (size_t b = 0; b < B; b++)
    for (size_t f0r = 0; f0r < F; f0r += n) {
      const relt *gr = g + b * ldg + (size_t)cur[f0r / n] * n, *xr = xh + b * FF + f0r;
      relt *o = dP + b * ldp + f0 + f0r;
      const relt *ar = a + f0r, *sgr = sg + f0r, *sxr = sx + f0r;
      if (N->bn_train) /* gamma inv (g - mean(g) - xh mean(g xh)) */
        for (size_t i = 0; i < n; i++) {
          r_mul(d, xr + i, sxr + i, c);
          r_sub(d, gr + i, d, c);
          r_sub(d, d, sgr + i, c);
          r_mul(o + i, ar + i, d, c);
        }
      else
        for (size_t i = 0; i < n; i++) r_mul(o + i, ar + i, gr + i, c);
    }
  if (N->bn_train) {
    relt *gm = grad + s->blk[q->blk[2]].off + trow * F, *gv = grad + s->blk[q->blk[3]].off + trow * F;
    for (size_t f = 0; f < F; f++) {
      r_mul_d(gm + f, mean + f, (double)B, c);
      r_mul_d(gv + f, var + f, (double)B, c);
    }
  }
}

/* A layer's two sides at step t: g = dE/dI^t (B rows of m n) to dP (B rows
 * of the layer's FF features). */
static void bn_backward(const net *N, const lay *L, const relt *rec, size_t trow, const relt *g, relt *dP, relt *grad) {
  for (int side = 0; side < 2; side++)
    if (L->bs[side].F)
      bn_back_side(N, &L->bs[side], rec, trow, g, L->n * (size_t)L->m, L->n, side ? L->sh->rec_cur : L->sh->in_cur, dP,
                   L->bs[side].FF, grad);
}

/* One layer over all steps, for the B sequences of the batch; leaves
 * dE/dI_q^t in rows 1..T of w->dI (B rows of m n per step, current-major)
 * and adds the neuron-constant gradients into grad. */
SNN_FMA_CLONES static void layer_backward(const net *N, const traj *tr, size_t l, bws *w, relt *grad, size_t window) {
  const snn_spec *s = N->spec;
  const lay *L = &N->layers[l];
  const snn_layer_spec *ls = L->ls;
  const snn_model_shape *sh = L->sh;
  rctx *c = N->c;
  size_t B = N->B, n = L->n, k = (size_t)L->k, np = (size_t)L->np, m = (size_t)L->m, T = tr->T, mn = m * n;
  size_t Bn = B * n, Bmn = B * mn;
  relt *D = w->D[l], *dI = w->dI;
  relt *gp[SNN_MAXCONST];
  jacbuf Jc, Jn;
  for (size_t p = 0; p < np; p++) gp[p] = grad + s->blk[ls->blk_const[p]].off;
  SNN_SFX(snn_vzero)(Bmn, dI + (T + 1) * Bmn, c);
  SNN_SFX(snn_vzero)(Bn * k, w->dsx, c);
  SNN_SFX(snn_vzero)(Bn, w->dzx, c);
  size_t FF = L->bs[0].FF, BF = B * FF;
  if (L->bn) SNN_SFX(snn_vzero)(BF, w->dP + (T + 1) * BF, c);
  int keep_reset = !s->detach_reset, keep_rec = !s->detach_rec && L->w_rec;
  /* a cell with split Jacobians: the fixed part once per call in both
   * buffers (the parameters do not change during it), the step's part below */
  for (int j = 0; j < 2; j++) SNN_SFX(snn_jac_fix)(L, &w->J[j], B, c);
  for (size_t t = T; t >= 1; t--) {
    const jacbuf *Jct = &w->J[t & 1], *Jnt = &w->J[(t + 1) & 1];
    /* step t+1 depends on step t unless t+1 starts a truncation window */
    int later = t < T && !(window && t % window == 0);
    /* dE/dz^t reaches nothing but du = psi^t dz (and the ideal signal, when
     * recorded), so with one recurrent current the signal back through
     * W_rec is needed only where psi^t is not 0: MPFR computes only those
     * entries (snn_rows_sel), after the Jacobians of every row (double
     * makes every entry with BLAS, and keeps its order) */
#ifdef SNN_MPFR
    int sel = keep_rec && later && sh->nrec == 1 && !(w->lsig && l == 0);
#else
    int sel = 0;
#endif
    for (size_t b = 0; sel && b < B; b++) {
      size_t r0 = (t - 1) * B + b, r1 = t * B + b;
      SNN_SFX(snn_jac_row)(L, Jct, b, &Jc);
      SNN_SFX(snn_jac_step)
      (L, tr->s[l] + r0 * n * k, tr->z[l] + r0 * n, tr->I[l] + r1 * mn, tr->s[l] + r1 * n * k, tr->u[l] + r1 * n,
       tr->z[l] + r1 * n, &Jc, c);
    }
    if (keep_rec && later)
      for (int r = 0; r < sh->nrec; r++) {
        const relt *g = L->bn ? w->dP + (t + 1) * BF + L->bs[1].f0 + (size_t)r * n
                              : dI + (t + 1) * Bmn + (size_t)sh->rec_cur[r] * n;
        if (sel)
          SNN_SFX(snn_rows_sel)(B, n, n, L->w_rec, n, g, L->bn ? FF : mn, w->rec, n, Jct->psi, n, c);
        else
          SNN_SFX(snn_rows)(1, B, n, n, L->w_rec + (size_t)r * n * n, n, g, L->bn ? FF : mn, r > 0, w->rec, n, c);
      }
    /* without that, a row's Jacobians are made right before they are used
     * (in cache) */
    for (size_t b = 0; b < B; b++) {
      size_t r0 = (t - 1) * B + b, r1 = t * B + b;
      relt *dIt = dI + t * Bmn + b * mn;
      const relt *Dt = D + t * Bn + b * n, *rec = w->rec + b * n, *dzx = w->dzx + b * n;
      const relt *dsn = w->dsn + b * n * k, *dsx = w->dsx + b * n * k;
      relt *dsb = w->ds + b * n * k;
      SNN_SFX(snn_jac_row)(L, Jct, b, &Jc);
      if (!sel) SNN_SFX(snn_jac_step)
      (L, tr->s[l] + r0 * n * k, tr->z[l] + r0 * n, tr->I[l] + r1 * mn, tr->s[l] + r1 * n * k, tr->u[l] + r1 * n,
       tr->z[l] + r1 * n, &Jc, c);
      SNN_SFX(snn_jac_row)(L, Jnt, b, &Jn);
      relt *lsig = w->lsig && l == 0 ? w->lsig + t * Bn + b * n : NULL;
      if (k == 1 && m == 1 && np == 2 && later && keep_rec && keep_reset && !lsig)
        units_back_lif(n, Dt, rec, dzx, dsn, dsx, dsb, dIt, &Jc, &Jn, gp, w, c);
      else if (k == 1 && m == 1 && np == 2)
        units_back(w, n, 1, 1, 2, later, keep_rec, keep_reset, lsig, Dt, rec, dzx, dsn, dsx, dsb, dIt, &Jc, &Jn, gp, c);
      else if (k == 2 && m == 1)
        units_back(w, n, 2, 1, np, later, keep_rec, keep_reset, lsig, Dt, rec, dzx, dsn, dsx, dsb, dIt, &Jc, &Jn, gp,
                   c);
      else
        units_back(w, n, k, m, np, later, keep_rec, keep_reset, lsig, Dt, rec, dzx, dsn, dsx, dsb, dIt, &Jc, &Jn, gp,
                   c);
    }
    /* the mixes of step t, last first: a current source receives W^T dE/dJ
     * now, a state source at step t-1 (through dsx, and dzx for the reset) */
    SNN_SFX(snn_vzero)(Bn * k, w->dsx, c);
    SNN_SFX(snn_vzero)(Bn, w->dzx, c);
    /* each mix source's W^T dE/dJ for the B sequences in one product */
    for (int mx = sh->nmix; mx-- > 0;) {
      const snn_mix_shape *ms = &sh->mix[mx];
      size_t ld = (size_t)ms->nsrc * n;
      for (int sr = 0; sr < ms->nsrc; sr++) {
        const relt *Wm = L->mix[mx] + (size_t)sr * n, *g = dI + t * Bmn + (size_t)ms->dst * n;
        size_t ci = (size_t)ms->idx[sr];
        if (ms->kind[sr] == SNN_SRC_CUR) {
          SNN_SFX(snn_rows)(1, B, n, n, Wm, ld, g, mn, 1, dI + t * Bmn + ci * n, mn, c);
          continue;
        }
        SNN_SFX(snn_rows)(1, B, n, n, Wm, ld, g, mn, 0, w->mt, n, c);
        for (size_t b = 0; b < B; b++) {
          relt *dsx = w->dsx + b * n * k, *dzx = w->dzx + b * n;
          const relt *sp = tr->s[l] + ((t - 1) * B + b) * n * k, *zp = tr->z[l] + ((t - 1) * B + b) * n;
          const relt *mt = w->mt + b * n;
          for (size_t j = 0; j < n; j++) {
            if (ms->kind[sr] == SNN_SRC_STATE) {
              r_add(dsx + j * k + ci, dsx + j * k + ci, mt + j, c);
              continue;
            }
            relt *a = c->leaf; /* (1 - z^{t-1}) s^{t-1}: to s and, as a reset path, to z */
            r_d_sub(a, 1.0, zp + j, c);
            r_fma(dsx + j * k + ci, a, mt + j, dsx + j * k + ci, c);
            r_mul(a, sp + j * k + ci, mt + j, c);
            r_sub(dzx + j, dzx + j, a, c);
          }
        }
      }
    }
    /* dE/dI^t is complete: through the normalisation to the projections */
    if (L->bn)
      bn_backward(N, L, tr->bn[l] + t * SNN_SFX(snn_bn_rec)(FF, tr->bcap), tr->t0 + t - 1, dI + t * Bmn, w->dP + t * BF,
                  grad);
    relt *sw = w->ds;
    w->ds = w->dsn;
    w->dsn = sw;
  }
}

/* The parameter gradients of layer l's projections from dE/dI (rows 1..T,
 * B sequences each: the products run over the B T rows) and dE/dz of the
 * layer below (unless `down` is 0). */
SNN_FMA_CLONES static void layer_params(const net *N, const traj *tr, size_t l, bws *w, relt *grad, size_t window,
                                        int down) {
  const snn_spec *s = N->spec;
  const lay *L = &N->layers[l];
  const snn_layer_spec *ls = L->ls;
  const snn_model_shape *sh = L->sh;
  rctx *c = N->c;
  size_t B = N->B, n = L->n, k = (size_t)L->k, m = (size_t)L->m, T = tr->T, mn = m * n, np = L->nprev;
  size_t TB = T * B, Bmn = B * mn;
  const relt *dI1 = w->dI + Bmn;
  const relt *X = l == 0 ? N->x + tr->t0 * B * s->n_in : tr->z[l - 1] + B * np;
  if (w->dIcap && l == w->cap_l) /* the first sequence's */
    for (size_t t = 1; t <= T; t++) r_set(w->dIcap + t, w->dI + t * Bmn + w->cap_q * n + w->cap_i, c);
  relt *gin = grad + s->blk[ls->blk_w_in].off;
  /* the projections' dE/dP: dE/dI, or with batch_norm the normalisation's */
  size_t FF = L->bs[0].FF, ldg = L->bn ? FF : mn;
  const relt *G1 = L->bn ? w->dP + B * FF : dI1;
  if (!L->ndl) {
    for (int r = 0; r < sh->nin; r++) {
      const relt *g = G1 + (L->bn ? (size_t)r * n : (size_t)sh->in_cur[r] * n);
      SNN_SFX(snn_gemm)(1, 0, n, np, TB, g, ldg, X, np, 0, gin + (size_t)r * n * np, np, c);
      if (down)
        SNN_SFX(snn_gemm)(0, 0, TB, np, n, g, ldg, L->w_in + (size_t)r * n * np, np, 1, w->D[l - 1] + B * np, np, c);
    }
  } else {
    /* delayed synapses: W_ij and D_ij from the delayed inputs; dE/dx^{t-d}
     * to the layer below inside the same window and segment */
    relt *gd = grad + s->blk[ls->blk_delay].off, *a = w->acc, *bb = w->du;
    size_t nh = (L->ndl - 1) * np;
    SNN_SFX(snn_vzero)((size_t)sh->nin * n * np, gin, c);
    for (size_t t = 1; t <= T; t++)
      for (size_t b = 0; b < B; b++) {
        size_t r1 = t * B + b;
        const relt *xt = l == 0 ? N->x + ((tr->t0 + t - 1) * B + b) * s->n_in : tr->z[l - 1] + r1 * np;
        const relt *hp = tr->h[l] + ((t - 1) * B + b) * nh;
        for (int r = 0; r < sh->nin; r++)
          for (size_t i = 0; i < n; i++) {
            const relt *g =
                L->bn ? w->dP + r1 * FF + (size_t)r * n + i : w->dI + r1 * mn + (size_t)sh->in_cur[r] * n + i;
            if (r_sgn(g) == 0) continue;
            size_t row = (size_t)r * n + i;
            for (size_t j = 0; j < np; j++) {
              const relt *wij = L->w_in + row * np + j;
              SNN_SFX(snn_delayed)(L, row, j, xt, hp, 0, a, c);
              r_fma(gin + row * np + j, g, a, gin + row * np + j, c);
              SNN_SFX(snn_delayed)(L, row, j, xt, hp, 1, a, c);
              r_mul(a, a, wij, c);
              r_fma(gd + row * np + j, g, a, gd + row * np + j, c);
              if (!down) continue;
              r_mul(bb, g, wij, c);
              const relt *kw = L->kw + (row * np + j) * L->ndl;
              for (size_t d = 0; d < L->ndl && d < t; d++) {
                if (window && (t - d - 1) / window != (t - 1) / window) break;
                relt *D = w->D[l - 1] + ((t - d) * B + b) * np + j;
                r_fma(D, bb, kw + d, D, c);
              }
            }
          }
      }
  }
  if (L->w_rec) {
    relt *g = grad + s->blk[ls->blk_w_rec].off;
    for (int r = 0; r < sh->nrec; r++) {
      relt *gr = g + (size_t)r * n * n;
      const relt *gsrc = L->bn ? G1 + L->bs[1].f0 + (size_t)r * n : dI1 + (size_t)sh->rec_cur[r] * n;
      if (!(w->evs && SNN_SFX(snn_gemm_tn_bin)(n, n, TB, gsrc, ldg, tr->z[l], n, gr, n, w->evs, c)))
        SNN_SFX(snn_gemm)(1, 0, n, n, TB, gsrc, ldg, tr->z[l], n, 0, gr, n, c);
      if (!sh->selfconn)
        for (size_t i = 0; i < n; i++) r_zero(gr + i * n + i, c); /* no self-connections */
    }
  }
  if (L->bias) {
    relt *g = grad + s->blk[ls->blk_bias].off;
    SNN_SFX(snn_vzero)(mn, g, c);
    for (size_t r = B; r < TB + B; r++) SNN_SFX(snn_vadd)(mn, w->dI + r * mn, g, c); /* rows 1..T */
  }
  if (L->bias_rec) { /* the recurrent currents' */
    relt *g = grad + s->blk[ls->blk_bias_rec].off;
    SNN_SFX(snn_vzero)((size_t)sh->nrec * n, g, c);
    for (size_t r = B; r < TB + B; r++)
      for (int q = 0; q < sh->nrec; q++)
        SNN_SFX(snn_vadd)(n, w->dI + r * mn + (size_t)sh->rec_cur[q] * n, g + (size_t)q * n, c);
  }
  /* a mix's gradient, per source: dE/dJ^T V over the B T rows, V the
   * source's values gathered row by row */
  for (int mx = 0; mx < sh->nmix; mx++) {
    const snn_mix_shape *ms = &sh->mix[mx];
    size_t ld = (size_t)ms->nsrc * n;
    relt *g = grad + s->blk[ls->blk_mix[mx]].off;
    for (int sr = 0; sr < ms->nsrc; sr++) {
      for (size_t t = 1; t <= T; t++)
        for (size_t b = 0; b < B; b++) {
          size_t r0 = (t - 1) * B + b, r1 = t * B + b;
          const relt *It = tr->I[l] + r1 * mn, *sp = tr->s[l] + r0 * n * k, *zp = tr->z[l] + r0 * n;
          relt *v = w->V + r0 * n;
          for (size_t j = 0; j < n; j++) {
            const relt *p = SNN_SFX(snn_mix_src)(L, mx, sr, j, It, sp, zp, v + j, c);
            if (p != v + j) r_set(v + j, p, c);
          }
        }
      SNN_SFX(snn_gemm)(1, 0, n, n, TB, dI1 + (size_t)ms->dst * n, mn, w->V, n, 0, g + (size_t)sr * n, ld, c);
    }
  }
}

void SNN_SFX(snn_bptt)(const net *N, const traj *tr, bws *w, relt *grad) {
  SNN_SFX(snn_bptt_window)(N, tr, w, grad, 0);
}

void SNN_SFX(snn_bptt_window)(const net *N, const traj *tr, bws *w, relt *grad, size_t window) {
  SNN_SFX(snn_bptt_opts) o = {window, 0, NULL, NULL};
  SNN_SFX(snn_bptt_full)(N, tr, w, grad, &o);
}

/* dE/dy^t = g^t + kappa dE/dy^{t+1} for the B sequences, rows 1..T of dy,
 * restarted at window starts (with window > 0). */
static void readout_back(const net *N, size_t T, const relt *g, relt *dy, size_t window) {
  rctx *c = N->c;
  size_t KB = N->spec->n_out * N->B;
  SNN_SFX(snn_vzero)(KB, dy + (T + 1) * KB, c);
  for (size_t t = T; t >= 1; t--)
    for (size_t j = 0; j < KB; j++) {
      if (window && t % window == 0) /* the readout state is detached at a window start too */
        r_set(dy + t * KB + j, g + t * KB + j, c);
      else
        r_fma(dy + t * KB + j, N->kappa, dy + (t + 1) * KB + j, g + t * KB + j, c);
    }
}

void SNN_SFX(snn_bptt_full)(const net *N, const traj *tr, bws *w, relt *grad, const SNN_SFX(snn_bptt_opts) * o) {
  size_t window = o->window;
  const snn_spec *s = N->spec;
  rctx *c = N->c;
  size_t B = N->B, T = tr->T, TB = T * B, K = s->n_out, KB = K * B, Lc = s->L, nL = N->layers[Lc - 1].n;
  SNN_SFX(snn_vzero)(N->P, grad, c);
  /* readout: dE/dy^t = dEdy^t + kappa dE/dy^{t+1} */
  readout_back(N, T, tr->dEdy, w->dy, window);
  relt *g_ro_w = grad + s->blk[s->blk_ro_w].off, *g_ro_b = grad + s->blk[s->blk_ro_b].off;
  /* a normalised readout: W_out's signal is the normalisation's dE/dP */
  const relt *dyw = w->dy;
  if (N->ro_bn.F) {
    static const int zero[1] = {0};
    for (size_t t = 1; t <= T; t++)
      bn_back_side(N, &N->ro_bn, tr->bnro + t * SNN_SFX(snn_bn_rec)(K, tr->bcap), tr->t0 + t - 1, w->dy + t * KB, K, K,
                   zero, w->dP + t * KB, K, grad);
    dyw = w->dP;
  }
  SNN_SFX(snn_gemm)(1, 0, K, nL, TB, dyw + KB, K, tr->z[Lc - 1] + B * nL, nL, 0, g_ro_w, nL, c);
  for (size_t r = B; r < TB + B; r++) SNN_SFX(snn_vadd)(K, w->dy + r * K, g_ro_b, c); /* rows 1..T */
  /* external dE/dz: readout into the last layer, rate regulariser everywhere */
  if (s->rate_reg) SNN_SFX(snn_rate_signal)(N, tr->rate, w->rsig);
  size_t j0 = 0;
  for (size_t l = 0; l < Lc; l++) {
    size_t n = N->layers[l].n;
    SNN_SFX(snn_vzero)((T + 1) * B * n, w->D[l], c);
    if (s->rate_reg)
      for (size_t t = 1; t <= T; t++)
        for (size_t b = 0; b < B; b++) SNN_SFX(snn_vset)(n, w->rsig + b * w->H + j0, w->D[l] + (t * B + b) * n, c);
    j0 += n;
  }
  SNN_SFX(snn_gemm)(0, 0, TB, nL, K, dyw + KB, K, N->ro_w, nL, 1, w->D[Lc - 1] + B * nL, nL, c);
  /* auxiliary readouts (local training): dE_aux/dz of a block's top layer */
  for (size_t l = 0; o->aux_dEdy && l + 1 < Lc; l++) {
    if (!o->aux_dEdy[l]) continue;
    size_t n = N->layers[l].n;
    readout_back(N, T, o->aux_dEdy[l], w->dy, 0);
    SNN_SFX(snn_gemm)(0, 0, TB, n, K, w->dy + KB, K, o->aux_w[l], n, 1, w->D[l] + B * n, n, c);
  }
  for (size_t l = Lc; l-- > 0;) {
    layer_backward(N, tr, l, w, grad, window);
    /* no gradient crosses a block boundary (local training) */
    layer_params(N, tr, l, w, grad, window, l > 0 && !(o->block && l % o->block == 0));
  }
}

/* Local training (tbptt:blocks=L): the top layer of every block but the last
 * feeds an auxiliary readout, a fixed random projection drawn from the seed
 * (DECOLLE-style; see docs/tbptt.md), with the readout's kappa and the
 * network's loss, targets and window.  Fills A_l (n_out x n_l) and
 * dE_aux/dy^t (rows 1..T) for those layers. */
static int aux_readouts(const net *N, const traj *tr, size_t block, relt **A, relt **G, size_t *bytes) {
  const snn_spec *s = N->spec;
  rctx *c = N->c;
  size_t K = s->n_out, T = tr->T, B = N->B;
  relt *y = vec_alloc(2 * K, c);
  real aux_loss;
  r_init(aux_loss, c);
  gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
  int st = y && rng ? SNN_OK : SNN_ENOMEM;
  for (size_t l = block - 1; !st && l + 1 < s->L; l += block) {
    size_t n = N->layers[l].n;
    A[l] = vec_alloc(K * n, c);
    G[l] = vec_alloc((T + 1) * B * K, c);
    if (!A[l] || !G[l]) {
      st = SNN_ENOMEM;
      break;
    }
    *bytes += (K * n + (T + 1) * B * K) * SNN_SFX(snn_real_bytes)(c);
    gsl_rng_set(rng, (s->seed ^ 0xa0c5UL) + l);
    for (size_t i = 0; i < K * n; i++) r_set_d(A[l] + i, gsl_ran_gaussian(rng, 1.0) / sqrt((double)n), c);
    for (size_t b = 0; b < B; b++) {
      relt *yp = y, *yc = y + K;
      SNN_SFX(snn_vzero)(K, yp, c);
      for (size_t t = 1; t <= T; t++) {
        SNN_SFX(snn_gemv)(0, K, n, A[l], n, tr->z[l] + (t * B + b) * n, 0, yc, c);
        for (size_t k = 0; k < K; k++) r_fma(yc + k, N->kappa, yp + k, yc + k, c);
        SNN_SFX(snn_step_loss)(N, t, b, yc, G[l] + (t * B + b) * K, aux_loss);
        relt *sw = yp;
        yp = yc;
        yc = sw;
      }
    }
  }
  gsl_rng_free(rng);
  vec_free(y, 2 * K, c);
  r_clear(aux_loss, c);
  return st;
}

/* The trajectory and workspace BPTT keeps in a network's keep (training). */
typedef struct {
  traj tr;
  bws *w;
} bkeep;

static void bkeep_release(void *p, const net *N) {
  bkeep *k = p;
  SNN_SFX(snn_bptt_ws_free)(k->w, N);
  SNN_SFX(snn_traj_clear)(&k->tr, N);
  free(k);
}

static int bkeep_fits(const void *p, const net *N, const void *arg) {
  const bkeep *k = p;
  return k->tr.bcap == N->Bcap && k->tr.cap == *(const size_t *)arg;
}

/* The buffers of one call, for segments of len steps: the kept ones, or new
 * ones (kept if the network keeps buffers; else *own = 1 and the caller
 * frees them). */
static int bptt_buffers(const net *N, size_t len, traj **tr, bws **w, traj *tmp, int *own) {
  bkeep *k = SNN_SFX(snn_keep_take)(N, bkeep_release, bkeep_fits, &len);
  *own = 0;
  if (!k && N->keep && !N->keep->p && (k = calloc(1, sizeof *k))) {
    if (SNN_SFX(snn_traj_init_len)(&k->tr, N, len) == SNN_OK && (k->w = SNN_SFX(snn_bptt_ws_alloc_len)(N, len))) {
      SNN_SFX(snn_keep_put)(N, k, bkeep_release);
    } else {
      if (k->tr.s) SNN_SFX(snn_traj_clear)(&k->tr, N);
      free(k);
      k = NULL;
    }
  }
  if (k) {
    *tr = &k->tr, *w = k->w;
    return SNN_OK;
  }
  *own = 1, *tr = tmp;
  if (SNN_SFX(snn_traj_init_len)(tmp, N, len)) return SNN_ENOMEM;
  if (!(*w = SNN_SFX(snn_bptt_ws_alloc_len)(N, len))) {
    SNN_SFX(snn_traj_clear)(tmp, N);
    return SNN_ENOMEM;
  }
  return SNN_OK;
}

/* The windows one after another on a trajectory of W steps: forward over a
 * window from the state carried in (detached), then BPTT over it into w->gw,
 * added into grad.  The loss and the spike sums run on over the windows as
 * in one forward. */
static void windows(const net *N, size_t W, traj *tr, bws *w, relt *grad) {
  relt *gw = w->gw;
  const snn_spec *s = N->spec;
  rctx *c = N->c;
  slot z0;
  SNN_SFX(snn_traj_slot)(tr, N, 0, &z0);
  SNN_SFX(snn_slot_start)(N, &z0);
  SNN_SFX(snn_vzero)(N->B * SNN_SFX(snn_nhidden)(s), tr->rate, c);
  for (size_t l = 0; l < s->L; l++) tr->crossings[l] = 0;
  SNN_SFX(snn_vzero)(N->B, tr->loss, c);
  SNN_SFX(snn_vzero)(s->P, grad, c);
  for (size_t a = 0; a < s->T; a += W) {
    size_t len = s->T - a < W ? s->T - a : W;
    if (a) SNN_SFX(snn_traj_carry)(tr, N, W);
    SNN_SFX(snn_forward_segment)(N, tr, a, len);
    SNN_SFX(snn_bptt_window)(N, tr, w, gw, 0);
    SNN_SFX(snn_vadd)(s->P, gw, grad, c);
  }
  SNN_SFX(snn_rate_finish)(N, tr->rate, tr->rate, tr->loss);
}

/* bptt, and tbptt:window=W (the sum over windows of BPTT with the state,
 * readout included, detached at each window start; W = T is plain BPTT).
 * Without local blocks and the rate regulariser (whose signal needs the
 * whole sequence's rates) the windows run one after another, so that the
 * memory is W steps, not T. */
int SNN_SFX(snn_rule_bptt)(const net *N, const snn_rule *rule, relt *grad, relt *loss, size_t *cross, double *spikes,
                           size_t *bytes, snn_err *err) {
  const snn_spec *s = N->spec;
  size_t window = (size_t)snn_rule_opt_num(rule, "window"), block = (size_t)snn_rule_opt_num(rule, "blocks");
  if (block >= s->L) block = 0; /* one block: the whole network */
  if (window >= s->T) window = 0;
  int seg = window && !block && !s->rate_reg;
  traj tmp, *trp;
  bws *w = NULL;
  int own;
  if (bptt_buffers(N, seg ? window : s->T, &trp, &w, &tmp, &own))
    return snn_err_set(err, SNN_ENOMEM, s->path, "", "out of memory");
  int st = SNN_OK;
  relt *aux_w[SNN_MAXLAYERS] = {0}, *aux_g[SNN_MAXLAYERS] = {0};
  size_t aux_bytes = 0;
  if (seg) {
    windows(N, window, trp, w, grad);
  } else {
    SNN_SFX(snn_forward)(N, trp);
    if (block) st = aux_readouts(N, trp, block, aux_w, aux_g, &aux_bytes);
    if (!st) {
      SNN_SFX(snn_bptt_opts) o = {window, block, block ? aux_g : NULL, aux_w};
      SNN_SFX(snn_bptt_full)(N, trp, w, grad, &o);
    }
  }
  for (size_t l = 0; l < s->L; l++) {
    vec_free(aux_w[l], s->n_out * N->layers[l].n, N->c);
    vec_free(aux_g[l], (trp->T + 1) * N->B * s->n_out, N->c);
  }
  if (st) {
    if (own) SNN_SFX(snn_bptt_ws_free)(w, N), SNN_SFX(snn_traj_clear)(trp, N);
    return snn_err_set(err, SNN_ENOMEM, s->path, "", "out of memory");
  }
  SNN_SFX(snn_traj_loss)(N, trp, loss);
  size_t H = SNN_SFX(snn_nhidden)(s);
  for (size_t l = 0, j = 0; l < s->L; l++) {
    cross[l] = trp->crossings[l];
    spikes[l] = 0;
    for (size_t b = 0; b < N->B; b++)
      for (size_t i = 0; i < N->layers[l].n; i++) spikes[l] += r_get_d(trp->rate + b * H + j + i) * (double)s->T;
    j += N->layers[l].n;
  }
  if (bytes) *bytes = trp->bytes + w->bytes + aux_bytes;
  if (own) SNN_SFX(snn_bptt_ws_free)(w, N), SNN_SFX(snn_traj_clear)(trp, N);
  return SNN_OK;
}

const struct SNN_SFX(snn_rule_impl) SNN_SFX(snn_rule_bptt_impl) = {SNN_SFX(snn_rule_bptt)};
