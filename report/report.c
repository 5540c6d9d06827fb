/* report.c - the reports of gradcheck/ as tables, JSON and CSV. */
#include "report/report.h"

#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "models/model.h"

const char *snn_fmt_lg(double lg, char *buf, size_t n) {
  if (isnan(lg)) return snprintf(buf, n, "n/a"), buf;
  if (isinf(lg)) return snprintf(buf, n, lg < 0 ? "0" : "inf"), buf;
  double e = floor(lg), m = pow(10.0, lg - e);
  if (m >= 9.95) m /= 10, e += 1;
  snprintf(buf, n, "%.1fe%+03.0f", m, e);
  return buf;
}

double snn_csv_lg(double lg) {
  return isinf(lg) && lg < 0 ? SNN_LG_ZERO : lg;
}

/* A JSON number where a double can hold it, else the decimal text. */
static json_t *lgnum(double lg) {
  if (isinf(lg) && lg < 0) return json_real(0.0);
  if (lg > -300) return json_real(pow(10.0, lg));
  char b[40];
  return json_string(snn_fmt_lg(lg, b, sizeof b));
}

static char *dump(json_t *root) {
  char *txt = json_dumps(root, JSON_INDENT(1) | JSON_REAL_PRECISION(17));
  json_decref(root);
  return txt;
}

void snn_report_network(FILE *f, const snn_spec *s) {
  static const char *const fw[] = {"heaviside", "sigmoid"};
  fprintf(f, "network %s: %zu input%s", s->path, s->n_in, s->n_in == 1 ? "" : "s");
  for (size_t l = 0; l < s->L; l++)
    fprintf(f, " -> %s %zu%s", s->layers[l].mt->name, s->layers[l].n, s->layers[l].recurrent ? " (rec)" : "");
  fprintf(f, " -> readout %zu; %zu steps; loss %s%s; spike %s (slope %g)\n", s->n_out, s->T,
          s->loss == SNN_LOSS_MSE ? "mse" : "ce", s->rate_reg ? " + rate_reg" : "", fw[s->forward], s->slope);
}

/* ---- BPTT against finite differences ---- */

static const char *const blk_verdicts[] = {"ok", "FAIL", "unresolved"};

void snn_report_fd_head(FILE *f, const snn_fdcheck *r) {
  fprintf(f, "BPTT against %s finite differences of the loss\n",
          r->opts.method == SNN_FD_RICHARDSON ? "Richardson-extrapolated" : "central");
}

static void fd_block_row(FILE *f, const snn_block *bk, const snn_blockcmp *bc) {
  char sz[24], wl[48], b1[32], b2[32], b3[32], b5[32], b6[32];
  snprintf(sz, sizeof sz, "%zux%zu", bk->rows, bk->cols);
  snprintf(wl, sizeof wl, "%s (%zu,%zu)", snn_fmt_lg(bc->lg_worst, b2, sizeof b2), bc->worst_r, bc->worst_c);
  fprintf(f, "  %-18s %7s %9s %9s %9s %-20s %-9s %s\n", bk->name, sz, snn_fmt_lg(bc->lg_ref, b5, sizeof b5),
          snn_fmt_lg(bc->lg_rel, b1, sizeof b1), snn_fmt_lg(bc->lg_tol, b6, sizeof b6), wl,
          snn_fmt_lg(bc->lg_1mcos, b3, sizeof b3), blk_verdicts[bc->verdict]);
}

void snn_report_fd_prec(FILE *f, const snn_spec *s, const snn_fdcheck *r, int k) {
  const snn_fdreport *rep = &r->rep[k];
  char pn[64], b1[32], b4[32], b7[32], b8[32];
  if (!rep->loss.s) snprintf(b4, sizeof b4, "%.17g", rep->loss.v[0]);
  fprintf(f, "\nprecision %s: step %.3g, tolerance %s, loss %s\n", snn_prec_name(&r->prec[k], pn, sizeof pn), rep->step,
          snn_fmt_lg(rep->lg_tol, b1, sizeof b1), rep->loss.s ? rep->loss.s[0] : b4);
  fprintf(f, "  threshold crossings (u > 0) per layer, of its unit-steps:");
  for (size_t l = 0; l < s->L; l++) fprintf(f, " %zu/%zu", rep->crossings[l], s->T * s->layers[l].n);
  fprintf(f, "\n");
  fprintf(f, "  %-18s %7s %9s %9s %9s %-20s %-9s %s\n", "block", "size", "ref.norm", "rel.err", "tolerance",
          "worst elem (row,col)", "1-cosine", "verdict");
  for (size_t b = 0; b < s->nblk; b++)
    if (rep->blk[b].present) fd_block_row(f, &s->blk[b], &rep->blk[b]);
  fprintf(f, "  %-18s %7zu %9s %9s %9s %-20s %-9s %s\n", "all trainable", snn_spec_ntrain(s),
          snn_fmt_lg(rep->lg_ref_all, b7, sizeof b7), snn_fmt_lg(rep->lg_rel_all, b1, sizeof b1),
          snn_fmt_lg(rep->lg_tol, b8, sizeof b8), "", "", rep->pass ? "PASS" : "FAIL");
  if (rep->nkink)
    fprintf(f,
            "  %zu delay(s) of the linear kernel lie within one step of an integer (or of 0 or max), where the loss\n"
            "  has a kink and BPTT's derivative is one-sided (docs/delays.md); they are not compared at %ld bits.\n",
            rep->nkink, r->prec[k].bits);
  if (rep->nunresolved)
    fprintf(
        f,
        "  %d block(s) are smaller than the finite difference can resolve at %ld bits (their tolerance would exceed\n"
        "  1e-2); they are neither passed nor failed here - raise the precision to check them.\n",
        rep->nunresolved, r->prec[k].bits);
}

