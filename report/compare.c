/* compare.c - the comparison of an outside gradient with snngrad's as a table
 * and as JSON (snngrad-compare/1), and `export`: a network's parameters and
 * data as .npy files in one folder, written all or nothing. */
#include "report/compare.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io/npy.h"
#include "report/report.h"

/* ---- the comparison ---- */

static const char *dtype_of(const snn_gc_theirs *t, const snn_spec *s) {
  const char *first = NULL;
  for (size_t b = 0; b < s->nblk; b++) {
    if (!s->blk[b].trainable) continue;
    if (!first)
      first = t->dtype[b];
    else if (strcmp(first, t->dtype[b]))
      return "mixed";
  }
  return first ? first : "?";
}

void snn_report_compare(FILE *f, const snn_spec *s, const char *theirs, const snn_gc_theirs *t,
                        const snn_gc_comparison *c) {
  char pn[64], b1[32], b2[32], b3[32], b4[32];
  snn_report_network(f, s);
  fprintf(f, "their gradient: %s (%s, %s)\n", theirs, t->npy ? "a folder of .npy files" : "a gradient file",
          dtype_of(t, s));
  fprintf(f, "ours: rule %s at", c->rule_text);
  for (int k = 0; k < c->np; k++) fprintf(f, "%s %s", k ? "," : "", snn_prec_name(&c->prec[k], pn, sizeof pn));
  fprintf(f, "; the reference is %ld bits\n", c->prec[c->np - 1].bits);
  fprintf(f, "  threshold crossings (u > 0) per layer, of its unit-steps:");
  for (size_t l = 0; l < s->L; l++) fprintf(f, " %zu/%zu", c->crossings[l], s->T * s->layers[l].n);
  fprintf(f,
          "\ntolerance per block: max(K sqrt(m) u, C e_own u / 2^-%ld) + sqrt(n) eta / ||ours||, K = %g, C = %g,\n"
          "  m = T (H + n_out) = %zu, u their unit roundoff (docs/compare.md)\n",
          c->prec[0].bits, SNN_GC_CMP_K, SNN_GC_CMP_C, c->m);
  fprintf(f, "\n  %-18s %7s %-8s %9s", "block", "size", "dtype", "||ours||");
  for (int k = 0; k < c->np; k++) {
    char h[32];
    snprintf(h, sizeof h, "err@%ld", c->prec[k].bits);
    fprintf(f, " %9s", h);
  }
  char oh[32];
  snprintf(oh, sizeof oh, "own@%ld", c->prec[0].bits);
  fprintf(f, " %9s %9s %-46s %-9s %s\n", oh, "tolerance", "worst element (row,col): theirs | ours", "cosine",
          "verdict");
  for (size_t b = 0; b < s->nblk; b++) {
    const snn_gc_cmpblock *o = &c->blk[b];
    if (!o->present) continue;
    char sz[24], wl[96];
    snprintf(sz, sizeof sz, "%zux%zu", s->blk[b].rows, s->blk[b].cols);
    fprintf(f, "  %-18s %7s %-8s %9s", s->blk[b].name, sz, t->dtype[b], snn_fmt_lg(o->lg_ref, b1, sizeof b1));
    for (int k = 0; k < c->np; k++) fprintf(f, " %9s", snn_fmt_lg(o->lg_rel[k], b2, sizeof b2));
    snprintf(wl, sizeof wl, "(%zu,%zu): %.12g | %.12g", o->worst_r, o->worst_c, o->worst_theirs, o->worst_ours);
    fprintf(f, " %9s %9s %-46s %-9.7f %s\n", snn_fmt_lg(o->lg_own, b3, sizeof b3), snn_fmt_lg(o->lg_tol, b4, sizeof b4),
            wl, isnan(o->cosine) ? 0.0 : o->cosine, o->agrees ? "agrees" : "DIFFERS");
  }
  fprintf(f, "  %-18s %7zu %-8s %9s", "all trainable", snn_spec_ntrain(s), "", "");
  for (int k = 0; k < c->np - 1; k++) fprintf(f, " %9s", "");
  fprintf(f, " %9s %9s %9s %-46s %-9.7f\n", snn_fmt_lg(c->lg_rel_all, b1, sizeof b1), "", "", "",
          isnan(c->cosine_all) ? 0.0 : c->cosine_all);
  fprintf(f, "  (err@B: ||theirs - ours|| / ||ours|| with ours at B bits; own: snngrad's own error at %ld bits)\n",
          c->prec[0].bits);
  if (!c->ndiffer) {
    fprintf(f, "verdict: agrees - every block is within the rounding of their arithmetic (%s)\n", dtype_of(t, s));
    return;
  }
  fprintf(f, "verdict: DIFFERS in %d block%s:", c->ndiffer, c->ndiffer == 1 ? "" : "s");
  for (size_t b = 0; b < s->nblk; b++)
    if (c->blk[b].present && !c->blk[b].agrees) fprintf(f, " %s", s->blk[b].name);
  fprintf(f, " - beyond the rounding of their arithmetic: a real difference from rule %s\n", c->rule_text);
}

