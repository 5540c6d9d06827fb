/* prec.h - what the per-precision test programs share: the engine and the
 * precisions of this build (double: 53 bits; MPFR: 128 and 256 bits, so that
 * an exact identity can be seen to tighten), and parsing a network. */
#ifndef SNN_TEST_PREC_H
#define SNN_TEST_PREC_H

#include <check.h>

#include "io/io.h"
#include "sim/engine.h"

#ifdef SNN_MPFR
static const snn_engine *const ENG = &snn_engine_mpfr;
static const long PRECS[] = {128, 256};
#define NPRECS 2
#else
static const snn_engine *const ENG = &snn_engine_double;
static const long PRECS[] = {53};
#define NPRECS 1
#endif

static inline snn_spec *spec_from(const char *json) {
  snn_spec *s = NULL;
  snn_err e = {0};
  ck_assert_msg(snn_spec_parse(json, "(test)", &s, &e) == SNN_OK, "%s: %s", e.key, e.msg);
  return s;
}

#endif
