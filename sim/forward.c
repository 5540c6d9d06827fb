/* forward.c - building the numeric network and running one sequence forward
 * (SPEC.md sections 1, 3 and 4).
 *
 * The pass is layer-major: layer l at step t only needs layer l-1 at the same
 * step, so the input projection of a whole layer is one matrix product over
 * all steps (BLAS level 3 in double), and only the recurrent projection is
 * done step by step. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sim/net.h"

/* Set v[i] from the neutral number (decimal text if there is one). */
static void import(relt *v, const snn_nums *a, size_t n, rctx *c) {
  for (size_t i = 0; i < n; i++) {
    if (a->s && a->s[i] && r_set_str(v + i, a->s[i], c) == 0) continue;
    r_set_d(v + i, a->v[i], c);
  }
}

void SNN_SFX(snn_net_clear)(net *N) {
  if (!N || !N->spec) return;
  rctx *c = N->c;
  const snn_spec *s = N->spec;
  if (N->layers)
    for (size_t l = 0; l < s->L; l++) {
      lay *L = &N->layers[l];
      vec_free(L->d, L->n * L->cell->nd, c);
      size_t ns = (size_t)L->sh->nin * L->n * L->nprev;
      vec_free(L->kw, ns * L->ndl, c);
      vec_free(L->dkw, ns * L->ndl, c);
      vec_free(L->xd, ns, c);
      free(L->w_rect); /* double only: aligned_alloc */
    }
  free(N->layers);
  free(N->spk);
  vec_free(N->scr, N->nmax * N->Bcap, c);
  vec_free(N->bnp, N->bnmax * N->Bcap, c);
  vec_free(N->bnrec, 3 * N->bnmax + N->bnmax * N->Bcap, c);
  vec_free(N->theta, N->P, c);
  vec_free(N->x, s->T * N->Bcap * s->n_in, c);
  vec_free(N->y, s->T * N->Bcap * s->n_out, c);
  free(N->label);
  free(N->sid);
  free(N->uni);
  r_clear(N->kappa, c);
  memset(N, 0, sizeof *N);
}

/* Kernel weights of one synapse's delay over the taps d = 0..dmax and their
 * derivatives in the delay (docs/delays.md). */
static void delay_kernel(const lay *L, const relt *D, relt *kw, relt *dkw, rctx *c) {
  const snn_layer_spec *ls = L->ls;
  size_t nd = L->ndl, dmax = nd - 1;
  relt *v = c->leaf, *a = c->cell[0], *z = c->cell[1], *g = c->cell[2];
  int pass = 1;
  r_set(v, D, c);
  if (r_cmp_d(v, 0.0) < 0) r_zero(v, c), pass = 0;
  if (r_cmp_d(v, (double)dmax) > 0) r_set_d(v, (double)dmax, c), pass = 0;
  for (size_t d = 0; d < nd; d++) r_zero(kw + d, c), r_zero(dkw + d, c);
  if (ls->dround) { /* evaluation: one tap at the nearest integer, for either kernel */
    r_set_d(kw + (size_t)floor(r_get_d(v) + 0.5), 1.0, c);
    return;
  }
  if (ls->dkernel == SNN_DK_LINEAR) {
    double fl = floor(r_get_d(v));
    if (fl > (double)dmax - 1) fl = (double)dmax - 1;
    if (fl < 0) fl = 0;
    r_add_d(a, v, -fl, c); /* frac in [0, 1] */
    if (r_sgn(a) < 0) fl -= 1, r_add_d(a, a, 1.0, c);
    size_t f = (size_t)fl;
    r_d_sub(kw + f, 1.0, a, c);
    r_set(kw + f + 1, a, c);
    if (pass) r_set_d(dkw + f, -1.0, c), r_set_d(dkw + f + 1, 1.0, c);
    return;
  }
  /* gaussian: kw_d = e_d / sum e, e_d = exp(-(d - D)^2 / (2 sigma^2)) */
  double s2 = ls->dsigma * ls->dsigma;
  r_zero(z, c);
  for (size_t d = 0; d < nd; d++) {
    r_d_sub(a, (double)d, v, c);
    r_mul(kw + d, a, a, c);
    r_div_d(kw + d, kw + d, -2.0 * s2, c);
    r_exp(kw + d, kw + d, c);
    r_add(z, z, kw + d, c);
  }
  r_zero(g, c);
  for (size_t d = 0; d < nd; d++) {
    r_div(kw + d, kw + d, z, c);
    r_d_sub(a, (double)d, v, c);
    r_div_d(dkw + d, a, s2, c); /* d log e_d / dD */
    r_fma(g, kw + d, dkw + d, g, c);
  }
  for (size_t d = 0; d < nd; d++) {
    if (!pass) {
      r_zero(dkw + d, c);
      continue;
    }
    r_sub(a, dkw + d, g, c);
    r_mul(dkw + d, kw + d, a, c);
  }
}

