/* explain.c - one synapse's gradient taken apart step by step
 * (docs/teaching.md): BPTT's term delta_i^t x_j^t, where delta_i^t = dE/dI_i^t
 * is what the backward pass carries to the postsynaptic current and x_j^t the
 * presynaptic input of that step (x^t for w_in, z^{t-1} for w_rec), beside a
 * forward-in-time rule's own increments and the two factors it multiplies
 * at each step (learning signal, trace), recorded through the net's probe.
 * The running sums end at the gradients the rules compute. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sim/driver.h"
#include "sim/rules/rules.h"

/* The synapse: its layer, postsynaptic unit and current, and a check that
 * explain knows how to take it apart. */
static int synapse(const snn_spec *s, const snn_rule *rule, size_t blk, size_t row, size_t *l, size_t *i, size_t *q,
                   snn_err *err) {
  const snn_block *bk = &s->blk[blk];
  if (bk->kind != SNN_BLK_W_IN && bk->kind != SNN_BLK_W_REC)
    return snn_err_set(err, SNN_EARG, "", "--synapse",
                       "explain takes a synapse of a w_in or w_rec block, found %s (a %s block)", bk->name,
                       bk->kind == SNN_BLK_CONST ? "neuron constant" : "non-synaptic");
  const snn_layer_spec *ls = &s->layers[bk->layer];
  if (bk->kind == SNN_BLK_W_IN && ls->delays)
    return snn_err_set(err, SNN_EARG, "", "--synapse", "%s has synaptic delays: explain takes undelayed synapses",
                       bk->name);
  if (strcmp(rule->name, "bptt") && strcmp(rule->name, "rtrl") && strcmp(rule->name, "ostl") &&
      strcmp(rule->name, "eprop"))
    return snn_err_set(err, SNN_EARG, "", "--rule",
                       "explain compares a forward-in-time rule (rtrl, ostl, eprop) with BPTT, found %s", rule->name);
  *l = (size_t)bk->layer;
  *i = row % ls->n;
  size_t r = row / ls->n;
  *q = (size_t)(bk->kind == SNN_BLK_W_IN ? ls->sh->in_cur[r] : ls->sh->rec_cur[r]);
  return SNN_OK;
}

/* BPTT's terms: delta from the backward pass, the presynaptic input of the step. */
static int bptt_terms(snn_run *R, size_t blk, size_t l, size_t i, size_t q, size_t col, snn_explain *x) {
  const snn_spec *s = R->N.spec;
  rctx *c = &R->c;
  const snn_block *bk = &s->blk[blk];
  relt *cap = vec_alloc(s->T + 1, c);
  if (!cap) return SNN_ENOMEM;
  SNN_SFX(snn_forward)(&R->N, &R->tr);
  SNN_SFX(snn_bptt_capture_dI)(R->ws, l, q, i, cap);
  SNN_SFX(snn_bptt)(&R->N, &R->tr, R->ws, R->g);
  SNN_SFX(snn_bptt_capture_dI)(R->ws, 0, 0, 0, NULL);
  size_t n = R->N.layers[l].n, np = R->N.layers[l].nprev;
  real term, sum;
  r_init(term, c), r_init(sum, c);
  r_zero(sum, c);
  for (size_t t = 1; t <= s->T; t++) {
    const relt *pre = bk->kind == SNN_BLK_W_REC ? R->tr.z[l] + (t - 1) * n + col
                      : l == 0                  ? R->N.x + (t - 1) * s->n_in + col
                                                : R->tr.z[l - 1] + t * np + col;
    r_mul(term, cap + t, pre, c);
    r_add(sum, sum, term, c);
    x->bptt_delta[t] = r_get_d(cap + t), x->bptt_local[t] = r_get_d(pre);
    x->bptt_term[t] = r_get_d(term), x->bptt_sum[t] = r_get_d(sum);
  }
  r_clear(term, c), r_clear(sum, c);
  vec_free(cap, s->T + 1, c);
  return SNN_OK;
}

/* The rule's increments and factors, through the probe. */
static int rule_terms(snn_run *R, const snn_rule *rule, size_t idx, size_t l, size_t i, snn_explain *x, snn_err *err) {
  const snn_spec *s = R->N.spec;
  rctx *c = &R->c;
  size_t T = s->T;
  relt *sum = vec_alloc(T + 1, c), *sig = vec_alloc(T + 1, c), *trace = vec_alloc(T + 1, c), *g = vec_alloc(s->P, c);
  real loss;
  r_init(loss, c);
  int st = sum && sig && trace && g ? SNN_OK : SNN_ENOMEM;
  size_t *cross = calloc(s->L, sizeof *cross);
  double *spikes = calloc(s->L, sizeof *spikes);
  if (!cross || !spikes) st = SNN_ENOMEM;
  for (size_t t = 0; !st && t <= T; t++) r_set_d(sig + t, NAN, c), r_set_d(trace + t, NAN, c), r_zero(sum + t, c);
  SNN_SFX(snn_probe) pr = {idx, l, i, sum, sig, trace};
  if (!st) {
    R->N.probe = &pr;
    st = SNN_RULE_FN(rule)(&R->N, rule, g, loss, cross, spikes, NULL, err);
    R->N.probe = NULL;
  }
  for (size_t t = 1; !st && t <= T; t++) {
    x->rule_sum[t] = r_get_d(sum + t);
    r_sub(loss, sum + t, sum + t - 1, c);
    x->rule_term[t] = r_get_d(loss);
    x->rule_sig[t] = r_get_d(sig + t), x->rule_trace[t] = r_get_d(trace + t);
  }
  if (!st) st = SNN_SFX(snn_export)(g + idx, 1, &x->total_rule, c);
  x->has_rule = !st;
  free(cross), free(spikes);
  r_clear(loss, c);
  vec_free(sum, T + 1, c), vec_free(sig, T + 1, c), vec_free(trace, T + 1, c), vec_free(g, s->P, c);
  return st;
}

int SNN_SFX(snn_explain)(const snn_spec *s, const snn_data *d, long prec, const snn_rule *rule, size_t blk, size_t row,
                         size_t col, snn_explain *x, snn_err *err) {
  size_t l = 0, i = 0, q = 0;
  int st = synapse(s, rule, blk, row, &l, &i, &q, err);
  if (!st) st = snn_rule_check(rule, s, "", "--rule", err);
  if (st) return st;
  snn_run R;
  if ((st = SNN_SFX(snn_run_init)(&R, s, d, prec, err))) return st;
  size_t idx = s->blk[blk].off + row * s->blk[blk].cols + col;
  if (bptt_terms(&R, blk, l, i, q, col, x) || SNN_SFX(snn_export)(R.g + idx, 1, &x->total_bptt, &R.c))
    st = snn_err_set(err, SNN_ENOMEM, s->path, "", "out of memory");
  if (!st && strcmp(rule->name, "bptt")) st = rule_terms(&R, rule, idx, l, i, x, err);
  for (size_t t = 1; !st && t <= s->T; t++)
    if (!isfinite(x->bptt_term[t]) || (x->has_rule && !isfinite(x->rule_term[t])))
      st = snn_err_set(err, SNN_ENONFINITE, s->path, "", "a term is not finite at step %zu (overflow?)", t);
  SNN_SFX(snn_run_clear)(&R);
  return st;
}
