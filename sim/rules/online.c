/* online.c - the stepping shared by the forward-in-time rules. */
#include "sim/rules/online.h"

#include <stdlib.h>
#include <string.h>

int SNN_SFX(snn_online_init)(online *o, const net *N) {
  const snn_spec *s = N->spec;
  rctx *c = N->c;
  size_t Bc = N->Bcap;
  memset(o, 0, sizeof *o);
  o->N = N;
  o->c = c;
  o->bcap = Bc;
  size_t per = s->n_out * 2;
  for (size_t l = 0; l < s->L; l++) {
    const lay *L = &N->layers[l];
    per += L->n * (size_t)(L->k + 2 + L->m) + (L->ndl ? (L->ndl - 1) * L->nprev : 0);
  }
  o->nstore = 2 * per * Bc;
  o->store = vec_alloc(o->nstore, c);
  size_t H = SNN_SFX(snn_nhidden)(s);
  o->zsum = vec_alloc(Bc * H, c);
  o->loss = vec_alloc(Bc, c);
  o->cross = calloc(s->L, sizeof *o->cross);
  o->col = malloc(s->P * sizeof *o->col);
  o->flat = malloc((s->P ? s->P : 1) * sizeof *o->flat);
  if (!o->store || !o->zsum || !o->loss || !o->cross || !o->col || !o->flat) goto oom;
  relt *p = o->store;
  for (int b = 0; b < 2; b++) {
    for (size_t l = 0; l < s->L; l++) {
      size_t n = N->layers[l].n * Bc;
      o->sl[b].s[l] = p, p += n * (size_t)N->layers[l].k;
      o->sl[b].z[l] = p, p += n;
      o->sl[b].I[l] = p, p += n * (size_t)N->layers[l].m;
      o->sl[b].u[l] = p, p += n;
      size_t nh = N->layers[l].ndl ? (N->layers[l].ndl - 1) * N->layers[l].nprev * Bc : 0;
      o->sl[b].h[l] = nh ? p : NULL, p += nh;
      o->sl[b].bn[l] = NULL; /* batch_norm is refused by the online rules */
    }
    o->sl[b].y = p, p += s->n_out * Bc;
    o->sl[b].dEdy = p, p += s->n_out * Bc;
    o->sl[b].bnro = NULL;
  }
  for (size_t i = 0; i < s->P; i++) o->col[i] = -1;
  for (size_t b = 0; b < s->nblk; b++)
    if (s->blk[b].trainable)
      for (size_t i = 0; i < s->blk[b].rows * s->blk[b].cols; i++) {
        o->flat[o->Pt] = s->blk[b].off + i;
        o->col[s->blk[b].off + i] = (long)o->Pt++;
      }
  size_t jc = 0;
  for (size_t l = 0; l < s->L; l++) {
    const lay *L = &N->layers[l];
    if (SNN_SFX(snn_jac_init)(&o->J[l], Bc * L->n, L->k, L->m, L->np, c) ||
        SNN_SFX(snn_jac_init)(&o->Jp[l], Bc * L->n, L->k, L->m, L->np, c))
      goto oom;
    jc += 2 * SNN_SFX(snn_jac_count)(Bc * L->n, L->k, L->m, L->np);
  }
  /* heap only: the struct itself lives with the caller */
  o->bytes = SNN_SFX(snn_real_bytes)(c) * (o->nstore + Bc * (H + 1) + jc) + s->P * (sizeof *o->col + sizeof *o->flat) +
             s->L * sizeof *o->cross;
  SNN_SFX(snn_slot_start)(N, &o->sl[0]);
  SNN_SFX(snn_vzero)(Bc * H, o->zsum, c);
  return SNN_OK;
oom:
  SNN_SFX(snn_online_clear)(o);
  return SNN_ENOMEM;
}

void SNN_SFX(snn_online_clear)(online *o) {
  if (!o->N) return;
  const snn_spec *s = o->N->spec;
  rctx *c = o->c;
  size_t Bc = o->bcap;
  for (size_t l = 0; l < s->L; l++) {
    const lay *L = &o->N->layers[l];
    if (o->J[l].psi) SNN_SFX(snn_jac_clear)(&o->J[l], Bc * L->n, L->k, L->m, L->np, c);
    if (o->Jp[l].psi) SNN_SFX(snn_jac_clear)(&o->Jp[l], Bc * L->n, L->k, L->m, L->np, c);
  }
  vec_free(o->store, o->nstore, c);
  vec_free(o->zsum, Bc * SNN_SFX(snn_nhidden)(s), c);
  vec_free(o->loss, Bc, c);
  free(o->cross);
  free(o->col);
  free(o->flat);
  memset(o, 0, sizeof *o);
}

void SNN_SFX(snn_online_reset)(online *o) {
  SNN_SFX(snn_vzero)(o->nstore, o->store, o->c);
  SNN_SFX(snn_slot_start)(o->N, &o->sl[0]); /* the initial state, if the network draws one */
  SNN_SFX(snn_vzero)(o->bcap * SNN_SFX(snn_nhidden)(o->N->spec), o->zsum, o->c);
  SNN_SFX(snn_vzero)(o->bcap, o->loss, o->c);
  for (size_t l = 0; l < o->N->spec->L; l++) o->cross[l] = 0;
  o->jgen = 0; /* (B may differ from the previous call's) */
}

void SNN_SFX(snn_online_step)(online *o, size_t t, const slot **prev, const slot **cur) {
  const net *N = o->N;
  const snn_spec *s = N->spec;
  const slot *a = &o->sl[(t - 1) & 1], *b = &o->sl[t & 1];
  SNN_SFX(snn_step)(N, t, a, b, o->loss, o->zsum, o->cross);
  /* split Jacobians: the fixed parts again after the parameters changed
   * (an online update derives the network) or a reset */
  int refix = o->jgen != N->gen + 1;
  for (size_t l = 0; refix && l < s->L; l++) {
    SNN_SFX(snn_jac_fix)(&N->layers[l], &o->J[l], N->B, o->c);
    SNN_SFX(snn_jac_fix)(&N->layers[l], &o->Jp[l], N->B, o->c);
  }
  o->jgen = N->gen + 1;
  for (size_t l = 0; l < s->L; l++) {
    const lay *L = &N->layers[l];
    jacbuf sw = o->Jp[l], Jb;
    o->Jp[l] = o->J[l];
    o->J[l] = sw;
    size_t n = L->n, k = (size_t)L->k, m = (size_t)L->m;
    for (size_t r = 0; r < N->B; r++) {
      SNN_SFX(snn_jac_row)(L, &o->J[l], r, &Jb);
      SNN_SFX(snn_jac_step)
      (L, a->s[l] + r * n * k, a->z[l] + r * n, b->I[l] + r * n * m, b->s[l] + r * n * k, b->u[l] + r * n,
       b->z[l] + r * n, &Jb, o->c);
    }
  }
  *prev = a;
  *cur = b;
}

void SNN_SFX(snn_scatter_cols)(const online *o, size_t c0, size_t W, const relt *v, relt *grad, rctx *c) {
  for (size_t q = 0; q < W; q++) {
    relt *g = grad + o->flat[c0 + q];
    r_add(g, g, v + q, c);
  }
}

void SNN_SFX(snn_online_finish)(online *o) {
  SNN_SFX(snn_rate_finish)(o->N, o->zsum, o->zsum, o->loss);
}