void SNN_SFX(snn_net_derive)(net *N) {
  const snn_spec *s = N->spec;
  N->gen++;
  for (size_t l = 0; l < s->L; l++) {
    lay *L = &N->layers[l];
    L->cell->derive(L, N->c);
    size_t ns = (size_t)L->sh->nin * L->n * L->nprev;
    for (size_t q = 0; L->ndl && q < ns; q++)
      delay_kernel(L, L->delay + q, L->kw + q * L->ndl, L->dkw + q * L->ndl, N->c);
    size_t n = L->n;
    for (int r = 0; L->w_rect && r < L->sh->nrec; r++) { /* W_rec,r in panels of eight rows */
      const relt *w = L->w_rec + (size_t)r * n * n;
      relt *t = L->w_rect + (size_t)r * L->ldt;
      for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++) r_set(t + (i / 8) * 8 * n + 8 * j + i % 8, w + i * n + j, N->c);
    }
  }
  /* kappa = exp(-dt / tau_out), 0 when tau_out = 0 */
  if (s->tau_out > 0) {
    r_set_d(N->kappa, -s->dt, N->c);
    r_div_d(N->kappa, N->kappa, s->tau_out, N->c);
    r_exp(N->kappa, N->kappa, N->c);
  } else {
    r_zero(N->kappa, N->c);
  }
}

/* A normalised side from its four blocks (gamma, beta, mean, var): its F
 * features at offset 0 of records of F (callers widen FF and f0). */
static SNN_SFX(snn_bnview) bn_view(const net *N, const int *bk, double eps) {
  const snn_block *b = N->spec->blk;
  SNN_SFX(snn_bnview)
  q = {b[bk[0]].rows,
       0,
       b[bk[0]].rows,
       N->theta + b[bk[0]].off,
       N->theta + b[bk[1]].off,
       N->theta + b[bk[2]].off,
       N->theta + b[bk[3]].off,
       eps,
       bk};
  return q;
}

int SNN_SFX(snn_net_init)(net *N, const snn_spec *s, const snn_data *d, rctx *c) {
  memset(N, 0, sizeof *N);
  N->spec = s;
  N->c = c;
  N->P = s->P;
  N->B = N->Bcap = 1;
  r_init(N->kappa, c);
  size_t rb = SNN_SFX(snn_real_bytes)(c);
  N->theta = vec_alloc(s->P, c);
  N->x = vec_alloc(s->T * s->n_in, c);
  N->y = vec_alloc(s->T * s->n_out, c);
  N->layers = calloc(s->L, sizeof *N->layers);
  N->label = calloc(1, sizeof *N->label);
  N->sid = calloc(1, sizeof *N->sid);
  if (!N->theta || !N->x || !N->y || !N->layers || !N->label || !N->sid) goto oom;
  N->bytes = rb * (s->P + s->T * (s->n_in + s->n_out)) + s->L * sizeof *N->layers;
  import(N->theta, &d->theta, s->P, c);
  import(N->x, &d->x, s->T * s->n_in, c);
  if (s->loss == SNN_LOSS_MSE) import(N->y, &d->y, s->T * s->n_out, c);
  N->label[0] = d->label;
  for (size_t l = 0; l < s->L; l++) {
    lay *L = &N->layers[l];
    const snn_layer_spec *ls = &s->layers[l];
    L->spec = s;
    L->ls = ls;
    L->cell = ls->SNN_SFX(cell);
    L->n = ls->n;
    L->nprev = ls->nprev;
    L->sh = ls->sh;
    L->k = L->cell->k;
    L->m = ls->sh->m;
    L->np = ls->nconst;
    L->w_in = N->theta + s->blk[ls->blk_w_in].off;
    L->w_rec = ls->recurrent ? N->theta + s->blk[ls->blk_w_rec].off : NULL;
    for (int p = 0; p < L->np; p++) L->p[p] = N->theta + s->blk[ls->blk_const[p]].off;
    L->bias = ls->blk_bias >= 0 ? N->theta + s->blk[ls->blk_bias].off : NULL;
    L->bias_rec = ls->blk_bias_rec >= 0 ? N->theta + s->blk[ls->blk_bias_rec].off : NULL;
    for (int j = 0; j < L->sh->nmix; j++) L->mix[j] = N->theta + s->blk[ls->blk_mix[j]].off;
    L->bn = ls->bn;
    for (int side = 0; side < 2; side++)
      if (ls->blk_bn[side][0] >= 0) L->bs[side] = bn_view(N, ls->blk_bn[side], ls->bn_eps);
    L->bs[1].f0 = L->bs[0].F;
    L->bs[0].FF = L->bs[1].FF = L->bs[0].F + L->bs[1].F;
    if (L->bs[0].FF > N->bnmax) N->bnmax = L->bs[0].FF;
    L->d = vec_alloc(L->n * L->cell->nd, c);
    if (!L->d) goto oom;
    N->bytes += rb * L->n * L->cell->nd;
    if (L->n > N->nmax) N->nmax = L->n;
#ifndef SNN_MPFR
    if (L->w_rec) {
      /* panels of eight rows (a line per column), the last one's padding 0 */
      L->ldt = (L->n + 7) / 8 * 8 * L->n;
      size_t nw = (size_t)L->sh->nrec * L->ldt;
      if (!(L->w_rect = aligned_alloc(64, nw * sizeof *L->w_rect))) goto oom;
      memset(L->w_rect, 0, nw * sizeof *L->w_rect);
      N->bytes += rb * nw;
    }
#endif
    if (ls->delays) {
      size_t ns = (size_t)L->sh->nin * L->n * L->nprev;
      L->ndl = ls->dmax + 1;
      L->delay = N->theta + s->blk[ls->blk_delay].off;
      L->kw = vec_alloc(ns * L->ndl, c);
      L->dkw = vec_alloc(ns * L->ndl, c);
      L->xd = vec_alloc(ns, c);
      if (!L->kw || !L->dkw || !L->xd) goto oom;
      N->bytes += rb * ns * (2 * L->ndl + 1);
    }
  }
  if (s->ro_bn) {
    N->ro_bn = bn_view(N, s->blk_ro_bn, s->ro_bn_eps);
    if (s->n_out > N->bnmax) N->bnmax = s->n_out;
  }
  size_t kmax = 1;
  for (size_t l = 0; l < s->L; l++)
    if ((size_t)N->layers[l].k > kmax) kmax = (size_t)N->layers[l].k;
  if (!(N->scr = vec_alloc(N->nmax, c)) || !(N->spk = malloc((N->nmax + 1) * sizeof *N->spk)) ||
      !(N->uni = malloc(N->nmax * (kmax + 1) * sizeof *N->uni)))
    goto oom;
  N->bytes += rb * N->nmax + (N->nmax + 1) * sizeof *N->spk;
  if (N->bnmax && (!(N->bnp = vec_alloc(N->bnmax, c)) || !(N->bnrec = vec_alloc(4 * N->bnmax, c)))) goto oom;
  N->bytes += rb * 5 * N->bnmax;
  N->ro_w = N->theta + s->blk[s->blk_ro_w].off;
  N->ro_b = N->theta + s->blk[s->blk_ro_b].off;
  SNN_SFX(snn_net_derive)(N);
  return SNN_OK;
oom:
  SNN_SFX(snn_net_clear)(N);
  return SNN_ENOMEM;
}

