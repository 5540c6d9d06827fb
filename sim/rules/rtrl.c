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
  size_t n = L->n, k = (size_t)L->k, np = (size_t)L->np;
  int keep_reset = !s->detach_reset;
  relt *a = c->t[0];
  for (size_t i = 0; i < n; i++) {
    for (size_t cc = 0; cc < k; cc++) {
      relt *row = Msc + (i * k + cc) * W;
      for (size_t q = 0; q < W; q++) r_zero(row + q, c);
      for (size_t c2 = 0; c2 < k; c2++) SNN_SFX(snn_axpy)(W, J->dF_ds + (i * k + cc) * k + c2, Msp + (i * k + c2) * W, row, c);
      r_set(a, J->dF_dzl + i * k + cc, c);
      if (keep_reset) r_add(a, a, J->dF_dzr + i * k + cc, c);
      SNN_SFX(snn_axpy)(W, a, Mzp + i * W, row, c);
      SNN_SFX(snn_axpy)(W, J->dF_dI + i * k + cc, MI + i * W, row, c);
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

/* The immediate part of M_I for the layer's own weights, columns [c0, c0+W):
 * x_j^t for W_in[i][j], z_j^{t-1} for W_rec[i][j]. */
void SNN_SFX(snn_influence_direct)(const net *N, size_t l, const online *o, size_t c0, size_t W, const relt *x,
                                   const relt *zprev, relt *MI) {
  const snn_spec *s = N->spec;
  const lay *L = &N->layers[l];
  const snn_layer_spec *ls = L->ls;
  rctx *c = N->c;
  size_t n = L->n;
  const snn_block *bi = &s->blk[ls->blk_w_in];
  for (size_t i = 0; bi->trainable && i < n; i++)
    for (size_t j = 0; j < L->nprev; j++) {
      long col = o->col[bi->off + i * L->nprev + j] - (long)c0;
      r_add(MI + i * W + col, MI + i * W + col, x + j, c);
    }
  if (L->w_rec && s->blk[ls->blk_w_rec].trainable) {
    const snn_block *br = &s->blk[ls->blk_w_rec];
    for (size_t i = 0; i < n; i++)
      for (size_t j = 0; j < n; j++)
        if (j != i) {
          long col = o->col[br->off + i * n + j] - (long)c0;
          r_add(MI + i * W + col, MI + i * W + col, zprev + j, c);
        }
  }
}

int SNN_SFX(snn_rule_rtrl)(const net *N, const snn_rule *rule, relt *grad, relt *loss, size_t *cross, double *spikes, size_t *bytes,
                           snn_err *err) {
  const snn_spec *s = N->spec;
  rctx *c = N->c;
  if (rule->nopt)
    return snn_err_set(err, SNN_EARG, "", "--rule", "rtrl takes no options, found '%s=%s'", rule->key[0], rule->val[0]);
  online o;
  if (SNN_SFX(snn_online_init)(&o, N)) return snn_err_set(err, SNN_ENOMEM, s->path, "", "out of memory");
  size_t Pt = o.Pt, K = s->n_out, H = SNN_SFX(snn_nhidden)(s);
  rlay *R = calloc(s->L, sizeof *R);
  relt *My[2] = {vec_alloc(K * Pt, c), vec_alloc(K * Pt, c)}, *g = vec_alloc(Pt, c), *r = vec_alloc(H, c);
  size_t cnt = 2 * K * Pt + Pt + H;
  int ok = R && My[0] && My[1] && g && r;
  for (size_t l = 0; ok && l < s->L; l++) {
    size_t n = N->layers[l].n, k = (size_t)N->layers[l].k;
    R[l].Ms[0] = vec_alloc(n * k * Pt, c);
    R[l].Ms[1] = vec_alloc(n * k * Pt, c);
    R[l].Mz[0] = vec_alloc(n * Pt, c);
    R[l].Mz[1] = vec_alloc(n * Pt, c);
    R[l].MI = vec_alloc(n * Pt, c);
    R[l].Mzs = vec_alloc(n * Pt, c);
    ok = R[l].Ms[0] && R[l].Ms[1] && R[l].Mz[0] && R[l].Mz[1] && R[l].MI && R[l].Mzs;
    cnt += n * Pt * (2 * k + 4);
  }
  int st = SNN_OK;
  if (!ok) {
    st = snn_err_set(err, SNN_ENOMEM, s->path, "", "out of memory (RTRL keeps %zu x %zu influence matrices)", H, Pt);
    goto out;
  }
  if (bytes) *bytes = o.bytes + cnt * SNN_SFX(snn_real_bytes)(c) + s->L * sizeof *R;
  int keep_rec = !s->detach_rec;
  for (size_t t = 1; t <= s->T; t++) {
    const slot *pv, *cu;
    SNN_SFX(snn_online_step)(&o, t, &pv, &cu);
    int P0 = (int)((t - 1) & 1), P1 = (int)(t & 1);
    const relt *x = N->x + (t - 1) * s->n_in;
    for (size_t l = 0; l < s->L; l++) {
      const lay *L = &N->layers[l];
      const jacbuf *J = &o.J[l];
      size_t n = L->n;
      relt *MI = R[l].MI, *Msp = R[l].Ms[P0], *Msc = R[l].Ms[P1], *Mzp = R[l].Mz[P0], *Mzc = R[l].Mz[P1];
      if (l > 0)
        SNN_SFX(snn_gemm)(0, 0, n, Pt, L->nprev, L->w_in, L->nprev, R[l - 1].Mz[P1], Pt, 0, MI, Pt, c);
      else
        for (size_t i = 0; i < n * Pt; i++) r_zero(MI + i, c);
      if (L->w_rec && keep_rec) SNN_SFX(snn_gemm)(0, 0, n, Pt, n, L->w_rec, n, Mzp, Pt, 1, MI, Pt, c);
      SNN_SFX(snn_influence_direct)(N, l, &o, 0, Pt, x, pv->z[l], MI);
      SNN_SFX(snn_influence_layer)(N, l, J, &o, 0, Pt, Msp, Msc, Mzp, Mzc, MI, R[l].Mzs);
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
        long col = o.col[bw->off + kk * nL + j];
        r_add(Myc + kk * Pt + col, Myc + kk * Pt + col, cu->z[Ll] + j, c);
      }
      long col = o.col[bb->off + kk];
      r_add_d(Myc + kk * Pt + col, Myc + kk * Pt + col, 1.0, c);
      SNN_SFX(snn_axpy)(Pt, cu->dEdy + kk, Myc + kk * Pt, g, c);
    }
  }
  SNN_SFX(snn_online_finish)(&o);
  SNN_SFX(snn_rate_signal)(N, o.zsum, r);
  for (size_t l = 0, j0 = 0; l < s->L; j0 += N->layers[l].n, l++)
    for (size_t i = 0; i < N->layers[l].n; i++) SNN_SFX(snn_axpy)(Pt, r + j0 + i, R[l].Mzs + i * Pt, g, c);
  for (size_t i = 0; i < s->P; i++) r_zero(grad + i, c);
  SNN_SFX(snn_scatter_cols)(&o, 0, Pt, g, grad, c);
  r_set(loss, o.loss, c);
  for (size_t l = 0, j = 0; l < s->L; l++) {
    cross[l] = o.cross[l];
    spikes[l] = 0;
    for (size_t i = 0; i < N->layers[l].n; i++, j++) spikes[l] += r_get_d(o.zsum + j) * (double)s->T;
  }
out:
  for (size_t l = 0; R && l < s->L; l++) {
    size_t n = N->layers[l].n, k = (size_t)N->layers[l].k;
    vec_free(R[l].Ms[0], n * k * Pt, c);
    vec_free(R[l].Ms[1], n * k * Pt, c);
    vec_free(R[l].Mz[0], n * Pt, c);
    vec_free(R[l].Mz[1], n * Pt, c);
    vec_free(R[l].MI, n * Pt, c);
    vec_free(R[l].Mzs, n * Pt, c);
  }
  free(R);
  vec_free(My[0], K * Pt, c);
  vec_free(My[1], K * Pt, c);
  vec_free(g, Pt, c);
  vec_free(r, H, c);
  SNN_SFX(snn_online_clear)(&o);
  return st;
}
