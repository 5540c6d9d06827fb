/* driver.h - a run (context, network, trajectory, BPTT workspace, gradient
 * vector) created once and reused, for grad, check and bench. */
#ifndef SNN_DRIVER_H
#define SNN_DRIVER_H

#include "sim/engine.h"
#include "sim/net.h"

typedef struct {
  rctx c;
  net N;
  traj tr;
  SNN_SFX(snn_bptt_ws) * ws;
  relt *g;
  int have_c, have_tr;
} SNN_SFX(snn_run);
typedef SNN_SFX(snn_run) snn_run;

int SNN_SFX(snn_run_init)(snn_run *R, const snn_spec *s, const snn_data *d, long prec, snn_err *err);
void SNN_SFX(snn_run_clear)(snn_run *R);
/* Zero the gradient entries of blocks that are not trainable. */
void SNN_SFX(snn_zero_frozen)(const snn_spec *s, relt *g, rctx *c);

int SNN_SFX(snn_grad)(const snn_spec *s, const snn_data *d, long prec, const snn_rule *rule, snn_result *out,
                      snn_err *err);
int SNN_SFX(snn_trace)(const snn_spec *s, const snn_data *d, long prec, double *yo, double *z, double *loss,
                       snn_err *err);
int SNN_SFX(snn_explain)(const snn_spec *s, const snn_data *d, long prec, const snn_rule *rule, size_t blk, size_t row,
                         size_t col, snn_explain *x, snn_err *err);
int SNN_SFX(snn_bench)(const snn_spec *s, const snn_data *d, long prec, int reps, snn_bench_res *out, snn_err *err);

#endif
