/* ltc.c - the liquid-time-constant spiking neuron of Yin, Corradi & Bohte
 * (Nat Mach Intell 2023; docs/models.md, ltc):
 *
 *   tau_m^t = sigma(J_m^t),  J_m = W_tau_m [I^t, u^{t-1}] + b_m     (a mix, see snn.h)
 *   tau_a^t = sigma(J_a^t),  J_a = W_tau_adp [I^t, b^{t-1}] + b_a
 *   b^t  = tau_a b^{t-1} + (1 - tau_a) z^{t-1}
 *   v^t  = (1 - tau_m) u^{t-1} + tau_m I^t,   u^{t-1} = (1 - z^{t-1}) v^{t-1}  (reset to zero)
 *   z^t  = spike(v^t - theta^t),  theta^t = b0 + beta b^t
 *
 * The stored state is (v, b) with v the membrane before the reset; the reset
 * of step t-1 is applied when step t reads it, so that z^{t-1} -> v^t is the
 * reset path (cut by gradient.reset=detach) and z^{t-1} -> b^t the local
 * adaptation path (never cut).  Constants: threshold (b0) and beta. */
#include <math.h>

#include "models/act.h"
#include "models/model.h"
#include "sim/spike.h"

enum { P_B0, P_BETA, NP };
enum { V, B, K };

SNN_FMA_CLONES static void step(const lay *L, const relt *sp, const relt *zp, const relt *I, relt *s, relt *u, relt *z,
                                rctx *c) {
  size_t n = L->n;
  for (size_t i = 0; i < n; i++) {
    R_LOCAL(tm, c->cell[0]);
    R_LOCAL(ta, c->cell[1]);
    R_LOCAL(up, c->cell[2]);
    R_LOCAL(t, c->cell[3]);
    snn_sigm(tm, I + n + i, c);
    snn_sigm(ta, I + 2 * n + i, c);
    /* b = z + ta (b_prev - z) */
    r_sub(t, sp + i * K + B, zp + i, c);
    r_fma(s + i * K + B, ta, t, zp + i, c);
    /* v = u_prev + tm (I - u_prev) */
    r_d_sub(up, 1.0, zp + i, c);
    r_mul(up, up, sp + i * K + V, c);
    r_sub(t, I + i, up, c);
    r_fma(s + i * K + V, tm, t, up, c);
    /* u = v - b0 - beta b */
    r_mul(t, L->p[P_BETA] + i, s + i * K + B, c);
    r_add(t, t, L->p[P_B0] + i, c);
    r_sub(u + i, s + i * K + V, t, c);
    spike_fwd(z + i, u + i, L->spec, c);
  }
}

SNN_FMA_CLONES static void jac(const lay *L, const relt *sp, const relt *zp, const relt *I, const relt *s,
                               const relt *u, const relt *z, jacbuf *J, rctx *c) {
  size_t n = L->n, m = 3;
  for (size_t i = 0; i < n; i++) {
    R_LOCAL(tm, c->cell[0]);
    R_LOCAL(ta, c->cell[1]);
    R_LOCAL(up, c->cell[2]);
    R_LOCAL(a, c->cell[3]);
    R_LOCAL(om, c->cell[4]);
    snn_sigm(tm, I + n + i, c);
    snn_sigm(ta, I + 2 * n + i, c);
    r_d_sub(om, 1.0, tm, c);
    r_d_sub(up, 1.0, zp + i, c);
    relt *fs = J->dF_ds + i * K * K, *fv = J->dF_dI + (i * K + V) * m, *fb = J->dF_dI + (i * K + B) * m;
    r_mul(fs + V * K + V, om, up, c); /* (1 - tm)(1 - z) */
    r_zero(fs + V * K + B, c);
    r_zero(fs + B * K + V, c);
    r_set(fs + B * K + B, ta, c);
    r_mul(up, up, sp + i * K + V, c); /* u^{t-1} after the reset */
    /* z^{t-1}: the reset -(1 - tm) v^{t-1}; the adaptation 1 - ta */
    r_mul(a, om, sp + i * K + V, c);
    r_neg(J->dF_dzr + i * K + V, a, c);
    r_zero(J->dF_dzr + i * K + B, c);
    r_zero(J->dF_dzl + i * K + V, c);
    r_d_sub(J->dF_dzl + i * K + B, 1.0, ta, c);
    /* currents */
    r_set(fv + 0, tm, c);
    r_sub(a, I + i, up, c);
    r_mul(a, a, tm, c);
    r_mul(fv + 1, a, om, c); /* (I - u) tm (1 - tm) */
    r_zero(fv + 2, c);
    r_zero(fb + 0, c);
    r_zero(fb + 1, c);
    r_d_sub(a, 1.0, ta, c);
    r_mul(a, a, ta, c);
    r_sub(om, sp + i * K + B, zp + i, c);
    r_mul(fb + 2, a, om, c); /* (b - z) ta (1 - ta) */
    for (size_t k = 0; k < K * NP; k++) r_zero(J->dF_dp + i * K * NP + k, c);
    r_set_d(J->dU_ds + i * K + V, 1.0, c);
    r_neg(J->dU_ds + i * K + B, L->p[P_BETA] + i, c);
    r_set_d(J->dU_dp + i * NP + P_B0, -1.0, c);
    r_neg(J->dU_dp + i * NP + P_BETA, s + i * K + B, c);
  }
  spike_psi_n(J->psi, u, z, L->p[P_B0], n, L->spec, c);
}

/* initial_state "uniform", as the reference code's init_hidden: the membrane
 * v^0 ~ U(0, 1) and b^0 = b0, the threshold as the file gives it (a constant
 * of the sequence even when b0 is trained) */
static void init(const lay *L, const double *u, relt *s0, relt *z0, rctx *c) {
  (void)z0; /* the spikes before step 1 stay 0 */
  for (size_t i = 0; i < L->n; i++) {
    r_set_d(s0 + i * K + V, u[i], c);
    r_set_d(s0 + i * K + B, L->ls->consts[P_B0], c);
  }
}

const cell_type SNN_SFX(snn_cell_ltc) = {"ltc", K, 0, snn_no_derive, step, jac, init, NULL, NULL};

#ifndef SNN_MPFR
/* The descriptor (models/model.h): compiled once, with the double build. */
SNN_MODEL_CELLS(ltc);
const snn_model_type snn_model_ltc = {
    .name = "ltc",
    .keys = 1u << SNN_KEY_THRESHOLD | 1u << SNN_KEY_BETA,
    .defaults = {NAN, 0.1, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN},
    .nconst = 2,
    .consts = {"threshold", "beta"},
    .const_key = {SNN_KEY_THRESHOLD, SNN_KEY_BETA},
    .const_factor = {1, 1},
    .const_range = {SNN_RANGE_POSITIVE, SNN_RANGE_ANY},
    .reset = SNN_RESET_ZERO,
    .initial_uniform = "v ~ U(0, 1), b = threshold (Yin et al.'s init_hidden)",
    .shape = {3,
              1,
              {0},
              1,
              {0},
              1,
              0,
              1,
              2,
              {{"w_tau_m", 1, 2, {SNN_SRC_CUR, SNN_SRC_RSTATE}, {0, 0}},
               {"w_tau_adp", 2, 2, {SNN_SRC_CUR, SNN_SRC_STATE}, {0, 1}}}},
    .cell_d = &snn_cell_ltc_d,
    .cell_mp = &snn_cell_ltc_mp,
};
#endif
