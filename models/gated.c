/* gated.c - the gated recurrent cells to which OSTL's generic form applies
 * (Bohnstingl et al. 2023): LSTM and GRU, non-spiking (z^t = h^t, psi = 1).
 *
 * lstm, currents i, f, g, o (PyTorch's order), state (c, h):
 *   c^t = sigma(I_f) c^{t-1} + sigma(I_i) tanh(I_g),   h^t = sigma(I_o) tanh(c^t)
 * gru, currents r, u, n_x, n_h (n_h = W_hn h^{t-1} + b_hn), state h:
 *   n^t = tanh(I_nx + sigma(I_r) I_nh),   h^t = (1 - sigma(I_u)) n^t + sigma(I_u) h^{t-1}
 *
 * h^{t-1} reaches the gates through the recurrent projections (z^{t-1});
 * GRU's own-state term u h^{t-1} is the state Jacobian.  Neither cell has a
 * reset path or neuron constants.  Scratch: t[1]..t[7] (no spike function). */
#include <math.h>

#include "sim/net.h"

static void sigm(relt *r, const relt *a, rctx *c) {
  r_neg(r, a, c);
  r_exp(r, r, c);
  r_add_d(r, r, 1.0, c);
  r_d_div(r, 1.0, r, c);
}

/* d sigma = s (1 - s) */
static void dsig(relt *r, const relt *s, rctx *c) {
  r_d_sub(r, 1.0, s, c);
  r_mul(r, r, s, c);
}

/* d tanh = 1 - t^2 */
static void dtanh(relt *r, const relt *t, rctx *c) {
  r_mul(r, t, t, c);
  r_d_sub(r, 1.0, r, c);
}

static void no_derive(lay *L, rctx *c) {
  (void)L;
  (void)c;
}

/* ---- lstm ---- */
enum { LC, LH, LK };

static void lstm_gates(const lay *L, size_t i, const relt *I, relt *ig, relt *fg, relt *gg, relt *og, rctx *c) {
  size_t n = L->n;
  sigm(ig, I + i, c);
  sigm(fg, I + n + i, c);
  r_tanh(gg, I + 2 * n + i, c);
  sigm(og, I + 3 * n + i, c);
}

static void lstm_step(const lay *L, const relt *sp, const relt *zp, const relt *I, relt *s, relt *u, relt *z, rctx *c) {
  (void)zp;
  relt *ig = c->t[3], *fg = c->t[4], *gg = c->t[5], *og = c->t[6], *t = c->t[7];
  for (size_t i = 0; i < L->n; i++) {
    lstm_gates(L, i, I, ig, fg, gg, og, c);
    r_mul(t, ig, gg, c);
    r_fma(s + i * LK + LC, fg, sp + i * LK + LC, t, c);
    r_tanh(t, s + i * LK + LC, c);
    r_mul(s + i * LK + LH, og, t, c);
    r_set(u + i, s + i * LK + LH, c);
    r_set(z + i, u + i, c);
  }
}

