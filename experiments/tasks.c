/* tasks.c - the training tasks and their data (docs/tasks.md).
 *
 * Generated tasks draw sample `index` of a split from a generator seeded by
 * (seed, split, index), never from a shared stream, so that any sample can be
 * drawn again: the same seed gives the same bytes, and a resumed run draws
 * what the uninterrupted one would have.  Fashion-MNIST is read from the IDX
 * files of Debian's dataset-fashion-mnist (gzip, through zlib) and the
 * Spiking Heidelberg Digits from their HDF5 files (libhdf5). */
#include "experiments/tasks.h"

#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/jsonget.h"

const char *const snn_task_names[SNN_NTASKS + 1] = {"pattern", "cues", "adding", "recall", "fmnist", "shd", NULL};

/* a well-mixed seed from (seed, split, index) */
static unsigned long mix(unsigned long x) {
  return (unsigned long)snn_mix64((uint64_t)x);
}

static unsigned long sample_seed(unsigned long seed, int split, size_t index) {
  return mix(mix(seed) ^ mix(((uint64_t)split << 56) ^ (uint64_t)index)) & 0xffffffffUL;
}

void snn_task_free(snn_task *t) {
  snn_dataset_free(&t->train);
  snn_dataset_free(&t->test);
}

/* ---- parsing ---- */

#define TRY(x)                     \
  do {                             \
    int st_ = (x);                 \
    if (st_ != SNN_OK) return st_; \
  } while (0)

/* The generated tasks' keys, their T, sizes, loss and window. */
static int parse_generated(json_t *tj, const char *file, snn_task *t, snn_err *err) {
  switch (t->kind) {
    case SNN_TASK_PATTERN:
      TRY(snn_json_size(tj, file, "task", "steps", 1000, 2, 1000000, &t->T, err));
      TRY(snn_json_size(tj, file, "task", "inputs", 100, 1, 100000, &t->n_in, err));
      TRY(snn_json_size(tj, file, "task", "outputs", 1, 1, 100, &t->n_out, err));
      TRY(snn_json_num(tj, file, "task", "rate", 0.01, 0, 1, &t->rate, err));
      t->loss = SNN_LOSS_MSE;
      t->win_first = 1, t->win_last = t->T;
      return SNN_OK;
    case SNN_TASK_CUES:
      TRY(snn_json_size(tj, file, "task", "cues", 7, 1, 1000, &t->cues, err));
      if (t->cues % 2 == 0)
        return snn_err_set(err, SNN_EVALUE, file, "task.cues",
                           "expected an odd number (a majority must exist), found %zu", t->cues);
      TRY(snn_json_size(tj, file, "task", "cue_len", 10, 1, 100000, &t->cue_len, err));
      TRY(snn_json_size(tj, file, "task", "gap", 5, 0, 100000, &t->gap, err));
      TRY(snn_json_size(tj, file, "task", "delay", 20, 0, 1000000, &t->delay, err));
      TRY(snn_json_size(tj, file, "task", "recall_len", 10, 1, 100000, &t->recall_len, err));
      TRY(snn_json_size(tj, file, "task", "group", 10, 1, 10000, &t->group, err));
      TRY(snn_json_num(tj, file, "task", "cue_rate", 0.4, 0, 1, &t->cue_rate, err));
      TRY(snn_json_num(tj, file, "task", "noise_rate", 0.01, 0, 1, &t->noise_rate, err));
      t->T = t->cues * (t->cue_len + t->gap) + t->delay + t->recall_len;
      t->n_in = 4 * t->group, t->n_out = 2, t->loss = SNN_LOSS_CE;
      t->win_first = t->T - t->recall_len + 1, t->win_last = t->T;
      return SNN_OK;
    case SNN_TASK_ADDING:
      TRY(snn_json_size(tj, file, "task", "steps", 100, 2, 10000000, &t->T, err));
      t->n_in = 2, t->n_out = 1, t->loss = SNN_LOSS_MSE;
      t->win_first = t->win_last = t->T;
      return SNN_OK;
    default: /* recall */
      TRY(snn_json_size(tj, file, "task", "steps", 50, 4, 10000000, &t->T, err));
      TRY(snn_json_size(tj, file, "task", "store_len", 5, 1, 100000, &t->store_len, err));
      TRY(snn_json_size(tj, file, "task", "group", 5, 1, 10000, &t->group, err));
      TRY(snn_json_num(tj, file, "task", "noise_rate", 0.05, 0, 1, &t->noise_rate, err));
      TRY(snn_json_num(tj, file, "task", "cue_rate", 0.5, 0, 1, &t->cue_rate, err));
      if (2 * t->store_len >= t->T)
        return snn_err_set(err, SNN_EVALUE, file, "task.store_len",
                           "expected 2 store_len < steps (store and recall must not overlap)");
      t->n_in = 5 * t->group, t->n_out = 2, t->loss = SNN_LOSS_CE;
      t->win_first = t->T - t->store_len + 1, t->win_last = t->T;
      return SNN_OK;
  }
}

