/* traces.c - OSTL (Bohnstingl et al., TNNLS 2023) and e-prop (Bellec et al.,
 * Nat Commun 2020): per-layer eligibility traces times a learning signal.
 *
 * Eligibility, for every trainable parameter theta of a layer's own unit i
 * (its row of W_in and W_rec, and its constants):
 *
 *   eps^t = dF/ds eps^{t-1} + z_c e^{t-1} + dF/dI pre^t + dF/dtheta
 *   e^t   = psi^t (dU/ds eps^t + dU/dtheta)             (the trace: dz_i^t/dtheta)
 *
 * pre is x_j^t for W_in[i][j] and z_j^{t-1} for W_rec[i][j]; z_c is the path
 * from the unit's own previous output into its state that the trace keeps:
 * the local path (alif adaptation) always, and the reset for OSTL when the
 * gradient keeps it (OSTL keeps the reset inside its state Jacobian; e-prop
 * leaves it to the learning signal).  These "diagonal" traces are exact for a
 * layer whose units are not coupled; OSTL's complete form carries instead the
 * influence of the layer's own parameters on all its units (RTRL restricted
 * to the layer), which is exact with a recurrent matrix.
 *
 * Learning signal at step t, top down and at the same step:
 *   Lambda_top = W_out^T dE/dy^t        (e-prop: B dE/dy^t)
 *   Lambda_l   = W_in(l+1)^T (Lambda_{l+1} o psi_{l+1} o dU/ds dF/dI)   (OSTL; random B with feedback=random)
 * and dE/dtheta = sum_t Lambda^t e^t, where the top layer's traces are first
 * filtered with the readout's kappa (ebar = kappa ebar + e), which accounts
 * for the leaky readout exactly.  What is dropped: how a unit's past outputs
 * reach the loss through other units (recurrence, for diagonal traces), through
 * upper layers' state (deep OSTL), and through the readout's memory for
 * layers below the top.  e-prop's ideal signal (signal=ideal) is BPTT's
 * dE/dz^t without the local path, which makes the factorisation exact. */
#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sim/rules/online.h"
#include "sim/rules/rules.h"

typedef struct {
  int full;
  /* local parameters of unit i, in this order: its rows of w_in (nin x nprev),
   * of the delays (nin x nprev), of w_rec (nrec x n), its biases (m), its
   * recurrent biases ("separate_biases": nrec), its rows
   * of each mix (nsrc n), its constants */
  size_t qin, qdel, qrec, qbias, qbrec, qmix[SNN_MAXMIX], q;
  int cidx[SNN_MAXCONST], nqc;
  relt *G, *F, *Z; /* per unit, this step: m x k current gains, k x k state Jacobian, k reset (diagonal of the mixes) */
  struct lpar_ *par;                          /* q entries: the local parameters of unit 0 */
  size_t *stride;                             /* q entries: flat index of unit i = par.flat + i stride */
  relt *eps, *e, *ebar, *esum;                /* diagonal: n k q, n q, n q, n q */
  size_t c0, W;                               /* complete: own trainable columns */
  relt *Ms[2], *Mz[2], *MI, *Mzs, *Mzf, *scr; /* complete */
  relt *lam, *tmp;                            /* n */
  relt *B;                                    /* random feedback into this layer, or NULL */
  relt *B0;                                   /* adaptive feedback: B as drawn (B = B0 + (W_out - W_out^0)^T) */
  size_t nB;
  /* diagonal: the local parameters in runs [a, b) of one presynaptic kind,
   * one current and consecutive flat indices, so that a trace update is a
   * few vector operations per unit; and the presynaptic factors of the step */
  struct tseg_ *seg;
  size_t nseg;
  relt *pre;         /* q */
  struct tblk_ *blk; /* the synaptic traces in blocks of steps, or NULL */
  int zero;          /* blocks: eps and ebar are 0, as reset left them (no block has ended since) */
} tlay;

typedef struct tseg_ {
  size_t a, b;
  int kind, cur;
} tseg;

/* The scratch of the trace updates: the new traces of one unit's k state
 * components over its q local parameters (k and q of the largest layer),
 * their sums, and named scalars. */
typedef struct {
  relt *nw, *av;
  size_t k, q;
  real zc, acc, pre, t;
} tscr;

static int tscr_init(tscr *w, const net *N, size_t qmax) {
  rctx *c = N->c;
  w->k = 1;
  for (size_t l = 0; l < N->spec->L; l++)
    if ((size_t)N->layers[l].k > w->k) w->k = (size_t)N->layers[l].k;
  w->q = qmax ? qmax : 1;
  r_init(w->zc, c), r_init(w->acc, c), r_init(w->pre, c), r_init(w->t, c);
  w->nw = vec_alloc(w->k * w->q, c);
  w->av = vec_alloc(w->q, c);
  return w->nw && w->av ? SNN_OK : SNN_ENOMEM;
}

static void tscr_clear(tscr *w, const net *N) {
  rctx *c = N->c;
  if (!w->q) return; /* never initialised */
  vec_free(w->nw, w->k * w->q, c);
  vec_free(w->av, w->q, c);
  r_clear(w->zc, c), r_clear(w->acc, c), r_clear(w->pre, c), r_clear(w->t, c);
}

typedef struct {
  int ostl;        /* 1 OSTL, 0 e-prop */
  int trace_reset; /* the reset path belongs to the trace */
  int mode;        /* OSTL: 0 auto, 1 diagonal, 2 full */
  int random_fb;   /* random feedback */
  int adaptive_fb; /* e-prop: the random feedback follows W_out's changes in training */
  int ideal;       /* e-prop: BPTT's signal */
  size_t block;    /* steps per block of the synaptic traces (0: step by step) */
} topts;

/* What local parameter q of unit i is: its flat index, the current it is
 * injected into (-1 for a constant) and the kind of its presynaptic factor. */
enum { PRE_X, PRE_DELAY, PRE_Z, PRE_ONE, PRE_MIX, PRE_CONST };
typedef struct lpar_ {
  size_t flat;
  int cur, kind, a; /* a: nin row r, mix index, or constant index */
  size_t j;         /* presynaptic index (x_j, z_j, mix source column) */
} lpar;

static lpar gpar(const snn_spec *s, const lay *L, const tlay *T, size_t i, size_t q) {
  const snn_layer_spec *ls = L->ls;
  const snn_model_shape *sh = L->sh;
  size_t n = L->n, np = L->nprev;
  lpar p = {0, -1, PRE_CONST, 0, 0};
  if (q < T->qin + T->qdel) {
    int del = q >= T->qin;
    size_t qq = del ? q - T->qin : q, r = qq / np;
    p.j = qq % np, p.a = (int)r, p.cur = sh->in_cur[r], p.kind = del ? PRE_DELAY : PRE_X;
    p.flat = s->blk[del ? ls->blk_delay : ls->blk_w_in].off + (r * n + i) * np + p.j;
    return p;
  }
  q -= T->qin + T->qdel;
  if (q < T->qrec) {
    size_t r = q / n;
    p.j = q % n, p.cur = sh->rec_cur[r], p.kind = PRE_Z;
    p.flat = s->blk[ls->blk_w_rec].off + (r * n + i) * n + p.j;
    return p;
  }
  q -= T->qrec;
  if (q < T->qbias) {
    p.cur = (int)q, p.kind = PRE_ONE, p.flat = s->blk[ls->blk_bias].off + q * n + i;
    return p;
  }
  q -= T->qbias;
  if (q < T->qbrec) { /* "separate_biases": the recurrent currents' */
    p.cur = sh->rec_cur[q], p.kind = PRE_ONE, p.flat = s->blk[ls->blk_bias_rec].off + q * n + i;
    return p;
  }
  q -= T->qbrec;
  for (int mx = 0; mx < sh->nmix; mx++) {
    if (q < T->qmix[mx]) {
      p.cur = sh->mix[mx].dst, p.kind = PRE_MIX, p.a = mx, p.j = q;
      p.flat = s->blk[ls->blk_mix[mx]].off + i * (size_t)sh->mix[mx].nsrc * n + q;
      return p;
    }
    q -= T->qmix[mx];
  }
  p.a = T->cidx[q], p.flat = s->blk[ls->blk_const[p.a]].off + i;
  return p;
}

