/* targets.h - the fuzz targets of snngrad's file readers, and what they share.
 *
 * This is the only file under tests/fuzz/ that includes the project's own
 * headers: when the sources move, the include paths are fixed here and
 * nowhere else.
 *
 * Each target takes one input (bytes from a fuzzer or from a file), hands it
 * to one reader the way the program does, and returns 0.  A target never
 * rejects an input because it is malformed: that is the reader's job, and a
 * crash, a sanitizer report, a leak or a hang is what the fuzzer looks for.
 * Where the program relies on what a reader accepted (a data set is sampled
 * by the training loop; a network is written to and read back from parameter
 * and gradient files), the target does that too, so a reader that accepts
 * what its consumer cannot use is found as well. */
#ifndef SNN_FUZZ_TARGETS_H
#define SNN_FUZZ_TARGETS_H

#include <stddef.h>
#include <stdint.h>

#include "experiments/tasks.h"
#include "experiments/train.h"
#include "io/io.h"

/* ---- the targets (one file each) ---- */
int snn_fuzz_network(const uint8_t *data, size_t size);    /* snn_spec_parse: a network file */
int snn_fuzz_params(const uint8_t *data, size_t size);     /* snn_data_load: a parameter file */
int snn_fuzz_grads(const uint8_t *data, size_t size);      /* snn_grads_load: a gradient file */
int snn_fuzz_experiment(const uint8_t *data, size_t size); /* snn_experiment_load: an experiment file */
int snn_fuzz_idx(const uint8_t *data, size_t size);        /* snn_idx_load: an image and a label file */
int snn_fuzz_shd(const uint8_t *data, size_t size);        /* snn_shd_load: an HDF5 file */

typedef struct {
  const char *name;
  int (*run)(const uint8_t *data, size_t size);
} snn_fuzz_target;
extern const snn_fuzz_target snn_fuzz_targets[]; /* ends with {NULL, NULL} */

/* ---- shared by the targets (common.c) ---- */

/* Set by fuzz_replay -v: each target then says what its reader made of the
 * input (accepted, or the error), which shows whether a seed is valid. */
extern int snn_fuzz_verbose;
/* Returns st; prints the verdict when verbose. */
int snn_fuzz_note(const char *reader, int st, const snn_err *err);

/* A folder of the process's own scratch space, root/<name>, created on first
 * use.  The root is a fresh mkdtemp folder under $TMPDIR (or /tmp), removed
 * at exit; nothing a target does reaches outside it. */
const char *snn_fuzz_dir(const char *name);
/* `size` bytes into `path` (created or truncated); 0 on success. */
int snn_fuzz_put(const char *path, const void *data, size_t size);
/* The same into an anonymous in-memory file (memfd) numbered `slot` (0 or 1),
 * returned as a path /proc/self/fd/N that any reader can open. */
const char *snn_fuzz_memfd(int slot, const void *data, size_t size);

/* A parameter file as snn_data_write writes it (snn_data_format), but
 * written with plain stdio: snn_write_atomic cannot write anywhere when the
 * compiler evaluates its snprintf arguments left to right, as clang does
 * (tests/fuzz/README.md), and the round trips test the format, not the
 * renaming.  Returns an SNN_* status. */
int snn_fuzz_write_params(const snn_spec *s, const snn_data *d, const char *path, snn_err *err);
/* snn_grads_write, or -1 (after one warning) when snn_write_atomic cannot
 * write at all: the gradient writer has no formatter of its own to call. */
int snn_fuzz_write_grads(const snn_spec *s, const snn_result *r, const char *path, snn_err *err);

/* The fixed networks the parameter and gradient targets read against: the
 * text of examples/alif_recurrent.json, and two small networks that between
 * them have every model, delays, trained constants, adlif's projected
 * bounds, and both losses. */
#define SNN_FUZZ_NNETS 3
extern const char *const snn_fuzz_net_names[SNN_FUZZ_NNETS];
extern const char *const snn_fuzz_net_text[SNN_FUZZ_NNETS];
/* Parsed once; a fixture that does not parse aborts (a harness bug). */
const snn_spec *snn_fuzz_net(int i);

/* An IDX file: the header (magic, count, and 28 x 28 for images), then `len`
 * bytes of body; gzip'd when `gz`. */
int snn_fuzz_write_idx(const char *path, uint32_t magic, uint32_t count, const uint8_t *body, size_t len, int images,
                       int gz);

/* An HDF5 file in SHD's layout.  Spike train i has len[i] events (times in
 * seconds, units), stored one after the other in times[] and units[].
 * /spikes/times has `ntimes` entries, /spikes/units `nunits` and /labels
 * `nlabels` (trains are reused cyclically when an array is longer than the
 * data), so the counts can disagree on purpose; nlabels = 0 leaves /labels
 * out.  `flags` varies the storage. */
enum { SNN_FUZZ_SHD_LABELS_U8 = 1, SNN_FUZZ_SHD_TIMES_F64 = 2, SNN_FUZZ_SHD_DEFLATE = 4, SNN_FUZZ_SHD_LABELS_2D = 8 };
int snn_fuzz_write_shd(const char *path, size_t ntrains, const size_t *len, const float *times, const uint16_t *units,
                       size_t ntimes, size_t nunits, size_t nlabels, const uint16_t *labels, int flags);

/* The data an experiment file may point to with "path": "." (and the network
 * it may name as "net.json"): two Fashion-MNIST-layout IDX pairs and two SHD
 * files, written once into `dir`. */
int snn_fuzz_write_fixtures(const char *dir);

#endif
