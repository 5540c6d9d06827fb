/* snngrad_c.c - the thin, stable C layer under the Python module
 * (python/snngrad): opaque handles and plain arrays, so that ctypes never
 * sees a structure of the library.  Every function that can fail returns 0
 * or a status of sim/snn.h, with the message in `err` (errlen bytes). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gradcheck/gradcheck.h"
#include "io/io.h"
#include "sim/engine.h"
#include "sim/rule.h"
#include "sim/snn.h"

typedef struct snnpy_net {
  snn_spec *s;
  snn_data d;
} snnpy_net;

#define SNNPY_VERSION 1
int snnpy_version(void) {
  return SNNPY_VERSION;
}

static int fail(const snn_err *e, char *err, size_t errlen) {
  if (err && errlen) snn_err_format(e, err, errlen);
  return e->status ? e->status : SNN_EARG;
}

static int fail_msg(int st, const char *msg, char *err, size_t errlen) {
  if (err && errlen) snprintf(err, errlen, "%s", msg);
  return st;
}

void snnpy_free(snnpy_net *n) {
  if (!n) return;
  snn_data_clear(&n->d);
  snn_spec_free(n->s);
  free(n);
}

/* A network file (is_text = 0) or its JSON text (is_text = 1); parameters,
 * input and target are drawn from its seed, as `snngrad init` does. */
snnpy_net *snnpy_load(const char *path_or_json, int is_text, char *err, size_t errlen) {
  snn_err e = {0};
  snnpy_net *n = calloc(1, sizeof *n);
  if (!n) {
    fail_msg(SNN_ENOMEM, "out of memory", err, errlen);
    return NULL;
  }
  int st = is_text ? snn_spec_parse(path_or_json, "<json>", &n->s, &e) : snn_spec_load(path_or_json, &n->s, &e);
  if (!st) st = snn_data_generate(n->s, &n->d, &e);
  if (st) {
    fail(&e, err, errlen);
    snnpy_free(n);
    return NULL;
  }
  return n;
}

/* Replace parameters, input and target by a parameter file's. */
int snnpy_load_params(snnpy_net *n, const char *path, char *err, size_t errlen) {
  snn_err e = {0};
  snn_data d = {0};
  if (snn_data_load(n->s, path, &d, &e)) return fail(&e, err, errlen);
  snn_data_clear(&n->d);
  n->d = d;
  return 0;
}

const char *snnpy_warnings(const snnpy_net *n) {
  return n->s->warnings[0] ? n->s->warnings : n->d.warnings;
}

/* 0 P, 1 T, 2 n_in, 3 n_out, 4 blocks, 5 loss (0 mse, 1 ce), 6 layers,
 * 7 hidden units over every layer; -1 otherwise. */
long snnpy_size(const snnpy_net *n, int what) {
  const snn_spec *s = n->s;
  size_t h = 0;
  switch (what) {
    case 0:
      return (long)s->P;
    case 1:
      return (long)s->T;
    case 2:
      return (long)s->n_in;
    case 3:
      return (long)s->n_out;
    case 4:
      return (long)s->nblk;
    case 5:
      return s->loss == SNN_LOSS_CE;
    case 6:
      return (long)s->L;
    case 7:
      for (size_t l = 0; l < s->L; l++) h += s->layers[l].n;
      return (long)h;
    default:
      return -1;
  }
}

/* Block b: its name, shape, offset in the parameter vector, whether it is
 * trained and whether files write it as a matrix (else a vector of rows
 * numbers).  -1 if there is no such block. */
int snnpy_block(const snnpy_net *n, long b, char *name, size_t namelen, long *rows, long *cols, long *off,
                int *trainable, int *matrix) {
  if (b < 0 || (size_t)b >= n->s->nblk) return -1;
  const snn_block *k = &n->s->blk[b];
  snprintf(name, namelen, "%s", k->name);
  *rows = (long)k->rows, *cols = (long)k->cols, *off = (long)k->off, *trainable = k->trainable;
  *matrix = snn_block_is_matrix(k);
  return 0;
}

/* ---- parameters, input, target, label ---- */

static void nums_get(const snn_nums *a, double *out) {
  memcpy(out, a->v, a->n * sizeof *out);
}

/* Numbers given as doubles replace any decimal text they came from. */
static int nums_set(snn_nums *a, const double *in, char *err, size_t errlen) {
  for (size_t i = 0; i < a->n; i++)
    if (!isfinite(in[i])) return fail_msg(SNN_EVALUE, "a number is not finite", err, errlen);
  memcpy(a->v, in, a->n * sizeof *in);
  if (a->s) {
    for (size_t i = 0; i < a->n; i++) free(a->s[i]);
    free(a->s);
    a->s = NULL;
  }
  return 0;
}

void snnpy_params_get(const snnpy_net *n, double *theta) {
  nums_get(&n->d.theta, theta);
}

/* Refuses what the parameter reader refuses cheaply: numbers that are not
 * finite and a non-zero diagonal in a spiking model's w_rec. */
