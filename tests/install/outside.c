/* outside.c - a program outside the tree, built against the installed
 * library only (tests/install/run.sh compiles it with pkg-config): the ten
 * lines of snngrad.h on examples/lif_smooth.json.  It draws the parameters
 * from the network's seed, computes the BPTT gradient in double and with
 * MPFR at 128 bits, prints the loss, checks the double gradient against
 * finite differences, and fails unless the two gradients agree to 1e-12
 * (normwise relative) and the comparison is not vacuous. */
#include <math.h>
#include <snngrad.h>
#include <stdio.h>

static int fail(const char *what, const snn_err *err) {
  char buf[1400];
  snn_err_format(err, buf, sizeof buf);
  fprintf(stderr, "outside: %s: %s (%s)\n", what, buf, snn_strerror(err->status));
  return 1;
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: outside NET.json\n");
    return 2;
  }
  snn_err err = {0};
  snn_spec *spec;
  if (snn_spec_load(argv[1], &spec, &err)) return fail("load", &err);
  snn_data data;
  if (snn_data_generate(spec, &data, &err)) return fail("generate", &err);
  snn_rule rule;
  if (snn_rule_parse("bptt", &rule, &err)) return fail("rule", &err);
  snn_result rd, rm;
  if (snn_result_init(&rd, spec) || snn_result_init(&rm, spec)) return fprintf(stderr, "outside: out of memory\n"), 1;
  if (snn_engine_double.grad(spec, &data, 53, &rule, &rd, &err)) return fail("grad, double", &err);
  if (snn_engine_mpfr.grad(spec, &data, 128, &rule, &rm, &err)) return fail("grad, 128 bits", &err);
  snn_prec p = {&snn_engine_double, 53};
  snn_fdopts fo = {SNN_FD_RICHARDSON, 0.0, NULL};
  snn_fdcheck fd;
  if (snn_gc_fdcheck(spec, &data, &p, 1, &fo, NULL, NULL, &fd, &err)) return fail("fdcheck", &err);

  /* the comparison must not be vacuous: the network spikes (crossings of
   * the threshold) and the reference gradient is not zero */
  size_t cross = 0;
  for (size_t l = 0; l < spec->L; l++) cross += rm.crossings[l];
  double num = 0, den = 0, worst = 0;
  for (size_t i = 0; i < spec->P; i++) {
    double e = rd.grad.v[i] - rm.grad.v[i];
    num += e * e;
    den += rm.grad.v[i] * rm.grad.v[i];
    if (fabs(e) > worst) worst = fabs(e);
  }
  double rel = den > 0 ? sqrt(num / den) : INFINITY;
  printf("loss (double)   %.17g\n", rd.loss.v[0]);
  printf("loss (128 bits) %s\n", rm.loss.s ? rm.loss.s[0] : "?");
  printf("parameters %zu, trainable %zu, threshold crossings %zu, ||g|| %.6g\n", spec->P, snn_spec_ntrain(spec), cross,
         sqrt(den));
  printf("double vs 128 bits: normwise relative %.3g, largest difference %.3g\n", rel, worst);
  printf("double vs finite differences: log10 relative %.2f (tolerance %.2f): %s\n", fd.rep[0].lg_rel_all,
         fd.rep[0].lg_tol, fd.all_pass ? "pass" : "FAIL");

  int rc = 0;
  if (cross == 0 || !(den > 0)) fprintf(stderr, "outside: vacuous: no crossings or a zero gradient\n"), rc = 1;
  if (!(rel <= 1e-12)) fprintf(stderr, "outside: the gradients disagree: %.3g > 1e-12\n", rel), rc = 1;
  if (!(fabs(rd.loss.v[0] - rm.loss.v[0]) <= 1e-12 * fabs(rm.loss.v[0])))
    fprintf(stderr, "outside: the losses disagree\n"), rc = 1;
  if (!fd.all_pass) fprintf(stderr, "outside: BPTT and finite differences disagree\n"), rc = 1;

  snn_fdcheck_clear(&fd, spec);
  snn_result_clear(&rd);
  snn_result_clear(&rm);
  snn_data_clear(&data);
  snn_spec_free(spec);
  return rc;
}
