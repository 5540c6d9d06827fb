/* snngrad.c - the command line (SPEC.md section 8): argument parsing,
 * subcommands and printing.  Nothing numeric happens here: every number comes
 * from an engine (snn_engine_double or snn_engine_mpfr).
 *
 * Exit status: 0 success, 1 a check ran and failed, 2 bad input or usage,
 * 3 a comparison was refused because it could not mean anything. */
#include <jansson.h>
#include <math.h>
#include <mpfr.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "sim/engine.h"
#include "io/io.h"
#include "models/model.h"
#include "experiments/train.h"
#include <unistd.h>

#define EXIT_FAIL 1
#define EXIT_INPUT 2
#define EXIT_REFUSED 3

static int report(const snn_err *e) {
  char buf[1400];
  snn_err_format(e, buf, sizeof buf);
  fprintf(stderr, "snngrad: error: %s\n", buf);
  return (e->status == SNN_EREFUSED || e->status == SNN_EVACUOUS) ? EXIT_REFUSED : EXIT_INPUT;
}

static int usage_error(const char *fmt, const char *arg) {
  fprintf(stderr, "snngrad: error: ");
  fprintf(stderr, fmt, arg);
  fprintf(stderr, "\nrun 'snngrad help' for the usage\n");
  return EXIT_INPUT;
}

static void usage(FILE *f) {
  fputs("usage:\n"
        "  snngrad init  NET.json -o PARAMS.json\n"
        "  snngrad grad  NET.json --rule RULE [--params PARAMS.json] [--precision BITS] -o GRADS.json\n"
        "  snngrad check NET.json [--precision B1,B2,...] [--params PARAMS.json] [--method richardson|central]\n"
        "                         [--step H] [--json OUT.json] [--step-sweep OUT.csv]\n"
        "  snngrad check NET.json --rules R1,R2,... [--precision B1,B2,...] [--json OUT.json]\n"
        "                         [--precision-sweep LO:HI --csv OUT.csv]\n"
        "  snngrad bench [NET.json] [--neurons N] [--steps T] [--layers L] [--model lif|alif|snu]\n"
        "                         [--recurrent yes|no] [--precision B1,...] [--reps R]\n"
        "  snngrad bench --rules R1,R2,... [--neurons N1,N2,...] [--steps T1,T2,...] [--csv OUT.csv]\n"
        "  snngrad run   NET.json [--params PARAMS.json] [--precision BITS] --csv OUTPUT.csv [--raster RASTER.csv]\n"
        "  snngrad train EXPERIMENT.json [--out DIR] [--resume] [--until UPDATES] [--quiet]\n"
        "  snngrad version\n"
        "\n"
        "--precision 53 is the double path; any other number of bits, or mpfr:53, runs the MPFR path.\n"
        "Rules: bptt, tbptt:window=W, rtrl, ostl[:traces=..,feedback=..], eprop[:feedback=..,signal=..].\nExit status: 0 ok, 1 check failed, 2 bad input, 3 comparison refused.\n",
        f);
}

/* ---- precision lists ---- */
typedef struct {
  const snn_engine *eng;
  long bits;
} prec_t;

static int parse_prec(const char *tok, prec_t *p) {
  const char *num = tok;
  int force_mpfr = 0;
  if (!strncmp(tok, "mpfr:", 5)) num = tok + 5, force_mpfr = 1;
  char *end;
  long b = strtol(num, &end, 10);
  if (end == num || *end || b < 8 || b > (1L << 20)) return -1;
  p->bits = b;
  p->eng = (b == 53 && !force_mpfr) ? &snn_engine_double : &snn_engine_mpfr;
  return 0;
}

static int parse_prec_list(const char *arg, prec_t *out, int max, int *n) {
  char buf[512];
  snprintf(buf, sizeof buf, "%s", arg);
  *n = 0;
  for (char *save, *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
    if (*n >= max || parse_prec(tok, &out[*n])) return -1;
    (*n)++;
  }
  return *n ? 0 : -1;
}

static const char *prec_name(const prec_t *p, char *buf, size_t n) {
  snprintf(buf, n, "%ld bits (%s)", p->bits, p->eng == &snn_engine_double ? "double" : "MPFR");
  return buf;
}

/* A log10 value as "m.mme-X" (values far below the double range included). */
static const char *fmt_lg(double lg, char *buf, size_t n) {
  if (isnan(lg)) return snprintf(buf, n, "n/a"), buf;
  if (isinf(lg)) return snprintf(buf, n, lg < 0 ? "0" : "inf"), buf;
  double e = floor(lg), m = pow(10.0, lg - e);
  if (m >= 9.95) m /= 10, e += 1;
  snprintf(buf, n, "%.1fe%+03.0f", m, e);
  return buf;
}

/* ---- common loading ---- */
static int load_spec(const char *path, snn_spec **s) {
  snn_err e = {0};
  if (snn_spec_load(path, s, &e)) return report(&e);
  if ((*s)->warnings[0]) fprintf(stderr, "snngrad: warning: %s", (*s)->warnings);
  return 0;
}

static int load_data(const snn_spec *s, const char *params, snn_data *d) {
  snn_err e = {0};
  int st = params ? snn_data_load(s, params, d, &e) : snn_data_generate(s, d, &e);
  return st ? report(&e) : 0;
}

/* Options: a tiny getopt for "--key value" and "-o value". */
typedef struct {
  const char *net, *out, *rule, *params, *prec, *method, *step, *json, *sweep;
  const char *neurons, *steps, *layers, *model, *recurrent, *reps;
  const char *rules, *psweep, *csv, *raster;
} opts_t;

