/* act.h - the smooth activations the gated and liquid cells share, written
 * once against the scalar API (included by the cells that use them). */
#ifndef SNN_MODELS_ACT_H
#define SNN_MODELS_ACT_H

#include "sim/net.h"

/* r = 1 / (1 + e^-a) */
static inline void snn_sigm(relt *r, const relt *a, rctx *c) {
  r_neg(r, a, c);
  r_exp(r, r, c);
  r_add_d(r, r, 1.0, c);
  r_d_div(r, 1.0, r, c);
}

/* d sigma = s (1 - s) */
static inline void snn_dsig(relt *r, const relt *s, rctx *c) {
  r_d_sub(r, 1.0, s, c);
  r_mul(r, r, s, c);
}

/* d tanh = 1 - t^2 */
static inline void snn_dtanh(relt *r, const relt *t, rctx *c) {
  r_mul(r, t, t, c);
  r_d_sub(r, 1.0, r, c);
}

/* Cells without derived constants. */
static inline void snn_no_derive(lay *L, rctx *c) {
  (void)L;
  (void)c;
}

#endif
