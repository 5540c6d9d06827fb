/* adlif.c - adaptive LIF with learned adaptation (Bittar & Garner 2022,
 * sparch's RadLIF; the base model of Deckers et al. 2024):
 *
 *   w^t = beta w^{t-1} + a u^{t-1} + b z^{t-1}                        (adaptation)
 *   u^t = alpha (u^{t-1} - v_th z^{t-1}) + (1 - alpha) (I^t - w^t)    (subtractive reset)
 *   z^t = spike(u^t - v_th)
 *
 * alpha = exp(-dt/tau_mem), beta = exp(-dt/tau_adapt).  State per unit:
 * (u, w).  Constants: tau_mem, threshold, tau_adapt, a, b.  The reset path is
 * -alpha v_th z^{t-1}; the adaptation paths b z^{t-1} (into w and, through
 * w^t, into u) are local and never detached.
 *
 * Bounds (bounds() below): with "clamp" the forward pass uses the parameter
 * clamped to its range and the derivative is 0 outside it (torch.clamp); with
 * "project" or "none" the value is used as it is ("project" requires it to be
 * inside, the projection belonging to the update step). */
#include <math.h>

#include "models/model.h"
#include "sim/spike.h"

enum { P_TAU, P_THR, P_TAUA, P_A, P_B, NP };
enum { U, W, K };
/* derived: alpha, alpha' (gated), beta, beta' (gated), a, gate_a, b, gate_b */
enum { D_AL, D_DAL, D_BE, D_DBE, D_A, D_GA, D_B, D_GB, ND };

/* The value used by the forward pass, and whether its derivative passes. */
static int bounded(const lay *L, int cidx, const relt *p, relt *out, rctx *c) {
  double lo, hi;
  L->ls->mt->bounds(cidx, L->ls->dt, &lo, &hi);
  r_set(out, p, c);
  if (L->ls->bounds != SNN_BOUNDS_CLAMP || lo > hi) return 1;
  if (r_cmp_d(p, lo) < 0) return r_set_d(out, lo, c), 0;
  if (r_cmp_d(p, hi) > 0) return r_set_d(out, hi, c), 0;
  return 1;
}

/* decay = exp(-dt/tau) and its derivative in tau (0 when clamped away). */
static void decay(const lay *L, int cidx, const relt *tau, relt *d, relt *dd, rctx *c) {
  relt *t = c->cell[0];
  int pass = bounded(L, cidx, tau, t, c);
  r_d_div(d, -L->spec->dt, t, c);
  r_exp(d, d, c);
  if (!pass) {
    r_zero(dd, c);
    return;
  }
  r_mul(dd, t, t, c);
  r_d_div(dd, L->spec->dt, dd, c);
  r_mul(dd, dd, d, c);
}

static void derive(lay *L, rctx *c) {
  for (size_t i = 0; i < L->n; i++) {
    relt *d = L->d + i * ND;
    decay(L, P_TAU, L->p[P_TAU] + i, d + D_AL, d + D_DAL, c);
    decay(L, P_TAUA, L->p[P_TAUA] + i, d + D_BE, d + D_DBE, c);
    r_set_si(d + D_GA, bounded(L, P_A, L->p[P_A] + i, d + D_A, c), c);
    r_set_si(d + D_GB, bounded(L, P_B, L->p[P_B] + i, d + D_B, c), c);
  }
}

/* adlif_sparch: the decays are the parameters themselves (sparch's alpha and
 * beta), so d alpha / d parameter = 1 (0 where clamped). */
static void derive_direct(lay *L, rctx *c) {
  for (size_t i = 0; i < L->n; i++) {
    relt *d = L->d + i * ND;
    r_set_si(d + D_DAL, bounded(L, P_TAU, L->p[P_TAU] + i, d + D_AL, c), c);
    r_set_si(d + D_DBE, bounded(L, P_TAUA, L->p[P_TAUA] + i, d + D_BE, c), c);
    r_set_si(d + D_GA, bounded(L, P_A, L->p[P_A] + i, d + D_A, c), c);
    r_set_si(d + D_GB, bounded(L, P_B, L->p[P_B] + i, d + D_B, c), c);
  }
}

SNN_FMA_CLONES static void step(const lay *L, const relt *sp, const relt *zp, const relt *I, relt *s, relt *u, relt *z,
                                rctx *c) {
  for (size_t i = 0; i < L->n; i++) {
    R_LOCAL(t, c->cell[1]);
    R_LOCAL(om, c->cell[2]);
    const relt *d = L->d + i * ND, *thr = L->p[P_THR] + i;
    relt *ui = s + i * K + U, *wi = s + i * K + W;
    /* w = beta w + a u + b z */
    r_mul(t, d + D_B, zp + i, c);
    r_fma(t, d + D_A, sp + i * K + U, t, c);
    r_fma(wi, d + D_BE, sp + i * K + W, t, c);
    /* u = alpha (u - v_th z) + (1 - alpha)(I - w) */
    r_d_sub(om, 1.0, d + D_AL, c);
    r_sub(t, I + i, wi, c);
    r_mul(t, om, t, c);
    r_mul(om, thr, zp + i, c);
    r_sub(om, sp + i * K + U, om, c);
    r_fma(ui, d + D_AL, om, t, c);
    r_sub(u + i, ui, thr, c);
    spike_fwd(z + i, u + i, L->spec, c);
  }
}