int snnpy_params_set(snnpy_net *n, const double *theta, char *err, size_t errlen) {
  const snn_spec *s = n->s;
  for (size_t b = 0; b < s->nblk; b++) {
    const snn_block *k = &s->blk[b];
    if (k->kind != SNN_BLK_W_REC || s->layers[k->layer].sh->selfconn) continue;
    for (size_t i = 0; i < k->rows && i < k->cols; i++)
      if (theta[k->off + i * k->cols + i] != 0.0) {
        if (err && errlen) snprintf(err, errlen, "%s: the diagonal must be zero (row %zu)", k->name, i);
        return SNN_EVALUE;
      }
  }
  return nums_set(&n->d.theta, theta, err, errlen);
}

void snnpy_input_get(const snnpy_net *n, double *x) {
  nums_get(&n->d.x, x);
}
int snnpy_input_set(snnpy_net *n, const double *x, char *err, size_t errlen) {
  return nums_set(&n->d.x, x, err, errlen);
}
/* The target exists for mse only: -1 for ce. */
int snnpy_target_get(const snnpy_net *n, double *y) {
  if (n->s->loss != SNN_LOSS_MSE) return -1;
  nums_get(&n->d.y, y);
  return 0;
}
int snnpy_target_set(snnpy_net *n, const double *y, char *err, size_t errlen) {
  if (n->s->loss != SNN_LOSS_MSE)
    return fail_msg(SNN_EKEY, "the network's loss is ce: it has a label, not a target", err, errlen);
  return nums_set(&n->d.y, y, err, errlen);
}
long snnpy_label_get(const snnpy_net *n) {
  return n->s->loss == SNN_LOSS_CE ? n->d.label : -1;
}
int snnpy_label_set(snnpy_net *n, long label, char *err, size_t errlen) {
  if (n->s->loss != SNN_LOSS_CE)
    return fail_msg(SNN_EKEY, "the network's loss is mse: it has a target, not a label", err, errlen);
  if (label < 0 || (size_t)label >= n->s->n_out) {
    if (err && errlen) snprintf(err, errlen, "label %ld: expected an integer in [0, %zu)", label, n->s->n_out);
    return SNN_EVALUE;
  }
  n->d.label = label;
  return 0;
}

/* ---- computations ---- */

/* 53 bits: the double engine; any other precision: MPFR. */
static const snn_engine *engine(long bits) {
  return bits == 53 ? &snn_engine_double : &snn_engine_mpfr;
}

static int bits_ok(long bits, char *err, size_t errlen) {
  if (bits >= 8 && bits <= (1L << 20)) return 1;
  if (err && errlen) snprintf(err, errlen, "precision %ld: expected a number of bits in [8, 1048576]", bits);
  return 0;
}

void snnpy_text_free(char *t) {
  free(t);
}

/* The gradient under `rule` (name[:key=value,...]) at `bits`: P doubles in
 * grad_out (0 for blocks that are not trained) and the loss.  With
 * text_out (MPFR only), *text_out gets a malloc'd text of P + 1 lines, the
 * loss then every gradient entry, as decimals that round-trip at that
 * precision (free with snnpy_text_free); NULL in double. */
int snnpy_grad(snnpy_net *n, const char *rule, long bits, double *grad_out, double *loss_out, char **text_out,
               char *err, size_t errlen) {
  if (text_out) *text_out = NULL;
  if (!bits_ok(bits, err, errlen)) return SNN_EARG;
  snn_err e = {0};
  snn_rule r;
  if (snn_rule_parse_at(rule, "", "rule", &r, &e)) return fail(&e, err, errlen);
  snn_result res;
  if (snn_result_init(&res, n->s)) return fail_msg(SNN_ENOMEM, "out of memory", err, errlen);
  int st = engine(bits)->grad(n->s, &n->d, bits, &r, &res, &e);
  if (st) {
    snn_result_clear(&res);
    return fail(&e, err, errlen);
  }
  memcpy(grad_out, res.grad.v, n->s->P * sizeof *grad_out);
  *loss_out = res.loss.v[0];
  if (text_out && res.grad.s && res.loss.s) {
    snn_buf b = {0};
    snn_buf_printf(&b, "%s\n", res.loss.s[0] ? res.loss.s[0] : "0");
    for (size_t i = 0; i < n->s->P; i++) snn_buf_printf(&b, "%s\n", res.grad.s[i] ? res.grad.s[i] : "0");
    if (b.oom) {
      snn_buf_free(&b);
      st = fail_msg(SNN_ENOMEM, "out of memory", err, errlen);
    } else {
      *text_out = b.p;
    }
  }
  snn_result_clear(&res);
  return st;
}

/* One forward pass: the readout (T x n_out), every hidden output (T x H,
 * layers concatenated) and the loss. */
int snnpy_run(snnpy_net *n, long bits, double *yo, double *z, double *loss, char *err, size_t errlen) {
  if (!bits_ok(bits, err, errlen)) return SNN_EARG;
  snn_err e = {0};
  if (engine(bits)->trace(n->s, &n->d, bits, yo, z, loss, &e)) return fail(&e, err, errlen);
  return 0;
}

