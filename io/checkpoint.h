/* checkpoint.h - the files of a training run (docs/training.md): the
 * checkpoint (a parameter file with the optimiser's state added), the
 * manifest and the log.  Precision-neutral: the state crosses as snn_nums,
 * with the decimal text of MPFR values, so a run continues bit for bit. */
#ifndef SNN_CHECKPOINT_H
#define SNN_CHECKPOINT_H

#include "io/io.h"

/* The optimiser's and FPTT's state after `updates_done` updates. */
typedef struct {
  size_t updates_done, optimizer_steps;
  char rule[128];
  long prec;
  snn_nums beta_powers;        /* beta1^t, beta2^t */
  snn_nums m, v, wbar, lambda; /* P each */
  /* FPTT's time-weighted loss: the running class-conditional output
   * distributions (chunks x classes x classes), or n = 0 */
  snn_nums estimate;
} snn_ckpt;

int snn_ckpt_init(snn_ckpt *c, size_t P);
void snn_ckpt_clear(snn_ckpt *c);
/* The checkpoint file's text: the parameter file of d, then "checkpoint". */
int snn_ckpt_format(const snn_spec *s, const snn_data *d, const snn_ckpt *c, snn_buf *b, const char *path,
                    snn_err *err);
/* Read a checkpoint: its parameters into d (a parameter file), its state into c. */
int snn_ckpt_load(const snn_spec *s, const char *path, snn_data *d, snn_ckpt *c, snn_err *err);

/* The manifest's text (snngrad-manifest/1): what ran, with the experiment's
 * own text and the network it trained. */
char *snn_manifest_text(const char *experiment, const char *config, const char *net_json, unsigned long seed,
                        const char *rule, long prec, const char *task);

/* Before --resume: the experiment (its file's text `config` and the network
 * it resolves to) against the manifest the run being resumed wrote (mpath;
 * none: nothing to compare).  Only the schedule (updates, eval, checkpoint),
 * threads, out, description and comment may differ: anything else would
 * continue a run that no experiment describes.  SNN_EVALUE names the first
 * key that differs, in the experiment file exp_path. */
int snn_manifest_check_resume(const char *mpath, const char *config, const char *net_json, const char *exp_path,
                              snn_err *err);

/* The header and the rows of updates 1..upto of a run's log. */
int snn_log_read(const char *path, size_t upto, snn_buf *log, snn_err *err);

#endif
