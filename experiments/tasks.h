/* tasks.h - the training tasks (docs/tasks.md): each gives T, the input and
 * output sizes, the loss and its window, and draws sample `index` of a split
 * deterministically from a seed, so that a run can be resumed bit for bit
 * and the same seed gives the same bytes.  Precision-neutral. */
#ifndef SNN_TASKS_H
#define SNN_TASKS_H

#include <stddef.h>
#include <stdint.h>

#include "io/io.h"

enum snn_task_kind {
  SNN_TASK_PATTERN,
  SNN_TASK_CUES,
  SNN_TASK_ADDING,
  SNN_TASK_RECALL,
  SNN_TASK_FMNIST,
  SNN_TASK_SHD,
  SNN_NTASKS
};
extern const char *const snn_task_names[SNN_NTASKS + 1]; /* NULL-terminated */

/* One labelled data set in memory: fixed-size rows (fmnist: 784 bytes per
 * image) or events (shd: spike times and units per sample). */
typedef struct {
  size_t count;
  uint8_t *labels;
  uint8_t *pix;   /* fmnist: count x 784 */
  size_t *ev_off; /* shd: count + 1 offsets into times/units */
  float *times;   /* seconds */
  uint16_t *units;
} snn_dataset;

typedef struct {
  int kind;
  size_t T, n_in, n_out;
  int loss;                   /* SNN_LOSS_MSE or SNN_LOSS_CE */
  size_t win_first, win_last; /* 1-based, inclusive */
  unsigned long seed;         /* frozen pattern input and target (pattern) */
  /* pattern */
  double rate;
  /* cues */
  size_t cues, cue_len, gap, delay, recall_len, group;
  double cue_rate, noise_rate;
  /* adding */
  /* recall */
  size_t store_len;
  /* fmnist: pixel (T = 784) or row (T = 28) order; shd: bins over `duration` s */
  int rows;
  double duration;
  size_t limit;            /* use at most this many samples of each split (0 = all) */
  char path[SNN_PATH_MAX]; /* data folder or file */
  snn_dataset train, test;
} snn_task;

/* Parse "task" of an experiment file (`where` is its JSON path for
 * messages; `base` the folder relative paths are taken from); loads the data
 * sets of fmnist and shd. */
struct json_t;
/* The keys a task object knows (NULL-terminated). */
extern const char *const snn_task_keys[];
int snn_task_parse(struct json_t *tj, const char *file, const char *base, snn_task *t, snn_err *err);
void snn_task_free(snn_task *t);
/* Number of samples in a split (0 train, 1 test); generated tasks: unlimited (SIZE_MAX). */
size_t snn_task_count(const snn_task *t, int split);
/* Sample `index` of a split: x (T x n_in, row-major by step), y (T x n_out,
 * mse) and the label (ce).  Generated tasks draw it from (seed, split, index). */
void snn_task_sample(const snn_task *t, int split, unsigned long seed, size_t index, double *x, double *y, long *label);

/* The data set readers (also used by the tests). */
int snn_idx_load(const char *images, const char *labels, snn_dataset *d, size_t limit, snn_err *err);
int snn_shd_load(const char *path, snn_dataset *d, size_t limit, snn_err *err);
void snn_dataset_free(snn_dataset *d);

#endif