static int parse_opts(int argc, char **argv, opts_t *o, const char *allowed) {
  memset(o, 0, sizeof *o);
  for (int i = 2; i < argc; i++) {
    const char *a = argv[i];
    const char **slot = NULL;
    struct {
      const char *name;
      const char **slot;
    } table[] = {{"-o", &o->out},          {"--rule", &o->rule},       {"--params", &o->params},
                 {"--precision", &o->prec}, {"--method", &o->method},   {"--step", &o->step},
                 {"--json", &o->json},      {"--step-sweep", &o->sweep}, {"--neurons", &o->neurons},
                 {"--steps", &o->steps},    {"--layers", &o->layers},   {"--model", &o->model},
                 {"--recurrent", &o->recurrent}, {"--reps", &o->reps}, {"--rules", &o->rules},
                 {"--precision-sweep", &o->psweep}, {"--csv", &o->csv}, {"--raster", &o->raster}};
    if (a[0] != '-') {
      if (o->net) return usage_error("unexpected argument '%s'", a);
      o->net = a;
      continue;
    }
    for (size_t k = 0; k < sizeof table / sizeof *table; k++)
      if (!strcmp(a, table[k].name)) slot = table[k].slot;
    char word[40];
    snprintf(word, sizeof word, " %s ", a);
    if (!slot || !strstr(allowed, word)) return usage_error("unknown option '%s' for this command", a);
    if (i + 1 >= argc) return usage_error("option '%s' needs a value", a);
    *slot = argv[++i];
  }
  return 0;
}

/* ---- init ---- */
static int cmd_init(int argc, char **argv) {
  opts_t o;
  int rc = parse_opts(argc, argv, &o, " -o ");
  if (rc) return rc;
  if (!o.net || !o.out) return usage_error("%s", "init needs NET.json and -o PARAMS.json");
  snn_spec *s;
  if ((rc = load_spec(o.net, &s))) return rc;
  snn_data d;
  snn_err e = {0};
  if ((rc = load_data(s, NULL, &d)) == 0) {
    if (snn_data_write(s, &d, o.out, &e))
      rc = report(&e);
    else
      printf("wrote %s: %zu parameters, %zu steps of %zu inputs\n", o.out, s->P, s->T, s->n_in);
    snn_data_clear(&d);
  }
  snn_spec_free(s);
  return rc;
}

/* ---- grad ---- */
static int cmd_grad(int argc, char **argv) {
  opts_t o;
  int rc = parse_opts(argc, argv, &o, " -o --rule --params --precision ");
  if (rc) return rc;
  if (!o.net || !o.out || !o.rule) return usage_error("%s", "grad needs NET.json, --rule RULE and -o GRADS.json");
  prec_t p = {&snn_engine_double, 53};
  if (o.prec && parse_prec(o.prec, &p))
    return usage_error("--precision: expected a number of bits in [8, 1048576] or mpfr:BITS, found '%s'", o.prec);
  snn_err e = {0};
  snn_rule rule;
  if (snn_rule_parse(o.rule, &rule, &e)) return report(&e);
  snn_spec *s;
  if ((rc = load_spec(o.net, &s))) return rc;
  snn_data d;
  if ((rc = load_data(s, o.params, &d)) == 0) {
    snn_result r;
    if (snn_result_init(&r, s)) {
      rc = report(&(snn_err){SNN_ENOMEM, "", "", "out of memory"});
    } else {
      if (p.eng->grad(s, &d, p.bits, &rule, &r, &e) || snn_grads_write(s, &r, o.out, &e))
        rc = report(&e);
      else if (r.loss.s)
        printf("rule %s, %ld bits: loss %s; wrote %s\n", r.rule, p.bits, r.loss.s[0], o.out);
      else
        printf("rule %s, %ld bits: loss %.17g; wrote %s\n", r.rule, p.bits, r.loss.v[0], o.out);
      snn_result_clear(&r);
    }
    snn_data_clear(&d);
  }
  snn_spec_free(s);
  return rc;
}

/* ---- check ---- */
static void describe(const snn_spec *s) {
  static const char *const fw[] = {"heaviside", "sigmoid"};
  printf("network %s: %zu input%s", s->path, s->n_in, s->n_in == 1 ? "" : "s");
  for (size_t l = 0; l < s->L; l++)
    printf(" -> %s %zu%s", s->layers[l].mt->name, s->layers[l].n, s->layers[l].recurrent ? " (rec)" : "");
  printf(" -> readout %zu; %zu steps; loss %s%s; spike %s (slope %g)\n", s->n_out, s->T,
         s->loss == SNN_LOSS_MSE ? "mse" : "ce", s->rate_reg ? " + rate_reg" : "", fw[s->forward], s->slope);
}

static json_t *lgnum(double lg) {
  /* a JSON number where a double can hold it, else the decimal text */
  if (isinf(lg) && lg < 0) return json_real(0.0);
  if (lg > -300) return json_real(pow(10.0, lg));
  char b[40];
  return json_string(fmt_lg(lg, b, sizeof b));
}

/* ---- check --rules: every rule against BPTT, per precision, with verdicts ---- */
#define MAXRULES 16

/* "a,b:k=v,k2=v2,c" -> rules; a token with '=' and no ':' continues the
 * previous rule's options. */
static int split_rules(const char *arg, char out[][160], int *n) {
  char buf[1024];
  snprintf(buf, sizeof buf, "%s", arg);
  *n = 0;
  for (char *save, *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
    if (strchr(tok, '=') && !strchr(tok, ':')) {
      if (*n == 0) return -1;
      strncat(out[*n - 1], ",", 159 - strlen(out[*n - 1]));
      strncat(out[*n - 1], tok, 159 - strlen(out[*n - 1]));
    } else {
      if (*n >= MAXRULES) return -1;
      snprintf(out[(*n)++], 160, "%s", tok);
    }
  }
  return *n ? 0 : -1;
}

static int same_trajectory(const snn_result *a, const snn_result *b, const snn_spec *s) {
  if (a->loss.s || b->loss.s) {
    if (!a->loss.s || !b->loss.s || strcmp(a->loss.s[0], b->loss.s[0])) return 0;
  } else if (a->loss.v[0] != b->loss.v[0]) {
    return 0;
  }
  for (size_t l = 0; l < s->L; l++)
    if (a->crossings[l] != b->crossings[l] || a->spikes[l] != b->spikes[l]) return 0;
  return 1;
}

