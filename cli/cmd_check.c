/* cmd_check.c - `snngrad check`: BPTT against finite differences, or every
 * rule against BPTT (--rules), through gradcheck/ and report/. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "par/par.h"
#include "report/report.h"

#define PREC_STR_(x) #x
#define PREC_STR(x) PREC_STR_(x)
#define PREC_MAX PREC_STR(SNN_GC_MAXPREC) /* in the messages */

/* The highest of the precisions. */
static long top_bits(const snn_prec *p, int np) {
  long b = 53;
  for (int k = 0; k < np; k++)
    if (p[k].bits > b) b = p[k].bits;
  return b;
}

/* The network and its data, loaded together, once the memory the rules
 * need at the highest precision is known to fit. */
static int load(const cli_opts *o, const snn_rule *rules, int nr, long bits, snn_spec **s, snn_data *d) {
  int rc = cli_load_spec(o->net, s);
  if (rc) return rc;
  for (int i = 0; i < nr && !rc; i++) rc = cli_check_memory(*s, &rules[i], bits, 1, o->maxmem);
  if (rc || (rc = cli_load_data(*s, o->params, d))) snn_spec_free(*s);
  return rc;
}

/* ---- every rule against BPTT ---- */

/* The outputs of check --rules: JSON, CSV (rules or precision sweep). */
static int rules_outputs(const cli_opts *o, const snn_spec *s, const snn_rulecheck *r, const snn_psweep *ps) {
  char *json = o->json ? snn_report_rules_json(s, r) : NULL;
  snn_buf csv = {0};
  if (o->csv && ps)
    snn_report_psweep_csv(r, ps, &csv);
  else if (o->csv)
    snn_report_rules_csv(r, &csv);
  int rc;
  if ((o->json && !json) || csv.oom) {
    rc = cli_oom();
  } else {
    const char *paths[2] = {o->json, o->csv}, *texts[2] = {json, csv.p};
    size_t lens[2] = {json ? strlen(json) : 0, csv.len};
    rc = cli_write_all(2, paths, texts, lens);
  }
  if (!rc && ps) printf("wrote the precision sweep to %s\n", o->csv);
  free(json);
  snn_buf_free(&csv);
  return rc;
}

static int check_rules(const cli_opts *o) {
  static snn_rulecheck r; /* large: kept off the stack */
  memset(&r, 0, sizeof r);
  r.group = snn_group_world();
  snn_err e = {0};
  if (snn_gc_split_rules(o->rules ? o->rules : "bptt,rtrl,ostl,eprop,tbptt:window=10", "--rules", &r, &e))
    return cli_report(&e);
  if (snn_prec_parse_list(o->prec ? o->prec : "53,128,256", r.prec, SNN_GC_MAXPREC, &r.np))
    return cli_usage_error("--precision: expected a comma-separated list of at most " PREC_MAX
                           " precisions in bits (or mpfr:BITS), found '%s'",
                           o->prec);
  long lo = 0, hi = 0;
  if (o->psweep) {
    char tail;
    if (sscanf(o->psweep, "%ld:%ld%c", &lo, &hi, &tail) != 2 || lo < 16 || hi < lo || hi > 65536)
      return cli_usage_error("--precision-sweep: expected LO:HI bits with 16 <= LO <= HI <= 65536, found '%s'",
                             o->psweep);
    if (!o->csv) return cli_usage_error("%s", "--precision-sweep needs --csv FILE");
  }
  snn_spec *s;
  snn_data d;
  int rc = load(o, r.rule, r.nr, o->psweep && hi > top_bits(r.prec, r.np) ? hi : top_bits(r.prec, r.np), &s, &d);
  if (rc) return rc;
  snn_report_network(stdout, s);
  snn_psweep ps = {0};
  if (snn_gc_rules(s, &d, &r, &e)) {
    rc = cli_report(&e);
  } else {
    snn_report_rules(stdout, s, &r);
    if (o->psweep && snn_gc_precision_sweep(s, &d, &r, lo, hi, &ps, &e)) rc = cli_report(&e);
    if (!rc) rc = rules_outputs(o, s, &r, o->psweep ? &ps : NULL);
    if (!rc && r.mismatches) rc = EXIT_FAIL;
  }
  snn_psweep_clear(&ps);
  snn_rulecheck_clear(&r);
  snn_data_clear(&d);
  snn_spec_free(s);
  return rc;
}

/* ---- BPTT against finite differences ---- */

static void print_prec(void *ctx, const snn_fdcheck *r, int k) {
  snn_report_fd_prec(stdout, (const snn_spec *)ctx, r, k);
  fflush(stdout);
}

