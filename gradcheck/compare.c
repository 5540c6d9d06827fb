/* compare.c - a gradient computed elsewhere (PyTorch, JAX, NumPy, or an
 * earlier snngrad run) against snngrad's own, block by block, with a verdict
 * per block (docs/compare.md).  Precision-neutral: snngrad's gradients come
 * from the engines, the comparisons from the engines' `compare` at the
 * reference precision, so that at 128 bits the difference measures their
 * arithmetic alone. */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "gradcheck/gradcheck.h"
#include "io/io.h"
#include "io/npy.h"

#define LG2 0.30102999566398120

static void warn(snn_gc_theirs *t, const char *fmt, const char *a, const char *b) {
  size_t len = strlen(t->warnings);
  snprintf(t->warnings + len, sizeof t->warnings - len, fmt, a, b);
}

/* One trained block from DIR/<block>.npy into t->r.grad. */
static int load_block(const snn_spec *s, const char *dir, size_t k, snn_gc_theirs *t, snn_err *err) {
  const snn_block *bk = &s->blk[k];
  char path[SNN_PATH_MAX + 64];
  snprintf(path, sizeof path, "%s/%s.npy", dir, bk->name);
  struct stat st;
  if (stat(path, &st) != 0 && errno == ENOENT)
    return snn_err_set(err, SNN_EKEY, path, bk->name,
                       "missing: the gradient of the trained block %s is expected in this file (%zu x %zu)", bk->name,
                       bk->rows, bk->cols);
  snn_npy a;
  int rc = snn_npy_read(path, &a, err);
  if (rc) {
    char inner[sizeof err->key];
    memcpy(inner, err->key, sizeof inner);
    if (snprintf(err->key, sizeof err->key, "%.47s (%.100s)", bk->name, inner) < 0) err->key[0] = 0;
    return rc;
  }
  size_t n = bk->rows * bk->cols;
  if (a.dtype != SNN_NPY_F32 && a.dtype != SNN_NPY_F64) {
    rc = snn_err_set(err, SNN_EVALUE, path, bk->name, "expected float32 or float64 elements, found %s ('%s')",
                     snn_npy_dtype_name(a.dtype), a.descr);
  } else if (snn_block_is_matrix(bk) ? (a.rank != 2 || a.shape[0] != bk->rows || a.shape[1] != bk->cols)
                                     : (a.rank != 1 || a.shape[0] != n)) {
    char got[96] = "(";
    for (int i = 0; i < a.rank && strlen(got) < 70; i++)
      snprintf(got + strlen(got), sizeof got - strlen(got), "%zu%s", a.shape[i],
               a.rank == 1      ? ","
               : i + 1 < a.rank ? ", "
                                : "");
    strcat(got, ")");
    if (snn_block_is_matrix(bk))
      rc = snn_err_set(err, SNN_ESHAPE, path, bk->name, "expected shape (%zu, %zu), found %s", bk->rows, bk->cols, got);
    else
      rc = snn_err_set(err, SNN_ESHAPE, path, bk->name, "expected shape (%zu,), found %s", n, got);
  } else {
    for (size_t i = 0; i < n && !rc; i++)
      if (!isfinite(a.v[i]))
        rc = snn_err_set(err, SNN_ENONFINITE, path, bk->name,
                         "element %zu (row %zu, col %zu) is %s; expected finite numbers", i, i / bk->cols, i % bk->cols,
                         isnan(a.v[i]) ? "NaN" : "infinite");
    if (!rc) {
      memcpy(t->r.grad.v + bk->off, a.v, n * sizeof *a.v);
      t->u[k] = a.dtype == SNN_NPY_F32 ? ldexp(1.0, -24) : ldexp(1.0, -53);
      snprintf(t->dtype[k], sizeof t->dtype[k], "%s", snn_npy_dtype_name(a.dtype));
    }
  }
  snn_npy_free(&a);
  return rc;
}

/* Every .npy in DIR that is not a trained block: a warning each. */
static void extra_files(const snn_spec *s, const char *dir, snn_gc_theirs *t) {
  DIR *dp = opendir(dir);
  for (struct dirent *e; dp && (e = readdir(dp));) {
    size_t len = strlen(e->d_name);
    if (len < 5 || strcmp(e->d_name + len - 4, ".npy")) continue;
    char name[256];
    snprintf(name, sizeof name, "%.*s", (int)(len - 4), e->d_name);
    int b = snn_spec_find_block(s, name);
    if (b < 0)
      warn(t, "%s/%s: not a parameter block of the network; ignored\n", dir, e->d_name);
    else if (!s->blk[b].trainable)
      warn(t, "%s/%s: the block is not trained (not in the network's train list); ignored\n", dir, e->d_name);
  }
  if (dp) closedir(dp);
}

