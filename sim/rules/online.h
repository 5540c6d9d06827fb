/* online.h - what the forward-in-time rules share: the stepping of the
 * network's batch (B sequences, net.h) in two alternating slots (memory
 * independent of T), the local
 * Jacobians of each layer at the current step, the map from parameters to
 * trainable columns, and the learning-signal helpers. */
#ifndef SNN_ONLINE_H
#define SNN_ONLINE_H

#include "sim/jac.h"
#include "sim/net.h"

typedef struct {
  const net *N;
  rctx *c;
  size_t bcap; /* sequences the buffers hold (the network's Bcap) */
  slot sl[2];  /* sl[t & 1] is step t, B rows */
  relt *store; /* backing storage of the two slots */
  size_t nstore;
  relt *zsum; /* per sequence, running sum of z per hidden unit, then the rates */
  relt *loss; /* per sequence */
  size_t *cross;
  jacbuf J[SNN_MAXLAYERS];  /* local Jacobians of each layer at the current step, B n units */
  jacbuf Jp[SNN_MAXLAYERS]; /* ... and at the previous step */
  /* cells with split Jacobians: N->gen + 1 when both buffers' fixed parts
   * are those of the current parameters for all B rows, else 0 */
  unsigned long jgen;
  long *col;    /* per parameter: its trainable column, or -1 */
  size_t *flat; /* per trainable column: its parameter */
  size_t Pt;    /* number of trainable scalars */
  size_t bytes; /* bytes held, for the memory claims */
} SNN_SFX(snn_online);
typedef SNN_SFX(snn_online) online;

int SNN_SFX(snn_online_init)(online *o, const net *N);
void SNN_SFX(snn_online_clear)(online *o);
/* Back to the state at t = 0 (buffers kept between sequences). */
void SNN_SFX(snn_online_reset)(online *o);
/* Step t: the network step, then the Jacobians of every layer (the previous
 * step's move to Jp).  Returns the slots of t-1 and t. */
void SNN_SFX(snn_online_step)(online *o, size_t t, const slot **prev, const slot **cur);
/* grad[parameter of column c0 + q] += v[q] for q < W. */
void SNN_SFX(snn_scatter_cols)(const online *o, size_t c0, size_t W, const relt *v, relt *grad, rctx *c);
/* After step T: rates and the rate-regulariser loss. */
void SNN_SFX(snn_online_finish)(online *o);

/* RTRL's per-layer influence update, shared with OSTL's complete traces (rtrl.c). */
void SNN_SFX(snn_influence_layer)(const net *N, size_t l, const jacbuf *J, const online *o, size_t c0, size_t W,
                                  const relt *Msp, relt *Msc, const relt *Mzp, relt *Mzc, const relt *MI, relt *Mzs);
/* M_I^t (m n x W, current-major rows) of layer l for the columns [c0, c0+W):
 * the projections of the layer below's influence Mzb (Mzb[d] = M_z^{t-d} of
 * the layer below, d < ndl with delays, else Mzb[0]; NULL for none), the
 * recurrent projections of M_z^{t-1} = Mzp, the direct terms (inputs x^t,
 * z^{t-1}, 1 for a bias, delayed inputs and their delay derivatives), then
 * the mixes (with M_s^{t-1} = Msp).  scr: n x W scratch. */
#define SNN_MAXDELAY 4097
void SNN_SFX(snn_influence_currents)(const net *N, size_t l, const online *o, size_t c0, size_t W, const relt *x,
                                     const slot *pv, const slot *cu, const relt *const *Mzb, const relt *Mzp,
                                     const relt *Msp, relt *MI, relt *scr);

#endif
