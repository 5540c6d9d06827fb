/* spike.h - the spike function and its derivative (SPEC.md section 2). */
#ifndef SNN_SPIKE_H
#define SNN_SPIKE_H

#include "sim/net.h"

/* z = spike(u): heaviside (u > 0; u == 0 gives 0) or sigma(k u). */
static inline void spike_fwd(relt *z, const relt *u, const snn_spec *s, rctx *c) {
  if (s->forward == SNN_FWD_HEAVISIDE) {
    r_set_si(z, r_sgn(u) > 0, c);
    return;
  }
  R_LOCAL(e, c->spike[0]);
  r_mul_d(e, u, -s->slope, c);
  r_exp(e, e, c);
  r_add_d(e, e, 1.0, c);
  r_d_div(z, 1.0, e, c);
}

/* psi_i = dz_i/du_i for units 0..n-1 (u, z, vth and psi contiguous): for
 * the sigmoid forward exact, k z (1 - z), otherwise the surrogate named in
 * the spec, vth_i being the unit's base threshold.  The choice is made once,
 * outside the loops, and no loop body branches, so that the double build
 * vectorises them; each element gets the scalar definition's operations. */
static inline void spike_psi_n(relt *psi, const relt *u, const relt *z, const relt *vth, size_t n, const snn_spec *s,
                               rctx *c) {
  if (s->forward == SNN_FWD_SIGMOID) {
    for (size_t i = 0; i < n; i++) {
      R_LOCAL(a, c->spike[0]);
      r_d_sub(a, 1.0, z + i, c);
      r_mul(a, a, z + i, c);
      r_mul_d(psi + i, a, s->slope, c);
    }
    return;
  }
  switch (s->surrogate) {
    case SNN_SURR_TRIANGLE: /* gamma/vth * max(0, 1 - |u|/vth) */
      for (size_t i = 0; i < n; i++) {
        R_LOCAL(a, c->spike[0]);
        R_LOCAL(b, c->spike[1]);
        /* |u| >= vth rounds |u|/vth to 1 or more: 0 kept, and in MPFR no
         * division made */
        int keep = 0;
        if (r_needed(r_cmpabs(u + i, vth + i) < 0)) {
          r_abs(a, u + i, c);
          r_div(a, a, vth + i, c);
          r_d_sub(a, 1.0, a, c);
          keep = r_sgn(a) > 0;
        }
        if (r_needed(keep)) {
          r_div(b, a, vth + i, c);
          r_mul_d(b, b, s->gamma, c);
        }
        r_keep(psi + i, keep, b, c);
      }
      return;
    case SNN_SURR_FAST_SIGMOID: /* 1 / (1 + k|u|)^2 */
      for (size_t i = 0; i < n; i++) {
        R_LOCAL(a, c->spike[0]);
        r_abs(a, u + i, c);
        r_mul_d(a, a, s->slope, c);
        r_add_d(a, a, 1.0, c);
        r_mul(a, a, a, c);
        r_d_div(psi + i, 1.0, a, c);
      }
      return;
    case SNN_SURR_SIGMOID: /* k sigma(ku) (1 - sigma(ku)) */
      for (size_t i = 0; i < n; i++) {
        R_LOCAL(a, c->spike[0]);
        R_LOCAL(b, c->spike[1]);
        r_mul_d(a, u + i, -s->slope, c);
        r_exp(a, a, c);
        r_add_d(a, a, 1.0, c);
        r_d_div(a, 1.0, a, c);
        r_d_sub(b, 1.0, a, c);
        r_mul(a, a, b, c);
        r_mul_d(psi + i, a, s->slope, c);
      }
      return;
    case SNN_SURR_MULTI_GAUSSIAN: { /* Yin et al.: gamma [(1+h) N(u; 0, s) - h N(u; s, 6s) - h N(u; -s, 6s)] */
      static const double sg = 0.3, hh = 0.15, wide = 6.0, gm = 0.5;
      static const double mu[3] = {0.0, 0.3, -0.3}, sd[3] = {0.3, 1.8, 1.8};
      static const double w[3] = {gm * (1 + hh), -gm * hh, -gm * hh};
      (void)sg, (void)wide;
      for (size_t i = 0; i < n; i++) {
        R_LOCAL(a, c->spike[0]);
        r_zero(psi + i, c);
        for (int q = 0; q < 3; q++) {
          r_add_d(a, u + i, -mu[q], c);
          r_div_d(a, a, sd[q], c);
          r_mul(a, a, a, c);
          r_mul_d(a, a, -0.5, c);
          r_exp(a, a, c);
          r_mul_d(a, a, w[q] / (sd[q] * 2.5066282746310002), c); /* sqrt(2 pi) */
          r_add(psi + i, psi + i, a, c);
        }
      }
      return;
    }
    case SNN_SURR_BOXCAR: /* sparch (after DECOLLE): 1 for -1/2 < u <= 1/2, else 0 */
      for (size_t i = 0; i < n; i++) r_set_si(psi + i, r_cmp_d(u + i, -0.5) > 0 && r_cmp_d(u + i, 0.5) <= 0, c);
      return;
    default: /* tanh: 1 - tanh(u)^2 */
      for (size_t i = 0; i < n; i++) {
        R_LOCAL(a, c->spike[0]);
        r_tanh(a, u + i, c);
        r_mul(a, a, a, c);
        r_d_sub(psi + i, 1.0, a, c);
      }
      return;
  }
}

/* The same for one unit. */
static inline void spike_psi(relt *psi, const relt *u, const relt *z, const relt *vth, const snn_spec *s, rctx *c) {
  spike_psi_n(psi, u, z, vth, 1, s, c);
}

#endif
