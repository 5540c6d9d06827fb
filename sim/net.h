/* net.h - the numeric network, compiled once per precision (see real.h).
 *
 * A layer is a *cell* (per-unit state of k components, updated from its own
 * previous value, its own previous output and m input currents) plus the
 * projections that make the currents (snn_model_shape in snn.h): stacked
 * I_q^t = W_in,q x^t + W_rec,q z^{t-1} + b_q, then the mixes (dense matrices
 * reading same-step currents and previous states), with x^t replaced by the
 * delayed inputs when the layer has synaptic delays.
 * The cell supplies the step and, per unit, its local Jacobians; every rule
 * is written against those Jacobians and never against a model. */
#ifndef SNN_NET_H
#define SNN_NET_H

#include "sim/real.h"
#include "sim/snn.h"

/* Scratch scalars: see the context in real.h (leaf, spike[], cell[]). */

/* Local Jacobians of every unit of a layer at one step (arrays over units).
 * F is the state update s^t = F(s^{t-1}, z^{t-1}, I^t; p), U the distance to
 * threshold u^t = U(s^t; p), z^t = spike(u^t) and psi = dz/du (or surrogate). */
typedef struct {
  relt *dF_ds;  /* n*k*k: [i][c][c'] = d s_c^t / d s_c'^{t-1} */
  relt *dF_dzr; /* n*k: d s^t / d z^{t-1} through the reset (cut by gradient.reset=detach) */
  relt *dF_dzl; /* n*k: d s^t / d z^{t-1} through local paths never cut (alif adaptation) */
  relt *dF_dI;  /* n*k*m: [i][c][q] = d s_c^t / d I_q^t */
  relt *dF_dp;  /* n*k*np: [i][c][p] = d s_c^t / d p_i (own neuron constant p) */
  relt *dU_ds;  /* n*k */
  relt *dU_dp;  /* n*np */
  relt *psi;    /* n */
} SNN_SFX(snn_jac);
typedef SNN_SFX(snn_jac) jacbuf;

typedef struct SNN_SFX(snn_lay) lay;

typedef struct SNN_SFX(snn_cell_type) {
  const char *name;
  int k;  /* state components per unit */
  int nd; /* derived constants per unit */
  /* Derived per-unit constants (decay factors and their derivatives) from the
   * current parameters; called whenever the parameters change. */
  void (*derive)(lay *L, rctx *c);
  /* One step for all units: s, u, z from s_prev, z_prev and the currents I
   * (m n values, current q of unit i at q n + i). */
  void (*step)(const lay *L, const relt *sp, const relt *zp, const relt *I, relt *s, relt *u, relt *z, rctx *c);
  /* The local Jacobians at that step. */
  void (*jac)(const lay *L, const relt *sp, const relt *zp, const relt *I, const relt *s, const relt *u, const relt *z,
              jacbuf *J, rctx *c);
  /* Optional (NULL: only the zero state): the initial state of the units
   * for layers with "initial_state": "uniform" (the reference code's state:
   * ltc's, sparch's adLIF's), from k + 1 independent draws in [0, 1) per
   * unit, draw q of unit i at u[q n + i]: s^0 (n k values) and the output
   * before step 1, z^0 (n values, zero on entry; it enters step 1 as z^{t-1}
   * does).  Both must not depend on the parameters: they are constants of
   * the sequence. */
  void (*init)(const lay *L, const double *u, relt *s0, relt *z0, rctx *c);
  /* Optional (NULL: jac alone), both or neither: jac split in two, for a
   * rule that keeps a buffer of Jacobians over many steps of fixed
   * parameters (BPTT's backward pass).  jac_fixed writes the entries that
   * depend on the parameters only, jac_step the others; the two together
   * write what jac writes, with the same operations (the same bits). */
  void (*jac_fixed)(const lay *L, jacbuf *J, rctx *c);
  void (*jac_step)(const lay *L, const relt *sp, const relt *zp, const relt *I, const relt *s, const relt *u,
                   const relt *z, jacbuf *J, rctx *c);
} SNN_SFX(snn_cell_type);
typedef SNN_SFX(snn_cell_type) cell_type;

