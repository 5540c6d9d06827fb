/* memory.c - "memory is part of the claim": the peak number of bytes each rule
 * allocates while computing one gradient, measured by an allocator
 * interposed in this program (glibc's malloc family, MPFR's limbs included),
 * at two sequence lengths.  Online rules must allocate the same at both;
 * BPTT must grow with T.  Counting bytes, never timing.
 *
 * Not run under valgrind or the sanitizers, which bring allocators of their
 * own (meson excludes the 'memory' suite there). */
#include <check.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/driver.h"
#include "sim/rules/rules.h"
#include "tests/testutil.h"

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void __libc_free(void *);
extern void *__libc_memalign(size_t, size_t);

static size_t cur, peak;
static int counting;

void *malloc(size_t n) {
  void *p = __libc_malloc(n);
  if (p && counting) {
    cur += malloc_usable_size(p);
    if (cur > peak) peak = cur;
  }
  return p;
}
void *calloc(size_t a, size_t b) {
  void *p = __libc_calloc(a, b);
  if (p && counting) {
    cur += malloc_usable_size(p);
    if (cur > peak) peak = cur;
  }
  return p;
}
void *aligned_alloc(size_t a, size_t n) {
  void *p = __libc_memalign(a, n);
  if (p && counting) {
    cur += malloc_usable_size(p);
    if (cur > peak) peak = cur;
  }
  return p;
}
void *realloc(void *q, size_t n) {
  size_t old = q ? malloc_usable_size(q) : 0;
  void *p = __libc_realloc(q, n);
  if (p && counting) {
    cur += malloc_usable_size(p);
    cur = cur >= old ? cur - old : 0;
    if (cur > peak) peak = cur;
  }
  return p;
}
void free(void *p) {
  if (p && counting) {
    size_t n = malloc_usable_size(p);
    cur = cur >= n ? cur - n : 0;
  }
  __libc_free(p);
}

static const char *NETS =
    "{\"seed\":4,\"steps\":%d,\"input\":{\"size\":4,\"rate\":0.3},"
    "\"layers\":[%s],"
    "\"readout\":{\"size\":3,\"tau_out\":5},\"spike\":{\"surrogate\":\"triangle\"}}";
/* feed-forward alif, recurrent alif, recurrent ltc with input delays (a delay line and mixes) */
static const char *const LAYERS[] = {
    "{\"model\":\"alif\",\"size\":12,\"recurrent\":false,\"w_scale\":2}",
    "{\"model\":\"alif\",\"size\":12,\"recurrent\":true,\"w_scale\":2}",
    "{\"model\":\"ltc\",\"size\":8,\"recurrent\":true,\"w_scale\":3,\"delays\":{\"max\":3}}",
};
static const char *const VARIANT[] = {"ff ", "rec", "ltc"};

/* Peak bytes allocated by `rule` beyond the network (parameters, input and
 * target are the data, O(T) for every rule, and are built before counting). */
