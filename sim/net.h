/* net.h - the numeric network, compiled once per precision (see real.h).
 *
 * A layer is a *cell* (per-unit state of k components, updated from its own
 * previous value, its own previous output and one input current) plus two
 * projections that make the current:  I^t = W_in x^t + W_rec z^{t-1}.
 * The cell supplies the step and, per unit, its local Jacobians; every rule
 * is written against those Jacobians and never against a model. */
#ifndef SNN_NET_H
#define SNN_NET_H

#include "sim/real.h"
#include "sim/snn.h"

/* Scratch scalars of the context are shared by convention:
 *   t[0]      kernels and top-level code that calls nothing else
 *   t[1], t[2] spike.h
 *   t[3]..t[7] cells */

/* Local Jacobians of every unit of a layer at one step (arrays over units).
 * F is the state update s^t = F(s^{t-1}, z^{t-1}, I^t; p), U the distance to
 * threshold u^t = U(s^t; p), z^t = spike(u^t) and psi = dz/du (or surrogate). */
typedef struct {
  relt *dF_ds;  /* n*k*k: [i][c][c'] = d s_c^t / d s_c'^{t-1} */
  relt *dF_dzr; /* n*k: d s^t / d z^{t-1} through the reset (cut by gradient.reset=detach) */
  relt *dF_dzl; /* n*k: d s^t / d z^{t-1} through local paths never cut (alif adaptation) */
  relt *dF_dI;  /* n*k: d s^t / d I^t */
  relt *dF_dp;  /* n*k*np: [i][c][p] = d s_c^t / d p_i (own neuron constant p) */
  relt *dU_ds;  /* n*k */
  relt *dU_dp;  /* n*np */
  relt *psi;    /* n */
} SNN_SFX(snn_jac);
typedef SNN_SFX(snn_jac) jacbuf;

typedef struct SNN_SFX(snn_lay) lay;

typedef struct {
  const char *name;
  int k;  /* state components per unit */
  int nd; /* derived constants per unit */
  /* Derived per-unit constants (decay factors and their derivatives) from the
   * current parameters; called whenever the parameters change. */
  void (*derive)(lay *L, rctx *c);
  /* One step for all units: s, u, z from s_prev, z_prev and I. */
  void (*step)(const lay *L, const relt *sp, const relt *zp, const relt *I, relt *s, relt *u, relt *z, rctx *c);
  /* The local Jacobians at that step. */
  void (*jac)(const lay *L, const relt *sp, const relt *zp, const relt *I, const relt *s, const relt *u,
              const relt *z, jacbuf *J, rctx *c);
} SNN_SFX(snn_cell_type);
typedef SNN_SFX(snn_cell_type) cell_type;

extern const cell_type SNN_SFX(snn_cell_lif), SNN_SFX(snn_cell_alif), SNN_SFX(snn_cell_snu);

struct SNN_SFX(snn_lay) {
  const snn_spec *spec;
  const snn_layer_spec *ls;
  const cell_type *cell;
  size_t n, nprev;
  int k, np;
  relt *w_in, *w_rec;        /* into theta; w_rec NULL if not recurrent */
  relt *p[SNN_MAXCONST];     /* per-unit constants, into theta */
  relt *d;                   /* n * cell->nd derived constants */
};

typedef struct {
  const snn_spec *spec;
  rctx *c;
  size_t P;
  relt *theta;     /* all parameters, in the spec's block layout */
  relt *x;         /* T * n_in */
  relt *y;         /* T * n_out (mse) */
  long label;
  lay *layers;
  relt *ro_w, *ro_b;
  real kappa;
  size_t bytes;    /* bytes held by this object */
} SNN_SFX(snn_net);
typedef SNN_SFX(snn_net) net;

/* One forward trajectory: everything BPTT needs, rows t = 0..T (row 0 zero). */
typedef struct {
  size_t T;
  relt **s, **z, **I, **u; /* per layer: (T+1)*n*k, (T+1)*n, (T+1)*n, (T+1)*n */
  relt *yo;                /* (T+1) * n_out */
  relt *dEdy;              /* (T+1) * n_out: dE/dy_out^t (partial) */
  relt *rate;              /* per hidden unit (all layers, concatenated): f_j */
  real loss;
  size_t *crossings;
  size_t bytes;
} SNN_SFX(snn_traj);
typedef SNN_SFX(snn_traj) traj;

int SNN_SFX(snn_rctx_init)(rctx *c, long prec);

/* Build the numeric network from the spec and a data set (parameters parsed
 * at the context's precision). */
int SNN_SFX(snn_net_init)(net *N, const snn_spec *s, const snn_data *d, rctx *c);
void SNN_SFX(snn_net_clear)(net *N);
/* Recompute derived constants after theta changed. */
void SNN_SFX(snn_net_derive)(net *N);

int SNN_SFX(snn_traj_init)(traj *tr, const net *N);
void SNN_SFX(snn_traj_clear)(traj *tr, const net *N);
/* Forward pass over the whole sequence; fills the trajectory, loss, dE/dy. */
void SNN_SFX(snn_forward)(const net *N, traj *tr);

/* BPTT workspace and gradient (length P, all blocks; the caller zeroes the
 * blocks that are not trainable). */
typedef struct SNN_SFX(snn_bptt_ws) SNN_SFX(snn_bptt_ws);
SNN_SFX(snn_bptt_ws) *SNN_SFX(snn_bptt_ws_alloc)(const net *N);
void SNN_SFX(snn_bptt_ws_free)(SNN_SFX(snn_bptt_ws) *w, const net *N);
size_t SNN_SFX(snn_bptt_ws_bytes)(const SNN_SFX(snn_bptt_ws) *w);
void SNN_SFX(snn_bptt)(const net *N, const traj *tr, SNN_SFX(snn_bptt_ws) *w, relt *grad);

/* Kernels: row-major, C = op(A) op(B) (+ C when acc). */
void SNN_SFX(snn_gemm)(int ta, int tb, size_t M, size_t N, size_t K, const relt *A, size_t lda, const relt *B,
                       size_t ldb, int acc, relt *C, size_t ldc, rctx *c);
/* y = op(A) x (+ y when acc); A is M x N. */
void SNN_SFX(snn_gemv)(int ta, size_t M, size_t N, const relt *A, size_t lda, const relt *x, int acc, relt *y,
                       rctx *c);

/* Results crossing to the neutral side. */
int SNN_SFX(snn_export)(const relt *v, size_t n, snn_nums *out, const rctx *c);

#endif
