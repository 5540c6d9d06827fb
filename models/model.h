/* model.h - what the precision-neutral code knows about a model: one
 * descriptor per cell, defined in the cell's own file (models/NAME.c) and
 * listed once in models/table.c.
 *
 * The network-file reader (io/spec.c) asks a descriptor which layer keys mean
 * something, their defaults and how they become the per-neuron constants;
 * the parameter reader and the training loop ask it where each constant is
 * defined; the verdicts (gradcheck/verdict.c) ask whether a layer has a reset
 * path or carries state; the numeric network (sim/forward.c) takes the cell
 * of its precision from it.  Nothing outside models/ names a model. */
#ifndef SNN_MODEL_H
#define SNN_MODEL_H

#include "sim/snn.h"

/* The layer keys a model may give meaning to (docs/formats.md).  io/spec.c
 * reads each with its generic range; a key present in a layer whose model
 * does not list it is warned about and ignored. */
enum snn_model_key {
  SNN_KEY_TAU_MEM,
  SNN_KEY_THRESHOLD,
  SNN_KEY_TAU_ADAPT,
  SNN_KEY_BETA,
  SNN_KEY_DECAY,
  SNN_KEY_A,
  SNN_KEY_B,
  SNN_KEY_ACTIVATION,
  SNN_KEY_RESET,
  SNN_KEY_INPUT_SCALE,
  SNN_KEY_BOUNDS,
  SNN_KEY_ALPHA,      /* a membrane decay per step, in (0, 1) (adlif_sparch) */
  SNN_KEY_BETA_ADAPT, /* an adaptation decay per step, in (0, 1) (adlif_sparch) */
  SNN_NKEYS
};
extern const char *const snn_model_key_names[SNN_NKEYS];
/* A descriptor's `defaults` when it keeps every generic default. */
#define SNN_NO_DEFAULTS \
  { NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN }
/* Defaults of the numeric keys where the model does not set its own. */
extern const double snn_model_key_defaults[SNN_NKEYS];

/* Where a per-neuron constant is defined, and where training keeps it. */
enum snn_const_range {
  SNN_RANGE_ANY,      /* any real number */
  SNN_RANGE_TIME,     /* a time constant: > 0; training keeps it >= dt/100 */
  SNN_RANGE_POSITIVE, /* > 0; training keeps it >= 1e-3 */
  SNN_RANGE_UNIT      /* in [0, 1); training keeps it in [0, 0.999] */
};

/* How z^{t-1} reaches the layer's own state (the verdicts' "reset path"). */
enum snn_reset_kind {
  SNN_RESET_KEY,      /* the layer's "reset" key: subtract or none (lif, alif) */
  SNN_RESET_SUBTRACT, /* always subtractive (adlif) */
  SNN_RESET_ZERO,     /* always to zero (ltc) */
  SNN_RESET_GATE,     /* through the state's decay gate l s (1 - y), present when the decay is not 0 (snu) */
  SNN_RESET_NONE      /* no reset (lstm, gru) */
};

struct snn_cell_type_d;
struct snn_cell_type_mp;
/* The cells of both precisions, for a descriptor to point at. */
#define SNN_MODEL_CELLS(name)                              \
  extern const struct snn_cell_type_d snn_cell_##name##_d; \
  extern const struct snn_cell_type_mp snn_cell_##name##_mp

typedef struct snn_model_type {
  const char *name;
  /* layer keys with a meaning for this model (SNN_KEY_* bits) */
  unsigned keys;
  /* defaults that differ from snn_model_key_defaults: NaN where not
   * (SNN_NO_DEFAULTS); fields left out of a descriptor are 0 / NULL */
  double defaults[SNN_NKEYS];
  /* the per-neuron constants, in block order: name (block layer<i>.NAME),
   * the key it starts from and the factor applied (snu's bias starts at
   * -threshold), and its range */
  int nconst;
  const char *consts[SNN_MAXCONST];
  int const_key[SNN_MAXCONST];
  double const_factor[SNN_MAXCONST];
  int const_range[SNN_MAXCONST];
  /* constants trainable when the layer has no "train" list, and constants
   * always written to a parameter file (bits over the constant index) */
  unsigned train_default, in_params_always;
  int reset;           /* SNN_RESET_* */
  int input_scale_1ma; /* 1: zeta = 1 - alpha whatever the file says (adlif) */
  /* Optional parameter bounds per constant index (adlif, docs/adlif.md), in
   * the file's units for a step of dt: lo > hi means unbounded.  Applied
   * under the layer's "bounds" key. */
  void (*bounds)(int cidx, double dt, double *lo, double *hi);
  /* What initial_state "uniform" means for this model (for messages), or
   * NULL if it has only the zero state (its cells have no init) */
  const char *initial_uniform;
  snn_model_shape shape;
  const struct snn_cell_type_d *cell_d;
  const struct snn_cell_type_mp *cell_mp;
} snn_model_type;

/* Every model, NULL-terminated (models/table.c). */
extern const snn_model_type *const snn_models[];
const snn_model_type *snn_model_find(const char *name);
/* "lif, alif, ...": the names, for messages. */
void snn_model_list(char *buf, size_t n);

/* Whether layer `ly` has a reset path z^{t-1} -> s^t, and whether its units
 * carry state from one step to the next at all. */
int snn_model_has_reset(const snn_layer_spec *ly);
int snn_model_carries_state(const snn_layer_spec *ly);
/* Whether a parameter value v of constant cidx is where the model is
 * defined; `want` gets the rule in words ("a number > 0"). */
int snn_model_const_ok(const snn_layer_spec *ly, int cidx, double v, const char **want);
/* The bounds "project" puts on constant cidx: 1 and [lo, hi] if it has any. */
int snn_model_const_bounds(const snn_layer_spec *ly, int cidx, double *lo, double *hi);
/* The interval training keeps constant cidx in (docs/training.md). */
void snn_model_const_project(const snn_layer_spec *ly, int cidx, double dt, double *lo, double *hi);

#endif