static size_t rule_peak_batch(const char *rule_text, int T, int rec, long prec, size_t batch, size_t *reported) {
  char json[768];
  snprintf(json, sizeof json, NETS, T, LAYERS[rec]);
  snn_spec *s;
  snn_err e = {0};
  ck_assert_int_eq(snn_spec_parse(json, "mem.json", &s, &e), SNN_OK);
  snn_data d;
  ck_assert_int_eq(snn_data_generate(s, &d, &e), SNN_OK);
  snn_rule rule;
  ck_assert_int_eq(snn_rule_parse(rule_text, &rule, &e), SNN_OK);
  size_t bytes = 0, pk = 0;
  rctx c;
  ck_assert_int_eq(SNN_SFX(snn_rctx_init)(&c, prec), SNN_OK);
  net N;
  ck_assert_int_eq(SNN_SFX(snn_net_init)(&N, s, &d, &c), SNN_OK);
  if (batch > 1) { /* the batch: the same sequence in every row, shifted by one step */
    ck_assert_int_eq(SNN_SFX(snn_net_batch)(&N, batch), SNN_OK);
    for (size_t t = 0; t < s->T; t++)
      for (size_t b = 0; b < batch; b++)
        for (size_t i = 0; i < s->n_in; i++)
          r_set_d(N.x + (t * batch + b) * s->n_in + i, d.x.v[((t + b) % s->T) * s->n_in + i], &c);
  }
  relt *g = vec_alloc(s->P, &c);
  real loss;
  r_init(loss, &c);
  size_t cross[4];
  double spikes[4];
  SNN_SFX(snn_rule_fn) fn = SNN_RULE_FN(&rule);
  ck_assert_ptr_nonnull(fn);
  cur = peak = 0;
  counting = 1;
  int st = fn(&N, &rule, g, loss, cross, spikes, &bytes, &e);
  counting = 0;
  pk = peak;
  *reported = bytes;
  ck_assert_msg(st == SNN_OK, "%s: %s", rule_text, e.msg);
  ck_assert_msg(cross[0] > 0, "%s: silent network", rule_text);
  r_clear(loss, &c);
  vec_free(g, s->P, &c);
  SNN_SFX(snn_net_clear)(&N);
  SNN_SFX(snn_rctx_clear)(&c);
  snn_data_clear(&d);
  snn_spec_free(s);
  return pk;
}

static size_t rule_peak(const char *rule_text, int T, int rec, long prec, size_t *reported) {
  return rule_peak_batch(rule_text, T, rec, prec, 1, reported);
}

#ifdef SNN_MPFR
#define PREC 128
#else
#define PREC 53
#endif

static const char *const ONLINE[] = {"rtrl", "ostl", "ostl:traces=diagonal", "eprop"};

/* Online rules allocate exactly as much for 400 steps as for 40. */
START_TEST(test_online_memory_independent_of_T) {
  for (int rec = 0; rec < 3; rec++) {
    size_t r1, r2;
    size_t a = rule_peak(ONLINE[_i], 40, rec, PREC, &r1), b = rule_peak(ONLINE[_i], 400, rec, PREC, &r2);
    printf("%-22s %s  T=40: %8zu bytes  T=400: %8zu bytes  (reported %zu, %zu)\n", ONLINE[_i], VARIANT[rec], a, b, r1,
           r2);
    /* MPFR's own temporaries depend on the values by a few hundred bytes;
       the rule's memory does not depend on T at all */
    ck_assert_msg(a > 0 && (a > b ? a - b : b - a) <= a / 50, "%s: %zu bytes at T=40, %zu at T=400", ONLINE[_i], a, b);
    ck_assert_uint_eq(r1, r2);
    /* the rule's own account of its memory is the measured one, within 25% */
    ck_assert_msg(r1 >= a * 3 / 4 && r1 <= a * 5 / 4, "%s reports %zu bytes, allocates %zu", ONLINE[_i], r1, a);
  }
}
END_TEST

/* The same with a batch of 3: B sets of traces, still nothing in T. */
START_TEST(test_online_batch_memory_independent_of_T) {
  size_t r1, r2, r0;
  size_t a = rule_peak_batch(ONLINE[_i], 40, 1, PREC, 3, &r1), b = rule_peak_batch(ONLINE[_i], 400, 1, PREC, 3, &r2);
  size_t one = rule_peak(ONLINE[_i], 40, 1, PREC, &r0);
  printf("%-22s rec, batch 3  T=40: %8zu bytes  T=400: %8zu bytes  (one sequence %zu)\n", ONLINE[_i], a, b, one);
  ck_assert_msg(a > 0 && (a > b ? a - b : b - a) <= a / 50, "%s: %zu bytes at T=40, %zu at T=400", ONLINE[_i], a, b);
  ck_assert_uint_eq(r1, r2);
  ck_assert_msg(a > 2 * one, "%s: a batch of 3 holds %zu bytes, one sequence %zu", ONLINE[_i], a, one);
  ck_assert_msg(r1 >= a * 3 / 4 && r1 <= a * 5 / 4, "%s reports %zu bytes, allocates %zu", ONLINE[_i], r1, a);
}
END_TEST