static size_t gidx(const snn_spec *s, const lay *L, const tlay *T, size_t i, size_t q) {
  (void)s, (void)L;
  return T->par[q].flat + i * T->stride[q];
}

/* The table of local parameters (decoded once, not at every step). */
static int par_table(const snn_spec *s, const lay *L, tlay *T) {
  T->par = malloc((T->q ? T->q : 1) * sizeof *T->par);
  T->stride = malloc((T->q ? T->q : 1) * sizeof *T->stride);
  if (!T->par || !T->stride) return SNN_ENOMEM;
  for (size_t q = 0; q < T->q; q++) {
    T->par[q] = gpar(s, L, T, 0, q);
    T->stride[q] = L->n > 1 ? gpar(s, L, T, 1, q).flat - T->par[q].flat : 0;
  }
  T->seg = malloc((T->q ? T->q : 1) * sizeof *T->seg);
  if (!T->seg) return SNN_ENOMEM;
  T->nseg = 0;
  for (size_t q = 0; q < T->q; q++) {
    const lpar *p = &T->par[q], *pp = q ? &T->par[q - 1] : NULL;
    int join = pp && p->kind == pp->kind && p->cur == pp->cur && p->kind != PRE_CONST && p->kind != PRE_ONE &&
               p->flat == pp->flat + 1 && T->stride[q] == T->stride[q - 1];
    if (join) {
      T->seg[T->nseg - 1].b = q + 1;
    } else {
      T->seg[T->nseg++] = (tseg){q, q + 1, p->kind, p->cur};
    }
  }
  return SNN_OK;
}

static size_t tlay_count(const tlay *T, size_t n, size_t k, size_t m) {
  size_t g = n * (m * k + k * k + k);
  if (T->full) return n * T->W * (2 * k + 5 + m) + 2 * n + T->nB + g;
  return n * T->q * (k + 3) + T->q + 2 * n + T->nB + g;
}

static void tblk_free(struct tblk_ *b, size_t n, size_t k, size_t m, rctx *c);

static void tlay_free(tlay *T, size_t n, size_t k, size_t m, rctx *c) {
  free(T->par);
  free(T->stride);
  free(T->seg);
  vec_free(T->pre, T->q, c);
  vec_free(T->G, n * m * k, c);
  vec_free(T->F, n * k * k, c);
  vec_free(T->Z, n * k, c);
  if (T->full) {
    vec_free(T->Ms[0], n * k * T->W, c);
    vec_free(T->Ms[1], n * k * T->W, c);
    vec_free(T->Mz[0], n * T->W, c);
    vec_free(T->Mz[1], n * T->W, c);
    vec_free(T->MI, m * n * T->W, c);
    vec_free(T->scr, n * T->W, c);
    vec_free(T->Mzs, n * T->W, c);
    vec_free(T->Mzf, n * T->W, c);
  } else {
    vec_free(T->eps, n * k * T->q, c);
    vec_free(T->e, n * T->q, c);
    vec_free(T->ebar, n * T->q, c);
    vec_free(T->esum, n * T->q, c);
  }
  vec_free(T->lam, n, c);
  vec_free(T->tmp, n, c);
  vec_free(T->B, T->nB, c);
  vec_free(T->B0, T->nB, c);
  tblk_free(T->blk, n, k, m, c);
}

static int tlay_init(tlay *T, const net *N, const online *o, size_t l, int full) {
  const snn_spec *s = N->spec;
  const lay *L = &N->layers[l];
  const snn_layer_spec *ls = L->ls;
  rctx *c = N->c;
  const snn_model_shape *sh = L->sh;
  size_t n = L->n, k = (size_t)L->k, m = (size_t)L->m;
  T->full = full;
  T->qin = s->blk[ls->blk_w_in].trainable ? (size_t)sh->nin * L->nprev : 0;
  T->qdel = ls->blk_delay >= 0 && s->blk[ls->blk_delay].trainable ? (size_t)sh->nin * L->nprev : 0;
  T->qrec = L->w_rec && s->blk[ls->blk_w_rec].trainable ? (size_t)sh->nrec * n : 0;
  T->qbias = ls->blk_bias >= 0 && s->blk[ls->blk_bias].trainable ? m : 0;
  T->qbrec = ls->blk_bias_rec >= 0 && s->blk[ls->blk_bias_rec].trainable ? (size_t)sh->nrec : 0;
  T->q = T->qin + T->qdel + T->qrec + T->qbias + T->qbrec;
  for (int mx = 0; mx < sh->nmix; mx++) {
    T->qmix[mx] = s->blk[ls->blk_mix[mx]].trainable ? (size_t)sh->mix[mx].nsrc * n : 0;
    T->q += T->qmix[mx];
  }
  for (int p = 0; p < L->np; p++)
    if (s->blk[ls->blk_const[p]].trainable) T->cidx[T->nqc++] = p;
  T->q += (size_t)T->nqc;
  if (par_table(s, L, T)) return SNN_ENOMEM;
  T->G = vec_alloc(n * m * k, c);
  T->F = vec_alloc(n * k * k, c);
  T->Z = vec_alloc(n * k, c);
  if (!T->G || !T->F || !T->Z) return SNN_ENOMEM;
  /* the layer's own columns are contiguous: its blocks are, in block order */
  long lo = -1, hi = -1;
  for (size_t b = 0; b < s->nblk; b++)
    if (s->blk[b].layer == (int)l && s->blk[b].trainable) {
      long c0 = o->col[s->blk[b].off], c1 = c0 + (long)(s->blk[b].rows * s->blk[b].cols);
      if (lo < 0 || c0 < lo) lo = c0;
      if (c1 > hi) hi = c1;
    }
  T->c0 = lo < 0 ? 0 : (size_t)lo;
  T->W = lo < 0 ? 0 : (size_t)(hi - lo);
  int ok;
  if (full) {
    T->Ms[0] = vec_alloc(n * k * T->W, c), T->Ms[1] = vec_alloc(n * k * T->W, c);
    T->Mz[0] = vec_alloc(n * T->W, c), T->Mz[1] = vec_alloc(n * T->W, c);
    T->MI = vec_alloc(m * n * T->W, c), T->Mzs = vec_alloc(n * T->W, c), T->Mzf = vec_alloc(n * T->W, c);
    T->scr = vec_alloc(n * T->W, c);
    ok = T->Ms[0] && T->Ms[1] && T->Mz[0] && T->Mz[1] && T->MI && T->Mzs && T->Mzf && T->scr;
  } else {
    T->eps = vec_alloc(n * k * T->q, c), T->e = vec_alloc(n * T->q, c);
    T->ebar = vec_alloc(n * T->q, c), T->esum = vec_alloc(n * T->q, c);
    T->pre = vec_alloc(T->q, c);
    ok = T->eps && T->e && T->ebar && T->esum && T->pre;
  }
  T->lam = vec_alloc(n, c);
  T->tmp = vec_alloc(n, c);
  return ok && T->lam && T->tmp ? SNN_OK : SNN_ENOMEM;
}

/* Random feedback matrices, drawn from the network's seed (documented in
 * docs/eprop.md): N(0, 1/fan_in), the shape of the matrix they replace. */
static int draw_feedback(tlay *T, size_t rows, size_t cols, unsigned long seed, rctx *c) {
  T->nB = rows * cols;
  T->B = vec_alloc(T->nB, c);
  gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
  if (!T->B || !rng) {
    gsl_rng_free(rng);
    return SNN_ENOMEM;
  }
  gsl_rng_set(rng, seed);
  for (size_t i = 0; i < T->nB; i++) r_set_d(T->B + i, gsl_ran_gaussian(rng, 1.0) / sqrt((double)cols), c);
  gsl_rng_free(rng);
  return SNN_OK;
}

/* Adaptive feedback (Bellec et al. 2020): B receives W_out's updates, so
 * that B = B0 + (W_out - W_out^0)^T with B0 the random draw and W_out^0 the
 * readout the training started from (N->ro_w0; without it, a gradient at
 * fixed parameters, B stays B0).  B is n x K, W_out K x n. */
