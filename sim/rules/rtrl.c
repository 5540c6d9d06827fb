/* rtrl.c - real-time recurrent learning (Williams & Zipser 1989): the exact
 * gradient in forward mode, with memory independent of T.
 *
 * For every layer it carries the influence of every trainable parameter on
 * the layer's state and output, M_s = ds^t/dtheta (n k x P) and
 * M_z = dz^t/dtheta (n x P):
 *
 *   M_I^t = W_in M_z(below)^t + W_rec M_z^{t-1} + [direct: x_j^t for W_in, z_j^{t-1} for W_rec]
 *   M_s^t = dF/ds M_s^{t-1} + (dF/dz_loc + dF/dz_reset) M_z^{t-1} + dF/dI M_I^t + [dF/dp]
 *   M_z^t = psi (dU/ds M_s^t + [dU/dp])
 *
 * (the W_rec term and the reset term dropped under the detach options, as in
 * BPTT), and for the readout M_y^t = kappa M_y^{t-1} + W_out M_z(top)^t +
 * [z_j for W_out, 1 for b].  Then dE/dtheta = sum_t (dE/dy^t)^T M_y^t, plus
 * the rate regulariser's sum_j r_j sum_t M_z,j^t.  The recurrent product
 * W_rec M_z is the n^2 P = O(n^4) work per step of a recurrent layer. */
#include <stdlib.h>
#include <string.h>

#include "sim/rules/online.h"
#include "sim/rules/rules.h"

typedef struct {
  relt *Ms[2], *Mz[2], *MI, *Mzs; /* per layer */
  relt *Mzh;                      /* ndl rows of M_z of this layer, when the layer above has delays */
} rlay;

/* The influence update of one layer for the trainable columns [c0, c0 + W):
 * M_s^t from M_s^{t-1}, M_z^{t-1} and M_I^t, then M_z^t (and its running sum
 * into Mzs when not NULL).  Used by RTRL (all columns) and by OSTL's complete
 * traces (the layer's own columns). */
void SNN_SFX(snn_influence_layer)(const net *N, size_t l, const jacbuf *J, const online *o, size_t c0, size_t W,
                                  const relt *Msp, relt *Msc, const relt *Mzp, relt *Mzc, const relt *MI, relt *Mzs) {
  const snn_spec *s = N->spec;
  const lay *L = &N->layers[l];
  const snn_layer_spec *ls = L->ls;
  rctx *c = N->c;
  size_t n = L->n, k = (size_t)L->k, np = (size_t)L->np, m = (size_t)L->m;
  int keep_reset = !s->detach_reset;
  relt *a = c->leaf;
  for (size_t i = 0; i < n; i++) {
    for (size_t cc = 0; cc < k; cc++) {
      relt *row = Msc + (i * k + cc) * W;
      for (size_t q = 0; q < W; q++) r_zero(row + q, c);
      for (size_t c2 = 0; c2 < k; c2++)
        SNN_SFX(snn_axpy)(W, J->dF_ds + (i * k + cc) * k + c2, Msp + (i * k + c2) * W, row, c);
      r_set(a, J->dF_dzl + i * k + cc, c);
      if (keep_reset) r_add(a, a, J->dF_dzr + i * k + cc, c);
      SNN_SFX(snn_axpy)(W, a, Mzp + i * W, row, c);
      for (size_t q = 0; q < m; q++)
        SNN_SFX(snn_axpy)(W, J->dF_dI + (i * k + cc) * m + q, MI + (q * n + i) * W, row, c);
      for (size_t p = 0; p < np; p++) {
        long col = o->col[s->blk[ls->blk_const[p]].off + i] - (long)c0;
        if (col >= 0 && col < (long)W) r_add(row + col, row + col, J->dF_dp + (i * k + cc) * np + p, c);
      }
    }
    relt *zr = Mzc + i * W;
    for (size_t q = 0; q < W; q++) r_zero(zr + q, c);
    for (size_t cc = 0; cc < k; cc++) SNN_SFX(snn_axpy)(W, J->dU_ds + i * k + cc, Msc + (i * k + cc) * W, zr, c);
    for (size_t p = 0; p < np; p++) {
      long col = o->col[s->blk[ls->blk_const[p]].off + i] - (long)c0;
      if (col >= 0 && col < (long)W) r_add(zr + col, zr + col, J->dU_dp + i * np + p, c);
    }
    for (size_t q = 0; q < W; q++) r_mul(zr + q, zr + q, J->psi + i, c);
    if (Mzs)
      for (size_t q = 0; q < W; q++) r_add(Mzs + i * W + q, Mzs + i * W + q, zr + q, c);
  }
}