int SNN_SFX(snn_net_batch)(net *N, size_t bcap) {
  const snn_spec *s = N->spec;
  rctx *c = N->c;
  if (bcap < 1) bcap = 1;
  relt *x = vec_alloc(s->T * bcap * s->n_in, c), *y = vec_alloc(s->T * bcap * s->n_out, c);
  relt *scr = vec_alloc(N->nmax * bcap, c);
  size_t F = N->bnmax;
  relt *bnp = F ? vec_alloc(F * bcap, c) : NULL, *bnrec = F ? vec_alloc(3 * F + F * bcap, c) : NULL;
  long *lab = calloc(bcap, sizeof *lab);
  unsigned long long *sid = calloc(bcap, sizeof *sid);
  uint32_t *spk = malloc(bcap * (N->nmax + 1) * sizeof *spk);
  if (!x || !y || !scr || !lab || !sid || !spk || (F && (!bnp || !bnrec))) {
    vec_free(x, s->T * bcap * s->n_in, c), vec_free(y, s->T * bcap * s->n_out, c), free(lab), free(sid), free(spk);
    vec_free(scr, N->nmax * bcap, c);
    vec_free(bnp, F * bcap, c), vec_free(bnrec, 3 * F + F * bcap, c);
    return SNN_ENOMEM;
  }
  size_t rb = SNN_SFX(snn_real_bytes)(c), row = rb * (s->T * (s->n_in + s->n_out) + N->nmax + 2 * F) +
                                                (N->nmax + 1) * sizeof *spk; /* per sequence of capacity */
  N->bytes -= N->Bcap * row;
  N->bytes += bcap * row;
  vec_free(N->x, s->T * N->Bcap * s->n_in, c), vec_free(N->y, s->T * N->Bcap * s->n_out, c), free(N->label);
  vec_free(N->scr, N->nmax * N->Bcap, c);
  vec_free(N->bnp, F * N->Bcap, c), vec_free(N->bnrec, 3 * F + F * N->Bcap, c);
  free(N->sid);
  free(N->spk);
  for (size_t b = 0; b < bcap; b++) sid[b] = b;
  N->x = x, N->y = y, N->scr = scr, N->label = lab, N->sid = sid, N->bnp = bnp, N->bnrec = bnrec, N->spk = spk;
  N->B = N->Bcap = bcap;
  return SNN_OK;
}

size_t SNN_SFX(snn_nhidden)(const snn_spec *s) {
  size_t h = 0;
  for (size_t l = 0; l < s->L; l++) h += s->layers[l].n;
  return h;
}

int SNN_SFX(snn_traj_init)(traj *tr, const net *N) {
  return SNN_SFX(snn_traj_init_len)(tr, N, N->spec->T);
}

