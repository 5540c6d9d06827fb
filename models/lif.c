/* lif.c - leaky integrate-and-fire, e-prop form (SPEC.md section 3).
 *
 *   v^t = alpha v^{t-1} + zeta I^t - v_th z^{t-1}      (reset: subtract; none drops it)
 *   u^t = v^t - v_th,  z^t = spike(u^t)
 *
 * alpha = exp(-dt/tau_mem), zeta = 1 or 1 - alpha.  Constants: tau_mem, threshold.
 * Derived per unit: alpha, d alpha/d tau, zeta, d zeta/d tau. */
#include <math.h>

#include "models/model.h"
#include "sim/spike.h"

enum { P_TAU, P_THR };
enum { D_A, D_DA, D_Z, D_DZ, ND };

/* Shared with alif: the membrane decay and input scale from tau_mem. */
void SNN_SFX(snn_lif_derive_membrane)(lay *L, size_t nd, rctx *c) {
  const snn_spec *s = L->spec;
  for (size_t i = 0; i < L->n; i++) {
    relt *d = L->d + i * nd, *tau = L->p[P_TAU] + i;
    r_d_div(d + D_A, -s->dt, tau, c);
    r_exp(d + D_A, d + D_A, c);
    /* d alpha / d tau = alpha dt / tau^2 */
    r_mul(d + D_DA, tau, tau, c);
    r_d_div(d + D_DA, s->dt, d + D_DA, c);
    r_mul(d + D_DA, d + D_DA, d + D_A, c);
    if (L->ls->input_scale_1ma) {
      r_d_sub(d + D_Z, 1.0, d + D_A, c);
      r_neg(d + D_DZ, d + D_DA, c);
    } else {
      r_set_d(d + D_Z, 1.0, c);
      r_zero(d + D_DZ, c);
    }
  }
}

static void derive(lay *L, rctx *c) {
  SNN_SFX(snn_lif_derive_membrane)(L, ND, c);
}

SNN_FMA_CLONES static void step(const lay *L, const relt *sp, const relt *zp, const relt *I, relt *s, relt *u, relt *z,
                                rctx *c) {
  const int sub = L->ls->reset_subtract;
  const relt *dd = L->d, *thr = L->p[P_THR];
  for (size_t i = 0; i < L->n; i++) {
    R_LOCAL(a, c->cell[0]);
    const relt *d = dd + i * ND;
    r_mul(a, d + D_Z, I + i, c);
    r_fma(s + i, d + D_A, sp + i, a, c);
    if (sub) {
      r_mul(a, thr + i, zp + i, c);
      r_sub(s + i, s + i, a, c);
    }
    r_sub(u + i, s + i, thr + i, c);
    spike_fwd(z + i, u + i, L->spec, c);
  }
}

/* The Jacobians that depend on the parameters only (jac_fixed: the same at
 * every step) and those of one step (jac_step: dF/dp and psi); jac is the
 * two.  The loops are written so that the double build vectorises them
 * (the flags hoisted, each output through its own restrict pointer). */
SNN_FMA_CLONES static void jac_fixed(const lay *L, jacbuf *J, rctx *c) {
  enum { NP = 2 };
  const int sub = L->ls->reset_subtract;
  const relt *dd = L->d, *thr = L->p[P_THR];
  relt *restrict fs = J->dF_ds, *restrict fzr = J->dF_dzr, *restrict fzl = J->dF_dzl, *restrict fi = J->dF_dI;
  relt *restrict us = J->dU_ds, *restrict up = J->dU_dp;
  for (size_t i = 0; i < L->n; i++) {
    const relt *d = dd + i * ND;
    r_set(fs + i, d + D_A, c);
    if (sub)
      r_neg(fzr + i, thr + i, c);
    else
      r_zero(fzr + i, c);
    r_zero(fzl + i, c);
    r_set(fi + i, d + D_Z, c);
    r_set_d(us + i, 1.0, c);
    r_zero(up + i * NP + P_TAU, c);
    r_set_d(up + i * NP + P_THR, -1.0, c);
  }
}

SNN_FMA_CLONES static void jac_step(const lay *L, const relt *sp, const relt *zp, const relt *I, const relt *s,
                                    const relt *u, const relt *z, jacbuf *J, rctx *c) {
  (void)s;
  enum { NP = 2 };
  const int sub = L->ls->reset_subtract;
  const relt *dd = L->d, *thr = L->p[P_THR];
  relt *restrict fp = J->dF_dp, *psi = J->psi;
  for (size_t i = 0; i < L->n; i++) {
    const relt *d = dd + i * ND;
    /* d v / d tau = alpha' v^{t-1} + zeta' I ; d v / d v_th = -z^{t-1} */
    relt *p = fp + i * NP;
    r_mul(p + P_TAU, d + D_DA, sp + i, c);
    r_fma(p + P_TAU, d + D_DZ, I + i, p + P_TAU, c);
    if (sub)
      r_neg(p + P_THR, zp + i, c);
    else
      r_zero(p + P_THR, c);
  }
  spike_psi_n(psi, u, z, thr, L->n, L->spec, c);
}

static void jac(const lay *L, const relt *sp, const relt *zp, const relt *I, const relt *s, const relt *u,
                const relt *z, jacbuf *J, rctx *c) {
  jac_fixed(L, J, c);
  jac_step(L, sp, zp, I, s, u, z, J, c);
}

const cell_type SNN_SFX(snn_cell_lif) = {"lif", 1, ND, derive, step, jac, NULL, jac_fixed, jac_step};

#ifndef SNN_MPFR
/* The descriptor (models/model.h): compiled once, with the double build. */
SNN_MODEL_CELLS(lif);
const snn_model_type snn_model_lif = {
    .name = "lif",
    .keys = 1u << SNN_KEY_TAU_MEM | 1u << SNN_KEY_THRESHOLD | 1u << SNN_KEY_RESET | 1u << SNN_KEY_INPUT_SCALE,
    .defaults = SNN_NO_DEFAULTS,
    .nconst = 2,
    .consts = {"tau_mem", "threshold"},
    .const_key = {SNN_KEY_TAU_MEM, SNN_KEY_THRESHOLD},
    .const_factor = {1, 1},
    .const_range = {SNN_RANGE_TIME, SNN_RANGE_POSITIVE},
    .reset = SNN_RESET_KEY,
    .shape = {1, 1, {0}, 1, {0}, 0, 0, 1, 0, {{0}}},
    .cell_d = &snn_cell_lif_d,
    .cell_mp = &snn_cell_lif_mp,
};
#endif
