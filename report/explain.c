/* explain.c - the step-by-step account of one synapse's gradient
 * (snngrad explain, docs/teaching.md) as CSV and as a summary. */
#include <math.h>
#include <string.h>

#include "report/report.h"

int snn_report_explain_csv(const snn_explain *x, snn_buf *b) {
  snn_buf_puts(b, "step,bptt_delta,bptt_input,bptt_term,bptt_sum,rule_signal,rule_trace,rule_term,rule_sum\n");
  for (size_t t = 1; t <= x->T; t++) {
    snn_buf_printf(b, "%zu,%.17g,%.17g,%.17g,%.17g", t, x->bptt_delta[t], x->bptt_local[t], x->bptt_term[t],
                   x->bptt_sum[t]);
    if (x->has_rule)
      snn_buf_printf(b, ",%.17g,%.17g,%.17g,%.17g\n", x->rule_sig[t], x->rule_trace[t], x->rule_term[t],
                     x->rule_sum[t]);
    else
      snn_buf_puts(b, ",,,,\n");
  }
  return b->oom ? SNN_ENOMEM : SNN_OK;
}

static const char *total(const snn_nums *a, char *buf, size_t n) {
  if (a->s && a->s[0]) return a->s[0];
  snprintf(buf, n, "%.17g", a->v[0]);
  return buf;
}

void snn_report_explain(FILE *f, const snn_explain *x, const char *synapse, const char *rule) {
  char a[64], b[64];
  double worst = 0;
  size_t tw = 0;
  fprintf(f, "%s over %zu steps\n", synapse, x->T);
  fprintf(f, "  BPTT: sum over t of delta^t x^t = %s\n", total(&x->total_bptt, a, sizeof a));
  if (!x->has_rule) return;
  fprintf(f, "  %s: sum over t of its increments = %s\n", rule, total(&x->total_rule, b, sizeof b));
  for (size_t t = 1; t <= x->T; t++) {
    double d = fabs(x->rule_term[t] - x->bptt_term[t]);
    if (d > worst) worst = d, tw = t;
  }
  double gap = fabs(x->rule_sum[x->T] - x->bptt_sum[x->T]);
  fprintf(f, "  the totals differ by %.3g (relative %.3g); step by step the largest difference is %.3g at t = %zu\n",
          gap, gap / fmax(fabs(x->bptt_sum[x->T]), 1e-300), worst, tw);
  fprintf(f,
          "  (BPTT credits step t with what the step's input does to every later loss; a forward rule credits\n"
          "   step t with what the inputs so far do to the loss of step t: the terms differ, exact totals agree)\n");
}
