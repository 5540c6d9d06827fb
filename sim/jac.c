/* jac.c - storage for the per-unit local Jacobians of a layer. */
#include "sim/jac.h"

#include <string.h>

int SNN_SFX(snn_jac_init)(jacbuf *J, size_t n, int k, int m, int np, const rctx *c) {
  memset(J, 0, sizeof *J);
  size_t kk = (size_t)k, pp = (size_t)(np ? np : 1);
  J->dF_ds = vec_alloc(n * kk * kk, c);
  J->dF_dzr = vec_alloc(n * kk, c);
  J->dF_dzl = vec_alloc(n * kk, c);
  J->dF_dI = vec_alloc(n * kk * (size_t)m, c);
  J->dF_dp = vec_alloc(n * kk * pp, c);
  J->dU_ds = vec_alloc(n * kk, c);
  J->dU_dp = vec_alloc(n * pp, c);
  J->psi = vec_alloc(n, c);
  if (!J->dF_ds || !J->dF_dzr || !J->dF_dzl || !J->dF_dI || !J->dF_dp || !J->dU_ds || !J->dU_dp || !J->psi) {
    SNN_SFX(snn_jac_clear)(J, n, k, m, np, c);
    return SNN_ENOMEM;
  }
  return SNN_OK;
}

void SNN_SFX(snn_jac_clear)(jacbuf *J, size_t n, int k, int m, int np, const rctx *c) {
  size_t kk = (size_t)k, pp = (size_t)(np ? np : 1);
  vec_free(J->dF_ds, n * kk * kk, c);
  vec_free(J->dF_dzr, n * kk, c);
  vec_free(J->dF_dzl, n * kk, c);
  vec_free(J->dF_dI, n * kk * (size_t)m, c);
  vec_free(J->dF_dp, n * kk * pp, c);
  vec_free(J->dU_ds, n * kk, c);
  vec_free(J->dU_dp, n * pp, c);
  vec_free(J->psi, n, c);
  memset(J, 0, sizeof *J);
}

size_t SNN_SFX(snn_jac_count)(size_t n, int k, int m, int np) {
  size_t kk = (size_t)k, pp = (size_t)(np ? np : 1);
  return n * (kk * kk + 3 * kk + kk * (size_t)m + kk * pp + pp + 1);
}

void SNN_SFX(snn_jac_row)(const lay *L, const jacbuf *J, size_t b, jacbuf *out) {
  size_t u = b * L->n, k = (size_t)L->k, m = (size_t)L->m, np = (size_t)L->np;
  out->dF_ds = J->dF_ds + u * k * k;
  out->dF_dzr = J->dF_dzr + u * k;
  out->dF_dzl = J->dF_dzl + u * k;
  out->dF_dI = J->dF_dI + u * k * m;
  out->dF_dp = J->dF_dp + u * k * np;
  out->dU_ds = J->dU_ds + u * k;
  out->dU_dp = J->dU_dp + u * np;
  out->psi = J->psi + u;
}

void SNN_SFX(snn_jac_fix)(const lay *L, const jacbuf *J, size_t B, rctx *c) {
  for (size_t b = 0; L->cell->jac_fixed && b < B; b++) {
    jacbuf row;
    SNN_SFX(snn_jac_row)(L, J, b, &row);
    L->cell->jac_fixed(L, &row, c);
  }
}

void SNN_SFX(snn_jac_step)(const lay *L, const relt *sp, const relt *zp, const relt *I, const relt *s, const relt *u,
                           const relt *z, jacbuf *J, rctx *c) {
  (L->cell->jac_step ? L->cell->jac_step : L->cell->jac)(L, sp, zp, I, s, u, z, J, c);
}