/* A JSON number where a double can hold it, else the decimal text. */
static json_t *lgnum(double lg) {
  if (isnan(lg)) return json_null();
  if (isinf(lg) && lg < 0) return json_real(0.0);
  if (lg > -300) return json_real(pow(10.0, lg));
  char b[40];
  return json_string(snn_fmt_lg(lg, b, sizeof b));
}

char *snn_report_compare_json(const snn_spec *s, const char *theirs, const snn_gc_theirs *t,
                              const snn_gc_comparison *c) {
  json_t *root = json_pack("{s:s, s:s, s:s, s:s, s:s, s:f, s:f, s:I}", "format", "snngrad-compare/1", "network",
                           s->path, "theirs", theirs, "source", t->npy ? "npy" : "grads", "rule", c->rule_text, "K",
                           SNN_GC_CMP_K, "C", SNN_GC_CMP_C, "m", (json_int_t)c->m);
  if (!root) return NULL;
  json_t *jp = json_array(), *jb = json_object(), *jd = json_array();
  for (int k = 0; k < c->np; k++) json_array_append_new(jp, json_integer(c->prec[k].bits));
  for (size_t b = 0; b < s->nblk; b++) {
    const snn_gc_cmpblock *o = &c->blk[b];
    if (!o->present) continue;
    json_t *errs = json_object();
    for (int k = 0; k < c->np; k++) {
      char key[24];
      snprintf(key, sizeof key, "%ld", c->prec[k].bits);
      json_object_set_new(errs, key, lgnum(o->lg_rel[k]));
    }
    json_object_set_new(
        jb, s->blk[b].name,
        json_pack("{s:s, s:f, s:o, s:o, s:f, s:o, s:o, s:o, s:{s:I, s:I, s:f, s:f}, s:f, s:s}", "dtype", t->dtype[b],
                  "unit_roundoff", o->u, "rel_error", lgnum(o->lg_rel[c->np - 1]), "rel_error_by_bits", errs,
                  "log10_rel_error", isinf(o->lg_rel[c->np - 1]) ? -400.0 : o->lg_rel[c->np - 1], "reference_norm",
                  lgnum(o->lg_ref), "own_error", lgnum(o->lg_own), "tolerance", lgnum(o->lg_tol), "worst", "row",
                  (json_int_t)o->worst_r, "col", (json_int_t)o->worst_c, "theirs", o->worst_theirs, "ours",
                  o->worst_ours, "cosine", isnan(o->cosine) ? 0.0 : o->cosine, "verdict",
                  o->agrees ? "agrees" : "DIFFERS"));
    if (!o->agrees) json_array_append_new(jd, json_string(s->blk[b].name));
  }
  json_object_set_new(root, "precisions", jp);
  json_object_set_new(root, "reference_bits", json_integer(c->prec[c->np - 1].bits));
  json_object_set_new(root, "blocks", jb);
  json_object_set_new(root, "rel_error_all", lgnum(c->lg_rel_all));
  json_object_set_new(root, "differ", jd);
  json_object_set_new(root, "verdict", json_string(c->ndiffer ? "DIFFERS" : "agrees"));
  char *txt = json_dumps(root, JSON_INDENT(1) | JSON_REAL_PRECISION(17));
  json_decref(root);
  return txt;
}

/* ---- export ---- */

/* Remove the plain files of a folder we made, then the folder. */
static void remove_tree(const char *dir) {
  DIR *dp = opendir(dir);
  char p[SNN_PATH_MAX + 600];
  for (struct dirent *e; dp && (e = readdir(dp));) {
    if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
    snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
    unlink(p);
  }
  if (dp) closedir(dp);
  rmdir(dir);
}

/* Whether `dir` holds only files named in its export.json (an earlier export). */
static int earlier_export(const char *dir, int *empty) {
  char p[SNN_PATH_MAX + 600];
  snprintf(p, sizeof p, "%s/export.json", dir);
  json_t *m = json_load_file(p, 0, NULL), *files = m ? json_object_get(m, "files") : NULL;
  DIR *dp = opendir(dir);
  int ok = dp != NULL;
  *empty = 1;
  for (struct dirent *e; ok && (e = readdir(dp));) {
    if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
    *empty = 0;
    int named = !strcmp(e->d_name, "export.json");
    for (size_t i = 0; !named && json_is_array(files) && i < json_array_size(files); i++)
      named =
          json_is_string(json_array_get(files, i)) && !strcmp(json_string_value(json_array_get(files, i)), e->d_name);
    ok = named && json_is_array(files);
  }
  if (dp) closedir(dp);
  json_decref(m);
  return ok;
}

