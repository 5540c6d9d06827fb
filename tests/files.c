/* files.c - the network-file parser, parameter and gradient files, error
 * messages and atomic writes (precision-neutral). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io/io.h"
#include "sim/engine.h"
#include "tests/testutil.h"

static char tmpdir[256];

static void setup(void) {
  snprintf(tmpdir, sizeof tmpdir, "/tmp/snngrad-test-XXXXXX");
  ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void teardown(void) {
  char cmd[300];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
  ck_assert_int_eq(system(cmd), 0);
}

static const char *path_in(const char *name) {
  static char buf[4][400];
  static int k;
  k = (k + 1) % 4;
  snprintf(buf[k], sizeof buf[k], "%s/%s", tmpdir, name);
  return buf[k];
}

static void write_file(const char *path, const char *text) {
  FILE *f = fopen(path, "w");
  ck_assert_ptr_nonnull(f);
  fputs(text, f);
  fclose(f);
}

static const char *GOOD =
    "{\"seed\": 11, \"steps\": 6, \"input\": {\"size\": 2, \"rate\": 0.5},"
    " \"layers\": [{\"model\": \"alif\", \"size\": 3, \"recurrent\": true, \"train\": [\"w_in\", \"w_rec\", "
    "\"beta\"]}],"
    " \"readout\": {\"size\": 2, \"tau_out\": 3}, \"spike\": {\"forward\": \"sigmoid\"}}";

/* A network-file error: status, key and a phrase of the message. */
typedef struct {
  const char *json;
  int status;
  const char *key;
  const char *phrase;
} bad_net;

static const bad_net BAD[] = {
    {"{\"steps\": 4,", SNN_EJSON, "1:", "invalid JSON"},
    {"[1, 2]", SNN_EKEY, "", "top level must be an object"},
    {"{\"input\": {\"size\": 2}, \"layers\": [{\"model\": \"lif\", \"size\": 2}], \"readout\": {\"size\": 1}}",
     SNN_EKEY, "steps", "missing"},
    {"{\"steps\": 4, \"input\": {\"size\": 2}, \"layers\": [{\"model\": \"lfi\", \"size\": 2}], \"readout\": "
     "{\"size\": 1}}",
     SNN_EVALUE, "layers[0].model", "\"lif\", \"alif\", \"snu\""},
    {"{\"steps\": 4, \"input\": {\"size\": 2}, \"layers\": [{\"model\": \"lif\", \"size\": -3}], \"readout\": "
     "{\"size\": 1}}",
     SNN_EVALUE, "layers[0].size", "found -3"},
    {"{\"steps\": 4, \"input\": {\"size\": 2}, \"layers\": [{\"model\": \"lif\", \"size\": 2, \"tau_mem\": \"20\"}], "
     "\"readout\": {\"size\": 1}}",
     SNN_EKEY, "layers[0].tau_mem", "expected a number, found a string"},
    {"{\"steps\": 4, \"input\": {\"size\": 2}, \"layers\": [{\"model\": \"lif\", \"size\": 2, \"tau_mem\": -1}], "
     "\"readout\": {\"size\": 1}}",
     SNN_EVALUE, "layers[0].tau_mem", "(0, inf]"},
    {"{\"steps\": 4, \"input\": {\"size\": 2}, \"layers\": [{\"model\": \"lif\", \"size\": 2, \"train\": [\"beta\"]}], "
     "\"readout\": {\"size\": 1}}",
     SNN_EVALUE, "layers[0].train[0]", "no parameter \"beta\""},
    {"{\"steps\": 4, \"input\": {\"size\": 2}, \"layers\": [{\"model\": \"lif\", \"size\": 2, \"train\": "
     "[\"w_rec\"]}], "
     "\"readout\": {\"size\": 1}}",
     SNN_EVALUE, "layers[0].train[0]", "recurrent"},
    {"{\"steps\": 4, \"input\": {\"size\": 2}, \"layers\": [], \"readout\": {\"size\": 1}}", SNN_EKEY, "layers",
     "non-empty array"},
    {"{\"steps\": 4, \"input\": {\"size\": 2}, \"layers\": [{\"model\": \"snu\", \"size\": 2, \"decay\": 1.0}], "
     "\"readout\": {\"size\": 1}}",
     SNN_EVALUE, "layers[0].decay", "[0, 1)"},
    {"{\"steps\": 4, \"input\": {\"size\": 2}, \"layers\": [{\"model\": \"lif\", \"size\": 2}], \"readout\": "
     "{\"size\": 1},"
     " \"loss\": {\"window\": [3, 9]}}",
     SNN_EVALUE, "loss.window", "last <= steps"},
    {"{\"steps\": 4, \"input\": {\"size\": 2}, \"layers\": [{\"model\": \"lif\", \"size\": 2}], \"readout\": "
     "{\"size\": 2},"
     " \"loss\": {\"kind\": \"ce\", \"label\": 2}}",
     SNN_EVALUE, "loss.label", "[0, 1]"},
    {"{\"steps\": 4, \"input\": {\"size\": 2}, \"layers\": [{\"model\": \"lif\", \"size\": 2}], \"readout\": "
     "{\"size\": 1},"
     " \"spike\": {\"surrogate\": \"rectangle\"}}",
     SNN_EVALUE, "spike.surrogate", "\"triangle\""},
    {"{\"steps\": 4, \"input\": {\"size\": 2}, \"layers\": [{\"model\": \"lif\", \"size\": 2}], \"readout\": "
     "{\"size\": 1},"
     " \"gradient\": {\"reset\": \"drop\"}}",
     SNN_EVALUE, "gradient.reset", "\"keep\", \"detach\""},
    {"{\"steps\": 4, \"input\": {\"size\": 2}, \"layers\": [{\"model\": \"adlif\", \"size\": 2, \"a\": 1.5, "
     "\"bounds\": \"project\"}], \"readout\": {\"size\": 1}}",
     SNN_EVALUE, "layers[0].a", "[-1, 1]"},
    {"{\"steps\": 4, \"steps\": 5, \"input\": {\"size\": 2}, \"layers\": [{\"model\": \"lif\", \"size\": 2}], "
     "\"readout\": {\"size\": 1}}",
     SNN_EJSON, "1:", "duplicate"},
};

