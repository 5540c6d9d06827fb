/* sweep_tables.c - the CSV tables of a sweep (sweep.h, docs/sweep.md).
 * Rows follow the plan's order (variants, then seeds in the file's order),
 * never the order in which runs finished, and the numbers are written with
 * fixed formats, so that one sweep gives the same bytes on any number of
 * processes.  Strings are quoted, inner quotes doubled (RFC 4180). */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "experiments/sweep.h"

static char *take(snn_buf *b) {
  if (b->oom) {
    snn_buf_free(b);
    return NULL;
  }
  if (!b->p) b->p = calloc(1, 1);
  return b->p;
}

static void put_quoted(snn_buf *b, const char *s) {
  snn_buf_puts(b, "\"");
  for (const char *c = s; *c; c++) snn_buf_puts(b, *c == '"' ? "\"\"" : (char[2]){*c, 0});
  snn_buf_puts(b, "\"");
}

/* The shortest decimal that reads back as x. */
static void put_double(snn_buf *b, double x) {
  char t[40];
  for (int p = 1; p <= 17; p++) {
    snprintf(t, sizeof t, "%.*g", p, x);
    if (strtod(t, NULL) == x) break;
  }
  snn_buf_puts(b, t);
}

/* An override value as a cell: numbers as numbers, strings quoted, other
 * values as their compact JSON (objects and arrays quoted); nothing for a variant without it. */
static void put_value(snn_buf *b, json_t *v) {
  if (!v) return;
  if (json_is_string(v)) {
    put_quoted(b, json_string_value(v));
  } else if (json_is_integer(v)) {
    snn_buf_printf(b, "%lld", (long long)json_integer_value(v));
  } else if (json_is_real(v)) {
    put_double(b, json_real_value(v));
  } else if (json_is_boolean(v) || json_is_null(v)) {
    snn_buf_puts(b, json_is_null(v) ? "null" : json_is_true(v) ? "true" : "false");
  } else {
    char *t = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT | JSON_REAL_PRECISION(17));
    if (t) put_quoted(b, t);
    free(t);
  }
}

/* A metric: 17 significant digits (exact), empty when there is none. */
static void put_metric(snn_buf *b, double x) {
  if (isfinite(x)) snn_buf_printf(b, "%.17g", x);
}

static void put_run_head(snn_buf *b, const snn_sweep *s, size_t run) {
  char name[32];
  snn_sweep_variant_name(s, run / s->nseed, name, sizeof name);
  snn_buf_printf(b, "%zu,%s,%lu,", run + 1, name, s->seeds[run % s->nseed]);
}

char *snn_sweep_variants_csv(const snn_sweep *s) {
  snn_buf b = {0};
  snn_buf_puts(&b, "variant");
  for (size_t k = 0; k < s->nkeys; k++) snn_buf_printf(&b, ",%s", s->keys[k]);
  snn_buf_puts(&b, "\n");
  for (size_t v = 0; v < s->nvar; v++) {
    char name[32];
    snn_sweep_variant_name(s, v, name, sizeof name);
    snn_buf_puts(&b, name);
    for (size_t k = 0; k < s->nkeys; k++) {
      snn_buf_puts(&b, ",");
      put_value(&b, json_object_get(s->vars[v], s->keys[k]));
    }
    snn_buf_puts(&b, "\n");
  }
  return take(&b);
}

char *snn_sweep_runs_csv(const snn_sweep *s, const snn_run_result *r) {
  snn_buf b = {0};
  snn_buf_puts(&b, "run,variant,seed,status,updates,train_loss,eval_loss,eval_acc\n");
  for (size_t i = 0; i < snn_sweep_runs(s); i++) {
    put_run_head(&b, s, i);
    snn_buf_printf(&b, "%s,", snn_run_status_names[r[i].status]);
    if (r[i].status != SNN_RUN_PENDING) snn_buf_printf(&b, "%zu", r[i].updates);
    int done = r[i].status == SNN_RUN_DONE;
    snn_buf_puts(&b, ",");
    if (done) put_metric(&b, r[i].train_loss);
    snn_buf_puts(&b, ",");
    if (done) put_metric(&b, r[i].eval_loss);
    snn_buf_puts(&b, ",");
    if (done) put_metric(&b, r[i].eval_acc);
    snn_buf_puts(&b, "\n");
  }
  return take(&b);
}

