/* seeds.c - writes the generated seed inputs of the binary formats:
 *
 *     fuzz_seeds CORPUS KNOWN
 *
 * CORPUS/idx and CORPUS/shd get small valid inputs (and a few odd but valid
 * variants) for the fuzzer to start from; KNOWN/idx and KNOWN/shd get the
 * hand-made inputs of known bugs (an IDX pair with zero images, one whose
 * image count times 784 wraps around 32 bits, SHD files with more unit
 * trains than labels, with a unit of 700, with a label of 20).  The checked-in files under
 * corpus/ and pending/ were written by this program. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tests/fuzz/targets.h"

static const char *root_corpus, *root_known;

static void need(int ok, const char *what) {
  if (ok) return;
  fprintf(stderr, "fuzz_seeds: %s\n", what);
  exit(1);
}

static void mkdirs(const char *dir, const char *sub) {
  char p[600];
  snprintf(p, sizeof p, "%s/%s", dir, sub);
  need(!mkdir(dir, 0755) || errno == EEXIST, dir);
  need(!mkdir(p, 0755) || errno == EEXIST, p);
}

static uint8_t *slurp(const char *path, size_t *n) {
  FILE *f = fopen(path, "rb");
  need(f != NULL, path);
  uint8_t *b = malloc(1 << 20);
  *n = fread(b, 1, 1 << 20, f);
  fclose(f);
  return b;
}

/* The idx target's input: 4-byte big-endian length, image file, label file. */
static void idx_input(const char *dir, const char *name, uint32_t icount, size_t nimg, uint32_t lcount, size_t nlab,
                      int gz) {
  char pi[700], pl[700], out[700];
  const char *scratch = snn_fuzz_dir("seeds");
  snprintf(pi, sizeof pi, "%s/img", scratch);
  snprintf(pl, sizeof pl, "%s/lab", scratch);
  uint8_t *img = malloc(nimg * 784 + 1), lab[16];
  for (size_t i = 0; i < nimg * 784; i++) img[i] = (uint8_t)(i % 28 * 9);
  for (size_t i = 0; i < nlab && i < sizeof lab; i++) lab[i] = (uint8_t)(i * 7 % 10);
  need(!snn_fuzz_write_idx(pi, 0x803, icount, img, nimg * 784, 1, gz), pi);
  need(!snn_fuzz_write_idx(pl, 0x801, lcount, lab, nlab, 0, gz), pl);
  free(img);
  size_t ni, nl;
  uint8_t *a = slurp(pi, &ni), *b = slurp(pl, &nl);
  snprintf(out, sizeof out, "%s/idx/%s", dir, name);
  FILE *f = fopen(out, "wb");
  need(f != NULL, out);
  uint8_t len[4] = {(uint8_t)(ni >> 24), (uint8_t)(ni >> 16), (uint8_t)(ni >> 8), (uint8_t)ni};
  fwrite(len, 1, 4, f);
  fwrite(a, 1, ni, f);
  fwrite(b, 1, nl, f);
  need(!fclose(f), out);
  free(a);
  free(b);
}

/* 5478275 images of 784 bytes are 4294967600 bytes, 304 modulo 2^32: the
 * reader asks gzread for 304 bytes, gets them, and accepts a data set of
 * 5478275 images from a file that holds 0.39 of one. */
static void count_wraps(const char *dir) {
  enum { N = 5478275 };
  char pi[700], pl[700], out[700];
  const char *scratch = snn_fuzz_dir("seeds");
  snprintf(pi, sizeof pi, "%s/img", scratch);
  snprintf(pl, sizeof pl, "%s/lab", scratch);
  uint8_t *body = calloc(N, 1);
  need(body != NULL, "out of memory");
  need(!snn_fuzz_write_idx(pi, 0x803, N, body, (size_t)N * 784 % (1ull << 32), 1, 1), pi);
  need(!snn_fuzz_write_idx(pl, 0x801, N, body, N, 0, 1), pl);
  free(body);
  size_t ni, nl;
  uint8_t *a = slurp(pi, &ni), *b = slurp(pl, &nl);
  snprintf(out, sizeof out, "%s/idx/count-wraps-32-bits", dir);
  FILE *f = fopen(out, "wb");
  need(f != NULL, out);
  uint8_t len[4] = {(uint8_t)(ni >> 24), (uint8_t)(ni >> 16), (uint8_t)(ni >> 8), (uint8_t)ni};
  fwrite(len, 1, 4, f);
  fwrite(a, 1, ni, f);
  fwrite(b, 1, nl, f);
  need(!fclose(f), out);
  free(a);
  free(b);
}

/* Three spike trains; `unit` and `label` replace the last train's unit and
 * label (0 and 0 in the valid seeds). */
static void shd_input_with(const char *dir, const char *name, size_t ntimes, size_t nunits, size_t nlabels, int flags,
                           uint16_t unit, uint16_t label) {
  static const float t[] = {0.0f, 0.015f, 0.5f, 0.999f, 0.2f, 0.2f, 0.7f};
  uint16_t u[] = {3, 699, 10, 42, 7, 8, unit}, l[] = {19, 4, label};
  static const size_t len[] = {4, 2, 1};
  char out[700];
  snprintf(out, sizeof out, "%s/shd/%s", dir, name);
  need(!snn_fuzz_write_shd(out, 3, len, t, u, ntimes, nunits, nlabels, l, flags), out);
}

static void shd_input(const char *dir, const char *name, size_t ntimes, size_t nunits, size_t nlabels, int flags) {
  shd_input_with(dir, name, ntimes, nunits, nlabels, flags, 0, 0);
}

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: fuzz_seeds CORPUS KNOWN\n");
    return 2;
  }
  root_corpus = argv[1], root_known = argv[2];
  mkdirs(root_corpus, "idx"), mkdirs(root_corpus, "shd"), mkdirs(root_known, "idx"), mkdirs(root_known, "shd");

  idx_input(root_corpus, "two-images.gz", 2, 2, 2, 2, 1);
  idx_input(root_corpus, "three-images.plain", 3, 3, 3, 3, 0);
  idx_input(root_corpus, "truncated-images.gz", 3, 2, 3, 3, 1);
  idx_input(root_corpus, "count-mismatch.plain", 2, 2, 1, 1, 0);

  shd_input(root_corpus, "three-trains.h5", 3, 3, 3, 0);
  shd_input(root_corpus, "labels-u8.h5", 3, 3, 3, SNN_FUZZ_SHD_LABELS_U8);
  shd_input(root_corpus, "times-f64.h5", 3, 3, 3, SNN_FUZZ_SHD_TIMES_F64);
  shd_input(root_corpus, "deflate.h5", 3, 3, 3, SNN_FUZZ_SHD_DEFLATE);
  shd_input(root_corpus, "labels-2d.h5", 3, 3, 3, SNN_FUZZ_SHD_LABELS_2D);
  shd_input(root_corpus, "no-labels.h5", 3, 3, 0, 0);
  shd_input(root_corpus, "units-shorter.h5", 3, 2, 3, 0);

  /* known bugs, by hand */
  idx_input(root_known, "zero-images.gz", 0, 0, 0, 0, 1);
  shd_input(root_known, "units-longer-than-labels.h5", 2, 3, 2, 0);
  count_wraps(root_known);
  shd_input_with(root_known, "unit-700.h5", 3, 3, 3, 0, 700, 0);
  shd_input_with(root_known, "label-20.h5", 3, 3, 3, 0, 0, 20);
  return 0;
}