/* One normalised side as the kernels see it: F features at offset f0 of
 * records of FF, gamma, beta, the running mean and variance (T x F), eps,
 * and the parameter blocks (gamma, beta, mean, var) for the gradient. */
typedef struct {
  size_t F, f0, FF;
  const relt *g, *b, *m, *v;
  double eps;
  const int *blk;
} SNN_SFX(snn_bnview);

/* A batch-normalisation record of one step for FF features (a layer's two
 * sides, the input side first, or the readout): 1/sqrt(var + eps), the
 * batch mean and the batch's unbiased variance (FF each; these two only in
 * training) and then the normalised values, bcap rows of FF. */
static inline size_t SNN_SFX(snn_bn_rec)(size_t FF, size_t bcap) {
  return (3 + bcap) * FF;
}

struct SNN_SFX(snn_lay) {
  const snn_spec *spec;
  const snn_layer_spec *ls;
  const cell_type *cell;
  const snn_model_shape *sh;
  size_t n, nprev;
  int k, np, m;
  relt *w_in, *w_rec; /* into theta; w_rec NULL if not recurrent */
  /* double only (NULL in MPFR and without w_rec): each W_rec,r in panels
   * for the spikes' event-driven product (snn_rows_bin), remade by
   * snn_net_derive; ldt values per W_rec,r */
  relt *w_rect;
  size_t ldt;
  relt *p[SNN_MAXCONST]; /* per-unit constants, into theta */
  relt *bias;            /* m n, or NULL */
  relt *bias_rec;        /* nrec n ("separate_biases"), or NULL */
  relt *mix[SNN_MAXMIX]; /* n x nsrc n each */
  relt *d;               /* n * cell->nd derived constants */
  /* synaptic delays: nd = dmax + 1 taps; per synapse (nin n x nprev) the
   * kernel weights kw[(r i + j) nd + d] and their derivatives in the delay */
  size_t ndl; /* dmax + 1, or 0 without delays */
  relt *delay, *kw, *dkw;
  relt *xd; /* nin n nprev: scratch for the delayed inputs */
  /* batch normalisation of the input [0] and recurrent [1] projections
   * (docs/batchnorm.md): each side's view, F = nin n and nrec n (0 if
   * absent), FF their sum */
  int bn;
  SNN_SFX(snn_bnview) bs[2];
};

/* Online updates (training): a forward-in-time rule calls fn every `every`
 * steps (t < T) with the gradient accumulated since the previous call
 * (length P, parameter layout), then starts accumulating again from zero.
 * fn may change the parameters; it re-derives the network itself. */
typedef struct {
  size_t every;
  void (*fn)(void *ctx, size_t t, relt *grad);
  void *ctx;
} SNN_SFX(snn_hook);

/* A probe (snngrad explain, docs/teaching.md): a forward-in-time rule records,
 * for one parameter, its running gradient after each step and the two
 * factors it multiplies there: the learning signal of the postsynaptic unit
 * and the parameter's trace (e-prop's eligibility trace, OSTL's temporal
 * factor, RTRL's influence of the parameter on that unit's output).  Arrays
 * of T + 1 entries, row 0 unused; NaN where a rule has no such factor. */
typedef struct {
  size_t idx;         /* the parameter, flat index */
  size_t layer, unit; /* its postsynaptic unit */
  relt *sum, *sig, *trace;
} SNN_SFX(snn_probe);

/* Buffers a rule keeps between its calls on one network (training: each
 * worker's network runs one rule many times); `release` frees p.  A rule
 * that finds it empty fills it; NULL in the network: allocate per call. */
struct SNN_SFX(snn_net);
typedef struct {
  void *p;
  void (*release)(void *p, const struct SNN_SFX(snn_net) * N);
} SNN_SFX(snn_keep);

