/* gradcheck.h - the checks of snngrad, as a library: BPTT against finite
 * differences over a list of precisions, every rule against BPTT over rules
 * x precisions with verdicts, the precision sweep, the step sweep ("V
 * curve") and the rules' cost.  Each returns a report structure; report/
 * writes it as a table, JSON or CSV.  Nothing here prints.
 *
 * Precision-neutral: the numbers come from the engines (sim/engine.h). */
#ifndef SNN_GRADCHECK_H
#define SNN_GRADCHECK_H

#include "sim/engine.h"
#include "sim/estimate.h"

/* A working precision: the engine and its bits (53 with the double engine
 * is the double path; anything else, or "mpfr:53", the MPFR path). */
typedef struct {
  const snn_engine *eng;
  long bits;
} snn_prec;

#define SNN_GC_MAXPREC 16
#define SNN_GC_MAXRULES 16

/* "53", "256", "mpfr:53": 0, or -1 if not a precision in [8, 2^20] bits. */
int snn_prec_parse(const char *tok, snn_prec *p);
/* A comma-separated list of at most `max`: 0, or -1. */
int snn_prec_parse_list(const char *arg, snn_prec *out, int max, int *n);
/* "53 bits (double)", "256 bits (MPFR)". */
const char *snn_prec_name(const snn_prec *p, char *buf, size_t n);

/* ---- BPTT against finite differences ---- */
typedef struct {
  int np;
  snn_prec prec[SNN_GC_MAXPREC];
  snn_fdopts opts;
  snn_fdreport rep[SNN_GC_MAXPREC];
  int done; /* precisions computed */
  int all_pass;
  char *resolved; /* per block: resolved at some precision */
  int never;      /* trainable blocks resolved at no precision */
} snn_fdcheck;

/* Called after each precision (k) is computed, for output as it goes. */
typedef void (*snn_gc_progress)(void *ctx, const snn_fdcheck *r, int k);
int snn_gc_fdcheck(const snn_spec *s, const snn_data *d, const snn_prec *p, int np, const snn_fdopts *o,
                   snn_gc_progress cb, void *ctx, snn_fdcheck *out, snn_err *err);
void snn_fdcheck_clear(snn_fdcheck *r, const snn_spec *s);

/* ---- every rule against BPTT ---- */
typedef struct {
  int nr, np;
  char text[SNN_GC_MAXRULES][160]; /* as written */
  snn_rule rule[SNN_GC_MAXRULES];
  snn_prec prec[SNN_GC_MAXPREC];
  size_t nblk;
  double lg[SNN_GC_MAXRULES][SNN_GC_MAXPREC];   /* log10 normwise relative error, every trainable parameter */
  double cosv[SNN_GC_MAXRULES][SNN_GC_MAXPREC]; /* cosine with BPTT */
  double *lgb;                                  /* [rule][block][precision] */
  double lg_fd[SNN_GC_MAXPREC];                 /* BPTT against Richardson finite differences, or NaN */
  int fd_ok;
  char fd_why[512];  /* why there is no finite-difference column */
  size_t *crossings; /* per layer, at the last precision */
  int verdict[SNN_GC_MAXRULES], expect[SNN_GC_MAXRULES], agrees[SNN_GC_MAXRULES];
  char why[SNN_GC_MAXRULES][256];
  double gap[SNN_GC_MAXRULES];
  int mismatches;
} snn_rulecheck;

/* "a,b:k=v,k2=v2,c": a token with '=' and no ':' continues the previous
 * rule's options.  Refuses (SNN_EARG, key `key`) what does not parse. */
int snn_gc_split_rules(const char *arg, const char *key, snn_rulecheck *r, snn_err *err);
int snn_gc_rules(const snn_spec *s, const snn_data *d, snn_rulecheck *r, snn_err *err);
double snn_rulecheck_block(const snn_rulecheck *r, int rule, size_t blk, int k);
/* The verdict of one block of one rule over the precisions. */
int snn_rulecheck_block_verdict(const snn_rulecheck *r, int rule, size_t blk);
void snn_rulecheck_clear(snn_rulecheck *r);

/* ---- the precision sweep: the rules' error against BPTT from LO to HI bits ---- */
typedef struct {
  int rule;
  long bits;
  double lg; /* log10 normwise relative error; -INFINITY for exactly 0 */
} snn_psweep_row;
typedef struct {
  size_t n, cap;
  snn_psweep_row *row;
} snn_psweep;
/* Geometric steps of 1.25 from lo, and hi itself; MPFR at every point. */
int snn_gc_precision_sweep(const snn_spec *s, const snn_data *d, const snn_rulecheck *rules, long lo, long hi,
                           snn_psweep *out, snn_err *err);
void snn_psweep_clear(snn_psweep *p);

/* ---- the step sweep: the finite difference's error against its step ---- */
typedef struct {
  int np;
  snn_prec prec[SNN_GC_MAXPREC];
  size_t n[SNN_GC_MAXPREC];
  snn_sweep_row row[SNN_GC_MAXPREC][128];
} snn_stepsweep;
int snn_gc_step_sweep(const snn_spec *s, const snn_data *d, const snn_prec *p, int np, snn_stepsweep *out,
                      snn_err *err);

/* ---- the rules' cost: time per step and memory against T and n ---- */
typedef struct {
  int rule;
  long neurons, steps;
  double us_per_step; /* the best of three sequences */
  size_t bytes;
} snn_cost_row;
typedef struct {
  size_t n, cap;
  snn_cost_row *row;
} snn_cost;
typedef struct {
  const char *model; /* lif, alif, ... */
  int recurrent;
  const long *neurons, *steps;
  int nn, nT;
  double max_bytes; /* refuse a network whose estimate (sim/estimate.h) exceeds this */
} snn_cost_opts;
/* Called after each row, for output as it goes. */
typedef void (*snn_cost_progress)(void *ctx, const snn_rulecheck *rules, const snn_cost_row *row);
int snn_gc_cost(const snn_rulecheck *rules, const snn_prec *p, const snn_cost_opts *o, snn_cost_progress cb, void *ctx,
                snn_cost *out, snn_err *err);
void snn_cost_clear(snn_cost *c);

#endif