static void adapt_feedback(const net *N, tlay *TL, size_t nseq, size_t Lc) {
  rctx *c = N->c;
  size_t K = N->spec->n_out;
  if (!N->ro_w0) return;
  for (size_t j = Lc - 1; j < nseq * Lc; j += Lc) {
    tlay *T = &TL[j];
    if (!T->B0) continue;
    size_t n = T->nB / K;
    for (size_t i = 0; i < n; i++)
      for (size_t k = 0; k < K; k++) {
        r_sub(T->B + i * K + k, N->ro_w + k * n + i, N->ro_w0 + k * n + i, c);
        r_add(T->B + i * K + k, T->B + i * K + k, T->B0 + i * K + k, c);
      }
  }
}

/* The unit-diagonal part of layer l's step Jacobians at this step: for an
 * injection into current q, the gains G[q][c] = d s_c / d I_q including the
 * chain through the mixes' diagonal elements W_ii; the state Jacobian F with
 * the mixes' diagonal state terms; Z the mixes' diagonal reset terms. */
static inline __attribute__((always_inline)) void gains_body(const net *N, size_t l, tlay *T, const online *o,
                                                             const slot *pv, relt *g, relt *tmp, size_t k, size_t m) {
  const lay *L = &N->layers[l];
  const snn_model_shape *sh = L->sh;
  const jacbuf *J = &o->J[l];
  rctx *c = N->c;
  size_t n = L->n;
  for (size_t i = 0; i < n; i++) {
    relt *G = T->G + i * m * k, *F = T->F + i * k * k, *Z = T->Z + i * k;
    for (size_t q = 0; q < m; q++) {
      /* g[q'] = d I_q' / d I_q through the mixes' diagonals, in mix order */
      for (size_t r = 0; r < m; r++) r_set_si(g + r, r == q, c);
      for (int mx = 0; mx < sh->nmix; mx++) {
        const snn_mix_shape *ms = &sh->mix[mx];
        for (int sr = 0; sr < ms->nsrc; sr++)
          if (ms->kind[sr] == SNN_SRC_CUR) {
            const relt *wii = L->mix[mx] + i * (size_t)ms->nsrc * n + (size_t)sr * n + i;
            r_fma(g + ms->dst, wii, g + ms->idx[sr], g + ms->dst, c);
          }
      }
      for (size_t cc = 0; cc < k; cc++) {
        relt *o_ = G + q * k + cc;
        r_zero(o_, c);
        for (size_t r = 0; r < m; r++) r_fma(o_, J->dF_dI + (i * k + cc) * m + r, g + r, o_, c);
      }
    }
    for (size_t e = 0; e < k * k; e++) r_set(F + e, J->dF_ds + i * k * k + e, c);
    for (size_t cc = 0; cc < k; cc++) r_set(Z + cc, J->dF_dzr + i * k + cc, c);
    for (int mx = 0; mx < sh->nmix; mx++) {
      const snn_mix_shape *ms = &sh->mix[mx];
      for (int sr = 0; sr < ms->nsrc; sr++) {
        if (ms->kind[sr] == SNN_SRC_CUR) continue;
        size_t ci = (size_t)ms->idx[sr];
        const relt *wii = L->mix[mx] + i * (size_t)ms->nsrc * n + (size_t)sr * n + i;
        for (size_t cc = 0; cc < k; cc++) {
          r_mul(tmp, G + (size_t)ms->dst * k + cc, wii, c);
          if (ms->kind[sr] == SNN_SRC_STATE) {
            r_add(F + cc * k + ci, F + cc * k + ci, tmp, c);
            continue;
          }
          relt *a = c->leaf;
          r_d_sub(a, 1.0, pv->z[l] + i, c);
          r_fma(F + cc * k + ci, tmp, a, F + cc * k + ci, c);
          r_mul(a, tmp, pv->s[l] + i * k + ci, c);
          r_sub(Z + cc, Z + cc, a, c);
        }
      }
    }
  }
}

/* (inlined with the state and current counts as constants for the common shapes) */
SNN_FMA_CLONES static void unit_gains(const net *N, size_t l, tlay *T, const online *o, const slot *pv, relt *g,
                                      relt *tmp) {
  size_t k = (size_t)N->layers[l].k, m = (size_t)N->layers[l].m;
  if (k == 1 && m == 1)
    gains_body(N, l, T, o, pv, g, tmp, 1, 1);
  else if (k == 2 && m == 1)
    gains_body(N, l, T, o, pv, g, tmp, 2, 1);
  else
    gains_body(N, l, T, o, pv, g, tmp, k, m);
}

/* The presynaptic factors of layer l's local parameters at this step, the
 * same for every unit (x_j, z_j^{t-1}, 1, a mix source), except the delayed
 * ones, which depend on the unit: those are made per unit (delay_pre). */
static void shared_pre(const net *N, size_t l, tlay *T, const relt *x, const slot *pv, const slot *cu, relt *tmp) {
  const lay *L = &N->layers[l];
  rctx *c = N->c;
  size_t n = L->n;
  for (size_t sg = 0; sg < T->nseg; sg++) {
    const tseg *g = &T->seg[sg];
    for (size_t qq = g->a; qq < g->b; qq++) {
      const lpar *p = &T->par[qq];
      relt *pre = T->pre + qq;
      if (g->kind == PRE_X && !L->ndl) {
        r_set(pre, x + p->j, c);
      } else if (g->kind == PRE_Z) {
        r_set(pre, pv->z[l] + p->j, c);
      } else if (g->kind == PRE_ONE) {
        r_set_d(pre, 1.0, c);
      } else if (g->kind == PRE_MIX) {
        size_t sr = p->j / n, j = p->j % n;
        r_set(pre, SNN_SFX(snn_mix_src)(L, p->a, (int)sr, j, cu->I[l], pv->s[l], pv->z[l], tmp, c), c);
      }
    }
  }
}

/* The delayed presynaptic factors of unit i (layers with delays). */
static void delay_pre(const net *N, size_t l, tlay *T, size_t i, const relt *x, const slot *pv) {
  const lay *L = &N->layers[l];
  rctx *c = N->c;
  size_t n = L->n;
  for (size_t sg = 0; sg < T->nseg; sg++) {
    const tseg *g = &T->seg[sg];
    if (g->kind != PRE_X && g->kind != PRE_DELAY) continue;
    for (size_t qq = g->a; qq < g->b; qq++) {
      const lpar *p = &T->par[qq];
      relt *pre = T->pre + qq;
      SNN_SFX(snn_delayed)(L, (size_t)p->a * n + i, p->j, x, pv->h[l], g->kind == PRE_DELAY, pre, c);
      if (g->kind == PRE_DELAY) r_mul(pre, pre, L->w_in + ((size_t)p->a * n + i) * L->nprev + p->j, c);
    }
  }
}

/* The new traces of unit i, component cc, over its q local parameters, into
 * nw: dF/ds eps + z_c e + G pre (+ dF/dtheta for a constant); each element
 * takes the operations of the scalar definition in the same order. */
static void unit_component(const net *N, size_t l, const tlay *T, const online *o, const topts *op, size_t i, size_t cc,
                           relt *nw, tscr *w, size_t qa) {
  const lay *L = &N->layers[l];
  const jacbuf *J = &o->J[l];
  rctx *c = N->c;
  size_t k = (size_t)L->k, np = (size_t)L->np, q = T->q;
  const relt *G = T->G + i * (size_t)L->m * k, *F = T->F + i * k * k, *e = T->e + i * q;
  SNN_SFX(snn_vzero)(q - qa, nw + qa, c);
  for (size_t c2 = 0; c2 < k; c2++)
    SNN_SFX(snn_vfma)(q - qa, F + cc * k + c2, T->eps + (i * k + c2) * q + qa, nw + qa, c);
  relt *zc = w->zc;
  r_set(zc, J->dF_dzl + i * k + cc, c);
  if (op->trace_reset) r_add(zc, zc, T->Z + i * k + cc, c);
  SNN_SFX(snn_vfma)(q - qa, zc, e + qa, nw + qa, c);
  for (size_t sg = 0; sg < T->nseg; sg++) {
    const tseg *g = &T->seg[sg];
    if (g->a < qa) continue;
    if (g->kind == PRE_CONST) {
      r_add(nw + g->a, nw + g->a, J->dF_dp + (i * k + cc) * np + (size_t)T->par[g->a].a, c);
      continue;
    }
    const relt *gain = G + (size_t)g->cur * k + cc;
    size_t a = g->a, b = g->b, j0 = T->par[a].j;
    if (g->kind == PRE_Z && !L->sh->selfconn && i >= j0 && i - j0 < b - a) {
      /* a spiking model's own w_rec diagonal has no presynaptic factor */
      size_t d = a + (i - j0);
      SNN_SFX(snn_vfma)(d - a, gain, T->pre + a, nw + a, c);
      SNN_SFX(snn_vfma)(b - d - 1, gain, T->pre + d + 1, nw + d + 1, c);
    } else {
      SNN_SFX(snn_vfma)(b - a, gain, T->pre + a, nw + a, c);
    }
  }
}