/* Add v to column `col` (a parameter's trainable column, -1 if none) of row r. */
static void addcol(const online *o, size_t param, size_t c0, size_t W, relt *row, const relt *v, rctx *c) {
  long col = o->col[param] - (long)c0;
  if (col >= 0 && col < (long)W) r_add(row + col, row + col, v, c);
}

void SNN_SFX(snn_influence_currents)(const net *N, size_t l, const online *o, size_t c0, size_t W, const relt *x,
                                     const slot *pv, const slot *cu, const relt *const *Mzb, const relt *Mzp,
                                     const relt *Msp, relt *MI, relt *scr) {
  const snn_spec *s = N->spec;
  const lay *L = &N->layers[l];
  const snn_layer_spec *ls = L->ls;
  const snn_model_shape *sh = L->sh;
  rctx *c = N->c;
  size_t n = L->n, k = (size_t)L->k, m = (size_t)L->m, np = L->nprev;
  relt *a = c->leaf;
  for (size_t i = 0; i < m * n * W; i++) r_zero(MI + i, c);
  /* through the layer below: W_in M_z(below), or with delays sum_d kw_d M_z^{t-d} */
  for (int r = 0; Mzb && r < sh->nin; r++) {
    relt *Mq = MI + (size_t)sh->in_cur[r] * n * W;
    if (!L->ndl) {
      SNN_SFX(snn_gemm)(0, 0, n, W, np, L->w_in + (size_t)r * n * np, np, Mzb[0], W, 1, Mq, W, c);
      continue;
    }
    for (size_t i = 0; i < n; i++) {
      size_t row = (size_t)r * n + i;
      for (size_t j = 0; j < np; j++)
        for (size_t d = 0; d < L->ndl; d++) {
          if (!Mzb[d]) break;
          r_mul(a, L->w_in + row * np + j, L->kw + (row * np + j) * L->ndl + d, c);
          if (r_sgn(a)) SNN_SFX(snn_axpy)(W, a, Mzb[d] + j * W, Mq + i * W, c);
        }
    }
  }
  if (L->w_rec && !s->detach_rec)
    for (int r = 0; r < sh->nrec; r++) {
      SNN_SFX(snn_gemm)
      (0, 0, n, W, n, L->w_rec + (size_t)r * n * n, n, Mzp, W, 1, MI + (size_t)sh->rec_cur[r] * n * W, W, c);
    }
  /* direct terms */
  const snn_block *bi = &s->blk[ls->blk_w_in];
  const snn_block *bd = ls->blk_delay >= 0 ? &s->blk[ls->blk_delay] : NULL;
  for (int r = 0; r < sh->nin; r++)
    for (size_t i = 0; i < n; i++) {
      size_t row = (size_t)r * n + i;
      relt *Mrow = MI + ((size_t)sh->in_cur[r] * n + i) * W;
      for (size_t j = 0; j < np; j++) {
        if (!L->ndl) {
          if (bi->trainable) addcol(o, bi->off + row * np + j, c0, W, Mrow, x + j, c);
          continue;
        }
        if (bi->trainable) {
          SNN_SFX(snn_delayed)(L, row, j, x, pv->h[l], 0, a, c);
          addcol(o, bi->off + row * np + j, c0, W, Mrow, a, c);
        }
        if (bd->trainable) {
          SNN_SFX(snn_delayed)(L, row, j, x, pv->h[l], 1, a, c);
          r_mul(a, a, L->w_in + row * np + j, c);
          addcol(o, bd->off + row * np + j, c0, W, Mrow, a, c);
        }
      }
    }
  if (L->w_rec && s->blk[ls->blk_w_rec].trainable) {
    const snn_block *br = &s->blk[ls->blk_w_rec];
    for (int r = 0; r < sh->nrec; r++)
      for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++)
          if (j != i || sh->selfconn)
            addcol(o, br->off + ((size_t)r * n + i) * n + j, c0, W, MI + ((size_t)sh->rec_cur[r] * n + i) * W,
                   pv->z[l] + j, c);
  }
  if (L->bias && s->blk[ls->blk_bias].trainable) {
    r_set_d(a, 1.0, c);
    for (size_t i = 0; i < m * n; i++) addcol(o, s->blk[ls->blk_bias].off + i, c0, W, MI + i * W, a, c);
  }
  if (L->bias_rec && s->blk[ls->blk_bias_rec].trainable) {
    r_set_d(a, 1.0, c);
    for (int r = 0; r < sh->nrec; r++)
      for (size_t i = 0; i < n; i++)
        addcol(o, s->blk[ls->blk_bias_rec].off + (size_t)r * n + i, c0, W, MI + ((size_t)sh->rec_cur[r] * n + i) * W, a,
               c);
  }
  /* the mixes, in order */
  for (int mx = 0; mx < sh->nmix; mx++) {
    const snn_mix_shape *ms = &sh->mix[mx];
    size_t ld = (size_t)ms->nsrc * n;
    relt *Md = MI + (size_t)ms->dst * n * W;
    const snn_block *bm = &s->blk[ls->blk_mix[mx]];
    for (int sr = 0; sr < ms->nsrc; sr++) {
      const relt *Wm = L->mix[mx] + (size_t)sr * n;
      size_t ci = (size_t)ms->idx[sr];
      if (ms->kind[sr] == SNN_SRC_CUR) {
        SNN_SFX(snn_gemm)(0, 0, n, W, n, Wm, ld, MI + ci * n * W, W, 1, Md, W, c);
      } else if (ms->kind[sr] == SNN_SRC_STATE) {
        SNN_SFX(snn_gemm)(0, 0, n, W, n, Wm, ld, Msp + ci * W, k * W, 1, Md, W, c);
      } else { /* (1 - z) M_s - s M_z (the second a reset path) */
        for (size_t j = 0; j < n; j++) {
          r_d_sub(a, 1.0, pv->z[l] + j, c);
          for (size_t q = 0; q < W; q++) r_mul(scr + j * W + q, Msp + (j * k + ci) * W + q, a, c);
          if (s->detach_reset) continue;
          r_neg(a, pv->s[l] + j * k + ci, c);
          SNN_SFX(snn_axpy)(W, a, Mzp + j * W, scr + j * W, c);
        }
        SNN_SFX(snn_gemm)(0, 0, n, W, n, Wm, ld, scr, W, 1, Md, W, c);
      }
      if (!bm->trainable) continue;
      for (size_t j = 0; j < n; j++) {
        const relt *v = SNN_SFX(snn_mix_src)(L, mx, sr, j, cu->I[l], pv->s[l], pv->z[l], c->cell[0], c);
        for (size_t i = 0; i < n; i++) addcol(o, bm->off + i * ld + (size_t)sr * n + j, c0, W, Md + i * W, v, c);
      }
    }
  }
}

