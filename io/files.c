/* files.c - parameter and gradient files (SPEC.md section 7), and the
 * generation of parameters, input and target from the seed.
 *
 * Writers emit double numbers with 17 significant digits and MPFR numbers as
 * the decimal strings the numeric build produced; readers accept both. */
#include <ctype.h>
#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/io.h"
#include "models/model.h"

static int data_alloc(const snn_spec *s, snn_data *d) {
  memset(d, 0, sizeof *d);
  d->label = -1;
  if (snn_nums_init(&d->theta, s->P) || snn_nums_init(&d->x, s->T * s->n_in) ||
      snn_nums_init(&d->y, s->loss == SNN_LOSS_MSE ? s->T * s->n_out : 0)) {
    snn_data_clear(d);
    return SNN_ENOMEM;
  }
  return SNN_OK;
}

/* A normalised side's start (blocks gamma, beta, mean, var; -1: none):
 * gamma from the file, beta and the running means 0, the variances 1. */
static void fill_bn(const snn_spec *s, snn_data *d, const int *blk, double gamma) {
  if (blk[0] < 0) return;
  const snn_block *g = &s->blk[blk[0]], *v = &s->blk[blk[3]];
  for (size_t i = 0; i < g->rows; i++) d->theta.v[g->off + i] = gamma;
  for (size_t i = 0; i < v->rows * v->cols; i++) d->theta.v[v->off + i] = 1.0;
}

/* Neuron constants from the network file, as per-neuron vectors (and
 * batch_norm's start). */
static void fill_constants(const snn_spec *s, snn_data *d) {
  fill_bn(s, d, s->blk_ro_bn, s->ro_bn_gamma);
  for (size_t l = 0; l < s->L; l++) {
    const snn_layer_spec *ly = &s->layers[l];
    for (int side = 0; side < 2; side++) fill_bn(s, d, ly->blk_bn[side], ly->bn_gamma);
    for (int c = 0; c < ly->nconst; c++) {
      const snn_block *b = &s->blk[ly->blk_const[c]];
      for (size_t i = 0; i < b->rows; i++) d->theta.v[b->off + i] = ly->consts[c];
    }
  }
}

/* Drawn weights overflow when w_scale, w_mean or rec_scale are huge: refuse
 * them here, naming the key, rather than compute with infinities. */
static int generated_finite(const snn_spec *s, snn_data *d, snn_err *err) {
  for (size_t b = 0; b < s->nblk; b++) {
    const snn_block *bk = &s->blk[b];
    for (size_t i = 0; i < bk->rows * bk->cols; i++) {
      if (isfinite(d->theta.v[bk->off + i])) continue;
      char key[64];
      if (bk->layer < 0)
        snprintf(key, sizeof key, "readout");
      else
        snprintf(key, sizeof key, "layers[%d].%s", bk->layer,
                 bk->kind == SNN_BLK_W_REC  ? "rec_scale"
                 : bk->kind == SNN_BLK_W_IN ? "w_scale"
                                            : "");
      snn_data_clear(d);
      return snn_err_set(err, SNN_EVALUE, s->path, key,
                         "the initial %s drawn from it overflow (not finite); expected a smaller scale", bk->name);
    }
  }
  return SNN_OK;
}