/* The gradient of one rule at one precision, checked to run on BPTT's trajectory. */
static int rule_grad(const snn_spec *s, const snn_data *d, const prec_t *p, const snn_rule *r, const snn_result *ref,
                     snn_result *out) {
  snn_err e = {0};
  if (snn_result_init(out, s)) return report(&(snn_err){SNN_ENOMEM, "", "", "out of memory"});
  if (p->eng->grad(s, d, p->bits, r, out, &e)) {
    snn_result_clear(out);
    return report(&e);
  }
  if (ref && !same_trajectory(ref, out, s)) {
    snn_result_clear(out);
    fprintf(stderr, "snngrad: error: rule %s did not run on BPTT's trajectory at %ld bits (loss or spikes differ)\n",
            r->name, p->bits);
    return EXIT_FAIL;
  }
  return 0;
}

static int check_rules(const opts_t *o) {
  char texts[MAXRULES][160];
  int nr;
  if (split_rules(o->rules ? o->rules : "bptt,rtrl,ostl,eprop,tbptt:window=10", texts, &nr))
    return usage_error("--rules: expected a comma-separated list of rules, found '%s'", o->rules);
  snn_rule rules[MAXRULES];
  snn_err e = {0};
  for (int i = 0; i < nr; i++)
    if (snn_rule_parse(texts[i], &rules[i], &e)) return report(&e);
  prec_t ps[16];
  int np;
  if (parse_prec_list(o->prec ? o->prec : "53,128,256", ps, 16, &np))
    return usage_error("--precision: expected a comma-separated list of bits (or mpfr:BITS), found '%s'", o->prec);
  long sw_lo = 0, sw_hi = 0;
  if (o->psweep) {
    if (sscanf(o->psweep, "%ld:%ld", &sw_lo, &sw_hi) != 2 || sw_lo < 16 || sw_hi < sw_lo || sw_hi > 65536)
      return usage_error("--precision-sweep: expected LO:HI bits with 16 <= LO <= HI <= 65536, found '%s'", o->psweep);
    if (!o->csv) return usage_error("%s", "--precision-sweep needs --csv FILE");
  }
  snn_spec *s;
  int rc;
  if ((rc = load_spec(o->net, &s))) return rc;
  snn_data d;
  if ((rc = load_data(s, o->params, &d))) {
    snn_spec_free(s);
    return rc;
  }
  snn_rule bptt;
  snn_rule_parse("bptt", &bptt, &e);
  describe(s);
  int fd_ok = snn_fd_allowed(s, &e) == SNN_OK;
  double lg[MAXRULES][16];
  double lgb[MAXRULES][64][16]; /* per rule, block (first 64), precision */
  double cosv[MAXRULES][16];      /* cosine with BPTT over every trainable parameter */
  double lg_fd[16];
  size_t crossings[SNN_MAX_LAYERS] = {0};
  for (int k = 0; k < np && !rc; k++) {
    snn_result ref;
    if ((rc = rule_grad(s, &d, &ps[k], &bptt, NULL, &ref))) break;
    for (size_t l = 0; l < s->L; l++) crossings[l] = ref.crossings[l];
    for (int i = 0; i < nr && !rc; i++) {
      snn_result x;
      if ((rc = rule_grad(s, &d, &ps[k], &rules[i], &ref, &x))) break;
      snn_blockcmp bc[64], all;
      if (s->nblk > 64 || ps[k].eng->compare(s, ps[k].bits, &ref, &x, bc, &all)) {
        rc = report(&(snn_err){SNN_ENOMEM, "", "", "cannot compare"});
      } else {
        lg[i][k] = all.lg_rel;
        cosv[i][k] = all.cosine;
        for (size_t b = 0; b < s->nblk; b++) lgb[i][b][k] = bc[b].lg_rel;
      }
      snn_result_clear(&x);
    }
    snn_result_clear(&ref);
    lg_fd[k] = NAN;
    if (!rc && fd_ok) {
      snn_fdreport rep;
      snn_fdopts fo = {SNN_FD_RICHARDSON, 0};
      if (snn_fdreport_init(&rep, s) == SNN_OK && ps[k].eng->fdcheck(s, &d, ps[k].bits, &fo, &rep, &e) == SNN_OK)
        lg_fd[k] = rep.lg_rel_all;
      snn_fdreport_clear(&rep);
    }
  }
  json_t *jroot = json_pack("{s:s, s:s, s:[], s:[]}", "format", "snngrad-verdicts/1", "network", s->path, "precisions",
                            "rules");
  int mismatches = 0;
  if (!rc) {
    char b1[32], pn[64];
    long bits[16];
    for (int k = 0; k < np; k++) {
      bits[k] = ps[k].bits;
      json_array_append_new(json_object_get(jroot, "precisions"), json_integer(ps[k].bits));
    }
    printf("every rule ran on BPTT's trajectory (identical loss and spikes at every precision)\n");
    for (size_t l = 0; l < s->L; l++)
      if (!crossings[l])
        printf("WARNING: layer %zu never crosses its threshold (u > 0); with nothing to propagate, agreement there\n"
               "proves little (raise w_scale or the input rate)\n", l);
    if (fd_ok) {
      printf("BPTT against Richardson finite differences:");
      for (int k = 0; k < np; k++) printf("  %s: %s", prec_name(&ps[k], pn, sizeof pn), fmt_lg(lg_fd[k], b1, sizeof b1));
      printf("\n");
    } else {
      printf("(no finite-difference column: %s)\n", e.msg);
    }
    printf("\nnormwise relative error against BPTT\n  %-44s", "rule / block");
    for (int k = 0; k < np; k++) printf(" %10ld b", ps[k].bits);
    printf("  verdict\n");
    for (int i = 0; i < nr; i++) {
      char why[256];
      int expect = snn_rule_expectation(s, &rules[i], why, sizeof why);
      double gap;
      int v = snn_classify(bits, lg[i], np, &gap);
      int agrees = (expect == 1 && v == SNN_VERDICT_EXACT) || (expect == 0 && v == SNN_VERDICT_APPROXIMATE);
      if (!strcmp(rules[i].name, "bptt")) agrees = v == SNN_VERDICT_EXACT;
      mismatches += !agrees;
      printf("  %-44s", texts[i]);
      for (int k = 0; k < np; k++) printf(" %12s", fmt_lg(lg[i][k], b1, sizeof b1));
      printf("  %s%s\n", snn_verdict_name(v), agrees ? "" : "  (UNEXPECTED)");
      json_t *jbv = json_object();
      for (size_t b = 0; b < s->nblk; b++) {
        if (!s->blk[b].trainable) continue;
        printf("    %-42s", s->blk[b].name);
        for (int k = 0; k < np; k++) printf(" %12s", fmt_lg(lgb[i][b][k], b1, sizeof b1));
        /* which parameter kinds this rule gets exactly */
        double gb;
        const char *bv = snn_verdict_name(snn_classify(bits, lgb[i][b], np, &gb));
        if (strcmp(rules[i].name, "bptt")) printf("  %s", bv);
        printf("\n");
        json_object_set_new(jbv, s->blk[b].name, json_string(bv));
      }
      printf("    why: %s%s%s\n", why, v == SNN_VERDICT_APPROXIMATE ? "; gap " : "",
             v == SNN_VERDICT_APPROXIMATE ? fmt_lg(gap, b1, sizeof b1) : "");
      json_t *je = json_object(), *jb = json_object();
      for (int k = 0; k < np; k++) {
        char key[16];
        snprintf(key, sizeof key, "%ld", ps[k].bits);
        json_object_set_new(je, key, lgnum(lg[i][k]));
      }
      for (size_t b = 0; b < s->nblk; b++) {
        if (!s->blk[b].trainable) continue;
        json_t *a = json_array();
        for (int k = 0; k < np; k++) json_array_append_new(a, lgnum(lgb[i][b][k]));
        json_object_set_new(jb, s->blk[b].name, a);
      }
      json_array_append_new(json_object_get(jroot, "rules"),
                            json_pack("{s:s, s:s, s:s, s:s, s:o, s:b, s:o, s:o, s:o}", "rule", texts[i], "verdict",
                                      snn_verdict_name(v), "expected", expect == 1 ? "exact" : expect == 0 ? "approximate" : "unknown",
                                      "why", why, "gap", lgnum(gap), "as_documented", agrees, "rel_error", je, "blocks", jb,
                                      "block_verdicts", jbv));
    }
    printf("\nverdict thresholds: EXACT = error <= 2^(14-p) at every precision and falling by at least half the\n"
           "added bits; APPROXIMATE = above that everywhere and within a decade across precisions.\n");
    printf("%s\n", mismatches ? "some rules did NOT behave as documented (marked UNEXPECTED)"
                              : "every rule behaved as documented");
    json_object_set_new(jroot, "as_documented", json_boolean(!mismatches));
    if (o->csv && !o->psweep) { /* one row per rule and precision */
      snn_buf b = {0};
      snn_buf_puts(&b, "rule,precision_bits,log10_rel_error,cosine\n");
      for (int i = 0; i < nr; i++)
        for (int k = 0; k < np; k++)
          snn_buf_printf(&b, "\"%s\",%ld,%.6g,%.17g\n", texts[i], ps[k].bits, isinf(lg[i][k]) ? -400.0 : lg[i][k], cosv[i][k]);
      if (b.oom || snn_write_atomic(o->csv, b.p, b.len, &e)) rc = b.oom ? EXIT_INPUT : report(&e);
      snn_buf_free(&b);
    }
    if (o->json) {
      char *txt = json_dumps(jroot, JSON_INDENT(1) | JSON_REAL_PRECISION(17));
      if (!txt || snn_write_atomic(o->json, txt, strlen(txt), &e)) rc = txt ? report(&e) : EXIT_INPUT;
      free(txt);
    }
  }
  if (!rc && o->psweep) {
    snn_buf b = {0};
    snn_buf_puts(&b, "rule,precision_bits,log10_rel_error,log10_unit_roundoff\n");
    /* geometric steps of 1.25 from LO, and HI itself */
    for (double pb = (double)sw_lo; !rc && pb < (double)sw_hi * 1.25; pb *= 1.25) {
      prec_t p = {&snn_engine_mpfr, pb > (double)sw_hi ? sw_hi : (long)(pb + 0.5)};
      if (pb > (double)sw_hi && (long)(pb / 1.25 + 0.5) == sw_hi) break;
      snn_result ref;
      if ((rc = rule_grad(s, &d, &p, &bptt, NULL, &ref))) break;
      for (int i = 0; i < nr && !rc; i++) {
        snn_result x;
        if ((rc = rule_grad(s, &d, &p, &rules[i], &ref, &x))) break;
        snn_blockcmp bc[64], all;
        if (p.eng->compare(s, p.bits, &ref, &x, bc, &all) == SNN_OK)
          snn_buf_printf(&b, "\"%s\",%ld,%.4f,%.4f\n", texts[i], p.bits, isinf(all.lg_rel) ? -9999.0 : all.lg_rel,
                         -(double)p.bits * log10(2.0));
        snn_result_clear(&x);
      }
      snn_result_clear(&ref);
    }
    if (!rc && snn_write_atomic(o->csv, b.p, b.len, &e)) rc = report(&e);
    if (!rc) printf("wrote the precision sweep to %s\n", o->csv);
    snn_buf_free(&b);
  }
  if (!rc && mismatches) rc = EXIT_FAIL;
  json_decref(jroot);
  snn_data_clear(&d);
  snn_spec_free(s);
  return rc;
}

