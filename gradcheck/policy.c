/* policy.c - when a finite-difference check may be run, with which step,
 * and at which tolerance (precision-neutral). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sim/engine.h"

int snn_fd_allowed(const snn_spec *s, snn_err *err) {
  int spiking = 0; /* gated cells have no spike function */
  for (size_t l = 0; l < s->L; l++) spiking |= s->layers[l].sh->spiking;
  if (s->forward == SNN_FWD_HEAVISIDE && spiking)
    return snn_err_set(
        err, SNN_EREFUSED, s->path, "spike.forward",
        "a finite-difference check needs \"sigmoid\": with \"heaviside\" the loss is piecewise constant "
        "in the weights, so a difference quotient is 0 or a jump and cannot confirm a surrogate gradient (compare the "
        "rules with BPTT instead: snngrad check NET --rules bptt,rtrl,...)");
  if (s->detach_reset || s->detach_rec)
    return snn_err_set(
        err, SNN_EREFUSED, s->path, s->detach_reset ? "gradient.reset" : "gradient.recurrent",
        "a finite difference differentiates the loss itself, which keeps every path; it can only confirm "
        "a gradient computed with gradient.reset and gradient.recurrent both \"keep\" (compare the rules with BPTT "
        "under the same options instead: snngrad check NET --rules ...)");
  return SNN_OK;
}

/* Central differences have truncation error ~h^2 and rounding ~eps/h, best at
 * h ~ eps^(1/3) with error ~eps^(2/3); Richardson's (4 D(h/2) - D(h))/3 has
 * ~h^4 and ~eps/h, best at h ~ eps^(1/5) with error ~eps^(4/5). */
double snn_fd_auto_step(long prec, int method) {
  double lg2eps = -(double)prec;
  return exp2(lg2eps / (method == SNN_FD_RICHARDSON ? 5.0 : 3.0));
}

/* The tolerance keeps the error order of the method and allows a constant
 * for the conditioning of the sequence (derivatives of order 3 or 5 of the
 * loss, which grow with the sigmoid slope and the length): 2^16 is measured
 * headroom on the shipped and tested networks, where the observed error sits
 * two to four decades below the bound.  It tightens with p as eps^(2/3) or
 * eps^(4/5). */
double snn_fd_lg_tol(long prec, int method) {
  double q = method == SNN_FD_RICHARDSON ? 0.8 : 2.0 / 3.0;
  return log10(2.0) * (16.0 - q * (double)prec);
}

double snn_fd_block_lg_tol(double lg_tol, double lg_ref_all, double lg_ref_block) {
  double gap = lg_ref_all - lg_ref_block;
  return lg_tol + (gap > 0 ? gap : 0);
}

int snn_fdreport_init(snn_fdreport *r, const snn_spec *s) {
  memset(r, 0, sizeof *r);
  r->blk = calloc(s->nblk, sizeof *r->blk);
  r->crossings = calloc(s->L, sizeof *r->crossings);
  if (!r->blk || !r->crossings || snn_nums_init(&r->loss, 1)) {
    snn_fdreport_clear(r);
    return SNN_ENOMEM;
  }
  return SNN_OK;
}

void snn_fdreport_clear(snn_fdreport *r) {
  if (!r) return;
  free(r->blk);
  free(r->crossings);
  snn_nums_clear(&r->loss);
  r->blk = NULL;
  r->crossings = NULL;
}
