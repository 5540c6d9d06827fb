/* fptt.c - Forward Propagation Through Time (Kag & Saligrama, ICML 2021;
 * the spiking form: Yin, Corradi & Bohte, Nat Mach Intell 2023).
 *
 * The sequence is cut into K chunks; the state is carried across chunk
 * boundaries but detached.  On chunk p the parameters W minimise
 *
 *   R_p(W) = l_p(W) + (rho - 1) <lambda, W> + c (alpha/2) ||W - Wbar||^2
 *
 * (rho = 0, c = 1 by default), after which the dual state and the running
 * average move:
 *
 *   lambda <- lambda - alpha (W - Wbar)
 *   Wbar   <- (1 - beta) Wbar + beta W - (beta/alpha) lambda
 *
 * With W held fixed over one sequence (what `grad` computes), Wbar = W and
 * lambda = 0 at the start, so the regulariser's gradient vanishes (claim 10)
 * and the gradient is the sum of the chunk gradients with the state detached
 * at each chunk start: K = 1 is BPTT.  Memory is one chunk's trajectory, not
 * the sequence's.  The objective and the dual update are exported for the
 * training loop and for checking claim 11 (at an exact minimiser of R_p with
 * rho = 0 and c = 1, the new lambda equals the gradient of l_p). */
#include <stdlib.h>
#include <string.h>

#include "sim/rules/rules.h"

void SNN_SFX(snn_fptt_objective)(size_t n, const relt *W, const relt *Wbar, const relt *lam, const snn_fptt_opts *o,
                                 relt *R, relt *g, rctx *c) {
  relt *d = c->leaf, *t = c->cell[0];
  for (size_t i = 0; i < n; i++) {
    r_sub(d, W + i, Wbar + i, c);
    /* R += c alpha/2 d^2 + (rho - 1) lambda W */
    r_mul(t, d, d, c);
    r_mul_d(t, t, 0.5 * o->c * o->alpha, c);
    r_add(R, R, t, c);
    r_mul(t, lam + i, W + i, c);
    r_mul_d(t, t, o->rho - 1.0, c);
    r_add(R, R, t, c);
    /* g += c alpha d + (rho - 1) lambda */
    r_mul_d(t, d, o->c * o->alpha, c);
    r_add(g + i, g + i, t, c);
    r_mul_d(t, lam + i, o->rho - 1.0, c);
    r_add(g + i, g + i, t, c);
  }
}

void SNN_SFX(snn_fptt_dual)(size_t n, const relt *W, relt *Wbar, relt *lam, const snn_fptt_opts *o, rctx *c) {
  relt *d = c->leaf, *t = c->cell[0];
  for (size_t i = 0; i < n; i++) {
    r_sub(d, W + i, Wbar + i, c);
    r_mul_d(d, d, o->alpha, c);
    r_sub(lam + i, lam + i, d, c);
    r_mul_d(t, W + i, o->beta, c);
    r_mul_d(Wbar + i, Wbar + i, 1.0 - o->beta, c);
    r_add(Wbar + i, Wbar + i, t, c);
    r_mul_d(t, lam + i, o->beta / o->alpha, c);
    r_sub(Wbar + i, Wbar + i, t, c);
  }
}

int SNN_SFX(snn_rule_fptt)(const net *N, const snn_rule *rule, relt *grad, relt *loss, size_t *cross, double *spikes,
                           size_t *bytes, snn_err *err) {
  const snn_spec *s = N->spec;
  rctx *c = N->c;
  snn_fptt_opts o;
  snn_fptt_opts_get(rule, &o);
  size_t K = o.chunks, len = (s->T + K - 1) / K;
  traj tr;
  if (SNN_SFX(snn_traj_init_len)(&tr, N, len)) return snn_err_set(err, SNN_ENOMEM, s->path, "", "out of memory");
  SNN_SFX(snn_bptt_ws) *w = SNN_SFX(snn_bptt_ws_alloc_len)(N, len);
  relt *gc = w && len < s->T ? SNN_SFX(snn_bptt_ws_gseg)(w) : vec_alloc(s->P, c); /* one chunk's gradient */
  if (!w || !gc) {
    if (w) SNN_SFX(snn_bptt_ws_free)(w, N);
    if (!w || len == s->T) vec_free(gc, s->P, c);
    SNN_SFX(snn_traj_clear)(&tr, N);
    return snn_err_set(err, SNN_ENOMEM, s->path, "", "out of memory");
  }
  slot z0;
  SNN_SFX(snn_traj_slot)(&tr, N, 0, &z0);
  SNN_SFX(snn_slot_start)(N, &z0);
  size_t H = SNN_SFX(snn_nhidden)(s);
  SNN_SFX(snn_vzero)(N->B * H, tr.rate, c);
  for (size_t l = 0; l < s->L; l++) tr.crossings[l] = 0;
  SNN_SFX(snn_vzero)(N->B, tr.loss, c);
  for (size_t i = 0; i < s->P; i++) r_zero(grad + i, c);
  size_t prev_len = 0;
  for (size_t p = 0; p < K; p++) {
    size_t a = p * s->T / K, b = (p + 1) * s->T / K;
    if (p > 0) SNN_SFX(snn_traj_carry)(&tr, N, prev_len); /* the state goes on, detached */
    SNN_SFX(snn_forward_segment)(N, &tr, a, b - a);
    SNN_SFX(snn_bptt_window)(N, &tr, w, gc, 0);
    for (size_t i = 0; i < s->P; i++) r_add(grad + i, grad + i, gc + i, c);
    prev_len = b - a;
  }
  SNN_SFX(snn_traj_loss)(N, &tr, loss);
  for (size_t l = 0, j = 0; l < s->L; l++) {
    cross[l] = tr.crossings[l];
    spikes[l] = 0;
    for (size_t b = 0; b < N->B; b++)
      for (size_t i = 0; i < N->layers[l].n; i++) { /* as the other rules count them: (sum / T) T */
        r_div_d(c->leaf, tr.rate + b * H + j + i, (double)s->T, c);
        spikes[l] += r_get_d(c->leaf) * (double)s->T;
      }
    j += N->layers[l].n;
  }
  if (bytes) *bytes = tr.bytes + SNN_SFX(snn_bptt_ws_bytes)(w) + (len == s->T ? s->P * SNN_SFX(snn_real_bytes)(c) : 0);
  if (len == s->T) vec_free(gc, s->P, c);
  SNN_SFX(snn_bptt_ws_free)(w, N);
  SNN_SFX(snn_traj_clear)(&tr, N);
  return SNN_OK;
}

const struct SNN_SFX(snn_rule_impl) SNN_SFX(snn_rule_fptt_impl) = {SNN_SFX(snn_rule_fptt)};
