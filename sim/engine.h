/* engine.h - one precision's entry points, as a const type object (the
 * pattern of gsl_rng_type): the CLI picks snn_engine_double or
 * snn_engine_mpfr and never sees a numeric type. */
#ifndef SNN_ENGINE_H
#define SNN_ENGINE_H

#include "sim/rule.h"
#include "sim/snn.h"

/* Finite-difference check options and report. */
enum snn_fd_method { SNN_FD_CENTRAL, SNN_FD_RICHARDSON };
struct snn_group;
typedef struct {
  int method;
  double step; /* relative step; 0 = chosen from the precision */
  /* The processes that share the columns (par/par.h): each computes its
   * share of the parameters and the columns are exchanged exactly, so the
   * report is the same bytes on any number.  NULL: this process alone. */
  const struct snn_group *group;
} snn_fdopts;

typedef struct {
  int present;     /* the block is trainable */
  double lg_rel;   /* log10 ||g - f|| / ||f|| (normwise relative error) */
  double lg_ref;   /* log10 ||f|| */
  double lg_worst; /* log10 max_i |g_i - f_i| / max_i |f_i| */
  size_t worst_r, worst_c;
  double cosine;   /* <g, f> / (||g|| ||f||), as a double */
  double lg_1mcos; /* log10 (1 - cosine), computed at the working precision */
  double lg_tol;   /* this block's tolerance (see snn_fd_block_lg_tol) */
  int verdict;     /* SNN_BLK_OK, SNN_BLK_FAIL or SNN_BLK_UNRESOLVED */
} snn_blockcmp;

enum { SNN_BLK_OK, SNN_BLK_FAIL, SNN_BLK_UNRESOLVED };

typedef struct {
  long prec;
  int mpfr;
  double step;       /* relative step used */
  double lg_tol;     /* log10 of the tolerance at this precision */
  double lg_rel_all; /* over every trainable parameter */
  double lg_ref_all;
  int pass;          /* every resolved block and the whole gradient within tolerance */
  int nunresolved;   /* blocks too small to resolve at this precision */
  size_t nkink;      /* delays (linear kernel) within a step of an integer: not compared */
  snn_blockcmp *blk; /* spec->nblk entries */
  size_t *crossings; /* per layer */
  snn_nums loss;
} snn_fdreport;

int snn_fdreport_init(snn_fdreport *r, const snn_spec *s);
void snn_fdreport_clear(snn_fdreport *r);
/* Refuses (SNN_EREFUSED, with the reason) networks on which a finite
 * difference cannot confirm the gradient: heaviside forward, detach options. */
int snn_fd_allowed(const snn_spec *s, snn_err *err);
/* The tolerance of the BPTT-vs-FD comparison at p bits, as log10. */
double snn_fd_lg_tol(long prec, int method);
double snn_fd_auto_step(long prec, int method);
/* A block's tolerance: the finite difference's absolute error is set by the
 * scale of the whole gradient, so a block whose reference is smaller than the
 * whole by a factor r gets the tolerance times r.  Above 1e-2 the block cannot
 * be resolved at this precision (neither pass nor fail). */
double snn_fd_block_lg_tol(double lg_tol, double lg_ref_all, double lg_ref_block);
#define SNN_FD_LG_UNRESOLVED (-2.0)

/* One row of the step sweep (the "V curve"). */
typedef struct {
  double step;
  double lg_rel_central, lg_rel_richardson;
} snn_sweep_row;

typedef struct {
  double fwd_s, bwd_s; /* seconds per step */
  size_t bytes_traj, bytes_ws, bytes_net;
  double loss;
} snn_bench_res;

/* Rule verdicts (gradcheck/verdict.c). */
enum { SNN_VERDICT_EXACT, SNN_VERDICT_APPROXIMATE, SNN_VERDICT_INCONCLUSIVE };
/* log10 of the error two exact algorithms may differ by at p bits: 2^(14-p). */
double snn_exact_lg_tol(long prec);
/* From the errors at increasing precisions: EXACT (rounding level at every
 * precision, and shrinking by at least half the added bits), APPROXIMATE
 * (above rounding level everywhere, within a decade of itself), else
 * INCONCLUSIVE.  `gap` gets the error at the highest precision. */
int snn_classify(const long *prec, const double *lg_err, int n, double *gap);
const char *snn_verdict_name(int v);

/* explain (docs/teaching.md): for one synapse, per step t = 1..T (arrays of
 * T + 1, row 0 unused), BPTT's term delta^t x^t (delta = dE/dI of the
 * postsynaptic current, x the presynaptic input of the step) and its running
 * sum, and a forward-in-time rule's increment, running sum and the two
 * factors it multiplies (learning signal, trace); the totals at the working
 * precision as text. */
typedef struct {
  size_t T;
  int has_rule;
  double *bptt_delta, *bptt_local, *bptt_term, *bptt_sum;
  double *rule_sig, *rule_trace, *rule_term, *rule_sum;
  snn_nums total_bptt, total_rule;
} snn_explain;
int snn_explain_init(snn_explain *x, size_t T);
void snn_explain_clear(snn_explain *x);

typedef struct {
  const char *name; /* "double" or "mpfr" */
  int (*grad)(const snn_spec *s, const snn_data *d, long prec, const snn_rule *rule, snn_result *out, snn_err *err);
  int (*fdcheck)(const snn_spec *s, const snn_data *d, long prec, const snn_fdopts *o, snn_fdreport *rep, snn_err *err);
  int (*sweep)(const snn_spec *s, const snn_data *d, long prec, const double *steps, size_t nsteps, snn_sweep_row *rows,
               snn_err *err);
  int (*bench)(const snn_spec *s, const snn_data *d, long prec, int reps, snn_bench_res *out, snn_err *err);
  /* Compare two results at this precision, per block (out: spec->nblk) and
   * over every trainable parameter (all), reference first. */
  int (*compare)(const snn_spec *s, long prec, const snn_result *ref, const snn_result *x, snn_blockcmp *out,
                 snn_blockcmp *all);
  /* One forward pass: the readout yo (T x n_out), the outputs of every
   * hidden unit z (T x H, layers concatenated) and the loss. */
  int (*trace)(const snn_spec *s, const snn_data *d, long prec, double *yo, double *z, double *loss, snn_err *err);
  /* explain: one synapse (block blk, row, col) under BPTT and, unless it is
   * bptt, the rule (rtrl, ostl or eprop). */
  int (*explain)(const snn_spec *s, const snn_data *d, long prec, const snn_rule *rule, size_t blk, size_t row,
                 size_t col, snn_explain *out, snn_err *err);
} snn_engine;

extern const snn_engine snn_engine_double, snn_engine_mpfr;

#endif