int SNN_SFX(snn_traj_init_len)(traj *tr, const net *N, size_t len) {
  const snn_spec *s = N->spec;
  rctx *c = N->c;
  size_t Bc = N->Bcap, T1 = (len + 1) * Bc, rb = SNN_SFX(snn_real_bytes)(c);
  memset(tr, 0, sizeof *tr);
  tr->T = tr->cap = len;
  tr->bcap = Bc;
  tr->loss = vec_alloc(Bc, c);
  tr->s = calloc(s->L, sizeof *tr->s);
  tr->z = calloc(s->L, sizeof *tr->z);
  tr->I = calloc(s->L, sizeof *tr->I);
  tr->u = calloc(s->L, sizeof *tr->u);
  tr->h = calloc(s->L, sizeof *tr->h);
  tr->bn = calloc(s->L, sizeof *tr->bn);
  tr->crossings = calloc(s->L, sizeof *tr->crossings);
  if (!tr->loss || !tr->s || !tr->z || !tr->I || !tr->u || !tr->h || !tr->bn || !tr->crossings) goto oom;
  for (size_t l = 0; l < s->L; l++) {
    const lay *L = &N->layers[l];
    tr->s[l] = vec_alloc(T1 * L->n * L->k, c);
    tr->z[l] = vec_alloc(T1 * L->n, c);
    tr->I[l] = vec_alloc(T1 * L->n * L->m, c);
    tr->u[l] = vec_alloc(T1 * L->n, c);
    if (!tr->s[l] || !tr->z[l] || !tr->I[l] || !tr->u[l]) goto oom;
    tr->bytes += rb * T1 * L->n * (size_t)(L->k + 2 + L->m);
    if (L->ndl) {
      if (!(tr->h[l] = vec_alloc(T1 * (L->ndl - 1) * L->nprev, c))) goto oom;
      tr->bytes += rb * T1 * (L->ndl - 1) * L->nprev;
    }
    if (L->bn) {
      size_t nb = (len + 1) * SNN_SFX(snn_bn_rec)(L->bs[0].FF, Bc);
      if (!(tr->bn[l] = vec_alloc(nb, c))) goto oom;
      tr->bytes += rb * nb;
    }
  }
  tr->yo = vec_alloc(T1 * s->n_out, c);
  tr->dEdy = vec_alloc(T1 * s->n_out, c);
  tr->rate = vec_alloc(Bc * SNN_SFX(snn_nhidden)(s), c);
  if (!tr->yo || !tr->dEdy || !tr->rate) goto oom;
  if (N->ro_bn.F) {
    size_t nb = (len + 1) * SNN_SFX(snn_bn_rec)(s->n_out, Bc);
    if (!(tr->bnro = vec_alloc(nb, c))) goto oom;
    tr->bytes += rb * nb;
  }
  tr->bytes += rb * (2 * T1 * s->n_out + Bc * (SNN_SFX(snn_nhidden)(s) + 1));
  return SNN_OK;
oom:
  SNN_SFX(snn_traj_clear)(tr, N);
  return SNN_ENOMEM;
}

void SNN_SFX(snn_traj_clear)(traj *tr, const net *N) {
  if (!tr) return;
  const snn_spec *s = N->spec;
  rctx *c = N->c;
  size_t Bc = tr->bcap, T1 = (tr->cap + 1) * Bc;
  for (size_t l = 0; l < s->L; l++) {
    const lay *L = &N->layers[l];
    if (tr->s) vec_free(tr->s[l], T1 * L->n * L->k, c);
    if (tr->z) vec_free(tr->z[l], T1 * L->n, c);
    if (tr->I) vec_free(tr->I[l], T1 * L->n * L->m, c);
    if (tr->u) vec_free(tr->u[l], T1 * L->n, c);
    if (tr->h && L->ndl) vec_free(tr->h[l], T1 * (L->ndl - 1) * L->nprev, c);
    if (tr->bn && L->bn) vec_free(tr->bn[l], (tr->cap + 1) * SNN_SFX(snn_bn_rec)(L->bs[0].FF, Bc), c);
  }
  free(tr->h);
  free(tr->bn);
  free(tr->s);
  free(tr->z);
  free(tr->I);
  free(tr->u);
  free(tr->crossings);
  if (tr->bnro) vec_free(tr->bnro, (tr->cap + 1) * SNN_SFX(snn_bn_rec)(s->n_out, Bc), c);
  vec_free(tr->yo, T1 * s->n_out, c);
  vec_free(tr->dEdy, T1 * s->n_out, c);
  vec_free(tr->rate, Bc * SNN_SFX(snn_nhidden)(s), c);
  vec_free(tr->loss, Bc, c);
  memset(tr, 0, sizeof *tr);
}

/* The loss of step t (SPEC.md section 4) and its partial derivative
 * dE/dy_out^t, zero outside the window. */
SNN_FMA_CLONES void SNN_SFX(snn_step_loss)(const net *N, size_t t, size_t b, const relt *y, relt *g, relt *loss) {
  const snn_spec *s = N->spec;
  rctx *c = N->c;
  size_t K = s->n_out;
  relt *t0 = c->leaf, *mx = c->cell[0], *lse = c->cell[1], *e = c->cell[2];
  if (t < s->win_first || t > s->win_last) {
    for (size_t k = 0; k < K; k++) r_zero(g + k, c);
    return;
  }
  if (s->loss == SNN_LOSS_MSE) {
    const relt *ys = N->y + ((t - 1) * N->B + b) * K;
    for (size_t k = 0; k < K; k++) {
      r_sub(g + k, y + k, ys + k, c); /* dE/dy = y - y* */
      r_mul(t0, g + k, g + k, c);
      r_mul_d(t0, t0, 0.5, c);
      r_add(loss, loss, t0, c);
    }
    return;
  }
  /* log-sum-exp with the maximum taken out; dE/dy = softmax - onehot */
  r_set(mx, y, c);
  for (size_t k = 1; k < K; k++)
    if (r_cmp(y + k, mx) > 0) r_set(mx, y + k, c);
  r_zero(lse, c);
  for (size_t k = 0; k < K; k++) {
    r_sub(e, y + k, mx, c);
    r_exp(g + k, e, c);
    r_add(lse, lse, g + k, c);
  }
  for (size_t k = 0; k < K; k++) {
    r_div(g + k, g + k, lse, c);
    if ((long)k == N->label[b]) r_add_d(g + k, g + k, -1.0, c);
  }
  r_log(lse, lse, c);
  r_add(lse, lse, mx, c);
  r_sub(e, lse, y + N->label[b], c); /* -log softmax_label */
  r_add(loss, loss, e, c);
}

