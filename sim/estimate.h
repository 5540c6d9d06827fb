/* estimate.h - the memory a command will need, estimated from the network
 * and the rule before anything is allocated, so that sizes that fit each
 * key's range but not the machine together are refused with the keys that
 * make them too large (docs/formats.md, "Resource limits").
 * Precision-neutral. */
#ifndef SNN_ESTIMATE_H
#define SNN_ESTIMATE_H

#include "sim/rule.h"

typedef struct {
  double bytes;   /* the whole estimate */
  double part[4]; /* parameters, input and target, trajectory, the rule's own state */
  char key[64];   /* the key behind the largest part */
  char why[400];  /* the keys behind the largest part, in words */
} snn_mem;

/* Bytes of one scalar at a precision (53 in the double build: 8). */
double snn_scalar_bytes(long prec);
/* The estimate for a rule (NULL: one forward pass and the files) at a
 * precision, with `batch` sequences held at once (FPTT's lockstep batch). */
void snn_estimate(const snn_spec *s, const snn_rule *r, long prec, size_t batch, snn_mem *m);
/* SNN_OK if the estimate fits in `limit` bytes, else an error that names the
 * network file, the keys and both amounts (`option` names the limit). */
int snn_estimate_check(const snn_spec *s, const snn_mem *m, double limit, const char *option, snn_err *err);
/* The same for bench's synthetic networks, which have no file: the error
 * names bench's own options (--neurons, --steps) and the rule. */
int snn_estimate_check_bench(const snn_mem *m, double limit, const char *option, const char *rule, long neurons,
                             long steps, long bits, snn_err *err);

/* The useful floating-point work of one sequence's gradient
 * (docs/performance.md, "The flop model"): at every step, 2 n n_prev for
 * each layer's input projection, 2 n n for a recurrent one, 2 n_out n_L for
 * the readout; the backward pass counted as twice the forward (the weight
 * gradient and the signal of each product), so 3x the forward in all.
 * Times T.  Elementwise work (membranes, spikes, surrogates) is not counted. */
double snn_estimate_flops(const snn_spec *s);
/* The machine's limit it is read against: the dgemm rate of n x n doubles
 * on one BLAS thread, best of `reps` timed calls, in GFLOP/s (defined in the
 * double build's kernels.c; 0 if out of memory).  Leaves BLAS on one thread. */
double snn_dgemm_gflops(size_t n, int reps);

#endif
