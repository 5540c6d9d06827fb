/* jac.h - storage for per-unit local Jacobians (see net.h). */
#ifndef SNN_JAC_H
#define SNN_JAC_H
#include "sim/net.h"
int SNN_SFX(snn_jac_init)(jacbuf *J, size_t n, int k, int m, int np, const rctx *c);
void SNN_SFX(snn_jac_clear)(jacbuf *J, size_t n, int k, int m, int np, const rctx *c);
/* The view of row b of a batch's Jacobians (the n units of sequence b,
 * with layer L's k, m and np). */
void SNN_SFX(snn_jac_row)(const lay *L, const jacbuf *J, size_t b, jacbuf *out);
/* A cell with split Jacobians (jac_fixed, jac_step in net.h): the fixed
 * part of rows 0..B-1 of J, to make again whenever the parameters change;
 * nothing for a cell without the split. */
void SNN_SFX(snn_jac_fix)(const lay *L, const jacbuf *J, size_t B, rctx *c);
/* One row's Jacobians at a step, in a buffer whose fixed part snn_jac_fix
 * made for the current parameters: the cell's jac_step, or its whole jac. */
void SNN_SFX(snn_jac_step)(const lay *L, const relt *sp, const relt *zp, const relt *I, const relt *s, const relt *u,
                           const relt *z, jacbuf *J, rctx *c);
/* Number of scalars one buffer holds. */
size_t SNN_SFX(snn_jac_count)(size_t n, int k, int m, int np);
#endif
