/* snu.c - spiking neural unit, OSTL form (SPEC.md section 3; Wozniak et al.
 * 2020, Bohnstingl et al. 2023).
 *
 *   s^t = g(I^t + l s^{t-1} (1 - y^{t-1})),   I^t = W_in x^t + W_rec y^{t-1}
 *   u^t = s^t + b,  y^t = spike(u^t)
 *
 * g is identity or relu; the gate (1 - y^{t-1}) is the reset, cut by
 * gradient.reset=detach.  Constants: decay l, bias b.  The surrogate's v_th is 1. */
#include <math.h>

#include "models/model.h"
#include "sim/spike.h"

enum { P_DECAY, P_BIAS, NP };

/* arg = I + l s^{t-1} (1 - y^{t-1}); returns 1 if g passes it (g' = 1). */
static int argument(const lay *L, size_t i, const relt *sp, const relt *zp, const relt *I, relt *arg, rctx *c) {
  relt *t = c->cell[0];
  r_d_sub(t, 1.0, zp + i, c);
  r_mul(t, t, sp + i, c);
  r_fma(arg, L->p[P_DECAY] + i, t, I + i, c);
  return !L->ls->act_relu || r_sgn(arg) > 0;
}

static void derive(lay *L, rctx *c) {
  (void)L;
  (void)c;
}

SNN_FMA_CLONES static void step(const lay *L, const relt *sp, const relt *zp, const relt *I, relt *s, relt *u, relt *z,
                                rctx *c) {
  relt *arg = c->cell[1];
  for (size_t i = 0; i < L->n; i++) {
    if (argument(L, i, sp, zp, I, arg, c))
      r_set(s + i, arg, c);
    else
      r_zero(s + i, c);
    r_add(u + i, s + i, L->p[P_BIAS] + i, c);
    spike_fwd(z + i, u + i, L->spec, c);
  }
}

SNN_FMA_CLONES static void jac(const lay *L, const relt *sp, const relt *zp, const relt *I, const relt *s,
                               const relt *u, const relt *z, jacbuf *J, rctx *c) {
  (void)s;
  relt *arg = c->cell[1], *gate = c->cell[2];
  for (size_t i = 0; i < L->n; i++) {
    int pass = argument(L, i, sp, zp, I, arg, c);
    relt *p = J->dF_dp + i * NP;
    r_zero(p + P_BIAS, c);
    if (pass) {
      r_d_sub(gate, 1.0, zp + i, c);
      r_mul(J->dF_ds + i, L->p[P_DECAY] + i, gate, c);    /* l (1 - y) */
      r_mul(J->dF_dzr + i, L->p[P_DECAY] + i, sp + i, c); /* -l s^{t-1} */
      r_neg(J->dF_dzr + i, J->dF_dzr + i, c);
      r_set_d(J->dF_dI + i, 1.0, c);
      r_mul(p + P_DECAY, sp + i, gate, c); /* s^{t-1} (1 - y) */
    } else {
      r_zero(J->dF_ds + i, c);
      r_zero(J->dF_dzr + i, c);
      r_zero(J->dF_dI + i, c);
      r_zero(p + P_DECAY, c);
    }
    r_zero(J->dF_dzl + i, c);
    r_set_d(J->dU_ds + i, 1.0, c);
    r_zero(J->dU_dp + i * NP + P_DECAY, c);
    r_set_d(J->dU_dp + i * NP + P_BIAS, 1.0, c);
    spike_psi(J->psi + i, u + i, z + i, c->cell[3], L->spec, c);
  }
}

/* The surrogate's threshold is 1 for snu: kept in scratch c->cell[3] during jac. */
SNN_FMA_CLONES static void jac_snu(const lay *L, const relt *sp, const relt *zp, const relt *I, const relt *s,
                                   const relt *u, const relt *z, jacbuf *J, rctx *c) {
  r_set_d(c->cell[3], 1.0, c);
  jac(L, sp, zp, I, s, u, z, J, c);
}

const cell_type SNN_SFX(snn_cell_snu) = {"snu", 1, 0, derive, step, jac_snu, NULL, NULL, NULL};

#ifndef SNN_MPFR
/* The descriptor (models/model.h): compiled once, with the double build. */
SNN_MODEL_CELLS(snu);
const snn_model_type snn_model_snu = {
    .name = "snu",
    .keys = 1u << SNN_KEY_DECAY | 1u << SNN_KEY_THRESHOLD | 1u << SNN_KEY_ACTIVATION,
    .defaults = SNN_NO_DEFAULTS,
    .nconst = 2,
    .consts = {"decay", "bias"},
    .const_key = {SNN_KEY_DECAY, SNN_KEY_THRESHOLD},
    .const_factor = {1, -1},
    .const_range = {SNN_RANGE_UNIT, SNN_RANGE_ANY},
    .train_default = 1u << 1,
    .in_params_always = 1u << 1,
    .reset = SNN_RESET_GATE,
    .shape = {1, 1, {0}, 1, {0}, 0, 0, 1, 0, {{0}}},
    .cell_d = &snn_cell_snu_d,
    .cell_mp = &snn_cell_snu_mp,
};
#endif
