/* cmd_bench.c - `snngrad bench`: BPTT's time per step on one network, or
 * every rule's time and memory against the sizes (--rules), or an
 * experiment's training (--train, cmd_benchtrain.c). */
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "cli/cli.h"
#include "models/model.h"
#include "report/report.h"

#define PREC_STR_(x) #x
#define PREC_STR(x) PREC_STR_(x)
#define PREC_MAX PREC_STR(SNN_GC_MAXPREC) /* in the messages */

static long get_long(const char *v, const char *name, long def, long lo, long hi, int *bad) {
  if (!v) return def;
  char *end;
  long x = strtol(v, &end, 10);
  if (end == v || *end || x < lo || x > hi) {
    fprintf(stderr, "snngrad: error: %s: expected an integer in [%ld, %ld], found '%s'\n", name, lo, hi, v);
    *bad = 1;
  }
  return x;
}

/* "100,1000" into at most 16 integers in [lo, hi]. */
static int get_list(const char *v, const char *def, const char *name, long lo, long hi, long *out, int *n) {
  char buf[256];
  snprintf(buf, sizeof buf, "%s", v ? v : def);
  *n = 0;
  for (char *sv, *tok = strtok_r(buf, ",", &sv); tok; tok = strtok_r(NULL, ",", &sv)) {
    char *end;
    long x = strtol(tok, &end, 10);
    if (*n >= 16 || end == tok || *end || x < lo || x > hi) {
      fprintf(stderr, "snngrad: error: %s: expected at most 16 comma-separated integers in [%ld, %ld], found '%s'\n",
              name, lo, hi, v ? v : def);
      return EXIT_INPUT;
    }
    out[(*n)++] = x;
  }
  return *n ? 0 : cli_usage_error("%s: expected a comma-separated list of integers", name);
}

/* --model names one of the models of models/table.c. */
static int model_check(const char *m) {
  if (!m || snn_model_find(m)) return 0;
  char list[256], msg[400];
  snn_model_list(list, sizeof list);
  snprintf(msg, sizeof msg, "--model: expected one of %s, found '%%s'", list);
  return cli_usage_error(msg, m);
}

static void print_row(void *ctx, const snn_rulecheck *rules, const snn_cost_row *row) {
  (void)ctx;
  snn_report_cost_row(stdout, rules, row);
  fflush(stdout);
}

/* Time per step and memory of every rule, against T and n: the complexity
 * claims read off measured numbers. */
static int bench_rules(const cli_opts *o) {
  static snn_rulecheck r; /* large: kept off the stack */
  memset(&r, 0, sizeof r);
  snn_err e = {0};
  if (snn_gc_split_rules(o->rules, "--rules", &r, &e)) return cli_report(&e);
  long Ts[16], ns[16];
  int nT, nn;
  if (get_list(o->steps, "100,1000", "--steps", 1, 1L << 24, Ts, &nT) ||
      get_list(o->neurons, "16,32", "--neurons", 1, 4096, ns, &nn))
    return EXIT_INPUT;
  snn_prec p = {&snn_engine_double, 53};
  if (o->prec && snn_prec_parse(o->prec, &p))
    return cli_usage_error("--precision: expected one number of bits, found '%s'", o->prec);
  if (o->recurrent && strcmp(o->recurrent, "yes") && strcmp(o->recurrent, "no"))
    return cli_usage_error("--recurrent: expected yes or no, found '%s'", o->recurrent);
  if (model_check(o->model)) return EXIT_INPUT;
  double limit = cli_mem_limit(o->maxmem);
  if (limit < 0) return EXIT_INPUT;
  snn_cost_opts co = {
      o->model ? o->model : "lif",  !o->recurrent || !strcmp(o->recurrent, "yes"), ns, Ts, nn, nT, limit,
      cli_mem_limit_name(o->maxmem)};
  snn_cost c;
  snn_report_cost_head(stdout);
  int rc = snn_gc_cost(&r, &p, &co, print_row, NULL, &c, &e) ? cli_report(&e) : 0;
  if (!rc && o->csv) {
    snn_buf b = {0};
    snn_report_cost_csv(&r, &c, p.bits, &b);
    if (b.oom || snn_write_atomic(o->csv, b.p, b.len, &e)) rc = b.oom ? cli_oom() : cli_report(&e);
    snn_buf_free(&b);
  }
  snn_cost_clear(&c);
  snn_rulecheck_clear(&r);
  snn_report_cost_end(stdout);
  return rc;
}

/* The memory check, naming bench's own options for its synthetic network. */
static int bench_memory(const cli_opts *o, const snn_spec *s, const snn_rule *r, long bits, long n, long T) {
  if (o->net) return cli_check_memory(s, r, bits, 1, o->maxmem);
  double limit = cli_mem_limit(o->maxmem);
  if (limit < 0) return EXIT_INPUT;
  snn_mem m;
  snn_err e = {0};
  snn_estimate(s, r, bits, 1, &m);
  return snn_estimate_check_bench(&m, limit, cli_mem_limit_name(o->maxmem), r->name, n, T, bits, &e) ? cli_report(&e)
                                                                                                     : 0;
}

