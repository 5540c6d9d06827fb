/* sweep.c - the plan of a sweep (sweep.h, docs/sweep.md): the sweep file,
 * its override paths and values, the merged experiment of each run, and
 * the run's result file.  The tables are in sweep_tables.c. */
#include "experiments/sweep.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <libgen.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "experiments/train.h"
#include "io/jsonget.h"

const char *const snn_run_status_names[] = {"pending", "done", "failed", "interrupted", NULL};

#define SWEEP_MAX_RUNS 100000 /* a larger sweep is a mistake more often than not */
#define PATH_TOKS 16

/* ---- override paths: key(.key|[index])* ---- */

typedef struct {
  int n;
  char key[PATH_TOKS][64]; /* "" for an index */
  long idx[PATH_TOKS];     /* -1 for a key */
} opath;

static int path_parse(const char *s, opath *p) {
  p->n = 0;
  for (const char *c = s;;) {
    size_t k = 0;
    if (p->n >= PATH_TOKS || !(isalpha((unsigned char)*c) || *c == '_')) return -1;
    while (isalnum((unsigned char)*c) || *c == '_') {
      if (k >= sizeof p->key[0] - 1) return -1;
      p->key[p->n][k++] = *c++;
    }
    p->key[p->n][k] = 0, p->idx[p->n++] = -1;
    while (*c == '[') {
      long v = 0;
      if (p->n >= PATH_TOKS || !isdigit((unsigned char)*++c)) return -1;
      while (isdigit((unsigned char)*c) && v < 100000000) v = v * 10 + (*c++ - '0');
      if (*c++ != ']') return -1;
      p->key[p->n][0] = 0, p->idx[p->n++] = v;
    }
    if (!*c) return 0;
    if (*c++ != '.') return -1;
  }
}

static int in_list(const char *const *l, const char *k) {
  for (; *l; l++)
    if (!strcmp(*l, k)) return 1;
  return 0;
}

static void list_text(const char *const *l, char *buf, size_t n) {
  buf[0] = 0;
  for (const char *const *q = l; *q; q++) {
    size_t u = strlen(buf);
    snprintf(buf + u, n - u, "%s%s", q == l ? "" : ", ", *q);
  }
}

/* The keys under network that the task writes (experiment.c: load_network). */
static int task_sets(const char *sec, const char *key) {
  return (!sec[0] && !strcmp(key, "steps")) || (!strcmp(sec, "input") && !strcmp(key, "size")) ||
         (!strcmp(sec, "readout") && !strcmp(key, "size")) ||
         (!strcmp(sec, "loss") && (!strcmp(key, "kind") || !strcmp(key, "window") || !strcmp(key, "label")));
}

/* A path under network: each key one the network file knows where the
 * format lists them (docs/formats.md), deeper values taken as they are. */
static int network_check(const opath *p, const char *text, const char *file, const char *kp, snn_err *err) {
  char sec[256] = "", keys[512];
  for (int i = 1; i < p->n; i++) {
    if (p->idx[i] >= 0) continue;
    const char *const *l = snn_spec_keys(sec);
    if (!l) return SNN_OK;
    list_text(l, keys, sizeof keys);
    if (!in_list(l, p->key[i]))
      return snn_err_set(err, SNN_EKEY, file, kp, "unknown override path '%s': network%s%s has the keys %s", text,
                         sec[0] ? "." : "", sec, keys);
    if (task_sets(sec, p->key[i]))
      return snn_err_set(err, SNN_EKEY, file, kp,
                         "the task sets '%s' (the steps, the input and readout sizes, the loss kind and window); "
                         "override the task's keys instead",
                         text);
    size_t u = strlen(sec);
    snprintf(sec + u, sizeof sec - u, "%s%s", u ? "." : "", p->key[i]);
  }
  return SNN_OK;
}