static int fd_options(const cli_opts *o, snn_fdopts *fo) {
  *fo = (snn_fdopts){SNN_FD_RICHARDSON, 0.0, snn_group_world()};
  if (o->method) {
    if (!strcmp(o->method, "central"))
      fo->method = SNN_FD_CENTRAL;
    else if (strcmp(o->method, "richardson"))
      return cli_usage_error("--method: expected richardson or central, found '%s'", o->method);
  }
  if (o->step) {
    char *end;
    fo->step = strtod(o->step, &end);
    if (end == o->step || *end || !(fo->step > 0 && fo->step < 1))
      return cli_usage_error("--step: expected a relative step in (0, 1), found '%s'", o->step);
  }
  return 0;
}

/* The outputs of the finite-difference check: JSON and the step sweep. */
static int fd_outputs(const cli_opts *o, const snn_spec *s, const snn_data *d, const snn_fdcheck *r) {
  snn_err e = {0};
  static snn_stepsweep sw; /* large: kept off the stack */
  if (o->sweep && snn_gc_step_sweep(s, d, r->prec, r->np, &sw, &e)) return cli_report(&e);
  char *json = o->json ? snn_report_fd_json(s, r) : NULL;
  snn_buf csv = {0};
  if (o->sweep) snn_report_stepsweep_csv(&sw, &csv);
  int rc;
  if ((o->json && !json) || csv.oom) {
    rc = cli_oom();
  } else {
    const char *paths[2] = {o->json, o->sweep}, *texts[2] = {json, csv.p};
    size_t lens[2] = {json ? strlen(json) : 0, csv.len};
    rc = cli_write_all(2, paths, texts, lens);
  }
  if (!rc && o->sweep) printf("wrote the step sweep to %s\n", o->sweep);
  free(json);
  snn_buf_free(&csv);
  return rc;
}

int cli_check(int argc, char **argv) {
  /* under MPI every rank computes its share of the finite-difference
   * columns (the rule comparisons run on each rank whole); rank 0 speaks
   * and writes for the job, the others are silent */
  if (snn_group_rank(snn_group_world()) > 0 &&
      (!freopen("/dev/null", "w", stdout) || !freopen("/dev/null", "w", stderr)))
    return EXIT_INPUT;
  cli_opts o;
  int rc = cli_parse_opts(argc, argv, &o,
                          " --precision --params --method --step --json --step-sweep --rules --precision-sweep --csv ");
  if (rc) return rc;
  if (!o.net) return cli_usage_error("%s", "check needs NET.json");
  if (o.rules || o.psweep) return check_rules(&o);
  if (o.csv) return cli_usage_error("%s", "--csv belongs to check --rules (the step sweep is --step-sweep FILE)");
  snn_prec ps[SNN_GC_MAXPREC];
  int np;
  if (snn_prec_parse_list(o.prec ? o.prec : "53,256", ps, SNN_GC_MAXPREC, &np))
    return cli_usage_error("--precision: expected a comma-separated list of at most " PREC_MAX
                           " precisions in bits (or mpfr:BITS), found '%s'",
                           o.prec);
  snn_fdopts fo;
  if ((rc = fd_options(&o, &fo))) return rc;
  for (int k = 0; k < np && o.step; k++) /* x (1 + h) must differ from x, with room for the difference */
    if (fo.step < ldexp(1.0, 8 - (int)ps[k].bits)) {
      char msg[160];
      snprintf(msg, sizeof msg, "--step: %%s is below what %ld bits can resolve; expected at least 2^%ld = %.3g",
               ps[k].bits, 8 - ps[k].bits, ldexp(1.0, 8 - (int)ps[k].bits));
      return cli_usage_error(msg, o.step);
    }
  snn_spec *s;
  if ((rc = cli_load_spec(o.net, &s))) return rc;
  snn_err e = {0};
  if (snn_fd_allowed(s, &e)) {
    snn_spec_free(s);
    return cli_report(&e);
  }
  snn_rule bptt;
  snn_rule_parse("bptt", &bptt, &e);
  snn_data d;
  if ((rc = cli_check_memory(s, &bptt, top_bits(ps, np), 1, o.maxmem)) || (rc = cli_load_data(s, o.params, &d))) {
    snn_spec_free(s);
    return rc;
  }
  snn_report_network(stdout, s);
  static snn_fdcheck r; /* large: kept off the stack */
  if (snn_gc_fdcheck(s, &d, ps, np, &fo, NULL, NULL, &r, &e)) {
    rc = cli_report(&e);
  } else {
    snn_report_fd_head(stdout, &r);
    for (int k = 0; k < np; k++) print_prec(s, &r, k);
    snn_report_fd_end(stdout, s, &r);
    rc = fd_outputs(&o, s, &d, &r);
    if (!rc && !r.all_pass) rc = EXIT_FAIL;
  }
  snn_fdcheck_clear(&r, s);
  snn_data_clear(&d);
  snn_spec_free(s);
  return rc;
}
