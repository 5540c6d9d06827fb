/* snn.h - the precision-neutral part of the snngrad library: status codes,
 * the parsed network file (structure, constants, parameter layout), and the
 * containers that carry numbers between files and the two numeric builds.
 *
 * Numbers cross this boundary as a double plus, optionally, the decimal text
 * they came from (a JSON string in an MPFR file), so that the MPFR build can
 * parse the text at its own precision. */
#ifndef SNN_H
#define SNN_H

#include <stddef.h>
#include <stdint.h>

/* ---- status codes, with their messages (one X-macro) ---- */
#define SNN_STATUS(X)                                                    \
  X(SNN_OK, "success")                                                   \
  X(SNN_EIO, "cannot read or write the file")                            \
  X(SNN_EJSON, "the file is not valid JSON")                             \
  X(SNN_EKEY, "a key is missing or has the wrong type")                  \
  X(SNN_EVALUE, "a value is out of its allowed range")                   \
  X(SNN_ESHAPE, "an array has the wrong shape")                          \
  X(SNN_ENOMEM, "out of memory")                                         \
  X(SNN_EREFUSED, "the comparison cannot mean anything and was refused") \
  X(SNN_EVACUOUS, "the comparison would be vacuous")                     \
  X(SNN_EARG, "bad command-line argument")                               \
  X(SNN_ENONFINITE, "a computed number is not finite")                   \
  X(SNN_EMISMATCH, "two computations that must agree did not")           \
  X(SNN_EINTR, "interrupted")

enum snn_status {
#define SNN_X_ENUM(name, msg) name,
  SNN_STATUS(SNN_X_ENUM)
#undef SNN_X_ENUM
      SNN_NSTATUS
};

const char *snn_strerror(int status);

/* Where an error happened and why: the file, the key (a JSON path such as
 * "layers[1].tau_mem") and what was expected.  Filled by the library,
 * printed by the CLI. */
typedef struct {
  int status;
  char file[512];
  char key[160];
  char msg[512];
} snn_err;