/* Whether `text` names a key of the experiment file (docs/training.md). */
static int path_check(const char *text, opath *p, const char *file, const char *kp, snn_err *err) {
  char keys[512];
  if (path_parse(text, p))
    return snn_err_set(err, SNN_EKEY, file, kp,
                       "expected an override path of keys and [indexes], such as optimizer.lr or "
                       "network.layers[0].size, found '%s'",
                       text);
  const char *t0 = p->key[0];
  list_text(snn_experiment_keys(""), keys, sizeof keys);
  if (!in_list(snn_experiment_keys(""), t0))
    return snn_err_set(err, SNN_EKEY, file, kp, "unknown override path '%s': an experiment has the keys %s", text,
                       keys);
  if (!strcmp(t0, "out") || !strcmp(t0, "seed"))
    return snn_err_set(err, SNN_EKEY, file, kp,
                       "'%s' belongs to the sweep: give \"seeds\" and \"out\" in the sweep file instead", t0);
  if (!strcmp(t0, "network")) return network_check(p, text, file, kp, err);
  if (p->n == 1) return SNN_OK;
  const char *const *sec = snn_experiment_keys(t0);
  if (!sec || p->n > 2 || p->idx[1] >= 0)
    return snn_err_set(err, SNN_EKEY, file, kp, "unknown override path '%s': expected '%s'%s", text, t0,
                       sec ? " or one of its keys" : " itself (it holds one value)");
  list_text(sec, keys, sizeof keys);
  if (!in_list(sec, p->key[1]))
    return snn_err_set(err, SNN_EKEY, file, kp, "unknown override path '%s': %s has the keys %s", text, t0, keys);
  return SNN_OK;
}

/* One path is the other or a part of it: both would set the same value. */
static int overlap(const opath *a, const opath *b) {
  int n = a->n < b->n ? a->n : b->n;
  for (int i = 0; i < n; i++)
    if (a->idx[i] != b->idx[i] || strcmp(a->key[i], b->key[i])) return 0;
  return 1;
}

/* Sets the value at the path, making the objects on the way that the
 * experiment leaves out (an array element must exist). */
static int path_apply(json_t *root, const opath *p, json_t *val, const char *file, const char *kp, snn_err *err) {
  json_t *cur = root;
  for (int i = 0; i < p->n; i++) {
    int last = i == p->n - 1;
    if (p->idx[i] < 0) {
      if (!json_is_object(cur))
        return snn_err_set(err, SNN_EKEY, file, kp, "the experiment has no object where '%s' should be", p->key[i]);
      json_t *next = json_object_get(cur, p->key[i]);
      if (last || !next) {
        next = last ? json_deep_copy(val) : json_object();
        if (!next || json_object_set_new(cur, p->key[i], next))
          return snn_err_set(err, SNN_ENOMEM, file, kp, "no memory");
      }
      cur = next;
    } else {
      size_t n = json_is_array(cur) ? json_array_size(cur) : 0;
      if ((size_t)p->idx[i] >= n)
        return snn_err_set(err, SNN_EKEY, file, kp, "index [%ld] is not in the experiment: %s", p->idx[i],
                           json_is_array(cur) ? "the array is shorter" : "no array there");
      if (last && json_array_set_new(cur, (size_t)p->idx[i], json_deep_copy(val)))
        return snn_err_set(err, SNN_ENOMEM, file, kp, "no memory");
      cur = json_array_get(cur, (size_t)p->idx[i]);
    }
  }
  return SNN_OK;
}

/* ---- reading the sweep file ---- */

/* A file name as the experiment reader would take it, from the folder of
 * the file that names it. */
static void join(char *buf, size_t n, const char *dir, const char *name) {
  snprintf(buf, n, name[0] == '/' ? "%.0s%s" : "%s/%s", dir, name);
}

/* The network inline (so that network.* paths can reach into it and the run
 * folder's experiment stands alone) and the task's data folder absolute. */