SNN_FMA_CLONES static void jac(const lay *L, const relt *sp, const relt *zp, const relt *I, const relt *s,
                               const relt *u, const relt *z, jacbuf *J, rctx *c) {
  for (size_t i = 0; i < L->n; i++) {
    R_LOCAL(om, c->cell[1]);
    R_LOCAL(t, c->cell[2]);
    R_LOCAL(q, c->cell[3]);
    const relt *d = L->d + i * ND, *thr = L->p[P_THR] + i;
    const relt *up = sp + i * K + U, *wp = sp + i * K + W;
    r_d_sub(om, 1.0, d + D_AL, c); /* 1 - alpha */
    relt *fs = J->dF_ds + i * K * K;
    /* w row: dw/du = a, dw/dw = beta */
    r_set(fs + W * K + U, d + D_A, c);
    r_set(fs + W * K + W, d + D_BE, c);
    /* u row: du/du = alpha - (1-alpha) a, du/dw = -(1-alpha) beta */
    r_mul(t, om, d + D_A, c);
    r_sub(fs + U * K + U, d + D_AL, t, c);
    r_mul(t, om, d + D_BE, c);
    r_neg(fs + U * K + W, t, c);
    /* z^{t-1}: reset -alpha v_th into u; local b into w and -(1-alpha) b into u */
    r_mul(t, d + D_AL, thr, c);
    r_neg(J->dF_dzr + i * K + U, t, c);
    r_zero(J->dF_dzr + i * K + W, c);
    r_set(J->dF_dzl + i * K + W, d + D_B, c);
    r_mul(t, om, d + D_B, c);
    r_neg(J->dF_dzl + i * K + U, t, c);
    r_set(J->dF_dI + i * K + U, om, c);
    r_zero(J->dF_dI + i * K + W, c);
    relt *pu = J->dF_dp + (i * K + U) * NP, *pw = J->dF_dp + (i * K + W) * NP;
    /* tau_mem: du = alpha' [(u - v_th z) - (I - w^t)] */
    r_mul(q, thr, zp + i, c);
    r_sub(q, up, q, c);
    r_sub(t, I + i, s + i * K + W, c);
    r_sub(q, q, t, c);
    r_mul(pu + P_TAU, d + D_DAL, q, c);
    r_zero(pw + P_TAU, c);
    /* threshold: du = -alpha z */
    r_mul(t, d + D_AL, zp + i, c);
    r_neg(pu + P_THR, t, c);
    r_zero(pw + P_THR, c);
    /* tau_adapt: dw = beta' w^{t-1}, du = -(1-alpha) dw */
    r_mul(pw + P_TAUA, d + D_DBE, wp, c);
    r_mul(t, om, pw + P_TAUA, c);
    r_neg(pu + P_TAUA, t, c);
    /* a: dw = u^{t-1} (gated), b: dw = z^{t-1} (gated) */
    r_mul(pw + P_A, d + D_GA, up, c);
    r_mul(t, om, pw + P_A, c);
    r_neg(pu + P_A, t, c);
    r_mul(pw + P_B, d + D_GB, zp + i, c);
    r_mul(t, om, pw + P_B, c);
    r_neg(pu + P_B, t, c);
    r_set_d(J->dU_ds + i * K + U, 1.0, c);
    r_zero(J->dU_ds + i * K + W, c);
    relt *dp = J->dU_dp + i * NP;
    for (int p = 0; p < NP; p++) r_zero(dp + p, c);
    r_set_d(dp + P_THR, -1.0, c);
  }
  spike_psi_n(J->psi, u, z, L->p[P_THR], L->n, L->spec, c);
}

/* initial_state "uniform", as sparch's adLIF cell starts every sequence:
 * u^0, w^0 and the previous output z^0 drawn independently from U(0, 1)
 * (torch.rand; z^0 is a real number there, not a spike, and enters step 1
 * through the reset and the adaptation as z^{t-1} does) */
static void init(const lay *L, const double *u, relt *s0, relt *z0, rctx *c) {
  size_t n = L->n;
  for (size_t i = 0; i < n; i++) {
    r_set_d(s0 + i * K + U, u[i], c);
    r_set_d(s0 + i * K + W, u[n + i], c);
    r_set_d(z0 + i, u[2 * n + i], c);
  }
}

const cell_type SNN_SFX(snn_cell_adlif) = {"adlif", K, ND, derive, step, jac, init, NULL, NULL};
const cell_type SNN_SFX(snn_cell_adlif_sparch) = {"adlif_sparch", K, ND, derive_direct, step, jac, init, NULL, NULL};

