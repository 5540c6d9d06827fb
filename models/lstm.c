/* lstm.c - the LSTM cell to which OSTL's generic form applies (Bohnstingl et
 * al. 2023), non-spiking (z^t = h^t, psi = 1), currents i, f, g, o
 * (PyTorch's order), state (c, h):
 *   c^t = sigma(I_f) c^{t-1} + sigma(I_i) tanh(I_g),   h^t = sigma(I_o) tanh(c^t)
 *
 * h^{t-1} reaches the gates through the recurrent projections (z^{t-1}).  No
 * reset path, no neuron constants.  Scratch: c->cell[] and c->spike[] (it has no spike function). */
#include <math.h>

#include "models/act.h"
#include "models/model.h"

enum { LC, LH, LK };

static void lstm_gates(const lay *L, size_t i, const relt *I, relt *ig, relt *fg, relt *gg, relt *og, rctx *c) {
  size_t n = L->n;
  snn_sigm(ig, I + i, c);
  snn_sigm(fg, I + n + i, c);
  r_tanh(gg, I + 2 * n + i, c);
  snn_sigm(og, I + 3 * n + i, c);
}

static void lstm_step(const lay *L, const relt *sp, const relt *zp, const relt *I, relt *s, relt *u, relt *z, rctx *c) {
  (void)zp;
  relt *ig = c->cell[0], *fg = c->cell[1], *gg = c->cell[2], *og = c->cell[3], *t = c->cell[4];
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
  relt *ig = c->cell[0], *fg = c->cell[1], *gg = c->cell[2], *og = c->cell[3], *tc = c->cell[4], *a = c->spike[0],
       *hc = c->spike[1];
  const size_t m = 4;
  for (size_t i = 0; i < L->n; i++) {
    lstm_gates(L, i, I, ig, fg, gg, og, c);
    r_tanh(tc, s + i * LK + LC, c);
    snn_dtanh(hc, tc, c);
    r_mul(hc, hc, og, c); /* dh/dc = o (1 - tanh^2 c) */
    relt *fs = J->dF_ds + i * LK * LK, *fc = J->dF_dI + (i * LK + LC) * m, *fh = J->dF_dI + (i * LK + LH) * m;
    r_set(fs + LC * LK + LC, fg, c);
    r_zero(fs + LC * LK + LH, c);
    r_mul(fs + LH * LK + LC, hc, fg, c);
    r_zero(fs + LH * LK + LH, c);
    snn_dsig(a, ig, c);
    r_mul(fc + 0, a, gg, c); /* dc/dI_i */
    snn_dsig(a, fg, c);
    r_mul(fc + 1, a, sp + i * LK + LC, c); /* dc/dI_f */
    snn_dtanh(a, gg, c);
    r_mul(fc + 2, a, ig, c); /* dc/dI_g */
    r_zero(fc + 3, c);
    for (size_t q = 0; q < 3; q++) r_mul(fh + q, hc, fc + q, c);
    snn_dsig(a, og, c);
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

const cell_type SNN_SFX(snn_cell_lstm) = {"lstm", LK, 0, snn_no_derive, lstm_step, lstm_jac, NULL, NULL, NULL};

#ifndef SNN_MPFR
/* The descriptor (models/model.h): compiled once, with the double build. */
SNN_MODEL_CELLS(lstm);
const snn_model_type snn_model_lstm = {
    .name = "lstm",
    .defaults = SNN_NO_DEFAULTS,
    .reset = SNN_RESET_NONE,
    .shape = {4, 4, {0, 1, 2, 3}, 4, {0, 1, 2, 3}, 1, 1, 0, 0, {{0}}},
    .cell_d = &snn_cell_lstm_d,
    .cell_mp = &snn_cell_lstm_mp,
};
#endif