void SNN_SFX(snn_rate_finish)(const net *N, const relt *zsum, relt *rate, relt *loss) {
  const snn_spec *s = N->spec;
  rctx *c = N->c;
  relt *e = c->cell[2];
  size_t H = SNN_SFX(snn_nhidden)(s);
  for (size_t j = 0; j < N->B * H; j++) {
    r_div_d(rate + j, zsum + j, (double)s->T, c);
    if (!s->rate_reg) continue;
    r_add_d(e, rate + j, -s->reg_target, c);
    r_mul(e, e, e, c);
    r_mul_d(e, e, 0.5 * s->reg_c, c);
    r_add(loss + j / H, loss + j / H, e, c);
  }
}

void SNN_SFX(snn_rate_signal)(const net *N, const relt *rate, relt *r) {
  const snn_spec *s = N->spec;
  rctx *c = N->c;
  size_t H = SNN_SFX(snn_nhidden)(s);
  for (size_t j = 0; j < N->B * H; j++) {
    if (!s->rate_reg) {
      r_zero(r + j, c);
      continue;
    }
    r_add_d(r + j, rate + j, -s->reg_target, c);
    r_mul_d(r + j, r + j, s->reg_c, c);
    r_div_d(r + j, r + j, (double)s->T, c);
  }
}

/* A draw in [0, 1) (53 bits, exact at every precision), number i of layer
 * l in sequence sid (draw q of unit j is number q n + j): splitmix64 over the network's seed and the three
 * indices, so it depends on nothing else (threads, ranks, batch rows). */
static double snn_uniform01(unsigned long seed, unsigned long long sid, size_t l, size_t i) {
  uint64_t z = snn_mix64(snn_mix64(snn_mix64(snn_mix64((uint64_t)seed) ^ (uint64_t)sid) ^ (uint64_t)l) ^ (uint64_t)i);
  return (double)(z >> 11) * 0x1.0p-53;
}

void SNN_SFX(snn_slot_start)(const net *N, const slot *sl) {
  const snn_spec *s = N->spec;
  rctx *c = N->c;
  size_t B = N->B;
  for (size_t l = 0; l < s->L; l++) {
    const lay *L = &N->layers[l];
    SNN_SFX(snn_vzero)(B * L->n * (size_t)L->k, sl->s[l], c);
    SNN_SFX(snn_vzero)(B * L->n * (size_t)L->m, sl->I[l], c);
    SNN_SFX(snn_vzero)(B * L->n, sl->z[l], c);
    SNN_SFX(snn_vzero)(B * L->n, sl->u[l], c);
    if (L->ndl) SNN_SFX(snn_vzero)(B * (L->ndl - 1) * L->nprev, sl->h[l], c);
  }
  SNN_SFX(snn_vzero)(B * s->n_out, sl->y, c);
  SNN_SFX(snn_vzero)(B * s->n_out, sl->dEdy, c);
  for (size_t l = 0; l < s->L; l++) {
    const lay *L = &N->layers[l];
    if (!L->ls->init_uniform) continue;
    double *u = N->uni;
    size_t nq = L->n * ((size_t)L->k + 1);
    for (size_t b = 0; b < B; b++) {
      for (size_t q = 0; q < nq; q++) u[q] = snn_uniform01(s->seed, N->sid[b], l, q);
      L->cell->init(L, u, sl->s[l] + b * L->n * (size_t)L->k, sl->z[l] + b * L->n, c);
    }
  }
}

void SNN_SFX(snn_slot_row)(const net *N, const slot *sl, size_t b, slot *out) {
  const snn_spec *s = N->spec;
  for (size_t l = 0; l < s->L; l++) {
    const lay *L = &N->layers[l];
    size_t n = L->n, nh = L->ndl ? (L->ndl - 1) * L->nprev : 0;
    out->s[l] = sl->s[l] + b * n * (size_t)L->k;
    out->z[l] = sl->z[l] + b * n;
    out->I[l] = sl->I[l] + b * n * (size_t)L->m;
    out->u[l] = sl->u[l] + b * n;
    out->h[l] = nh ? sl->h[l] + b * nh : NULL;
    out->bn[l] = NULL; /* a record belongs to the whole batch */
  }
  out->y = sl->y + b * s->n_out;
  out->dEdy = sl->dEdy + b * s->n_out;
  out->bnro = NULL;
}

void *SNN_SFX(snn_keep_take)(const net *N, void (*release)(void *p, const net *N),
                             int (*fits)(const void *p, const net *N, const void *arg), const void *arg) {
  SNN_SFX(snn_keep) *k = N->keep;
  if (!k || !k->p || k->release != release) return NULL;
  if (fits(k->p, N, arg)) return k->p;
  release(k->p, N);
  k->p = NULL;
  return NULL;
}

int SNN_SFX(snn_keep_put)(const net *N, void *p, void (*release)(void *p, const net *N)) {
  SNN_SFX(snn_keep) *k = N->keep;
  if (!k || k->p) return 0;
  k->p = p, k->release = release;
  return 1;
}

void SNN_SFX(snn_traj_loss)(const net *N, const traj *tr, relt *out) {
  r_set(out, tr->loss, N->c);
  for (size_t b = 1; b < N->B; b++) r_add(out, out, tr->loss + b, N->c);
}

