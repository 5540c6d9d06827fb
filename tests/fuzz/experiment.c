/* experiment.c - fuzz target: an experiment file through snn_experiment_load.
 *
 * The file is written into a scratch folder that also holds a network
 * ("network": "net.json") and small Fashion-MNIST and SHD files ("task":
 * {"path": "."}), so relative paths reach fixtures and never the
 * repository.  The output folder is overridden to one inside the scratch
 * folder; loading an experiment creates nothing (the run does, later).
 *
 * An accepted experiment must be one training can start: its network has
 * the task's sizes, and the first sample of each split can be drawn (when
 * that is cheap). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/fuzz/targets.h"

static void check(int ok, const char *what) {
  if (ok) return;
  fprintf(stderr, "fuzz experiment: %s\n", what);
  abort();
}

int snn_fuzz_experiment(const uint8_t *data, size_t size) {
  static char path[700], out[700];
  const char *dir = snn_fuzz_dir("experiment");
  if (!path[0]) {
    if (snn_fuzz_write_fixtures(dir)) {
      fprintf(stderr, "fuzz experiment: cannot write the fixtures into %s\n", dir);
      abort();
    }
    snprintf(path, sizeof path, "%s/experiment.json", dir);
    snprintf(out, sizeof out, "%s/out", dir);
  }
  if (snn_fuzz_put(path, data, size)) abort();
  snn_experiment e;
  snn_err err = {0};
  if (snn_fuzz_note("snn_experiment_load", snn_experiment_load(path, out, &e, &err), &err) != SNN_OK) return 0;
  const snn_task *t = &e.task;
  const snn_spec *s = e.spec;
  check(s && s->T == t->T && s->n_in == t->n_in && s->n_out == t->n_out && s->loss == t->loss,
        "the network does not have the task's sizes");
  check(t->win_first >= 1 && t->win_first <= t->win_last && t->win_last <= t->T, "the loss window is outside 1..T");
  check(!strcmp(e.out, out), "the output folder is not the one given");
  if (t->T * (t->n_in + t->n_out) <= ((size_t)1 << 18)) {
    double *x = malloc(t->T * t->n_in * sizeof *x), *y = malloc(t->T * t->n_out * sizeof *y);
    long label;
    for (int split = 0; x && y && split < 2; split++) {
      snn_task_sample(t, split, e.seed, 0, x, y, &label);
      check(t->loss != SNN_LOSS_CE || (label >= 0 && (size_t)label < t->n_out), "a label is out of range");
    }
    free(x);
    free(y);
  }
  snn_experiment_free(&e);
  return 0;
}