/* Diagonal traces of layer l at step t, as vector operations over each
 * unit's local parameters (sim/kernels.c: the same rounding as the scalar
 * definition, vectorised with FMA where the CPU has it). */
static void diag_update(const net *N, size_t l, tlay *T, const online *o, const topts *op, const relt *x,
                        const slot *pv, const slot *cu, int top, tscr *w, size_t qa) {
  const lay *L = &N->layers[l];
  const jacbuf *J = &o->J[l];
  rctx *c = N->c;
  size_t n = L->n, k = (size_t)L->k, np = (size_t)L->np, q = T->q, nq = q - qa;
  relt *av = w->av;
  shared_pre(N, l, T, x, pv, cu, w->acc);
  for (size_t i = 0; i < n && nq; i++) {
    if (L->ndl) delay_pre(N, l, T, i, x, pv);
    for (size_t cc = 0; cc < k; cc++) unit_component(N, l, T, o, op, i, cc, w->nw + cc * q, w, qa);
    SNN_SFX(snn_vzero)(nq, av + qa, c);
    for (size_t cc = 0; cc < k; cc++) {
      const relt *nw = w->nw + cc * q + qa;
      SNN_SFX(snn_vset)(nq, nw, T->eps + (i * k + cc) * q + qa, c);
      SNN_SFX(snn_vfma)(nq, J->dU_ds + i * k + cc, nw, av + qa, c);
    }
    for (size_t sg = 0; sg < T->nseg; sg++)
      if (T->seg[sg].kind == PRE_CONST && T->seg[sg].a >= qa) {
        size_t qq = T->seg[sg].a;
        r_add(av + qq, av + qq, J->dU_dp + i * np + (size_t)T->par[qq].a, c);
      }
    relt *e = T->e + i * q + qa;
    SNN_SFX(snn_vmul)(nq, J->psi + i, av + qa, e, c);
    if (N->spec->rate_reg) SNN_SFX(snn_vadd)(nq, e, T->esum + i * q + qa, c); /* only the regulariser reads the sums */
    if (top) SNN_SFX(snn_vfmay)(nq, N->kappa, e, T->ebar + i * q + qa, c);
  }
}

/* grad += Lambda_i e_i over every unit's local parameters (a run of
 * consecutive flat indices at a time). */
static void diag_accumulate(const net *N, size_t l, const tlay *T, const relt *E, relt *grad,
                            const SNN_SFX(snn_probe) * pr, size_t t, size_t qa) {
  const lay *L = &N->layers[l];
  rctx *c = N->c;
  size_t q = T->q;
  for (size_t i = 0; i < L->n; i++) {
    const relt *lam = T->lam + i, *e = E + i * q;
    for (size_t sg = 0; sg < T->nseg; sg++) {
      const tseg *g = &T->seg[sg];
      if (g->a < qa) continue;
      SNN_SFX(snn_vfma)(g->b - g->a, lam, e + g->a, grad + T->par[g->a].flat + i * T->stride[g->a], c);
    }
  }
  if (!pr) return;
  for (size_t qq = 0; qq < q; qq++)
    if (T->par[qq].flat + pr->unit * T->stride[qq] == pr->idx) {
      r_set(pr->sig + t, T->lam + pr->unit, c);
      r_set(pr->trace + t, E + pr->unit * q + qq, c);
    }
}

/* ---- the synaptic traces in blocks of steps (docs/eprop.md, "Blocks") ----
 *
 * In a single layer without delays, the traces of one unit over one
 * synaptic column q (its w_in, w_rec, bias and mix entries) form a linear
 * system of d = k + 1 components, xi = (eps, ebar):
 *
 *   xi^t = At^t xi^{t-1} + gt^t pre_q^t,        dE/dtheta_q += lam^t ebar^t
 *
 * with w^t = psi^t dU/ds^t (so that e^t = w^t . eps^t), A^t = F^t + zc^t
 * w^{t-1}^T, At = [[A, 0], [w^T A, kappa]] and gt = [G_cur; w . G_cur] for
 * the column's current.  Over a block of K steps after t0, with
 * rho^{t1} = c^{t1}, rho^tau = c^tau + At^{tau+1}^T rho^{tau+1} (c = (0, lam)),
 * delta^tau = rho^tau . gt^tau and sigma = At^{t0+1}^T rho^{t0+1}:
 *
 *   dE/dtheta_q += sigma . xi_q^{t0} + sum_tau delta^tau pre_q^tau
 *   xi_q^{t1}    = Phi xi_q^{t0} + sum_tau u^tau pre_q^tau
 *
 * (M^{t1} = I, M^{tau-1} = M^tau At^tau, u^tau = M^tau gt^tau, Phi = M^{t0}).
 * The sums over tau are matrix products over the block's steps for all
 * units and columns at once; the per-unit work is d x d per step; memory is
 * K steps of per-unit quantities, independent of T.  The same values as the
 * step-by-step update in exact arithmetic; the rounding differs. */
typedef struct tblk_ {
  size_t K, d, qs;             /* steps per block, components, synaptic columns */
  size_t nk;                   /* steps recorded in the current block */
  relt *A, *g, *lam, *pre;     /* K n d d, K n m d, K n, K qs */
  relt *w, *rho, *rt, *M, *M2; /* n k (w^{t-1}); per unit: d, d, d d, d d */
  relt *D, *U;                 /* m K n, m d K n: step-major (a step's units contiguous) */
  relt *xi;                    /* d qs: one unit's traces at t0 */
  real a;
} tblk;

static size_t tblk_count(const tblk *b, size_t n, size_t k, size_t m) {
  size_t K = b->K, d = b->d;
  return K * n * (d * d + m * d + 1) + K * b->qs + n * k + n * (2 * d + 2 * d * d) + m * n * K * (1 + d) + d * b->qs +
         1;
}

static void tblk_free(tblk *b, size_t n, size_t k, size_t m, rctx *c) {
  if (!b) return;
  size_t K = b->K, d = b->d;
  vec_free(b->A, K * n * d * d, c), vec_free(b->g, K * n * m * d, c), vec_free(b->lam, K * n, c);
  vec_free(b->pre, K * b->qs, c), vec_free(b->w, n * k, c), vec_free(b->rho, n * d, c), vec_free(b->rt, n * d, c);
  vec_free(b->M, n * d * d, c), vec_free(b->M2, n * d * d, c);
  vec_free(b->D, m * n * K, c), vec_free(b->U, m * d * n * K, c), vec_free(b->xi, d * b->qs, c);
  r_clear(b->a, c);
  free(b);
}

/* The block buffers of layer l, if its synaptic traces can run in blocks. */
static int tblk_init(tlay *T, const net *N, size_t l, const topts *op) {
  const snn_spec *s = N->spec;
  const lay *L = &N->layers[l];
  rctx *c = N->c;
  if (!op->block || s->L != 1 || T->full || L->ndl || s->rate_reg) return SNN_OK;
  size_t qs = T->q - (size_t)T->nqc, n = L->n, k = (size_t)L->k, m = (size_t)L->m;
  if (!qs) return SNN_OK;
  tblk *b = calloc(1, sizeof *b);
  if (!b) return SNN_ENOMEM;
  size_t K = op->block, d = k + 1;
  b->K = K, b->d = d, b->qs = qs;
  r_init(b->a, c);
  b->A = vec_alloc(K * n * d * d, c), b->g = vec_alloc(K * n * m * d, c), b->lam = vec_alloc(K * n, c);
  b->pre = vec_alloc(K * qs, c), b->w = vec_alloc(n * k, c), b->rho = vec_alloc(n * d, c), b->rt = vec_alloc(n * d, c);
  b->M = vec_alloc(n * d * d, c), b->M2 = vec_alloc(n * d * d, c);
  b->D = vec_alloc(m * n * K, c), b->U = vec_alloc(m * d * n * K, c), b->xi = vec_alloc(d * qs, c);
  T->blk = b;
  if (!b->A || !b->g || !b->lam || !b->pre || !b->w || !b->rho || !b->rt || !b->M || !b->M2 || !b->D || !b->U || !b->xi)
    return SNN_ENOMEM;
  return SNN_OK;
}