/* SHD's units and labels in range, both splits. */
static int check_shd(snn_task *t, snn_err *err) {
  for (int s = 0; s < 2; s++) {
    const snn_dataset *d = s ? &t->test : &t->train;
    for (size_t i = 0; i < d->ev_off[d->count]; i++)
      if (d->units[i] >= 700)
        return snn_err_set(err, SNN_EVALUE, t->path, "/spikes/units", "unit %u is not in [0, 700)", d->units[i]);
    for (size_t i = 0; i < d->count; i++)
      if (d->labels[i] >= 20)
        return snn_err_set(err, SNN_EVALUE, t->path, "/labels", "label %u is not in [0, 20)", d->labels[i]);
  }
  return SNN_OK;
}

/* fmnist and shd: the data folder and both splits, read. */
static int parse_dataset(json_t *tj, const char *file, const char *base, snn_task *t, snn_err *err) {
  json_t *p = json_object_get(tj, "path");
  const char *def = t->kind == SNN_TASK_FMNIST ? "/usr/share/datasets/fashion-mnist" : "data/shd";
  if (p && !json_is_string(p)) return snn_err_set(err, SNN_EKEY, file, "task.path", "expected a folder name (string)");
  const char *pp = p ? json_string_value(p) : def;
  snprintf(t->path, sizeof t->path, pp[0] == '/' || !p ? "%s%s" : "%s/%s", pp[0] == '/' || !p ? "" : base, pp);
  char a[SNN_PATH_MAX + 64], b[SNN_PATH_MAX + 64];
  if (t->kind == SNN_TASK_FMNIST) {
    static const char *const orders[] = {"pixel", "row", NULL};
    TRY(snn_json_enum(tj, file, "task", "order", 0, orders, &t->rows, err));
    t->T = t->rows ? 28 : 784, t->n_in = t->rows ? 28 : 1, t->n_out = 10;
    snprintf(a, sizeof a, "%s/train-images-idx3-ubyte.gz", t->path);
    snprintf(b, sizeof b, "%s/train-labels-idx1-ubyte.gz", t->path);
    TRY(snn_idx_load(a, b, &t->train, t->limit, err));
    snprintf(a, sizeof a, "%s/t10k-images-idx3-ubyte.gz", t->path);
    snprintf(b, sizeof b, "%s/t10k-labels-idx1-ubyte.gz", t->path);
    TRY(snn_idx_load(a, b, &t->test, t->limit, err));
  } else {
    TRY(snn_json_size(tj, file, "task", "steps", 100, 1, 100000, &t->T, err));
    TRY(snn_json_num(tj, file, "task", "duration", 1.0, 1e-6, 1e6, &t->duration, err));
    t->n_in = 700, t->n_out = 20;
    snprintf(a, sizeof a, "%s/shd_train.h5", t->path);
    TRY(snn_shd_load(a, &t->train, t->limit, err));
    snprintf(a, sizeof a, "%s/shd_test.h5", t->path);
    TRY(snn_shd_load(a, &t->test, t->limit, err));
    TRY(check_shd(t, err));
  }
  t->loss = SNN_LOSS_CE;
  t->win_first = t->kind == SNN_TASK_FMNIST ? t->T : 1, t->win_last = t->T;
  return SNN_OK;
}