int snn_gc_theirs_load(const snn_spec *s, const char *path, snn_gc_theirs *t, snn_err *err) {
  memset(t, 0, sizeof *t);
  t->u = calloc(s->nblk ? s->nblk : 1, sizeof *t->u);
  t->dtype = calloc(s->nblk ? s->nblk : 1, sizeof *t->dtype);
  if (!t->u || !t->dtype) {
    snn_gc_theirs_clear(t);
    return snn_err_set(err, SNN_ENOMEM, path, "", "out of memory");
  }
  struct stat st;
  int rc = SNN_OK;
  if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
    char marker[SNN_PATH_MAX + 32];
    snprintf(marker, sizeof marker, "%s/export.json", path);
    t->npy = 1;
    if (stat(marker, &st) == 0)
      rc = snn_err_set(err, SNN_EARG, path, "--grads",
                       "this is a folder `snngrad export` wrote (parameters and data, not gradients); expected a "
                       "folder of gradients, one <block>.npy per trained block");
    else if (snn_result_init(&t->r, s))
      rc = snn_err_set(err, SNN_ENOMEM, path, "", "out of memory");
    for (size_t k = 0; k < s->nblk && !rc; k++)
      if (s->blk[k].trainable) rc = load_block(s, path, k, t, err);
    if (!rc) extra_files(s, path, t);
    snprintf(t->r.rule, sizeof t->r.rule, "%s", "outside");
  } else {
    rc = snn_grads_load(s, path, &t->r, err);
    if (!rc) {
      long p = t->r.prec > 0 ? t->r.prec : 53;
      for (size_t k = 0; k < s->nblk; k++) {
        t->u[k] = ldexp(1.0, (int)-p);
        snprintf(t->dtype[k], sizeof t->dtype[k], "%d bits", (int)(p > 9999999 ? 9999999 : p));
      }
    }
  }
  if (rc) snn_gc_theirs_clear(t);
  return rc;
}

void snn_gc_theirs_clear(snn_gc_theirs *t) {
  snn_result_clear(&t->r);
  free(t->u);
  free(t->dtype);
  memset(t, 0, sizeof *t);
}

/* log10 of half the smallest subnormal of their numbers' type: the absolute
 * error of storing a tiny value; none for MPFR's wide exponents. */
static double lg_eta(double u) {
  if (u >= ldexp(1.0, -24)) return -150 * LG2;
  if (u >= ldexp(1.0, -53)) return -1075 * LG2;
  return -INFINITY;
}

/* log10(10^a + 10^b) */
static double lg_add(double a, double b) {
  double hi = a > b ? a : b, lo = a > b ? b : a;
  if (isinf(hi) && hi < 0) return hi;
  return hi + log10(1 + pow(10.0, lo - hi));
}

static int ours_at(const snn_spec *s, const snn_data *d, const snn_prec *p, const snn_rule *r, snn_result *out,
                   snn_err *err) {
  if (snn_result_init(out, s)) return snn_err_set(err, SNN_ENOMEM, "", "", "out of memory");
  int st = p->eng->grad(s, d, p->bits, r, out, err);
  if (st) snn_result_clear(out);
  return st;
}

static void tolerances(const snn_spec *s, const snn_gc_theirs *t, const snn_blockcmp *ref, const snn_blockcmp *own,
                       long p0, snn_gc_comparison *c) {
  for (size_t b = 0; b < s->nblk; b++) {
    snn_gc_cmpblock *o = &c->blk[b];
    if (!s->blk[b].trainable) continue;
    size_t n = s->blk[b].rows * s->blk[b].cols;
    o->present = 1;
    o->u = t->u[b];
    o->lg_ref = ref[b].lg_ref;
    o->worst_r = ref[b].worst_r;
    o->worst_c = ref[b].worst_c;
    o->cosine = ref[b].cosine;
    size_t j = s->blk[b].off + o->worst_r * s->blk[b].cols + o->worst_c;
    o->worst_theirs = t->r.grad.v[j];
    o->worst_ours = NAN; /* filled by the caller from its reference */
    double sq = 0;
    for (size_t i = 0; i < n; i++) sq += t->r.grad.v[s->blk[b].off + i] * t->r.grad.v[s->blk[b].off + i];
    o->lg_theirs = sq > 0 ? 0.5 * log10(sq) : -INFINITY;
    o->lg_own = own ? own[b].lg_rel : NAN;
    double lu = log10(o->u);
    double arith = log10(SNN_GC_CMP_K) + 0.5 * log10((double)c->m) + lu;
    if (own && isfinite(own[b].lg_rel)) {
      double scaled = log10(SNN_GC_CMP_C) + own[b].lg_rel + lu + (double)p0 * LG2;
      if (scaled > arith) arith = scaled;
    }
    double tiny = 0.5 * log10((double)n) + lg_eta(o->u);
    if (isinf(o->lg_ref) && o->lg_ref < 0)
      o->lg_tol = tiny; /* ours is 0: lg_rel is the absolute norm of theirs */
    else
      o->lg_tol = lg_add(arith, tiny - o->lg_ref);
    o->agrees = o->lg_rel[c->np - 1] <= o->lg_tol;
    c->ndiffer += !o->agrees;
  }
}

