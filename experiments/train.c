/* train.c - the training loop (docs/training.md), compiled once per
 * precision: minibatches, SGD / Adam / Adamax, deferred or online updates,
 * FPTT's full procedure, gradient clipping, evaluation, a CSV log and a
 * manifest, and checkpoints from which a run continues bit for bit.
 *
 * Determinism: sample n of the training stream is drawn from (seed, n) and
 * evaluation uses the first samples of the test split, so nothing but the
 * parameters, the optimiser's state, FPTT's running average and dual, and
 * the update counter carries from one update to the next; all of it is in
 * the checkpoint, written with enough digits to be read back exactly. */
#include "experiments/train.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "io/checkpoint.h"
#include "models/model.h"
#include "sim/driver.h"
#include "sim/rules/rules.h"

typedef struct {
  const snn_experiment *e;
  const snn_spec *s;
  net *N;
  rctx *c;
  SNN_SFX(snn_rule_fn) fn;
  relt *g, *gsum, *m, *v, *wbar, *lam, *save; /* save: FPTT's W during evaluation on Wbar, or an online update */
  real b1p, b2p, tmp;                         /* beta1^t, beta2^t */
  size_t nupd;                                /* parameter updates so far (online: several per sequence) */
  double *xb, *yb;                            /* one sample, double */
  relt *X0, *Y0;                              /* the network's own input/target storage */
  traj tr;                                    /* evaluation */
  int have_tr;
  SNN_SFX(snn_hook) hook;
  int diverged;
  int lock; /* the output folder's lock, or -1 */
} trainer;

