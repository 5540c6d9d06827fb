/* rules.h - every learning rule, as a function of the network with its
 * parameters held fixed over one sequence: the gradient it computes (length
 * P, zero outside trainable blocks), the loss, the threshold crossings and
 * the bytes it held.  The table of rules and their documented conditions. */
#ifndef SNN_RULES_H
#define SNN_RULES_H

#include "sim/engine.h"
#include "sim/net.h"

typedef int (*SNN_SFX(snn_rule_fn))(const net *N, const snn_rule *rule, relt *grad, relt *loss, size_t *cross,
                                    double *spikes, size_t *bytes, snn_err *err);

/* A rule's entry point in this precision, for its snn_rule_type (sim/rule.h):
 * rule->type->SNN_SFX(impl)->grad.  The rule's options and its conditions on
 * the network are checked before it is called (snn_rule_parse,
 * snn_rule_check). */
struct SNN_SFX(snn_rule_impl) {
  SNN_SFX(snn_rule_fn) grad;
};
#define SNN_RULE_FN(rule) ((rule)->type->SNN_SFX(impl)->grad)

int SNN_SFX(snn_rule_bptt)(const net *N, const snn_rule *rule, relt *grad, relt *loss, size_t *cross, double *spikes,
                           size_t *bytes, snn_err *err);
int SNN_SFX(snn_rule_rtrl)(const net *N, const snn_rule *rule, relt *grad, relt *loss, size_t *cross, double *spikes,
                           size_t *bytes, snn_err *err);

/* The BPTT backward pass with a truncation window (0 = none): the state is
 * detached at steps 1, W+1, 2W+1, ... (tbptt); with blocks of L layers no
 * gradient crosses from a block to the one below, and the top layer of each
 * lower block receives the gradient of its auxiliary readout instead. */
typedef struct {
  size_t window, block;
  relt *const *aux_dEdy; /* per layer: dE_aux/dy rows 1..T, or NULL */
  relt *const *aux_w;    /* per layer: the auxiliary readout, n_out x n_l */
} SNN_SFX(snn_bptt_opts);
void SNN_SFX(snn_bptt_full)(const net *N, const traj *tr, SNN_SFX(snn_bptt_ws) * w, relt *grad,
                            const SNN_SFX(snn_bptt_opts) * o);
void SNN_SFX(snn_bptt_window)(const net *N, const traj *tr, SNN_SFX(snn_bptt_ws) * w, relt *grad, size_t window);

/* Ask the next BPTT pass to store dE/dI_q,i^t of layer l, unit i, current q
 * into cap (T+1 entries, row 0 unused); NULL stops it (explain). */
void SNN_SFX(snn_bptt_capture_dI)(SNN_SFX(snn_bptt_ws) * w, size_t l, size_t q, size_t i, relt *cap);

/* Ask the next BPTT pass to store, for layer 0, dE/dz^t total except the
 * path through the layer's local state (alif adaptation): e-prop's ideal
 * learning signal.  lsig has (T+1) * n entries; NULL stops it. */
void SNN_SFX(snn_bptt_capture_signal)(SNN_SFX(snn_bptt_ws) * w, relt *lsig);

int SNN_SFX(snn_rule_ostl)(const net *N, const snn_rule *rule, relt *grad, relt *loss, size_t *cross, double *spikes,
                           size_t *bytes, snn_err *err);
int SNN_SFX(snn_rule_eprop)(const net *N, const snn_rule *rule, relt *grad, relt *loss, size_t *cross, double *spikes,
                            size_t *bytes, snn_err *err);

int SNN_SFX(snn_rule_fptt)(const net *N, const snn_rule *rule, relt *grad, relt *loss, size_t *cross, double *spikes,
                           size_t *bytes, snn_err *err);

/* FPTT's regularised objective and dual update (fptt.c; options in sim/rule.h). */
/* R += (rho - 1) <lambda, W> + c alpha/2 ||W - Wbar||^2 and g += its gradient. */
void SNN_SFX(snn_fptt_objective)(size_t n, const relt *W, const relt *Wbar, const relt *lam, const snn_fptt_opts *o,
                                 relt *R, relt *g, rctx *c);
/* lambda <- lambda - alpha (W - Wbar); Wbar <- (1 - beta) Wbar + beta W - (beta/alpha) lambda. */
void SNN_SFX(snn_fptt_dual)(size_t n, const relt *W, relt *Wbar, relt *lam, const snn_fptt_opts *o, rctx *c);

#endif