/* Step t into the block: the presynaptic factors, At and gt of every unit
 * (F, G and Z of unit_gains; the Jacobians of step t), and w^t. */
static inline __attribute__((always_inline)) void record_body(const net *N, size_t l, tlay *T, const online *o,
                                                              const topts *op, size_t k, size_t m) {
  tblk *b = T->blk;
  const lay *L = &N->layers[l];
  const jacbuf *J = &o->J[l];
  rctx *c = N->c;
  size_t n = L->n, d = k + 1, tau = b->nk;
  relt *a = b->a;
  SNN_SFX(snn_vset)(b->qs, T->pre, b->pre + tau * b->qs, c);
  for (size_t i = 0; i < n; i++) {
    relt *A = b->A + (tau * n + i) * d * d, *g = b->g + (tau * n + i) * m * d, *w = b->w + i * k;
    const relt *F = T->F + i * k * k, *G = T->G + i * m * k;
    for (size_t cc = 0; cc < k; cc++) { /* A = F + zc w^{t-1}^T */
      r_set(a, J->dF_dzl + i * k + cc, c);
      if (op->trace_reset) r_add(a, a, T->Z + i * k + cc, c);
      for (size_t c2 = 0; c2 < k; c2++) r_fma(A + cc * d + c2, a, w + c2, F + cc * k + c2, c);
      r_zero(A + cc * d + k, c);
    }
    for (size_t c2 = 0; c2 < k; c2++) r_mul(w + c2, J->psi + i, J->dU_ds + i * k + c2, c); /* w^t */
    for (size_t c2 = 0; c2 < k; c2++) {
      relt *row = A + k * d + c2;
      r_zero(row, c);
      for (size_t cc = 0; cc < k; cc++) r_fma(row, w + cc, A + cc * d + c2, row, c);
    }
    r_set(A + k * d + k, N->kappa, c);
    for (size_t q = 0; q < m; q++) {
      relt *gq = g + q * d;
      r_zero(gq + k, c);
      for (size_t cc = 0; cc < k; cc++) {
        r_set(gq + cc, G + q * k + cc, c);
        r_fma(gq + k, w + cc, G + q * k + cc, gq + k, c);
      }
    }
  }
}

SNN_FMA_CLONES static void tblk_record(const net *N, size_t l, tlay *T, const online *o, const topts *op) {
  size_t k = (size_t)N->layers[l].k, m = (size_t)N->layers[l].m;
  if (k == 1 && m == 1)
    record_body(N, l, T, o, op, 1, 1);
  else if (k == 2 && m == 1)
    record_body(N, l, T, o, op, 2, 1);
  else
    record_body(N, l, T, o, op, k, m);
}

/* The block's recursions, for every unit in lockstep (the unit innermost:
 * the units' chains are independent, so they overlap, where one unit's
 * chain of dependent operations ran alone): delta^tau of every current
 * into D and sigma into b->rho (d per unit) unless the block adds nothing
 * to the gradient (`grad` 0), and, when the traces are carried
 * out of the block (`carry`), u^tau into U and Phi into b->M (d d per
 * unit).  Each unit takes the operations of its own recursion in the same
 * order as one unit alone.  Inlined with d as a constant for the common
 * sizes (the loops over components unroll). */
static inline __attribute__((always_inline)) void blk_units(const net *N, const lay *L, tblk *b, size_t d, int grad,
                                                            int carry) {
  rctx *c = N->c;
  size_t n = L->n, m = (size_t)L->m, K = b->nk, KK = b->K, k = d - 1, dd = d * d;
  relt *rho = b->rho, *rt = b->rt, *M = b->M, *M2 = b->M2, *sw;
  if (grad) { /* the backward recursion: D and sigma */
    SNN_SFX(snn_vzero)(n * d, rho, c);
    for (size_t tau = K; tau-- > 0;) {
      if (tau + 1 < K) { /* rho = At^{tau+1}^T rho */
        const relt *A = b->A + (tau + 1) * n * dd;
        for (size_t i = 0; i < n; i++)
          for (size_t r = 0; r < d; r++) {
            R_LOCAL(o_, b->a); /* each sum in a register (double), then stored */
            r_zero(o_, c);
            for (size_t r2 = 0; r2 < d; r2++) r_fma(o_, A + i * dd + r2 * d + r, rho + i * d + r2, o_, c);
            r_set(rt + i * d + r, o_, c);
          }
        sw = rho, rho = rt, rt = sw;
      }
      const relt *lam = b->lam + tau * n, *g = b->g + tau * n * m * d;
      for (size_t i = 0; i < n; i++) {
        r_add(rho + i * d + k, rho + i * d + k, lam + i, c);
        for (size_t q = 0; q < m; q++) {
          R_LOCAL(D, b->a);
          r_zero(D, c);
          for (size_t r = 0; r < d; r++) r_fma(D, rho + i * d + r, g + (i * m + q) * d + r, D, c);
          r_set(b->D + (q * KK + tau) * n + i, D, c);
        }
      }
    }
    const relt *A0 = b->A; /* sigma = At^{t0+1}^T rho^{t0+1} */
    for (size_t i = 0; i < n; i++)
      for (size_t r = 0; r < d; r++) {
        R_LOCAL(o_, b->a);
        r_zero(o_, c);
        for (size_t r2 = 0; r2 < d; r2++) r_fma(o_, A0 + i * dd + r2 * d + r, rho + i * d + r2, o_, c);
        r_set(rt + i * d + r, o_, c);
      }
    if (rt != b->rho) SNN_SFX(snn_vset)(n * d, rt, b->rho, c);
  }
  if (!carry) return;
  for (size_t q = 0; q < n * dd; q++) r_set_si(M + q, q % dd % (d + 1) == 0, c);
  for (size_t tau = K; tau-- > 0;) {
    const relt *g = b->g + tau * n * m * d, *A = b->A + tau * n * dd;
    for (size_t i = 0; i < n; i++) {
      const relt *Mi = M + i * dd, *Ai = A + i * dd;
      for (size_t q = 0; q < m; q++)
        for (size_t r = 0; r < d; r++) {
          R_LOCAL(u, b->a);
          r_zero(u, c);
          for (size_t r2 = 0; r2 < d; r2++) r_fma(u, Mi + r * d + r2, g + (i * m + q) * d + r2, u, c);
          r_set(b->U + ((q * d + r) * KK + tau) * n + i, u, c);
        }
      for (size_t r = 0; r < d; r++) /* M = M At^tau */
        for (size_t r2 = 0; r2 < d; r2++) {
          R_LOCAL(o_, b->a);
          r_zero(o_, c);
          for (size_t r3 = 0; r3 < d; r3++) r_fma(o_, Mi + r * d + r3, Ai + r3 * d + r2, o_, c);
          r_set(M2 + i * dd + r * d + r2, o_, c);
        }
    }
    sw = M, M = M2, M2 = sw;
  }
  if (M != b->M) SNN_SFX(snn_vset)(n * dd, M, b->M, c);
}

SNN_FMA_CLONES static void tblk_units(const net *N, const lay *L, tblk *b, int grad, int carry) {
  if (b->d == 2)
    blk_units(N, L, b, 2, grad, carry);
  else if (b->d == 3)
    blk_units(N, L, b, 3, grad, carry);
  else
    blk_units(N, L, b, b->d, grad, carry);
}

/* The end of a block: the gradient of the synaptic columns and, unless it
 * ends the sequence (`last`: nothing reads them before the next sequence's
 * reset), their traces at its last step; then the block starts again,
 * empty. */
