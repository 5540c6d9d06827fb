/* verdict.c - what each rule is documented to compute, and how a measured
 * error against BPTT is classified (precision-neutral). */
#include <math.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "models/model.h"
#include "sim/engine.h"

/* Does layer l's output reach its own future only through paths the
 * options cut?  "Memoryless": no recurrent matrix and no state carried. */
static int memoryless(const snn_layer_spec *ly) { return !ly->recurrent && !snn_model_carries_state(ly); }

static int has_reset(const snn_layer_spec *ly) { return snn_model_has_reset(ly); }

/* Whether units of layer l are coupled within the step Jacobian: a kept
 * recurrent matrix, or mixes (ltc's time-constant projections). */
static int coupled(const snn_spec *s, const snn_layer_spec *ly) {
  return (ly->recurrent && !s->detach_rec) || ly->sh->nmix > 0;
}

static const char *coupling(const snn_layer_spec *ly) {
  return ly->sh->nmix ? (ly->recurrent ? "W_rec and the time-constant projections" : "the time-constant projections W_tau")
                      : "W_rec";
}

static const char *opt(const snn_rule *r, const char *key, const char *def) {
  for (int i = 0; i < r->nopt; i++)
    if (!strcmp(r->key[i], key)) return r->val[i];
  return def;
}

int snn_rule_expectation(const snn_spec *s, const snn_rule *r, char *why, size_t n) {
  if (!strcmp(r->name, "bptt")) return snprintf(why, n, "the reference"), 1;
  if (!strcmp(r->name, "rtrl"))
    return snprintf(why, n, "exact: forward-mode chain rule under the same gradient options, parameters fixed"), 1;
  if (!strcmp(r->name, "tbptt")) {
    long w = atol(opt(r, "window", "0")), b = atol(opt(r, "blocks", "0"));
    int wcut = w > 0 && (size_t)w < s->T, bcut = b > 0 && (size_t)b < s->L;
    if (wcut && bcut)
      return snprintf(why, n, "approximate: drops the paths across window starts and across block boundaries"), 0;
    if (wcut)
      return snprintf(why, n, "approximate: drops every path across the window starts (state and readout detached)"), 0;
    if (bcut)
      return snprintf(why, n, "approximate: no gradient crosses a block boundary; lower blocks learn from auxiliary readouts"), 0;
    return snprintf(why, n, "exact: one window covers the sequence and one block the network"), 1;
  }
  if (!strcmp(r->name, "fptt")) {
    if (atol(opt(r, "chunks", "1")) <= 1)
      return snprintf(why, n, "exact: one chunk; with Wbar = W and lambda = 0 the regulariser's gradient vanishes (claim 10)"), 1;
    return snprintf(why, n, "approximate: the state is detached at every chunk start (the sum of chunk gradients at Wbar = W, lambda = 0)"), 0;
  }
  if (!strcmp(r->name, "ostl")) {
    const char *tr = opt(r, "traces", "auto");
    int rnd = !strcmp(opt(r, "feedback", "symmetric"), "random");
    for (size_t l = 0; l < s->L; l++)
      if (coupled(s, &s->layers[l]) && !strcmp(tr, "diagonal"))
        return snprintf(why, n, "approximate: diagonal traces drop the coupling between units through %s", coupling(&s->layers[l])), 0;
    if (s->L == 1) {
      const snn_layer_spec *ly = &s->layers[0];
      if (coupled(s, ly) || !strcmp(tr, "full"))
        return snprintf(why, n, "exact: one stateful layer, complete traces (the layer's own influence matrix%s%s)",
                        coupled(s, ly) ? ", coupling through " : "", coupled(s, ly) ? coupling(ly) : ""), 1;
      return snprintf(why, n, "exact: one stateful layer, no coupling between its units (diagonal traces)"), 1;
    }
    if (rnd) return snprintf(why, n, "approximate: random feedback between layers"), 0;
    for (size_t l = 1; l < s->L; l++)
      if (s->layers[l].delays)
        return snprintf(why, n, "approximate: deep OSTL passes the learning signal down a delayed projection through its same-step tap only"), 0;
    for (size_t l = 1; l < s->L; l++)
      if (!memoryless(&s->layers[l]))
        return snprintf(why, n, "approximate: deep OSTL drops the paths from a layer's past outputs through the state of the layers above it"), 0;
    if (s->tau_out > 0)
      return snprintf(why, n, "approximate: deep OSTL drops the readout's memory for the layers below the top"), 0;
    return snprintf(why, n, "exact: every layer above the first is memoryless and the readout has no leak"), 1;
  }
  if (!strcmp(r->name, "eprop")) {
    const char *fb = opt(r, "feedback", "symmetric");
    if (!strcmp(opt(r, "signal", "online"), "ideal"))
      return snprintf(why, n, "exact: the ideal learning signal dE/dz makes the factorisation exact"), 1;
    if (strcmp(fb, "symmetric"))
      return snprintf(why, n, "approximate: %s feedback B replaces W_out^T in the learning signal (readout exact)", fb), 0;
    if (s->layers[0].sh->nmix)
      return snprintf(why, n, "approximate: e-prop's diagonal traces drop the coupling through %s", coupling(&s->layers[0])), 0;
    if (s->layers[0].recurrent && !s->detach_rec)
      return snprintf(why, n, "approximate: e-prop drops the recurrent paths of dE/dz"), 0;
    if (has_reset(&s->layers[0]) && !s->detach_reset)
      return snprintf(why, n, "approximate: e-prop leaves the reset path out of its traces and of its signal"), 0;
    return snprintf(why, n, "exact: no path e-prop drops is differentiated (%s)",
                    s->layers[0].recurrent ? "recurrence and reset detached" : "feed-forward, reset detached or absent"), 1;
  }
  return snprintf(why, n, "no documented expectation"), -1;
}

double snn_exact_lg_tol(long prec) { return log10(2.0) * (14.0 - (double)prec); }

int snn_classify(const long *prec, const double *lg_err, int n, double *gap) {
  int all_round = 1;
  for (int k = 0; k < n; k++)
    if (!(lg_err[k] <= snn_exact_lg_tol(prec[k]))) all_round = 0;
  *gap = lg_err[n - 1];
  if (all_round) {
    if (n == 1) return SNN_VERDICT_EXACT;
    /* an exact identity must tighten: at least half the added bits */
    double want = 0.5 * log10(2.0) * (double)(prec[n - 1] - prec[0]);
    return lg_err[0] - lg_err[n - 1] >= want || isinf(lg_err[n - 1]) ? SNN_VERDICT_EXACT : SNN_VERDICT_INCONCLUSIVE;
  }
  int none_round = 1;
  for (int k = 0; k < n; k++)
    if (lg_err[k] <= snn_exact_lg_tol(prec[k])) none_round = 0;
  if (!none_round) return SNN_VERDICT_INCONCLUSIVE;
  if (n == 1) return SNN_VERDICT_APPROXIMATE;
  /* an approximation's gap does not depend on the precision */
  return fabs(lg_err[n - 1] - lg_err[0]) <= 1.0 ? SNN_VERDICT_APPROXIMATE : SNN_VERDICT_INCONCLUSIVE;
}

const char *snn_verdict_name(int v) {
  static const char *const names[] = {"EXACT", "APPROXIMATE", "INCONCLUSIVE"};
  return v >= 0 && v < 3 ? names[v] : "?";
}