/* An explicit loss window overrides the task's (e.g. a longer read-out period). */
static int parse_window(json_t *tj, const char *file, snn_task *t, snn_err *err) {
  json_t *w = json_object_get(tj, "window");
  if (!w) return SNN_OK;
  if (!json_is_array(w) || json_array_size(w) != 2 || !json_is_integer(json_array_get(w, 0)) ||
      !json_is_integer(json_array_get(w, 1)))
    return snn_err_set(err, SNN_EKEY, file, "task.window", "expected [first, last] (1-based steps)");
  json_int_t a = json_integer_value(json_array_get(w, 0)), z = json_integer_value(json_array_get(w, 1));
  if (a < 1 || z < a || (size_t)z > t->T)
    return snn_err_set(err, SNN_EVALUE, file, "task.window", "expected 1 <= first <= last <= %zu", t->T);
  t->win_first = (size_t)a, t->win_last = (size_t)z;
  return SNN_OK;
}

const char *const snn_task_keys[] = {"kind",       "steps",     "inputs", "outputs",    "rate",  "cues",
                                     "cue_len",    "gap",       "delay",  "recall_len", "group", "cue_rate",
                                     "noise_rate", "store_len", "order",  "duration",   "limit", "path",
                                     "seed",       "window",    NULL};

static int parse_task(json_t *tj, const char *file, const char *base, snn_task *t, snn_err *err) {
  if (!tj || !json_is_object(tj))
    return snn_err_set(err, SNN_EKEY, file, "task", "missing; expected an object with \"kind\"");
  TRY(snn_json_enum(tj, file, "task", "kind", -1, snn_task_names, &t->kind, err));
  if (t->kind < 0) return snn_err_set(err, SNN_EKEY, file, "task.kind", "missing; expected the kind of task");
  TRY(snn_json_keys(tj, file, "task", snn_task_keys, "docs/tasks.md", err));
  size_t seed = 1;
  TRY(snn_json_size(tj, file, "task", "seed", 1, 0, 4294967295u, &seed, err));
  t->seed = (unsigned long)seed;
  TRY(snn_json_size(tj, file, "task", "limit", 0, 0, SIZE_MAX >> 1, &t->limit, err));
  if (t->kind == SNN_TASK_FMNIST || t->kind == SNN_TASK_SHD)
    TRY(parse_dataset(tj, file, base, t, err));
  else
    TRY(parse_generated(tj, file, t, err));
  return parse_window(tj, file, t, err);
}

int snn_task_parse(json_t *tj, const char *file, const char *base, snn_task *t, snn_err *err) {
  memset(t, 0, sizeof *t);
  t->kind = -1;
  int st = parse_task(tj, file, base, t, err);
  if (st) snn_task_free(t);
  return st;
}

size_t snn_task_count(const snn_task *t, int split) {
  if (t->kind == SNN_TASK_FMNIST || t->kind == SNN_TASK_SHD) return split ? t->test.count : t->train.count;
  return SIZE_MAX;
}

/* The frozen input and target of the pattern task, from the task's seed. */
static void pattern(const snn_task *t, double *x, double *y) {
  gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
  if (!r) return;
  gsl_rng_set(r, t->seed);
  for (size_t i = 0; i < t->T * t->n_in; i++) x[i] = gsl_rng_uniform(r) < t->rate ? 1.0 : 0.0;
  static const double freq[4] = {1, 2, 3, 5};
  for (size_t k = 0; k < t->n_out; k++) {
    double amp[4], ph[4];
    for (int m = 0; m < 4; m++) amp[m] = 0.5 + 1.5 * gsl_rng_uniform(r), ph[m] = 2 * M_PI * gsl_rng_uniform(r);
    for (size_t s = 0; s < t->T; s++) {
      double v = 0;
      for (int m = 0; m < 4; m++) v += amp[m] * sin(2 * M_PI * freq[m] * (double)s / (double)t->T + ph[m]);
      y[s * t->n_out + k] = v / 4.0;
    }
  }
  gsl_rng_free(r);
}