START_TEST(test_bad_network_files) {
  const bad_net *b = &BAD[_i];
  const char *p = path_in("net.json");
  write_file(p, b->json);
  snn_spec *s = (snn_spec *)1;
  snn_err e = {0};
  int st = snn_spec_load(p, &s, &e);
  ck_assert_msg(st == b->status, "case %d: status %d (%s), expected %d", _i, st, e.msg, b->status);
  ck_assert_ptr_null(s);
  ck_assert_str_eq(e.file, p);
  ck_assert_msg(strstr(e.key, b->key) == e.key, "case %d: key '%s', expected '%s'", _i, e.key, b->key);
  ck_assert_msg(strstr(e.msg, b->phrase) != NULL, "case %d: message '%s' lacks '%s'", _i, e.msg, b->phrase);
  char line[1400];
  snn_err_format(&e, line, sizeof line);
  ck_assert_msg(strstr(line, p) == line, "formatted message must start with the file: %s", line);
}
END_TEST

START_TEST(test_missing_file) {
  snn_spec *s;
  snn_err e = {0};
  ck_assert_int_eq(snn_spec_load(path_in("nope.json"), &s, &e), SNN_EIO);
  ck_assert_ptr_null(s);
}
END_TEST

START_TEST(test_unknown_keys_warn) {
  snn_spec *s;
  snn_err e = {0};
  ck_assert_int_eq(
      snn_spec_parse("{\"steps\": 3, \"input\": {\"size\": 1}, \"layers\": [{\"model\": \"lif\", \"size\": 1,"
                     " \"tau_mme\": 3}], \"readout\": {\"size\": 1}}",
                     "x.json", &s, &e),
      SNN_OK);
  ck_assert_ptr_nonnull(strstr(s->warnings, "layers[0].tau_mme"));
  snn_spec_free(s);
}
END_TEST

