/* verdict.c - what each rule is documented to compute, and how a measured
 * error against BPTT is classified (precision-neutral). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/engine.h"

double snn_exact_lg_tol(long prec) {
  return log10(2.0) * (14.0 - (double)prec);
}

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