static int cmd_check(int argc, char **argv) {
  opts_t o;
  int rc = parse_opts(argc, argv, &o, " --precision --params --method --step --json --step-sweep --rules --precision-sweep --csv ");
  if (rc) return rc;
  if (!o.net) return usage_error("%s", "check needs NET.json");
  if (o.rules || o.psweep) return check_rules(&o);
  prec_t ps[16];
  int np;
  if (parse_prec_list(o.prec ? o.prec : "53,256", ps, 16, &np))
    return usage_error("--precision: expected a comma-separated list of bits (or mpfr:BITS), found '%s'", o.prec);
  snn_fdopts fo = {SNN_FD_RICHARDSON, 0.0};
  if (o.method) {
    if (!strcmp(o.method, "central"))
      fo.method = SNN_FD_CENTRAL;
    else if (strcmp(o.method, "richardson"))
      return usage_error("--method: expected richardson or central, found '%s'", o.method);
  }
  if (o.step) {
    char *end;
    fo.step = strtod(o.step, &end);
    if (end == o.step || *end || !(fo.step > 0 && fo.step < 1))
      return usage_error("--step: expected a relative step in (0, 1), found '%s'", o.step);
  }
  snn_spec *s;
  if ((rc = load_spec(o.net, &s))) return rc;
  snn_err e = {0};
  if (snn_fd_allowed(s, &e)) {
    snn_spec_free(s);
    return report(&e);
  }
  snn_data d;
  if ((rc = load_data(s, o.params, &d))) {
    snn_spec_free(s);
    return rc;
  }
  describe(s);
  printf("BPTT against %s finite differences of the loss\n", fo.method == SNN_FD_RICHARDSON ? "Richardson-extrapolated" : "central");
  json_t *jroot = json_pack("{s:s, s:s, s:s, s:[]}", "format", "snngrad-check/1", "network", s->path, "method",
                            fo.method == SNN_FD_RICHARDSON ? "richardson" : "central", "precisions");
  int all_pass = 1;
  double first_lg = NAN, last_lg = NAN;
  char *resolved = calloc(s->nblk, 1);
  if (!resolved) {
    snn_data_clear(&d);
    snn_spec_free(s);
    json_decref(jroot);
    return report(&(snn_err){SNN_ENOMEM, "", "", "out of memory"});
  }
  for (int k = 0; k < np && !rc; k++) {
    snn_fdreport rep;
    if (snn_fdreport_init(&rep, s)) {
      rc = report(&(snn_err){SNN_ENOMEM, "", "", "out of memory"});
      break;
    }
    if (ps[k].eng->fdcheck(s, &d, ps[k].bits, &fo, &rep, &e)) {
      rc = report(&e);
      snn_fdreport_clear(&rep);
      break;
    }
    char pn[64], b1[32], b2[32], b3[32], b4[32];
    printf("\nprecision %s: step %.3g, tolerance %s, loss %s\n", prec_name(&ps[k], pn, sizeof pn), rep.step,
           fmt_lg(rep.lg_tol, b1, sizeof b1), rep.loss.s ? rep.loss.s[0] : (snprintf(b4, sizeof b4, "%.17g", rep.loss.v[0]), b4));
    printf("  threshold crossings (u > 0) per layer, of its unit-steps:");
    for (size_t l = 0; l < s->L; l++) printf(" %zu/%zu", rep.crossings[l], s->T * s->layers[l].n);
    printf("\n");
    printf("  %-18s %7s %9s %9s %9s %-20s %-9s %s\n", "block", "size", "ref.norm", "rel.err", "tolerance",
           "worst elem (row,col)", "1-cosine", "verdict");
    json_t *jb = json_object();
    for (size_t b = 0; b < s->nblk; b++) {
      const snn_blockcmp *bc = &rep.blk[b];
      if (!bc->present) continue;
      char sz[24], wl[48];
      snprintf(sz, sizeof sz, "%zux%zu", s->blk[b].rows, s->blk[b].cols);
      snprintf(wl, sizeof wl, "%s (%zu,%zu)", fmt_lg(bc->lg_worst, b2, sizeof b2), bc->worst_r, bc->worst_c);
      static const char *const verdicts[] = {"ok", "FAIL", "unresolved"};
      char b5[32], b6[32];
      int ok = bc->verdict != SNN_BLK_FAIL;
      printf("  %-18s %7s %9s %9s %9s %-20s %-9s %s\n", s->blk[b].name, sz, fmt_lg(bc->lg_ref, b5, sizeof b5),
             fmt_lg(bc->lg_rel, b1, sizeof b1), fmt_lg(bc->lg_tol, b6, sizeof b6), wl, fmt_lg(bc->lg_1mcos, b3, sizeof b3),
             verdicts[bc->verdict]);
      json_object_set_new(jb, s->blk[b].name,
                          json_pack("{s:o, s:f, s:o, s:{s:i, s:i, s:o}, s:f, s:o, s:b}", "rel_error", lgnum(bc->lg_rel),
                                    "log10_rel_error", bc->lg_rel, "reference_norm", lgnum(bc->lg_ref), "worst", "row",
                                    (int)bc->worst_r, "col", (int)bc->worst_c, "rel_error", lgnum(bc->lg_worst), "cosine",
                                    isnan(bc->cosine) ? 0.0 : bc->cosine, "one_minus_cosine", lgnum(bc->lg_1mcos), "pass", ok));
      json_object_set_new(json_object_get(jb, s->blk[b].name), "verdict", json_string(verdicts[bc->verdict]));
      json_object_set_new(json_object_get(jb, s->blk[b].name), "tolerance", lgnum(bc->lg_tol));
    }
    char b7[32], b8[32];
    printf("  %-18s %7zu %9s %9s %9s %-20s %-9s %s\n", "all trainable", snn_spec_ntrain(s),
           fmt_lg(rep.lg_ref_all, b7, sizeof b7), fmt_lg(rep.lg_rel_all, b1, sizeof b1), fmt_lg(rep.lg_tol, b8, sizeof b8),
           "", "", rep.pass ? "PASS" : "FAIL");
    if (rep.nunresolved)
      printf("  %d block(s) are smaller than the finite difference can resolve at %ld bits (their tolerance would exceed\n"
             "  1e-2); they are neither passed nor failed here - raise the precision to check them.\n",
             rep.nunresolved, ps[k].bits);
    json_t *jc = json_array();
    for (size_t l = 0; l < s->L; l++) json_array_append_new(jc, json_integer((json_int_t)rep.crossings[l]));
    json_array_append_new(json_object_get(jroot, "precisions"),
                          json_pack("{s:i, s:s, s:f, s:o, s:o, s:f, s:o, s:b, s:o, s:o}", "bits", (int)ps[k].bits, "engine",
                                    ps[k].eng->name, "step", rep.step, "tolerance", lgnum(rep.lg_tol), "rel_error",
                                    lgnum(rep.lg_rel_all), "log10_rel_error", rep.lg_rel_all, "loss",
                                    rep.loss.s ? json_string(rep.loss.s[0]) : json_real(rep.loss.v[0]), "pass", rep.pass,
                                    "crossings", jc, "blocks", jb));
    all_pass &= rep.pass;
    for (size_t b = 0; b < s->nblk; b++)
      if (rep.blk[b].present && rep.blk[b].verdict != SNN_BLK_UNRESOLVED) resolved[b] = 1;
    if (k == 0) first_lg = rep.lg_rel_all;
    last_lg = rep.lg_rel_all;
    snn_fdreport_clear(&rep);
  }
  if (!rc) {
    char b1[32], b2[32];
    if (np > 1)
      printf("\nerror from %ld to %ld bits: %s -> %s (%s)\n", ps[0].bits, ps[np - 1].bits, fmt_lg(first_lg, b1, sizeof b1),
             fmt_lg(last_lg, b2, sizeof b2), last_lg < first_lg ? "tightens with precision" : "DOES NOT TIGHTEN");
    int never = 0;
    for (size_t b = 0; b < s->nblk; b++)
      if (s->blk[b].trainable && !resolved[b]) {
        printf("note: %s was too small to resolve at every precision asked for; it is not verified\n", s->blk[b].name);
        never++;
      }
    printf("verdict: %s\n", !all_pass ? "FAIL - BPTT and finite differences disagree beyond the tolerance"
                             : never   ? "PASS on the resolved blocks - BPTT equals the derivative of the loss there"
                                       : "PASS - BPTT equals the derivative of the loss at every precision");
    json_object_set_new(jroot, "unverified_blocks", json_integer(never));
    json_object_set_new(jroot, "pass", json_boolean(all_pass));
    if (o.json) {
      char *txt = json_dumps(jroot, JSON_INDENT(1) | JSON_REAL_PRECISION(17));
      if (!txt || snn_write_atomic(o.json, txt, strlen(txt), &e)) rc = txt ? report(&e) : EXIT_INPUT;
      free(txt);
    }
    if (!rc && !all_pass) rc = EXIT_FAIL;
  }
  if (!rc && o.sweep) {
    snn_buf b = {0};
    snn_buf_puts(&b, "precision_bits,engine,step,log10_step,log10_err_central,log10_err_richardson\n");
    for (int k = 0; k < np && !rc; k++) {
      double lgeps = -(double)ps[k].bits * log10(2.0);
      size_t n = 0;
      double steps[128];
      for (double lh = -0.5; lh >= 0.6 * lgeps && n < 128; lh -= (ps[k].bits > 64 ? 1.0 : 0.5)) steps[n++] = pow(10.0, lh);
      snn_sweep_row rows[128];
      if (ps[k].eng->sweep(s, &d, ps[k].bits, steps, n, rows, &e)) {
        rc = report(&e);
        break;
      }
      for (size_t i = 0; i < n; i++)
        snn_buf_printf(&b, "%ld,%s,%.6e,%.4f,%.4f,%.4f\n", ps[k].bits, ps[k].eng->name, rows[i].step, log10(rows[i].step),
                       rows[i].lg_rel_central, rows[i].lg_rel_richardson);
    }
    if (!rc && snn_write_atomic(o.sweep, b.p, b.len, &e)) rc = report(&e);
    if (!rc) printf("wrote the step sweep to %s\n", o.sweep);
    snn_buf_free(&b);
  }
  free(resolved);
  json_decref(jroot);
  snn_data_clear(&d);
  snn_spec_free(s);
  return rc;
}

