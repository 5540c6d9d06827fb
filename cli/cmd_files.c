/* cmd_files.c - the commands that turn a network into files: init
 * (parameters), grad (a gradient) and run (one forward pass). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

int cli_init(int argc, char **argv) {
  cli_opts o;
  int rc = cli_parse_opts(argc, argv, &o, " -o ");
  if (rc) return rc;
  if (!o.net || !o.out) return cli_usage_error("%s", "init needs NET.json and -o PARAMS.json");
  snn_spec *s;
  if ((rc = cli_load_spec(o.net, &s))) return rc;
  snn_data d;
  snn_err e = {0};
  if ((rc = cli_check_memory(s, NULL, 53, 1, o.maxmem))) {
    snn_spec_free(s);
    return rc;
  }
  if ((rc = cli_load_data(s, NULL, &d)) == 0) {
    if (snn_data_write(s, &d, o.out, &e))
      rc = cli_report(&e);
    else
      printf("wrote %s: %zu parameters, %zu steps of %zu inputs\n", o.out, s->P, s->T, s->n_in);
    snn_data_clear(&d);
  }
  snn_spec_free(s);
  return rc;
}

int cli_grad(int argc, char **argv) {
  cli_opts o;
  int rc = cli_parse_opts(argc, argv, &o, " -o --rule --params --precision ");
  if (rc) return rc;
  if (!o.net || !o.out || !o.rule) return cli_usage_error("%s", "grad needs NET.json, --rule RULE and -o GRADS.json");
  snn_prec p = {&snn_engine_double, 53};
  if (o.prec && snn_prec_parse(o.prec, &p))
    return cli_usage_error("--precision: expected a number of bits in [8, 1048576] or mpfr:BITS, found '%s'", o.prec);
  snn_err e = {0};
  snn_rule rule;
  if (snn_rule_parse(o.rule, &rule, &e)) return cli_report(&e);
  snn_spec *s;
  if ((rc = cli_load_spec(o.net, &s))) return rc;
  if ((rc = cli_check_memory(s, &rule, p.bits, 1, o.maxmem))) {
    snn_spec_free(s);
    return rc;
  }
  snn_data d;
  if ((rc = cli_load_data(s, o.params, &d)) == 0) {
    snn_result r;
    if (snn_result_init(&r, s)) {
      rc = cli_oom();
    } else {
      if (p.eng->grad(s, &d, p.bits, &rule, &r, &e) || snn_grads_write(s, &r, o.out, &e))
        rc = cli_report(&e);
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

/* The readout (and the target) per step. */
static void run_csv(const snn_spec *s, const snn_data *d, const double *yo, snn_buf *b) {
  snn_buf_puts(b, "step");
  for (size_t k = 0; k < s->n_out; k++) snn_buf_printf(b, ",y%zu", k);
  for (size_t k = 0; s->loss == SNN_LOSS_MSE && k < s->n_out; k++) snn_buf_printf(b, ",target%zu", k);
  snn_buf_puts(b, "\n");
  for (size_t t = 0; t < s->T; t++) {
    snn_buf_printf(b, "%zu", t + 1);
    for (size_t k = 0; k < s->n_out; k++) snn_buf_printf(b, ",%.9g", yo[t * s->n_out + k]);
    for (size_t k = 0; s->loss == SNN_LOSS_MSE && k < s->n_out; k++)
      snn_buf_printf(b, ",%.9g", d->y.v[t * s->n_out + k]);
    snn_buf_puts(b, "\n");
  }
}

/* The raster: one row per output above 1/2. */
static void run_raster(const snn_spec *s, const double *z, size_t H, snn_buf *r) {
  snn_buf_puts(r, "step,unit,layer,output\n");
  for (size_t t = 0; t < s->T; t++)
    for (size_t l = 0, j = 0; l < s->L; l++)
      for (size_t i = 0; i < s->layers[l].n; i++, j++)
        if (z[t * H + j] > 0.5) snn_buf_printf(r, "%zu,%zu,%zu,%.6g\n", t + 1, j, l, z[t * H + j]);
}

static int all_finite(const double *v, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (!isfinite(v[i])) return 0;
  return 1;
}

static int run_write(const cli_opts *o, const snn_spec *s, const snn_data *d, const double *yo, const double *z,
                     size_t H, double loss) {
  if (!isfinite(loss) || !all_finite(yo, s->T * s->n_out) || !all_finite(z, s->T * H)) {
    snn_err e = {0};
    snn_err_set(
        &e, SNN_ENONFINITE, s->path, "",
        "the readout or the loss is not finite (the values overflow: check w_scale and the parameters); nothing "
        "written");
    return cli_report(&e);
  }
  snn_buf b = {0}, r = {0};
  run_csv(s, d, yo, &b);
  if (o->raster) run_raster(s, z, H, &r);
  int rc;
  if (b.oom || r.oom) {
    rc = cli_oom();
  } else {
    const char *paths[2] = {o->csv, o->raster}, *texts[2] = {b.p, r.p};
    size_t lens[2] = {b.len, r.len};
    rc = cli_write_all(2, paths, texts, lens);
  }
  if (!rc) printf("loss %.17g; wrote %s%s%s\n", loss, o->csv, o->raster ? " and " : "", o->raster ? o->raster : "");
  snn_buf_free(&b);
  snn_buf_free(&r);
  return rc;
}

int cli_run(int argc, char **argv) {
  cli_opts o;
  int rc = cli_parse_opts(argc, argv, &o, " --params --precision --csv --raster ");
  if (rc) return rc;
  if (!o.net || !o.csv)
    return cli_usage_error("%s", "run needs NET.json and --csv OUT.csv (and optionally --raster RASTER.csv)");
  snn_prec p;
  if (snn_prec_parse(o.prec ? o.prec : "53", &p))
    return cli_usage_error("--precision: expected bits, found '%s'", o.prec);
  snn_spec *s;
  if ((rc = cli_load_spec(o.net, &s))) return rc;
  snn_data d;
  if ((rc = cli_check_memory(s, NULL, p.bits, 1, o.maxmem)) || (rc = cli_load_data(s, o.params, &d))) {
    snn_spec_free(s);
    return rc;
  }
  size_t H = 0;
  for (size_t l = 0; l < s->L; l++) H += s->layers[l].n;
  double *yo = calloc(s->T * s->n_out, sizeof *yo), *z = calloc(s->T * H, sizeof *z), loss = 0;
  snn_err e = {0};
  if (!yo || !z)
    rc = cli_oom();
  else if (p.eng->trace(s, &d, p.bits, yo, z, &loss, &e))
    rc = cli_report(&e);
  else
    rc = run_write(&o, s, &d, yo, z, H, loss);
  free(yo);
  free(z);
  snn_data_clear(&d);
  snn_spec_free(s);
  return rc;
}
