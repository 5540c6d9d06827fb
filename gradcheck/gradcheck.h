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

#define SNN_GC_MAXPREC 32
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
  /* The processes that share the comparisons (par/par.h): each computes
   * its share of the (precision, rule) pairs and the finite-difference
   * columns, and the results are exchanged, so the report is the same on
   * any number.  NULL (or a group of one): this process does everything. */
  const struct snn_group *group;
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
  double max_bytes;     /* refuse a network whose estimate (sim/estimate.h) exceeds this */
  const char *max_from; /* where that limit comes from, for the message */
} snn_cost_opts;
/* Called after each row, for output as it goes. */
typedef void (*snn_cost_progress)(void *ctx, const snn_rulecheck *rules, const snn_cost_row *row);
int snn_gc_cost(const snn_rulecheck *rules, const snn_prec *p, const snn_cost_opts *o, snn_cost_progress cb, void *ctx,
                snn_cost *out, snn_err *err);
void snn_cost_clear(snn_cost *c);

/* ---- a gradient computed elsewhere against snngrad's (compare.c) ---- */

/* Their gradient, read from a gradient file (io/io.h) or from a folder of
 * .npy files, one per trained block (<block>.npy, float32 or float64), in
 * the layout of the network; with, per block, the unit roundoff of the
 * numbers as they were stored (2^-24 for float32, 2^-53 for float64, 2^-p
 * for a gradient file of p bits). */
typedef struct {
  snn_result r;      /* grad.v (and grad.s from a gradient file); frozen blocks 0 */
  double *u;         /* per block */
  char (*dtype)[24]; /* per block: "float32", "float64", "53 bits" */
  int npy;           /* read from a folder of .npy files */
  char warnings[1024];
} snn_gc_theirs;
/* Refuses (naming the file and the block) a missing trained block, a wrong
 * shape, an element type other than float32/float64, a number that is not
 * finite; a .npy file that is not a trained block is a warning. */
int snn_gc_theirs_load(const snn_spec *s, const char *path, snn_gc_theirs *t, snn_err *err);
void snn_gc_theirs_clear(snn_gc_theirs *t);

/* The tolerance (docs/compare.md): a block agrees when its normwise relative
 * error against snngrad at the highest precision is at most
 *   tol = max(K sqrt(m) u, C e_own u / 2^-p0) + sqrt(n) eta / ||ours||
 * with u the unit roundoff of their numbers, m = T (H + n_out) the number of
 * terms one gradient entry sums over the sequence, e_own snngrad's own error
 * on the block at the lowest precision p0 (when it is below the highest),
 * n the block's size and eta half the smallest subnormal of their type. */
#define SNN_GC_CMP_K 10.0
#define SNN_GC_CMP_C 10.0

typedef struct {
  int present;                   /* trained */
  double lg_rel[SNN_GC_MAXPREC]; /* log10 ||theirs - ours|| / ||ours|| at each precision */
  double lg_ref;                 /* log10 ||ours|| at the reference */
  double lg_theirs;              /* log10 ||theirs|| */
  double lg_own;                 /* snngrad's own error at the lowest precision, or NaN */
  double lg_tol;                 /* log10 of the tolerance */
  double u;                      /* their unit roundoff */
  size_t worst_r, worst_c;       /* the element with the largest |theirs - ours| */
  double worst_theirs, worst_ours;
  double cosine;
  int agrees;
} snn_gc_cmpblock;

typedef struct {
  snn_rule rule;
  char rule_text[160];
  int np;
  snn_prec prec[SNN_GC_MAXPREC]; /* the last is the reference */
  size_t nblk, m;                /* m: the terms per gradient entry of the tolerance */
  snn_gc_cmpblock *blk;          /* spec->nblk */
  double lg_rel_all, cosine_all; /* every trained parameter, at the reference */
  int ndiffer;                   /* trained blocks that differ */
  size_t *crossings;             /* per layer, at the reference */
} snn_gc_comparison;

/* Rule `rule` at each precision (ascending, the last the reference) against
 * their gradient.  SNN_OK whatever the verdicts; ndiffer counts them. */
int snn_gc_compare(const snn_spec *s, const snn_data *d, const char *rule, const snn_prec *p, int np,
                   const snn_gc_theirs *t, snn_gc_comparison *out, snn_err *err);
void snn_gc_comparison_clear(snn_gc_comparison *c);

#endif
