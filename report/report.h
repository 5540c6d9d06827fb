/* report.h - the reports of gradcheck/ written as a terminal table, JSON or
 * CSV (docs/formats.md).  Tables go to a FILE; JSON and CSV are built in a
 * text buffer for the caller to write (io/io.h writes them atomically).
 *
 * One convention for an error of exactly zero everywhere: "0" in tables, the
 * number 0 in JSON, SNN_LG_ZERO (-9999) in the log10 columns of CSV files. */
#ifndef SNN_REPORT_H
#define SNN_REPORT_H

#include <stdio.h>

#include "gradcheck/gradcheck.h"
#include "io/io.h"

#define SNN_LG_ZERO (-9999.0)

/* A log10 value as "m.me-X" (values far below the double range included);
 * "0" for -inf, "n/a" for NaN. */
const char *snn_fmt_lg(double lg, char *buf, size_t n);
/* A log10 value for a CSV column: SNN_LG_ZERO for an error of exactly 0. */
double snn_csv_lg(double lg);

/* "network FILE: 5 inputs -> lif 8 -> readout 2; 40 steps; ..." */
void snn_report_network(FILE *f, const snn_spec *s);

/* BPTT against finite differences: the table of precision k, the closing
 * lines, and the JSON (snngrad-check/1). */
void snn_report_fd_head(FILE *f, const snn_fdcheck *r);
void snn_report_fd_prec(FILE *f, const snn_spec *s, const snn_fdcheck *r, int k);
void snn_report_fd_end(FILE *f, const snn_spec *s, const snn_fdcheck *r);
char *snn_report_fd_json(const snn_spec *s, const snn_fdcheck *r);

/* Every rule against BPTT: the table, JSON (snngrad-verdicts/1) and CSV. */
void snn_report_rules(FILE *f, const snn_spec *s, const snn_rulecheck *r);
char *snn_report_rules_json(const snn_spec *s, const snn_rulecheck *r);
int snn_report_rules_csv(const snn_rulecheck *r, snn_buf *b);

/* The sweeps as CSV. */
int snn_report_psweep_csv(const snn_rulecheck *rules, const snn_psweep *p, snn_buf *b);
int snn_report_stepsweep_csv(const snn_stepsweep *sw, snn_buf *b);

/* The rules' cost: the header, a row as it comes, the closing note, CSV. */
void snn_report_cost_head(FILE *f);
void snn_report_cost_row(FILE *f, const snn_rulecheck *rules, const snn_cost_row *row);
void snn_report_cost_end(FILE *f);
int snn_report_cost_csv(const snn_rulecheck *rules, const snn_cost *c, long bits, snn_buf *b);

/* explain: the per-step CSV and a summary of the totals. */
int snn_report_explain_csv(const snn_explain *x, snn_buf *b);
void snn_report_explain(FILE *f, const snn_explain *x, const char *synapse, const char *rule);

#endif