static int put_npy(const char *tmp, const char *name, const double *v, const size_t *shape, int rank, json_t *files,
                   snn_err *err) {
  char p[SNN_PATH_MAX + 600];
  snprintf(p, sizeof p, "%s/%s", tmp, name);
  json_array_append_new(files, json_string(name));
  return snn_npy_write(p, v, shape, rank, err);
}

static int write_all(const snn_spec *s, const snn_data *d, const char *net_text, size_t net_len, const char *tmp,
                     snn_err *err) {
  json_t *files = json_array(), *blocks = json_array();
  int st = SNN_OK;
  char name[300];
  for (size_t b = 0; b < s->nblk && !st; b++) {
    const snn_block *bk = &s->blk[b];
    if (!bk->in_params) continue;
    size_t shape[2] = {bk->rows, bk->cols}, n = bk->rows * bk->cols;
    if (!snn_block_is_matrix(bk)) shape[0] = n;
    snprintf(name, sizeof name, "%s.npy", bk->name);
    st = put_npy(tmp, name, d->theta.v + bk->off, shape, snn_block_is_matrix(bk) ? 2 : 1, files, err);
    json_array_append_new(blocks,
                          json_pack("{s:s, s:[I, I], s:b}", "name", bk->name, "shape", (json_int_t)shape[0],
                                    (json_int_t)(snn_block_is_matrix(bk) ? bk->cols : 0), "trainable", bk->trainable));
    if (!snn_block_is_matrix(bk))
      json_array_remove(json_object_get(json_array_get(blocks, json_array_size(blocks) - 1), "shape"), 1);
  }
  size_t xs[2] = {s->T, s->n_in}, ys[2] = {s->T, s->n_out};
  if (!st) st = put_npy(tmp, "input.npy", d->x.v, xs, 2, files, err);
  double label = (double)d->label;
  if (!st)
    st = s->loss == SNN_LOSS_MSE ? put_npy(tmp, "target.npy", d->y.v, ys, 2, files, err)
                                 : put_npy(tmp, "label.npy", &label, NULL, 0, files, err);
  char p[SNN_PATH_MAX + 600];
  snprintf(p, sizeof p, "%s/network.json", tmp);
  json_array_append_new(files, json_string("network.json"));
  if (!st) st = snn_write_atomic(p, net_text, net_len, err);
  json_t *m = json_pack("{s:s, s:s, s:s, s:o, s:o}", "format", "snngrad-export/1", "network", s->path, "loss",
                        s->loss == SNN_LOSS_MSE ? "mse" : "ce", "blocks", blocks, "files", files);
  char *txt = m ? json_dumps(m, JSON_INDENT(1)) : NULL;
  snprintf(p, sizeof p, "%s/export.json", tmp);
  if (!st)
    st = txt ? snn_write_atomic(p, txt, strlen(txt), err) : snn_err_set(err, SNN_ENOMEM, "", "", "out of memory");
  free(txt);
  json_decref(m);
  return st;
}

int snn_report_export(const snn_spec *s, const snn_data *d, const char *net_text, size_t net_len, const char *dir,
                      snn_err *err) {
  char target[SNN_PATH_MAX], tmp[SNN_PATH_MAX + 32];
  snprintf(target, sizeof target, "%s", dir);
  for (size_t n = strlen(target); n > 1 && target[n - 1] == '/'; n--) target[n - 1] = 0;
  struct stat st;
  int exists = lstat(target, &st) == 0, empty = 1;
  if (exists && S_ISLNK(st.st_mode))
    return snn_err_set(err, SNN_EARG, target, "--npy", "is a symbolic link; expected the folder itself");
  if (exists && !S_ISDIR(st.st_mode)) return snn_err_set(err, SNN_EARG, target, "--npy", "exists and is not a folder");
  if (exists && !earlier_export(target, &empty) && !empty)
    return snn_err_set(err, SNN_EARG, target, "--npy",
                       "is a folder that is not empty and was not written by `snngrad export` (or holds other files "
                       "since); expected a new or empty folder, or an earlier export");
  snprintf(tmp, sizeof tmp, "%s.tmpXXXXXX", target);
  if (!mkdtemp(tmp))
    return snn_err_set(err, SNN_EIO, tmp, "--npy", "cannot create a folder beside it: %s", strerror(errno));
  int rc = write_all(s, d, net_text, net_len, tmp, err);
  if (!rc) {
    if (!exists || empty) {
      if (rename(tmp, target))
        rc = snn_err_set(err, SNN_EIO, target, "--npy", "cannot rename the new folder into place: %s", strerror(errno));
    } else if (renameat2(AT_FDCWD, tmp, AT_FDCWD, target, RENAME_EXCHANGE)) {
      rc = snn_err_set(err, SNN_EIO, target, "--npy", "cannot replace the earlier export: %s", strerror(errno));
    }
  }
  remove_tree(tmp); /* the failed attempt, or the earlier export after the exchange */
  return rc;
}