static void tblk_flush(const net *N, size_t l, tlay *T, relt *grad, int last) {
  tblk *b = T->blk;
  const lay *L = &N->layers[l];
  rctx *c = N->c;
  size_t n = L->n, k = (size_t)L->k, d = b->d, q = T->q, qs = b->qs, K = b->nk, KK = b->K;
  if (!K) return;
  /* a block whose learning signals are all 0 (a loss at the last step
   * only) adds exactly 0 to the gradient: only its traces are carried */
  int quiet = 1;
  for (size_t q2 = 0; quiet && q2 < K * n; q2++) quiet = r_sgn(b->lam + q2) == 0;
  tblk_units(N, L, b, !quiet, !last);
  for (size_t i = 0; i < n; i++) {
    /* xi^{t0} of unit i; dE/dtheta += sigma . xi^{t0}; xi <- Phi xi^{t0}:
     * nothing to do in the first block, where xi^{t0} = 0 */
    if (T->zero) continue;
    for (size_t r = 0; r < k; r++) SNN_SFX(snn_vset)(qs, T->eps + (i * k + r) * q, b->xi + r * qs, c);
    SNN_SFX(snn_vset)(qs, T->ebar + i * q, b->xi + k * qs, c);
    for (size_t sg = 0; !quiet && sg < T->nseg; sg++) {
      const tseg *g = &T->seg[sg];
      if (g->a >= qs) continue;
      relt *gr = grad + T->par[g->a].flat + i * T->stride[g->a];
      for (size_t r = 0; r < d; r++) SNN_SFX(snn_vfma)(g->b - g->a, b->rho + i * d + r, b->xi + r * qs + g->a, gr, c);
    }
    for (size_t r = 0; !last && r < d; r++) {
      relt *dst = r < k ? T->eps + (i * k + r) * q : T->ebar + i * q;
      SNN_SFX(snn_vzero)(qs, dst, c);
      for (size_t r2 = 0; r2 < d; r2++) SNN_SFX(snn_vfma)(qs, b->M + (i * d + r) * d + r2, b->xi + r2 * qs, dst, c);
    }
  }
  /* the sums over the block's steps: products over its K steps */
  for (size_t sg = 0; sg < T->nseg; sg++) {
    const tseg *g = &T->seg[sg];
    if (g->a >= qs) continue;
    size_t w = g->b - g->a, cur = (size_t)g->cur, ld = n > 1 ? T->stride[g->a] : w;
    if (!quiet)
      SNN_SFX(snn_gemm)(1, 0, n, w, K, b->D + cur * KK * n, n, b->pre + g->a, qs, 1, grad + T->par[g->a].flat, ld, c);
    for (size_t r = 0; !last && r < d; r++) {
      relt *dst = r < k ? T->eps + r * q + g->a : T->ebar + g->a;
      SNN_SFX(snn_gemm)
      (1, 0, n, w, K, b->U + (cur * d + r) * KK * n, n, b->pre + g->a, qs, 1, dst, r < k ? k * q : q, c);
    }
  }
  b->nk = 0;
  T->zero = 0;
}

/* The options, checked by snn_rule_parse (sim/rules/types.c). */
static void get_opts(const snn_rule *rule, topts *op, const snn_spec *s) {
  memset(op, 0, sizeof *op);
  op->ostl = !strcmp(rule->name, "ostl");
  if (op->ostl) {
    const char *m = snn_rule_opt(rule, "traces");
    op->mode = !strcmp(m, "auto") ? 0 : !strcmp(m, "diagonal") ? 1 : 2;
  } else {
    op->ideal = !strcmp(snn_rule_opt(rule, "signal"), "ideal");
  }
  op->random_fb = strcmp(snn_rule_opt(rule, "feedback"), "symmetric") != 0;
  op->adaptive_fb = !op->ostl && !strcmp(snn_rule_opt(rule, "feedback"), "adaptive");
  op->trace_reset = op->ostl && !s->detach_reset;
  op->block = op->ideal ? 0 : (size_t)snn_rule_opt_num(rule, "block");
  if (op->block > s->T) op->block = s->T;
}

/* Everything a call holds apart from the ideal signal's trajectory: made
 * once per network and rule when the network keeps buffers (training's
 * workers), set back to the state at t = 0 before every sequence. */
typedef struct {
  topts op;
  online o;
  online *ov;  /* bcap views of o, each with the Jacobians of its sequence */
  size_t bcap; /* sequences held: the layers' traces per sequence, TL[b Lc + l] */
  tlay *TL;
  relt *zbar, *r, *gW, *gv; /* zbar: bcap nL; r: bcap H */
  real bbar, one;
  tscr w;
  size_t Wmax, cnt;
} tstate;

static void tstate_clear(tstate *S, const net *N) {
  const snn_spec *s = N->spec;
  rctx *c = N->c;
  size_t Lc = s->L, nL = N->layers[Lc - 1].n, H = SNN_SFX(snn_nhidden)(s), Bc = S->bcap;
  for (size_t j = 0; S->TL && j < Bc * Lc; j++) {
    const lay *L = &N->layers[j % Lc];
    tlay_free(&S->TL[j], L->n, (size_t)L->k, (size_t)L->m, c);
  }
  free(S->TL);
  free(S->ov);
  vec_free(S->zbar, Bc * nL, c);
  vec_free(S->gv, 4, c);
  vec_free(S->r, Bc * H, c);
  vec_free(S->gW, S->Wmax, c);
  r_clear(S->bbar, c);
  r_clear(S->one, c);
  tscr_clear(&S->w, N);
  SNN_SFX(snn_online_clear)(&S->o);
  free(S);
}

static tstate *tstate_alloc(const net *N, const topts *op) {
  const snn_spec *s = N->spec;
  rctx *c = N->c;
  size_t Lc = s->L, K = s->n_out, H = SNN_SFX(snn_nhidden)(s), nL = N->layers[Lc - 1].n;
  size_t Bc = N->Bcap;
  tstate *S = calloc(1, sizeof *S);
  if (!S) return NULL;
  S->op = *op;
  S->bcap = Bc;
  r_init(S->bbar, c);
  r_init(S->one, c);
  r_set_d(S->one, 1.0, c);
  int st = SNN_SFX(snn_online_init)(&S->o, N) ? SNN_ENOMEM : SNN_OK;
  S->TL = calloc(Bc * Lc, sizeof *S->TL);
  S->ov = malloc(Bc * sizeof *S->ov);
  S->zbar = vec_alloc(Bc * nL, c), S->r = vec_alloc(Bc * H, c), S->gv = vec_alloc(4, c);
  S->cnt = Bc * (nL + H) + 4 + 2 + 4; /* zbar, r, gv, bbar and one, the scratch */
  if (!st && !(S->TL && S->ov && S->zbar && S->r && S->gv)) st = SNN_ENOMEM;
  for (size_t j = 0; !st && j < Bc * Lc; j++) { /* each sequence's traces (the same feedback: the same seed) */
    size_t l = j % Lc;
    const lay *L = &N->layers[l];
    tlay *T = &S->TL[j];
    int full = op->ostl && (op->mode == 2 || (op->mode == 0 && (L->w_rec || L->sh->nmix)));
    st = tlay_init(T, N, &S->o, l, full);
    if (!st && op->random_fb && !op->ostl) st = draw_feedback(T, L->n, K, s->seed ^ 0x5eedUL, c);
    if (!st && op->adaptive_fb && l + 1 == Lc) {
      T->B0 = vec_alloc(T->nB, c);
      if (!T->B0) st = SNN_ENOMEM;
      if (!st) SNN_SFX(snn_vset)(T->nB, T->B, T->B0, c);
      S->cnt += T->nB;
    }
    if (!st && op->random_fb && op->ostl && l + 1 < Lc)
      st = draw_feedback(T, N->layers[l + 1].n, L->n, (s->seed ^ 0x5eedUL) + l + 1, c);
    if (!st) st = tblk_init(T, N, l, op);
    if (T->W > S->Wmax) S->Wmax = T->W;
    S->cnt += tlay_count(T, L->n, (size_t)L->k, (size_t)L->m);
    if (T->blk) S->cnt += tblk_count(T->blk, L->n, (size_t)L->k, (size_t)L->m);
  }
  for (size_t b = 0; !st && b < Bc; b++) S->ov[b] = S->o;
  size_t qmax = 0;
  for (size_t j = 0; !st && j < Bc * Lc; j++)
    if (S->TL[j].q > qmax) qmax = S->TL[j].q;
  if (!st && tscr_init(&S->w, N, qmax)) st = SNN_ENOMEM;
  S->cnt += (S->w.k + 1) * S->w.q;
  if (!st && !(S->gW = vec_alloc(S->Wmax, c))) st = SNN_ENOMEM;
  S->cnt += S->Wmax;
  if (st) {
    tstate_clear(S, N);
    return NULL;
  }
  return S;
}

