/* shd.c - fuzz target: an HDF5 file through snn_shd_load.
 *
 * A data set the reader accepts is then used as training uses it: the file
 * is both splits of an "shd" task (shd_test.h5 is a link to shd_train.h5),
 * which checks units and labels, and the first samples of each split are
 * drawn, index 0 always (the training loop draws at least one). */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/fuzz/targets.h"

#define STEPS 8

static void check(int ok, const char *what) {
  if (ok) return;
  fprintf(stderr, "fuzz shd: %s\n", what);
  abort();
}

int snn_fuzz_shd(const uint8_t *data, size_t size) {
  static char path[700], task_json[900];
  const char *dir = snn_fuzz_dir("shd");
  if (!path[0]) {
    char a[700];
    snprintf(path, sizeof path, "%s/shd_train.h5", dir);
    snprintf(a, sizeof a, "%s/shd_test.h5", dir);
    if (symlink(path, a)) abort();
    snprintf(task_json, sizeof task_json, "{\"kind\": \"shd\", \"steps\": %d, \"path\": \"%s\"}", STEPS, dir);
  }
  if (snn_fuzz_put(path, data, size)) abort();

  snn_dataset d;
  snn_err err = {0};
  if (snn_fuzz_note("snn_shd_load", snn_shd_load(path, &d, 0, &err), &err) != SNN_OK) return 0;
  check(d.count > 0 && d.ev_off[0] == 0, "an accepted data set is empty or its offsets do not start at 0");
  for (size_t i = 0; i < d.count; i++) check(d.ev_off[i] <= d.ev_off[i + 1], "the event offsets decrease");
  snn_dataset_free(&d);

  json_error_t je;
  json_t *tj = json_loads(task_json, 0, &je);
  snn_task t;
  if (!tj) abort();
  int st = snn_fuzz_note("snn_task_parse", snn_task_parse(tj, "fuzz.json", dir, &t, &err), &err);
  json_decref(tj);
  if (st) return 0;
  static double x[STEPS * 700];
  long label;
  for (int split = 0; split < 2; split++) {
    size_t count = snn_task_count(&t, split);
    for (size_t i = 0; i == 0 || (i < count && i < 8); i++) {
      snn_task_sample(&t, split, 1, i, x, NULL, &label);
      check(label >= 0 && label < 20, "a sampled label is not in [0, 20)");
    }
  }
  snn_task_free(&t);
  return 0;
}