int snn_data_generate(const snn_spec *s, snn_data *d, snn_err *err) {
  if (data_alloc(s, d)) return snn_err_set(err, SNN_ENOMEM, s->path, "", "out of memory");
  gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
  if (!rng) {
    snn_data_clear(d);
    return snn_err_set(err, SNN_ENOMEM, s->path, "", "out of memory");
  }
  gsl_rng_set(rng, s->seed);
  double *th = d->theta.v;
  fill_constants(s, d);
  for (size_t l = 0; l < s->L; l++) {
    const snn_layer_spec *ly = &s->layers[l];
    const snn_block *b = &s->blk[ly->blk_w_in];
    double g = 1.0 / sqrt((double)ly->nprev);
    for (size_t i = 0; i < b->rows * b->cols; i++)
      th[b->off + i] = g * (ly->w_mean + ly->w_scale * gsl_ran_gaussian(rng, 1.0));
    if (ly->recurrent) {
      b = &s->blk[ly->blk_w_rec];
      double gr = ly->rec_scale / sqrt((double)ly->n);
      for (size_t i = 0; i < b->rows; i++)
        for (size_t j = 0; j < ly->n; j++)
          th[b->off + i * ly->n + j] = i % ly->n == j && !ly->sh->selfconn ? 0.0 : gr * gsl_ran_gaussian(rng, 1.0);
    }
    /* bias starts at 0 (calloc); mixes like w_in; delays uniform in init */
    for (int m = 0; m < ly->sh->nmix; m++) {
      b = &s->blk[ly->blk_mix[m]];
      double gm = 1.0 / sqrt((double)b->cols);
      for (size_t i = 0; i < b->rows * b->cols; i++) th[b->off + i] = gm * gsl_ran_gaussian(rng, 1.0);
    }
    if (ly->delays) {
      b = &s->blk[ly->blk_delay];
      for (size_t i = 0; i < b->rows * b->cols; i++)
        th[b->off + i] = ly->dinit_lo + (ly->dinit_hi - ly->dinit_lo) * gsl_rng_uniform(rng);
    }
  }
  const snn_block *rw = &s->blk[s->blk_ro_w];
  double go = 1.0 / sqrt((double)rw->cols);
  for (size_t i = 0; i < rw->rows * rw->cols; i++) th[rw->off + i] = go * gsl_ran_gaussian(rng, 1.0);
  /* readout.b starts at 0 (calloc) */
  for (size_t i = 0; i < s->T * s->n_in; i++)
    d->x.v[i] = s->in_kind == SNN_IN_POISSON ? (gsl_rng_uniform(rng) < s->in_rate ? 1.0 : 0.0)
                                             : s->in_mean + s->in_std * gsl_ran_gaussian(rng, 1.0);
  if (s->loss == SNN_LOSS_MSE) {
    for (size_t k = 0; k < s->n_out; k++) {
      static const double cycles[4] = {1, 2, 3, 5};
      double amp[4], ph[4];
      for (int m = 0; m < 4; m++) {
        amp[m] = 0.5 + 1.5 * gsl_rng_uniform(rng);
        ph[m] = 2 * M_PI * gsl_rng_uniform(rng);
      }
      for (size_t t = 0; t < s->T; t++) {
        double v = 0;
        if (s->tgt_kind == SNN_TGT_SINES)
          for (int m = 0; m < 4; m++) v += amp[m] * sin(2 * M_PI * cycles[m] * (double)(t + 1) / (double)s->T + ph[m]);
        else if (s->tgt_kind == SNN_TGT_NORMAL)
          v = gsl_ran_gaussian(rng, 1.0);
        d->y.v[t * s->n_out + k] = v;
      }
    }
  } else {
    d->label = s->label >= 0 ? s->label : (long)gsl_rng_uniform_int(rng, s->n_out);
  }
  gsl_rng_free(rng);
  return generated_finite(s, d, err);
}

/* ---- writing ---- */

static void put_num(snn_buf *b, const snn_nums *a, size_t i) {
  if (a->s && a->s[i])
    snn_buf_printf(b, "\"%s\"", a->s[i]);
  else
    snn_buf_printf(b, "%.17g", a->v[i]);
}

static int all_finite(const snn_nums *a, size_t off, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (!isfinite(a->v[off + i])) return 0;
  return 1;
}

/* rows x cols at offset: nested arrays when cols > 1 or `matrix`, else flat. */
static void put_block(snn_buf *b, const snn_nums *a, size_t off, size_t rows, size_t cols, int matrix) {
  snn_buf_puts(b, "[");
  for (size_t r = 0; r < rows; r++) {
    if (r) snn_buf_puts(b, matrix ? ",\n    " : ", ");
    if (matrix) snn_buf_puts(b, "[");
    for (size_t c = 0; c < cols; c++) {
      if (c) snn_buf_puts(b, ", ");
      put_num(b, a, off + r * cols + c);
    }
    if (matrix) snn_buf_puts(b, "]");
  }
  snn_buf_puts(b, "]");
}