/* The layout: names, shapes and what is trainable, as SPEC.md section 6 says. */
START_TEST(test_layout) {
  snn_spec *s;
  snn_err e = {0};
  ck_assert_int_eq(snn_spec_parse(GOOD, "good.json", &s, &e), SNN_OK);
  const char *names[] = {"layer0.w_in",      "layer0.w_rec", "layer0.tau_mem", "layer0.threshold",
                         "layer0.tau_adapt", "layer0.beta",  "readout.w",      "readout.b"};
  const size_t rows[] = {3, 3, 3, 3, 3, 3, 2, 2}, cols[] = {2, 3, 1, 1, 1, 1, 3, 1};
  const int train[] = {1, 1, 0, 0, 0, 1, 1, 1};
  ck_assert_uint_eq(s->nblk, 8);
  size_t off = 0;
  for (size_t b = 0; b < 8; b++) {
    ck_assert_str_eq(s->blk[b].name, names[b]);
    ck_assert_uint_eq(s->blk[b].rows, rows[b]);
    ck_assert_uint_eq(s->blk[b].cols, cols[b]);
    ck_assert_int_eq(s->blk[b].trainable, train[b]);
    ck_assert_uint_eq(s->blk[b].off, off);
    off += rows[b] * cols[b];
  }
  ck_assert_uint_eq(s->P, off);
  ck_assert_uint_eq(snn_spec_ntrain(s), 6 + 9 + 3 + 6 + 2);
  snn_spec_free(s);
}
END_TEST

/* init is a function of the seed; write then read gives the same numbers. */
START_TEST(test_params_roundtrip) {
  snn_spec *s;
  snn_err e = {0};
  ck_assert_int_eq(snn_spec_parse(GOOD, "good.json", &s, &e), SNN_OK);
  snn_data a, b, c;
  ck_assert_int_eq(snn_data_generate(s, &a, &e), SNN_OK);
  ck_assert_int_eq(snn_data_generate(s, &c, &e), SNN_OK);
  for (size_t i = 0; i < s->P; i++) ck_assert(a.theta.v[i] == c.theta.v[i]);
  const snn_block *wr = &s->blk[1];
  for (size_t i = 0; i < 3; i++) ck_assert(a.theta.v[wr->off + i * 3 + i] == 0.0);
  ck_assert_int_eq(snn_data_write(s, &a, path_in("p.json"), &e), SNN_OK);
  ck_assert_int_eq(snn_data_load(s, path_in("p.json"), &b, &e), SNN_OK);
  for (size_t i = 0; i < s->P; i++) ck_assert_msg(a.theta.v[i] == b.theta.v[i], "theta[%zu] changed on round trip", i);
  for (size_t i = 0; i < s->T * s->n_in; i++) ck_assert(a.x.v[i] == b.x.v[i]);
  for (size_t i = 0; i < s->T * s->n_out; i++) ck_assert(a.y.v[i] == b.y.v[i]);
  snn_data_clear(&a);
  snn_data_clear(&b);
  snn_data_clear(&c);
  snn_spec_free(s);
}
END_TEST

/* A params file whose content disagrees with the network. */
typedef struct {
  const char *from, *to; /* text substitution applied to a good file */
  int status;
  const char *key;
} bad_params;

static const bad_params BADP[] = {
    {"\"layer0.w_in\": [[", "\"layer0.w_in\": [[1, 2], [", SNN_ESHAPE, "params.layer0.w_in"},
    {"\"layer0.w_in\": [[", "\"layer0.w_in\": [[7, ", SNN_ESHAPE, "params.layer0.w_in[0]"},
    {"\"format\": \"snngrad-params/1\"", "\"format\": \"other/2\"", SNN_EKEY, "format"},
    {"\"layer0.beta\"", "\"layer0.gamma\"", SNN_EKEY, "params.layer0.gamma"},
    {"\"readout.b\"", "\"readout.bb\"", SNN_EKEY, "params.readout.bb"},
    {"\"readout.b\": [0", "\"readout.b\": [\"zero\"", SNN_EVALUE, "params.readout.b[0]"},
    {"\"target\": [", "\"target\": [[1, 2], ", SNN_ESHAPE, "target"},
    {"\"layer0.w_rec\": [[0", "\"layer0.w_rec\": [[0.5", SNN_EVALUE, "params.layer0.w_rec"},
};