#ifndef SNN_MPFR
/* sparch's RadLIF bounds its decays, alpha in [e^-1/5, e^-1/25] and beta in
 * [e^-1/30, e^-1/120], whatever the step; with alpha = exp(-dt/tau) these are
 * tau_mem in [5, 25] and tau_adapt in [30, 120] steps, that is times dt in
 * the file's time unit.  a in [-1, 1], b in [0, 2].  lo > hi: unbounded. */
static void bounds(int cidx, double dt, double *lo, double *hi) {
  static const double B[SNN_MAXCONST][2] = {{5, 25}, {1, 0}, {30, 120}, {-1, 1}, {0, 2}};
  int time = cidx == 0 || cidx == 2; /* tau_mem, tau_adapt */
  *lo = B[cidx][0] * (time ? dt : 1.0);
  *hi = B[cidx][1] * (time ? dt : 1.0);
}
#endif

#ifndef SNN_MPFR
/* adlif_sparch's bounds are sparch's own, on the decays per step:
 * alpha in [e^-1/5, e^-1/25], beta_adapt in [e^-1/30, e^-1/120]. */
static void bounds_direct(int cidx, double dt, double *lo, double *hi) {
  (void)dt;
  if (cidx == 0 || cidx == 2) {
    *lo = exp(-1.0 / (cidx == 0 ? 5.0 : 30.0));
    *hi = exp(-1.0 / (cidx == 0 ? 25.0 : 120.0));
    return;
  }
  bounds(cidx, 1.0, lo, hi);
}

/* The descriptor (models/model.h): compiled once, with the double build. */
SNN_MODEL_CELLS(adlif);
const snn_model_type snn_model_adlif = {
    .name = "adlif",
    .keys = 1u << SNN_KEY_TAU_MEM | 1u << SNN_KEY_THRESHOLD | 1u << SNN_KEY_TAU_ADAPT | 1u << SNN_KEY_A |
            1u << SNN_KEY_B | 1u << SNN_KEY_BOUNDS,
    .defaults = {NAN, NAN, 60.0, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN},
    .nconst = 5,
    .consts = {"tau_mem", "threshold", "tau_adapt", "a", "b"},
    .const_key = {SNN_KEY_TAU_MEM, SNN_KEY_THRESHOLD, SNN_KEY_TAU_ADAPT, SNN_KEY_A, SNN_KEY_B},
    .const_factor = {1, 1, 1, 1, 1},
    .const_range = {SNN_RANGE_TIME, SNN_RANGE_POSITIVE, SNN_RANGE_TIME, SNN_RANGE_ANY, SNN_RANGE_ANY},
    .reset = SNN_RESET_SUBTRACT,
    .initial_uniform = "u, w and z^0 ~ U(0, 1) each (sparch's adLIF cell)",
    .input_scale_1ma = 1,
    .bounds = bounds,
    .shape = {1, 1, {0}, 1, {0}, 0, 0, 1, 0, {{0}}},
    .cell_d = &snn_cell_adlif_d,
    .cell_mp = &snn_cell_adlif_mp,
};
#endif

#ifndef SNN_MPFR
/* adlif_sparch: the same cell, parametrised as the sparch code trains it
 * (docs/adlif.md): the decays alpha and beta_adapt are the constants. */
SNN_MODEL_CELLS(adlif_sparch);
const snn_model_type snn_model_adlif_sparch = {
    .name = "adlif_sparch",
    .keys = 1u << SNN_KEY_ALPHA | 1u << SNN_KEY_THRESHOLD | 1u << SNN_KEY_BETA_ADAPT | 1u << SNN_KEY_A |
            1u << SNN_KEY_B | 1u << SNN_KEY_BOUNDS,
    .defaults = SNN_NO_DEFAULTS,
    .nconst = 5,
    .consts = {"alpha", "threshold", "beta_adapt", "a", "b"},
    .const_key = {SNN_KEY_ALPHA, SNN_KEY_THRESHOLD, SNN_KEY_BETA_ADAPT, SNN_KEY_A, SNN_KEY_B},
    .const_factor = {1, 1, 1, 1, 1},
    .const_range = {SNN_RANGE_UNIT, SNN_RANGE_POSITIVE, SNN_RANGE_UNIT, SNN_RANGE_ANY, SNN_RANGE_ANY},
    .reset = SNN_RESET_SUBTRACT,
    .initial_uniform = "u, w and z^0 ~ U(0, 1) each (sparch's adLIF cell)",
    .input_scale_1ma = 1,
    .bounds = bounds_direct,
    .shape = {1, 1, {0}, 1, {0}, 0, 0, 1, 0, {{0}}},
    .cell_d = &snn_cell_adlif_sparch_d,
    .cell_mp = &snn_cell_adlif_sparch_mp,
};
#endif