typedef struct SNN_SFX(snn_net) {
  const snn_spec *spec;
  rctx *c;
  SNN_SFX(snn_keep) * keep;         /* NULL: nothing kept between calls */
  const SNN_SFX(snn_hook) * hook;   /* NULL: parameters fixed over the sequence */
  const SNN_SFX(snn_probe) * probe; /* NULL: none (explain) */
  size_t P;
  relt *theta;       /* all parameters, in the spec's block layout */
  unsigned long gen; /* snn_net_derive's calls: buffers made from the parameters compare it */
  /* The batch (docs/architecture.md, "The batch"): B sequences advanced
   * together, 1 <= B <= Bcap; every per-step quantity is B rows of one
   * sequence's, row b of step t at (t B + b) times its size (time-major). */
  size_t B, Bcap;
  relt *x;     /* T * Bcap * n_in: x[(t-1) B + b] is sequence b's input at step t */
  relt *y;     /* T * Bcap * n_out (mse), the same layout */
  long *label; /* Bcap: each sequence's label (ce) */
  /* Bcap: each sequence's identity, for the draws of a random initial state
   * (initial_state "uniform"): row b's is b unless the caller sets it
   * (training: the sample's place in the run's stream of sequences) */
  unsigned long long *sid;
  double *uni; /* nmax (kmax + 1): the draws of one layer's initial state */
  lay *layers;
  relt *ro_w, *ro_b;
  /* NULL, or the readout weights the training started from, K x n_L: e-prop's
   * adaptive feedback follows W_out's changes since then */
  const relt *ro_w0;
  real kappa;
  relt *scr; /* Bcap nmax: scratch for gathered mix sources */
  size_t nmax;
  uint32_t *spk; /* Bcap (nmax + 1): the units that spike in each row (snn_rows_bin) */
  /* batch normalisation: 1 = the batch's statistics (training), 0 = the
   * running statistics in theta (every other use); the projections of the
   * batch before normalisation (Bcap x bnmax) and a record for steps that
   * have none in a trajectory */
  int bn_train;
  size_t bnmax;
  relt *bnp, *bnrec;
  /* the readout's input W_out z^t normalised ("readout": {"batch_norm"}):
   * its side (F = n_out, 0 if absent) */
  SNN_SFX(snn_bnview) ro_bn;
  size_t bytes; /* bytes held by this object */
} SNN_SFX(snn_net);
typedef SNN_SFX(snn_net) net;

/* One forward trajectory of the network's batch: everything BPTT needs,
 * rows t = 0..T (row 0 zero), each row the B sequences' rows one after the
 * other (sizes below are per sequence). */