SNN_FMA_CLONES void SNN_SFX(snn_step)(const net *N, size_t t, const slot *prev, const slot *cur, relt *loss, relt *zsum,
                                      size_t *cross) {
  const snn_spec *s = N->spec;
  rctx *c = N->c;
  size_t B = N->B, H = SNN_SFX(snn_nhidden)(s), ldx = s->n_in;
  const relt *x = N->x + (t - 1) * B * s->n_in;
  size_t j0 = 0;
  slot pr, cr;
  for (size_t l = 0; l < s->L; l++) {
    const lay *L = &N->layers[l];
    size_t n = L->n, mn = n * (size_t)L->m;
    SNN_SFX(snn_currents)(N, l, t, x, prev, cur->I[l], cur->bn[l]);
    for (size_t b = 0; b < B; b++) {
      const relt *xb = x + b * ldx;
      SNN_SFX(snn_slot_row)(N, prev, b, &pr);
      SNN_SFX(snn_slot_row)(N, cur, b, &cr);
      if (L->ndl && L->ndl > 1) { /* shift the delay line: x^t in front */
        size_t np = L->nprev, nh = (L->ndl - 1) * np;
        for (size_t i = nh; i-- > np;) r_set(cr.h[l] + i, pr.h[l] + i - np, c);
        for (size_t j = 0; j < np; j++) r_set(cr.h[l] + j, xb + j, c);
      }
      L->cell->step(L, pr.s[l], pr.z[l], cur->I[l] + b * mn, cr.s[l], cr.u[l], cr.z[l], c);
      relt *zs = zsum + b * H + j0;
      for (size_t i = 0; i < n; i++) {
        cross[l] += r_sgn(cr.u[l] + i) > 0;
        r_add(zs + i, zs + i, cr.z[l] + i, c);
      }
    }
    j0 += n;
    x = cur->z[l];
    ldx = n;
  }
  /* readout: y^t = kappa y^{t-1} + W_out z_L^t + b */
  size_t K = s->n_out, nL = N->layers[s->L - 1].n;
  SNN_SFX(snn_rows)(0, B, K, nL, N->ro_w, nL, x, nL, 0, cur->y, K, c);
  if (N->ro_bn.F) SNN_SFX(snn_bn_forward)(N, &N->ro_bn, t, cur->y, K, cur->bnro ? cur->bnro : N->bnrec);
  for (size_t b = 0; b < B; b++) {
    relt *y = cur->y + b * K;
    const relt *yp = prev->y + b * K;
    for (size_t q = 0; q < K; q++) {
      r_add(y + q, y + q, N->ro_b + q, c);
      r_fma(y + q, N->kappa, yp + q, y + q, c);
    }
    SNN_SFX(snn_step_loss)(N, t, b, y, cur->dEdy + b * K, loss + b);
  }
}

void SNN_SFX(snn_delayed)(const lay *L, size_t row, size_t j, const relt *x, const relt *hp, int deriv, relt *out,
                          rctx *c) {
  const relt *k = (deriv ? L->dkw : L->kw) + (row * L->nprev + j) * L->ndl;
  r_mul(out, k, x + j, c);
  for (size_t d = 1; d < L->ndl; d++) r_fma(out, k + d, hp + (d - 1) * L->nprev + j, out, c);
}

const relt *SNN_SFX(snn_mix_src)(const lay *L, int mx, int src, size_t j, const relt *I, const relt *sp, const relt *zp,
                                 relt *tmp, rctx *c) {
  const snn_mix_shape *ms = &L->sh->mix[mx];
  size_t k = (size_t)L->k;
  switch (ms->kind[src]) {
    case SNN_SRC_CUR:
      return I + (size_t)ms->idx[src] * L->n + j;
    case SNN_SRC_STATE:
      return sp + j * k + (size_t)ms->idx[src];
    default: /* (1 - z^{t-1}) s_c^{t-1} */
      r_d_sub(tmp, 1.0, zp + j, c);
      r_mul(tmp, tmp, sp + j * k + (size_t)ms->idx[src], c);
      return tmp;
  }
}

/* With the batch's statistics when the network trains, else with the
 * running ones of step t; the record keeps 1/sqrt(var + eps) and the
 * normalised values, and in training the batch mean and unbiased variance. */
SNN_FMA_CLONES void SNN_SFX(snn_bn_forward)(const net *N, const SNN_SFX(snn_bnview) * q, size_t t, relt *P, size_t ld,
                                            relt *rec) {
  rctx *c = N->c;
  size_t B = N->B, F = q->F, FF = q->FF, f0 = q->f0;
  relt *inv = rec + f0, *mean = rec + FF + f0, *var = rec + 2 * FF + f0, *xh = rec + 3 * FF + f0;
  relt *d = c->cell[1];
  /* row by row over contiguous features; each feature's sums run over the
   * rows in order, as they would one feature at a time */
  if (N->bn_train) {
    SNN_SFX(snn_vzero)(F, mean, c);
    for (size_t b = 0; b < B; b++) SNN_SFX(snn_vadd)(F, P + b * ld, mean, c);
    for (size_t f = 0; f < F; f++) r_div_d(mean + f, mean + f, (double)B, c);
    SNN_SFX(snn_vzero)(F, var, c);
    for (size_t b = 0; b < B; b++)
      for (size_t f = 0; f < F; f++) {
        r_sub(d, P + b * ld + f, mean + f, c);
        r_fma(var + f, d, d, var + f, c);
      }
    for (size_t f = 0; f < F; f++) {
      r_div_d(inv + f, var + f, (double)B, c);                   /* biased, for the normalisation */
      r_div_d(var + f, var + f, (double)(B > 1 ? B - 1 : 1), c); /* unbiased, for the running statistics */
    }
  }
  /* the running statistics of step t (the record's mean and variance are
   * only the batch's, which only training reads) */
  const relt *mu = N->bn_train ? mean : q->m + (t - 1) * F, *vv = N->bn_train ? inv : q->v + (t - 1) * F;
  for (size_t f = 0; f < F; f++) {
    r_add_d(inv + f, vv + f, q->eps, c);
    r_sqrt(inv + f, inv + f, c);
    r_d_div(inv + f, 1.0, inv + f, c);
  }
  for (size_t b = 0; b < B; b++) {
    relt *p = P + b * ld, *xb = xh + b * FF;
    for (size_t f = 0; f < F; f++) {
      r_sub(d, p + f, mu + f, c);
      r_mul(xb + f, d, inv + f, c);
      r_fma(p + f, q->g + f, xb + f, q->b + f, c);
    }
  }
}