static int resolve_files(json_t *exp, const char *dir, const char *file, snn_err *err) {
  char p[SNN_PATH_MAX + 256], real[PATH_MAX];
  json_t *nj = json_object_get(exp, "network"), *tj = json_object_get(exp, "task");
  if (json_is_string(nj)) {
    json_error_t je;
    join(p, sizeof p, dir, json_string_value(nj));
    json_t *net = json_load_file(p, JSON_REJECT_DUPLICATES, &je);
    if (!net) return snn_err_set(err, SNN_EIO, p, "", "cannot read the network file: %s", je.text);
    if (!json_is_object(net)) {
      json_decref(net);
      return snn_err_set(err, SNN_EKEY, p, "", "expected a network object");
    }
    json_object_set_new(exp, "network", net);
  }
  json_t *tp = json_is_object(tj) ? json_object_get(tj, "path") : NULL;
  if (json_is_string(tp) && json_string_value(tp)[0] != '/') {
    if (!realpath(dir, real)) return snn_err_set(err, SNN_EIO, file, "task.path", "cannot resolve the folder %s", dir);
    join(p, sizeof p, real, json_string_value(tp));
    json_object_set_new(tj, "path", json_string(p));
  }
  return SNN_OK;
}

/* "experiment": a file name (relative to the sweep file) or an object. */
static int load_base(json_t *root, snn_sweep *s, snn_err *err) {
  json_t *ej = json_object_get(root, "experiment");
  char epath[SNN_PATH_MAX + 256], edir[SNN_PATH_MAX + 256];
  if (json_is_string(ej)) {
    json_error_t je;
    join(epath, sizeof epath, s->dir, json_string_value(ej));
    if (!(s->base = json_load_file(epath, JSON_REJECT_DUPLICATES, &je)))
      return snn_err_set(err, SNN_EIO, epath, "", "cannot read the experiment file: %s", je.text);
    snprintf(edir, sizeof edir, "%s", epath);
    snprintf(edir, sizeof edir, "%s", dirname(edir));
  } else if (json_is_object(ej)) {
    s->base = json_deep_copy(ej);
    snprintf(epath, sizeof epath, "%s", s->path);
    snprintf(edir, sizeof edir, "%s", s->dir);
  } else {
    return snn_err_set(err, SNN_EKEY, s->path, "experiment",
                       "expected an experiment file name (relative to the sweep file) or an experiment object");
  }
  if (!json_is_object(s->base)) return snn_err_set(err, SNN_EKEY, epath, "", "expected an experiment object");
  int st = snn_json_keys(s->base, epath, "", snn_experiment_keys(""), "docs/training.md", err);
  return st ? st : resolve_files(s->base, edir, epath, err);
}

static int load_seeds(json_t *root, snn_sweep *s, snn_err *err) {
  json_t *sj = json_object_get(root, "seeds");
  if (!json_is_array(sj) || !json_array_size(sj))
    return snn_err_set(err, SNN_EKEY, s->path, "seeds", "expected a non-empty array of seeds, such as [1, 2, 3]");
  s->nseed = json_array_size(sj);
  if (!(s->seeds = calloc(s->nseed, sizeof *s->seeds))) return snn_err_set(err, SNN_ENOMEM, s->path, "", "no memory");
  for (size_t i = 0; i < s->nseed; i++) {
    json_t *v = json_array_get(sj, i);
    char kp[48];
    snprintf(kp, sizeof kp, "seeds[%zu]", i);
    if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > 4294967295LL)
      return snn_err_set(err, SNN_EVALUE, s->path, kp, "expected an integer seed in [0, 4294967295]");
    s->seeds[i] = (unsigned long)json_integer_value(v);
    for (size_t j = 0; j < i; j++)
      if (s->seeds[j] == s->seeds[i])
        return snn_err_set(err, SNN_EVALUE, s->path, kp, "seed %lu is already seeds[%zu]: expected distinct seeds",
                           s->seeds[i], j);
  }
  return SNN_OK;
}