/* The state at t = 0: the two slots, the sums, every trace and influence. */
static void tstate_reset(tstate *S, const net *N) {
  const snn_spec *s = N->spec;
  rctx *c = N->c;
  size_t Lc = s->L, nL = N->layers[Lc - 1].n, Bc = S->bcap;
  SNN_SFX(snn_online_reset)(&S->o);
  for (size_t j = 0; j < Bc * Lc; j++) {
    size_t l = j % Lc;
    tlay *T = &S->TL[j];
    size_t n = N->layers[l].n, k = (size_t)N->layers[l].k, m = (size_t)N->layers[l].m;
    if (T->full) {
      SNN_SFX(snn_vzero)(n * k * T->W, T->Ms[0], c), SNN_SFX(snn_vzero)(n * k * T->W, T->Ms[1], c);
      SNN_SFX(snn_vzero)(n * T->W, T->Mz[0], c), SNN_SFX(snn_vzero)(n * T->W, T->Mz[1], c);
      SNN_SFX(snn_vzero)(m * n * T->W, T->MI, c), SNN_SFX(snn_vzero)(n * T->W, T->scr, c);
      SNN_SFX(snn_vzero)(n * T->W, T->Mzs, c), SNN_SFX(snn_vzero)(n * T->W, T->Mzf, c);
    } else {
      SNN_SFX(snn_vzero)(n * k * T->q, T->eps, c), SNN_SFX(snn_vzero)(n * T->q, T->ebar, c);
      /* e^{t-1} is read only where the traces run step by step; the sums only with a regulariser */
      int blocks = T->blk && !N->probe; /* as the steps decide */
      for (size_t i = 0; blocks && i < n; i++) SNN_SFX(snn_vzero)(T->q - T->blk->qs, T->e + i * T->q + T->blk->qs, c);
      if (!blocks) SNN_SFX(snn_vzero)(n * T->q, T->e, c);
      if (s->rate_reg) SNN_SFX(snn_vzero)(n * T->q, T->esum, c);
    }
    if (T->blk) SNN_SFX(snn_vzero)(n * k, T->blk->w, c), T->blk->nk = 0, T->zero = 1;
  }
  SNN_SFX(snn_vzero)(Bc * nL, S->zbar, c);
  r_zero(S->bbar, c);
}

/* The view of sequence b: the online state with that sequence's Jacobians. */
static online *tstate_view(tstate *S, const net *N, size_t b) {
  online *v = &S->ov[b];
  for (size_t l = 0; l < N->spec->L; l++) SNN_SFX(snn_jac_row)(&N->layers[l], &S->o.J[l], b, &v->J[l]);
  return v;
}

static void tkeep_release(void *p, const net *N) {
  tstate_clear(p, N);
}

/* The state of one call: the network's kept one when it is this rule's, or
 * a new one (kept if the network keeps buffers and holds none yet; *own = 1
 * if the caller frees it). */
static int tkeep_fits(const void *p, const net *N, const void *op) {
  const tstate *S = p;
  return !memcmp(&S->op, op, sizeof S->op) && S->bcap == N->Bcap;
}

static tstate *tstate_get(const net *N, const topts *op, int *own) {
  *own = 0;
  tstate *S = SNN_SFX(snn_keep_take)(N, tkeep_release, tkeep_fits, op);
  if (S) return S;
  S = tstate_alloc(N, op);
  *own = S && !SNN_SFX(snn_keep_put)(N, S, tkeep_release);
  return S;
}

