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
#include "par/par.h"
#include "sim/driver.h"
#include "sim/rules/rules.h"

/* FPTT's minibatch in lockstep, shard by shard: each shard's sequences are
 * one batch of the engine, with a trajectory segment that carries their
 * states from chunk to chunk, and their inputs, targets and labels (the
 * worker that runs a shard's chunk may change from chunk to chunk).
 * B = 0: not FPTT. */
typedef struct {
  size_t B, len;
  size_t S, cap; /* shards, and sequences per shard the buffers hold */
  traj *trs;     /* S */
  relt **X, **Y; /* S: T * cap * n_in and T * cap * n_out, time-major */
  long *lab;     /* S * cap */
} fptt_bufs;

/* A worker: one thread's network (worker 0 uses the run's own), its
 * precision context and buffers.  Everything a worker touches during a
 * parallel phase is its own, or read-only, or a slot of its own shard. */
typedef struct {
  net Nown;
  rctx cown;
  int own;                  /* 1: Nown and cown are this worker's (workers > 0) */
  net *N;                   /* the network it runs */
  rctx *c;                  /* its precision context */
  relt *X0, *Y0;            /* the network's own input/target storage */
  long *L0;                 /* ... and labels */
  real loss;                /* one sample's loss */
  double *xb, *yb;          /* one sample, double */
  traj tr;                  /* evaluation */
  SNN_SFX(snn_bptt_ws) * w; /* FPTT's chunk gradient */
  relt *sm;                 /* FPTT's time-weighted loss: n_out + 2 scalars */
  SNN_SFX(snn_keep) keep;   /* the rule's buffers, kept from sample to sample */
  int ready, fresh;         /* initialised; parameters copied for this phase */
  int rc;                   /* first failure in this phase, with its message */
  snn_err err;
} worker;

typedef struct {
  const snn_experiment *e;
  const snn_spec *s;
  net *N;
  rctx *c;
  SNN_SFX(snn_rule_fn) fn;
  /* parallel work (docs/distributed.md): the minibatch is summed in S fixed
   * shards; this rank owns shards [sh_lo, sh_hi), its workers take them in
   * turn, and the shards' sums meet in shard order on every rank */
  const snn_group *grp;
  int rank, R;
  snn_pool *pool;
  int nw;
  worker *W;
  size_t S, sh_lo, sh_hi, step, fp; /* fp: FPTT's chunk */
  relt *G;                          /* S * P: the shards' gradient sums */
  double *Lsh;                      /* S: the shards' loss sums */
  unsigned char *pk;                /* the shards' byte images, in shard order */
  size_t pk_one;                    /* bytes of one shard's image */
  double *el;                       /* evaluation: loss and hit per sample */
  double *q;                        /* FPTT time-weighted loss: estimate[class][chunk][class] */
  double *qrec;                     /* per sample of the batch: label, misclassified, softmax (C + 2) */
  const snn_data *d0;               /* the generated parameters, for the workers' networks */
  fptt_bufs F;
  relt *g, *gsum, *m, *v, *wbar, *lam, *save; /* save: FPTT's W during evaluation on Wbar, or an online update */
  real b1p, b2p, tmp, tmp2;                   /* beta1^t, beta2^t; scratch */
  size_t nupd;                                /* parameter updates so far (online: several per sequence) */
  SNN_SFX(snn_hook) hook;
  int diverged;
  int lock;                    /* the output folder's lock, or -1 */
  double sec_update, sec_eval; /* seconds in the optimiser and the evaluations */
  relt *ro_w0;                 /* the readout weights at update 0 (adaptive feedback) */
  size_t nro0;
} trainer;

/* The n-th training sample's index: the stream itself for generated tasks,
 * a hashed draw (with replacement) from a data set. */
static size_t train_index(const trainer *T, size_t n) {
  size_t cnt = snn_task_count(&T->e->task, 0);
  if (cnt == SIZE_MAX) return n;
  return (size_t)(snn_mix64(snn_mix64(T->e->seed) ^ n) % cnt);
}

/* Sample `index` of a split into sequence b of worker W's batch (the
 * network's B already set). */
/* Row b of worker W's batch: sample `index` of a split; sid, the sequence's
 * identity for a random initial state (training: its place in the run's
 * stream of sequences, so a sample shown twice draws twice; evaluation: the
 * sample, so every evaluation sees the same states). */
static void set_sample_row(const trainer *T, worker *W, int split, size_t index, size_t b, unsigned long long sid) {
  const snn_task *t = &T->e->task;
  net *N = W->N;
  size_t B = N->B, ni = t->n_in, no = t->n_out;
  long label;
  snn_task_sample(t, split, T->e->seed + (unsigned long)split, index, W->xb, W->yb, &label);
  for (size_t st = 0; st < t->T; st++)
    for (size_t i = 0; i < ni; i++) r_set_d(N->x + (st * B + b) * ni + i, W->xb[st * ni + i], W->c);
  if (t->loss == SNN_LOSS_MSE)
    for (size_t st = 0; st < t->T; st++)
      for (size_t i = 0; i < no; i++) r_set_d(N->y + (st * B + b) * no + i, W->yb[st * no + i], W->c);
  N->label[b] = label;
  N->sid[b] = sid;
}

/* Sample `index` of a split as worker W's one sequence. */
static void set_sample(const trainer *T, worker *W, int split, size_t index) {
  W->N->B = 1;
  set_sample_row(T, W, split, index, 0, split ? 1ULL << 63 | index : index);
}

/* Before its first job of a phase, a worker with its own network takes the
 * run's parameters (and derives its constants in its own thread). */
static void sync_worker(const trainer *T, worker *W) {
  if (W->fresh) return;
  W->fresh = 1;
  if (!W->own) return;
  for (size_t i = 0; i < T->s->P; i++) r_set(W->N->theta + i, T->N->theta + i, W->c);
  SNN_SFX(snn_net_derive)(W->N);
}

/* A parallel phase: every worker syncs, then fn runs on jobs 0..njobs-1. */
static void run_phase(trainer *T, void (*fn)(void *, int, size_t), size_t njobs) {
  for (int w = 0; w < T->nw; w++) T->W[w].fresh = 0, T->W[w].rc = SNN_OK;
  snn_pool_run(T->pool, fn, T, njobs);
}