/* RTRL's buffers, kept by a network between calls (training's workers) and
 * set back to the state at t = 0 before every sequence. */
typedef struct {
  online o;
  size_t bcap; /* sequences held: R[b L + l], My[2 b + P] */
  rlay *R;
  relt **My, *g, *r, *scr; /* g: the gradient of every sequence; r: bcap H */
  size_t cnt;
} rstate;

static void rstate_free(rstate *S, const net *N) {
  const snn_spec *s = N->spec;
  rctx *c = N->c;
  size_t Pt = S->o.Pt, K = s->n_out, H = SNN_SFX(snn_nhidden)(s), Bc = S->bcap;
  for (size_t j = 0; S->R && j < Bc * s->L; j++) {
    size_t l = j % s->L;
    size_t n = N->layers[l].n, k = (size_t)N->layers[l].k, m = (size_t)N->layers[l].m;
    size_t nh = l + 1 < s->L ? N->layers[l + 1].ndl : 0;
    vec_free(S->R[j].Ms[0], n * k * Pt, c);
    vec_free(S->R[j].Ms[1], n * k * Pt, c);
    vec_free(S->R[j].Mz[0], n * Pt, c);
    vec_free(S->R[j].Mz[1], n * Pt, c);
    vec_free(S->R[j].MI, m * n * Pt, c);
    vec_free(S->R[j].Mzs, n * Pt, c);
    vec_free(S->R[j].Mzh, nh * n * Pt, c);
  }
  vec_free(S->scr, N->nmax * Pt, c);
  free(S->R);
  for (size_t j = 0; S->My && j < 2 * Bc; j++) vec_free(S->My[j], K * Pt, c);
  free(S->My);
  vec_free(S->g, Pt, c);
  vec_free(S->r, Bc * H, c);
  SNN_SFX(snn_online_clear)(&S->o);
  free(S);
}