static char *slurp(const char *p) {
  FILE *f = fopen(p, "r");
  ck_assert_ptr_nonnull(f);
  static char buf[1 << 16];
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  buf[n] = 0;
  fclose(f);
  return buf;
}

START_TEST(test_bad_params_files) {
  snn_spec *s;
  snn_err e = {0};
  ck_assert_int_eq(snn_spec_parse(GOOD, "good.json", &s, &e), SNN_OK);
  snn_data a;
  ck_assert_int_eq(snn_data_generate(s, &a, &e), SNN_OK);
  ck_assert_int_eq(snn_data_write(s, &a, path_in("p.json"), &e), SNN_OK);
  char *txt = slurp(path_in("p.json"));
  char *at = strstr(txt, BADP[_i].from);
  ck_assert_msg(at != NULL, "case %d: '%s' not in the file", _i, BADP[_i].from);
  char mod[1 << 16];
  snprintf(mod, sizeof mod, "%.*s%s%s", (int)(at - txt), txt, BADP[_i].to, at + strlen(BADP[_i].from));
  write_file(path_in("q.json"), mod);
  snn_data b;
  int st = snn_data_load(s, path_in("q.json"), &b, &e);
  ck_assert_msg(st == BADP[_i].status, "case %d: status %d (%s: %s)", _i, st, e.key, e.msg);
  ck_assert_msg(strstr(e.key, BADP[_i].key) == e.key, "case %d: key '%s', expected '%s'", _i, e.key, BADP[_i].key);
  ck_assert_str_eq(e.file, path_in("q.json"));
  snn_data_clear(&a);
  snn_spec_free(s);
}
END_TEST

/* MPFR numbers as strings are accepted and kept as text. */
START_TEST(test_params_accept_strings) {
  snn_spec *s;
  snn_err e = {0};
  ck_assert_int_eq(
      snn_spec_parse("{\"steps\": 1, \"input\": {\"size\": 1}, \"layers\": [{\"model\": \"lif\", \"size\": 1}],"
                     " \"readout\": {\"size\": 1}}",
                     "n.json", &s, &e),
      SNN_OK);
  write_file(
      path_in("p.json"),
      "{\"format\": \"snngrad-params/1\", \"params\": {\"layer0.w_in\": [[\"3.33333333333333333333333333333e-1\"]],"
      " \"readout.w\": [[2]], \"readout.b\": [\"-1.5e0\"]}, \"input\": [[1]], \"target\": [[0.25]]}");
  snn_data d;
  ck_assert_int_eq(snn_data_load(s, path_in("p.json"), &d, &e), SNN_OK);
  ck_assert_ptr_nonnull(d.theta.s);
  ck_assert_str_eq(d.theta.s[0], "3.33333333333333333333333333333e-1");
  ck_assert_rel(d.theta.v[0], 1.0 / 3, 1e-15);
  ck_assert(d.theta.v[s->blk[s->blk_ro_b].off] == -1.5);
  snn_data_clear(&d);
  snn_spec_free(s);
}
END_TEST

/* Atomic writes: a write that cannot complete leaves nothing, and an
 * existing file is replaced whole or not at all. */
