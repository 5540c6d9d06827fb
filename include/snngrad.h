/* snngrad.h - the snngrad library in one include: every public header.
 * Compile with `pkg-config --cflags --libs snngrad` (docs/library.md); the
 * headers are installed under ${includedir}/snngrad, keeping their folders,
 * and include each other as "sim/snn.h", "io/io.h", ...
 *
 * The ten lines (error handling shortened; every call returns an int status
 * from enum snn_status, 0 being SNN_OK, and fills the snn_err):
 *
 *   snn_err err = {0};
 *   snn_spec *spec;                                  // the network file
 *   snn_spec_load("lif_smooth.json", &spec, &err);   // ... or snn_spec_parse(text, ...)
 *   snn_data data;                                   // parameters, input, target
 *   snn_data_generate(spec, &data, &err);            // from the seed; or snn_data_load(spec, "params.json", ...)
 *   snn_rule rule;
 *   snn_rule_parse("bptt", &rule, &err);             // any rule of `snngrad help`, with its options
 *   snn_result res;
 *   snn_result_init(&res, spec);                     // the caller's struct: _init ... _clear
 *   snn_engine_mpfr.grad(spec, &data, 128, &rule, &res, &err);  // or snn_engine_double with 53 bits
 *   snn_prec p = {&snn_engine_double, 53};           // check BPTT against finite differences
 *   snn_fdopts fo = {SNN_FD_RICHARDSON, 0.0};
 *   snn_fdcheck fd;
 *   snn_gc_fdcheck(spec, &data, &p, 1, &fo, NULL, NULL, &fd, &err);  // fd.all_pass
 *   snn_fdcheck_clear(&fd, spec); snn_result_clear(&res); snn_data_clear(&data);
 *   snn_spec_free(spec);                             // the library's allocation: _free
 *
 * On failure, snn_err_format(&err, buf, sizeof buf) gives "FILE: key 'KEY':
 * MESSAGE" and snn_strerror(status) the status's message.  A program that
 * used MPFR may call mpfr_free_cache() before it exits. */
#ifndef SNNGRAD_H
#define SNNGRAD_H

#ifdef __cplusplus
extern "C" {
#endif

#include "experiments/tasks.h"   /* the training tasks */
#include "experiments/train.h"   /* the training loop */
#include "gradcheck/gradcheck.h" /* the checks: finite differences, rules x precisions, sweeps */
#include "io/checkpoint.h"       /* training checkpoints */
#include "io/io.h"               /* network, parameter and gradient files; atomic writes */
#include "io/npy.h"              /* NumPy .npy files */
#include "models/model.h"        /* the neuron models as type objects */
#include "report/report.h"       /* the checks' reports as tables, JSON and CSV */
#include "sim/engine.h"          /* snn_engine_double, snn_engine_mpfr: grad, fdcheck, trace, compare, ... */
#include "sim/estimate.h"        /* the memory a run will need, before anything is allocated */
#include "sim/rule.h"            /* the rules as type objects, snn_rule_parse */
#include "sim/snn.h"             /* status codes, snn_err, snn_spec, snn_data, snn_result, snn_nums */

#ifdef __cplusplus
}
#endif

#endif