typedef struct {
  size_t T;                /* steps held: rows 1..T are global steps t0+1 .. t0+T */
  size_t t0, cap;          /* offset of the segment; rows allocated - 1 */
  size_t bcap;             /* sequences per row allocated (the network's Bcap) */
  relt **s, **z, **I, **u; /* per layer: (T+1)*n*k, (T+1)*n, (T+1)*n*m, (T+1)*n */
  relt **h;                /* per layer with delays: (T+1)*dmax*nprev (the delay line), else NULL */
  relt **bn;               /* per layer with batch_norm: (T+1) records (snn_bn_rec), else NULL */
  relt *bnro;              /* with a normalised readout: (T+1) records of (3 + bcap) n_out, else NULL */
  relt *yo;                /* (T+1) * n_out */
  relt *dEdy;              /* (T+1) * n_out: dE/dy_out^t (partial) */
  relt *rate;              /* per sequence, per hidden unit (all layers, concatenated): f_j */
  relt *loss;              /* per sequence: its loss (loss[0] alone for one sequence) */
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

/* One step of the whole network, shared by every rule so that all of them
 * see the same trajectory bit for bit.  A slot is a view of the quantities of
 * one step (row t of a trajectory, or one of two buffers of an online rule). */
#define SNN_MAXLAYERS SNN_MAX_LAYERS
typedef struct {
  relt *s[SNN_MAXLAYERS], *z[SNN_MAXLAYERS], *I[SNN_MAXLAYERS], *u[SNN_MAXLAYERS];
  relt *h[SNN_MAXLAYERS];  /* delay line of a layer with delays: x^t, x^{t-1}, .., x^{t-dmax+1} (dmax rows of nprev) */
  relt *bn[SNN_MAXLAYERS]; /* the step's batch-normalisation record, or NULL */
  relt *bnro;              /* the readout's, or NULL */
  relt *y, *dEdy;
} SNN_SFX(snn_slot);
typedef SNN_SFX(snn_slot) slot;

/* Step t (1-based) of the batch from `prev` into `cur`: currents (one
 * matrix product per projection for the B sequences), cell updates,
 * readout, dE/dy^t and the loss of this step added to `loss` (B entries,
 * one per sequence); `zsum` (B rows of one entry per hidden unit, all
 * layers) accumulates sum_t z, `cross` (per layer) the threshold crossings
 * of the batch.  Rules that carry per-sequence state of their own (the
 * forward-in-time ones) run with B = 1. */
void SNN_SFX(snn_step)(const net *N, size_t t, const slot *prev, const slot *cur, relt *loss, relt *zsum,
                       size_t *cross);
/* The loss of step t of sequence b for readout values y (n_out), added to
 * `loss`, and dE/dy into g (zero outside the loss window). */
void SNN_SFX(snn_step_loss)(const net *N, size_t t, size_t b, const relt *y, relt *g, relt *loss);
/* The currents of layer l at a step from its input x^t, the previous slot
 * and (with delays) the delay line of the previous step. */
void SNN_SFX(snn_currents)(const net *N, size_t l, size_t t, const relt *x, const slot *prev, relt *I, relt *bnrec);
/* Batch normalisation of one side's projections P at step t (B rows, row
 * stride ld), in place, its record into rec (docs/batchnorm.md). */
void SNN_SFX(snn_bn_forward)(const net *N, const SNN_SFX(snn_bnview) * q, size_t t, relt *P, size_t ld, relt *rec);
/* The delayed input of synapse (row, j) at step t, sum_d kw_d x_j^{t-d},
 * from x^t and the previous delay line hp (and with dkw: its derivative in
 * the delay). */
void SNN_SFX(snn_delayed)(const lay *L, size_t row, size_t j, const relt *x, const relt *hp, int deriv, relt *out,
                          rctx *c);
/* The value of mix source `src` of mix `mx` for unit j: a current of this
 * step, or a state of the previous step (after the reset for RSTATE). */
const relt *SNN_SFX(snn_mix_src)(const lay *L, int mx, int src, size_t j, const relt *I, const relt *sp, const relt *zp,
                                 relt *tmp, rctx *c);
/* The network's kept buffers if they are `release`'s and `fits` says they
 * serve this call (the batch capacity, the rule's options); buffers of this
 * kind that do not fit are released.  NULL: make new ones. */
void *SNN_SFX(snn_keep_take)(const net *N, void (*release)(void *p, const net *N),
                             int (*fits)(const void *p, const net *N, const void *arg), const void *arg);
/* Keep p, made by the caller, if the network keeps buffers and holds none:
 * 1 if kept (the network frees it), 0 if the caller frees it. */
int SNN_SFX(snn_keep_put)(const net *N, void *p, void (*release)(void *p, const net *N));
/* Row b of a slot of the batch (the view of one sequence). */
void SNN_SFX(snn_slot_row)(const net *N, const slot *sl, size_t b, slot *out);
/* The batch capacity: x, y and the labels for up to bcap sequences (B is
 * set to bcap; a caller may lower it to any count >= 1).  Buffers made for
 * the network afterwards (trajectories, workspaces) hold bcap sequences. */
int SNN_SFX(snn_net_batch)(net *N, size_t bcap);
/* The sum of the batch's losses, in sequence order. */
void SNN_SFX(snn_traj_loss)(const net *N, const traj *tr, relt *out);
/* Zero a slot (the state at t = 0). */
/* The state every sequence starts from (row 0): zero, except the layers
 * with initial_state "uniform", whose cells draw s^0 per sequence (N->sid)
 * and unit from the network's seed. */
void SNN_SFX(snn_slot_start)(const net *N, const slot *sl);
/* The rate regulariser from the spike sums of the batch (B rows of H):
 * rate_j = zsum_j / T, and its loss added to each sequence's `loss`. */
void SNN_SFX(snn_rate_finish)(const net *N, const relt *zsum, relt *rate, relt *loss);
/* dE_reg/dz_j, the same at every step: c (rate_j - target) / T per hidden
 * unit (0 without a regulariser), from the rates of snn_rate_finish, for
 * each of the B sequences. */
void SNN_SFX(snn_rate_signal)(const net *N, const relt *rate, relt *r);
/* Number of hidden units over all layers. */
size_t SNN_SFX(snn_nhidden)(const snn_spec *s);

int SNN_SFX(snn_traj_init)(traj *tr, const net *N);
/* A trajectory buffer for segments of up to len steps (chunked rules). */
int SNN_SFX(snn_traj_init_len)(traj *tr, const net *N, size_t len);
void SNN_SFX(snn_forward_segment)(const net *N, traj *tr, size_t t0, size_t len);
void SNN_SFX(snn_traj_carry)(traj *tr, const net *N, size_t from);
/* The view of row t of a trajectory. */
void SNN_SFX(snn_traj_slot)(const traj *tr, const net *N, size_t t, slot *out);
void SNN_SFX(snn_traj_clear)(traj *tr, const net *N);
/* Forward pass over the whole sequence; fills the trajectory, loss, dE/dy. */
void SNN_SFX(snn_forward)(const net *N, traj *tr);

/* BPTT workspace and gradient (length P, all blocks; the caller zeroes the
 * blocks that are not trainable). */
typedef struct SNN_SFX(snn_bptt_ws) SNN_SFX(snn_bptt_ws);
SNN_SFX(snn_bptt_ws) * SNN_SFX(snn_bptt_ws_alloc)(const net *N);
/* ... for segments of up to len steps. */
SNN_SFX(snn_bptt_ws) * SNN_SFX(snn_bptt_ws_alloc_len)(const net *N, size_t len);
void SNN_SFX(snn_bptt_ws_free)(SNN_SFX(snn_bptt_ws) * w, const net *N);
size_t SNN_SFX(snn_bptt_ws_bytes)(const SNN_SFX(snn_bptt_ws) * w);
/* A workspace for segments shorter than the sequence holds one segment's
 * gradient (P elements), else NULL. */
relt *SNN_SFX(snn_bptt_ws_gseg)(SNN_SFX(snn_bptt_ws) * w);
void SNN_SFX(snn_bptt)(const net *N, const traj *tr, SNN_SFX(snn_bptt_ws) * w, relt *grad);

/* Kernels: row-major, C = op(A) op(B) (+ C when acc). */
void SNN_SFX(snn_gemm)(int ta, int tb, size_t M, size_t N, size_t K, const relt *A, size_t lda, const relt *B,
                       size_t ldb, int acc, relt *C, size_t ldc, rctx *c);
/* y = op(A) x (+ y when acc); A is M x N. */
void SNN_SFX(snn_gemv)(int ta, size_t M, size_t N, const relt *A, size_t lda, const relt *x, int acc, relt *y, rctx *c);

/* The same for B rows at once: y_b = op(A) x_b (+ y_b), x_b at X + b ldx,
 * y_b at Y + b ldy; one matrix product (BLAS level 3 in double) for B > 1,
 * the matrix-vector product for B = 1.  In MPFR every element is the sum
 * gemv makes, in the same order, whatever B. */
void SNN_SFX(snn_rows)(int ta, size_t B, size_t M, size_t N, const relt *A, size_t lda, const relt *X, size_t ldx,
                       int acc, relt *Y, size_t ldy, rctx *c);
/* y_b = A^T x_b for B rows (snn_rows with ta = 1, no addend), where only
 * the entries (b, j) with sel[b lds + j] != 0 are needed: MPFR computes
 * those alone (the others are set to 0), double computes every entry (its
 * product is BLAS: skipping would not save time).  A caller reads only
 * the selected entries, or reads the others knowing they are unspecified.
 * In MPFR the selected entries are those of snn_rows, bit for bit. */
void SNN_SFX(snn_rows_sel)(size_t B, size_t M, size_t N, const relt *A, size_t lda, const relt *X, size_t ldx, relt *Y,
                           size_t ldy, const relt *sel, size_t lds, rctx *c);
/* Event-driven products, for a binary operand X (every entry 0 or 1, as
 * spikes are with a heaviside forward): each output is its start (0, or
 * itself when acc) plus the rows or columns the ones select, added in
 * increasing index order, the same bits for any B and any caller.  Double
 * only; they return 0 and write nothing when X is not binary (MPFR: always,
 * its exact products skip zeros themselves), and the caller makes the
 * product densely.
 * snn_rows_bin: y_b = A x_b (+ y_b) for A (M x N) given in panels of eight
 * rows of A: A_ij at At[(i / 8) 8 N + 8 j + i % 8], the last panel padded
 * with zeros to eight (ceil(M / 8) 8 N values, on a 64-byte boundary for
 * speed): y_b += sum over x_bj = 1 of A's column j. */
int SNN_SFX(snn_rows_bin)(size_t B, size_t M, size_t N, const relt *At, const relt *X, size_t ldx, int acc, relt *Y,
                          size_t ldy, uint32_t *idx, rctx *c);
/* (idx: B (N + 1) entries of scratch) */
/* C = A^T X (M x N) over K rows, A K x M, X K x N binary: each element
 * the sum of A's entries on the rows where X has a one, in increasing row
 * order, from 0; 0 for K < 32 (the dense product is faster).  scr: snn_gemm_tn_bin_scratch(M, N, K') bytes for any
 * K <= K', on a 64-byte boundary (0 in MPFR). */
int SNN_SFX(snn_gemm_tn_bin)(size_t M, size_t N, size_t K, const relt *A, size_t lda, const relt *X, size_t ldx,
                             relt *C, size_t ldc, void *scr, rctx *c);
size_t SNN_SFX(snn_gemm_tn_bin_scratch)(size_t M, size_t N, size_t K);
/* y += a x over n entries. */
void SNN_SFX(snn_axpy)(size_t n, const relt *a, const relt *x, relt *y, rctx *c);
/* Element-wise, each element as the scalar API computes it (one rounding
 * for an fma): y = fma(a, x, y); y = fma(a, y, x); y = x a; y += x; y = x;
 * y = 0.  x and y do not overlap. */
void SNN_SFX(snn_vfma)(size_t n, const relt *a, const relt *restrict x, relt *restrict y, rctx *c);
void SNN_SFX(snn_vfmay)(size_t n, const relt *a, const relt *restrict x, relt *restrict y, rctx *c);
void SNN_SFX(snn_vmul)(size_t n, const relt *a, const relt *restrict x, relt *restrict y, rctx *c);
void SNN_SFX(snn_vadd)(size_t n, const relt *restrict x, relt *restrict y, rctx *c);
void SNN_SFX(snn_vset)(size_t n, const relt *restrict x, relt *restrict y, rctx *c);
void SNN_SFX(snn_vzero)(size_t n, relt *y, rctx *c);
/* y *= a over n entries. */
void SNN_SFX(snn_scal)(size_t n, const relt *a, relt *y, rctx *c);

/* Exact byte images of a vector, for moving it between processes:
 * snn_vec_pack_bytes(n) bytes, unpacked at the same precision bit for bit. */
size_t SNN_SFX(snn_vec_pack_bytes)(size_t n, const rctx *c);
void SNN_SFX(snn_vec_pack)(const relt *v, size_t n, void *buf, const rctx *c);
void SNN_SFX(snn_vec_unpack)(relt *v, size_t n, const void *buf, rctx *c);
/* The threads BLAS may use (double build): 1 wherever snngrad runs its own
 * threads, so that the sums of a product never depend on the machine's load. */
void snn_blas_threads(int n);

/* Results crossing to the neutral side. */
int SNN_SFX(snn_export)(const relt *v, size_t n, snn_nums *out, const rctx *c);

#endif