/* Recurrent projection r of layer l for the batch, z^{t-1} W_rec,r^T (+ Y
 * when acc): event-driven over the spikes when they are binary (double),
 * else one product. */
static void rec_rows(const net *N, const lay *L, int r, const relt *z, int acc, relt *Y, size_t ldy) {
  size_t n = L->n;
  if (L->w_rect && SNN_SFX(snn_rows_bin)(N->B, n, n, L->w_rect + (size_t)r * L->ldt, z, n, acc, Y, ldy, N->spk, N->c))
    return;
  SNN_SFX(snn_rows)(0, N->B, n, n, L->w_rec + (size_t)r * n * n, n, z, n, acc, Y, ldy, N->c);
}

/* The currents of layer l for the batch at step t: the projections as one
 * product each over the B sequences (with batch_norm, each side normalised
 * before it is added; `bnrec` receives the step's record, NULL: scratch),
 * then per sequence the delayed synapses, the bias and the mixes. */
SNN_FMA_CLONES void SNN_SFX(snn_currents)(const net *N, size_t l, size_t t, const relt *x, const slot *prev, relt *I,
                                          relt *bnrec) {
  const lay *L = &N->layers[l];
  const snn_model_shape *sh = L->sh;
  rctx *c = N->c;
  size_t B = N->B, n = L->n, np = L->nprev, mn = n * (size_t)L->m, k = (size_t)L->k;
  size_t nh = L->ndl ? (L->ndl - 1) * np : 0;
  /* with batch_norm the input side goes to the scratch P (B x F_in) first */
  relt *Pd = L->bn ? N->bnp : I;
  size_t ldp = L->bn ? L->bs[0].F : mn;
  if (L->bn && !bnrec) bnrec = N->bnrec;
  SNN_SFX(snn_vzero)(B * mn, I, c);
  if (L->bn) SNN_SFX(snn_vzero)(B * ldp, Pd, c);
  for (int r = 0; r < sh->nin; r++) {
    size_t q0 = L->bn ? (size_t)r * n : (size_t)sh->in_cur[r] * n;
    if (!L->ndl) {
      SNN_SFX(snn_rows)(0, B, n, np, L->w_in + (size_t)r * n * np, np, x, np, 1, Pd + q0, ldp, c);
      continue;
    }
    /* delayed synapses: sum_j W_ij sum_d kw_ijd x_j^{t-d} */
    for (size_t b = 0; b < B; b++) {
      const relt *xb = x + b * np, *hp = prev->h[l] + b * nh;
      relt *Iq = Pd + b * ldp + q0;
      for (size_t i = 0; i < n; i++) {
        size_t row = (size_t)r * n + i;
        relt *xd = L->xd + row * np;
        for (size_t j = 0; j < np; j++) SNN_SFX(snn_delayed)(L, row, j, xb, hp, 0, xd + j, c);
        relt *acc = c->leaf;
        r_zero(acc, c);
        for (size_t j = 0; j < np; j++) r_fma(acc, L->w_in + row * np + j, xd + j, acc, c);
        r_add(Iq + i, Iq + i, acc, c);
      }
    }
  }
  if (L->bn) {
    SNN_SFX(snn_bn_forward)(N, &L->bs[0], t, Pd, ldp, bnrec);
    for (size_t b = 0; b < B; b++)
      for (int r = 0; r < sh->nin; r++)
        SNN_SFX(snn_vadd)(n, Pd + b * ldp + (size_t)r * n, I + b * mn + (size_t)sh->in_cur[r] * n, c);
  }
  if (L->bn && L->w_rec) { /* the recurrent side, normalised on its own */
    size_t ldr = L->bs[1].F;
    for (int r = 0; r < sh->nrec; r++) rec_rows(N, L, r, prev->z[l], 0, Pd + (size_t)r * n, ldr);
    SNN_SFX(snn_bn_forward)(N, &L->bs[1], t, Pd, ldr, bnrec);
    for (size_t b = 0; b < B; b++)
      for (int r = 0; r < sh->nrec; r++)
        SNN_SFX(snn_vadd)(n, Pd + b * ldr + (size_t)r * n, I + b * mn + (size_t)sh->rec_cur[r] * n, c);
  }
  for (int r = 0; !L->bn && L->w_rec && r < sh->nrec; r++)
    rec_rows(N, L, r, prev->z[l], 1, I + (size_t)sh->rec_cur[r] * n, mn);
  for (size_t b = 0; L->bias && b < B; b++)
    for (size_t i = 0; i < mn; i++) r_add(I + b * mn + i, I + b * mn + i, L->bias + i, c);
  for (size_t b = 0; L->bias_rec && b < B; b++)
    for (int r = 0; r < sh->nrec; r++)
      SNN_SFX(snn_vadd)(n, L->bias_rec + (size_t)r * n, I + b * mn + (size_t)sh->rec_cur[r] * n, c);
  /* each mix source gathered for the batch, then one product (a sequence's
   * row sees the mixes in the order of a single run) */
  for (int mx = 0; mx < sh->nmix; mx++) {
    const snn_mix_shape *ms = &sh->mix[mx];
    for (int sr = 0; sr < ms->nsrc; sr++) {
      for (size_t b = 0; b < B; b++) {
        relt *v = N->scr + b * n;
        const relt *sp = prev->s[l] + b * n * k, *zp = prev->z[l] + b * n;
        for (size_t j = 0; j < n; j++) {
          const relt *p = SNN_SFX(snn_mix_src)(L, mx, sr, j, I + b * mn, sp, zp, v + j, c);
          if (p != v + j) r_set(v + j, p, c);
        }
      }
      SNN_SFX(snn_rows)
      (0, B, n, n, L->mix[mx] + (size_t)sr * n, (size_t)ms->nsrc * n, N->scr, n, 1, I + (size_t)ms->dst * n, mn, c);
    }
  }
}

