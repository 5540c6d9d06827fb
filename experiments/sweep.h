/* sweep.h - a sweep (docs/sweep.md): one experiment, its variants (a grid
 * of override values, a list of override sets, or both) and a list of
 * seeds.  A run is one variant with one seed, trained in its own folder
 * OUT/<variant>/seed-<s>/ from the merged experiment file written there.
 *
 * This is the plan and its tables, precision-neutral: reading and checking
 * the sweep file, merging a variant's overrides into the experiment, the
 * names of variants and runs, a run's result file, and the CSV tables
 * (variants, runs, status, times, summary).  Nothing here trains, prints or
 * exits; cli/cmd_sweep.c runs the plan, on one process or as a work queue
 * over MPI ranks. */
#ifndef SNN_SWEEP_H
#define SNN_SWEEP_H

#include "io/io.h"

struct json_t;

/* What became of a run; the names are what the tables write. */
enum snn_run_status { SNN_RUN_PENDING, SNN_RUN_DONE, SNN_RUN_FAILED, SNN_RUN_INTERRUPTED };
extern const char *const snn_run_status_names[]; /* NULL-terminated */

typedef struct {
  char path[SNN_PATH_MAX], dir[SNN_PATH_MAX]; /* the sweep file and its folder */
  char out[SNN_PATH_MAX];                     /* the sweep's output folder */
  struct json_t *base;                        /* the experiment, its network inline, file names resolved */
  struct json_t **vars;                       /* nvar objects: override path -> value */
  char **keys;                                /* every override path, in the order they first appear */
  unsigned long *seeds;
  size_t nvar, nseed, nkeys;
  int width; /* digits of a variant's number */
} snn_sweep;

/* Reads and checks the whole sweep file (and the experiment it names)
 * without writing anything.  out: the output folder (NULL: the file's). */
int snn_sweep_load(const char *path, const char *out, snn_sweep *s, snn_err *err);
void snn_sweep_free(snn_sweep *s);

/* Runs are numbered variant by variant, seeds in the file's order inside:
 * run r is variant r / nseed with seed r % nseed. */
size_t snn_sweep_runs(const snn_sweep *s);
/* "v01", "v02", ... (1-based, zero-padded to the same width). */
void snn_sweep_variant_name(const snn_sweep *s, size_t var, char *buf, size_t n);
/* OUT/v01/seed-7 */
void snn_sweep_run_dir(const snn_sweep *s, size_t run, char *buf, size_t n);
/* The run's experiment file (malloc'd text): the experiment with the
 * variant's overrides, "seed" the run's seed and "out" the run's folder. */
int snn_sweep_experiment(const snn_sweep *s, size_t run, char **text, snn_err *err);

/* A run's outcome: RUN/result.json, and a row of the tables. */
typedef struct {
  int status; /* enum snn_run_status */
  size_t updates;
  double train_loss, eval_loss, eval_acc; /* snn_train_res; NaN where there is none */
  double seconds;                         /* wall-clock time of the run (times.csv only) */
  char msg[600];                          /* a failed or interrupted run's error */
} snn_run_result;

/* The result file's text (malloc'd), and reading one back (-1 when absent
 * or not a result file). */
char *snn_run_result_format(const snn_run_result *r);
int snn_run_result_read(const char *path, snn_run_result *r);

/* The tables (malloc'd CSV text), from every run's result, indexed by run.
 * Their bytes depend only on the plan and the results, never on the order
 * in which the runs finished; the times are in times.csv alone. */
char *snn_sweep_variants_csv(const snn_sweep *s);
char *snn_sweep_runs_csv(const snn_sweep *s, const snn_run_result *r);
char *snn_sweep_status_csv(const snn_sweep *s, const snn_run_result *r);
char *snn_sweep_times_csv(const snn_sweep *s, const snn_run_result *r);
char *snn_sweep_summary_csv(const snn_sweep *s, const snn_run_result *r);

/* n, mean, sample standard deviation (n - 1; 0 when n = 1), min and max of
 * the finite numbers among x[0..n), summed in index order. */
typedef struct {
  size_t n;
  double mean, std, min, max;
} snn_stats;
void snn_stats_of(const double *x, size_t n, snn_stats *st);

/* The folder and the folders above it (like mkdir -p). */
int snn_sweep_mkdir(const char *dir, snn_err *err);
/* 1 if the file holds exactly `text`, 0 if something else, -1 if it cannot be read. */
int snn_sweep_same_file(const char *path, const char *text);
/* One sweep per output folder at a time: an exclusive lock on OUT/.lock
 * (holding the process id), dropped by the kernel however the process ends. */
int snn_sweep_lock(const char *out, int *fd, snn_err *err);
void snn_sweep_unlock(const char *out, int fd); /* fd < 0: nothing */

#endif