static rstate *rstate_alloc(const net *N) {
  const snn_spec *s = N->spec;
  rctx *c = N->c;
  size_t Bc = N->Bcap;
  rstate *S = calloc(1, sizeof *S);
  if (!S) return NULL;
  S->bcap = Bc;
  if (SNN_SFX(snn_online_init)(&S->o, N)) {
    free(S);
    return NULL;
  }
  size_t Pt = S->o.Pt, K = s->n_out, H = SNN_SFX(snn_nhidden)(s);
  S->R = calloc(Bc * s->L, sizeof *S->R);
  S->My = calloc(2 * Bc, sizeof *S->My);
  S->g = vec_alloc(Pt, c), S->r = vec_alloc(Bc * H, c);
  S->scr = vec_alloc(N->nmax * Pt, c);
  S->cnt = 2 * Bc * K * Pt + Pt + Bc * H + N->nmax * Pt;
  int ok = S->R && S->My && S->g && S->r && S->scr;
  for (size_t j = 0; ok && j < 2 * Bc; j++) ok = (S->My[j] = vec_alloc(K * Pt, c)) != NULL;
  for (size_t j = 0; ok && j < Bc * s->L; j++) {
    size_t l = j % s->L;
    size_t n = N->layers[l].n, k = (size_t)N->layers[l].k, m = (size_t)N->layers[l].m;
    size_t nh = l + 1 < s->L ? N->layers[l + 1].ndl : 0;
    rlay *Rl = &S->R[j];
    Rl->Ms[0] = vec_alloc(n * k * Pt, c), Rl->Ms[1] = vec_alloc(n * k * Pt, c);
    Rl->Mz[0] = vec_alloc(n * Pt, c), Rl->Mz[1] = vec_alloc(n * Pt, c);
    Rl->MI = vec_alloc(m * n * Pt, c), Rl->Mzs = vec_alloc(n * Pt, c);
    Rl->Mzh = nh ? vec_alloc(nh * n * Pt, c) : NULL;
    ok = Rl->Ms[0] && Rl->Ms[1] && Rl->Mz[0] && Rl->Mz[1] && Rl->MI && Rl->Mzs && (!nh || Rl->Mzh);
    S->cnt += n * Pt * (2 * k + 3 + m + nh);
  }
  if (!ok) {
    rstate_free(S, N);
    return NULL;
  }
  return S;
}

static void rstate_reset(rstate *S, const net *N) {
  const snn_spec *s = N->spec;
  rctx *c = N->c;
  size_t Pt = S->o.Pt, K = s->n_out, Bc = S->bcap;
  SNN_SFX(snn_online_reset)(&S->o);
  for (size_t j = 0; j < Bc * s->L; j++) {
    size_t l = j % s->L;
    size_t n = N->layers[l].n, k = (size_t)N->layers[l].k, m = (size_t)N->layers[l].m;
    size_t nh = l + 1 < s->L ? N->layers[l + 1].ndl : 0;
    rlay *Rl = &S->R[j];
    SNN_SFX(snn_vzero)(n * k * Pt, Rl->Ms[0], c), SNN_SFX(snn_vzero)(n * k * Pt, Rl->Ms[1], c);
    SNN_SFX(snn_vzero)(n * Pt, Rl->Mz[0], c), SNN_SFX(snn_vzero)(n * Pt, Rl->Mz[1], c);
    SNN_SFX(snn_vzero)(m * n * Pt, Rl->MI, c), SNN_SFX(snn_vzero)(n * Pt, Rl->Mzs, c);
    if (nh) SNN_SFX(snn_vzero)(nh * n * Pt, Rl->Mzh, c);
  }
  for (size_t j = 0; j < 2 * Bc; j++) SNN_SFX(snn_vzero)(K * Pt, S->My[j], c);
  SNN_SFX(snn_vzero)(Pt, S->g, c);
  SNN_SFX(snn_vzero)(N->nmax * Pt, S->scr, c);
}

