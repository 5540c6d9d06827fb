/* alif.c - adaptive LIF, e-prop form (SPEC.md section 3).
 *
 *   a^t = rho a^{t-1} + z^{t-1}                         (never detached)
 *   v^t = alpha v^{t-1} + zeta I^t - v_th z^{t-1}      (the reset subtracts the BASE v_th)
 *   u^t = v^t - v_th - beta a^t,  z^t = spike(u^t)
 *
 * State per unit: (v, a).  Constants: tau_mem, threshold, tau_adapt, beta.
 * Derived: alpha, alpha', zeta, zeta' (as lif), rho, rho'. */
#include <math.h>

#include "models/model.h"
#include "sim/spike.h"

enum { P_TAU, P_THR, P_TAUA, P_BETA, NP };
enum { D_A, D_DA, D_Z, D_DZ, D_R, D_DR, ND };
enum { V, A, K };

void SNN_SFX(snn_lif_derive_membrane)(lay *L, size_t nd, rctx *c);

static void derive(lay *L, rctx *c) {
  SNN_SFX(snn_lif_derive_membrane)(L, ND, c);
  const snn_spec *s = L->spec;
  for (size_t i = 0; i < L->n; i++) {
    relt *d = L->d + i * ND, *tau = L->p[P_TAUA] + i;
    r_d_div(d + D_R, -s->dt, tau, c);
    r_exp(d + D_R, d + D_R, c);
    r_mul(d + D_DR, tau, tau, c);
    r_d_div(d + D_DR, s->dt, d + D_DR, c);
    r_mul(d + D_DR, d + D_DR, d + D_R, c);
  }
}

SNN_FMA_CLONES static void step(const lay *L, const relt *sp, const relt *zp, const relt *I, relt *s, relt *u, relt *z,
                                rctx *c) {
  for (size_t i = 0; i < L->n; i++) {
    R_LOCAL(t, c->cell[0]);
    const relt *d = L->d + i * ND, *thr = L->p[P_THR] + i;
    relt *v = s + i * K + V, *a = s + i * K + A;
    r_fma(a, d + D_R, sp + i * K + A, zp + i, c);
    r_mul(t, d + D_Z, I + i, c);
    r_fma(v, d + D_A, sp + i * K + V, t, c);
    if (L->ls->reset_subtract) {
      r_mul(t, thr, zp + i, c);
      r_sub(v, v, t, c);
    }
    r_sub(u + i, v, thr, c);
    r_mul(t, L->p[P_BETA] + i, a, c);
    r_sub(u + i, u + i, t, c);
    spike_fwd(z + i, u + i, L->spec, c);
  }
}

SNN_FMA_CLONES static void jac(const lay *L, const relt *sp, const relt *zp, const relt *I, const relt *s,
                               const relt *u, const relt *z, jacbuf *J, rctx *c) {
  for (size_t i = 0; i < L->n; i++) {
    const relt *d = L->d + i * ND, *thr = L->p[P_THR] + i;
    relt *fs = J->dF_ds + i * K * K;
    r_set(fs + V * K + V, d + D_A, c);
    r_zero(fs + V * K + A, c);
    r_zero(fs + A * K + V, c);
    r_set(fs + A * K + A, d + D_R, c);
    if (L->ls->reset_subtract)
      r_neg(J->dF_dzr + i * K + V, thr, c);
    else
      r_zero(J->dF_dzr + i * K + V, c);
    r_zero(J->dF_dzr + i * K + A, c);
    r_zero(J->dF_dzl + i * K + V, c);
    r_set_d(J->dF_dzl + i * K + A, 1.0, c);
    r_set(J->dF_dI + i * K + V, d + D_Z, c);
    r_zero(J->dF_dI + i * K + A, c);
    relt *pv = J->dF_dp + (i * K + V) * NP, *pa = J->dF_dp + (i * K + A) * NP;
    for (int p = 0; p < NP; p++) {
      r_zero(pv + p, c);
      r_zero(pa + p, c);
    }
    r_mul(pv + P_TAU, d + D_DA, sp + i * K + V, c);
    r_fma(pv + P_TAU, d + D_DZ, I + i, pv + P_TAU, c);
    if (L->ls->reset_subtract) r_neg(pv + P_THR, zp + i, c);
    r_mul(pa + P_TAUA, d + D_DR, sp + i * K + A, c);
    r_set_d(J->dU_ds + i * K + V, 1.0, c);
    r_neg(J->dU_ds + i * K + A, L->p[P_BETA] + i, c);
    relt *up = J->dU_dp + i * NP;
    r_zero(up + P_TAU, c);
    r_set_d(up + P_THR, -1.0, c);
    r_zero(up + P_TAUA, c);
    r_neg(up + P_BETA, s + i * K + A, c);
  }
  spike_psi_n(J->psi, u, z, L->p[P_THR], L->n, L->spec, c);
}

const cell_type SNN_SFX(snn_cell_alif) = {"alif", K, ND, derive, step, jac, NULL, NULL, NULL};

#ifndef SNN_MPFR
/* The descriptor (models/model.h): compiled once, with the double build. */
SNN_MODEL_CELLS(alif);
const snn_model_type snn_model_alif = {
    .name = "alif",
    .keys = 1u << SNN_KEY_TAU_MEM | 1u << SNN_KEY_THRESHOLD | 1u << SNN_KEY_TAU_ADAPT | 1u << SNN_KEY_BETA |
            1u << SNN_KEY_RESET | 1u << SNN_KEY_INPUT_SCALE,
    .defaults = SNN_NO_DEFAULTS,
    .nconst = 4,
    .consts = {"tau_mem", "threshold", "tau_adapt", "beta"},
    .const_key = {SNN_KEY_TAU_MEM, SNN_KEY_THRESHOLD, SNN_KEY_TAU_ADAPT, SNN_KEY_BETA},
    .const_factor = {1, 1, 1, 1},
    .const_range = {SNN_RANGE_TIME, SNN_RANGE_POSITIVE, SNN_RANGE_TIME, SNN_RANGE_ANY},
    .reset = SNN_RESET_KEY,
    .shape = {1, 1, {0}, 1, {0}, 0, 0, 1, 0, {{0}}},
    .cell_d = &snn_cell_alif_d,
    .cell_mp = &snn_cell_alif_mp,
};
#endif