static int run(const net *N, const snn_rule *rule, relt *grad, relt *loss, size_t *cross, double *spikes, size_t *bytes,
               snn_err *err) {
  const snn_spec *s = N->spec;
  rctx *c = N->c;
  topts op;
  memset(&op, 0, sizeof op);
  get_opts(rule, &op, s);
  int st = SNN_OK, own = 0;
  size_t Lc = s->L, K = s->n_out, nL = N->layers[Lc - 1].n, B = N->B, H = SNN_SFX(snn_nhidden)(s);
  relt *lsig = NULL;
  tstate *S = tstate_get(N, &op, &own);
  if (!S) return snn_err_set(err, SNN_ENOMEM, s->path, "", "out of memory");
  tstate_reset(S, N);
  online *O = &S->o;
  tlay *TL = S->TL;
  relt *zbar = S->zbar, *r = S->r, *gW = S->gW, *gv = S->gv, *bbar = S->bbar, *one = S->one;
  tscr *sw = &S->w;
  size_t cnt = S->cnt;
  traj tr;
  int have_tr = 0;
  if (!st && op.ideal) {
    /* the ideal signal needs BPTT's backward pass: a verification device, memory O(T) */
    SNN_SFX(snn_bptt_ws) *w = NULL;
    lsig = vec_alloc((s->T + 1) * B * N->layers[0].n, c);
    if (!lsig || SNN_SFX(snn_traj_init)(&tr, N) || !(have_tr = 1) || !(w = SNN_SFX(snn_bptt_ws_alloc)(N))) {
      st = SNN_ENOMEM;
    } else {
      SNN_SFX(snn_forward)(N, &tr);
      SNN_SFX(snn_bptt_capture_signal)(w, lsig);
      SNN_SFX(snn_bptt)(N, &tr, w, grad); /* grad is overwritten below */
      cnt += (s->T + 1) * B * N->layers[0].n;
      if (bytes) *bytes = tr.bytes + SNN_SFX(snn_bptt_ws_bytes)(w);
    }
    if (w) SNN_SFX(snn_bptt_ws_free)(w, N);
  }
  if (st) {
    st = snn_err_set(err, SNN_ENOMEM, s->path, "", "out of memory");
    goto out;
  }
  for (size_t i = 0; i < s->P; i++) r_zero(grad + i, c);
  relt *g_row = grad + s->blk[s->blk_ro_w].off, *g_rob = grad + s->blk[s->blk_ro_b].off;
  if (op.adaptive_fb) adapt_feedback(N, S->TL, B, Lc);
  for (size_t t = 1; t <= s->T; t++) {
    const slot *pvB, *cuB;
    SNN_SFX(snn_online_step)(O, t, &pvB, &cuB);
    int P0 = (int)((t - 1) & 1), P1 = (int)(t & 1);
    r_mul(bbar, bbar, N->kappa, c); /* the readout's filtered 1, the same for every sequence */
    r_add_d(bbar, bbar, 1.0, c);
    for (size_t sb = 0; sb < B; sb++) { /* each sequence of the batch, its own traces */
      slot pvs, cus;
      SNN_SFX(snn_slot_row)(N, pvB, sb, &pvs);
      SNN_SFX(snn_slot_row)(N, cuB, sb, &cus);
      const slot *pv = &pvs, *cu = &cus;
      online *Ov = tstate_view(S, N, sb);
      tlay *TL = S->TL + sb * Lc;
      /* traces, bottom up */
      const relt *x = N->x + ((t - 1) * B + sb) * s->n_in;
      for (size_t l = 0; l < Lc; l++) {
        const lay *L = &N->layers[l];
        tlay *T = &TL[l];
        int top = l + 1 == Lc;
        unit_gains(N, l, T, Ov, pv, gv, sw->t);
        if (T->full) {
          size_t n = L->n, W = T->W;
          SNN_SFX(snn_influence_currents)(N, l, Ov, T->c0, W, x, pv, cu, NULL, T->Mz[P0], T->Ms[P0], T->MI, T->scr);
          SNN_SFX(snn_influence_layer)
          (N, l, &Ov->J[l], Ov, T->c0, W, T->Ms[P0], T->Ms[P1], T->Mz[P0], T->Mz[P1], T->MI, T->Mzs);
          if (top) { /* Mzf = kappa Mzf + Mz */
            SNN_SFX(snn_scal)(n * W, N->kappa, T->Mzf, c);
            SNN_SFX(snn_axpy)(n * W, one, T->Mz[P1], T->Mzf, c);
          }
        } else if (T->blk && !N->probe) { /* synaptic columns in blocks, the constants step by step */
          diag_update(N, l, T, Ov, &op, x, pv, cu, top, sw, T->blk->qs);
          tblk_record(N, l, T, Ov, &op);
        } else {
          diag_update(N, l, T, Ov, &op, x, pv, cu, top, sw, 0);
        }
        x = cu->z[l];
      }
      /* learning signals, top down, at this step */
      for (size_t l = Lc; l-- > 0;) {
        const lay *L = &N->layers[l];
        tlay *T = &TL[l];
        size_t n = L->n;
        if (op.ideal) {
          for (size_t i = 0; i < n; i++) r_set(T->lam + i, lsig + (t * B + sb) * n + i, c);
        } else if (l + 1 == Lc) {
          if (T->B)
            SNN_SFX(snn_gemv)(0, n, K, T->B, K, cu->dEdy, 0, T->lam, c);
          else
            SNN_SFX(snn_gemv)(1, K, n, N->ro_w, n, cu->dEdy, 0, T->lam, c);
        } else {
          const lay *U = &N->layers[l + 1];
          const jacbuf *JU = &Ov->J[l + 1];
          tlay *TU = &TL[l + 1];
          size_t ku = (size_t)U->k, mu = (size_t)U->m;
          for (size_t i = 0; i < n; i++) r_zero(T->lam + i, c);
          for (int r = 0; r < U->sh->nin; r++) {
            size_t q = (size_t)U->sh->in_cur[r];
            for (size_t j = 0; j < U->n; j++) { /* Lambda o psi o dU/ds G_q of the layer above */
              relt *a = TU->tmp + j;
              r_zero(a, c);
              for (size_t cc = 0; cc < ku; cc++)
                r_fma(a, JU->dU_ds + j * ku + cc, TU->G + (j * mu + q) * ku + cc, a, c);
              r_mul(a, a, JU->psi + j, c);
              r_mul(a, a, TU->lam + j, c);
            }
            if (T->B) {
              SNN_SFX(snn_gemv)(1, U->n, n, T->B, n, TU->tmp, 1, T->lam, c);
            } else if (!U->ndl) {
              SNN_SFX(snn_gemv)(1, U->n, n, U->w_in + (size_t)r * U->n * n, n, TU->tmp, 1, T->lam, c);
            } else { /* delays: only the same-step tap d = 0 */
              for (size_t j = 0; j < U->n; j++)
                for (size_t i = 0; i < n; i++) {
                  size_t syn = ((size_t)r * U->n + j) * n + i;
                  r_mul(sw->t, U->w_in + syn, U->kw + syn * U->ndl, c);
                  r_fma(T->lam + i, sw->t, TU->tmp + j, T->lam + i, c);
                }
            }
          }
        }
        int filt = l + 1 == Lc && !op.ideal;
        const SNN_SFX(snn_probe) *pr = N->probe && N->probe->layer == l ? N->probe : NULL;
        if (T->full) {
          SNN_SFX(snn_gemv)(1, n, T->W, filt ? T->Mzf : T->Mz[P1], T->W, T->lam, 0, gW, c);
          SNN_SFX(snn_scatter_cols)(O, T->c0, T->W, gW, grad, c);
          long col = pr ? O->col[pr->idx] : -1;
          if (col >= (long)T->c0 && col < (long)(T->c0 + T->W)) {
            r_set(pr->sig + t, T->lam + pr->unit, c);
            r_set(pr->trace + t, (filt ? T->Mzf : T->Mz[P1]) + pr->unit * T->W + (size_t)col - T->c0, c);
          }
        } else if (T->blk && !N->probe) {
          tblk *b = T->blk;
          SNN_SFX(snn_vset)(n, T->lam, b->lam + b->nk * n, c);
          b->nk++;
          diag_accumulate(N, l, T, filt ? T->ebar : T->e, grad, pr, t, b->qs);
          /* a block ends after K steps, at the last step, and before an online update */
          int hook = N->hook && N->hook->every && t % N->hook->every == 0 && t < s->T;
          if (b->nk == b->K || t == s->T || hook) tblk_flush(N, l, T, grad, t == s->T);
        } else {
          diag_accumulate(N, l, T, filt ? T->ebar : T->e, grad, pr, t, 0);
        }
      }
      /* readout, exact: filtered presynaptic activity */
      relt *zb = zbar + sb * nL;
      for (size_t j = 0; j < nL; j++) r_fma(zb + j, N->kappa, zb + j, cu->z[Lc - 1] + j, c);
      for (size_t kk = 0; kk < K; kk++) {
        SNN_SFX(snn_axpy)(nL, cu->dEdy + kk, zb, g_row + kk * nL, c);
        r_fma(g_rob + kk, cu->dEdy + kk, bbar, g_rob + kk, c);
      }
    }
    if (N->probe) r_set(N->probe->sum + t, grad + N->probe->idx, c);
    if (N->hook && N->hook->every && t % N->hook->every == 0 && t < s->T && !op.ideal) { /* an online update */
      N->hook->fn(N->hook->ctx, t, grad);
      for (size_t i = 0; i < s->P; i++) r_zero(grad + i, c);
      if (op.adaptive_fb) adapt_feedback(N, S->TL, B, Lc);
    }
  }
  SNN_SFX(snn_online_finish)(O);
  SNN_SFX(snn_rate_signal)(N, O->zsum, r);
  /* the rate regulariser: constant in t, so it multiplies the summed traces
   * (with the ideal signal it is already inside BPTT's dE/dz) */
  for (size_t sb = 0; !op.ideal && s->rate_reg && sb < B; sb++)
    for (size_t l = 0, j0 = sb * H; l < Lc; j0 += N->layers[l].n, l++) {
      const lay *L = &N->layers[l];
      tlay *T = &TL[sb * Lc + l];
      if (T->full) {
        SNN_SFX(snn_gemv)(1, L->n, T->W, T->Mzs, T->W, r + j0, 0, gW, c);
        SNN_SFX(snn_scatter_cols)(O, T->c0, T->W, gW, grad, c);
      } else {
        for (size_t i = 0; i < L->n; i++)
          for (size_t qq = 0; qq < T->q; qq++) {
            relt *g = grad + gidx(s, L, T, i, qq);
            r_fma(g, r + j0 + i, T->esum + i * T->q + qq, g, c);
          }
      }
    }
  for (size_t l = 0; l < Lc; l++) /* no self-connections */
    if (N->layers[l].w_rec && !N->layers[l].sh->selfconn)
      for (size_t i = 0; i < N->layers[l].n * (size_t)N->layers[l].sh->nrec; i++)
        r_zero(grad + s->blk[N->layers[l].ls->blk_w_rec].off + i * N->layers[l].n + i % N->layers[l].n, c);
  r_set(loss, O->loss, c);
  for (size_t sb = 1; sb < B; sb++) r_add(loss, loss, O->loss + sb, c);
  for (size_t l = 0, j = 0; l < Lc; j += N->layers[l].n, l++) {
    cross[l] = O->cross[l];
    spikes[l] = 0;
    for (size_t sb = 0; sb < B; sb++)
      for (size_t i = 0; i < N->layers[l].n; i++) spikes[l] += r_get_d(O->zsum + sb * H + j + i) * (double)s->T;
  }
  if (bytes && !op.ideal)
    *bytes = O->bytes + cnt * SNN_SFX(snn_real_bytes)(c) + S->bcap * (Lc * sizeof *TL + sizeof *S->ov) + sizeof *S +
             (TL[0].blk ? S->bcap * sizeof *TL[0].blk : 0);
out:
  vec_free(lsig, (s->T + 1) * B * N->layers[0].n, c);
  if (have_tr) SNN_SFX(snn_traj_clear)(&tr, N);
  if (own) tstate_clear(S, N);
  return st;
}

int SNN_SFX(snn_rule_ostl)(const net *N, const snn_rule *rule, relt *grad, relt *loss, size_t *cross, double *spikes,
                           size_t *bytes, snn_err *err) {
  return run(N, rule, grad, loss, cross, spikes, bytes, err);
}

int SNN_SFX(snn_rule_eprop)(const net *N, const snn_rule *rule, relt *grad, relt *loss, size_t *cross, double *spikes,
                            size_t *bytes, snn_err *err) {
  return run(N, rule, grad, loss, cross, spikes, bytes, err);
}

const struct SNN_SFX(snn_rule_impl) SNN_SFX(snn_rule_ostl_impl) = {SNN_SFX(snn_rule_ostl)};
const struct SNN_SFX(snn_rule_impl) SNN_SFX(snn_rule_eprop_impl) = {SNN_SFX(snn_rule_eprop)};
