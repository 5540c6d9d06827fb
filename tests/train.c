/* train.c - the tasks, the data readers and the training loop.
 *
 * The readers are tested on small files written here in the real layouts
 * (SHD's HDF5 with variable-length spike trains, gzip'd IDX), and on the
 * Fashion-MNIST files Debian installs.  Training is tested for what a user
 * relies on: it learns (the loss falls on a task a rule can solve), the same
 * seed gives the same bytes, a run interrupted and resumed writes exactly
 * what the uninterrupted run writes (deferred, online and FPTT updates, in
 * double and in MPFR), online updates happen inside the sequence, and a bad
 * experiment file is refused with the key that is wrong. */
#include "experiments/train.h"

#include <check.h>
#include <hdf5.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "experiments/tasks.h"
#include "tests/testutil.h"

static char tmpdir[256];

static void mk_tmp(void) {
  snprintf(tmpdir, sizeof tmpdir, "/tmp/snngrad-train-XXXXXX");
  ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

/* The temporary folder and the experiment file run_exp writes in it. */
static void rm_tmp(void) {
  char p[300];
  snprintf(p, sizeof p, "%s/exp.json", tmpdir);
  unlink(p);
  ck_assert_msg(rmdir(tmpdir) == 0, "%s is not empty at the end of the test", tmpdir);
}

static void put_file(const char *path, const char *text) {
  FILE *f = fopen(path, "w");
  ck_assert_ptr_nonnull(f);
  fputs(text, f);
  fclose(f);
}

static char *get_file(const char *path, size_t *n) {
  FILE *f = fopen(path, "rb");
  ck_assert_msg(f != NULL, "cannot read %s", path);
  fseek(f, 0, SEEK_END);
  long len = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *p = malloc((size_t)len + 1);
  ck_assert_uint_eq(fread(p, 1, (size_t)len, f), (size_t)len);
  p[len] = 0;
  fclose(f);
  *n = (size_t)len;
  return p;
}

static void same_file(const char *a, const char *b) {
  size_t na, nb;
  char *pa = get_file(a, &na), *pb = get_file(b, &nb);
  ck_assert_msg(na == nb && !memcmp(pa, pb, na), "%s and %s differ", a, b);
  free(pa);
  free(pb);
}

/* ---- SHD ---- */

/* Two spike trains in SHD's layout: spikes/times (vlen float), spikes/units
 * (vlen uint16), labels (uint16); `bad` leaves the labels out. */
static void write_shd(const char *path, int bad) {
  static const float t0[] = {0.0f, 0.015f, 0.5f, 0.999f}, t1[] = {0.2f, 0.2f};
  static const uint16_t u0[] = {3, 699, 10, 42}, u1[] = {7, 8};
  static const uint16_t lab[] = {19, 4};
  hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  ck_assert(f >= 0);
  hid_t g = H5Gcreate2(f, "spikes", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  hsize_t n = 2;
  hid_t sp = H5Screate_simple(1, &n, NULL);
  hid_t vf = H5Tvlen_create(H5T_NATIVE_FLOAT), vu = H5Tvlen_create(H5T_NATIVE_UINT16);
  hvl_t tv[2] = {{4, (void *)t0}, {2, (void *)t1}}, uv[2] = {{4, (void *)u0}, {2, (void *)u1}};
  hid_t dt = H5Dcreate2(g, "times", vf, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  hid_t du = H5Dcreate2(g, "units", vu, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  ck_assert(H5Dwrite(dt, vf, H5S_ALL, H5S_ALL, H5P_DEFAULT, tv) >= 0);
  ck_assert(H5Dwrite(du, vu, H5S_ALL, H5S_ALL, H5P_DEFAULT, uv) >= 0);
  if (!bad) {
    hid_t dl = H5Dcreate2(f, "labels", H5T_STD_U16LE, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    ck_assert(H5Dwrite(dl, H5T_NATIVE_UINT16, H5S_ALL, H5S_ALL, H5P_DEFAULT, lab) >= 0);
    H5Dclose(dl);
  }
  H5Dclose(dt), H5Dclose(du), H5Tclose(vf), H5Tclose(vu), H5Sclose(sp), H5Gclose(g), H5Fclose(f);
}

START_TEST(test_shd_reader) {
  mk_tmp();
  char p[400], q[400];
  snprintf(p, sizeof p, "%s/shd_train.h5", tmpdir);
  snprintf(q, sizeof q, "%s/shd_test.h5", tmpdir);
  write_shd(p, 0);
  write_shd(q, 0);
  snn_dataset d;
  snn_err e = {0};
  ck_assert_int_eq(snn_shd_load(p, &d, 0, &e), SNN_OK);
  ck_assert_uint_eq(d.count, 2);
  ck_assert_uint_eq(d.labels[0], 19);
  ck_assert_uint_eq(d.labels[1], 4);
  ck_assert_uint_eq(d.ev_off[1], 4);
  ck_assert_uint_eq(d.ev_off[2], 6);
  ck_assert_uint_eq(d.units[1], 699);
  ck_assert(d.times[3] == 0.999f);
  snn_dataset_free(&d);
  /* the task bins the spikes: 100 bins over 1 s */
  char ej[600];
  snprintf(ej, sizeof ej, "{\"kind\": \"shd\", \"path\": \"%s\", \"steps\": 100}", tmpdir);
  json_error_t je;
  json_t *tj = json_loads(ej, 0, &je);
  snn_task t;
  ck_assert_msg(snn_task_parse(tj, "x.json", ".", &t, &e) == SNN_OK, "%s", e.msg);
  json_decref(tj);
  ck_assert_uint_eq(t.n_in, 700);
  ck_assert_uint_eq(t.n_out, 20);
  double *x = calloc(100 * 700, sizeof *x);
  long label;
  snn_task_sample(&t, 0, 1, 0, x, NULL, &label);
  ck_assert_int_eq(label, 19);
  double sum = 0;
  for (size_t i = 0; i < 100 * 700; i++) sum += x[i];
  ck_assert(sum == 4.0);
  ck_assert(x[0 * 700 + 3] == 1 && x[1 * 700 + 699] == 1 && x[50 * 700 + 10] == 1 && x[99 * 700 + 42] == 1);
  snn_task_sample(&t, 1, 1, 1, x, NULL, &label); /* two spikes in one bin */
  ck_assert_int_eq(label, 4);
  ck_assert(x[20 * 700 + 7] == 1 && x[20 * 700 + 8] == 1);
  free(x);
  snn_task_free(&t);
  /* a file without labels is refused, naming the dataset */
  write_shd(p, 1);
  ck_assert_int_ne(snn_shd_load(p, &d, 0, &e), SNN_OK);
  ck_assert_str_eq(e.key, "/labels");
  ck_assert_int_ne(snn_shd_load("/nonexistent/shd.h5", &d, 0, &e), SNN_OK);
  ck_assert(strstr(e.msg, "cannot open") != NULL);
  unlink(p), unlink(q), rm_tmp();
}
END_TEST

/* ---- IDX ---- */

static void write_idx(const char *path, uint32_t magic, uint32_t n, const unsigned char *body, size_t len, int images) {
  gzFile f = gzopen(path, "wb");
  ck_assert_ptr_nonnull(f);
  uint32_t h[4] = {magic, n, 28, 28};
  for (int k = 0; k < (images ? 4 : 2); k++) {
    unsigned char b[4] = {(unsigned char)(h[k] >> 24), (unsigned char)(h[k] >> 16), (unsigned char)(h[k] >> 8),
                          (unsigned char)h[k]};
    gzwrite(f, b, 4);
  }
  gzwrite(f, body, (unsigned)len);
  gzclose(f);
}

START_TEST(test_idx_reader) {
  mk_tmp();
  char pi[400], pl[400];
  snprintf(pi, sizeof pi, "%s/img.gz", tmpdir);
  snprintf(pl, sizeof pl, "%s/lab.gz", tmpdir);
  unsigned char img[3 * 784], lab[3] = {7, 0, 9};
  for (size_t i = 0; i < sizeof img; i++) img[i] = (unsigned char)(i * 7 % 256);
  write_idx(pi, 0x803, 3, img, sizeof img, 1);
  write_idx(pl, 0x801, 3, lab, 3, 0);
  snn_dataset d;
  snn_err e = {0};
  ck_assert_int_eq(snn_idx_load(pi, pl, &d, 0, &e), SNN_OK);
  ck_assert_uint_eq(d.count, 3);
  ck_assert(!memcmp(d.pix, img, sizeof img) && !memcmp(d.labels, lab, 3));
  snn_dataset_free(&d);
  ck_assert_int_eq(snn_idx_load(pi, pl, &d, 2, &e), SNN_OK); /* limit */
  ck_assert_uint_eq(d.count, 2);
  snn_dataset_free(&d);
  write_idx(pl, 0x803, 3, lab, 3, 0); /* wrong magic */
  ck_assert_int_ne(snn_idx_load(pi, pl, &d, 0, &e), SNN_OK);
  ck_assert(strstr(e.msg, "0x00000801") != NULL);
  unlink(pi), unlink(pl), rm_tmp();
}
END_TEST

/* Debian's dataset-fashion-mnist, installed by scripts/setup.sh. */
START_TEST(test_fashion_mnist_package) {
  const char *dir = "/usr/share/datasets/fashion-mnist";
  char a[300], b[300];
  snprintf(a, sizeof a, "%s/t10k-images-idx3-ubyte.gz", dir);
  snprintf(b, sizeof b, "%s/t10k-labels-idx1-ubyte.gz", dir);
  snn_dataset d;
  snn_err e = {0};
  ck_assert_msg(snn_idx_load(a, b, &d, 0, &e) == SNN_OK, "%s (is dataset-fashion-mnist installed?)", e.msg);
  ck_assert_uint_eq(d.count, 10000);
  size_t per[10] = {0}, lit = 0;
  for (size_t i = 0; i < d.count; i++) per[d.labels[i]]++;
  for (int k = 0; k < 10; k++) ck_assert_uint_eq(per[k], 1000); /* the test split is balanced */
  for (size_t i = 0; i < 784; i++) lit += d.pix[i] > 0;
  ck_assert(lit > 100 && lit < 784);
  snn_dataset_free(&d);
}
END_TEST

/* ---- generated tasks ---- */

static snn_task task_from(const char *text) {
  json_error_t je;
  json_t *tj = json_loads(text, 0, &je);
  ck_assert_ptr_nonnull(tj);
  snn_task t;
  snn_err e = {0};
  ck_assert_msg(snn_task_parse(tj, "t.json", ".", &t, &e) == SNN_OK, "%s", e.msg);
  json_decref(tj);
  return t;
}

START_TEST(test_generated_tasks) {
  /* cues: with cue_rate 1 every channel of the cued side fires; the label is the majority */
  snn_task t = task_from(
      "{\"kind\": \"cues\", \"cues\": 5, \"cue_len\": 4, \"gap\": 2, \"delay\": 3, \"recall_len\": 4, "
      "\"group\": 2, \"cue_rate\": 1, \"noise_rate\": 0}");
  ck_assert_uint_eq(t.T, 5 * 6 + 3 + 4);
  ck_assert_uint_eq(t.win_first, t.T - 3);
  double *x = calloc(t.T * t.n_in, sizeof *x), *x2 = calloc(t.T * t.n_in, sizeof *x);
  long label, l2;
  int seen[2] = {0};
  for (size_t idx = 0; idx < 40; idx++) {
    snn_task_sample(&t, 0, 9, idx, x, NULL, &label);
    size_t left = 0;
    for (size_t c = 0; c < 5; c++) left += x[(c * 6) * t.n_in + 0] == 1.0;
    ck_assert_int_eq(label, left > 2 ? 0 : 1);
    seen[label]++;
    for (size_t s = t.T - 4; s < t.T; s++) ck_assert(x[s * t.n_in + 4] == 1.0); /* recall population */
    snn_task_sample(&t, 0, 9, idx, x2, NULL, &l2);
    ck_assert(!memcmp(x, x2, t.T * t.n_in * sizeof *x) && l2 == label); /* drawn again: the same */
  }
  ck_assert(seen[0] > 5 && seen[1] > 5);
  snn_task_sample(&t, 1, 9, 0, x2, NULL, &l2);
  snn_task_sample(&t, 0, 9, 0, x, NULL, &label);
  ck_assert(memcmp(x, x2, t.T * t.n_in * sizeof *x)); /* the test split is another stream */
  free(x), free(x2);
  snn_task_free(&t);
  /* adding: two markers, one in each half; the target at T is the sum of the marked values */
  t = task_from("{\"kind\": \"adding\", \"steps\": 30}");
  x = calloc(60, sizeof *x);
  double *y = calloc(30, sizeof *y);
  for (size_t idx = 0; idx < 20; idx++) {
    snn_task_sample(&t, 0, 4, idx, x, y, &label);
    double sum = 0;
    int marks = 0, first = -1;
    for (int s = 0; s < 30; s++)
      if (x[2 * s + 1] == 1.0) sum += x[2 * s], marks++, first = first < 0 ? s : first;
    ck_assert_int_eq(marks, 2);
    ck_assert(first < 15);
    ck_assert(y[29] == sum && y[0] == 0.0);
  }
  free(x), free(y);
  snn_task_free(&t);
  /* recall: the value population active during the store is the label */
  t = task_from(
      "{\"kind\": \"recall\", \"steps\": 20, \"store_len\": 3, \"group\": 2, \"cue_rate\": 1, \"noise_rate\": 0}");
  x = calloc(t.T * t.n_in, sizeof *x);
  for (size_t idx = 0; idx < 20; idx++) {
    snn_task_sample(&t, 0, 2, idx, x, NULL, &label);
    ck_assert(x[0 * t.n_in + (size_t)(2 + label) * 2] == 1.0 && x[0 * t.n_in + (size_t)(3 - label) * 2] == 0.0);
    ck_assert(x[19 * t.n_in + 2] == 1.0); /* recall cue at the end */
  }
  free(x);
  snn_task_free(&t);
}
END_TEST

/* ---- training ---- */

static const char *NET_LIF =
    "{\"layers\": [{\"model\": \"lif\", \"size\": 16, \"recurrent\": true, \"w_scale\": 1.5, \"rec_scale\": 0.5}],"
    " \"readout\": {\"tau_out\": 5}, \"spike\": {\"surrogate\": \"triangle\", \"gamma\": 0.5}}";

/* Write an experiment, load it, train; returns the status. */
static int run_threads = 1; /* worker threads of the next run_exp */
static size_t run_warmup;   /* and its uncounted warm-up updates */

static const char *run_net; /* and its network (NULL: NET_LIF) */

static int run_exp(const char *body, const char *out, int resume, size_t until, snn_train_res *r, snn_err *e) {
  char path[400], text[2000];
  snprintf(path, sizeof path, "%s/exp.json", tmpdir);
  snprintf(text, sizeof text, "{\"network\": %s, %s, \"seed\": 5, \"out\": \"%s\"}", run_net ? run_net : NET_LIF, body,
           out);
  put_file(path, text);
  snn_experiment x;
  int st = snn_experiment_load(path, NULL, &x, e);
  if (st) return st;
  snn_train_opts o = {.resume = resume, .until = until, .threads = run_threads, .warmup = run_warmup};
  memset(r, 0, sizeof *r);
  st = x.prec == 53 ? snn_train_d(&x, &o, r, e) : snn_train_mp(&x, &o, r, e);
  snn_experiment_free(&x);
  return st;
}

static void rm_run(const char *dir) {
  static const char *const f[] = {"log.csv",     "manifest.json", "checkpoint.json",
                                  "params.json", "network.json",  "params_initial.json"};
  char p[500];
  for (int k = 0; k < 6; k++) snprintf(p, sizeof p, "%s/%s", dir, f[k]), unlink(p);
  rmdir(dir);
}

static const char *const RESUME_CASES[] = {
    "\"task\": {\"kind\": \"cues\", \"cues\": 3, \"cue_len\": 4, \"gap\": 2, \"delay\": 4, \"recall_len\": 4, "
    "\"group\": 3},"
    " \"rule\": \"eprop\", \"batch\": 3, \"updates\": 12, \"clip\": 1, \"eval\": {\"every\": 4, \"samples\": 6}",
    "\"task\": {\"kind\": \"adding\", \"steps\": 20}, \"rule\": \"rtrl\", \"update\": {\"mode\": \"online\", "
    "\"every\": 5},"
    " \"updates\": 12, \"optimizer\": {\"kind\": \"sgd\", \"lr\": 0.01, \"momentum\": 0.9}, \"eval\": {\"every\": 6, "
    "\"samples\": 4}",
    "\"task\": {\"kind\": \"adding\", \"steps\": 20}, \"rule\": \"fptt:chunks=4,alpha=0.5,beta=0.5\", \"batch\": 2,"
    " \"updates\": 12, \"optimizer\": {\"kind\": \"adamax\", \"lr\": 0.003}, \"eval\": {\"every\": 4, \"samples\": 4}",
    "\"task\": {\"kind\": \"recall\", \"steps\": 16, \"store_len\": 3, \"group\": 2}, \"rule\": \"ostl\", \"batch\": 2,"
    " \"updates\": 12, \"precision\": 80, \"eval\": {\"every\": 4, \"samples\": 2}",
    /* FPTT with the time-weighted loss: its running estimate is in the checkpoint; W <- Wbar every 5 updates */
    "\"task\": {\"kind\": \"cues\", \"cues\": 3, \"cue_len\": 4, \"gap\": 2, \"delay\": 4, \"recall_len\": 4, "
    "\"group\": 3}, \"rule\": \"fptt:chunks=6\", \"fptt\": {\"loss\": \"time_weighted\", \"reset_every\": 5},"
    " \"batch\": 5, \"shards\": 3, \"updates\": 12, \"eval\": {\"every\": 4, \"samples\": 6}",
    /* ltc from random initial states (drawn per sequence from its place in the run): e-prop, FPTT's lockstep */
    "\"task\": {\"kind\": \"adding\", \"steps\": 20}, \"rule\": \"eprop:feedback=adaptive\", \"batch\": 4, \"shards\": "
    "3,"
    " \"updates\": 12, \"eval\": {\"every\": 4, \"samples\": 5}",
    "\"task\": {\"kind\": \"adding\", \"steps\": 20}, \"rule\": \"fptt:chunks=4\", \"batch\": 4, \"shards\": 3,"
    " \"updates\": 12, \"eval\": {\"every\": 4, \"samples\": 5}",
};
/* the network of each case (NULL: NET_LIF) */
static const char *NET_LTC_UNIFORM =
    "{\"layers\": [{\"model\": \"ltc\", \"size\": 8, \"recurrent\": true, \"initial_state\": \"uniform\"}],"
    " \"readout\": {\"tau_out\": 0}, \"spike\": {\"surrogate\": \"multi_gaussian\"}}";
#define NRESUME (int)(sizeof RESUME_CASES / sizeof *RESUME_CASES)
static const char *resume_net(int i) {
  return i >= NRESUME - 2 ? NET_LTC_UNIFORM : NULL;
}

/* Interrupted after 5 updates (a checkpoint), resumed: the same bytes as an
 * uninterrupted run, which itself gives the same bytes twice; the runs use
 * one, two and three worker threads (a, c, and b then its resume), which
 * must not change a byte either. */
START_TEST(test_resume_bit_for_bit) {
  mk_tmp();
  char a[400], b[400], c[400];
  snprintf(a, sizeof a, "%s/a", tmpdir);
  snprintf(b, sizeof b, "%s/b", tmpdir);
  snprintf(c, sizeof c, "%s/c", tmpdir);
  snn_train_res r;
  snn_err e = {0};
  /* under valgrind the LIF cases only (ASan and the plain pass run them all) */
  if (getenv("SNN_TEST_ONE_PRECISION") && resume_net(_i)) return;
  run_threads = 1;
  run_net = resume_net(_i);
  ck_assert_msg(run_exp(RESUME_CASES[_i], a, 0, 0, &r, &e) == SNN_OK, "%s: %s", e.key, e.msg);
  ck_assert_uint_eq(r.updates, 12);
  ck_assert(isfinite(r.train_loss) && isfinite(r.eval_loss));
  double ev1 = r.eval_loss; /* every bit: the log prints 9 digits */
  run_threads = 2;
  ck_assert_int_eq(run_exp(RESUME_CASES[_i], c, 0, 0, &r, &e), SNN_OK);
  ck_assert_msg(memcmp(&ev1, &r.eval_loss, sizeof ev1) == 0, "evaluation loss %.17g on 1 thread, %.17g on 2", ev1,
                r.eval_loss);
  run_threads = 3;
  ck_assert_int_eq(run_exp(RESUME_CASES[_i], b, 0, 5, &r, &e), SNN_OK);
  run_threads = 2;
  ck_assert_uint_eq(r.updates, 5);
  char pb[500];
  snprintf(pb, sizeof pb, "%s/params.json", b);
  ck_assert(access(pb, F_OK) != 0); /* not finished: no final parameters */
  ck_assert_msg(run_exp(RESUME_CASES[_i], b, 1, 0, &r, &e) == SNN_OK, "%s", e.msg);
  /* (the manifests differ only in the output folder they record) */
  static const char *const f[] = {"log.csv", "checkpoint.json", "params.json", "network.json"};
  for (int k = 0; k < 4; k++) {
    char pa[500], pc[500];
    snprintf(pa, sizeof pa, "%s/%s", a, f[k]);
    snprintf(pb, sizeof pb, "%s/%s", b, f[k]);
    snprintf(pc, sizeof pc, "%s/%s", c, f[k]);
    same_file(pa, pc);
    same_file(pa, pb);
  }
  /* the log has one row per update and evaluations where asked */
  size_t n;
  snprintf(pb, sizeof pb, "%s/log.csv", a);
  char *log = get_file(pb, &n);
  int rows = 0;
  for (char *p = log; *p; p++) rows += *p == '\n';
  ck_assert_int_eq(rows, 13);
  free(log);
  rm_run(a), rm_run(b), rm_run(c);
  rm_tmp();
  run_net = NULL;
}
END_TEST

/* e-prop's adaptive feedback starts as the random one and then follows
 * W_out: the same parameters after the first update, different ones after
 * twelve (the random feedback stays as drawn). */
START_TEST(test_adaptive_feedback_follows_readout) {
  if (getenv("SNN_TEST_ONE_PRECISION")) return; /* valgrind: ASan and the plain pass run it */
  mk_tmp();
  char a[400], b[400], body[600];
  snprintf(a, sizeof a, "%s/a", tmpdir);
  snprintf(b, sizeof b, "%s/b", tmpdir);
  snn_train_res r;
  snn_err e = {0};
  static const char *const fb[] = {"random", "adaptive"};
  char *p[2][2];
  size_t n;
  for (int u = 0; u < 2; u++)
    for (int k = 0; k < 2; k++) {
      snprintf(body, sizeof body,
               "\"task\": {\"kind\": \"cues\", \"cues\": 3, \"cue_len\": 4, \"gap\": 2, \"delay\": 4, "
               "\"recall_len\": 4, \"group\": 3}, \"rule\": \"eprop:feedback=%s\", \"batch\": 3, \"updates\": %d, "
               "\"eval\": {\"every\": 1, \"samples\": 2}",
               fb[k], u ? 12 : 1);
      ck_assert_msg(run_exp(body, k ? b : a, 0, 0, &r, &e) == SNN_OK, "%s", e.msg);
      char pp[500];
      snprintf(pp, sizeof pp, "%s/params.json", k ? b : a);
      p[u][k] = get_file(pp, &n);
      rm_run(k ? b : a);
    }
  ck_assert_msg(strcmp(p[0][0], p[0][1]) == 0, "adaptive differs from random after one update");
  ck_assert_msg(strcmp(p[1][0], p[1][1]) != 0, "adaptive equals random after twelve updates");
  for (int u = 0; u < 2; u++) free(p[u][0]), free(p[u][1]);
  rm_tmp();
}
END_TEST

/* A benchmark's warm-up (snn_train_opts.warmup) is left out of the result's
 * sequences and times, and changes no byte of the run. */
START_TEST(test_warmup_uncounted) {
  mk_tmp();
  char a[400], b[400];
  snprintf(a, sizeof a, "%s/a", tmpdir);
  snprintf(b, sizeof b, "%s/b", tmpdir);
  static const char *const body =
      "\"task\": {\"kind\": \"adding\", \"steps\": 20}, \"rule\": \"bptt\", \"batch\": 3, \"updates\": 4,"
      " \"eval\": {\"every\": 2, \"samples\": 2}";
  snn_train_res r;
  snn_err e = {0};
  ck_assert_int_eq(run_exp(body, a, 0, 0, &r, &e), SNN_OK);
  ck_assert_uint_eq(r.updates, 4);
  ck_assert_uint_eq(r.sequences, 12);
  run_warmup = 1;
  ck_assert_int_eq(run_exp(body, b, 0, 0, &r, &e), SNN_OK);
  run_warmup = 0;
  ck_assert_uint_eq(r.updates, 4);
  ck_assert_uint_eq(r.sequences, 9);
  ck_assert(r.sec_grad > 0 && r.sec_update > 0 && r.sec_eval > 0);
  /* the parts are disjoint intervals of the counted time */
  ck_assert(r.sec_total + 1e-9 >= r.sec_grad + r.sec_update + r.sec_eval);
  static const char *const f[] = {"log.csv", "checkpoint.json", "params.json"};
  for (int k = 0; k < 3; k++) {
    char pa[500], pb[500];
    snprintf(pa, sizeof pa, "%s/%s", a, f[k]);
    snprintf(pb, sizeof pb, "%s/%s", b, f[k]);
    same_file(pa, pb);
  }
  rm_run(a), rm_run(b);
  rm_tmp();
}
END_TEST

/* Every number of a parameter file's "params", in block order, flattened. */
static void flatten(json_t *v, double *out, size_t *n) {
  if (json_is_array(v)) {
    for (size_t i = 0; i < json_array_size(v); i++) flatten(json_array_get(v, i), out, n);
  } else {
    if (out) out[*n] = json_is_string(v) ? strtod(json_string_value(v), NULL) : json_number_value(v);
    (*n)++;
  }
}

static double *param_vec(const char *dir, const char *file, size_t *n) {
  char p[500];
  snprintf(p, sizeof p, "%s/%s", dir, file);
  json_error_t je;
  json_t *root = json_load_file(p, 0, &je), *ps = json_object_get(root, "params");
  ck_assert_ptr_nonnull(ps);
  const char *k;
  json_t *v;
  *n = 0;
  json_object_foreach(ps, k, v) flatten(v, NULL, n);
  double *out = malloc(*n * sizeof *out);
  *n = 0;
  json_object_foreach(ps, k, v) flatten(v, out, n);
  json_decref(root);
  return out;
}

/* Online updates happen inside the sequence: T/every per sequence. */
START_TEST(test_online_updates) {
  mk_tmp();
  char a[400], p[500];
  snprintf(a, sizeof a, "%s/a", tmpdir);
  snn_train_res r;
  snn_err e = {0};
  ck_assert_int_eq(
      run_exp("\"task\": {\"kind\": \"adding\", \"steps\": 20}, \"rule\": \"eprop\", \"update\": {\"mode\": "
              "\"online\", \"every\": 5}, \"updates\": 3",
              a, 0, 0, &r, &e),
      SNN_OK);
  snprintf(p, sizeof p, "%s/checkpoint.json", a);
  json_error_t je;
  json_t *ck = json_load_file(p, 0, &je);
  ck_assert_ptr_nonnull(ck);
  /* updates at t = 5, 10, 15 and at the end of each of the 3 sequences */
  ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(ck, "checkpoint"), "optimizer_steps")), 12);
  json_decref(ck);
  rm_run(a);
  /* With plain SGD and a tiny step the online updates of one sequence add up
   * to the deferred update (to O(lr)): every part of the gradient is applied
   * once, none twice or never.  (A loss at every step, so that every part
   * of the sequence has a gradient.) */
  char b[400];
  snprintf(b, sizeof b, "%s/b", tmpdir);
  static const char *const body =
      "\"task\": {\"kind\": \"pattern\", \"steps\": 20, \"inputs\": 5, \"rate\": 0.3}, \"rule\": \"eprop\","
      " \"update\": {\"mode\": \"%s\", \"every\": 5}, \"updates\": 1, \"optimizer\": {\"kind\": \"sgd\", \"lr\": "
      "1e-7}, \"eval\": {\"every\": 1, \"samples\": 1}";
  char bo[400], bd[400];
  snprintf(bo, sizeof bo, body, "online");
  snprintf(bd, sizeof bd, body, "deferred");
  ck_assert_int_eq(run_exp(bo, a, 0, 0, &r, &e), SNN_OK);
  ck_assert_int_eq(run_exp(bd, b, 0, 0, &r, &e), SNN_OK);
  double num = 0, den = 0;
  size_t n0 = 0, n1 = 0, n2 = 0;
  double *p0 = param_vec(a, "params_initial.json", &n0), *p1 = param_vec(a, "params.json", &n1),
         *p2 = param_vec(b, "params.json", &n2);
  ck_assert(n0 == n1 && n1 == n2 && n0 > 100);
  for (size_t i = 0; i < n0; i++) {
    double don = p1[i] - p0[i], dde = p2[i] - p0[i];
    num += (don - dde) * (don - dde);
    den += dde * dde;
  }
  ck_assert_msg(den > 0 && sqrt(num / den) < 1e-3, "online and deferred updates differ by %g (relative)",
                sqrt(num / den));
  free(p0), free(p1), free(p2);
  rm_run(a), rm_run(b);
  rm_tmp();
}
END_TEST

/* Training learns: e-prop pattern generation and BPTT on the recall task. */
START_TEST(test_training_learns) {
  mk_tmp();
  char a[400], p[500];
  snprintf(a, sizeof a, "%s/a", tmpdir);
  snn_train_res r;
  snn_err e = {0};
  ck_assert_msg(
      run_exp("\"task\": {\"kind\": \"pattern\", \"steps\": 200, \"inputs\": 20, \"rate\": 0.05}, \"rule\": \"eprop\","
              " \"updates\": 60, \"optimizer\": {\"kind\": \"adam\", \"lr\": 0.01}, \"eval\": {\"every\": 1, "
              "\"samples\": 1}",
              a, 0, 0, &r, &e) == SNN_OK,
      "%s", e.msg);
  snprintf(p, sizeof p, "%s/log.csv", a);
  FILE *f = fopen(p, "r");
  char line[256];
  double first = NAN, last = NAN;
  ck_assert_ptr_nonnull(fgets(line, sizeof line, f));
  while (fgets(line, sizeof line, f)) {
    double v = strtod(strchr(strchr(line, ',') + 1, ',') + 1, NULL);
    if (isnan(first)) first = v;
    last = v;
  }
  fclose(f);
  ck_assert_msg(last < 0.3 * first, "pattern generation: eval loss %g -> %g", first, last);
  rm_run(a);
  ck_assert_msg(
      run_exp("\"task\": {\"kind\": \"recall\", \"steps\": 20, \"store_len\": 4, \"group\": 4, \"noise_rate\": 0.02},"
              " \"rule\": \"bptt\", \"batch\": 16, \"updates\": 80, \"optimizer\": {\"kind\": \"adam\", \"lr\": 0.01},"
              " \"eval\": {\"every\": 80, \"samples\": 200}",
              a, 0, 0, &r, &e) == SNN_OK,
      "%s", e.msg);
  ck_assert_msg(r.eval_acc >= 0.9, "store-recall: accuracy %g after training", r.eval_acc);
  rm_run(a);
  rm_tmp();
}
END_TEST

/* FPTT's time-weighted loss (docs/fptt.md): with one chunk it is the
 * network's own terminal cross-entropy, byte for byte; with several, the
 * estimate the checkpoint holds has, per class and chunk, either nothing yet
 * or a softmax (sums to 1), some filled, and none for the last chunk. */
START_TEST(test_fptt_time_weighted) {
  mk_tmp();
  char a[400], b[400], pa[500], pb[500];
  snprintf(a, sizeof a, "%s/a", tmpdir);
  snprintf(b, sizeof b, "%s/b", tmpdir);
  snn_train_res r;
  snn_err e = {0};
  const char *rows =
      "\"task\": {\"kind\": \"fmnist\", \"order\": \"row\", \"limit\": 200}, \"batch\": 4, "
      "\"updates\": 3, \"eval\": {\"every\": 3, \"samples\": 4}, ";
  char body[600];
  snprintf(body, sizeof body, "%s\"rule\": \"fptt:chunks=1\", \"fptt\": {\"loss\": \"time_weighted\"}", rows);
  ck_assert_msg(run_exp(body, a, 0, 0, &r, &e) == SNN_OK, "%s: %s", e.key, e.msg);
  snprintf(body, sizeof body, "%s\"rule\": \"fptt:chunks=1\", \"fptt\": {\"loss\": \"network\"}", rows);
  ck_assert_msg(run_exp(body, b, 0, 0, &r, &e) == SNN_OK, "%s: %s", e.key, e.msg);
  snprintf(pa, sizeof pa, "%s/params.json", a);
  snprintf(pb, sizeof pb, "%s/params.json", b);
  same_file(pa, pb);
  rm_run(a), rm_run(b);
  snprintf(body, sizeof body, "%s\"rule\": \"fptt:chunks=7\", \"fptt\": {\"loss\": \"time_weighted\"}", rows);
  ck_assert_msg(run_exp(body, a, 0, 0, &r, &e) == SNN_OK, "%s: %s", e.key, e.msg);
  snprintf(pa, sizeof pa, "%s/checkpoint.json", a);
  json_error_t je;
  json_t *root = json_load_file(pa, 0, &je);
  json_t *q = json_object_get(json_object_get(root, "checkpoint"), "fptt_estimate");
  ck_assert_uint_eq(json_array_size(q), 7 * 10 * 10);
  int filled = 0;
  for (size_t y = 0; y < 10; y++)
    for (size_t p = 0; p < 7; p++) {
      double sum = 0;
      for (size_t k = 0; k < 10; k++) sum += json_number_value(json_array_get(q, (y * 7 + p) * 10 + k));
      ck_assert_msg(sum == 0 || fabs(sum - 1) < 1e-12, "class %zu chunk %zu: sums to %g", y, p, sum);
      if (p == 6) ck_assert_msg(sum == 0, "the last chunk keeps no estimate");
      filled += sum != 0;
    }
  ck_assert_msg(filled > 0, "no estimate filled in 3 updates of 4 sequences");
  json_decref(root);
  rm_run(a);
  rm_tmp();
}
END_TEST

/* A bad experiment is refused with the key that is wrong. */
START_TEST(test_bad_experiments) {
  static const struct {
    const char *body, *key;
  } bad[] = {
      {"\"task\": {\"kind\": \"sorting\"}, \"rule\": \"bptt\"", "task.kind"},
      {"\"task\": {\"kind\": \"adding\", \"steps\": 1}, \"rule\": \"bptt\"", "task.steps"},
      {"\"task\": {\"kind\": \"cues\", \"cues\": 4}, \"rule\": \"bptt\"", "task.cues"},
      {"\"task\": {\"kind\": \"adding\"}, \"rule\": \"bptt\", \"update\": {\"mode\": \"online\"}", "update.mode"},
      {"\"task\": {\"kind\": \"adding\"}, \"rule\": \"eprop\", \"batch\": 4, \"update\": {\"mode\": \"online\"}",
       "batch"},
      {"\"task\": {\"kind\": \"adding\"}, \"rule\": \"bptt\", \"optimizer\": {\"kind\": \"lion\"}", "optimizer.kind"},
      {"\"task\": {\"kind\": \"adding\"}, \"rule\": \"bptt\", \"optimizer\": {\"lr\": -1}", "optimizer.lr"},
      {"\"task\": {\"kind\": \"adding\"}, \"rule\": \"nope\"", "rule"},
      {"\"task\": {\"kind\": \"adding\"}, \"rule\": \"bptt\", \"epochs\": 3", ""},
      {"\"task\": {\"kind\": \"fmnist\", \"path\": \"/nonexistent\"}, \"rule\": \"bptt\"", ""},
      {"\"task\": {\"kind\": \"adding\"}, \"rule\": \"fptt:chunks=2\", \"fptt\": {\"loss\": \"time_weighted\"}",
       "fptt.loss"},
      {"\"task\": {\"kind\": \"adding\"}, \"rule\": \"bptt\", \"fptt\": {\"loss\": \"network\"}", "fptt"},
      {"\"task\": {\"kind\": \"adding\"}, \"rule\": \"fptt\", \"fptt\": {\"loss\": \"weighted\"}", "fptt.loss"},
      {"\"task\": {\"kind\": \"adding\"}, \"rule\": \"bptt\", \"shards\": 3", "shards"},
  };
  mk_tmp();
  char a[400];
  snprintf(a, sizeof a, "%s/a", tmpdir);
  for (size_t k = 0; k < sizeof bad / sizeof *bad; k++) {
    snn_train_res r;
    snn_err e = {0};
    ck_assert_msg(run_exp(bad[k].body, a, 0, 0, &r, &e) != SNN_OK, "case %zu accepted", k);
    ck_assert_msg(!strcmp(e.key, bad[k].key), "case %zu: key '%s', expected '%s' (%s)", k, e.key, bad[k].key, e.msg);
    ck_assert(e.file[0] && e.msg[0]);
  }
  char p[500];
  snprintf(p, sizeof p, "%s/exp.json", tmpdir);
  unlink(p);
  rm_tmp();
}
END_TEST

int main(void) {
  Suite *su = suite_create("train");
  TCase *tc = tcase_create("data");
  tcase_add_test(tc, test_shd_reader);
  tcase_add_test(tc, test_idx_reader);
  tcase_add_test(tc, test_fashion_mnist_package);
  tcase_add_test(tc, test_generated_tasks);
  suite_add_tcase(su, tc);
  TCase *tt = tcase_create("training");
  tcase_set_timeout(tt, 600);
  tcase_add_loop_test(tt, test_resume_bit_for_bit, 0, (int)(sizeof RESUME_CASES / sizeof *RESUME_CASES));
  tcase_add_test(tt, test_adaptive_feedback_follows_readout);
  tcase_add_test(tt, test_online_updates);
  tcase_add_test(tt, test_warmup_uncounted);
  tcase_add_test(tt, test_training_learns);
  tcase_add_test(tt, test_fptt_time_weighted);
  tcase_add_test(tt, test_bad_experiments);
  suite_add_tcase(su, tt);
  return snn_run_suite(su, 0);
}