int snn_data_format(const snn_spec *s, const snn_data *d, snn_buf *b, const char *path, snn_err *err) {
  snn_buf_puts(b, "{\"format\": \"snngrad-params/1\",\n \"params\": {");
  int first = 1;
  for (size_t k = 0; k < s->nblk; k++) {
    const snn_block *bk = &s->blk[k];
    if (!bk->in_params) continue;
    if (!all_finite(&d->theta, bk->off, bk->rows * bk->cols))
      return snn_err_set(err, SNN_ENONFINITE, path, bk->name, "refusing to write a non-finite parameter");
    snn_buf_printf(b, "%s\n  \"%s\": ", first ? "" : ",", bk->name);
    first = 0;
    put_block(b, &d->theta, bk->off, bk->rows, bk->cols, snn_block_is_matrix(bk));
  }
  snn_buf_puts(b, "},\n \"input\": ");
  put_block(b, &d->x, 0, s->T, s->n_in, 1);
  if (s->loss == SNN_LOSS_MSE) {
    snn_buf_puts(b, ",\n \"target\": ");
    put_block(b, &d->y, 0, s->T, s->n_out, 1);
  } else {
    snn_buf_printf(b, ",\n \"label\": %ld", d->label);
  }
  return b->oom ? snn_err_set(err, SNN_ENOMEM, path, "", "out of memory") : SNN_OK;
}

void snn_nums_put(snn_buf *b, const snn_nums *a, size_t off, size_t n) {
  put_block(b, a, off, n, 1, 0);
}

int snn_data_write(const snn_spec *s, const snn_data *d, const char *path, snn_err *err) {
  snn_buf b = {0};
  int st = snn_data_format(s, d, &b, path, err);
  snn_buf_puts(&b, "}\n");
  if (!st && b.oom) st = snn_err_set(err, SNN_ENOMEM, path, "", "out of memory");
  if (!st) st = snn_write_atomic(path, b.p, b.len, err);
  snn_buf_free(&b);
  return st;
}

int snn_grads_write(const snn_spec *s, const snn_result *r, const char *path, snn_err *err) {
  snn_buf b = {0};
  if (!all_finite(&r->loss, 0, 1))
    return snn_err_set(err, SNN_ENONFINITE, path, "loss", "the loss is not finite; nothing written");
  snn_buf_printf(&b,
                 "{\"format\": \"snngrad-grads/1\", \"rule\": \"%s\", \"precision_bits\": %ld,\n \"loss\": ", r->rule,
                 r->prec);
  put_num(&b, &r->loss, 0);
  snn_buf_puts(&b, ",\n \"spikes\": [");
  for (size_t l = 0; l < s->L; l++) snn_buf_printf(&b, "%s%.17g", l ? ", " : "", r->spikes[l]);
  snn_buf_puts(&b, "],\n \"grads\": {");
  int first = 1;
  for (size_t k = 0; k < s->nblk; k++) {
    const snn_block *bk = &s->blk[k];
    if (!bk->trainable) continue;
    if (!all_finite(&r->grad, bk->off, bk->rows * bk->cols)) {
      snn_buf_free(&b);
      return snn_err_set(err, SNN_ENONFINITE, path, bk->name, "the gradient is not finite; nothing written");
    }
    snn_buf_printf(&b, "%s\n  \"%s\": ", first ? "" : ",", bk->name);
    first = 0;
    put_block(&b, &r->grad, bk->off, bk->rows, bk->cols, snn_block_is_matrix(bk));
  }
  snn_buf_puts(&b, "}}\n");
  if (b.oom) {
    snn_buf_free(&b);
    return snn_err_set(err, SNN_ENOMEM, path, "", "out of memory");
  }
  int st = snn_write_atomic(path, b.p, b.len, err);
  snn_buf_free(&b);
  return st;
}

/* ---- reading ---- */