static uint64_t mix64(uint64_t z) {
  z += 0x9e3779b97f4a7c15ULL;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

/* The n-th training sample's index: the stream itself for generated tasks,
 * a hashed draw (with replacement) from a data set. */
static size_t train_index(const trainer *T, size_t n) {
  size_t cnt = snn_task_count(&T->e->task, 0);
  if (cnt == SIZE_MAX) return n;
  return (size_t)(mix64(mix64(T->e->seed) ^ n) % cnt);
}

static void set_sample(trainer *T, int split, size_t index) {
  const snn_task *t = &T->e->task;
  net *N = T->N;
  long label;
  snn_task_sample(t, split, T->e->seed + (unsigned long)split, index, T->xb, T->yb, &label);
  for (size_t i = 0; i < t->T * t->n_in; i++) r_set_d(N->x + i, T->xb[i], T->c);
  if (t->loss == SNN_LOSS_MSE)
    for (size_t i = 0; i < t->T * t->n_out; i++) r_set_d(N->y + i, T->yb[i], T->c);
  N->label = label;
}

/* Keep a parameter where the model is defined (docs/training.md): time
 * constants and thresholds positive, snu decay in [0, 1), adlif's bounds
 * under "project", delays in [0, max]. */
static void project(trainer *T) {
  const snn_spec *s = T->s;
  rctx *c = T->c;
  for (size_t b = 0; b < s->nblk; b++) {
    const snn_block *bk = &s->blk[b];
    if (!bk->trainable) continue;
    relt *p = T->N->theta + bk->off;
    size_t n = bk->rows * bk->cols;
    double lo = -INFINITY, hi = INFINITY;
    if (bk->kind == SNN_BLK_DELAY) lo = 0, hi = (double)s->layers[bk->layer].dmax;
    if (bk->kind == SNN_BLK_CONST) snn_model_const_project(&s->layers[bk->layer], bk->cidx, s->dt, &lo, &hi);
    for (size_t i = 0; i < n; i++) {
      if (r_cmp_d(p + i, lo) < 0) r_set_d(p + i, lo, c);
      if (r_cmp_d(p + i, hi) > 0) r_set_d(p + i, hi, c);
    }
  }
}

/* Zero what no update may change: frozen blocks and a spiking model's w_rec diagonal. */
static void mask(const snn_spec *s, relt *g, rctx *c) {
  SNN_SFX(snn_zero_frozen)(s, g, c);
  for (size_t b = 0; b < s->nblk; b++) {
    const snn_block *bk = &s->blk[b];
    if (bk->kind != SNN_BLK_W_REC || s->layers[bk->layer].sh->selfconn) continue;
    for (size_t i = 0; i < bk->rows; i++) r_zero(g + bk->off + i * bk->cols + i % bk->cols, c);
  }
}

/* One optimiser step from the gradient g (changed: masked and clipped). */
static void update(trainer *T, relt *g) {
  const snn_experiment *e = T->e;
  const snn_spec *s = T->s;
  rctx *c = T->c;
  relt *th = T->N->theta, *a = T->tmp, *w = c->leaf;
  mask(s, g, c);
  for (size_t i = 0; i < s->P; i++)
    if (!r_isfinite(g + i)) T->diverged = 1;
  if (T->diverged) return;
  if (e->clip > 0) { /* by the global norm */
    r_zero(a, c);
    for (size_t i = 0; i < s->P; i++) r_fma(a, g + i, g + i, a, c);
    r_sqrt(a, a, c);
    if (r_cmp_d(a, e->clip) > 0) {
      r_d_div(a, e->clip, a, c);
      for (size_t i = 0; i < s->P; i++) r_mul(g + i, g + i, a, c);
    }
  }
  T->nupd++;
  r_mul_d(T->b1p, T->b1p, e->beta1, c);
  r_mul_d(T->b2p, T->b2p, e->beta2, c);
  for (size_t b = 0; b < s->nblk; b++) {
    const snn_block *bk = &s->blk[b];
    if (!bk->trainable) continue;
    for (size_t i = bk->off; i < bk->off + bk->rows * bk->cols; i++) {
      relt *gi = g + i, *m = T->m + i, *v = T->v + i;
      if (e->opt == SNN_OPT_SGD) { /* m = mu m + g; theta -= lr m */
        r_mul_d(m, m, e->momentum, c);
        r_add(m, m, gi, c);
        r_mul_d(w, m, e->lr, c);
        r_sub(th + i, th + i, w, c);
        continue;
      }
      /* m = b1 m + (1 - b1) g */
      r_mul_d(m, m, e->beta1, c);
      r_mul_d(w, gi, 1.0 - e->beta1, c);
      r_add(m, m, w, c);
      if (e->opt == SNN_OPT_ADAM) {
        /* v = b2 v + (1 - b2) g^2; theta -= lr (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps) */
        r_mul_d(v, v, e->beta2, c);
        r_mul(w, gi, gi, c);
        r_mul_d(w, w, 1.0 - e->beta2, c);
        r_add(v, v, w, c);
        r_d_sub(w, 1.0, T->b2p, c);
        r_div(w, v, w, c);
        r_sqrt(w, w, c);
        r_add_d(w, w, e->eps, c);
        r_d_sub(a, 1.0, T->b1p, c);
        r_mul(w, w, a, c);
        r_div(w, m, w, c);
      } else { /* adamax: u = max(b2 u, |g|); theta -= lr / (1 - b1^t) m / (u + eps) */
        r_mul_d(v, v, e->beta2, c);
        r_abs(w, gi, c);
        if (r_cmp(w, v) > 0) r_set(v, w, c);
        r_add_d(w, v, e->eps, c);
        r_d_sub(a, 1.0, T->b1p, c);
        r_mul(w, w, a, c);
        r_div(w, m, w, c);
      }
      r_mul_d(w, w, e->lr, c);
      r_sub(th + i, th + i, w, c);
    }
  }
  project(T);
  SNN_SFX(snn_net_derive)(T->N);
}

/* (its own buffer: gsum is where the sequence's remainder is collected) */
static void online_hook(void *ctx, size_t t, relt *grad) {
  (void)t;
  trainer *T = ctx;
  for (size_t i = 0; i < T->s->P; i++) r_set(T->save + i, grad + i, T->c);
  update(T, T->save);
}

/* Mean loss and accuracy (ce: argmax of the readout summed over the loss
 * window) over the first eval_samples samples of the test split. */
static void evaluate(trainer *T, double *loss, double *acc) {
  const snn_experiment *e = T->e;
  const snn_spec *s = T->s;
  size_t n = e->eval_samples, cnt = snn_task_count(&e->task, 1), K = s->n_out, hit = 0;
  if (cnt < n) n = cnt;
  double L = 0;
  for (size_t i = 0; i < n; i++) {
    set_sample(T, 1, i);
    SNN_SFX(snn_forward)(T->N, &T->tr);
    L += r_get_d(T->tr.loss);
    if (s->loss != SNN_LOSS_CE) continue;
    size_t best = 0;
    double bv = -INFINITY;
    for (size_t k = 0; k < K; k++) {
      double v = 0;
      for (size_t t = s->win_first; t <= s->win_last; t++) v += r_get_d(T->tr.yo + t * K + k);
      if (v > bv) bv = v, best = k;
    }
    hit += (long)best == T->N->label;
  }
  *loss = L / (double)n;
  *acc = s->loss == SNN_LOSS_CE ? (double)hit / (double)n : NAN;
}

/* FPTT evaluates on the running average Wbar. */
static void evaluate_at(trainer *T, double *loss, double *acc) {
  int fptt = !strcmp(T->e->rule.name, "fptt");
  size_t P = T->s->P;
  if (fptt) {
    for (size_t i = 0; i < P; i++) r_set(T->save + i, T->N->theta + i, T->c), r_set(T->N->theta + i, T->wbar + i, T->c);
    SNN_SFX(snn_net_derive)(T->N);
  }
  evaluate(T, loss, acc);
  if (fptt) {
    for (size_t i = 0; i < P; i++) r_set(T->N->theta + i, T->save + i, T->c);
    SNN_SFX(snn_net_derive)(T->N);
  }
}

/* One update of FPTT's full procedure on a minibatch: the samples advance
 * chunk by chunk in lockstep (each with its own carried state); after each
 * chunk the parameters take a step on the batch mean of the chunk loss plus
 * the regulariser, and the dual state and running average move. */
static int fptt_batch(trainer *T, size_t step, traj *trs, relt **X, relt **Y, long *lab, SNN_SFX(snn_bptt_ws) * w,
                      double *loss) {
  const snn_experiment *e = T->e;
  const snn_spec *s = T->s;
  net *N = T->N;
  rctx *c = T->c;
  size_t B = e->batch, K = e->fptt.chunks, P = s->P;
  for (size_t b = 0; b < B; b++) {
    set_sample(T, 0, train_index(T, step * B + b));
    for (size_t i = 0; i < s->T * s->n_in; i++) r_set(X[b] + i, N->x + i, c);
    if (s->loss == SNN_LOSS_MSE)
      for (size_t i = 0; i < s->T * s->n_out; i++) r_set(Y[b] + i, N->y + i, c);
    lab[b] = N->label;
    slot z0;
    SNN_SFX(snn_traj_slot)(&trs[b], N, 0, &z0);
    SNN_SFX(snn_slot_zero)(N, &z0);
    r_zero(trs[b].loss, c);
    for (size_t j = 0; j < SNN_SFX(snn_nhidden)(s); j++) r_zero(trs[b].rate + j, c);
  }
  double Ltot = 0;
  size_t prev = 0;
  for (size_t p = 0; p < K; p++) {
    size_t a = p * s->T / K, z = (p + 1) * s->T / K;
    for (size_t i = 0; i < P; i++) r_zero(T->gsum + i, c);
    for (size_t b = 0; b < B; b++) {
      N->x = X[b], N->y = Y[b], N->label = lab[b];
      if (p > 0) SNN_SFX(snn_traj_carry)(&trs[b], N, prev);
      SNN_SFX(snn_forward_segment)(N, &trs[b], a, z - a);
      SNN_SFX(snn_bptt_window)(N, &trs[b], w, T->g, 0);
      for (size_t i = 0; i < P; i++) r_add(T->gsum + i, T->gsum + i, T->g + i, c);
    }
    N->x = T->X0, N->y = T->Y0;
    prev = z - a;
    r_set_d(T->tmp, 1.0 / (double)B, c);
    for (size_t i = 0; i < P; i++) r_mul(T->gsum + i, T->gsum + i, T->tmp, c);
    /* the regulariser: c alpha (W - Wbar) + (rho - 1) lambda */
    r_zero(T->tmp, c);
    SNN_SFX(snn_fptt_objective)(P, N->theta, T->wbar, T->lam, &e->fptt, T->tmp, T->gsum, c);
    update(T, T->gsum);
    if (T->diverged) return SNN_ENONFINITE;
    SNN_SFX(snn_fptt_dual)(P, N->theta, T->wbar, T->lam, &e->fptt, c);
  }
  for (size_t b = 0; b < B; b++) Ltot += r_get_d(trs[b].loss);
  *loss = Ltot / (double)B;
  return SNN_OK;
}

/* ---- files ---- */

static int export_vec(const relt *v, size_t n, snn_nums *a, rctx *c) {
  if (snn_nums_init(a, n)) return SNN_ENOMEM;
  return SNN_SFX(snn_export)(v, n, a, c);
}

/* The parameters (and sample 0 of the test split, so that the file is a
 * params file `grad --params` reads) into d. */
static int snapshot(trainer *T, snn_data *d) {
  const snn_spec *s = T->s;
  memset(d, 0, sizeof *d);
  if (export_vec(T->N->theta, s->P, &d->theta, T->c)) return SNN_ENOMEM;
  set_sample(T, 1, 0);
  if (snn_nums_init(&d->x, s->T * s->n_in) || snn_nums_init(&d->y, s->loss == SNN_LOSS_MSE ? s->T * s->n_out : 0))
    return SNN_ENOMEM;
  for (size_t i = 0; i < s->T * s->n_in; i++) d->x.v[i] = T->xb[i];
  for (size_t i = 0; s->loss == SNN_LOSS_MSE && i < s->T * s->n_out; i++) d->y.v[i] = T->yb[i];
  d->label = T->N->label;
  return SNN_OK;
}

/* DIR/NAME, a file of the run (buf holds SNN_PATH_MAX + 64). */
#define RUN_PATH_MAX (SNN_PATH_MAX + 64)
static const char *run_file(char *buf, const char *dir, const char *name) {
  snprintf(buf, RUN_PATH_MAX, "%s/%s", dir, name);
  return buf;
}

/* Values read from a file into v, at this precision (decimal text where
 * the file had it). */
static void import_nums(relt *v, const snn_nums *a, size_t n, rctx *c) {
  for (size_t i = 0; i < n; i++) {
    if (a->s && a->s[i] && r_set_str(v + i, a->s[i], c) == 0) continue;
    r_set_d(v + i, a->v[i], c);
  }
}

/* The optimiser's state for a checkpoint. */
static int export_state(trainer *T, size_t step, snn_ckpt *k) {
  const snn_experiment *e = T->e;
  size_t P = T->s->P;
  if (snn_ckpt_init(k, P)) return SNN_ENOMEM;
  k->updates_done = step, k->optimizer_steps = T->nupd, k->prec = e->prec;
  snprintf(k->rule, sizeof k->rule, "%s", e->rule_text);
  relt *two = vec_alloc(2, T->c);
  if (!two) return SNN_ENOMEM;
  r_set(two, T->b1p, T->c);
  r_set(two + 1, T->b2p, T->c);
  int rc = SNN_SFX(snn_export)(two, 2, &k->beta_powers, T->c);
  vec_free(two, 2, T->c);
  if (!rc) rc = SNN_SFX(snn_export)(T->m, P, &k->m, T->c);
  if (!rc) rc = SNN_SFX(snn_export)(T->v, P, &k->v, T->c);
  if (!rc) rc = SNN_SFX(snn_export)(T->wbar, P, &k->wbar, T->c);
  if (!rc) rc = SNN_SFX(snn_export)(T->lam, P, &k->lambda, T->c);
  return rc;
}

/* The log and the checkpoint that vouches for it, written together. */
static int write_checkpoint(trainer *T, size_t step, const snn_buf *log, snn_err *err) {
  const snn_experiment *e = T->e;
  char path[RUN_PATH_MAX], lpath[RUN_PATH_MAX];
  run_file(path, e->out, "checkpoint.json");
  run_file(lpath, e->out, "log.csv");
  snn_data d;
  snn_ckpt k;
  snn_buf b = {0};
  int rc = snapshot(T, &d);
  if (!rc && export_state(T, step, &k)) rc = snn_err_set(err, SNN_ENOMEM, path, "", "out of memory");
  if (!rc) rc = snn_ckpt_format(T->s, &d, &k, &b, path, err);
  if (!rc) {
    snn_outset o;
    snn_outset_init(&o);
    rc = snn_outset_add(&o, lpath, log->p ? log->p : "", log->len, err);
    if (!rc) rc = snn_outset_add(&o, path, b.p, b.len, err);
    rc = rc ? (snn_outset_abort(&o), rc) : snn_outset_commit(&o, err);
  }
  snn_ckpt_clear(&k);
  snn_buf_free(&b);
  snn_data_clear(&d);
  return rc;
}

/* Resume: the parameters, the optimiser and FPTT state, the update counter,
 * and the log rows up to the checkpoint. */
static int load_checkpoint(trainer *T, size_t *step, snn_buf *log, snn_err *err) {
  const snn_experiment *e = T->e;
  const snn_spec *s = T->s;
  char path[RUN_PATH_MAX], lpath[RUN_PATH_MAX];
  run_file(path, e->out, "checkpoint.json");
  run_file(lpath, e->out, "log.csv");
  snn_data d;
  snn_ckpt k;
  if (snn_ckpt_init(&k, s->P)) return snn_err_set(err, SNN_ENOMEM, path, "", "out of memory");
  int rc = snn_ckpt_load(s, path, &d, &k, err), loaded = rc == SNN_OK;
  if (!rc && (strcmp(k.rule, e->rule_text) || k.prec != e->prec))
    rc = snn_err_set(err, SNN_EVALUE, path, "checkpoint.rule",
                     "written by rule %s at %ld bits; this experiment runs %s at %ld", k.rule, k.prec, e->rule_text,
                     e->prec);
  if (!rc) {
    import_nums(T->N->theta, &d.theta, s->P, T->c);
    import_nums(T->m, &k.m, s->P, T->c);
    import_nums(T->v, &k.v, s->P, T->c);
    import_nums(T->wbar, &k.wbar, s->P, T->c);
    import_nums(T->lam, &k.lambda, s->P, T->c);
    import_nums(T->b1p, &k.beta_powers, 1, T->c);
    snn_nums one = {1, k.beta_powers.v + 1, k.beta_powers.s ? k.beta_powers.s + 1 : NULL};
    import_nums(T->b2p, &one, 1, T->c);
    *step = k.updates_done;
    T->nupd = k.optimizer_steps;
  }
  if (loaded) snn_data_clear(&d);
  snn_ckpt_clear(&k);
  if (!rc) rc = snn_log_read(lpath, *step, log, err);
  if (!rc) SNN_SFX(snn_net_derive)(T->N);
  return rc;
}

static char *manifest(const snn_experiment *e) {
  return snn_manifest_text(e->path, e->config, e->net_json, e->seed, e->rule_text, e->prec,
                           snn_task_names[e->task.kind]);
}

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int mkdir_p(const char *dir, snn_err *err) {
  char p[SNN_PATH_MAX];
  snprintf(p, sizeof p, "%s", dir);
  for (char *q = p + 1; *q; q++)
    if (*q == '/') {
      *q = 0;
      if (mkdir(p, 0777) && errno != EEXIST) return snn_err_set(err, SNN_EIO, p, "", "cannot create the folder");
      *q = '/';
    }
  if (mkdir(p, 0777) && errno != EEXIST) return snn_err_set(err, SNN_EIO, p, "", "cannot create the output folder");
  return SNN_OK;
}

/* The output folder belongs to one run at a time: an exclusive lock on
 * DIR/.lock (which holds the owner's process id) for as long as the run
 * lasts; the kernel drops it when the process ends, however it ends, and a
 * run that ends normally removes the file.  A lock taken on a file that was
 * removed meanwhile is taken again on the new one. */
static int lock_out(const char *dir, int *fd, snn_err *err) {
  char path[RUN_PATH_MAX], pid[32];
  run_file(path, dir, ".lock");
  for (;;) {
    *fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
    if (*fd < 0) return snn_err_set(err, SNN_EIO, dir, "", "cannot create the lock file .lock: %s", strerror(errno));
    if (flock(*fd, LOCK_EX | LOCK_NB) != 0) {
      ssize_t n = read(*fd, pid, sizeof pid - 1);
      pid[n > 0 ? n - (pid[n - 1] == '\n') : 0] = 0;
      close(*fd);
      *fd = -1;
      return snn_err_set(err, SNN_EIO, dir, "",
                         "the output folder is in use by another snngrad train (process %s); wait for it to end, or "
                         "give another --out",
                         pid[0] ? pid : "?");
    }
    struct stat a, b;
    if (fstat(*fd, &a) == 0 && stat(path, &b) == 0 && a.st_ino == b.st_ino && a.st_dev == b.st_dev) break;
    close(*fd);
  }
  /* the id is for a second run's message only: failing to write it is harmless */
  int n = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
  if (ftruncate(*fd, 0) == 0) {
    ssize_t w = pwrite(*fd, pid, (size_t)n, 0);
    (void)w;
  }
  return SNN_OK;
}

static void unlock_out(const char *dir, int fd) {
  if (fd < 0) return;
  char path[RUN_PATH_MAX];
  run_file(path, dir, ".lock");
  unlink(path);
  close(fd);
}

/* Temporaries of the files a run writes, left by a run that was killed
 * while writing (".log.csv.XXXXXX"): only called with the lock held. */
static void remove_stale(const char *dir) {
  static const char *const names[] = {
      "log.csv", "checkpoint.json", "manifest.json", "params.json", "params_initial.json", "network.json", NULL};
  DIR *d = opendir(dir);
  if (!d) return;
  for (struct dirent *de; (de = readdir(d));) {
    const char *n = de->d_name;
    if (n[0] != '.') continue;
    for (const char *const *k = names; *k; k++) {
      size_t len = strlen(*k);
      if (!strncmp(n + 1, *k, len) && n[1 + len] == '.' && strlen(n + 2 + len) == 6) {
        char path[SNN_PATH_MAX + 300];
        snprintf(path, sizeof path, "%s/%s", dir, n);
        unlink(path);
      }
    }
  }
  closedir(d);
}

/* FPTT's minibatch in lockstep: a trajectory segment, the input and the
 * target of every sequence of the batch. */
typedef struct {
  size_t B, len;
  traj *trs;
  relt **X, **Y;
  long *lab;
  SNN_SFX(snn_bptt_ws) * w;
} fptt_bufs;

static int fptt_bufs_init(fptt_bufs *F, net *N, size_t B, size_t len) {
  const snn_spec *s = N->spec;
  memset(F, 0, sizeof *F);
  F->B = B, F->len = len;
  F->trs = calloc(B, sizeof *F->trs), F->X = calloc(B, sizeof *F->X), F->Y = calloc(B, sizeof *F->Y);
  F->lab = calloc(B, sizeof *F->lab);
  int ok = F->trs && F->X && F->Y && F->lab && (F->w = SNN_SFX(snn_bptt_ws_alloc_len)(N, len)) != NULL;
  for (size_t b = 0; ok && b < B; b++) {
    ok = SNN_SFX(snn_traj_init_len)(&F->trs[b], N, len) == SNN_OK;
    if (!ok) F->trs[b].s = NULL;
    F->X[b] = vec_alloc(s->T * s->n_in, N->c), F->Y[b] = vec_alloc(s->T * s->n_out, N->c);
    ok = ok && F->X[b] && F->Y[b];
  }
  return ok ? SNN_OK : SNN_ENOMEM;
}

static void fptt_bufs_clear(fptt_bufs *F, net *N) {
  const snn_spec *s = N->spec;
  for (size_t b = 0; F->trs && b < F->B; b++)
    if (F->trs[b].s) SNN_SFX(snn_traj_clear)(&F->trs[b], N);
  for (size_t b = 0; F->X && b < F->B; b++) vec_free(F->X[b], s->T * s->n_in, N->c);
  for (size_t b = 0; F->Y && b < F->B; b++) vec_free(F->Y[b], s->T * s->n_out, N->c);
  free(F->trs), free(F->X), free(F->Y), free(F->lab);
  if (F->w) SNN_SFX(snn_bptt_ws_free)(F->w, N);
  memset(F, 0, sizeof *F);
}

/* The optimiser's state and the buffers of a run, on network N. */
static int trainer_init(trainer *T, const snn_experiment *e, net *N, rctx *c) {
  size_t P = e->spec->P;
  const snn_spec *s = e->spec;
  memset(T, 0, sizeof *T);
  T->e = e, T->s = s, T->c = c, T->N = N;
  T->fn = SNN_RULE_FN(&e->rule);
  T->X0 = N->x, T->Y0 = N->y;
  T->lock = -1;
  r_init(T->b1p, c), r_init(T->b2p, c), r_init(T->tmp, c);
  r_set_d(T->b1p, 1.0, c), r_set_d(T->b2p, 1.0, c);
  T->g = vec_alloc(P, c), T->gsum = vec_alloc(P, c), T->m = vec_alloc(P, c), T->v = vec_alloc(P, c);
  T->wbar = vec_alloc(P, c), T->lam = vec_alloc(P, c), T->save = vec_alloc(P, c);
  T->xb = calloc(s->T * s->n_in, sizeof *T->xb), T->yb = calloc(s->T * s->n_out, sizeof *T->yb);
  int ok = T->g && T->gsum && T->m && T->v && T->wbar && T->lam && T->save && T->xb && T->yb;
  ok = ok && SNN_SFX(snn_traj_init)(&T->tr, N) == SNN_OK;
  T->have_tr = ok;
  if (!ok) return SNN_ENOMEM;
  for (size_t i = 0; i < P; i++) r_set(T->wbar + i, N->theta + i, c); /* FPTT: Wbar starts at W, lambda at 0 */
  T->hook.every = e->every, T->hook.fn = online_hook, T->hook.ctx = T;
  return SNN_OK;
}

static void trainer_clear(trainer *T) {
  size_t P = T->s->P;
  rctx *c = T->c;
  T->N->x = T->X0, T->N->y = T->Y0;
  if (T->have_tr) SNN_SFX(snn_traj_clear)(&T->tr, T->N);
  vec_free(T->g, P, c), vec_free(T->gsum, P, c), vec_free(T->m, P, c), vec_free(T->v, P, c);
  vec_free(T->wbar, P, c), vec_free(T->lam, P, c), vec_free(T->save, P, c);
  free(T->xb), free(T->yb);
  r_clear(T->b1p, c), r_clear(T->b2p, c), r_clear(T->tmp, c);
  unlock_out(T->e->out, T->lock);
}

/* The output folder, locked and cleaned of stale temporaries; the
 * checkpoint to resume from, or the first files of a new run (the initial
 * parameters, the manifest and the log's header, all or nothing). */
static int run_start(trainer *T, const snn_train_opts *o, size_t *start, snn_buf *log, snn_err *err) {
  const snn_experiment *e = T->e;
  char path[RUN_PATH_MAX], mpath[RUN_PATH_MAX];
  run_file(path, e->out, "checkpoint.json");
  run_file(mpath, e->out, "manifest.json");
  struct stat st;
  if (o->resume && stat(path, &st) != 0)
    return snn_err_set(err, SNN_EIO, path, "", "no checkpoint to resume from (run without --resume to start)");
  int rc = o->resume ? SNN_OK : mkdir_p(e->out, err);
  if (!rc) rc = lock_out(e->out, &T->lock, err);
  if (rc) return rc;
  remove_stale(e->out);
  *start = 0;
  char *man = manifest(e);
  if (!man) return snn_err_set(err, SNN_ENOMEM, mpath, "", "out of memory");
  snn_outset out;
  snn_outset_init(&out);
  snn_data d = {0};
  snn_buf b = {0};
  if (o->resume) {
    rc = load_checkpoint(T, start, log, err);
  } else {
    char ipath[RUN_PATH_MAX], lpath[RUN_PATH_MAX];
    run_file(ipath, e->out, "params_initial.json");
    run_file(lpath, e->out, "log.csv");
    snn_buf_puts(log, "update,train_loss,eval_loss,eval_acc\n");
    /* the starting point, for before-and-after comparisons */
    rc = snapshot(T, &d);
    if (!rc) rc = snn_data_format(T->s, &d, &b, ipath, err);
    snn_buf_puts(&b, "}\n");
    if (!rc && b.oom) rc = snn_err_set(err, SNN_ENOMEM, ipath, "", "out of memory");
    if (!rc) rc = snn_outset_add(&out, ipath, b.p, b.len, err);
    if (!rc) rc = snn_outset_add(&out, lpath, log->p, log->len, err);
  }
  if (!rc) rc = snn_outset_add(&out, mpath, man, strlen(man), err);
  rc = rc ? (snn_outset_abort(&out), rc) : snn_outset_commit(&out, err);
  free(man);
  snn_buf_free(&b);
  snn_data_clear(&d);
  return rc;
}

/* One update of the deferred rules: the mean gradient of a minibatch
 * (online rules have updated inside each sequence already). */
static int batch_update(trainer *T, size_t step, double *L, snn_err *err) {
  const snn_experiment *e = T->e;
  size_t B = e->batch, P = T->s->P, cross[SNN_MAX_LAYERS];
  double spikes[SNN_MAX_LAYERS];
  rctx *c = T->c;
  real loss;
  r_init(loss, c);
  int rc = SNN_OK;
  *L = 0;
  for (size_t i = 0; i < P; i++) r_zero(T->gsum + i, c);
  for (size_t b = 0; b < B && !rc; b++) {
    set_sample(T, 0, train_index(T, step * B + b));
    T->N->hook = e->online ? &T->hook : NULL;
    rc = T->fn(T->N, &e->rule, T->g, loss, cross, spikes, NULL, err);
    T->N->hook = NULL;
    if (rc) break;
    *L += r_get_d(loss);
    for (size_t i = 0; i < P; i++) r_add(T->gsum + i, T->gsum + i, T->g + i, c);
  }
  r_clear(loss, c);
  if (rc) {
    size_t n = strlen(e->path);
    if (n >= sizeof err->file) n = sizeof err->file - 1;
    if (!err->file[0]) memcpy(err->file, e->path, n), err->file[n] = 0;
    return rc;
  }
  *L /= (double)B;
  r_set_d(T->tmp, 1.0 / (double)B, c);
  for (size_t i = 0; i < P; i++) r_mul(T->gsum + i, T->gsum + i, T->tmp, c);
  update(T, T->gsum); /* online: what came after the last update inside the sequence */
  return SNN_OK;
}

/* The log row of update `done`, evaluating where the schedule says. */
static void log_update(trainer *T, size_t done, double L, snn_buf *log, snn_train_res *res, double *eloss,
                       double *eacc) {
  const snn_experiment *e = T->e;
  int ev = done % e->eval_every == 0 || done == e->updates;
  *eloss = *eacc = NAN;
  if (ev) evaluate_at(T, eloss, eacc);
  snn_buf_printf(log, "%zu,%.9g,", done, L);
  if (ev)
    snn_buf_printf(log, "%.9g,", *eloss);
  else
    snn_buf_puts(log, ",");
  if (ev && !isnan(*eacc))
    snn_buf_printf(log, "%.6g\n", *eacc);
  else
    snn_buf_puts(log, "\n");
  if (ev) res->eval_loss = *eloss, res->eval_acc = *eacc;
}

/* The final parameters (FPTT: the running average) and the network they belong to. */
static int run_finish(trainer *T, snn_err *err) {
  const snn_experiment *e = T->e;
  char path[RUN_PATH_MAX];
  if (!strcmp(e->rule.name, "fptt"))
    for (size_t i = 0; i < T->s->P; i++) r_set(T->N->theta + i, T->wbar + i, T->c);
  snn_data d;
  run_file(path, e->out, "params.json");
  int rc = snapshot(T, &d);
  if (!rc) rc = snn_data_write(T->s, &d, path, err);
  snn_data_clear(&d);
  run_file(path, e->out, "network.json");
  if (!rc) rc = snn_write_atomic(path, e->net_json, strlen(e->net_json), err);
  return rc;
}

/* The updates from `start` to `stop`: log, progress, checkpoints; an
 * interruption ends the loop after a checkpoint. */
static int run_updates(trainer *T, const snn_train_opts *o, size_t start, size_t stop, fptt_bufs *F, snn_buf *log,
                       snn_train_res *res, snn_err *err) {
  const snn_experiment *e = T->e;
  double t0 = now(), eloss, eacc;
  int rc = SNN_OK;
  for (size_t step = start; step < stop && !rc; step++) {
    double L = 0;
    if (F->B) {
      if (fptt_batch(T, step, F->trs, F->X, F->Y, F->lab, F->w, &L)) T->diverged = 1;
    } else if ((rc = batch_update(T, step, &L, err))) {
      break;
    }
    if (T->diverged || !isfinite(L))
      return snn_err_set(err, SNN_ENONFINITE, e->path, "optimizer.lr",
                         "diverged at update %zu: the loss or a gradient is not finite (lower the learning rate or set "
                         "\"clip\")",
                         step + 1);
    size_t done = step + 1;
    int stopping = o->interrupt && *o->interrupt;
    res->train_loss = L;
    log_update(T, done, L, log, res, &eloss, &eacc);
    if (isinf(eloss) || (isnan(eloss) && (done % e->eval_every == 0 || done == e->updates)))
      return snn_err_set(err, SNN_ENONFINITE, e->path, "optimizer.lr",
                         "diverged at update %zu: the evaluation loss is not finite (lower the learning rate or set "
                         "\"clip\")",
                         done);
    if (o->progress) {
      snn_train_progress p = {done, e->updates, L, eloss, eacc, (double)(done - start) / (now() - t0)};
      o->progress(o->progress_ctx, &p);
    }
    if (done % e->ckpt_every == 0 || done == stop || stopping) rc = write_checkpoint(T, done, log, err);
    res->updates = done;
    if (!rc && stopping && done < stop)
      return snn_err_set(err, SNN_EINTR, e->out, "",
                         "interrupted after update %zu of %zu; the checkpoint is written (continue with --resume)",
                         done, e->updates);
  }
  return rc;
}

int SNN_SFX(snn_train)(const snn_experiment *e, const snn_train_opts *o, snn_train_res *res, snn_err *err);

int SNN_SFX(snn_train)(const snn_experiment *e, const snn_train_opts *o, snn_train_res *res, snn_err *err) {
  const snn_spec *s = e->spec;
  rctx c;
  if (SNN_SFX(snn_rctx_init)(&c, e->prec))
    return snn_err_set(err, SNN_EVALUE, e->path, "precision", "expected a precision this build supports, found %ld",
                       e->prec);
  net N;
  snn_data d0;
  int rc = snn_data_generate(s, &d0, err);
  if (!rc && (rc = SNN_SFX(snn_net_init)(&N, s, &d0, &c))) rc = snn_err_set(err, rc, s->path, "", "out of memory");
  snn_data_clear(&d0);
  if (rc) {
    SNN_SFX(snn_rctx_clear)(&c);
    return rc;
  }
  trainer T;
  fptt_bufs F = {0};
  snn_buf log = {0};
  size_t K = e->fptt.chunks ? e->fptt.chunks : 1, start = 0;
  rc = trainer_init(&T, e, &N, &c);
  if (!rc && !strcmp(e->rule.name, "fptt")) rc = fptt_bufs_init(&F, &N, e->batch, (s->T + K - 1) / K);
  if (rc) rc = snn_err_set(err, SNN_ENOMEM, e->path, "", "out of memory");
  res->eval_loss = res->eval_acc = res->train_loss = NAN;
  if (!rc) rc = run_start(&T, o, &start, &log, err);
  size_t stop = o->until && o->until < e->updates ? o->until : e->updates;
  if (!rc) rc = run_updates(&T, o, start, stop, &F, &log, res, err);
  if (!rc && stop == e->updates) rc = run_finish(&T, err);
  fptt_bufs_clear(&F, &N);
  trainer_clear(&T);
  snn_buf_free(&log);
  SNN_SFX(snn_net_clear)(&N);
  SNN_SFX(snn_rctx_clear)(&c);
  return rc;
}