/* The override paths of one variant (a grid's keys or a list entry's):
 * each known to the experiment file, none overlapping another. */
static int check_paths(json_t *o, const char *where, snn_sweep *s, snn_err *err) {
  const char *k, *k2;
  json_t *v, *v2;
  char kp[SNN_PATH_MAX];
  opath a, b;
  json_object_foreach(o, k, v) {
    snprintf(kp, sizeof kp, "%s.%s", where, k);
    int st = path_check(k, &a, s->path, kp, err);
    json_t *scratch = st ? NULL : json_deep_copy(s->base); /* the arrays on the way exist in the experiment */
    if (!st)
      st = scratch ? path_apply(scratch, &a, v, s->path, kp, err)
                   : snn_err_set(err, SNN_ENOMEM, s->path, "", "no memory");
    json_decref(scratch);
    if (st) return st;
    json_object_foreach(o, k2, v2) {
      if (k2 == k) break;
      if (!path_parse(k2, &b) && overlap(&a, &b))
        return snn_err_set(err, SNN_EKEY, s->path, kp, "overlaps '%s': one value would be set twice", k2);
    }
    size_t i = 0;
    while (i < s->nkeys && strcmp(s->keys[i], k)) i++;
    if (i == s->nkeys) {
      char **nk = realloc(s->keys, (s->nkeys + 1) * sizeof *nk);
      if (!nk || !(nk[s->nkeys] = strdup(k))) {
        if (nk) s->keys = nk;
        return snn_err_set(err, SNN_ENOMEM, s->path, "", "no memory");
      }
      s->keys = nk, s->nkeys++;
    }
  }
  return SNN_OK;
}

/* "grid": {path: [values]}; the number of variants it makes. */
static int check_grid(json_t *g, snn_sweep *s, size_t *count, snn_err *err) {
  const char *k;
  json_t *v;
  *count = 0;
  if (!g) return SNN_OK;
  if (!json_is_object(g) || !json_object_size(g))
    return snn_err_set(err, SNN_EKEY, s->path, "grid",
                       "expected an object of override paths and their values, such as {\"optimizer.lr\": [0.01, "
                       "0.001]}");
  int st = check_paths(g, "grid", s, err);
  if (st) return st;
  *count = 1;
  json_object_foreach(g, k, v) {
    char kp[SNN_PATH_MAX];
    snprintf(kp, sizeof kp, "grid.%s", k);
    if (!json_is_array(v) || !json_array_size(v))
      return snn_err_set(err, SNN_EVALUE, s->path, kp, "expected a non-empty array of the values to try");
    for (size_t i = 0; i < json_array_size(v); i++)
      for (size_t j = 0; j < i; j++)
        if (json_equal(json_array_get(v, i), json_array_get(v, j)))
          return snn_err_set(err, SNN_EVALUE, s->path, kp, "value [%zu] repeats value [%zu]: expected distinct values",
                             i, j);
    if (*count > SWEEP_MAX_RUNS / json_array_size(v))
      return snn_err_set(err, SNN_EVALUE, s->path, "grid", "more than %d variants", SWEEP_MAX_RUNS);
    *count *= json_array_size(v);
  }
  return SNN_OK;
}