/* One number: a JSON number, or a string in decimal notation. */
static int read_num(json_t *v, snn_nums *a, size_t i, const char *file, const char *key, snn_err *err) {
  if (json_is_number(v)) {
    a->v[i] = json_number_value(v);
  } else if (json_is_string(v)) {
    const char *t = json_string_value(v);
    char *end;
    double x = strtod(t, &end);
    if (end == t || *end || !snn_decimal_ok(t))
      return snn_err_set(err, SNN_EVALUE, file, key, "expected a number or a decimal string, found \"%s\"", t);
    a->v[i] = x;
    if (snn_nums_set_str(a, i, t)) return snn_err_set(err, SNN_ENOMEM, file, key, "out of memory");
  } else {
    return snn_err_set(err, SNN_EKEY, file, key, "expected a number or a decimal string");
  }
  if (!isfinite(a->v[i])) return snn_err_set(err, SNN_EVALUE, file, key, "expected a finite number");
  return SNN_OK;
}

/* A rows x cols array: nested when `matrix`, flat otherwise. */
static int read_block(json_t *v, snn_nums *a, size_t off, size_t rows, size_t cols, int matrix, const char *file,
                      const char *key, snn_err *err) {
  char kk[200];
  const char *shape = matrix ? "matrix" : "vector";
  if (!json_is_array(v) || json_array_size(v) != rows) {
    if (matrix)
      return snn_err_set(err, SNN_ESHAPE, file, key, "expected a %zu x %zu %s (%zu rows), found %s%zu%s", rows, cols,
                         shape, rows, json_is_array(v) ? "" : "no array", json_is_array(v) ? json_array_size(v) : 0,
                         json_is_array(v) ? " rows" : "");
    return snn_err_set(err, SNN_ESHAPE, file, key, "expected a vector of %zu numbers, found %s%zu", rows,
                       json_is_array(v) ? "length " : "no array, size ", json_is_array(v) ? json_array_size(v) : 0);
  }
  for (size_t r = 0; r < rows; r++) {
    json_t *row = json_array_get(v, r);
    if (!matrix) {
      snprintf(kk, sizeof kk, "%s[%zu]", key, r);
      int st = read_num(row, a, off + r, file, kk, err);
      if (st) return st;
      continue;
    }
    snprintf(kk, sizeof kk, "%s[%zu]", key, r);
    if (!json_is_array(row) || json_array_size(row) != cols)
      return snn_err_set(err, SNN_ESHAPE, file, kk, "expected a row of %zu numbers (the matrix is %zu x %zu)", cols,
                         rows, cols);
    for (size_t c = 0; c < cols; c++) {
      snprintf(kk, sizeof kk, "%s[%zu][%zu]", key, r, c);
      int st = read_num(json_array_get(row, c), a, off + r * cols + c, file, kk, err);
      if (st) return st;
    }
  }
  return SNN_OK;
}

static json_t *load_json(const char *path, snn_err *err) {
  json_error_t je;
  json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
  if (!root) {
    char key[48];
    if (je.line < 0) {
      snn_err_set(err, SNN_EIO, path, "", "cannot read the file: %s", je.text);
    } else {
      snprintf(key, sizeof key, "%d:%d", je.line, je.column);
      snn_err_set(err, SNN_EJSON, path, key, "invalid JSON: %s", je.text);
    }
    return NULL;
  }
  if (!json_is_object(root)) {
    json_decref(root);
    snn_err_set(err, SNN_EKEY, path, "", "the top level must be an object");
    return NULL;
  }
  return root;
}

static int check_format(json_t *root, const char *want, const char *path, snn_err *err) {
  json_t *f = json_object_get(root, "format");
  if (!f || !json_is_string(f) || strcmp(json_string_value(f), want))
    return snn_err_set(err, SNN_EKEY, path, "format", "expected \"%s\"", want);
  return SNN_OK;
}

/* Check constants for their model's range (models/model.h): time constants
 * and thresholds > 0, decay in [0, 1), adlif's bounds under "project". */
