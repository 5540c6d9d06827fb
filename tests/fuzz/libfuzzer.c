/* libfuzzer.c - libFuzzer's entry point for one target, chosen when compiling
 * with -DSNN_FUZZ_FN=snn_fuzz_<name> (tests/fuzz/meson.build). */
#include "tests/fuzz/targets.h"

#ifndef SNN_FUZZ_FN
#error "compile with -DSNN_FUZZ_FN=snn_fuzz_<target>"
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  return SNN_FUZZ_FN(data, size);
}