void snn_task_sample(const snn_task *t, int split, unsigned long seed, size_t index, double *x, double *y,
                     long *label) {
  size_t T = t->T, n = t->n_in;
  memset(x, 0, T * n * sizeof *x);
  if (y) memset(y, 0, T * t->n_out * sizeof *y);
  *label = 0;
  if (t->kind == SNN_TASK_PATTERN) {
    pattern(t, x, y);
    return;
  }
  if (t->kind == SNN_TASK_FMNIST) {
    const snn_dataset *d = split ? &t->test : &t->train;
    size_t i = index % d->count;
    const uint8_t *p = d->pix + i * 784;
    for (size_t q = 0; q < 784; q++) x[q] = p[q] / 255.0; /* pixel order and row order share the layout */
    *label = d->labels[i];
    return;
  }
  if (t->kind == SNN_TASK_SHD) {
    const snn_dataset *d = split ? &t->test : &t->train;
    size_t i = index % d->count;
    double bin = t->duration / (double)T;
    for (size_t e = d->ev_off[i]; e < d->ev_off[i + 1]; e++) {
      double s = (double)d->times[e] / bin;
      if (!(s >= 0) || s >= (double)T) continue;
      x[(size_t)s * n + d->units[e]] = 1.0;
    }
    *label = d->labels[i];
    return;
  }
  gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
  if (!r) return;
  gsl_rng_set(r, sample_seed(seed, split, index));
  if (t->kind == SNN_TASK_CUES) {
    /* populations: left cues, right cues, recall, noise (group channels each) */
    size_t g = t->group, left = 0;
    for (size_t c = 0; c < t->cues; c++) {
      int side = (int)gsl_rng_uniform_int(r, 2);
      left += side == 0;
      size_t t0 = c * (t->cue_len + t->gap);
      for (size_t s = t0; s < t0 + t->cue_len; s++)
        for (size_t j = 0; j < g; j++) x[s * n + (size_t)side * g + j] = gsl_rng_uniform(r) < t->cue_rate;
    }
    for (size_t s = T - t->recall_len; s < T; s++)
      for (size_t j = 0; j < g; j++) x[s * n + 2 * g + j] = gsl_rng_uniform(r) < t->cue_rate;
    for (size_t s = 0; s < T; s++)
      for (size_t j = 0; j < g; j++) x[s * n + 3 * g + j] = gsl_rng_uniform(r) < t->noise_rate;
    *label = left * 2 > t->cues ? 0 : 1;
  } else if (t->kind == SNN_TASK_ADDING) {
    size_t a = gsl_rng_uniform_int(r, T / 2), b = T / 2 + gsl_rng_uniform_int(r, T - T / 2);
    for (size_t s = 0; s < T; s++) x[s * 2] = gsl_rng_uniform(r);
    x[a * 2 + 1] = x[b * 2 + 1] = 1.0;
    y[(T - 1) * t->n_out] = x[a * 2] + x[b * 2];
  } else { /* recall: store, recall, value 0, value 1, noise */
    size_t g = t->group, L = t->store_len;
    int bit = (int)gsl_rng_uniform_int(r, 2);
    for (size_t s = 0; s < L; s++)
      for (size_t j = 0; j < g; j++) {
        x[s * n + j] = gsl_rng_uniform(r) < t->cue_rate;
        x[s * n + (size_t)(2 + bit) * g + j] = gsl_rng_uniform(r) < t->cue_rate;
      }
    for (size_t s = T - L; s < T; s++)
      for (size_t j = 0; j < g; j++) x[s * n + g + j] = gsl_rng_uniform(r) < t->cue_rate;
    for (size_t s = 0; s < T; s++)
      for (size_t j = 0; j < g; j++) x[s * n + 4 * g + j] = gsl_rng_uniform(r) < t->noise_rate;
    *label = bit;
  }
  gsl_rng_free(r);
}