int snn_err_set(snn_err *e, int status, const char *file, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
/* Format into buf (at most n bytes, always terminated), as snprintf does: the
 * one formatting function of sim/, which never prints. */
int snn_format(char *buf, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* "FILE: key 'KEY': MSG" (parts that are empty are left out). */
void snn_err_format(const snn_err *e, char *buf, size_t len);

/* ---- the network file ---- */
enum snn_bounds { SNN_BOUNDS_CLAMP, SNN_BOUNDS_PROJECT, SNN_BOUNDS_NONE };
enum snn_forward { SNN_FWD_HEAVISIDE, SNN_FWD_SIGMOID };
enum snn_surrogate {
  SNN_SURR_TRIANGLE,
  SNN_SURR_FAST_SIGMOID,
  SNN_SURR_SIGMOID,
  SNN_SURR_TANH,
  SNN_SURR_MULTI_GAUSSIAN,
  SNN_SURR_BOXCAR
};
enum snn_loss { SNN_LOSS_MSE, SNN_LOSS_CE };
enum snn_input_kind { SNN_IN_POISSON, SNN_IN_NORMAL };
enum snn_target_kind { SNN_TGT_SINES, SNN_TGT_NORMAL, SNN_TGT_ZEROS };
enum snn_delay_kernel { SNN_DK_LINEAR, SNN_DK_GAUSSIAN };
enum snn_block_kind {
  SNN_BLK_W_IN,
  SNN_BLK_W_REC,
  SNN_BLK_CONST,
  SNN_BLK_RO_W,
  SNN_BLK_RO_B,
  SNN_BLK_BIAS,
  SNN_BLK_MIX,
  SNN_BLK_DELAY,
  SNN_BLK_BN_GAMMA, /* batch normalisation (docs/batchnorm.md): cidx 0 input, 1 recurrent */
  SNN_BLK_BN_BETA,
  SNN_BLK_BN_MEAN, /* running statistics, T rows: never trained, updated by training */
  SNN_BLK_BN_VAR
};

#define SNN_MAXCONST 5    /* neuron constants per model, at most */
#define SNN_MAX_LAYERS 64 /* layers per network, at most */
#define SNN_PATH_MAX 4096 /* a file path, with its terminating zero */

/* How a model's units are driven (docs/models.md).  Every unit has m input
 * currents, stored current-major (current q of unit i at q*n + i).  The rows
 * of layer<i>.w_in are nin stacked n x n_prev matrices feeding the currents
 * in_cur[], those of w_rec nrec stacked n x n matrices feeding rec_cur[];
 * `bias` adds layer<i>.bias [m n].  A mix is a dense n x (nsrc n) matrix
 * layer<i>.<name> that adds to current dst, after the projections and the
 * bias, a product with sources that are a current of the same step (q < dst),
 * a state component of the previous step, or a state component after the
 * reset, (1 - z^{t-1}) s_c^{t-1}. */
enum snn_src { SNN_SRC_CUR, SNN_SRC_STATE, SNN_SRC_RSTATE };
typedef struct {
  const char *name;
  int dst, nsrc, kind[2], idx[2];
} snn_mix_shape;
typedef struct {
  int m, nin, in_cur[4], nrec, rec_cur[4], bias;
  int selfconn; /* w_rec keeps its diagonal (gated cells); spiking models hold it at 0 */
  int spiking;  /* z = spike(u); otherwise z = u (psi = 1) */
  int nmix;
  snn_mix_shape mix[2];
} snn_model_shape;
#define SNN_MAXMIX 2

struct snn_model_type;
struct snn_cell_type_d;
struct snn_cell_type_mp;
typedef struct {
  /* the model (models/model.h; sim/ never looks inside) and what the
   * numeric network takes from it: the cell of each precision, the number
   * of per-neuron constants and the shape of the projections */
  const struct snn_model_type *mt;
  const struct snn_cell_type_d *cell_d;
  const struct snn_cell_type_mp *cell_mp;
  int nconst;
  int has_reset; /* z^{t-1} reaches the layer's own state (the verdicts' reset path) */
  int stateful;  /* the units carry state from one step to the next */
  size_t n, nprev;
  int recurrent;
  double consts[SNN_MAXCONST]; /* the model's constants in block order (mt->consts) */
  int reset_subtract;          /* lif/alif: 1 = subtract, 0 = none */
  int input_scale_1ma;         /* lif/alif: zeta = 1 - alpha */
  int act_relu;                /* snu: g = relu */
  int bounds;                  /* adlif: SNN_BOUNDS_* */
  int init_uniform;            /* initial_state "uniform": the cell draws s^0 per sequence */
  double dt;                   /* the network's step, for bounds given in steps */
  double w_scale, w_mean, rec_scale;
  int blk_w_in, blk_w_rec; /* block indices, -1 if absent */
  int blk_const[SNN_MAXCONST];
  int blk_bias, blk_mix[SNN_MAXMIX], blk_delay; /* -1 if absent */
  const snn_model_shape *sh;                    /* -> shape */
  snn_model_shape shape;                        /* the model's, with the layer's self_connections */
  /* synaptic delays on w_in (docs/delays.md): 0 = none */
  int delays;
  size_t dmax;               /* largest delay, in steps */
  int dkernel;               /* SNN_DK_* */
  double dsigma;             /* gaussian kernel width */
  int dround;                /* evaluate with delays rounded to integers */
  double dinit_lo, dinit_hi; /* initial delays drawn uniformly from this range */
  /* "separate_biases": a second bias on the recurrent currents, bias_rec
   * [nrec n] (Yin et al.'s two nn.Linear biases; docs/models.md) */
  int sep_bias, blk_bias_rec;
  /* per-step batch normalisation of the projections (docs/batchnorm.md) */
  int bn;
  double bn_momentum, bn_eps, bn_gamma;
  int blk_bn[2][4]; /* [input, recurrent][gamma, beta, mean, var], -1 if absent */
} snn_layer_spec;

typedef struct {
  char name[48]; /* e.g. "layer0.w_in" */
  int kind;
  int layer; /* -1 for the readout */
  int cidx;  /* constant index for SNN_BLK_CONST */
  size_t rows, cols, off;
  int trainable;
  int in_params; /* written to / required in a params file */
} snn_block;

typedef struct snn_spec {
  char path[512];
  unsigned long seed;
  size_t T;
  double dt;
  size_t n_in;
  int in_kind;
  double in_rate, in_mean, in_std;
  size_t L;
  snn_layer_spec *layers;
  size_t n_out;
  double tau_out;
  int loss;
  size_t win_first, win_last; /* 1-based inclusive */
  int tgt_kind;
  long label; /* -1: drawn from the seed */
  int rate_reg;
  double reg_c, reg_target;
  int forward, surrogate;
  double slope, gamma;
  int detach_reset, detach_rec;
  size_t nblk;
  snn_block *blk;
  size_t P; /* total number of parameter scalars */
  int blk_ro_w, blk_ro_b;
  /* "readout": {"batch_norm"}: the readout's input W_out z^t normalised */
  int ro_bn;
  double ro_bn_momentum, ro_bn_eps, ro_bn_gamma;
  int blk_ro_bn[4];    /* gamma, beta, mean, var; -1 if absent */
  char warnings[1024]; /* unknown keys and similar, for the CLI to print */
} snn_spec;

int snn_spec_find_block(const snn_spec *s, const char *name);
/* Whether a block is written as a matrix (rows of numbers) in files. */
int snn_block_is_matrix(const snn_block *bk);
/* Whether any layer normalises its projections over the batch. */
int snn_spec_has_bn(const snn_spec *s);
/* Number of trainable scalars. */
size_t snn_spec_ntrain(const snn_spec *s);

/* splitmix64's finaliser: a well-mixed 64-bit value from z, for every
 * deterministic draw that must not depend on the order of the work (the
 * training stream, the tasks' samples, drawn initial states). */
static inline uint64_t snn_mix64(uint64_t z) {
  z += 0x9e3779b97f4a7c15ULL;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

/* ---- numbers crossing the boundary ---- */
typedef struct {
  size_t n;
  double *v;
  char **s; /* NULL, or per element NULL or the decimal text */
} snn_nums;

int snn_nums_init(snn_nums *a, size_t n);
void snn_nums_clear(snn_nums *a);
int snn_nums_set_str(snn_nums *a, size_t i, const char *text);
/* Whether t is a decimal number as snngrad writes them:
 * [+-]digits[.digits][e[+-]digits], digits on at least one side of the
 * point; no spaces, hexadecimal, inf or nan (all of which strtod takes). */
int snn_decimal_ok(const char *t);

/* Parameters, input and target of one sequence. */
typedef struct {
  snn_nums theta;     /* spec->P, block layout of the spec */
  snn_nums x;         /* T * n_in, row-major by step */
  snn_nums y;         /* T * n_out (mse) */
  long label;         /* ce */
  char warnings[512]; /* unknown keys of the file it was read from, for the CLI to print */
} snn_data;
void snn_data_clear(snn_data *d);

/* A gradient (or any per-parameter result) with its loss and bookkeeping. */
typedef struct {
  char rule[64];
  long prec;         /* 53 = double path */
  int mpfr;          /* computed by the MPFR build */
  snn_nums loss;     /* one number */
  snn_nums grad;     /* spec->P; entries of non-trainable blocks are 0 */
  size_t *crossings; /* per layer: (t, j) with u > 0 */
  double *spikes;    /* per layer: sum of z (filled by the forward pass of bptt) */
  size_t bytes;      /* bytes the rule held while computing */
} snn_result;

int snn_result_init(snn_result *r, const snn_spec *s);
void snn_result_clear(snn_result *r);

#endif