/* The variants: the grid's, the last key changing fastest, then the list's. */
static int make_variants(json_t *root, snn_sweep *s, snn_err *err) {
  json_t *g = json_object_get(root, "grid"), *l = json_object_get(root, "list");
  size_t ng;
  int st = check_grid(g, s, &ng, err);
  if (st) return st;
  if (l && (!json_is_array(l) || !json_array_size(l)))
    return snn_err_set(err, SNN_EKEY, s->path, "list", "expected a non-empty array of override objects");
  size_t nl = l ? json_array_size(l) : 0, total = ng + nl + (!g && !l);
  if (total * s->nseed > SWEEP_MAX_RUNS)
    return snn_err_set(err, SNN_EVALUE, s->path, g ? "grid" : "list", "more than %d runs", SWEEP_MAX_RUNS);
  if (!(s->vars = calloc(total, sizeof *s->vars))) return snn_err_set(err, SNN_ENOMEM, s->path, "", "no memory");
  for (size_t i = 0; i < ng; i++) {
    json_t *o = s->vars[s->nvar++] = json_object();
    size_t rest = i;
    for (size_t k = s->nkeys; k-- > 0;) { /* mixed radix, the last key fastest */
      json_t *vals = json_object_get(g, s->keys[k]);
      json_object_set(o, s->keys[k], json_array_get(vals, rest % json_array_size(vals)));
      rest /= json_array_size(vals);
    }
  }
  for (size_t i = 0; i < nl; i++) {
    char where[32];
    snprintf(where, sizeof where, "list[%zu]", i);
    json_t *o = json_array_get(l, i);
    if (!json_is_object(o))
      return snn_err_set(err, SNN_EKEY, s->path, where, "expected an object of override paths and values");
    if ((st = check_paths(o, where, s, err))) return st;
    s->vars[s->nvar++] = json_deep_copy(o);
  }
  if (!g && !l) s->vars[s->nvar++] = json_object(); /* the experiment as it is */
  for (size_t i = 0; i < s->nvar; i++)
    for (size_t j = 0; j < i; j++)
      if (json_equal(s->vars[i], s->vars[j])) {
        char where[32];
        snprintf(where, sizeof where, "list[%zu]", i - ng);
        return snn_err_set(err, SNN_EVALUE, s->path, where, "repeats variant %zu: expected distinct variants", j + 1);
      }
  return SNN_OK;
}

/* The experiment with variant v's overrides, as a new object. */
static int merge(const snn_sweep *s, size_t v, json_t **out, snn_err *err) {
  json_t *m = json_deep_copy(s->base), *val;
  const char *k;
  opath p;
  int st = m ? SNN_OK : snn_err_set(err, SNN_ENOMEM, s->path, "", "no memory");
  char kp[SNN_PATH_MAX], name[32];
  snn_sweep_variant_name(s, v, name, sizeof name);
  json_object_foreach(s->vars[v], k, val) {
    snprintf(kp, sizeof kp, "%s.%s", name, k);
    if (!st && path_parse(k, &p)) st = snn_err_set(err, SNN_EKEY, s->path, kp, "bad override path");
    if (!st) st = path_apply(m, &p, val, s->path, kp, err);
  }
  /* a file named by an override is relative to the sweep file */
  if (!st) st = resolve_files(m, s->dir, s->path, err);
  if (st) json_decref(m);
  *out = st ? NULL : m;
  return st;
}

int snn_sweep_load(const char *path, const char *out, snn_sweep *s, snn_err *err) {
  memset(s, 0, sizeof *s);
  if (strlen(path) >= sizeof s->path) return snn_err_set(err, SNN_EIO, "", "", "the sweep file's path is too long");
  snprintf(s->path, sizeof s->path, "%s", path);
  char tmp[SNN_PATH_MAX];
  snprintf(tmp, sizeof tmp, "%s", path);
  snprintf(s->dir, sizeof s->dir, "%s", dirname(tmp));
  json_error_t je;
  json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
  int st = SNN_OK;
  if (!root || !json_is_object(root)) {
    char key[40];
    snprintf(key, sizeof key, "%d:%d", je.line, je.column);
    st = root          ? snn_err_set(err, SNN_EJSON, path, "", "expected an object")
         : je.line < 0 ? snn_err_set(err, SNN_EIO, path, "", "cannot read the sweep file: %s", je.text)
                       : snn_err_set(err, SNN_EJSON, path, key, "%s", je.text);
  }
  static const char *const known[] = {"experiment", "grid", "list", "seeds", "out", "description", "comment", NULL};
  if (!st) st = snn_json_keys(root, path, "", known, "docs/sweep.md", err);
  if (!st) st = load_base(root, s, err);
  if (!st) st = load_seeds(root, s, err);
  if (!st && !out && !json_is_string(json_object_get(root, "out")))
    st = snn_err_set(err, SNN_EKEY, path, "out", "expected the output folder (a string), or give --out DIR");
  if (!st) {
    const char *o = out ? out : json_string_value(json_object_get(root, "out"));
    if (!o[0] || strlen(o) >= sizeof s->out - 96)
      st = snn_err_set(err, SNN_EVALUE, path, "out", "expected a folder name of 1 to %zu characters",
                       sizeof s->out - 97);
    else
      snprintf(s->out, sizeof s->out, "%s", o);
  }
  if (!st) st = make_variants(root, s, err);
  for (size_t n = s->nvar, w = 2; !st; n /= 10, w++)
    if (n < 100) {
      s->width = (int)w;
      break;
    }
  for (size_t v = 0; !st && v < s->nvar; v++) { /* every variant merges */
    json_t *m;
    if (!(st = merge(s, v, &m, err))) json_decref(m);
  }
  json_decref(root);
  if (st) snn_sweep_free(s);
  return st;
}