/* The first failure of a phase (lowest worker), copied into err. */
static int phase_status(trainer *T, snn_err *err) {
  for (int w = 0; w < T->nw; w++)
    if (T->W[w].rc) {
      *err = T->W[w].err;
      return T->W[w].rc;
    }
  return SNN_OK;
}

/* The shards' sums of every rank, to every rank: each rank's own shards are
 * sent as exact byte images (of the gradient, then the loss as a double). */
static int gather_shards(trainer *T, snn_err *err) {
  if (T->R == 1) return SNN_OK;
  size_t P = T->s->P, one = T->pk_one, *counts = malloc((size_t)T->R * sizeof *counts);
  if (!counts) return snn_err_set(err, SNN_ENOMEM, T->e->path, "", "out of memory");
  for (size_t sh = T->sh_lo; sh < T->sh_hi; sh++) {
    unsigned char *b = T->pk + sh * one;
    SNN_SFX(snn_vec_pack)(T->G + sh * P, P, b, T->c);
    memcpy(b + one - sizeof(double), &T->Lsh[sh], sizeof(double));
  }
  for (int r = 0; r < T->R; r++) {
    size_t lo, hi;
    snn_share(T->S, r, T->R, &lo, &hi);
    counts[r] = (hi - lo) * one;
  }
  /* in place: this rank's part already sits where the gathered image puts it */
  unsigned char *mine = T->pk + T->sh_lo * one;
  size_t n = (T->sh_hi - T->sh_lo) * one;
  unsigned char *tmp = n ? malloc(n) : NULL;
  if (n && !tmp) {
    free(counts);
    return snn_err_set(err, SNN_ENOMEM, T->e->path, "", "out of memory");
  }
  if (n) memcpy(tmp, mine, n);
  int rc = snn_group_allgatherv(T->grp, tmp, n, T->pk, counts);
  free(tmp), free(counts);
  if (rc) return snn_err_set(err, SNN_EIO, T->e->path, "", "the exchange between MPI ranks failed");
  for (size_t sh = 0; sh < T->S; sh++) {
    if (sh >= T->sh_lo && sh < T->sh_hi) continue;
    const unsigned char *b = T->pk + sh * one;
    SNN_SFX(snn_vec_unpack)(T->G + sh * P, P, b, T->c);
    memcpy(&T->Lsh[sh], b + one - sizeof(double), sizeof(double));
  }
  return SNN_OK;
}

/* A failure on any rank stops every rank at the same point: the rank that
 * failed has its own message, the others say why they stopped. */
static int agree(trainer *T, int rc, snn_err *err) {
  if (T->R == 1 || !snn_group_max(T->grp, rc != SNN_OK)) return rc;
  if (rc) return rc;
  return snn_err_set(err, SNN_EIO, T->e->out, "", "stopped: another MPI rank failed (its message says why)");
}

/* The minibatch mean from the shards' sums, added in shard order. */
static double sum_shards(trainer *T, relt *out, size_t nshards) {
  size_t P = T->s->P;
  rctx *c = T->c;
  double L = 0;
  for (size_t sh = 0; sh < nshards; sh++) L += T->Lsh[sh];
  r_set_d(T->tmp, 1.0 / (double)T->e->batch, c);
  /* each element 0 + shard 0 + shard 1 + ..., then scaled: one pass */
  for (size_t i = 0; i < P; i++) {
    R_LOCAL(a, c->leaf);
    r_zero(a, c);
    for (size_t sh = 0; sh < nshards; sh++) r_add(a, a, T->G + sh * P + i, c);
    r_mul(out + i, a, T->tmp, c);
  }
  return L / (double)T->e->batch;
}

/* batch_norm's running statistics of steps lo+1..hi from the minibatch's
 * (g holds them where the gradient of a statistic would be; bn_backward in
 * sim/rules/bptt.c): r = (1 - momentum) r + momentum g (docs/batchnorm.md).
 * FPTT's running average and dual state follow them (Wbar = W, lambda = 0:
 * they are not parameters of its objective). */
static void bn_running(trainer *T, const relt *g, size_t lo, size_t hi) {
  const snn_spec *s = T->s;
  rctx *c = T->c;
  for (size_t b = 0; b < s->nblk; b++) {
    const snn_block *bk = &s->blk[b];
    if (bk->kind != SNN_BLK_BN_MEAN && bk->kind != SNN_BLK_BN_VAR) continue;
    double m = bk->layer < 0 ? s->ro_bn_momentum : s->layers[bk->layer].bn_momentum;
    for (size_t i = bk->off + lo * bk->cols; i < bk->off + hi * bk->cols; i++) {
      relt *th = T->N->theta + i;
      r_mul_d(th, th, 1.0 - m, c);
      r_mul_d(T->tmp, g + i, m, c);
      r_add(th, th, T->tmp, c);
    }
  }
}

