/* params.c - fuzz target: a parameter file through snn_data_load, read
 * against each fixed network (common.c).
 *
 * What the reader accepts must be finite and in range, and must survive
 * being written again (snngrad writes the parameters it was given into a
 * run's files) and read back unchanged. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/fuzz/targets.h"

static void check(int ok, const char *net, const char *what) {
  if (ok) return;
  fprintf(stderr, "fuzz params (network %s): %s\n", net, what);
  abort();
}

static int same_nums(const snn_nums *a, const snn_nums *b) {
  if (a->n != b->n) return 0;
  for (size_t i = 0; i < a->n; i++) {
    if (a->v[i] != b->v[i]) return 0;
    const char *sa = a->s ? a->s[i] : NULL, *sb = b->s ? b->s[i] : NULL;
    if (!sa != !sb || (sa && strcmp(sa, sb))) return 0;
  }
  return 1;
}

int snn_fuzz_params(const uint8_t *data, size_t size) {
  const char *path = snn_fuzz_memfd(0, data, size);
  char back_path[700];
  snprintf(back_path, sizeof back_path, "%s/params.json", snn_fuzz_dir("params"));
  for (int n = 0; n < SNN_FUZZ_NNETS; n++) {
    const snn_spec *s = snn_fuzz_net(n);
    const char *nm = snn_fuzz_net_names[n];
    snn_data d, back;
    snn_err err = {0};
    if (snn_fuzz_note(nm, snn_data_load(s, path, &d, &err), &err) != SNN_OK) continue;
    for (size_t i = 0; i < d.theta.n; i++) check(isfinite(d.theta.v[i]), nm, "a parameter is not finite");
    for (size_t i = 0; i < d.x.n; i++) check(isfinite(d.x.v[i]), nm, "an input is not finite");
    for (size_t i = 0; i < d.y.n; i++) check(isfinite(d.y.v[i]), nm, "a target is not finite");
    if (s->loss == SNN_LOSS_CE) check(d.label >= 0 && (size_t)d.label < s->n_out, nm, "the label is out of range");
    int st = snn_fuzz_write_params(s, &d, back_path, &err);
    if (st) fprintf(stderr, "  the reader says: %s: key '%s': %s\n", err.file, err.key, err.msg);
    check(st == SNN_OK, nm, "accepted parameters cannot be written");
    st = snn_data_load(s, back_path, &back, &err);
    if (st) fprintf(stderr, "  the reader says: %s: key '%s': %s\n", err.file, err.key, err.msg);
    check(st == SNN_OK, nm, "accepted parameters, written again, are refused");
    for (size_t k = 0; k < s->nblk; k++) {
      const snn_block *b = &s->blk[k];
      if (!b->in_params) continue;
      for (size_t i = 0; i < b->rows * b->cols; i++)
        check(d.theta.v[b->off + i] == back.theta.v[b->off + i], nm, "a parameter changes in a write and read");
    }
    check(same_nums(&d.x, &back.x) && same_nums(&d.y, &back.y) && d.label == back.label, nm,
          "the input, target or label changes in a write and read");
    snn_data_clear(&back);
    snn_data_clear(&d);
  }
  return 0;
}
