/* network.c - fuzz target: a network file through snn_spec_parse.
 *
 * A network the parser accepts must be usable by what reads it next: its
 * blocks are found by name, and (when it is small enough to be cheap) the
 * parameters `init` draws for it are written to a parameter file and read
 * back unchanged, and so is a gradient file.  A failed check aborts with a
 * message, which the fuzzer reports as a crash. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/fuzz/targets.h"

#define SMALL 2048 /* scalars per array, at most, for the round trips */

static void check(int ok, const char *what) {
  if (ok) return;
  fprintf(stderr, "fuzz network: %s\n", what);
  abort();
}

static int small(const snn_spec *s) {
  return s->P <= SMALL && s->T <= SMALL && s->n_in <= SMALL && s->n_out <= SMALL && s->T * s->n_in <= SMALL &&
         s->T * s->n_out <= SMALL;
}

static void same(const snn_nums *a, const snn_nums *b, const char *what) {
  check(a->n == b->n, what);
  for (size_t i = 0; i < a->n; i++) check(a->v[i] == b->v[i], what);
}

/* init's parameters, written and read back. */
static void params_round_trip(const snn_spec *s, const char *dir) {
  char path[700];
  snprintf(path, sizeof path, "%s/params.json", dir);
  snn_data d, back;
  snn_err err = {0};
  if (snn_data_generate(s, &d, &err)) return;
  if (!snn_fuzz_write_params(s, &d, path, &err)) {
    int st = snn_data_load(s, path, &back, &err);
    if (st) fprintf(stderr, "  the reader says: %s: key '%s': %s\n", err.file, err.key, err.msg);
    check(st == SNN_OK, "a parameter file written for an accepted network is refused");
    for (size_t k = 0; k < s->nblk; k++) {
      const snn_block *b = &s->blk[k];
      if (!b->in_params) continue;
      for (size_t i = 0; i < b->rows * b->cols; i++)
        check(d.theta.v[b->off + i] == back.theta.v[b->off + i], "parameters change in a write and read");
    }
    same(&d.x, &back.x, "the input changes in a write and read");
    same(&d.y, &back.y, "the target changes in a write and read");
    check(d.label == back.label, "the label changes in a write and read");
    snn_data_clear(&back);
  }
  snn_data_clear(&d);
}

/* A gradient file with made-up numbers, written and read back. */
static void grads_round_trip(const snn_spec *s, const char *dir) {
  char path[700];
  snprintf(path, sizeof path, "%s/grads.json", dir);
  snn_result r, back;
  snn_err err = {0};
  if (snn_result_init(&r, s)) return;
  snprintf(r.rule, sizeof r.rule, "bptt");
  r.prec = 53;
  r.loss.v[0] = 0.5;
  for (size_t k = 0; k < s->nblk; k++) {
    const snn_block *b = &s->blk[k];
    if (b->trainable)
      for (size_t i = 0; i < b->rows * b->cols; i++) r.grad.v[b->off + i] = (double)(i % 7) / 3.0 - 1.0;
  }
  if (!snn_fuzz_write_grads(s, &r, path, &err)) {
    int st = snn_grads_load(s, path, &back, &err);
    if (st) fprintf(stderr, "  the reader says: %s: key '%s': %s\n", err.file, err.key, err.msg);
    check(st == SNN_OK, "a gradient file written for an accepted network is refused");
    same(&r.grad, &back.grad, "gradients change in a write and read");
    same(&r.loss, &back.loss, "the loss changes in a write and read");
    snn_result_clear(&back);
  }
  snn_result_clear(&r);
}

int snn_fuzz_network(const uint8_t *data, size_t size) {
  char *text = malloc(size + 1);
  if (!text) return 0;
  memcpy(text, data, size);
  text[size] = 0;
  snn_spec *s = NULL;
  snn_err err = {0};
  if (snn_fuzz_note("snn_spec_parse", snn_spec_parse(text, "fuzz.json", &s, &err), &err) == SNN_OK) {
    check(s->L >= 1 && s->n_in >= 1 && s->n_out >= 1 && s->T >= 1, "an accepted network has an empty dimension");
    check(s->win_first >= 1 && s->win_first <= s->win_last && s->win_last <= s->T, "the loss window is outside 1..T");
    for (size_t k = 0; k < s->nblk; k++)
      check(snn_spec_find_block(s, s->blk[k].name) == (int)k, "two parameter blocks share a name");
    check(snn_spec_ntrain(s) <= s->P, "more trainable scalars than parameters");
    if (small(s)) {
      params_round_trip(s, snn_fuzz_dir("network"));
      grads_round_trip(s, snn_fuzz_dir("network"));
    }
    snn_spec_free(s);
  }
  free(text);
  return 0;
}