static void rkeep_release(void *p, const net *N) {
  rstate_free(p, N);
}

static int rkeep_fits(const void *p, const net *N, const void *arg) {
  (void)arg;
  return ((const rstate *)p)->bcap == N->Bcap;
}

int SNN_SFX(snn_rule_rtrl)(const net *N, const snn_rule *rule, relt *grad, relt *loss, size_t *cross, double *spikes,
                           size_t *bytes, snn_err *err) {
  const snn_spec *s = N->spec;
  rctx *c = N->c;
  (void)rule;
  rstate *S = SNN_SFX(snn_keep_take)(N, rkeep_release, rkeep_fits, NULL);
  int own = 0;
  if (!S) {
    if (!(S = rstate_alloc(N)))
      return snn_err_set(err, SNN_ENOMEM, s->path, "", "out of memory (RTRL keeps %zu x %zu influence matrices)",
                         SNN_SFX(snn_nhidden)(s), N->P);
    own = !SNN_SFX(snn_keep_put)(N, S, rkeep_release);
  }
  rstate_reset(S, N);
  online *O = &S->o;
  relt *g = S->g, *r = S->r, *scr = S->scr;
  size_t Pt = O->Pt, K = s->n_out, cnt = S->cnt, B = N->B, H = SNN_SFX(snn_nhidden)(s);
  int st = SNN_OK;
  if (bytes) *bytes = O->bytes + cnt * SNN_SFX(snn_real_bytes)(c) + S->bcap * s->L * sizeof *S->R + sizeof *S;
  for (size_t t = 1; t <= s->T; t++) {
    const slot *pvB, *cuB;
    SNN_SFX(snn_online_step)(O, t, &pvB, &cuB);
    int P0 = (int)((t - 1) & 1), P1 = (int)(t & 1);
    for (size_t sb = 0; sb < B; sb++) { /* each sequence of the batch, its own influence matrices */
      slot pvs, cus;
      SNN_SFX(snn_slot_row)(N, pvB, sb, &pvs);
      SNN_SFX(snn_slot_row)(N, cuB, sb, &cus);
      const slot *pv = &pvs, *cu = &cus;
      rlay *R = S->R + sb * s->L;
      relt **My = S->My + 2 * sb;
      const relt *x = N->x + ((t - 1) * B + sb) * s->n_in;
      for (size_t l = 0; l < s->L; l++) {
        const lay *L = &N->layers[l];
        jacbuf Jrow;
        SNN_SFX(snn_jac_row)(L, &O->J[l], sb, &Jrow);
        const jacbuf *J = &Jrow;
        size_t n = L->n;
        relt *MI = R[l].MI, *Msp = R[l].Ms[P0], *Msc = R[l].Ms[P1], *Mzp = R[l].Mz[P0], *Mzc = R[l].Mz[P1];
        const relt *Mzb[SNN_MAXDELAY] = {0};
        if (l > 0 && !L->ndl) Mzb[0] = R[l - 1].Mz[P1];
        for (size_t d = 0; l > 0 && d < L->ndl && d < t; d++)
          Mzb[d] = R[l - 1].Mzh + ((t - d) % L->ndl) * N->layers[l - 1].n * Pt;
        SNN_SFX(snn_influence_currents)(N, l, O, 0, Pt, x, pv, cu, l > 0 ? Mzb : NULL, Mzp, Msp, MI, scr);
        SNN_SFX(snn_influence_layer)(N, l, J, O, 0, Pt, Msp, Msc, Mzp, Mzc, MI, R[l].Mzs);
        if (R[l].Mzh) {
          relt *dst = R[l].Mzh + (t % N->layers[l + 1].ndl) * n * Pt;
          for (size_t i = 0; i < n * Pt; i++) r_set(dst + i, Mzc + i, c);
        }
        x = cu->z[l];
      }
      /* readout */
      size_t Ll = s->L - 1, nL = N->layers[Ll].n;
      relt *Myp = My[P0], *Myc = My[P1];
      SNN_SFX(snn_gemm)(0, 0, K, Pt, nL, N->ro_w, nL, R[Ll].Mz[P1], Pt, 0, Myc, Pt, c);
      SNN_SFX(snn_axpy)(K * Pt, N->kappa, Myp, Myc, c);
      const snn_block *bw = &s->blk[s->blk_ro_w], *bb = &s->blk[s->blk_ro_b];
      for (size_t kk = 0; kk < K; kk++) {
        for (size_t j = 0; j < nL; j++) {
          long col = O->col[bw->off + kk * nL + j];
          r_add(Myc + kk * Pt + col, Myc + kk * Pt + col, cu->z[Ll] + j, c);
        }
        long col = O->col[bb->off + kk];
        r_add_d(Myc + kk * Pt + col, Myc + kk * Pt + col, 1.0, c);
        SNN_SFX(snn_axpy)(Pt, cu->dEdy + kk, Myc + kk * Pt, g, c);
      }
      if (N->probe && O->col[N->probe->idx] >= 0) { /* explain: the running sum and its factors */
        const SNN_SFX(snn_probe) *pr = N->probe;
        size_t col = (size_t)O->col[pr->idx], u = pr->unit;
        r_set(pr->sum + t, g + col, c);
        r_set(pr->trace + t, R[pr->layer].Mz[P1] + u * Pt + col, c);
        r_zero(pr->sig + t, c); /* dE/dz_u^t through the readout (top layer; 0 below) */
        for (size_t kk = 0; pr->layer == Ll && kk < K; kk++)
          r_fma(pr->sig + t, N->ro_w + kk * nL + u, cu->dEdy + kk, pr->sig + t, c);
      }
    }
    if (N->hook && N->hook->every && t % N->hook->every == 0 && t < s->T) { /* an online update */
      for (size_t i = 0; i < s->P; i++) r_zero(grad + i, c);
      SNN_SFX(snn_scatter_cols)(O, 0, Pt, g, grad, c);
      N->hook->fn(N->hook->ctx, t, grad);
      for (size_t q = 0; q < Pt; q++) r_zero(g + q, c);
    }
  }
  SNN_SFX(snn_online_finish)(O);
  SNN_SFX(snn_rate_signal)(N, O->zsum, r);
  for (size_t sb = 0; sb < B; sb++)
    for (size_t l = 0, j0 = sb * H; l < s->L; j0 += N->layers[l].n, l++)
      for (size_t i = 0; i < N->layers[l].n; i++)
        SNN_SFX(snn_axpy)(Pt, r + j0 + i, S->R[sb * s->L + l].Mzs + i * Pt, g, c);
  for (size_t i = 0; i < s->P; i++) r_zero(grad + i, c);
  SNN_SFX(snn_scatter_cols)(O, 0, Pt, g, grad, c);
  r_set(loss, O->loss, c);
  for (size_t sb = 1; sb < B; sb++) r_add(loss, loss, O->loss + sb, c);
  for (size_t l = 0, j = 0; l < s->L; j += N->layers[l].n, l++) {
    cross[l] = O->cross[l];
    spikes[l] = 0;
    for (size_t sb = 0; sb < B; sb++)
      for (size_t i = 0; i < N->layers[l].n; i++) spikes[l] += r_get_d(O->zsum + sb * H + j + i) * (double)s->T;
  }
  if (own) rstate_free(S, N);
  return st;
}

const struct SNN_SFX(snn_rule_impl) SNN_SFX(snn_rule_rtrl_impl) = {SNN_SFX(snn_rule_rtrl)};