void snn_report_fd_end(FILE *f, const snn_spec *s, const snn_fdcheck *r) {
  char b1[32], b2[32];
  double first = r->rep[0].lg_rel_all, last = r->rep[r->np - 1].lg_rel_all;
  if (r->np > 1)
    fprintf(f, "\nerror from %ld to %ld bits: %s -> %s (%s)\n", r->prec[0].bits, r->prec[r->np - 1].bits,
            snn_fmt_lg(first, b1, sizeof b1), snn_fmt_lg(last, b2, sizeof b2),
            last < first ? "tightens with precision" : "DOES NOT TIGHTEN");
  for (size_t b = 0; b < s->nblk; b++)
    if (s->blk[b].trainable && !r->resolved[b])
      fprintf(f, "note: %s was too small to resolve at every precision asked for; it is not verified\n",
              s->blk[b].name);
  fprintf(f, "verdict: %s\n",
          !r->all_pass ? "FAIL - BPTT and finite differences disagree beyond the tolerance"
          : r->never   ? "PASS on the resolved blocks - BPTT equals the derivative of the loss there"
                       : "PASS - BPTT equals the derivative of the loss at every precision");
}

static json_t *fd_block_json(const snn_blockcmp *bc) {
  json_t *j =
      json_pack("{s:o, s:f, s:o, s:{s:i, s:i, s:o}, s:f, s:o, s:b}", "rel_error", lgnum(bc->lg_rel), "log10_rel_error",
                bc->lg_rel, "reference_norm", lgnum(bc->lg_ref), "worst", "row", (int)bc->worst_r, "col",
                (int)bc->worst_c, "rel_error", lgnum(bc->lg_worst), "cosine", isnan(bc->cosine) ? 0.0 : bc->cosine,
                "one_minus_cosine", lgnum(bc->lg_1mcos), "pass", bc->verdict != SNN_BLK_FAIL);
  json_object_set_new(j, "verdict", json_string(blk_verdicts[bc->verdict]));
  json_object_set_new(j, "tolerance", lgnum(bc->lg_tol));
  return j;
}

char *snn_report_fd_json(const snn_spec *s, const snn_fdcheck *r) {
  json_t *root = json_pack("{s:s, s:s, s:s, s:[]}", "format", "snngrad-check/1", "network", s->path, "method",
                           r->opts.method == SNN_FD_RICHARDSON ? "richardson" : "central", "precisions");
  for (int k = 0; k < r->np; k++) {
    const snn_fdreport *rep = &r->rep[k];
    json_t *jb = json_object(), *jc = json_array();
    for (size_t b = 0; b < s->nblk; b++)
      if (rep->blk[b].present) json_object_set_new(jb, s->blk[b].name, fd_block_json(&rep->blk[b]));
    for (size_t l = 0; l < s->L; l++) json_array_append_new(jc, json_integer((json_int_t)rep->crossings[l]));
    json_array_append_new(json_object_get(root, "precisions"),
                          json_pack("{s:i, s:s, s:f, s:o, s:o, s:f, s:o, s:b, s:o, s:o}", "bits", (int)r->prec[k].bits,
                                    "engine", r->prec[k].eng->name, "step", rep->step, "tolerance", lgnum(rep->lg_tol),
                                    "rel_error", lgnum(rep->lg_rel_all), "log10_rel_error", rep->lg_rel_all, "loss",
                                    rep->loss.s ? json_string(rep->loss.s[0]) : json_real(rep->loss.v[0]), "pass",
                                    rep->pass, "crossings", jc, "blocks", jb));
    json_object_set_new(json_array_get(json_object_get(root, "precisions"), (size_t)k), "delays_at_kinks",
                        json_integer((json_int_t)rep->nkink));
  }
  json_object_set_new(root, "unverified_blocks", json_integer(r->never));
  json_object_set_new(root, "pass", json_boolean(r->all_pass));
  return dump(root);
}