static void lstm_jac(const lay *L, const relt *sp, const relt *zp, const relt *I, const relt *s, const relt *u,
                     const relt *z, jacbuf *J, rctx *c) {
  (void)zp, (void)u, (void)z;
  relt *ig = c->t[3], *fg = c->t[4], *gg = c->t[5], *og = c->t[6], *tc = c->t[7], *a = c->t[1], *hc = c->t[2];
  const size_t m = 4;
  for (size_t i = 0; i < L->n; i++) {
    lstm_gates(L, i, I, ig, fg, gg, og, c);
    r_tanh(tc, s + i * LK + LC, c);
    dtanh(hc, tc, c);
    r_mul(hc, hc, og, c); /* dh/dc = o (1 - tanh^2 c) */
    relt *fs = J->dF_ds + i * LK * LK, *fc = J->dF_dI + (i * LK + LC) * m, *fh = J->dF_dI + (i * LK + LH) * m;
    r_set(fs + LC * LK + LC, fg, c);
    r_zero(fs + LC * LK + LH, c);
    r_mul(fs + LH * LK + LC, hc, fg, c);
    r_zero(fs + LH * LK + LH, c);
    dsig(a, ig, c);
    r_mul(fc + 0, a, gg, c); /* dc/dI_i */
    dsig(a, fg, c);
    r_mul(fc + 1, a, sp + i * LK + LC, c); /* dc/dI_f */
    dtanh(a, gg, c);
    r_mul(fc + 2, a, ig, c); /* dc/dI_g */
    r_zero(fc + 3, c);
    for (size_t q = 0; q < 3; q++) r_mul(fh + q, hc, fc + q, c);
    dsig(a, og, c);
    r_mul(fh + 3, a, tc, c); /* dh/dI_o */
    for (size_t k = 0; k < LK; k++) {
      r_zero(J->dF_dzr + i * LK + k, c);
      r_zero(J->dF_dzl + i * LK + k, c);
    }
    r_zero(J->dU_ds + i * LK + LC, c);
    r_set_d(J->dU_ds + i * LK + LH, 1.0, c);
    r_set_d(J->psi + i, 1.0, c);
  }
}

const cell_type SNN_SFX(snn_cell_lstm) = {"lstm", LK, 0, no_derive, lstm_step, lstm_jac};

/* ---- gru ---- */
static void gru_gates(const lay *L, size_t i, const relt *I, relt *rg, relt *ug, relt *ng, rctx *c) {
  size_t n = L->n;
  sigm(rg, I + i, c);
  sigm(ug, I + n + i, c);
  r_fma(ng, rg, I + 3 * n + i, I + 2 * n + i, c);
  r_tanh(ng, ng, c);
}

static void gru_step(const lay *L, const relt *sp, const relt *zp, const relt *I, relt *s, relt *u, relt *z, rctx *c) {
  (void)zp;
  relt *rg = c->t[3], *ug = c->t[4], *ng = c->t[5], *t = c->t[6];
  for (size_t i = 0; i < L->n; i++) {
    gru_gates(L, i, I, rg, ug, ng, c);
    /* h = n + u (h_prev - n) */
    r_sub(t, sp + i, ng, c);
    r_fma(s + i, ug, t, ng, c);
    r_set(u + i, s + i, c);
    r_set(z + i, u + i, c);
  }
}

static void gru_jac(const lay *L, const relt *sp, const relt *zp, const relt *I, const relt *s, const relt *u,
                    const relt *z, jacbuf *J, rctx *c) {
  (void)zp, (void)s, (void)u, (void)z;
  relt *rg = c->t[3], *ug = c->t[4], *ng = c->t[5], *dn = c->t[6], *a = c->t[7];
  size_t n = L->n;
  for (size_t i = 0; i < n; i++) {
    gru_gates(L, i, I, rg, ug, ng, c);
    relt *f = J->dF_dI + i * 4;
    r_set(J->dF_ds + i, ug, c);
    dtanh(dn, ng, c);
    r_d_sub(a, 1.0, ug, c);
    r_mul(dn, dn, a, c); /* dh/d(pre-activation of n) = (1 - u)(1 - n^2) */
    dsig(a, rg, c);
    r_mul(a, a, I + 3 * n + i, c);
    r_mul(f + 0, dn, a, c); /* dh/dI_r */
    dsig(a, ug, c);
    r_sub(f + 1, sp + i, ng, c);
    r_mul(f + 1, f + 1, a, c); /* dh/dI_u */
    r_set(f + 2, dn, c);       /* dh/dI_nx */
    r_mul(f + 3, dn, rg, c);   /* dh/dI_nh */
    r_zero(J->dF_dzr + i, c);
    r_zero(J->dF_dzl + i, c);
    r_set_d(J->dU_ds + i, 1.0, c);
    r_set_d(J->psi + i, 1.0, c);
  }
}

const cell_type SNN_SFX(snn_cell_gru) = {"gru", 1, 0, no_derive, gru_step, gru_jac};
