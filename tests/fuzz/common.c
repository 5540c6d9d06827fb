/* common.c - what the fuzz targets share: a private scratch folder, inputs
 * written to files, the fixed networks and the fixture data files. */
#include <errno.h>
#include <ftw.h>
#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "tests/fuzz/targets.h"

const snn_fuzz_target snn_fuzz_targets[] = {
    {"network", snn_fuzz_network},
    {"params", snn_fuzz_params},
    {"grads", snn_fuzz_grads},
    {"experiment", snn_fuzz_experiment},
    {"idx", snn_fuzz_idx},
    {"shd", snn_fuzz_shd},
    {NULL, NULL},
};

int snn_fuzz_verbose;

int snn_fuzz_note(const char *reader, int st, const snn_err *err) {
  if (!snn_fuzz_verbose) return st;
  if (st == SNN_OK)
    printf("  %s: accepted\n", reader);
  else
    printf("  %s: refused: %s: key '%s': %s\n", reader, err->file, err->key, err->msg);
  fflush(stdout);
  return st;
}

/* ---- scratch space ---- */

static char root[512];
static pid_t root_owner;

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
  (void)st, (void)flag, (void)ftw;
  remove(path);
  return 0;
}

static void rm_root(void) {
  /* a forked child (libFuzzer's -fork mode runs workers as processes) must
   * not remove its parent's folder */
  if (root[0] && getpid() == root_owner) nftw(root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

const char *snn_fuzz_dir(const char *name) {
  static struct { char name[32], path[600]; } dirs[8];
  if (!root[0]) {
    const char *tmp = getenv("TMPDIR");
    snprintf(root, sizeof root, "%s/snngrad-fuzz-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(root)) {
      fprintf(stderr, "fuzz: cannot create a scratch folder %s: %s\n", root, strerror(errno));
      abort();
    }
    root_owner = getpid();
    atexit(rm_root);
  }
  for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
    if (!strcmp(dirs[i].name, name)) return dirs[i].path;
    if (!dirs[i].name[0]) {
      snprintf(dirs[i].name, sizeof dirs[i].name, "%s", name);
      snprintf(dirs[i].path, sizeof dirs[i].path, "%s/%s", root, name);
      if (mkdir(dirs[i].path, 0700) && errno != EEXIST) {
        fprintf(stderr, "fuzz: cannot create %s: %s\n", dirs[i].path, strerror(errno));
        abort();
      }
      return dirs[i].path;
    }
  }
  abort(); /* more folders than a harness needs */
}

int snn_fuzz_put(const char *path, const void *data, size_t size) {
  FILE *f = fopen(path, "wb");
  if (!f) return -1;
  int bad = size && fwrite(data, 1, size, f) != size;
  return fclose(f) || bad ? -1 : 0;
}

const char *snn_fuzz_memfd(int slot, const void *data, size_t size) {
  static int fd[2] = {-1, -1};
  static char path[2][64];
  if (fd[slot] < 0) {
    fd[slot] = memfd_create("snngrad-fuzz", 0);
    if (fd[slot] < 0) {
      fprintf(stderr, "fuzz: memfd_create: %s\n", strerror(errno));
      abort();
    }
    snprintf(path[slot], sizeof path[slot], "/proc/self/fd/%d", fd[slot]);
  }
  if (ftruncate(fd[slot], 0)) abort();
  const char *p = data;
  for (size_t done = 0; done < size;) {
    ssize_t w = pwrite(fd[slot], p + done, size - done, (off_t)done);
    if (w <= 0) abort();
    done += (size_t)w;
  }
  return path[slot];
}

int snn_fuzz_write_params(const snn_spec *s, const snn_data *d, const char *path, snn_err *err) {
  snn_buf b = {0};
  int st = snn_data_format(s, d, &b, path, err);
  snn_buf_puts(&b, "}\n");
  if (!st && b.oom) st = snn_err_set(err, SNN_ENOMEM, path, "", "out of memory");
  if (!st && snn_fuzz_put(path, b.p, b.len)) st = snn_err_set(err, SNN_EIO, path, "", "cannot write");
  snn_buf_free(&b);
  return st;
}

int snn_fuzz_write_grads(const snn_spec *s, const snn_result *r, const char *path, snn_err *err) {
  static int broken;
  if (broken) return -1;
  int st = snn_grads_write(s, r, path, err);
  if (st == SNN_EIO && strstr(err->msg, "temporary file")) {
    fprintf(stderr, "fuzz: snn_write_atomic cannot write %s (%s); gradient round trips are skipped\n", path, err->msg);
    broken = 1;
    return -1;
  }
  return st;
}

/* ---- the fixed networks ---- */

const char *const snn_fuzz_net_names[SNN_FUZZ_NNETS] = {"alif_recurrent", "mix", "gated"};

const char *const snn_fuzz_net_text[SNN_FUZZ_NNETS] = {
    /* examples/alif_recurrent.json */
    "{\n"
    "  \"description\": \"A recurrent ALIF layer (e-prop's LSNN cell) with heaviside spikes and the e-prop triangle "
    "surrogate; cross-entropy over a recall window.\",\n"
    "  \"seed\": 3, \"steps\": 60, \"dt\": 1.0,\n"
    "  \"input\":   {\"size\": 6, \"kind\": \"poisson\", \"rate\": 0.15},\n"
    "  \"layers\":  [{\"model\": \"alif\", \"size\": 12, \"recurrent\": true, \"tau_mem\": 20.0, \"threshold\": 0.6,\n"
    "               \"tau_adapt\": 200.0, \"beta\": 1.8, \"w_scale\": 2.0,\n"
    "               \"train\": [\"w_in\", \"w_rec\"]}],\n"
    "  \"readout\": {\"size\": 2, \"tau_out\": 20.0},\n"
    "  \"loss\":    {\"kind\": \"ce\", \"window\": [45, 60]},\n"
    "  \"spike\":   {\"forward\": \"heaviside\", \"surrogate\": \"triangle\", \"gamma\": 0.3},\n"
    "  \"gradient\": {\"reset\": \"keep\", \"recurrent\": \"keep\"}\n"
    "}\n",
    /* delays, projected adlif bounds, trained constants, snu; mse */
    "{\"seed\": 5, \"steps\": 3, \"input\": {\"size\": 2, \"kind\": \"normal\"},\n"
    " \"layers\": [{\"model\": \"adlif\", \"size\": 2, \"bounds\": \"project\",\n"
    "             \"delays\": {\"max\": 3, \"kernel\": \"gaussian\", \"init\": [0, 2]},\n"
    "             \"train\": [\"w_in\", \"delay\", \"tau_mem\", \"threshold\", \"tau_adapt\", \"a\", \"b\"]},\n"
    "            {\"model\": \"snu\", \"size\": 2, \"recurrent\": true, \"activation\": \"relu\",\n"
    "             \"train\": [\"w_in\", \"w_rec\", \"decay\", \"bias\"]}],\n"
    " \"readout\": {\"size\": 2, \"tau_out\": 5},\n"
    " \"loss\": {\"kind\": \"mse\", \"target\": {\"kind\": \"normal\"}, \"rate_reg\": {\"c\": 0.1, \"target\": 0.2}},\n"
    " \"spike\": {\"forward\": \"sigmoid\", \"slope\": 4}}\n",
    /* the gated and multi-current cells, lif and alif with trained constants; ce */
    "{\"seed\": 9, \"steps\": 3, \"input\": {\"size\": 2},\n"
    " \"layers\": [{\"model\": \"ltc\", \"size\": 2, \"recurrent\": true,\n"
    "             \"train\": [\"w_in\", \"w_rec\", \"bias\", \"w_tau_m\", \"w_tau_adp\", \"threshold\", \"beta\"]},\n"
    "            {\"model\": \"lstm\", \"size\": 2, \"recurrent\": true},\n"
    "            {\"model\": \"gru\", \"size\": 2, \"recurrent\": true},\n"
    "            {\"model\": \"lif\", \"size\": 2, \"input_scale\": \"1-alpha\", \"train\": [\"w_in\", \"tau_mem\", "
    "\"threshold\"]},\n"
    "            {\"model\": \"alif\", \"size\": 2, \"recurrent\": true, \"reset\": \"none\",\n"
    "             \"train\": [\"w_in\", \"w_rec\", \"tau_adapt\", \"beta\"]}],\n"
    " \"readout\": {\"size\": 3},\n"
    " \"loss\": {\"kind\": \"ce\", \"label\": 1, \"window\": [2, 3]},\n"
    " \"spike\": {\"surrogate\": \"multi_gaussian\"}, \"gradient\": {\"reset\": \"detach\", \"recurrent\": "
    "\"detach\"}}\n",
};

const snn_spec *snn_fuzz_net(int i) {
  static snn_spec *nets[SNN_FUZZ_NNETS];
  if (!nets[i]) {
    snn_err err = {0};
    if (snn_spec_parse(snn_fuzz_net_text[i], snn_fuzz_net_names[i], &nets[i], &err)) {
      fprintf(stderr, "fuzz: fixture network %s does not parse: %s\n", snn_fuzz_net_names[i], err.msg);
      abort();
    }
  }
  return nets[i];
}

/* ---- data files ---- */

int snn_fuzz_write_idx(const char *path, uint32_t magic, uint32_t count, const uint8_t *body, size_t len, int images,
                       int gz) {
  uint32_t h[4] = {magic, count, 28, 28};
  unsigned char head[16];
  for (int k = 0; k < 4; k++)
    for (int j = 0; j < 4; j++) head[4 * k + j] = (unsigned char)(h[k] >> (24 - 8 * j));
  size_t nh = images ? 16 : 8;
  if (!gz) {
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    int bad = fwrite(head, 1, nh, f) != nh || (len && fwrite(body, 1, len, f) != len);
    return fclose(f) || bad ? -1 : 0;
  }
  gzFile f = gzopen(path, "wb9");
  if (!f) return -1;
  int bad = gzwrite(f, head, (unsigned)nh) != (int)nh || (len && gzwrite(f, body, (unsigned)len) != (int)len);
  return gzclose(f) != Z_OK || bad ? -1 : 0;
}

/* One 1-D (or n x 1) dataset of `n` entries of type `ft` under `loc`,
 * optionally chunked and deflated. */
static hid_t make_dataset(hid_t loc, const char *name, hid_t ft, size_t n, int flags, int two_d) {
  hsize_t dims[2] = {n, 1};
  hid_t sp = H5Screate_simple(two_d ? 2 : 1, dims, NULL);
  hid_t pl = H5Pcreate(H5P_DATASET_CREATE);
  if (flags & SNN_FUZZ_SHD_DEFLATE) {
    hsize_t chunk[2] = {n ? n : 1, 1};
    H5Pset_chunk(pl, two_d ? 2 : 1, chunk);
    H5Pset_deflate(pl, 6);
  }
  hid_t d = H5Dcreate2(loc, name, ft, sp, H5P_DEFAULT, pl, H5P_DEFAULT);
  H5Pclose(pl);
  H5Sclose(sp);
  return d;
}

int snn_fuzz_write_shd(const char *path, size_t ntrains, const size_t *len, const float *times, const uint16_t *units,
                       size_t ntimes, size_t nunits, size_t nlabels, const uint16_t *labels, int flags) {
  int bad = 0;
  size_t nmax = ntimes > nunits ? ntimes : nunits, tot = 0;
  hvl_t *tv = calloc(nmax ? nmax : 1, sizeof *tv), *uv = calloc(nmax ? nmax : 1, sizeof *uv);
  size_t *off = calloc(ntrains + 1, sizeof *off);
  double *t64 = NULL;
  for (size_t i = 0; i < ntrains; i++) off[i + 1] = off[i] + len[i], tot += len[i];
  if (flags & SNN_FUZZ_SHD_TIMES_F64) {
    t64 = malloc((tot ? tot : 1) * sizeof *t64);
    for (size_t k = 0; k < tot; k++) t64[k] = times[k];
  }
  for (size_t i = 0; i < nmax && ntrains; i++) {
    size_t j = i % ntrains;
    tv[i].len = uv[i].len = len[j];
    tv[i].p = t64 ? (void *)(t64 + off[j]) : (void *)(times + off[j]);
    uv[i].p = (void *)(units + off[j]);
  }
  uint16_t *lab = malloc((nlabels ? nlabels : 1) * sizeof *lab);
  for (size_t i = 0; i < nlabels; i++) lab[i] = labels[i % (ntrains ? ntrains : 1)];

  hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  if (f < 0) {
    bad = 1;
    goto out;
  }
  hid_t g = H5Gcreate2(f, "spikes", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  hid_t vf = H5Tvlen_create(t64 ? H5T_NATIVE_DOUBLE : H5T_NATIVE_FLOAT), vu = H5Tvlen_create(H5T_NATIVE_UINT16);
  hid_t dt = make_dataset(g, "times", vf, ntimes, flags, 0);
  hid_t du = make_dataset(g, "units", vu, nunits, flags, 0);
  bad |= dt < 0 || du < 0;
  if (ntimes) bad |= H5Dwrite(dt, vf, H5S_ALL, H5S_ALL, H5P_DEFAULT, tv) < 0;
  if (nunits) bad |= H5Dwrite(du, vu, H5S_ALL, H5S_ALL, H5P_DEFAULT, uv) < 0;
  if (nlabels) {
    hid_t ft = flags & SNN_FUZZ_SHD_LABELS_U8 ? H5T_STD_U8LE : H5T_STD_U16LE;
    hid_t dl = make_dataset(f, "labels", ft, nlabels, flags, !!(flags & SNN_FUZZ_SHD_LABELS_2D));
    bad |= dl < 0 || H5Dwrite(dl, H5T_NATIVE_UINT16, H5S_ALL, H5S_ALL, H5P_DEFAULT, lab) < 0;
    H5Dclose(dl);
  }
  H5Dclose(dt), H5Dclose(du), H5Tclose(vf), H5Tclose(vu), H5Gclose(g);
  bad |= H5Fclose(f) < 0;
out:
  free(tv), free(uv), free(off), free(t64), free(lab);
  return bad ? -1 : 0;
}

int snn_fuzz_write_fixtures(const char *dir) {
  char p[700];
  int bad = 0;
  snprintf(p, sizeof p, "%s/net.json", dir);
  bad |= snn_fuzz_put(p, snn_fuzz_net_text[0], strlen(snn_fuzz_net_text[0]));
  /* Fashion-MNIST: two images, labels 3 and 9, train and test alike */
  uint8_t img[2 * 784], lab[2] = {3, 9};
  for (size_t i = 0; i < sizeof img; i++) img[i] = (uint8_t)(i * 37 % 256);
  static const char *const split[2] = {"train", "t10k"};
  for (int s = 0; s < 2; s++) {
    snprintf(p, sizeof p, "%s/%s-images-idx3-ubyte.gz", dir, split[s]);
    bad |= snn_fuzz_write_idx(p, 0x803, 2, img, sizeof img, 1, 1);
    snprintf(p, sizeof p, "%s/%s-labels-idx1-ubyte.gz", dir, split[s]);
    bad |= snn_fuzz_write_idx(p, 0x801, 2, lab, sizeof lab, 0, 1);
  }
  /* SHD: two spike trains, labels 19 and 4 */
  static const float t[] = {0.0f, 0.015f, 0.5f, 0.999f, 0.2f, 0.2f};
  static const uint16_t u[] = {3, 699, 10, 42, 7, 8}, l[] = {19, 4};
  static const size_t len[] = {4, 2};
  snprintf(p, sizeof p, "%s/shd_train.h5", dir);
  bad |= snn_fuzz_write_shd(p, 2, len, t, u, 2, 2, 2, l, 0);
  snprintf(p, sizeof p, "%s/shd_test.h5", dir);
  bad |= snn_fuzz_write_shd(p, 2, len, t, u, 2, 2, 2, l, 0);
  return bad ? -1 : 0;
}