int snn_gc_compare(const snn_spec *s, const snn_data *d, const char *rule, const snn_prec *p, int np,
                   const snn_gc_theirs *t, snn_gc_comparison *c, snn_err *err) {
  memset(c, 0, sizeof *c);
  if (np < 1 || np > SNN_GC_MAXPREC)
    return snn_err_set(err, SNN_EARG, "", "--precision", "expected 1 to %d precisions", SNN_GC_MAXPREC);
  snprintf(c->rule_text, sizeof c->rule_text, "%s", rule);
  int st = snn_rule_parse_at(rule, "", "--rule", &c->rule, err);
  if (!st) st = snn_rule_check(&c->rule, s, "", "--rule", err);
  if (st) return st;
  /* ascending, so that the last is the reference */
  c->np = np;
  memcpy(c->prec, p, (size_t)np * sizeof *p);
  for (int i = 1; i < np; i++)
    for (int j = i; j > 0 && c->prec[j].bits < c->prec[j - 1].bits; j--) {
      snn_prec x = c->prec[j];
      c->prec[j] = c->prec[j - 1];
      c->prec[j - 1] = x;
    }
  size_t H = 0;
  for (size_t l = 0; l < s->L; l++) H += s->layers[l].n;
  c->m = s->T * (H + s->n_out);
  c->nblk = s->nblk;
  c->blk = calloc(s->nblk ? s->nblk : 1, sizeof *c->blk);
  c->crossings = calloc(s->L ? s->L : 1, sizeof *c->crossings);
  snn_blockcmp *bc = calloc(s->nblk ? s->nblk : 1, sizeof *bc), *own = calloc(s->nblk ? s->nblk : 1, sizeof *own);
  if (!c->blk || !c->crossings || !bc || !own) {
    free(bc);
    free(own);
    snn_gc_comparison_clear(c);
    return snn_err_set(err, SNN_ENOMEM, "", "", "out of memory");
  }
  snn_result low = {0}, ours = {0};
  int have_low = 0;
  snn_blockcmp all;
  for (int k = 0; k < np && !st; k++) {
    if ((st = ours_at(s, d, &c->prec[k], &c->rule, &ours, err))) break;
    if (c->prec[k].eng->compare(s, c->prec[k].bits, &ours, &t->r, bc, &all)) {
      st = snn_err_set(err, SNN_ENOMEM, "", "", "out of memory");
    } else {
      for (size_t b = 0; b < s->nblk; b++) c->blk[b].lg_rel[k] = bc[b].lg_rel;
      c->lg_rel_all = all.lg_rel;
      c->cosine_all = all.cosine;
    }
    if (k == 0 && np > 1 && !st) {
      low = ours, have_low = 1;
      ours = (snn_result){0};
      continue;
    }
    if (k < np - 1) snn_result_clear(&ours);
  }
  if (!st) {
    int with_own = have_low && c->prec[0].bits < c->prec[np - 1].bits;
    if (with_own && c->prec[np - 1].eng->compare(s, c->prec[np - 1].bits, &ours, &low, own, &all))
      st = snn_err_set(err, SNN_ENOMEM, "", "", "out of memory");
    if (!st) {
      tolerances(s, t, bc, with_own ? own : NULL, c->prec[0].bits, c);
      for (size_t b = 0; b < s->nblk; b++)
        if (c->blk[b].present)
          c->blk[b].worst_ours = ours.grad.v[s->blk[b].off + c->blk[b].worst_r * s->blk[b].cols + c->blk[b].worst_c];
      for (size_t l = 0; l < s->L; l++) c->crossings[l] = ours.crossings[l];
    }
  }
  if (have_low) snn_result_clear(&low);
  snn_result_clear(&ours);
  free(bc);
  free(own);
  if (st) snn_gc_comparison_clear(c);
  return st;
}

void snn_gc_comparison_clear(snn_gc_comparison *c) {
  free(c->blk);
  free(c->crossings);
  memset(c, 0, sizeof *c);
}