/* BPTT against Richardson finite differences at each precision.  Per
 * precision k: lg_rel_out[k] (log10 normwise relative error over every
 * trainable parameter), lg_tol_out[k], pass_out[k]; per precision and block
 * (k * nblk + b): blk_lg_rel, blk_lg_tol and blk_verdict (0 ok, 1 fail,
 * 2 unresolved, -1 not trained).  *all_pass: every precision passed. */
int snnpy_check(snnpy_net *n, const long *bits, int nbits, double *lg_rel_out, double *lg_tol_out, int *pass_out,
                double *blk_lg_rel, double *blk_lg_tol, int *blk_verdict, int *all_pass, char *err, size_t errlen) {
  if (nbits < 1 || nbits > SNN_GC_MAXPREC) {
    if (err && errlen) snprintf(err, errlen, "expected 1 to %d precisions", SNN_GC_MAXPREC);
    return SNN_EARG;
  }
  snn_prec p[SNN_GC_MAXPREC];
  for (int k = 0; k < nbits; k++) {
    if (!bits_ok(bits[k], err, errlen)) return SNN_EARG;
    p[k] = (snn_prec){engine(bits[k]), bits[k]};
  }
  snn_err e = {0};
  if (snn_fd_allowed(n->s, &e)) return fail(&e, err, errlen);
  snn_fdcheck *r = calloc(1, sizeof *r); /* large: kept off the stack */
  if (!r) return fail_msg(SNN_ENOMEM, "out of memory", err, errlen);
  snn_fdopts fo = {SNN_FD_RICHARDSON, 0.0, NULL};
  int st = snn_gc_fdcheck(n->s, &n->d, p, nbits, &fo, NULL, NULL, r, &e);
  if (st) {
    fail(&e, err, errlen);
  } else {
    size_t nb = n->s->nblk;
    for (int k = 0; k < nbits; k++) {
      const snn_fdreport *rep = &r->rep[k];
      lg_rel_out[k] = rep->lg_rel_all, lg_tol_out[k] = rep->lg_tol, pass_out[k] = rep->pass;
      for (size_t b = 0; b < nb; b++) {
        const snn_blockcmp *c = &rep->blk[b];
        blk_lg_rel[k * nb + b] = c->present ? c->lg_rel : NAN;
        blk_lg_tol[k * nb + b] = c->present ? c->lg_tol : NAN;
        blk_verdict[k * nb + b] = c->present ? c->verdict : -1;
      }
    }
    *all_pass = r->all_pass;
  }
  snn_fdcheck_clear(r, n->s);
  free(r);
  return st;
}

/* Every rule of `rules` ("eprop,tbptt:window=10") against BPTT at each
 * precision, with the verdicts of `snngrad check --rules`.  Per rule i (at
 * most 16): verdict[i] (0 EXACT, 1 APPROXIMATE, 2 INCONCLUSIVE), expect[i]
 * (1 documented equal to BPTT, 0 not, -1 no statement), agrees[i], the
 * reason in why + 256 i; lg[i * nbits + k] (log10 normwise relative error);
 * per block lgb[(i * nblk + b) * nbits + k] and blk_verdict[i * nblk + b]. */
int snnpy_rules_check(snnpy_net *n, const char *rules, const long *bits, int nbits, int *nrules, int *verdict,
                      int *expect, int *agrees, char *why, double *lg, double *lgb, int *blk_verdict, char *err,
                      size_t errlen) {
  if (nbits < 1 || nbits > SNN_GC_MAXPREC) {
    if (err && errlen) snprintf(err, errlen, "expected 1 to %d precisions", SNN_GC_MAXPREC);
    return SNN_EARG;
  }
  snn_rulecheck *r = calloc(1, sizeof *r); /* large: kept off the stack */
  if (!r) return fail_msg(SNN_ENOMEM, "out of memory", err, errlen);
  snn_err e = {0};
  int st = snn_gc_split_rules(rules, "rules", r, &e);
  r->np = nbits;
  for (int k = 0; k < nbits && !st; k++) {
    if (!bits_ok(bits[k], err, errlen)) {
      free(r);
      return SNN_EARG;
    }
    r->prec[k] = (snn_prec){engine(bits[k]), bits[k]};
  }
  if (!st) st = snn_gc_rules(n->s, &n->d, r, &e);
  if (st) {
    fail(&e, err, errlen);
  } else {
    size_t nb = n->s->nblk;
    *nrules = r->nr;
    for (int i = 0; i < r->nr; i++) {
      verdict[i] = r->verdict[i], expect[i] = r->expect[i], agrees[i] = r->agrees[i];
      snprintf(why + 256 * i, 256, "%s", r->why[i]);
      for (int k = 0; k < nbits; k++) lg[i * nbits + k] = r->lg[i][k];
      for (size_t b = 0; b < nb; b++) {
        blk_verdict[(size_t)i * nb + b] = n->s->blk[b].trainable ? snn_rulecheck_block_verdict(r, i, b) : -1;
        for (int k = 0; k < nbits; k++)
          lgb[((size_t)i * nb + b) * (size_t)nbits + (size_t)k] = snn_rulecheck_block(r, i, b, k);
      }
    }
  }
  snn_rulecheck_clear(r);
  free(r);
  return st;
}
