/* idx.c - fuzz target: an IDX image file and label file through snn_idx_load.
 *
 * One input holds both files: its first 4 bytes are the length L of the
 * image file (big-endian, like IDX itself), the next L bytes (or as many as
 * there are) the image file, and the rest the label file.  Either may be
 * gzip'd or plain, as the reader accepts both.
 *
 * A data set the reader accepts must have come from files that hold it: the
 * image file at least 16 + 784 count bytes, the label file 8 + count.  It
 * is then used as training uses it: the files
 * are the train and test split of an "fmnist" task (t10k-* are links to
 * train-*), and the first samples of each split are drawn, index 0 always
 * (the training loop draws at least one). */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "tests/fuzz/targets.h"

static void check(int ok, const char *what) {
  if (ok) return;
  fprintf(stderr, "fuzz idx: %s\n", what);
  abort();
}

/* The length of a file as the reader sees it (gzip'd or plain), counted up
 * to `enough`. */
static size_t gz_length(const char *path, size_t enough) {
  static unsigned char buf[65536];
  gzFile f = gzopen(path, "rb");
  size_t n = 0;
  int got;
  if (!f) return 0;
  while (n < enough && (got = gzread(f, buf, sizeof buf)) > 0) n += (size_t)got;
  gzclose(f);
  return n;
}

int snn_fuzz_idx(const uint8_t *data, size_t size) {
  static char img[700], lab[700], task_json[900];
  const char *dir = snn_fuzz_dir("idx");
  if (!img[0]) {
    char a[700];
    snprintf(img, sizeof img, "%s/train-images-idx3-ubyte.gz", dir);
    snprintf(lab, sizeof lab, "%s/train-labels-idx1-ubyte.gz", dir);
    snprintf(a, sizeof a, "%s/t10k-images-idx3-ubyte.gz", dir);
    if (symlink(img, a)) abort();
    snprintf(a, sizeof a, "%s/t10k-labels-idx1-ubyte.gz", dir);
    if (symlink(lab, a)) abort();
    snprintf(task_json, sizeof task_json, "{\"kind\": \"fmnist\", \"order\": \"row\", \"path\": \"%s\"}", dir);
  }
  size_t n = 0;
  if (size >= 4) n = (size_t)data[0] << 24 | (size_t)data[1] << 16 | (size_t)data[2] << 8 | data[3];
  size_t rest = size >= 4 ? size - 4 : 0;
  if (n > rest) n = rest;
  if (snn_fuzz_put(img, data + (size - rest), n) || snn_fuzz_put(lab, data + (size - rest) + n, rest - n)) abort();

  snn_dataset d;
  snn_err err = {0};
  if (snn_fuzz_note("snn_idx_load", snn_idx_load(img, lab, &d, 0, &err), &err) != SNN_OK) return 0;
  for (size_t i = 0; i < d.count; i++) check(d.labels[i] <= 9, "a label is not in [0, 9]");
  check(gz_length(img, 16 + 784 * d.count) >= 16 + 784 * d.count, "accepted more images than the image file holds");
  check(gz_length(lab, 8 + d.count) >= 8 + d.count, "accepted more labels than the label file holds");
  snn_dataset_free(&d);

  json_error_t je;
  json_t *tj = json_loads(task_json, 0, &je);
  snn_task t;
  if (!tj) abort();
  int st = snn_fuzz_note("snn_task_parse", snn_task_parse(tj, "fuzz.json", dir, &t, &err), &err);
  json_decref(tj);
  if (st) return 0;
  double x[28 * 28];
  long label;
  for (int split = 0; split < 2; split++) {
    size_t count = snn_task_count(&t, split);
    for (size_t i = 0; i == 0 || (i < count && i < 8); i++) {
      snn_task_sample(&t, split, 1, i, x, NULL, &label);
      check(label >= 0 && label < 10, "a sampled label is not in [0, 9]");
    }
  }
  snn_task_free(&t);
  return 0;
}