/* ---- bench ---- */
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

/* Time per step and memory of every rule, against T and n: the complexity
 * claims read off measured numbers. */
static int bench_rules(const opts_t *o) {
  char texts[MAXRULES][160];
  int nr;
  if (split_rules(o->rules, texts, &nr)) return usage_error("--rules: expected a comma-separated list, found '%s'", o->rules);
  snn_rule rules[MAXRULES];
  snn_err e = {0};
  for (int i = 0; i < nr; i++)
    if (snn_rule_parse(texts[i], &rules[i], &e)) return report(&e);
  long Ts[16], ns[16];
  int nT = 0, nn = 0;
  char buf[256];
  snprintf(buf, sizeof buf, "%s", o->steps ? o->steps : "100,1000");
  for (char *sv, *tok = strtok_r(buf, ",", &sv); tok && nT < 16; tok = strtok_r(NULL, ",", &sv)) Ts[nT++] = atol(tok);
  snprintf(buf, sizeof buf, "%s", o->neurons ? o->neurons : "16,32");
  for (char *sv, *tok = strtok_r(buf, ",", &sv); tok && nn < 16; tok = strtok_r(NULL, ",", &sv)) ns[nn++] = atol(tok);
  for (int i = 0; i < nT; i++)
    if (Ts[i] < 1) return usage_error("--steps: expected positive integers, found '%s'", o->steps);
  for (int i = 0; i < nn; i++)
    if (ns[i] < 1 || ns[i] > 4096) return usage_error("--neurons: expected integers in [1, 4096], found '%s'", o->neurons);
  prec_t p = {&snn_engine_double, 53};
  if (o->prec && parse_prec(o->prec, &p)) return usage_error("--precision: expected one number of bits, found '%s'", o->prec);
  int rec = !o->recurrent || !strcmp(o->recurrent, "yes");
  const char *model = o->model ? o->model : "lif";
  snn_buf csv = {0};
  snn_buf_puts(&csv, "rule,neurons,steps,precision_bits,us_per_step,bytes\n");
  printf("%-28s %8s %8s %14s %14s\n", "rule", "neurons", "steps", "us/step", "memory (bytes)");
  int rc = 0;
  for (int a = 0; a < nn && !rc; a++)
    for (int b = 0; b < nT && !rc; b++) {
      snn_buf js = {0};
      snn_buf_printf(&js, "{\"seed\": 1, \"steps\": %ld, \"input\": {\"size\": 8, \"rate\": 0.2}, \"layers\": [{\"model\": "
                     "\"%s\", \"size\": %ld, \"recurrent\": %s, \"w_scale\": 2}], \"readout\": {\"size\": 4, \"tau_out\": 10}}",
                     Ts[b], model, ns[a], rec ? "true" : "false");
      snn_spec *s;
      rc = snn_spec_parse(js.p, "(bench network)", &s, &e) ? report(&e) : 0;
      snn_buf_free(&js);
      if (rc) break;
      snn_data d;
      if ((rc = load_data(s, NULL, &d))) {
        snn_spec_free(s);
        break;
      }
      for (int i = 0; i < nr && !rc; i++) {
        snn_result r;
        double us = INFINITY;
        for (int rep = 0; rep < 3 && !rc; rep++) { /* the best of three: the first includes warm-up */
          if (rep) snn_result_clear(&r);
          snn_result_init(&r, s);
          struct timespec t0, t1;
          clock_gettime(CLOCK_MONOTONIC, &t0);
          if (p.eng->grad(s, &d, p.bits, &rules[i], &r, &e)) rc = report(&e);
          clock_gettime(CLOCK_MONOTONIC, &t1);
          double u = 1e6 * ((double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec)) / (double)Ts[b];
          if (u < us) us = u;
        }
        if (!rc) {
          printf("%-28s %8ld %8ld %14.2f %14zu\n", texts[i], ns[a], Ts[b], us, r.bytes);
          snn_buf_printf(&csv, "\"%s\",%ld,%ld,%ld,%.3f,%zu\n", texts[i], ns[a], Ts[b], p.bits, us, r.bytes);
        }
        snn_result_clear(&r);
      }
      snn_data_clear(&d);
      snn_spec_free(s);
    }
  if (!rc && o->csv && snn_write_atomic(o->csv, csv.p, csv.len, &e)) rc = report(&e);
  snn_buf_free(&csv);
  printf("memory: the heap each rule holds while computing one gradient (its own account; tests/memory.c\n"
         "checks it against the allocations it makes).  Times: wall clock per step, best of three sequences.\n");
  return rc;
}