static void bn_follow(trainer *T) {
  const snn_spec *s = T->s;
  for (size_t b = 0; T->wbar && b < s->nblk; b++) {
    const snn_block *bk = &s->blk[b];
    if (bk->kind != SNN_BLK_BN_MEAN && bk->kind != SNN_BLK_BN_VAR) continue;
    for (size_t i = bk->off; i < bk->off + bk->rows * bk->cols; i++) {
      r_set(T->wbar + i, T->N->theta + i, T->c);
      r_zero(T->lam + i, T->c);
    }
  }
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
    if (lo == -INFINITY && hi == INFINITY) continue; /* (weights: nothing to clamp) */
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

static double now(void);
static void update_step(trainer *T, relt *g);

/* One optimiser step from the gradient g (changed: masked and clipped). */
static void update(trainer *T, relt *g) {
  double t0 = now();
  update_step(T, g);
  T->sec_update += now() - t0;
}

/* m = b1 m + (1 - b1) g (w: scratch) */
static inline void moment1(relt *m, const relt *g, double b1, relt *w, rctx *c) {
  r_mul_d(m, m, b1, c);
  r_mul_d(w, g, 1.0 - b1, c);
  r_add(m, m, w, c);
}

static void update_step(trainer *T, relt *g) {
  const snn_experiment *e = T->e;
  const snn_spec *s = T->s;
  rctx *c = T->c;
  relt *th = T->N->theta, *a = T->tmp;
  mask(s, g, c);
  int bad = 0;
  for (size_t i = 0; i < s->P; i++) bad |= !r_isfinite(g + i);
  if (bad) T->diverged = 1;
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
  const double b1 = e->beta1, b2 = e->beta2, lr = e->lr, eps = e->eps, mu = e->momentum;
  for (size_t b = 0; b < s->nblk; b++) {
    const snn_block *bk = &s->blk[b];
    if (!bk->trainable) continue;
    /* one loop per optimiser, without branches or stores that might alias
     * the bias corrections, so that the double build vectorises it */
    size_t i0 = bk->off, i1 = bk->off + bk->rows * bk->cols;
    relt *restrict tp = th, *restrict mp = T->m, *restrict vp = T->v;
    const relt *restrict gp = g, *b1p = T->b1p, *b2p = T->b2p;
    if (e->opt == SNN_OPT_SGD) { /* m = mu m + g; theta -= lr m */
      for (size_t i = i0; i < i1; i++) {
        R_LOCAL(w, c->leaf);
        r_mul_d(mp + i, mp + i, mu, c);
        r_add(mp + i, mp + i, gp + i, c);
        r_mul_d(w, mp + i, lr, c);
        r_sub(tp + i, tp + i, w, c);
      }
      continue;
    }
    R_LOCAL(c1, T->tmp);  /* 1 - b1^t */
    R_LOCAL(c2, T->tmp2); /* 1 - b2^t */
    r_d_sub(c1, 1.0, b1p, c);
    r_d_sub(c2, 1.0, b2p, c);
    /* adam: v = b2 v + (1 - b2) g^2; theta -= lr (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps) */
    if (e->opt == SNN_OPT_ADAM)
      for (size_t i = i0; i < i1; i++) {
        R_LOCAL(w, c->leaf);
        moment1(mp + i, gp + i, b1, w, c);
        r_mul_d(vp + i, vp + i, b2, c);
        r_mul(w, gp + i, gp + i, c);
        r_mul_d(w, w, 1.0 - b2, c);
        r_add(vp + i, vp + i, w, c);
        r_div(w, vp + i, c2, c);
        r_sqrt(w, w, c);
        r_add_d(w, w, eps, c);
        r_mul(w, w, c1, c);
        r_div(w, mp + i, w, c);
        r_mul_d(w, w, lr, c);
        r_sub(tp + i, tp + i, w, c);
      }
    else /* adamax: u = max(b2 u, |g|); theta -= lr / (1 - b1^t) m / (u + eps) */
      for (size_t i = i0; i < i1; i++) {
        R_LOCAL(w, c->leaf);
        moment1(mp + i, gp + i, b1, w, c);
        r_mul_d(vp + i, vp + i, b2, c);
        r_abs(w, gp + i, c);
        if (r_cmp(w, vp + i) > 0) r_set(vp + i, w, c);
        r_add_d(w, vp + i, eps, c);
        r_mul(w, w, c1, c);
        r_div(w, mp + i, w, c);
        r_mul_d(w, w, lr, c);
        r_sub(tp + i, tp + i, w, c);
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

/* The evaluation runs in fixed groups of samples [g C, (g+1) C) (C the
 * workers' batch capacity), which are the batches whatever the threads and
 * ranks: a sample's numbers depend on the batch it runs in (double: a
 * product of another number of rows sums in another order).  Groups [g0, g1)
 * of rank r of R, or of worker w of nw within them: their samples. */
static void eval_groups(const trainer *T, size_t n, size_t who, size_t of, size_t g0, size_t g1, size_t *lo,
                        size_t *hi) {
  size_t C = T->N->Bcap, a, z;
  snn_share(g1 - g0, (int)who, (int)of, &a, &z);
  *lo = (g0 + a) * C < n ? (g0 + a) * C : n;
  *hi = (g0 + z) * C < n ? (g0 + z) * C : n;
}

/* Evaluation samples of this rank, split over the workers in whole groups:
 * loss and hit (1 if the argmax of the readout summed over the loss window
 * is the label) per sample into el. */
static void eval_job(void *ctx, int wid, size_t job) {
  trainer *T = ctx;
  worker *W = &T->W[wid];
  const snn_spec *s = T->s;
  size_t n = T->e->eval_samples, cnt = snn_task_count(&T->e->task, 1), K = s->n_out, C = W->N->Bcap, lo, hi;
  if (cnt < n) n = cnt;
  sync_worker(T, W);
  W->N->bn_train = 0; /* evaluation: the running statistics */
  size_t G = (n + C - 1) / C, r0, r1;
  snn_share(G, T->rank, T->R, &r0, &r1); /* this rank's groups */
  eval_groups(T, n, job, (size_t)T->nw, r0, r1, &lo, &hi);
  for (size_t i0 = lo; i0 < hi; i0 += C) {
    size_t nb = hi - i0 < C ? hi - i0 : C;
    W->N->B = nb;
    for (size_t b = 0; b < nb; b++) set_sample_row(T, W, 1, i0 + b, b, 1ULL << 63 | (i0 + b));
    SNN_SFX(snn_forward)(W->N, &W->tr);
    for (size_t b = 0; b < nb; b++) {
      size_t i = i0 + b;
      T->el[2 * i] = r_get_d(W->tr.loss + b);
      T->el[2 * i + 1] = 0;
      if (s->loss != SNN_LOSS_CE) continue;
      size_t best = 0;
      double bv = -INFINITY;
      for (size_t k = 0; k < K; k++) {
        double v = 0;
        for (size_t t = s->win_first; t <= s->win_last; t++) v += r_get_d(W->tr.yo + (t * nb + b) * K + k);
        if (v > bv) bv = v, best = k;
      }
      T->el[2 * i + 1] = (long)best == W->N->label[b];
    }
  }
  W->N->B = 1;
}

/* Mean loss and accuracy over the first eval_samples samples of the test
 * split, summed in sample order whatever the threads and ranks. */
static int evaluate(trainer *T, double *loss, double *acc) {
  const snn_experiment *e = T->e;
  size_t n = e->eval_samples, cnt = snn_task_count(&e->task, 1);
  if (cnt < n) n = cnt;
  run_phase(T, eval_job, (size_t)T->nw);
  if (T->R > 1) {
    size_t *counts = malloc((size_t)T->R * sizeof *counts), lo, hi;
    if (!counts) return SNN_ENOMEM;
    size_t G = (n + T->N->Bcap - 1) / T->N->Bcap;
    for (int r = 0; r < T->R; r++) {
      eval_groups(T, n, (size_t)r, (size_t)T->R, 0, G, &lo, &hi);
      counts[r] = 2 * (hi - lo) * sizeof(double);
    }
    eval_groups(T, n, (size_t)T->rank, (size_t)T->R, 0, G, &lo, &hi);
    double *mine = malloc(counts[T->rank] ? counts[T->rank] : 1);
    int rc = mine ? SNN_OK : SNN_ENOMEM;
    if (!rc) memcpy(mine, T->el + 2 * lo, counts[T->rank]);
    if (!rc && snn_group_allgatherv(T->grp, mine, counts[T->rank], T->el, counts)) rc = SNN_EIO;
    free(mine), free(counts);
    if (rc) return rc;
  }
  double L = 0, hit = 0;
  for (size_t i = 0; i < n; i++) L += T->el[2 * i], hit += T->el[2 * i + 1];
  *loss = L / (double)n;
  *acc = T->s->loss == SNN_LOSS_CE ? hit / (double)n : NAN;
  return SNN_OK;
}

/* FPTT evaluates on the running average Wbar. */
static int evaluate_at(trainer *T, double *loss, double *acc) {
  int fptt = !strcmp(T->e->rule.name, "fptt");
  size_t P = T->s->P;
  if (fptt) {
    for (size_t i = 0; i < P; i++) r_set(T->save + i, T->N->theta + i, T->c), r_set(T->N->theta + i, T->wbar + i, T->c);
    SNN_SFX(snn_net_derive)(T->N);
  }
  int rc = evaluate(T, loss, acc);
  if (fptt) {
    for (size_t i = 0; i < P; i++) r_set(T->N->theta + i, T->save + i, T->c);
    SNN_SFX(snn_net_derive)(T->N);
  }
  return rc;
}

/* FPTT's time-weighted loss (docs/fptt.md), chunk p of K, for a sequence
 * whose trajectory segment has `len` rows: the only dE/dy is at the chunk's
 * last step, (p+1)/K (softmax - onehot) + (1 - (p+1)/K)/C (sum_c q_c softmax
 * - q), with q the running estimate for the label at this chunk; the
 * sequence's softmax and whether it is misclassified go to rec. */
static void weighted_signal(const trainer *T, worker *W, traj *tr, size_t len, size_t b, long label, size_t p,
                            double *rec) {
  size_t C = T->s->n_out, K = T->e->fptt.chunks, B = W->N->B;
  rctx *c = W->c;
  relt *sm = W->sm, *mx = W->sm + C, *t = W->sm + C + 1;
  for (size_t r = 1; r <= len; r++)
    for (size_t k = 0; k < C; k++) r_zero(tr->dEdy + (r * B + b) * C + k, c);
  const relt *y = tr->yo + (len * B + b) * C;
  relt *g = tr->dEdy + (len * B + b) * C;
  size_t best = 0;
  r_set(mx, y, c);
  for (size_t k = 1; k < C; k++)
    if (r_cmp(y + k, mx) > 0) r_set(mx, y + k, c), best = k;
  r_zero(t, c);
  for (size_t k = 0; k < C; k++) {
    r_sub(sm + k, y + k, mx, c);
    r_exp(sm + k, sm + k, c);
    r_add(t, t, sm + k, c);
  }
  for (size_t k = 0; k < C; k++) r_div(sm + k, sm + k, t, c);
  rec[0] = (double)label, rec[1] = (long)best != label;
  for (size_t k = 0; k < C; k++) rec[2 + k] = r_get_d(sm + k);
  double w1 = (double)(p + 1) / (double)K, w2 = (1.0 - w1) / (double)C;
  const double *q = T->q + ((size_t)label * K + p) * C;
  r_zero(mx, c); /* sum_c q_c softmax_c */
  for (size_t k = 0; k < C && p + 1 < K; k++) {
    r_mul_d(t, sm + k, q[k], c);
    r_add(mx, mx, t, c);
  }
  for (size_t k = 0; k < C; k++) {
    r_set(g + k, sm + k, c);
    if ((long)k == label) r_add_d(g + k, g + k, -1.0, c);
    r_mul_d(g + k, g + k, w1, c);
    if (p + 1 == K) continue; /* the last chunk: the label alone */
    r_add_d(t, mx, -q[k], c);
    r_mul_d(t, t, w2, c);
    r_add(g + k, g + k, t, c);
  }
}

/* After chunk p: the estimate for each class takes the softmax of the
 * batch's first misclassified sequence of that class (in batch order; the
 * records of every rank gathered first).  The last chunk keeps none. */
static int update_estimate(trainer *T, size_t p, snn_err *err) {
  size_t B = T->e->batch, C = T->s->n_out, K = T->e->fptt.chunks, one = (C + 2) * sizeof(double);
  if (T->R > 1) {
    size_t *counts = malloc((size_t)T->R * sizeof *counts), lo, hi, blo, bhi, z;
    if (!counts) return snn_err_set(err, SNN_ENOMEM, T->e->path, "", "out of memory");
    for (int r = 0; r < T->R; r++) {
      snn_share(T->S, r, T->R, &lo, &hi);
      snn_share(B, (int)lo, (int)T->S, &blo, &z);
      snn_share(B, (int)hi, (int)T->S, &bhi, &z);
      counts[r] = (bhi - blo) * one;
    }
    snn_share(B, (int)T->sh_lo, (int)T->S, &blo, &z);
    double *mine = malloc(counts[T->rank] + 1);
    int rc = mine ? 0 : -1;
    if (!rc) memcpy(mine, T->qrec + blo * (C + 2), counts[T->rank]);
    if (!rc) rc = snn_group_allgatherv(T->grp, mine, counts[T->rank], T->qrec, counts);
    free(mine), free(counts);
    if (rc) return snn_err_set(err, SNN_EIO, T->e->path, "", "the exchange between MPI ranks failed");
  }
  if (p + 1 == K) return SNN_OK;
  char filled[4096] = {0};
  for (size_t b = 0; b < B; b++) {
    const double *rec = T->qrec + b * (C + 2);
    size_t y = (size_t)rec[0];
    if (y >= C || y >= sizeof filled || filled[y] || rec[1] == 0) continue;
    filled[y] = 1;
    memcpy(T->q + (y * K + p) * C, rec + 2, C * sizeof(double));
  }
  return SNN_OK;
}

/* FPTT, chunk p of shard `job` (of this rank): the shard's sequences, one
 * batch, advance one chunk from their carried states (drawn at p = 0), and
 * the chunk's gradient sum goes into the shard's slot. */
static void fptt_job(void *ctx, int wid, size_t job) {
  trainer *T = ctx;
  worker *W = &T->W[wid];
  const snn_spec *s = T->s;
  fptt_bufs *F = &T->F;
  net *N = W->N;
  rctx *c = W->c;
  size_t B = T->e->batch, K = T->e->fptt.chunks, sh = T->sh_lo + job, lo, hi, p = T->fp;
  size_t a = p * s->T / K, z = (p + 1) * s->T / K, prev = p ? (p * s->T / K) - ((p - 1) * s->T / K) : 0;
  sync_worker(T, W);
  snn_share(B, (int)sh, (int)T->S, &lo, &hi);
  traj *tr = &F->trs[sh];
  N->x = F->X[sh], N->y = F->Y[sh], N->label = F->lab + sh * F->cap, N->B = hi - lo;
  if (p == 0) { /* the sequences, and their states at t = 0 */
    for (size_t b = lo; b < hi; b++) set_sample_row(T, W, 0, train_index(T, T->step * B + b), b - lo, T->step * B + b);
    slot z0;
    SNN_SFX(snn_traj_slot)(tr, N, 0, &z0);
    SNN_SFX(snn_slot_start)(N, &z0);
    SNN_SFX(snn_vzero)(N->B, tr->loss, c);
    SNN_SFX(snn_vzero)(N->B * SNN_SFX(snn_nhidden)(s), tr->rate, c);
  } else {
    SNN_SFX(snn_traj_carry)(tr, N, prev);
  }
  N->bn_train = 1;
  SNN_SFX(snn_forward_segment)(N, tr, a, z - a);
  if (T->e->fptt_weighted)
    for (size_t b = lo; b < hi; b++)
      weighted_signal(T, W, tr, z - a, b - lo, N->label[b - lo], p, T->qrec + b * (s->n_out + 2));
  SNN_SFX(snn_bptt_window)(N, tr, W->w, T->G + sh * s->P, 0);
  /* the loss of the whole sequences, known after the last chunk */
  T->Lsh[sh] = 0;
  if (p + 1 == K)
    for (size_t b = 0; b < N->B; b++) T->Lsh[sh] += r_get_d(tr->loss + b);
  N->x = W->X0, N->y = W->Y0, N->label = W->L0, N->B = 1;
  N->bn_train = 0;
}

/* One update of FPTT's full procedure on a minibatch: the samples advance
 * chunk by chunk in lockstep (each with its own carried state); after each
 * chunk the parameters take a step on the batch mean of the chunk loss plus
 * the regulariser, and the dual state and running average move. */
static int fptt_batch(trainer *T, double *loss, snn_err *err) {
  const snn_experiment *e = T->e;
  net *N = T->N;
  rctx *c = T->c;
  size_t K = e->fptt.chunks, P = T->s->P;
  for (T->fp = 0; T->fp < K; T->fp++) {
    run_phase(T, fptt_job, T->sh_hi - T->sh_lo);
    int rc = agree(T, phase_status(T, err), err);
    if (!rc) rc = gather_shards(T, err);
    if (!rc && e->fptt_weighted) rc = update_estimate(T, T->fp, err);
    if (rc) return rc;
    *loss = sum_shards(T, T->gsum, T->S);
    bn_running(T, T->gsum, T->fp * T->s->T / K, (T->fp + 1) * T->s->T / K); /* the chunk's steps */
    /* the regulariser: c alpha (W - Wbar) + (rho - 1) lambda */
    r_zero(T->tmp, c);
    SNN_SFX(snn_fptt_objective)(P, N->theta, T->wbar, T->lam, &e->fptt, T->tmp, T->gsum, c);
    update(T, T->gsum);
    if (T->diverged) return SNN_ENONFINITE;
    SNN_SFX(snn_fptt_dual)(P, N->theta, T->wbar, T->lam, &e->fptt, c);
    bn_follow(T);
  }
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
  worker *W = &T->W[0];
  set_sample(T, W, 1, 0);
  if (snn_nums_init(&d->x, s->T * s->n_in) || snn_nums_init(&d->y, s->loss == SNN_LOSS_MSE ? s->T * s->n_out : 0))
    return SNN_ENOMEM;
  for (size_t i = 0; i < s->T * s->n_in; i++) d->x.v[i] = W->xb[i];
  for (size_t i = 0; s->loss == SNN_LOSS_MSE && i < s->T * s->n_out; i++) d->y.v[i] = W->yb[i];
  d->label = W->N->label[0];
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
  if (!rc && T->q) {
    size_t n = e->fptt.chunks * T->s->n_out * T->s->n_out;
    if (snn_nums_init(&k->estimate, n)) return SNN_ENOMEM;
    memcpy(k->estimate.v, T->q, n * sizeof *T->q);
  }
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
  size_t nq = T->q ? e->fptt.chunks * s->n_out * s->n_out : 0;
  if (snn_ckpt_init(&k, s->P) || (nq && snn_nums_init(&k.estimate, nq)))
    return snn_ckpt_clear(&k), snn_err_set(err, SNN_ENOMEM, path, "", "out of memory");
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
    if (nq) memcpy(T->q, k.estimate.v, nq * sizeof *T->q);
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

/* FPTT's buffers: S shards of up to cap sequences (N's batch capacity)
 * and chunks of up to len steps (F->B and F->len set already). */
static int fptt_bufs_init(fptt_bufs *F, net *N, size_t S) {
  const snn_spec *s = N->spec;
  F->S = S, F->cap = N->Bcap;
  F->trs = calloc(S, sizeof *F->trs), F->X = calloc(S, sizeof *F->X), F->Y = calloc(S, sizeof *F->Y);
  F->lab = calloc(S * F->cap, sizeof *F->lab);
  int ok = F->trs && F->X && F->Y && F->lab;
  for (size_t j = 0; ok && j < S; j++) {
    ok = SNN_SFX(snn_traj_init_len)(&F->trs[j], N, F->len) == SNN_OK;
    if (!ok) F->trs[j].s = NULL;
    F->X[j] = vec_alloc(s->T * F->cap * s->n_in, N->c), F->Y[j] = vec_alloc(s->T * F->cap * s->n_out, N->c);
    ok = ok && F->X[j] && F->Y[j];
  }
  return ok ? SNN_OK : SNN_ENOMEM;
}

static void fptt_bufs_clear(fptt_bufs *F, net *N) {
  const snn_spec *s = N->spec;
  for (size_t j = 0; F->trs && j < F->S; j++)
    if (F->trs[j].s) SNN_SFX(snn_traj_clear)(&F->trs[j], N);
  for (size_t j = 0; F->X && j < F->S; j++) vec_free(F->X[j], s->T * F->cap * s->n_in, N->c);
  for (size_t j = 0; F->Y && j < F->S; j++) vec_free(F->Y[j], s->T * F->cap * s->n_out, N->c);
  free(F->trs), free(F->X), free(F->Y), free(F->lab);
  memset(F, 0, sizeof *F);
}

/* Worker `job`'s network, context and buffers, made in its own thread (an
 * MPFR context sets thread-local exponent limits). */
static void worker_init(void *ctx, int wid, size_t job) {
  trainer *T = ctx;
  worker *W = &T->W[wid];
  const snn_spec *s = T->s;
  (void)job;
  W->rc = SNN_ENOMEM;
  if (wid == 0) {
    W->N = T->N, W->c = T->c;
  } else {
    if (SNN_SFX(snn_rctx_init)(&W->cown, T->e->prec)) return;
    if (SNN_SFX(snn_net_init)(&W->Nown, s, T->d0, &W->cown)) {
      SNN_SFX(snn_rctx_clear)(&W->cown);
      return;
    }
    W->own = 1, W->N = &W->Nown, W->c = &W->cown;
    W->N->ro_w0 = T->ro_w0;
  }
  /* a rule runs a shard at a time: the largest shard's sequences */
  if (SNN_SFX(snn_net_batch)(W->N, (T->e->batch + T->S - 1) / T->S)) return;
  W->X0 = W->N->x, W->Y0 = W->N->y, W->L0 = W->N->label;
  W->N->keep = &W->keep;
  r_init(W->loss, W->c);
  W->xb = calloc(s->T * s->n_in, sizeof *W->xb), W->yb = calloc(s->T * s->n_out + 1, sizeof *W->yb);
  W->ready = 1;
  if (!W->xb || !W->yb || SNN_SFX(snn_traj_init)(&W->tr, W->N)) return;
  if (T->F.B && !(W->w = SNN_SFX(snn_bptt_ws_alloc_len)(W->N, T->F.len))) return;
  if (T->F.B && !(W->sm = vec_alloc(s->n_out + 2, W->c))) return;
  W->rc = SNN_OK;
}

static void worker_clear(void *ctx, int wid, size_t job) {
  trainer *T = ctx;
  worker *W = &T->W[wid];
  (void)job;
  if (!W->ready) return;
  if (W->w) SNN_SFX(snn_bptt_ws_free)(W->w, W->N);
  vec_free(W->sm, T->s->n_out + 2, W->c);
  if (W->tr.s) SNN_SFX(snn_traj_clear)(&W->tr, W->N);
  free(W->xb), free(W->yb);
  r_clear(W->loss, W->c);
  W->N->x = W->X0, W->N->y = W->Y0, W->N->label = W->L0;
  if (W->keep.p) W->keep.release(W->keep.p, W->N);
  W->N->keep = NULL;
  if (W->own) {
    SNN_SFX(snn_net_clear)(&W->Nown);
    SNN_SFX(snn_rctx_clear)(&W->cown);
#ifdef SNN_MPFR
    mpfr_free_cache(); /* this thread's constants */
#endif
  }
  W->ready = 0;
}

/* This rank's shards and the workers that run them. */
static int trainer_par(trainer *T, const snn_train_opts *o) {
  const snn_experiment *e = T->e;
  size_t P = T->s->P;
  T->grp = o->group ? o->group : snn_group_self();
  T->rank = snn_group_rank(T->grp), T->R = snn_group_size(T->grp);
  T->S = e->shards ? e->shards : 1;
  if (e->online) T->S = 1;
  snn_share(T->S, T->rank, T->R, &T->sh_lo, &T->sh_hi);
  int nw = o->threads ? o->threads : e->threads ? e->threads : snn_cores();
  size_t n_ev = e->eval_samples;
  if (nw < 1) nw = 1;
  /* no more threads than there is work for */
  size_t work = T->sh_hi - T->sh_lo > n_ev ? T->sh_hi - T->sh_lo : n_ev;
  if ((size_t)nw > work) nw = (int)(work ? work : 1);
  snn_blas_threads(1); /* the threads are ours: a product's sums never depend on the load */
  T->nw = nw;
  T->W = calloc((size_t)nw, sizeof *T->W);
  T->G = vec_alloc(T->S * P, T->c);
  T->Lsh = calloc(T->S, sizeof *T->Lsh);
  T->el = calloc(2 * (n_ev ? n_ev : 1), sizeof *T->el);
  if (e->fptt_weighted) {
    size_t C = T->s->n_out, K = e->fptt.chunks;
    T->q = calloc(K * C * C, sizeof *T->q); /* starts at zero, as in the sFPTT code */
    T->qrec = calloc(e->batch * (C + 2), sizeof *T->qrec);
    if (!T->q || !T->qrec) return SNN_ENOMEM;
  }
  T->pk_one = SNN_SFX(snn_vec_pack_bytes)(P, T->c) + sizeof(double);
  T->pk = T->R > 1 ? malloc(T->S * T->pk_one) : NULL;
  if (!T->W || !T->G || !T->Lsh || !T->el || (T->R > 1 && !T->pk)) return SNN_ENOMEM;
  if (nw > 1 && !(T->pool = snn_pool_new(nw))) return SNN_ENOMEM;
  snn_pool_run(T->pool, worker_init, T, (size_t)nw);
  for (int w = 0; w < nw; w++)
    if (T->W[w].rc) return SNN_ENOMEM;
  /* FPTT's shards, at the batch capacity the workers took */
  if (T->F.B && fptt_bufs_init(&T->F, T->N, T->S)) return SNN_ENOMEM;
  return SNN_OK;
}

/* The optimiser's state and the buffers of a run, on network N. */
static int trainer_init(trainer *T, const snn_experiment *e, const snn_train_opts *o, net *N, rctx *c,
                        const snn_data *d0) {
  size_t P = e->spec->P;
  const snn_spec *s = e->spec;
  memset(T, 0, sizeof *T);
  T->e = e, T->s = s, T->c = c, T->N = N, T->d0 = d0;
  T->fn = SNN_RULE_FN(&e->rule);
  T->lock = -1;
  r_init(T->b1p, c), r_init(T->b2p, c), r_init(T->tmp, c), r_init(T->tmp2, c);
  r_set_d(T->b1p, 1.0, c), r_set_d(T->b2p, 1.0, c);
  T->g = vec_alloc(P, c), T->gsum = vec_alloc(P, c), T->m = vec_alloc(P, c), T->v = vec_alloc(P, c);
  T->wbar = vec_alloc(P, c), T->lam = vec_alloc(P, c), T->save = vec_alloc(P, c);
  if (!T->g || !T->gsum || !T->m || !T->v || !T->wbar || !T->lam || !T->save) return SNN_ENOMEM;
  size_t K = e->fptt.chunks ? e->fptt.chunks : 1;
  if (!strcmp(e->rule.name, "fptt")) T->F.B = e->batch, T->F.len = (s->T + K - 1) / K; /* made in trainer_par */
  for (size_t i = 0; i < P; i++) r_set(T->wbar + i, N->theta + i, c); /* FPTT: Wbar starts at W, lambda at 0 */
  /* the readout the run starts from (a resumed run too: the checkpoint is
   * read later), for e-prop's adaptive feedback */
  T->nro0 = s->blk[s->blk_ro_w].rows * s->blk[s->blk_ro_w].cols;
  if (!(T->ro_w0 = vec_alloc(T->nro0, c))) return SNN_ENOMEM;
  SNN_SFX(snn_vset)(T->nro0, N->ro_w, T->ro_w0, c);
  N->ro_w0 = T->ro_w0;
  T->hook.every = e->every, T->hook.fn = online_hook, T->hook.ctx = T;
  return trainer_par(T, o);
}

static void trainer_clear(trainer *T) {
  size_t P = T->s->P;
  rctx *c = T->c;
  if (T->W) snn_pool_run(T->pool, worker_clear, T, (size_t)T->nw);
  snn_pool_free(T->pool);
  free(T->W);
  vec_free(T->G, T->S * P, c);
  free(T->Lsh), free(T->el), free(T->pk), free(T->q), free(T->qrec);
  fptt_bufs_clear(&T->F, T->N);
  vec_free(T->g, P, c), vec_free(T->gsum, P, c), vec_free(T->m, P, c), vec_free(T->v, P, c);
  vec_free(T->wbar, P, c), vec_free(T->lam, P, c), vec_free(T->save, P, c);
  vec_free(T->ro_w0, T->nro0, c);
  if (T->N) T->N->ro_w0 = NULL;
  r_clear(T->b1p, c), r_clear(T->b2p, c), r_clear(T->tmp, c), r_clear(T->tmp2, c);
  unlock_out(T->e->out, T->lock);
}

/* The output folder, locked and cleaned of stale temporaries; the
 * checkpoint to resume from, or the first files of a new run (the initial
 * parameters, the manifest and the log's header, all or nothing). */
static int run_start_files(trainer *T, const snn_train_opts *o, size_t *start, snn_buf *log, snn_err *err) {
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
    rc = snn_manifest_check_resume(mpath, e->config, e->net_json, e->path, err);
    if (!rc) rc = load_checkpoint(T, start, log, err);
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

/* Shard `job` of this rank (deferred rules): each sample's gradient under
 * the rule, summed in sample order into the shard's slot. */
static void grad_job(void *ctx, int wid, size_t job) {
  trainer *T = ctx;
  worker *W = &T->W[wid];
  const snn_experiment *e = T->e;
  size_t B = e->batch, P = T->s->P, sh = T->sh_lo + job, lo, hi, cross[SNN_MAX_LAYERS];
  double spikes[SNN_MAX_LAYERS];
  rctx *c = W->c;
  sync_worker(T, W);
  snn_share(B, (int)sh, (int)T->S, &lo, &hi);
  relt *G = T->G + sh * P;
  for (size_t i = 0; i < P; i++) r_zero(G + i, c);
  T->Lsh[sh] = 0;
  /* the shard as one batch: its gradient sum and loss sum (online: one
   * sequence, on worker 0, with the updates inside it) */
  W->N->B = hi - lo;
  for (size_t b = lo; b < hi; b++) set_sample_row(T, W, 0, train_index(T, T->step * B + b), b - lo, T->step * B + b);
  W->N->hook = e->online ? &T->hook : NULL;
  W->N->bn_train = 1; /* the shard's statistics (docs/batchnorm.md) */
  W->rc = hi > lo ? T->fn(W->N, &e->rule, G, W->loss, cross, spikes, NULL, &W->err) : SNN_OK;
  W->N->hook = NULL;
  W->N->bn_train = 0;
  if (!W->rc && hi > lo) T->Lsh[sh] = r_get_d(W->loss);
  W->N->B = 1;
}

/* The run's start on every rank: rank 0 prepares the folder and its first
 * files; the others only read the checkpoint when resuming. */
static int run_start(trainer *T, const snn_train_opts *o, size_t *start, snn_buf *log, snn_err *err) {
  int rc;
  if (T->rank == 0) {
    rc = run_start_files(T, o, start, log, err);
  } else {
    *start = 0;
    rc = o->resume ? load_checkpoint(T, start, log, err) : SNN_OK;
    if (!o->resume) snn_buf_puts(log, "update,train_loss,eval_loss,eval_acc\n");
  }
  return agree(T, rc, err);
}

/* One update of the deferred rules: the mean gradient of a minibatch
 * (online rules have updated inside each sequence already, and every rank
 * runs the one sequence itself). */
static int batch_update(trainer *T, double *L, snn_err *err) {
  const snn_experiment *e = T->e;
  size_t lo = e->online ? 0 : T->sh_lo, hi = e->online ? T->S : T->sh_hi;
  size_t slo = T->sh_lo, shi = T->sh_hi;
  T->sh_lo = lo, T->sh_hi = hi;
  run_phase(T, grad_job, hi - lo);
  T->sh_lo = slo, T->sh_hi = shi;
  int rc = phase_status(T, err);
  if (!e->online) rc = agree(T, rc, err);
  if (!rc && !e->online) rc = gather_shards(T, err);
  if (rc) {
    size_t n = strlen(e->path);
    if (n >= sizeof err->file) n = sizeof err->file - 1;
    if (!err->file[0]) memcpy(err->file, e->path, n), err->file[n] = 0;
    return rc;
  }
  *L = sum_shards(T, T->gsum, T->S);
  if (!e->online) bn_running(T, T->gsum, 0, T->s->T);
  update(T, T->gsum); /* online: what came after the last update inside the sequence */
  return SNN_OK;
}

/* The log row of update `done`, evaluating where the schedule says. */
static int log_update(trainer *T, size_t done, double L, snn_buf *log, snn_train_res *res, double *eloss,
                      double *eacc) {
  const snn_experiment *e = T->e;
  int ev = done % e->eval_every == 0 || done == e->updates;
  *eloss = *eacc = NAN;
  double t0 = now();
  if (ev && evaluate_at(T, eloss, eacc)) return SNN_EIO;
  T->sec_eval += now() - t0;
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
  return SNN_OK;
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
static int run_updates(trainer *T, const snn_train_opts *o, size_t start, size_t stop, snn_buf *log, snn_train_res *res,
                       snn_err *err) {
  const snn_experiment *e = T->e;
  double t0 = now(), tc = t0, eloss, eacc; /* tc: where the counted time starts */
  int rc = SNN_OK;
  res->threads = T->nw, res->ranks = T->R;
  for (size_t step = start; step < stop && !rc; step++) {
    double L = 0, u0 = T->sec_update, t1 = now();
    T->step = step;
    if (T->F.B) {
      rc = fptt_batch(T, &L, err);
      if (rc == SNN_ENONFINITE) T->diverged = 1, rc = SNN_OK;
    } else {
      rc = batch_update(T, &L, err);
    }
    if (!rc && T->F.B && e->fptt_reset && (step + 1) % e->fptt_reset == 0) { /* an epoch's end: W <- Wbar */
      for (size_t i = 0; i < T->s->P; i++) r_set(T->N->theta + i, T->wbar + i, T->c);
      SNN_SFX(snn_net_derive)(T->N);
    }
    res->sec_grad += now() - t1 - (T->sec_update - u0);
    res->sequences += e->batch;
    if (rc) break;
    if (T->diverged || !isfinite(L))
      return snn_err_set(err, SNN_ENONFINITE, e->path, "optimizer.lr",
                         "diverged at update %zu: the loss or a gradient is not finite (lower the learning rate or set "
                         "\"clip\")",
                         step + 1);
    size_t done = step + 1;
    int stopping = o->interrupt && *o->interrupt;
    if (T->R > 1) stopping = snn_group_max(T->grp, stopping); /* a signal to any rank stops all */
    res->train_loss = L;
    if (log_update(T, done, L, log, res, &eloss, &eacc))
      return snn_err_set(err, SNN_EIO, e->path, "", "the evaluation's exchange between MPI ranks failed");
    if (isinf(eloss) || (isnan(eloss) && (done % e->eval_every == 0 || done == e->updates)))
      return snn_err_set(err, SNN_ENONFINITE, e->path, "optimizer.lr",
                         "diverged at update %zu: the evaluation loss is not finite (lower the learning rate or set "
                         "\"clip\")",
                         done);
    if (o->progress && T->rank == 0) {
      snn_train_progress p = {done, e->updates, L, eloss, eacc, (double)(done - start) / (now() - t0)};
      o->progress(o->progress_ctx, &p);
    }
    if (done % e->ckpt_every == 0 || done == stop || stopping) {
      if (T->rank == 0) rc = write_checkpoint(T, done, log, err);
      rc = agree(T, rc, err);
    }
    if (o->warmup && done == start + o->warmup) { /* the warm-up ends: count from here */
      T->sec_update = T->sec_eval = res->sec_grad = 0, res->sequences = 0;
      tc = now();
    }
    res->updates = done;
    res->sec_update = T->sec_update, res->sec_eval = T->sec_eval, res->sec_total = now() - tc;
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
  if (!rc && (rc = SNN_SFX(snn_net_init)(&N, s, &d0, &c))) {
    snn_data_clear(&d0);
    rc = snn_err_set(err, rc, s->path, "", "out of memory");
  }
  if (rc) {
    SNN_SFX(snn_rctx_clear)(&c);
    return rc;
  }
  trainer T;
  snn_buf log = {0};
  size_t start = 0;
  rc = trainer_init(&T, e, o, &N, &c, &d0);
  if (rc) rc = snn_err_set(err, SNN_ENOMEM, e->path, "", "out of memory");
  res->eval_loss = res->eval_acc = res->train_loss = NAN;
  res->sec_grad = res->sec_update = res->sec_eval = res->sec_total = 0, res->sequences = 0;
  if (!rc) rc = run_start(&T, o, &start, &log, err);
  size_t stop = o->until && o->until < e->updates ? o->until : e->updates;
  if (!rc) rc = run_updates(&T, o, start, stop, &log, res, err);
  if (!rc && stop == e->updates) {
    if (T.rank == 0) rc = run_finish(&T, err);
    rc = agree(&T, rc, err);
  }
  trainer_clear(&T);
  snn_data_clear(&d0);
  snn_buf_free(&log);
  SNN_SFX(snn_net_clear)(&N);
  SNN_SFX(snn_rctx_clear)(&c);
  return rc;
}