static int check_constant(const snn_spec *s, const snn_block *bk, double v, size_t i, const char *path, snn_err *err) {
  const snn_layer_spec *ly = &s->layers[bk->layer];
  char k[128];
  snprintf(k, sizeof k, "params.%s[%zu]", bk->name, i);
  double lo, hi;
  if (snn_model_const_bounds(ly, bk->cidx, &lo, &hi) && (v < lo || v > hi))
    return snn_err_set(err, SNN_EVALUE, path, k,
                       "with \"bounds\": \"project\" the value must lie in [%g, %g], found %g", lo, hi, v);
  const char *want;
  if (!snn_model_const_ok(ly, bk->cidx, v, &want))
    return snn_err_set(err, SNN_EVALUE, path, k, "expected %s, found %g", want, v);
  return SNN_OK;
}

int snn_data_load(const snn_spec *s, const char *path, snn_data *d, snn_err *err) {
  if (data_alloc(s, d)) return snn_err_set(err, SNN_ENOMEM, path, "", "out of memory");
  json_t *root = load_json(path, err);
  int st = SNN_OK;
  if (!root) {
    snn_data_clear(d);
    return err->status;
  }
  fill_constants(s, d);
  if ((st = check_format(root, "snngrad-params/1", path, err))) goto out;
  /* keys outside the format: warned about (a checkpoint is a parameter file with one more) */
  static const char *const known[] = {"format", "params", "input", "target", "label", "checkpoint", NULL};
  const char *k;
  json_t *kv;
  json_object_foreach(root, k, kv) {
    int ok = 0;
    for (const char *const *q = known; *q; q++) ok |= !strcmp(*q, k);
    size_t u = strlen(d->warnings);
    if (!ok && u + 1 < sizeof d->warnings)
      snprintf(d->warnings + u, sizeof d->warnings - u, "%s: unknown key '%s' ignored\n", path, k);
  }
  json_t *ps = json_object_get(root, "params");
  if (!ps || !json_is_object(ps)) {
    st = snn_err_set(err, SNN_EKEY, path, "params", "missing; expected an object of parameter blocks");
    goto out;
  }
  const char *name;
  json_t *v;
  json_object_foreach(ps, name, v) {
    int k = snn_spec_find_block(s, name);
    char key[128];
    snprintf(key, sizeof key, "params.%s", name);
    if (k < 0) {
      snn_buf names = {0};
      for (size_t j = 0; j < s->nblk; j++) snn_buf_printf(&names, "%s%s", j ? ", " : "", s->blk[j].name);
      st = snn_err_set(err, SNN_EKEY, path, key, "the network %s has no such parameter; expected one of %s", s->path,
                       names.p ? names.p : "");
      snn_buf_free(&names);
      goto out;
    }
    const snn_block *bk = &s->blk[k];
    if ((st = read_block(v, &d->theta, bk->off, bk->rows, bk->cols, snn_block_is_matrix(bk), path, key, err))) goto out;
    if (bk->kind == SNN_BLK_DELAY)
      for (size_t i = 0; i < bk->rows * bk->cols; i++) {
        double v = d->theta.v[bk->off + i], mx = (double)s->layers[bk->layer].dmax;
        if (!(v >= 0 && v <= mx)) {
          st = snn_err_set(err, SNN_EVALUE, path, key,
                           "expected delays in [0, %g] (delays.max), found %g at row %zu column %zu", mx, v,
                           i / bk->cols, i % bk->cols);
          goto out;
        }
      }
    if (bk->kind == SNN_BLK_W_REC && !s->layers[bk->layer].sh->selfconn)
      for (size_t i = 0; i < bk->rows; i++)
        if (d->theta.v[bk->off + i * bk->cols + i % bk->cols] != 0.0) {
          st =
              snn_err_set(err, SNN_EVALUE, path, key, "the diagonal must be zero (no self-connections); row %zu has %g",
                          i, d->theta.v[bk->off + i * bk->cols + i % bk->cols]);
          goto out;
        }
    if (bk->kind == SNN_BLK_CONST)
      for (size_t i = 0; i < bk->rows; i++)
        if ((st = check_constant(s, bk, d->theta.v[bk->off + i], i, path, err))) goto out;
    if (bk->kind == SNN_BLK_BN_VAR)
      for (size_t i = 0; i < bk->rows * bk->cols; i++)
        if (!(d->theta.v[bk->off + i] >= 0)) {
          st = snn_err_set(err, SNN_EVALUE, path, key,
                           "expected running variances >= 0 (batch_norm), found %g at row %zu (step %zu) column %zu",
                           d->theta.v[bk->off + i], i / bk->cols, i / bk->cols + 1, i % bk->cols);
          goto out;
        }
  }
  for (size_t k = 0; k < s->nblk; k++) {
    const snn_block *bk = &s->blk[k];
    if (bk->in_params && !json_object_get(ps, bk->name)) {
      char key[128];
      snprintf(key, sizeof key, "params.%s", bk->name);
      st = snn_err_set(err, SNN_EKEY, path, key, "missing; the network %s expects a %zu x %zu block", s->path, bk->rows,
                       bk->cols);
      goto out;
    }
  }
  json_t *in = json_object_get(root, "input");
  if (!in) {
    st = snn_err_set(err, SNN_EKEY, path, "input", "missing; expected %zu rows (steps) of %zu numbers", s->T, s->n_in);
    goto out;
  }
  if ((st = read_block(in, &d->x, 0, s->T, s->n_in, 1, path, "input", err))) goto out;
  if (s->loss == SNN_LOSS_MSE) {
    json_t *tg = json_object_get(root, "target");
    if (!tg) {
      st = snn_err_set(err, SNN_EKEY, path, "target", "missing; expected %zu rows (steps) of %zu numbers (loss mse)",
                       s->T, s->n_out);
      goto out;
    }
    if ((st = read_block(tg, &d->y, 0, s->T, s->n_out, 1, path, "target", err))) goto out;
  } else {
    json_t *lb = json_object_get(root, "label");
    if (!lb || !json_is_integer(lb) || json_integer_value(lb) < 0 || json_integer_value(lb) >= (json_int_t)s->n_out) {
      st = snn_err_set(err, SNN_EKEY, path, "label", "expected an integer class in [0, %zu) (loss ce)", s->n_out);
      goto out;
    }
    d->label = (long)json_integer_value(lb);
  }
out:
  json_decref(root);
  if (st) snn_data_clear(d);
  return st;
}