static int cmd_bench(int argc, char **argv) {
  opts_t o;
  int rc = parse_opts(argc, argv, &o, " --neurons --steps --layers --model --recurrent --precision --reps --rules --csv ");
  if (rc) return rc;
  if (o.rules) return bench_rules(&o);
  int bad = 0;
  long n = get_long(o.neurons, "--neurons", 256, 1, 1 << 16, &bad);
  long T = get_long(o.steps, "--steps", 1000, 1, 1 << 24, &bad);
  long L = get_long(o.layers, "--layers", 1, 1, 64, &bad);
  long reps = get_long(o.reps, "--reps", 5, 1, 1 << 20, &bad);
  if (bad) return EXIT_INPUT;
  const char *model = o.model ? o.model : "lif";
  int rec = !o.recurrent || !strcmp(o.recurrent, "yes");
  if (o.recurrent && strcmp(o.recurrent, "yes") && strcmp(o.recurrent, "no"))
    return usage_error("--recurrent: expected yes or no, found '%s'", o.recurrent);
  prec_t ps[16];
  int np;
  if (parse_prec_list(o.prec ? o.prec : "53", ps, 16, &np))
    return usage_error("--precision: expected a comma-separated list of bits, found '%s'", o.prec);
  snn_spec *s;
  snn_err e = {0};
  if (o.net) {
    if ((rc = load_spec(o.net, &s))) return rc;
  } else {
    snn_buf b = {0};
    snn_buf_printf(&b, "{\"seed\": 1, \"steps\": %ld, \"input\": {\"size\": %ld, \"rate\": 0.05}, \"layers\": [", T, n);
    for (long l = 0; l < L; l++)
      snn_buf_printf(&b, "%s{\"model\": \"%s\", \"size\": %ld, \"recurrent\": %s}", l ? ", " : "", model, n,
                     rec ? "true" : "false");
    snn_buf_printf(&b, "], \"readout\": {\"size\": 10, \"tau_out\": 20}, \"spike\": {\"forward\": \"heaviside\"}}");
    rc = snn_spec_parse(b.p, "(bench network)", &s, &e);
    snn_buf_free(&b);
    if (rc) return report(&e);
  }
  snn_data d;
  if ((rc = load_data(s, NULL, &d))) {
    snn_spec_free(s);
    return rc;
  }
  describe(s);
  printf("BPTT over one sequence, mean of %ld runs\n", reps);
  printf("%-22s %12s %12s %14s %14s %14s\n", "precision", "fwd us/step", "bwd us/step", "ms/sequence", "trajectory MB",
         "workspace MB");
  for (int k = 0; k < np; k++) {
    snn_bench_res r;
    long rp = ps[k].eng == &snn_engine_double ? reps : 1;
    if (ps[k].eng->bench(s, &d, ps[k].bits, (int)rp, &r, &e)) {
      rc = report(&e);
      break;
    }
    char pn[64];
    printf("%-22s %12.2f %12.2f %14.3f %14.3f %14.3f\n", prec_name(&ps[k], pn, sizeof pn), 1e6 * r.fwd_s, 1e6 * r.bwd_s,
           1e3 * (r.fwd_s + r.bwd_s) * (double)s->T, r.bytes_traj / 1048576.0, r.bytes_ws / 1048576.0);
  }
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  printf("peak resident memory of the process: %.1f MB\n", ru.ru_maxrss / 1024.0);
  snn_data_clear(&d);
  snn_spec_free(s);
  return rc;
}

