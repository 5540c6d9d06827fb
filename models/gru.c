/* gru.c - the GRU cell to which OSTL's generic form applies (Bohnstingl et
 * al. 2023), non-spiking (z^t = h^t, psi = 1), currents r, u, n_x, n_h
 * (n_h = W_hn h^{t-1} + b_hn), state h:
 *   n^t = tanh(I_nx + sigma(I_r) I_nh),   h^t = (1 - sigma(I_u)) n^t + sigma(I_u) h^{t-1}
 *
 * h^{t-1} reaches the gates through the recurrent projections (z^{t-1}); the
 * own-state term u h^{t-1} is the state Jacobian.  No reset path, no neuron
 * constants.  Scratch: c->cell[] (no spike function). */
#include <math.h>

#include "models/act.h"
#include "models/model.h"

static void gru_gates(const lay *L, size_t i, const relt *I, relt *rg, relt *ug, relt *ng, rctx *c) {
  size_t n = L->n;
  snn_sigm(rg, I + i, c);
  snn_sigm(ug, I + n + i, c);
  r_fma(ng, rg, I + 3 * n + i, I + 2 * n + i, c);
  r_tanh(ng, ng, c);
}

static void gru_step(const lay *L, const relt *sp, const relt *zp, const relt *I, relt *s, relt *u, relt *z, rctx *c) {
  (void)zp;
  relt *rg = c->cell[0], *ug = c->cell[1], *ng = c->cell[2], *t = c->cell[3];
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
  relt *rg = c->cell[0], *ug = c->cell[1], *ng = c->cell[2], *dn = c->cell[3], *a = c->cell[4];
  size_t n = L->n;
  for (size_t i = 0; i < n; i++) {
    gru_gates(L, i, I, rg, ug, ng, c);
    relt *f = J->dF_dI + i * 4;
    r_set(J->dF_ds + i, ug, c);
    snn_dtanh(dn, ng, c);
    r_d_sub(a, 1.0, ug, c);
    r_mul(dn, dn, a, c); /* dh/d(pre-activation of n) = (1 - u)(1 - n^2) */
    snn_dsig(a, rg, c);
    r_mul(a, a, I + 3 * n + i, c);
    r_mul(f + 0, dn, a, c); /* dh/dI_r */
    snn_dsig(a, ug, c);
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

const cell_type SNN_SFX(snn_cell_gru) = {"gru", 1, 0, snn_no_derive, gru_step, gru_jac, NULL, NULL, NULL};

#ifndef SNN_MPFR
/* The descriptor (models/model.h): compiled once, with the double build. */
SNN_MODEL_CELLS(gru);
const snn_model_type snn_model_gru = {
    .name = "gru",
    .defaults = SNN_NO_DEFAULTS,
    .reset = SNN_RESET_NONE,
    .shape = {4, 3, {0, 1, 2}, 3, {0, 1, 3}, 1, 1, 0, 0, {{0}}},
    .cell_d = &snn_cell_gru_d,
    .cell_mp = &snn_cell_gru_mp,
};
#endif