/* ---- every rule against BPTT ---- */

static void rules_head(FILE *f, const snn_spec *s, const snn_rulecheck *r) {
  char b1[32], pn[64];
  fprintf(f, "every rule ran on BPTT's trajectory (identical loss and spikes at every precision)\n");
  for (size_t l = 0; l < s->L; l++)
    if (!r->crossings[l])
      fprintf(f,
              "WARNING: layer %zu never crosses its threshold (u > 0); with nothing to propagate, agreement there\n"
              "proves little (raise w_scale or the input rate)\n",
              l);
  if (r->fd_ok) {
    fprintf(f, "BPTT against Richardson finite differences:");
    for (int k = 0; k < r->np; k++)
      fprintf(f, "  %s: %s", snn_prec_name(&r->prec[k], pn, sizeof pn), snn_fmt_lg(r->lg_fd[k], b1, sizeof b1));
    fprintf(f, "\n");
  } else {
    fprintf(f, "(no finite-difference column: %s)\n", r->fd_why);
  }
  fprintf(f, "\nnormwise relative error against BPTT\n  %-44s", "rule / block");
  for (int k = 0; k < r->np; k++) fprintf(f, " %10ld b", r->prec[k].bits);
  fprintf(f, "  verdict\n");
}

static void rule_rows(FILE *f, const snn_spec *s, const snn_rulecheck *r, int i) {
  char b1[32];
  int v = r->verdict[i];
  fprintf(f, "  %-44s", r->text[i]);
  for (int k = 0; k < r->np; k++) fprintf(f, " %12s", snn_fmt_lg(r->lg[i][k], b1, sizeof b1));
  fprintf(f, "  %s%s\n", snn_verdict_name(v), r->agrees[i] ? "" : "  (UNEXPECTED)");
  for (size_t b = 0; b < s->nblk; b++) {
    if (!s->blk[b].trainable) continue;
    fprintf(f, "    %-42s", s->blk[b].name);
    for (int k = 0; k < r->np; k++) fprintf(f, " %12s", snn_fmt_lg(snn_rulecheck_block(r, i, b, k), b1, sizeof b1));
    /* which parameter kinds this rule gets exactly */
    if (strcmp(r->rule[i].name, "bptt")) fprintf(f, "  %s", snn_verdict_name(snn_rulecheck_block_verdict(r, i, b)));
    fprintf(f, "\n");
  }
  fprintf(f, "    why: %s%s%s\n", r->why[i], v == SNN_VERDICT_APPROXIMATE ? "; gap " : "",
          v == SNN_VERDICT_APPROXIMATE ? snn_fmt_lg(r->gap[i], b1, sizeof b1) : "");
}

void snn_report_rules(FILE *f, const snn_spec *s, const snn_rulecheck *r) {
  rules_head(f, s, r);
  for (int i = 0; i < r->nr; i++) rule_rows(f, s, r, i);
  fprintf(f,
          "\nverdict thresholds: EXACT = error <= 2^(14-p) at every precision and falling by at least half the\n"
          "added bits; APPROXIMATE = above that everywhere and within a decade across precisions.\n");
  fprintf(f, "%s\n",
          r->mismatches ? "some rules did NOT behave as documented (marked UNEXPECTED)"
                        : "every rule behaved as documented");
}

static json_t *rule_json(const snn_spec *s, const snn_rulecheck *r, int i) {
  json_t *jbv = json_object(), *je = json_object(), *jb = json_object();
  for (size_t b = 0; b < s->nblk; b++)
    if (s->blk[b].trainable)
      json_object_set_new(jbv, s->blk[b].name, json_string(snn_verdict_name(snn_rulecheck_block_verdict(r, i, b))));
  for (int k = 0; k < r->np; k++) {
    char key[16];
    snprintf(key, sizeof key, "%ld", r->prec[k].bits);
    json_object_set_new(je, key, lgnum(r->lg[i][k]));
  }
  for (size_t b = 0; b < s->nblk; b++) {
    if (!s->blk[b].trainable) continue;
    json_t *a = json_array();
    for (int k = 0; k < r->np; k++) json_array_append_new(a, lgnum(snn_rulecheck_block(r, i, b, k)));
    json_object_set_new(jb, s->blk[b].name, a);
  }
  int x = r->expect[i];
  return json_pack("{s:s, s:s, s:s, s:s, s:o, s:b, s:o, s:o, s:o}", "rule", r->text[i], "verdict",
                   snn_verdict_name(r->verdict[i]), "expected",
                   x == 1   ? "exact"
                   : x == 0 ? "approximate"
                            : "unknown",
                   "why", r->why[i], "gap", lgnum(r->gap[i]), "as_documented", r->agrees[i], "rel_error", je, "blocks",
                   jb, "block_verdicts", jbv);
}

