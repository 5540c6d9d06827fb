/* jac.h - storage for per-unit local Jacobians (see net.h). */
#ifndef SNN_JAC_H
#define SNN_JAC_H
#include "sim/net.h"
int SNN_SFX(snn_jac_init)(jacbuf *J, size_t n, int k, int m, int np, const rctx *c);
void SNN_SFX(snn_jac_clear)(jacbuf *J, size_t n, int k, int m, int np, const rctx *c);
/* The view of row b of a batch's Jacobians (the n units of sequence b,
 * with layer L's k, m and np). */
void SNN_SFX(snn_jac_row)(const lay *L, const jacbuf *J, size_t b, jacbuf *out);
/* Number of scalars one buffer holds. */
size_t SNN_SFX(snn_jac_count)(size_t n, int k, int m, int np);
#endif
