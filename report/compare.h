/* compare.h - `snngrad compare` and `snngrad export` on the report side: the
 * comparison of an outside gradient with snngrad's (gradcheck.h,
 * snn_gc_compare) as a terminal table and as JSON (snngrad-compare/1), and
 * the export of a network's parameters and data as .npy files. */
#ifndef SNN_REPORT_COMPARE_H
#define SNN_REPORT_COMPARE_H

#include <stdio.h>

#include "gradcheck/gradcheck.h"
#include "io/io.h"

/* The table and the closing verdict line. */
void snn_report_compare(FILE *f, const snn_spec *s, const char *theirs, const snn_gc_theirs *t,
                        const snn_gc_comparison *c);
/* The same as JSON (docs/compare.md); NULL when out of memory. */
char *snn_report_compare_json(const snn_spec *s, const char *theirs, const snn_gc_theirs *t,
                              const snn_gc_comparison *c);

/* Write, all or nothing, into the folder `dir`: <block>.npy for every block
 * of the parameter file, input.npy (T x n_in), target.npy (T x n_out, mse)
 * or label.npy (ce, rank 0), network.json (the bytes of the network file,
 * net_text) and export.json (what was written, which blocks are trained).
 * Everything goes to a new folder beside `dir` that is then renamed onto
 * it.  `dir` may be absent, empty, or a folder that export wrote before
 * (holding export.json and nothing but the files export writes); anything
 * else is refused (SNN_EARG) and left as it was. */
int snn_report_export(const snn_spec *s, const snn_data *d, const char *net_text, size_t net_len, const char *dir,
                      snn_err *err);

#endif