START_TEST(test_atomic_write) {
  snn_err e = {0};
  const char *p = path_in("out.json");
  ck_assert_int_eq(snn_write_atomic(p, "old\n", 4, &e), SNN_OK);
  ck_assert_str_eq(slurp(p), "old\n");
  ck_assert_int_eq(snn_write_atomic(p, "new content\n", 12, &e), SNN_OK);
  ck_assert_str_eq(slurp(p), "new content\n");
  ck_assert_int_eq(snn_write_atomic(path_in("no/such/dir/x.json"), "x", 1, &e), SNN_EIO);
  ck_assert_str_eq(e.file, path_in("no/such/dir/x.json"));
  /* nothing else was left in the folder: only out.json */
  char cmd[600];
  snprintf(cmd, sizeof cmd, "test $(ls -A '%s' | wc -l) -eq 1", tmpdir);
  ck_assert_int_eq(system(cmd), 0);
}
END_TEST

/* Non-finite values are never written. */
START_TEST(test_no_nan_written) {
  snn_spec *s;
  snn_err e = {0};
  ck_assert_int_eq(snn_spec_parse(GOOD, "good.json", &s, &e), SNN_OK);
  snn_result r;
  ck_assert_int_eq(snn_result_init(&r, s), SNN_OK);
  snprintf(r.rule, sizeof r.rule, "bptt");
  r.prec = 53;
  r.grad.v[0] = NAN;
  ck_assert_int_eq(snn_grads_write(s, &r, path_in("g.json"), &e), SNN_ENONFINITE);
  ck_assert_int_eq(access(path_in("g.json"), F_OK), -1);
  r.grad.v[0] = 1.25;
  ck_assert_int_eq(snn_grads_write(s, &r, path_in("g.json"), &e), SNN_OK);
  snn_result back;
  ck_assert_int_eq(snn_grads_load(s, path_in("g.json"), &back, &e), SNN_OK);
  ck_assert(back.grad.v[0] == 1.25);
  snn_result_clear(&back);
  snn_result_clear(&r);
  snn_spec_free(s);
}
END_TEST

/* Finite differences are refused where they cannot confirm anything. */
START_TEST(test_fd_refusals) {
  static const char *const nets[] = {
      "{\"steps\": 3, \"input\": {\"size\": 1}, \"layers\": [{\"model\": \"lif\", \"size\": 1}], \"readout\": "
      "{\"size\": 1}}",
      "{\"steps\": 3, \"input\": {\"size\": 1}, \"layers\": [{\"model\": \"lif\", \"size\": 1}], \"readout\": "
      "{\"size\": 1},"
      " \"spike\": {\"forward\": \"sigmoid\"}, \"gradient\": {\"reset\": \"detach\"}}",
      "{\"steps\": 3, \"input\": {\"size\": 1}, \"layers\": [{\"model\": \"lif\", \"size\": 1}], \"readout\": "
      "{\"size\": 1},"
      " \"spike\": {\"forward\": \"sigmoid\"}, \"gradient\": {\"recurrent\": \"detach\"}}",
  };
  static const char *const keys[] = {"spike.forward", "gradient.reset", "gradient.recurrent"};
  for (int i = 0; i < 3; i++) {
    snn_spec *s;
    snn_err e = {0};
    ck_assert_int_eq(snn_spec_parse(nets[i], "r.json", &s, &e), SNN_OK);
    ck_assert_int_eq(snn_fd_allowed(s, &e), SNN_EREFUSED);
    ck_assert_str_eq(e.key, keys[i]);
    snn_data d;
    ck_assert_int_eq(snn_data_generate(s, &d, &e), SNN_OK);
    snn_fdreport rep;
    snn_fdreport_init(&rep, s);
    snn_fdopts o = {SNN_FD_RICHARDSON, 0, NULL};
    ck_assert_int_eq(snn_engine_double.fdcheck(s, &d, 53, &o, &rep, &e), SNN_EREFUSED);
    ck_assert_int_eq(snn_engine_mpfr.fdcheck(s, &d, 128, &o, &rep, &e), SNN_EREFUSED);
    snn_fdreport_clear(&rep);
    snn_data_clear(&d);
    snn_spec_free(s);
  }
}
END_TEST

