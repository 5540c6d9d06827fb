/* testutil.h - comparisons with meaning for floating point and MPFR, and
 * small helpers shared by the test suites.
 *
 * Check's float assertions are absolute; these are relative, ulp-based and
 * handle zero, infinities and NaN expectations separately (after the manner
 * of GSL's gsl_test_rel). */
#ifndef SNN_TESTUTIL_H
#define SNN_TESTUTIL_H

#include <check.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "io/io.h"

/* 1 if x agrees with the expectation e to relative tolerance rel (NaN only
 * matches NaN, infinities only the same infinity, zero to |x| <= rel). */
static inline int rel_ok(double x, double e, double rel) {
  if (isnan(e)) return isnan(x);
  if (isinf(e)) return x == e;
  if (isnan(x) || isinf(x)) return 0;
  if (e == 0.0) return fabs(x) <= rel;
  return fabs(x - e) <= rel * fabs(e);
}

/* Distance in units in the last place between two finite doubles. */
static inline uint64_t ulp_dist(double a, double b) {
  int64_t ia, ib;
  memcpy(&ia, &a, 8);
  memcpy(&ib, &b, 8);
  if (ia < 0) ia = INT64_MIN - ia;
  if (ib < 0) ib = INT64_MIN - ib;
  return ia > ib ? (uint64_t)(ia - ib) : (uint64_t)(ib - ia);
}

#define ck_assert_rel(x, e, rel)                                                                               \
  do {                                                                                                         \
    double x_ = (x), e_ = (e), r_ = (rel);                                                                     \
    ck_assert_msg(rel_ok(x_, e_, r_), "%s = %.17g, expected %s = %.17g to relative %.3g", #x, x_, #e, e_, r_); \
  } while (0)

/* Run a suite, print Check's summary, and turn the failures into the exit
 * status; frees MPFR's caches so valgrind sees no leak. */
#include <mpfr.h>
static inline int snn_run_suite(Suite *su, int nofork) {
  SRunner *sr = srunner_create(su);
  if (nofork) srunner_set_fork_status(sr, CK_NOFORK);
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  mpfr_free_cache();
  return failed ? 1 : 0;
}

#endif