char *snn_sweep_status_csv(const snn_sweep *s, const snn_run_result *r) {
  snn_buf b = {0};
  snn_buf_puts(&b, "run,variant,seed,status,message\n");
  for (size_t i = 0; i < snn_sweep_runs(s); i++) {
    put_run_head(&b, s, i);
    snn_buf_printf(&b, "%s,", snn_run_status_names[r[i].status]);
    if (r[i].msg[0]) put_quoted(&b, r[i].msg);
    snn_buf_puts(&b, "\n");
  }
  return take(&b);
}

char *snn_sweep_times_csv(const snn_sweep *s, const snn_run_result *r) {
  snn_buf b = {0};
  snn_buf_puts(&b, "run,variant,seed,status,seconds\n");
  for (size_t i = 0; i < snn_sweep_runs(s); i++) {
    put_run_head(&b, s, i);
    snn_buf_printf(&b, "%s,", snn_run_status_names[r[i].status]);
    if (r[i].status != SNN_RUN_PENDING && isfinite(r[i].seconds)) snn_buf_printf(&b, "%.3f", r[i].seconds);
    snn_buf_puts(&b, "\n");
  }
  return take(&b);
}

void snn_stats_of(const double *x, size_t n, snn_stats *st) {
  double sum = 0, ss = 0;
  st->n = 0, st->mean = st->std = st->min = st->max = NAN;
  for (size_t i = 0; i < n; i++)
    if (isfinite(x[i])) {
      sum += x[i];
      if (!st->n || x[i] < st->min) st->min = x[i];
      if (!st->n || x[i] > st->max) st->max = x[i];
      st->n++;
    }
  if (!st->n) return;
  st->mean = sum / (double)st->n;
  for (size_t i = 0; i < n; i++)
    if (isfinite(x[i])) ss += (x[i] - st->mean) * (x[i] - st->mean);
  st->std = st->n > 1 ? sqrt(ss / (double)(st->n - 1)) : 0.0;
}

/* One metric's columns: n, mean, std, min, max (empty numbers when n = 0). */
static void put_stats(snn_buf *b, const snn_run_result *r, size_t nseed, size_t m, double *x) {
  for (size_t k = 0; k < nseed; k++) {
    const snn_run_result *q = &r[k];
    double v = m == 0 ? q->train_loss : m == 1 ? q->eval_loss : q->eval_acc;
    x[k] = q->status == SNN_RUN_DONE ? v : NAN;
  }
  snn_stats st;
  snn_stats_of(x, nseed, &st);
  snn_buf_printf(b, ",%zu", st.n);
  if (!st.n) {
    snn_buf_puts(b, ",,,,");
    return;
  }
  snn_buf_printf(b, ",%.10g,%.10g,%.10g,%.10g", st.mean, st.std, st.min, st.max);
}

char *snn_sweep_summary_csv(const snn_sweep *s, const snn_run_result *r) {
  static const char *const metrics[] = {"train_loss", "eval_loss", "eval_acc"};
  snn_buf b = {0};
  double *x = calloc(s->nseed, sizeof *x);
  if (!x) return NULL;
  snn_buf_puts(&b, "variant");
  for (size_t k = 0; k < s->nkeys; k++) snn_buf_printf(&b, ",%s", s->keys[k]);
  snn_buf_puts(&b, ",runs,done,failed");
  for (size_t m = 0; m < 3; m++)
    snn_buf_printf(&b, ",%s_n,%s_mean,%s_std,%s_min,%s_max", metrics[m], metrics[m], metrics[m], metrics[m],
                   metrics[m]);
  snn_buf_puts(&b, "\n");
  for (size_t v = 0; v < s->nvar; v++) {
    const snn_run_result *rv = r + v * s->nseed;
    char name[32];
    size_t done = 0, failed = 0;
    snn_sweep_variant_name(s, v, name, sizeof name);
    snn_buf_puts(&b, name);
    for (size_t k = 0; k < s->nkeys; k++) {
      snn_buf_puts(&b, ",");
      put_value(&b, json_object_get(s->vars[v], s->keys[k]));
    }
    for (size_t k = 0; k < s->nseed; k++)
      done += rv[k].status == SNN_RUN_DONE, failed += rv[k].status == SNN_RUN_FAILED;
    snn_buf_printf(&b, ",%zu,%zu,%zu", s->nseed, done, failed);
    for (size_t m = 0; m < 3; m++) put_stats(&b, rv, s->nseed, m, x);
    snn_buf_puts(&b, "\n");
  }
  free(x);
  return take(&b);
}