void SNN_SFX(snn_traj_slot)(const traj *tr, const net *N, size_t t, slot *out) {
  const snn_spec *s = N->spec;
  size_t tb = t * N->B;
  for (size_t l = 0; l < s->L; l++) {
    size_t n = N->layers[l].n;
    out->s[l] = tr->s[l] + tb * n * (size_t)N->layers[l].k;
    out->z[l] = tr->z[l] + tb * n;
    out->I[l] = tr->I[l] + tb * n * (size_t)N->layers[l].m;
    out->u[l] = tr->u[l] + tb * n;
    size_t nh = N->layers[l].ndl ? (N->layers[l].ndl - 1) * N->layers[l].nprev : 0;
    out->h[l] = nh ? tr->h[l] + tb * nh : NULL;
    out->bn[l] = N->layers[l].bn ? tr->bn[l] + t * SNN_SFX(snn_bn_rec)(N->layers[l].bs[0].FF, tr->bcap) : NULL;
  }
  out->y = tr->yo + tb * s->n_out;
  out->dEdy = tr->dEdy + tb * s->n_out;
  out->bnro = tr->bnro ? tr->bnro + t * SNN_SFX(snn_bn_rec)(s->n_out, tr->bcap) : NULL;
}

/* Steps t0+1 .. t0+len into rows 1..len; row 0 must hold the state at t0.
 * The loss of these steps is added to tr->loss (per sequence), spike sums
 * to tr->rate. */
void SNN_SFX(snn_forward_segment)(const net *N, traj *tr, size_t t0, size_t len) {
  slot a, b;
  tr->t0 = t0;
  tr->T = len;
  for (size_t t = 1; t <= len; t++) {
    SNN_SFX(snn_traj_slot)(tr, N, t - 1, &a);
    SNN_SFX(snn_traj_slot)(tr, N, t, &b);
    SNN_SFX(snn_step)(N, t0 + t, &a, &b, tr->loss, tr->rate, tr->crossings);
  }
}

/* Copy row `from` of a trajectory into row 0 (the state carried into the next segment). */
void SNN_SFX(snn_traj_carry)(traj *tr, const net *N, size_t from) {
  slot a, b;
  SNN_SFX(snn_traj_slot)(tr, N, from, &a);
  SNN_SFX(snn_traj_slot)(tr, N, 0, &b);
  const snn_spec *s = N->spec;
  rctx *c = N->c;
  size_t B = N->B;
  for (size_t l = 0; l < s->L; l++) {
    const lay *L = &N->layers[l];
    SNN_SFX(snn_vset)(B * L->n * (size_t)L->k, a.s[l], b.s[l], c);
    SNN_SFX(snn_vset)(B * L->n * (size_t)L->m, a.I[l], b.I[l], c);
    SNN_SFX(snn_vset)(B * L->n, a.z[l], b.z[l], c);
    SNN_SFX(snn_vset)(B * L->n, a.u[l], b.u[l], c);
    if (L->ndl) SNN_SFX(snn_vset)(B * (L->ndl - 1) * L->nprev, a.h[l], b.h[l], c);
  }
  SNN_SFX(snn_vset)(B * s->n_out, a.y, b.y, c);
  SNN_SFX(snn_vset)(B * s->n_out, a.dEdy, b.dEdy, c);
}

void SNN_SFX(snn_forward)(const net *N, traj *tr) {
  const snn_spec *s = N->spec;
  rctx *c = N->c;
  slot a;
  SNN_SFX(snn_traj_slot)(tr, N, 0, &a);
  SNN_SFX(snn_slot_start)(N, &a);
  size_t H = SNN_SFX(snn_nhidden)(s);
  SNN_SFX(snn_vzero)(N->B * H, tr->rate, c); /* used as the running sum, then the rate */
  for (size_t l = 0; l < s->L; l++) tr->crossings[l] = 0;
  SNN_SFX(snn_vzero)(N->B, tr->loss, c);
  SNN_SFX(snn_forward_segment)(N, tr, 0, s->T);
  SNN_SFX(snn_rate_finish)(N, tr->rate, tr->rate, tr->loss);
}