/* ---- run: one forward pass, written out ---- */
static int cmd_run(int argc, char **argv) {
  opts_t o;
  int rc = parse_opts(argc, argv, &o, " --params --precision --csv --raster ");
  if (rc) return rc;
  if (!o.net || !o.csv) return usage_error("%s", "run needs NET.json and --csv OUT.csv (and optionally --raster RASTER.csv)");
  prec_t p;
  if (parse_prec(o.prec ? o.prec : "53", &p)) return usage_error("--precision: expected bits, found '%s'", o.prec);
  snn_spec *s;
  if ((rc = load_spec(o.net, &s))) return rc;
  snn_data d;
  if ((rc = load_data(s, o.params, &d))) {
    snn_spec_free(s);
    return rc;
  }
  size_t H = 0;
  for (size_t l = 0; l < s->L; l++) H += s->layers[l].n;
  double *yo = calloc(s->T * s->n_out, sizeof *yo), *z = calloc(s->T * H, sizeof *z), loss = 0;
  snn_err e = {0};
  if (!yo || !z) {
    rc = report(&(snn_err){SNN_ENOMEM, "", "", "out of memory"});
  } else if (p.eng->trace(s, &d, p.bits, yo, z, &loss, &e)) {
    rc = report(&e);
  } else {
    snn_buf b = {0};
    snn_buf_puts(&b, "step");
    for (size_t k = 0; k < s->n_out; k++) snn_buf_printf(&b, ",y%zu", k);
    for (size_t k = 0; s->loss == SNN_LOSS_MSE && k < s->n_out; k++) snn_buf_printf(&b, ",target%zu", k);
    snn_buf_puts(&b, "\n");
    for (size_t t = 0; t < s->T; t++) {
      snn_buf_printf(&b, "%zu", t + 1);
      for (size_t k = 0; k < s->n_out; k++) snn_buf_printf(&b, ",%.9g", yo[t * s->n_out + k]);
      for (size_t k = 0; s->loss == SNN_LOSS_MSE && k < s->n_out; k++) snn_buf_printf(&b, ",%.9g", d.y.v[t * s->n_out + k]);
      snn_buf_puts(&b, "\n");
    }
    if (b.oom || snn_write_atomic(o.csv, b.p, b.len, &e)) rc = b.oom ? EXIT_INPUT : report(&e);
    snn_buf_free(&b);
    if (!rc && o.raster) { /* the raster: one row per output above 1/2 */
      snn_buf r = {0};
      snn_buf_puts(&r, "step,unit,layer,output\n");
      for (size_t t = 0; t < s->T; t++)
        for (size_t l = 0, j = 0; l < s->L; l++)
          for (size_t i = 0; i < s->layers[l].n; i++, j++)
            if (z[t * H + j] > 0.5) snn_buf_printf(&r, "%zu,%zu,%zu,%.6g\n", t + 1, j, l, z[t * H + j]);
      if (r.oom || snn_write_atomic(o.raster, r.p, r.len, &e)) rc = r.oom ? EXIT_INPUT : report(&e);
      snn_buf_free(&r);
    }
    if (!rc) printf("loss %.17g; wrote %s%s%s\n", loss, o.csv, o.raster ? " and " : "", o.raster ? o.raster : "");
  }
  free(yo);
  free(z);
  snn_data_clear(&d);
  snn_spec_free(s);
  return rc;
}