/* BPTT stores the trajectory: linear in T. */
START_TEST(test_bptt_memory_grows_with_T) {
  size_t r1, r2;
  size_t a = rule_peak("bptt", 40, 1, PREC, &r1), b = rule_peak("bptt", 400, 1, PREC, &r2);
  printf("bptt                   rec  T=40: %8zu bytes  T=400: %8zu bytes  (reported %zu, %zu)\n", a, b, r1, r2);
  ck_assert_msg(b > 7 * a, "bptt: %zu bytes at T=40, %zu at T=400: not linear in T", a, b);
  ck_assert_msg(r2 >= b * 3 / 4 && r2 <= b * 5 / 4, "bptt reports %zu bytes, allocates %zu", r2, b);
}
END_TEST

/* FPTT holds one chunk: the same for 40 steps in 4 chunks as for 400 in 40. */
START_TEST(test_fptt_memory_is_one_chunk) {
  size_t r1, r2;
  size_t a = rule_peak("fptt:chunks=4", 40, 1, PREC, &r1), b = rule_peak("fptt:chunks=40", 400, 1, PREC, &r2);
  printf("fptt (10-step chunks)  rec  T=40: %8zu bytes  T=400: %8zu bytes  (reported %zu, %zu)\n", a, b, r1, r2);
  ck_assert_msg((a > b ? a - b : b - a) <= a / 50, "fptt: %zu bytes at T=40, %zu at T=400", a, b);
  ck_assert_msg(r1 >= a * 3 / 4 && r1 <= a * 5 / 4, "fptt reports %zu bytes, allocates %zu", r1, a);
}
END_TEST

/* Truncated BPTT holds one window: the same for 40 steps as for 400 in
 * windows of 10, and a tenth of BPTT's at T = 400. */
START_TEST(test_tbptt_memory_is_one_window) {
  size_t r1, r2, r3;
  size_t a = rule_peak("tbptt:window=10", 40, 1, PREC, &r1), b = rule_peak("tbptt:window=10", 400, 1, PREC, &r2);
  size_t full = rule_peak("bptt", 400, 1, PREC, &r3);
  printf("tbptt (10-step windows) rec  T=40: %8zu bytes  T=400: %8zu bytes  (reported %zu, %zu); bptt T=400: %zu\n", a,
         b, r1, r2, full);
  ck_assert_msg((a > b ? a - b : b - a) <= a / 50, "tbptt: %zu bytes at T=40, %zu at T=400", a, b);
  ck_assert_msg(b * 5 < full, "tbptt at T=400: %zu bytes, bptt %zu", b, full);
  ck_assert_msg(r2 >= b * 3 / 4 && r2 <= b * 5 / 4, "tbptt reports %zu bytes, allocates %zu", r2, b);
}
END_TEST

int main(void) {
  Suite *su = suite_create("memory");
  TCase *tc = tcase_create("memory");
  tcase_set_timeout(tc, 300);
  tcase_add_loop_test(tc, test_online_memory_independent_of_T, 0, (int)(sizeof ONLINE / sizeof *ONLINE));
  tcase_add_loop_test(tc, test_online_batch_memory_independent_of_T, 0, (int)(sizeof ONLINE / sizeof *ONLINE));
  tcase_add_test(tc, test_bptt_memory_grows_with_T);
  tcase_add_test(tc, test_fptt_memory_is_one_chunk);
  tcase_add_test(tc, test_tbptt_memory_is_one_window);
  suite_add_tcase(su, tc);
  return snn_run_suite(su, 1);
}
