/* grads.c - fuzz target: a gradient file through snn_grads_load, read
 * against each fixed network (common.c).  What it accepts must be finite,
 * and must survive being written again and read back unchanged. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/fuzz/targets.h"

static void check(int ok, const char *net, const char *what) {
  if (ok) return;
  fprintf(stderr, "fuzz grads (network %s): %s\n", net, what);
  abort();
}

int snn_fuzz_grads(const uint8_t *data, size_t size) {
  const char *path = snn_fuzz_memfd(0, data, size);
  char back_path[700];
  snprintf(back_path, sizeof back_path, "%s/grads.json", snn_fuzz_dir("grads"));
  for (int n = 0; n < SNN_FUZZ_NNETS; n++) {
    const snn_spec *s = snn_fuzz_net(n);
    const char *nm = snn_fuzz_net_names[n];
    snn_result r, back;
    snn_err err = {0};
    if (snn_fuzz_note(nm, snn_grads_load(s, path, &r, &err), &err) != SNN_OK) continue;
    check(isfinite(r.loss.v[0]), nm, "the loss is not finite");
    for (size_t i = 0; i < r.grad.n; i++) check(isfinite(r.grad.v[i]), nm, "a gradient is not finite");
    /* the program writes only the names of the rules it ran (sim/driver.c),
     * never a rule read from a file; so does the round trip */
    snprintf(r.rule, sizeof r.rule, "bptt");
    int st = snn_fuzz_write_grads(s, &r, back_path, &err);
    if (st < 0) {
      snn_result_clear(&r);
      continue;
    }
    if (st) fprintf(stderr, "  the reader says: %s: key '%s': %s\n", err.file, err.key, err.msg);
    check(st == SNN_OK, nm, "an accepted gradient cannot be written");
    st = snn_grads_load(s, back_path, &back, &err);
    if (st) fprintf(stderr, "  the reader says: %s: key '%s': %s\n", err.file, err.key, err.msg);
    check(st == SNN_OK, nm, "an accepted gradient, written again, is refused");
    for (size_t i = 0; i < r.grad.n; i++)
      check(r.grad.v[i] == back.grad.v[i], nm, "a gradient changes in a write and read");
    check(r.loss.v[0] == back.loss.v[0] && r.prec == back.prec, nm,
          "the loss or precision changes in a write and read");
    snn_result_clear(&back);
    snn_result_clear(&r);
  }
  return 0;
}