/* ---- train ---- */
static int cmd_train(int argc, char **argv) {
  const char *exp = NULL, *out = NULL, *until = NULL;
  snn_train_opts o = {0};
  for (int i = 2; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "--resume"))
      o.resume = 1;
    else if (!strcmp(a, "--quiet"))
      o.quiet = 1;
    else if ((!strcmp(a, "--out") || !strcmp(a, "--until")) && i + 1 < argc)
      *(a[2] == 'o' ? &out : &until) = argv[++i];
    else if (a[0] == '-')
      return usage_error("unknown option or missing value '%s' for train (--out DIR, --resume, --until N, --quiet)", a);
    else if (exp)
      return usage_error("unexpected argument '%s'", a);
    else
      exp = a;
  }
  if (!exp) return usage_error("%s", "train needs EXPERIMENT.json");
  if (until) {
    char *end;
    long long u = strtoll(until, &end, 10);
    if (*end || end == until || u < 1) return usage_error("--until: expected a number of updates >= 1, found '%s'", until);
    o.until = (size_t)u;
  }
  o.tty = isatty(2);
  snn_experiment e;
  snn_err err = {0};
  if (snn_experiment_load(exp, out, &e, &err)) return report(&err);
  if (e.spec->warnings[0]) fprintf(stderr, "snngrad: warning: %s", e.spec->warnings);
  if (!o.quiet)
    fprintf(stderr, "snngrad: training %s on %s (T = %zu, %zu inputs, %zu outputs) with %s at %ld bits, %zu updates of %zu; output in %s\n",
            e.spec->path, snn_task_names[e.task.kind], e.task.T, e.task.n_in, e.task.n_out, e.rule_text, e.prec, e.updates,
            e.batch, e.out);
  snn_train_res r = {0};
  int st = e.prec == 53 ? snn_train_d(&e, &o, &r, &err) : snn_train_mp(&e, &o, &r, &err);
  int rc = 0;
  if (st) {
    if (!o.quiet && o.tty) fputc('\n', stderr);
    rc = report(&err);
  } else {
    printf("trained %zu updates: train loss %.6g", r.updates, r.train_loss);
    if (!isnan(r.eval_loss)) printf(", eval loss %.6g", r.eval_loss);
    if (!isnan(r.eval_acc)) printf(", eval accuracy %.4f", r.eval_acc);
    printf("; wrote %s/log.csv, manifest.json, checkpoint.json%s\n", e.out, r.updates == e.updates ? ", params.json, network.json" : "");
  }
  snn_experiment_free(&e);
  return rc;
}

int main(int argc, char **argv) {
  int rc;
  if (argc < 2) {
    usage(stderr);
    return EXIT_INPUT;
  }
  const char *cmd = argv[1];
  if (!strcmp(cmd, "init"))
    rc = cmd_init(argc, argv);
  else if (!strcmp(cmd, "grad"))
    rc = cmd_grad(argc, argv);
  else if (!strcmp(cmd, "check"))
    rc = cmd_check(argc, argv);
  else if (!strcmp(cmd, "bench"))
    rc = cmd_bench(argc, argv);
  else if (!strcmp(cmd, "train"))
    rc = cmd_train(argc, argv);
  else if (!strcmp(cmd, "run"))
    rc = cmd_run(argc, argv);
  else if (!strcmp(cmd, "version")) {
    printf("snngrad 0.1.0 (MPFR %s)\n", mpfr_get_version());
    rc = 0;
  } else if (!strcmp(cmd, "help") || !strcmp(cmd, "--help") || !strcmp(cmd, "-h")) {
    usage(stdout);
    rc = 0;
  } else {
    rc = usage_error("unknown command '%s'", cmd);
  }
  mpfr_free_cache();
  return rc;
}