char *snn_report_rules_json(const snn_spec *s, const snn_rulecheck *r) {
  json_t *root =
      json_pack("{s:s, s:s, s:[], s:[]}", "format", "snngrad-verdicts/1", "network", s->path, "precisions", "rules");
  for (int k = 0; k < r->np; k++)
    json_array_append_new(json_object_get(root, "precisions"), json_integer(r->prec[k].bits));
  for (int i = 0; i < r->nr; i++) json_array_append_new(json_object_get(root, "rules"), rule_json(s, r, i));
  json_object_set_new(root, "as_documented", json_boolean(!r->mismatches));
  return dump(root);
}

int snn_report_rules_csv(const snn_rulecheck *r, snn_buf *b) {
  snn_buf_puts(b, "rule,precision_bits,log10_rel_error,cosine\n");
  for (int i = 0; i < r->nr; i++)
    for (int k = 0; k < r->np; k++)
      snn_buf_printf(b, "\"%s\",%ld,%.6g,%.17g\n", r->text[i], r->prec[k].bits, snn_csv_lg(r->lg[i][k]), r->cosv[i][k]);
  return b->oom ? SNN_ENOMEM : SNN_OK;
}

/* ---- the sweeps ---- */

int snn_report_psweep_csv(const snn_rulecheck *rules, const snn_psweep *p, snn_buf *b) {
  snn_buf_puts(b, "rule,precision_bits,log10_rel_error,log10_unit_roundoff\n");
  for (size_t i = 0; i < p->n; i++)
    snn_buf_printf(b, "\"%s\",%ld,%.4f,%.4f\n", rules->text[p->row[i].rule], p->row[i].bits, snn_csv_lg(p->row[i].lg),
                   -(double)p->row[i].bits * log10(2.0));
  return b->oom ? SNN_ENOMEM : SNN_OK;
}

int snn_report_stepsweep_csv(const snn_stepsweep *sw, snn_buf *b) {
  snn_buf_puts(b, "precision_bits,engine,step,log10_step,log10_err_central,log10_err_richardson\n");
  for (int k = 0; k < sw->np; k++)
    for (size_t i = 0; i < sw->n[k]; i++) {
      const snn_sweep_row *r = &sw->row[k][i];
      snn_buf_printf(b, "%ld,%s,%.6e,%.4f,%.4f,%.4f\n", sw->prec[k].bits, sw->prec[k].eng->name, r->step,
                     log10(r->step), r->lg_rel_central, r->lg_rel_richardson);
    }
  return b->oom ? SNN_ENOMEM : SNN_OK;
}

/* ---- the rules' cost ---- */

void snn_report_cost_head(FILE *f) {
  fprintf(f, "%-28s %8s %8s %14s %14s\n", "rule", "neurons", "steps", "us/step", "memory (bytes)");
}

void snn_report_cost_row(FILE *f, const snn_rulecheck *rules, const snn_cost_row *row) {
  fprintf(f, "%-28s %8ld %8ld %14.2f %14zu\n", rules->text[row->rule], row->neurons, row->steps, row->us_per_step,
          row->bytes);
}

void snn_report_cost_end(FILE *f) {
  fprintf(f,
          "memory: the heap each rule holds while computing one gradient (its own account; tests/memory.c\n"
          "checks it against the allocations it makes).  Times: wall clock per step, best of three sequences.\n");
}

int snn_report_cost_csv(const snn_rulecheck *rules, const snn_cost *c, long bits, snn_buf *b) {
  snn_buf_puts(b, "rule,neurons,steps,precision_bits,us_per_step,bytes\n");
  for (size_t i = 0; i < c->n; i++) {
    const snn_cost_row *r = &c->row[i];
    snn_buf_printf(b, "\"%s\",%ld,%ld,%ld,%.3f,%zu\n", rules->text[r->rule], r->neurons, r->steps, bits, r->us_per_step,
                   r->bytes);
  }
  return b->oom ? SNN_ENOMEM : SNN_OK;
}