/* A silent network is vacuous, not a pass. */
START_TEST(test_silent_is_vacuous) {
  snn_spec *s;
  snn_err e = {0};
  ck_assert_int_eq(
      snn_spec_parse("{\"steps\": 5, \"input\": {\"size\": 2, \"rate\": 0.0}, \"layers\": [{\"model\": "
                     "\"lif\", \"size\": 2}], \"readout\": {\"size\": 1}, \"spike\": {\"forward\": \"sigmoid\"}}",
                     "silent.json", &s, &e),
      SNN_OK);
  snn_data d;
  ck_assert_int_eq(snn_data_generate(s, &d, &e), SNN_OK);
  snn_fdreport rep;
  snn_fdreport_init(&rep, s);
  snn_fdopts o = {SNN_FD_RICHARDSON, 0, NULL};
  ck_assert_int_eq(snn_engine_double.fdcheck(s, &d, 53, &o, &rep, &e), SNN_EVACUOUS);
  ck_assert_str_eq(e.key, "layers[0]");
  snn_fdreport_clear(&rep);
  snn_data_clear(&d);
  snn_spec_free(s);
}
END_TEST

START_TEST(test_rule_parse) {
  snn_rule r;
  snn_err e = {0};
  ck_assert_int_eq(snn_rule_parse("fptt:alpha=0.5,chunks=4", &r, &e), SNN_OK);
  ck_assert_str_eq(r.name, "fptt");
  ck_assert_int_eq(r.nopt, 2);
  ck_assert_str_eq(r.key[1], "chunks");
  ck_assert_str_eq(r.val[1], "4");
  ck_assert_int_eq(snn_rule_parse("bptt:", &r, &e), SNN_EARG);
  ck_assert_int_eq(snn_rule_parse("bptt:window=3", &r, &e), SNN_EARG);
  ck_assert_int_eq(snn_rule_parse("tbptt:window=0", &r, &e), SNN_EARG);
  ck_assert_int_eq(snn_rule_parse("tbptt:window=2.5", &r, &e), SNN_EARG);
  ck_assert_int_eq(snn_rule_parse("tbptt:window=3,window=4", &r, &e), SNN_EARG);
  ck_assert_int_eq(snn_rule_parse("eprop:feedback=nosuch", &r, &e), SNN_EARG);
  ck_assert_int_eq(snn_rule_parse("fptt:chunks=0", &r, &e), SNN_EARG);
  ck_assert_int_eq(snn_rule_parse("fptt:alpha=nan", &r, &e), SNN_EARG);
  ck_assert_int_eq(snn_rule_parse("nosuch", &r, &e), SNN_EARG);
  ck_assert_int_eq(snn_rule_parse("ostl:traces=diagonal", &r, &e), SNN_OK);
  ck_assert_str_eq(snn_rule_opt(&r, "traces"), "diagonal");
  ck_assert_str_eq(snn_rule_opt(&r, "feedback"), "symmetric");
  ck_assert_int_eq(snn_rule_parse("tbptt:window", &r, &e), SNN_EARG);
  ck_assert_int_eq(snn_rule_parse(":x=1", &r, &e), SNN_EARG);
}
END_TEST

int main(void) {
  Suite *su = suite_create("files");
  TCase *tc = tcase_create("files");
  tcase_add_checked_fixture(tc, setup, teardown);
  tcase_add_loop_test(tc, test_bad_network_files, 0, (int)(sizeof BAD / sizeof *BAD));
  tcase_add_test(tc, test_missing_file);
  tcase_add_test(tc, test_unknown_keys_warn);
  tcase_add_test(tc, test_layout);
  tcase_add_test(tc, test_params_roundtrip);
  tcase_add_loop_test(tc, test_bad_params_files, 0, (int)(sizeof BADP / sizeof *BADP));
  tcase_add_test(tc, test_params_accept_strings);
  tcase_add_test(tc, test_atomic_write);
  tcase_add_test(tc, test_no_nan_written);
  tcase_add_test(tc, test_fd_refusals);
  tcase_add_test(tc, test_silent_is_vacuous);
  tcase_add_test(tc, test_rule_parse);
  suite_add_tcase(su, tc);
  return snn_run_suite(su, 0);
}