/* The synthetic network of `bench` without a file. */
static int synthetic(const cli_opts *o, long n, long T, long L, snn_spec **s) {
  const char *model = o->model ? o->model : "lif";
  int rec = !o->recurrent || !strcmp(o->recurrent, "yes");
  snn_buf b = {0};
  snn_buf_printf(&b, "{\"seed\": 1, \"steps\": %ld, \"input\": {\"size\": %ld, \"rate\": 0.05}, \"layers\": [", T, n);
  for (long l = 0; l < L; l++)
    snn_buf_printf(&b, "%s{\"model\": \"%s\", \"size\": %ld, \"recurrent\": %s}", l ? ", " : "", model, n,
                   rec ? "true" : "false");
  snn_buf_printf(&b, "], \"readout\": {\"size\": 10, \"tau_out\": 20}, \"spike\": {\"forward\": \"heaviside\"}}");
  snn_err e = {0};
  int rc = b.oom ? cli_oom() : snn_spec_parse(b.p, "(bench network)", s, &e) ? cli_report(&e) : 0;
  snn_buf_free(&b);
  return rc;
}

static int bench_bptt(const snn_spec *s, const snn_data *d, const snn_prec *ps, int np, long reps) {
  snn_report_network(stdout, s);
  printf("BPTT over one sequence, mean of %ld runs\n", reps);
  printf("%-22s %12s %12s %14s %14s %14s\n", "precision", "fwd us/step", "bwd us/step", "ms/sequence", "trajectory MB",
         "workspace MB");
  for (int k = 0; k < np; k++) {
    snn_bench_res r;
    snn_err e = {0};
    long rp = ps[k].eng == &snn_engine_double ? reps : 1;
    if (ps[k].eng->bench(s, d, ps[k].bits, (int)rp, &r, &e)) return cli_report(&e);
    char pn[64];
    printf("%-22s %12.2f %12.2f %14.3f %14.3f %14.3f\n", snn_prec_name(&ps[k], pn, sizeof pn), 1e6 * r.fwd_s,
           1e6 * r.bwd_s, 1e3 * (r.fwd_s + r.bwd_s) * (double)s->T, r.bytes_traj / 1048576.0, r.bytes_ws / 1048576.0);
  }
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  printf("peak resident memory of the process: %.1f MB\n", ru.ru_maxrss / 1024.0);
  return 0;
}

int cli_bench(int argc, char **argv) {
  cli_opts o;
  int rc = cli_parse_opts(argc, argv, &o,
                          " --neurons --steps --layers --model --recurrent --precision --reps --rules --csv --train "
                          "--updates --threads ");
  if (rc) return rc;
  if (o.train) return cli_bench_train(&o);
  if (o.updates || o.threads)
    return cli_usage_error("%s belongs to bench --train EXPERIMENT.json", o.updates ? "--updates" : "--threads");
  if (o.rules) return bench_rules(&o);
  if (o.csv) return cli_usage_error("%s", "--csv belongs to bench --rules or bench --train");
  int bad = 0;
  long n = get_long(o.neurons, "--neurons", 256, 1, 1 << 16, &bad);
  long T = get_long(o.steps, "--steps", 1000, 1, 1 << 24, &bad);
  long L = get_long(o.layers, "--layers", 1, 1, 64, &bad);
  long reps = get_long(o.reps, "--reps", 5, 1, 1 << 20, &bad);
  if (bad) return EXIT_INPUT;
  if (o.recurrent && strcmp(o.recurrent, "yes") && strcmp(o.recurrent, "no"))
    return cli_usage_error("--recurrent: expected yes or no, found '%s'", o.recurrent);
  if ((rc = model_check(o.model))) return rc;
  snn_prec ps[SNN_GC_MAXPREC];
  int np;
  if (snn_prec_parse_list(o.prec ? o.prec : "53", ps, SNN_GC_MAXPREC, &np))
    return cli_usage_error(
        "--precision: expected a comma-separated list of at most " PREC_MAX " precisions in bits, found '%s'", o.prec);
  snn_spec *s;
  if ((rc = o.net ? cli_load_spec(o.net, &s) : synthetic(&o, n, T, L, &s))) return rc;
  snn_data d;
  snn_rule bptt;
  snn_err e = {0};
  snn_rule_parse("bptt", &bptt, &e);
  for (int k = 0; k < np && !rc; k++) rc = bench_memory(&o, s, &bptt, ps[k].bits, n, T);
  if (!rc && (rc = cli_load_data(s, NULL, &d)) == 0) {
    rc = bench_bptt(s, &d, ps, np, reps);
    snn_data_clear(&d);
  }
  snn_spec_free(s);
  return rc;
}
