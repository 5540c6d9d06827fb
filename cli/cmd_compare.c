/* cmd_compare.c - the commands for gradients computed elsewhere: export (a
 * network's parameters and data as .npy files) and compare (an outside
 * gradient against snngrad's, with a verdict per block; docs/compare.md).
 * Parsing and printing only: the comparison is gradcheck/compare.c, the
 * table, JSON and the export's files report/compare.c. */
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "report/compare.h"

/* Takes "--NAME VALUE" out of argv (into *val) so that the shared parser
 * sees the rest; 0, or the exit status after an error. */
static int take_opt(int *argc, char **argv, const char *name, const char **val) {
  for (int i = 2; i < *argc; i++) {
    if (strcmp(argv[i], name)) continue;
    if (*val) return cli_usage_error("option '%s' given twice", name);
    if (i + 1 >= *argc || !argv[i + 1][0]) return cli_usage_error("option '%s' needs a value", name);
    *val = argv[i + 1];
    memmove(argv + i, argv + i + 2, (size_t)(*argc - i - 2) * sizeof *argv);
    *argc -= 2;
    i--;
  }
  return 0;
}

/* The bytes of a file (the network file copied by export). */
static char *slurp(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  char *p = NULL;
  size_t cap = 0;
  *len = 0;
  for (size_t got = 1; f && got;) {
    if (*len + 4096 > cap) {
      char *q = realloc(p, cap = 2 * cap + 4096);
      if (!q) break;
      p = q;
    }
    got = fread(p + *len, 1, cap - *len, f);
    *len += got;
  }
  if (f) fclose(f);
  return p;
}

int cli_export(int argc, char **argv) {
  const char *npy = NULL;
  int rc = take_opt(&argc, argv, "--npy", &npy);
  cli_opts o;
  if (rc || (rc = cli_parse_opts(argc, argv, &o, " --params "))) return rc;
  if (!o.net || !npy) return cli_usage_error("%s", "export needs NET.json and --npy DIR");
  snn_spec *s;
  if ((rc = cli_load_spec(o.net, &s))) return rc;
  snn_data d;
  if ((rc = cli_check_memory(s, NULL, 53, 1, o.maxmem)) || (rc = cli_load_data(s, o.params, &d))) {
    snn_spec_free(s);
    return rc;
  }
  size_t len;
  char *text = slurp(o.net, &len);
  snn_err e = {0};
  if (!text)
    rc = cli_report(&(snn_err){SNN_EIO, "", "", "cannot read the network file again"});
  else if (snn_report_export(s, &d, text, len, npy, &e))
    rc = cli_report(&e);
  else {
    size_t nb = 0, nt = 0;
    for (size_t b = 0; b < s->nblk; b++) nb += s->blk[b].in_params, nt += s->blk[b].in_params && s->blk[b].trainable;
    printf("wrote %s: %zu parameter blocks (%zu trained), input %zu x %zu, %s, network.json, export.json\n", npy, nb,
           nt, s->T, s->n_in, s->loss == SNN_LOSS_MSE ? "target" : "label");
  }
  free(text);
  snn_data_clear(&d);
  snn_spec_free(s);
  return rc;
}

int cli_compare(int argc, char **argv) {
  const char *grads = NULL;
  int rc = take_opt(&argc, argv, "--grads", &grads);
  cli_opts o;
  if (rc || (rc = cli_parse_opts(argc, argv, &o, " --params --rule --precision --json "))) return rc;
  if (!o.net || !grads) return cli_usage_error("%s", "compare needs NET.json and --grads THEIRS");
  snn_prec p[SNN_GC_MAXPREC];
  int np;
  if (snn_prec_parse_list(o.prec ? o.prec : "53,128", p, SNN_GC_MAXPREC, &np))
    return cli_usage_error("--precision: expected a comma-separated list of bits in [8, 1048576], found '%s'", o.prec);
  const char *rule = o.rule ? o.rule : "bptt";
  snn_err e = {0};
  snn_rule r;
  if (snn_rule_parse(rule, &r, &e)) return cli_report(&e);
  snn_spec *s;
  if ((rc = cli_load_spec(o.net, &s))) return rc;
  long top = 0;
  for (int k = 0; k < np; k++) top = p[k].bits > top ? p[k].bits : top;
  snn_data d;
  if ((rc = cli_check_memory(s, &r, top, 1, o.maxmem)) || (rc = cli_load_data(s, o.params, &d))) {
    snn_spec_free(s);
    return rc;
  }
  snn_gc_theirs t;
  snn_gc_comparison c;
  if (snn_gc_theirs_load(s, grads, &t, &e)) {
    rc = cli_report(&e);
  } else {
    if (t.warnings[0]) fprintf(stderr, "snngrad: warning: %s", t.warnings);
    if (snn_gc_compare(s, &d, rule, p, np, &t, &c, &e)) {
      rc = cli_report(&e);
    } else {
      char *js = o.json ? snn_report_compare_json(s, grads, &t, &c) : NULL;
      if (o.json && !js)
        rc = cli_oom();
      else if (o.json)
        rc = cli_write_all(1, (const char *const[]){o.json}, (const char *const[]){js}, (size_t[]){strlen(js)});
      if (!rc) {
        snn_report_compare(stdout, s, grads, &t, &c);
        rc = c.ndiffer ? EXIT_FAIL : 0;
      }
      free(js);
      snn_gc_comparison_clear(&c);
    }
    snn_gc_theirs_clear(&t);
  }
  snn_data_clear(&d);
  snn_spec_free(s);
  return rc;
}