int snn_grads_load(const snn_spec *s, const char *path, snn_result *r, snn_err *err) {
  if (snn_result_init(r, s)) return snn_err_set(err, SNN_ENOMEM, path, "", "out of memory");
  json_t *root = load_json(path, err);
  if (!root) {
    snn_result_clear(r);
    return err->status;
  }
  int st = check_format(root, "snngrad-grads/1", path, err);
  json_t *g = json_object_get(root, "grads");
  if (!st && (!g || !json_is_object(g))) st = snn_err_set(err, SNN_EKEY, path, "grads", "missing; expected an object");
  if (!st) st = read_num(json_object_get(root, "loss"), &r->loss, 0, path, "loss", err);
  json_t *rule = json_object_get(root, "rule");
  snprintf(r->rule, sizeof r->rule, "%s", json_is_string(rule) ? json_string_value(rule) : "?");
  json_t *pb = json_object_get(root, "precision_bits");
  r->prec = json_is_integer(pb) ? (long)json_integer_value(pb) : 0;
  for (size_t k = 0; !st && k < s->nblk; k++) {
    const snn_block *bk = &s->blk[k];
    if (!bk->trainable) continue;
    char key[128];
    snprintf(key, sizeof key, "grads.%s", bk->name);
    json_t *v = json_object_get(g, bk->name);
    if (!v)
      st = snn_err_set(err, SNN_EKEY, path, key, "missing");
    else
      st = read_block(v, &r->grad, bk->off, bk->rows, bk->cols, snn_block_is_matrix(bk), path, key, err);
  }
  json_decref(root);
  if (st) snn_result_clear(r);
  return st;
}