void snn_sweep_free(snn_sweep *s) {
  if (!s) return;
  json_decref(s->base);
  for (size_t i = 0; s->vars && i < s->nvar; i++) json_decref(s->vars[i]);
  for (size_t i = 0; i < s->nkeys; i++) free(s->keys[i]);
  free(s->vars), free(s->keys), free(s->seeds);
  memset(s, 0, sizeof *s);
}

size_t snn_sweep_runs(const snn_sweep *s) {
  return s->nvar * s->nseed;
}

void snn_sweep_variant_name(const snn_sweep *s, size_t var, char *buf, size_t n) {
  snprintf(buf, n, "v%0*zu", s->width ? s->width : 2, var + 1);
}

void snn_sweep_run_dir(const snn_sweep *s, size_t run, char *buf, size_t n) {
  char name[32];
  snn_sweep_variant_name(s, run / s->nseed, name, sizeof name);
  snprintf(buf, n, "%s/%s/seed-%lu", s->out, name, s->seeds[run % s->nseed]);
}

int snn_sweep_experiment(const snn_sweep *s, size_t run, char **text, snn_err *err) {
  json_t *m;
  char dir[SNN_PATH_MAX];
  *text = NULL;
  int st = merge(s, run / s->nseed, &m, err);
  if (st) return st;
  snn_sweep_run_dir(s, run, dir, sizeof dir);
  json_object_set_new(m, "seed", json_integer((json_int_t)s->seeds[run % s->nseed]));
  json_object_set_new(m, "out", json_string(dir));
  char *t = json_dumps(m, JSON_INDENT(2) | JSON_REAL_PRECISION(17));
  json_decref(m);
  size_t n = t ? strlen(t) : 0;
  if (t && (*text = malloc(n + 2))) memcpy(*text, t, n), memcpy(*text + n, "\n", 2);
  free(t);
  return *text ? SNN_OK : snn_err_set(err, SNN_ENOMEM, s->path, "", "no memory");
}

/* ---- a run's result file ---- */

static json_t *num_or_null(double x) {
  return isfinite(x) ? json_real(x) : json_null();
}

char *snn_run_result_format(const snn_run_result *r) {
  json_t *o = json_object();
  json_object_set_new(o, "format", json_string("snngrad-sweep-run/1"));
  json_object_set_new(o, "status", json_string(snn_run_status_names[r->status]));
  json_object_set_new(o, "updates", json_integer((json_int_t)r->updates));
  json_object_set_new(o, "train_loss", num_or_null(r->train_loss));
  json_object_set_new(o, "eval_loss", num_or_null(r->eval_loss));
  json_object_set_new(o, "eval_acc", num_or_null(r->eval_acc));
  json_object_set_new(o, "seconds", num_or_null(r->seconds));
  json_object_set_new(o, "message", json_string(r->msg));
  char *t = json_dumps(o, JSON_INDENT(1) | JSON_REAL_PRECISION(17));
  json_decref(o);
  char *text = t ? malloc(strlen(t) + 2) : NULL;
  if (text) sprintf(text, "%s\n", t);
  free(t);
  return text;
}

