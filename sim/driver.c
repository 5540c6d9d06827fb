/* driver.c - one precision's gradient and benchmark entry points. */
#define _POSIX_C_SOURCE 200809L
#include "sim/driver.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sim/rules/rules.h"

/* Everything one run needs, created once. */
int SNN_SFX(snn_run_init)(snn_run *R, const snn_spec *s, const snn_data *d, long prec, snn_err *err) {
  memset(R, 0, sizeof *R);
  if (SNN_SFX(snn_rctx_init)(&R->c, prec))
    return snn_err_set(err, SNN_EVALUE, "", "--precision",
                       "expected a precision in bits this build supports, found %ld", prec);
  R->have_c = 1;
  int ok = SNN_SFX(snn_net_init)(&R->N, s, d, &R->c) == SNN_OK;
  ok = ok && SNN_SFX(snn_traj_init)(&R->tr, &R->N) == SNN_OK;
  R->have_tr = ok;
  ok = ok && (R->ws = SNN_SFX(snn_bptt_ws_alloc)(&R->N)) != NULL;
  ok = ok && (R->g = vec_alloc(s->P, &R->c)) != NULL;
  if (!ok) {
    SNN_SFX(snn_run_clear)(R);
    return snn_err_set(err, SNN_ENOMEM, s->path, "", "out of memory");
  }
  return SNN_OK;
}

void SNN_SFX(snn_run_clear)(snn_run *R) {
  if (!R->have_c) return;
  if (R->N.spec) {
    vec_free(R->g, R->N.P, &R->c);
    if (R->ws) SNN_SFX(snn_bptt_ws_free)(R->ws, &R->N);
    if (R->have_tr) SNN_SFX(snn_traj_clear)(&R->tr, &R->N);
    SNN_SFX(snn_net_clear)(&R->N);
  }
  SNN_SFX(snn_rctx_clear)(&R->c);
  memset(R, 0, sizeof *R);
}

void SNN_SFX(snn_zero_frozen)(const snn_spec *s, relt *g, rctx *c) {
  for (size_t b = 0; b < s->nblk; b++)
    if (!s->blk[b].trainable)
      for (size_t i = 0; i < s->blk[b].rows * s->blk[b].cols; i++) r_zero(g + s->blk[b].off + i, c);
}

int SNN_SFX(snn_grad)(const snn_spec *s, const snn_data *d, long prec, const snn_rule *rule, snn_result *out,
                      snn_err *err) {
  int st = snn_rule_check(rule, s, "", "--rule", err);
  if (st) return st;
  SNN_SFX(snn_rule_fn) fn = SNN_RULE_FN(rule);
  rctx c;
  if (SNN_SFX(snn_rctx_init)(&c, prec))
    return snn_err_set(err, SNN_EVALUE, "", "--precision",
                       "expected a precision in bits this build supports, found %ld", prec);
  net N;
  relt *g = NULL;
  real loss;
  r_init(loss, &c);
  st = SNN_SFX(snn_net_init)(&N, s, d, &c);
  if (st || !(g = vec_alloc(s->P, &c))) {
    if (!st) SNN_SFX(snn_net_clear)(&N);
    r_clear(loss, &c);
    SNN_SFX(snn_rctx_clear)(&c);
    return snn_err_set(err, SNN_ENOMEM, s->path, "", "out of memory");
  }
  size_t bytes = 0;
  st = fn(&N, rule, g, loss, out->crossings, out->spikes, &bytes, err);
  if (!st) {
    SNN_SFX(snn_zero_frozen)(s, g, &c);
    snn_format(out->rule, sizeof out->rule, "%s", rule->name);
    out->prec = prec;
    out->bytes = bytes;
#ifdef SNN_MPFR
    out->mpfr = 1;
#endif
    int finite = r_isfinite(loss);
    for (size_t i = 0; i < s->P; i++) finite &= r_isfinite(g + i);
    if (!finite)
      st = snn_err_set(err, SNN_ENONFINITE, s->path, "", "the loss or its gradient is not finite (overflow?)");
    else if (SNN_SFX(snn_export)(loss, 1, &out->loss, &c) || SNN_SFX(snn_export)(g, s->P, &out->grad, &c))
      st = snn_err_set(err, SNN_ENOMEM, s->path, "", "out of memory");
    /* MPFR's exponent range is far wider than a double's: a value finite at
     * this precision may still have no double, which files and comparisons need */
    finite = !st && isfinite(out->loss.v[0]);
    for (size_t i = 0; finite && i < s->P; i++) finite = isfinite(out->grad.v[i]);
    if (!st && !finite)
      st = snn_err_set(err, SNN_ENONFINITE, s->path, "",
                       "the loss or its gradient is beyond the range of a double (loss %s at %ld bits): the values "
                       "overflow; check the parameters and w_scale",
                       out->loss.s && out->loss.s[0] ? out->loss.s[0] : "?", prec);
  }
  vec_free(g, s->P, &c);
  r_clear(loss, &c);
  SNN_SFX(snn_net_clear)(&N);
  SNN_SFX(snn_rctx_clear)(&c);
  return st;
}

int SNN_SFX(snn_trace)(const snn_spec *s, const snn_data *d, long prec, double *yo, double *z, double *loss,
                       snn_err *err) {
  snn_run R;
  int st = SNN_SFX(snn_run_init)(&R, s, d, prec, err);
  if (st) return st;
  SNN_SFX(snn_forward)(&R.N, &R.tr);
  size_t H = SNN_SFX(snn_nhidden)(s);
  for (size_t t = 1; t <= s->T; t++) {
    for (size_t k = 0; k < s->n_out; k++) yo[(t - 1) * s->n_out + k] = r_get_d(R.tr.yo + t * s->n_out + k);
    for (size_t l = 0, j = 0; l < s->L; l++)
      for (size_t i = 0; i < s->layers[l].n; i++, j++) z[(t - 1) * H + j] = r_get_d(R.tr.z[l] + t * s->layers[l].n + i);
  }
  *loss = r_get_d(R.tr.loss);
  SNN_SFX(snn_run_clear)(&R);
  return SNN_OK;
}

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int SNN_SFX(snn_bench)(const snn_spec *s, const snn_data *d, long prec, int reps, snn_bench_res *out, snn_err *err) {
  snn_run R;
  int st = SNN_SFX(snn_run_init)(&R, s, d, prec, err);
  if (st) return st;
  double tf = 0, tb = 0;
  for (int r = 0; r < reps; r++) {
    double t0 = now();
    SNN_SFX(snn_forward)(&R.N, &R.tr);
    double t1 = now();
    SNN_SFX(snn_bptt)(&R.N, &R.tr, R.ws, R.g);
    double t2 = now();
    tf += t1 - t0;
    tb += t2 - t1;
  }
  out->fwd_s = tf / reps / (double)s->T;
  out->bwd_s = tb / reps / (double)s->T;
  out->bytes_traj = R.tr.bytes;
  out->bytes_ws = SNN_SFX(snn_bptt_ws_bytes)(R.ws);
  out->bytes_net = R.N.bytes;
  out->loss = r_get_d(R.tr.loss);
  SNN_SFX(snn_run_clear)(&R);
  return SNN_OK;
}
