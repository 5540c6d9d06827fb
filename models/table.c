/* table.c - the list of models, and what the precision-neutral code asks of
 * a model descriptor (models/model.h).  Adding a model: its file in models/
 * (cell and descriptor) and one line in SNN_MODEL_LIST below. */
#include <math.h>
#include <string.h>

#include "models/model.h"

/* Every model, one line each: adding a model is adding its file (and its
 * name in models/meson.build) and a line here. */
#define SNN_MODEL_LIST(X) \
  X(lif)                  \
  X(alif)                 \
  X(snu)                  \
  X(adlif)                \
  X(adlif_sparch)         \
  X(lstm)                 \
  X(gru)                  \
  X(ltc)

#define SNN_MODEL_DECLARE(m) extern const snn_model_type snn_model_##m;
SNN_MODEL_LIST(SNN_MODEL_DECLARE)
#define SNN_MODEL_ENTRY(m) &snn_model_##m,
const snn_model_type *const snn_models[] = {SNN_MODEL_LIST(SNN_MODEL_ENTRY) NULL};

const char *const snn_model_key_names[SNN_NKEYS] = {
    "tau_mem",    "threshold", "tau_adapt",   "beta",   "decay", "a",          "b",
    "activation", "reset",     "input_scale", "bounds", "alpha", "beta_adapt",
};
/* alpha = e^(-1/20), beta_adapt = e^(-1/60): tau_mem 20 and tau_adapt 60 steps */
const double snn_model_key_defaults[SNN_NKEYS] = {
    20.0, 1.0, 200.0, 1.8, 0.8, 0.5, 1.0, 0, 0, 0, 0, 0.951229424500714, 0.983471453821617};

const snn_model_type *snn_model_find(const char *name) {
  for (const snn_model_type *const *m = snn_models; *m; m++)
    if (!strcmp((*m)->name, name)) return *m;
  return NULL;
}

void snn_model_list(char *buf, size_t n) {
  if (!n) return;
  buf[0] = 0;
  for (const snn_model_type *const *m = snn_models; *m; m++) {
    if (m != snn_models) strncat(buf, ", ", n - strlen(buf) - 1);
    strncat(buf, (*m)->name, n - strlen(buf) - 1);
  }
}

int snn_model_has_reset(const snn_layer_spec *ly) {
  switch (ly->mt->reset) {
    case SNN_RESET_KEY:
      return ly->reset_subtract;
    case SNN_RESET_SUBTRACT:
    case SNN_RESET_ZERO:
      return 1;
    case SNN_RESET_GATE:
      return ly->consts[0] != 0.0;
    default:
      return 0;
  }
}

int snn_model_carries_state(const snn_layer_spec *ly) {
  /* a gated reset with a zero decay keeps nothing from one step to the next */
  return !(ly->mt->reset == SNN_RESET_GATE && ly->consts[0] == 0.0);
}

int snn_model_const_bounds(const snn_layer_spec *ly, int cidx, double *lo, double *hi) {
  if (!ly->mt->bounds || ly->bounds != SNN_BOUNDS_PROJECT) return 0;
  ly->mt->bounds(cidx, ly->dt, lo, hi);
  return *lo <= *hi;
}

int snn_model_const_ok(const snn_layer_spec *ly, int cidx, double v, const char **want) {
  switch (ly->mt->const_range[cidx]) {
    case SNN_RANGE_TIME:
    case SNN_RANGE_POSITIVE:
      *want = "a number > 0";
      return v > 0;
    case SNN_RANGE_UNIT:
      *want = "a number in [0, 1)";
      return v >= 0 && v < 1;
    default:
      *want = "a number";
      return 1;
  }
}

void snn_model_const_project(const snn_layer_spec *ly, int cidx, double dt, double *lo, double *hi) {
  *lo = -INFINITY, *hi = INFINITY;
  switch (ly->mt->const_range[cidx]) {
    case SNN_RANGE_TIME:
      *lo = 1e-2 * dt;
      break;
    case SNN_RANGE_POSITIVE:
      *lo = 1e-3;
      break;
    case SNN_RANGE_UNIT:
      *lo = 0, *hi = 0.999;
      break;
    default:
      break;
  }
  double a, z;
  if (snn_model_const_bounds(ly, cidx, &a, &z)) *lo = a, *hi = z;
}
