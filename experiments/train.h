/* train.h - an experiment (docs/training.md): a network, a task, a rule, an
 * optimiser and a schedule, read from one JSON file; the training loop is
 * compiled once per precision (train.c) and driven by `snngrad train`. */
#ifndef SNN_TRAIN_H
#define SNN_TRAIN_H

#include "experiments/tasks.h"
#include "sim/engine.h"

enum snn_optimizer { SNN_OPT_SGD, SNN_OPT_ADAM, SNN_OPT_ADAMAX };

typedef struct {
  char path[SNN_PATH_MAX], dir[SNN_PATH_MAX]; /* the experiment file and its folder */
  char *config;                               /* the experiment file's text (for the manifest) */
  char *net_json;                             /* the network, with the task's sizes, loss and window written in */
  snn_spec *spec;
  snn_task task;
  char rule_text[128];
  snn_rule rule;
  snn_fptt_opts fptt; /* rule fptt: its procedure */
  /* rule fptt, the experiment's "fptt" object (docs/fptt.md): the loss of
   * each chunk (0 the network's own; 1 the time-weighted loss of the sFPTT
   * code for terminal labels) and the updates between W <- Wbar resets
   * (0: never; default one epoch of a data set's training split) */
  int fptt_weighted;
  size_t fptt_reset;
  long prec;
  int opt;
  double lr, beta1, beta2, eps, momentum, clip;
  size_t batch, updates; /* minibatch size; number of parameter updates */
  size_t shards;         /* the minibatch's fixed groups (docs/distributed.md) */
  int threads;           /* "threads": 0 = every core */
  int online;            /* update every `every` steps inside the sequence */
  size_t every;
  size_t eval_every, eval_samples, ckpt_every;
  unsigned long seed;
  char out[SNN_PATH_MAX]; /* output folder */
} snn_experiment;

int snn_experiment_load(const char *path, const char *out_override, snn_experiment *e, snn_err *err);
void snn_experiment_free(snn_experiment *e);
/* The keys an experiment file knows (NULL-terminated): at the top for "",
 * and in the sections "optimizer", "update", "eval", "checkpoint" and
 * "task"; NULL for any other section. */
const char *const *snn_experiment_keys(const char *section);

/* Where the run is, after each update: for the caller to show. */
typedef struct {
  size_t done, total;         /* updates */
  double loss;                /* mean training loss of the update's batch */
  double eval_loss, eval_acc; /* NaN unless evaluated at this update (acc: NaN for mse tasks) */
  double rate;                /* updates per second since the start (or the resume) */
} snn_train_progress;

typedef struct {
  int resume;   /* continue from out/checkpoint.json */
  size_t until; /* stop after this many updates (a checkpoint is written); 0 = run to the end */
  void (*progress)(void *ctx, const snn_train_progress *p); /* NULL: none */
  void *progress_ctx;
  /* Set (by a signal handler) to stop after the current update: a
   * checkpoint is written and the run ends with SNN_EINTR.  NULL: none. */
  volatile int *interrupt;
  /* Worker threads: 0 takes the experiment's "threads" (default: every core
   * this process may use).  The results are the same bytes for any number. */
  int threads;
  /* The processes that share the run (par/par.h): NULL is this process
   * alone; snn_group_world() divides every minibatch over the MPI ranks,
   * rank 0 writing the files.  The same bytes for any number of ranks. */
  const struct snn_group *group;
  /* The first `warmup` updates of this call are run but left out of the
   * result's times and sequences (a benchmark's warm-up: first touches of
   * memory, the thread pool's start). */
  size_t warmup;
} snn_train_opts;

/* Summary of a finished run. */
typedef struct {
  size_t updates;
  double train_loss;          /* mean over the last update's batch */
  double eval_loss, eval_acc; /* last evaluation (acc NaN for mse tasks) */
  /* where the time went over the updates of this call (wall seconds):
   * the gradients (forward and backward passes of every sample, and the
   * exchange between ranks), the optimiser, the evaluations; and the
   * training sequences run */
  double sec_grad, sec_update, sec_eval, sec_total;
  size_t sequences;
  int threads, ranks; /* what ran them */
} snn_train_res;

int snn_train_d(const snn_experiment *e, const snn_train_opts *o, snn_train_res *r, snn_err *err);
int snn_train_mp(const snn_experiment *e, const snn_train_opts *o, snn_train_res *r, snn_err *err);

#endif