static double num_of(json_t *o, const char *key) {
  json_t *v = json_object_get(o, key);
  return json_is_number(v) ? json_number_value(v) : NAN;
}

int snn_run_result_read(const char *path, snn_run_result *r) {
  memset(r, 0, sizeof *r);
  json_t *o = json_load_file(path, 0, NULL);
  const char *fmt = json_string_value(json_object_get(o, "format"));
  const char *st = json_string_value(json_object_get(o, "status"));
  int ok = fmt && st && !strcmp(fmt, "snngrad-sweep-run/1") && json_is_integer(json_object_get(o, "updates"));
  for (int i = 0; ok && snn_run_status_names[i]; i++)
    if (!strcmp(snn_run_status_names[i], st)) r->status = i, ok = 2;
  if (ok == 2) {
    r->updates = (size_t)json_integer_value(json_object_get(o, "updates"));
    r->train_loss = num_of(o, "train_loss"), r->eval_loss = num_of(o, "eval_loss");
    r->eval_acc = num_of(o, "eval_acc"), r->seconds = num_of(o, "seconds");
    const char *m = json_string_value(json_object_get(o, "message"));
    snprintf(r->msg, sizeof r->msg, "%s", m ? m : "");
  }
  json_decref(o);
  return ok == 2 ? 0 : -1;
}

/* ---- files ---- */

int snn_sweep_mkdir(const char *dir, snn_err *err) {
  char p[SNN_PATH_MAX];
  snprintf(p, sizeof p, "%s", dir);
  for (char *q = p + 1; *q; q++)
    if (*q == '/') {
      *q = 0;
      if (mkdir(p, 0777) && errno != EEXIST) return snn_err_set(err, SNN_EIO, p, "", "cannot create the folder");
      *q = '/';
    }
  if (mkdir(p, 0777) && errno != EEXIST) return snn_err_set(err, SNN_EIO, p, "", "cannot create the folder");
  return SNN_OK;
}

int snn_sweep_same_file(const char *path, const char *text) {
  FILE *f = fopen(path, "rb");
  if (!f) return -1;
  size_t n = strlen(text), got;
  char *buf = malloc(n + 1);
  got = buf ? fread(buf, 1, n + 1, f) : 0;
  fclose(f);
  int same = buf && got == n && !memcmp(buf, text, n);
  free(buf);
  return same;
}

int snn_sweep_lock(const char *out, int *fd, snn_err *err) {
  char path[SNN_PATH_MAX + 16], pid[32];
  snprintf(path, sizeof path, "%s/.lock", out);
  *fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
  if (*fd < 0) return snn_err_set(err, SNN_EIO, path, "", "cannot create the lock file: %s", strerror(errno));
  if (flock(*fd, LOCK_EX | LOCK_NB) != 0) {
    ssize_t n = read(*fd, pid, sizeof pid - 1);
    pid[n > 0 ? n : 0] = 0;
    close(*fd), *fd = -1;
    return snn_err_set(err, SNN_EIO, out, "", "another sweep (process %.20s) is writing into this folder",
                       pid[0] ? pid : "?");
  }
  snprintf(pid, sizeof pid, "%ld", (long)getpid());
  if (ftruncate(*fd, 0) || write(*fd, pid, strlen(pid)) < 0) pid[0] = 0; /* the id is for people: not fatal */
  return SNN_OK;
}

void snn_sweep_unlock(const char *out, int fd) {
  char path[SNN_PATH_MAX + 16];
  if (fd < 0) return;
  snprintf(path, sizeof path, "%s/.lock", out);
  unlink(path);
  close(fd);
}
