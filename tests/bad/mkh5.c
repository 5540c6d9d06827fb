/* mkh5.c - writes Spiking Heidelberg Digits files with one defect each, for
 * the bad-input catalogue (tests/bad/run.sh).
 *
 *   mkh5 DIR
 *
 * makes DIR/<variant>/shd_train.h5 for every variant below, each beside a
 * well-formed DIR/<variant>/shd_test.h5, so that a task whose "path" names
 * the folder reads the defective file first.  The layout is SHD's
 * (docs/tasks.md): spikes/times (variable-length float, seconds),
 * spikes/units (variable-length uint16) and labels (uint16), one entry per
 * sample. */
#include <hdf5.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

enum { MAXN = 8 };

/* What one file holds; each variant changes one thing of the good file. */
typedef struct {
  const char *name;
  int no_times, no_units, no_labels;  /* leave a dataset out */
  hsize_t n_times, n_units, n_labels; /* entries per dataset */
  int len_mismatch;                   /* sample 0: more units than times */
  unsigned unit;                      /* the unit of every spike */
  unsigned label;                     /* the label of sample 1 */
  int fixed_times;                    /* spikes/times as plain floats */
} variant;

/* One variant a row, as a table. */
/* clang-format off */
static const variant variants[] = {
    /* name          no: times units labels  entries: times units labels  mismatch unit label fixed */
    {"ok",               0, 0, 0,                     4, 4, 4,            0,       3,   2,    0},
    {"no_labels",        0, 0, 1,                     4, 4, 4,            0,       3,   2,    0},
    {"no_times",         1, 0, 0,                     4, 4, 4,            0,       3,   2,    0},
    {"no_units",         0, 1, 0,                     4, 4, 4,            0,       3,   2,    0},
    {"units_longer",     0, 0, 0,                     4, 8, 4,            0,       3,   2,    0},
    {"times_longer",     0, 0, 0,                     8, 4, 4,            0,       3,   2,    0},
    {"empty",            0, 0, 0,                     0, 0, 0,            0,       3,   2,    0},
    {"len_mismatch",     0, 0, 0,                     4, 4, 4,            1,       3,   2,    0},
    {"unit_700",         0, 0, 0,                     4, 4, 4,            0,       700, 2,    0},
    {"label_20",         0, 0, 0,                     4, 4, 4,            0,       3,   20,   0},
    {"label_300",        0, 0, 0,                     4, 4, 4,            0,       3,   300,  0},
    {"fixed_times",      0, 0, 0,                     4, 4, 4,            0,       3,   2,    1},
};
/* clang-format on */

/* A 1-d dataset of `n` entries, or an empty one; its space is closed here. */
static int put(hid_t where, const char *name, hid_t ftype, hid_t mtype, hsize_t n, const void *data) {
  hid_t sp = H5Screate_simple(1, &n, NULL);
  hid_t d = H5Dcreate2(where, name, ftype, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  int ok = sp >= 0 && d >= 0 && (n == 0 || H5Dwrite(d, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) >= 0);
  if (d >= 0) H5Dclose(d);
  if (sp >= 0) H5Sclose(sp);
  return ok ? 0 : -1;
}

static int write_file(const char *path, const variant *v) {
  float times[MAXN][3];
  uint16_t units[MAXN][4], labels[MAXN];
  hvl_t tv[MAXN], uv[MAXN];
  float flat[MAXN];
  for (int i = 0; i < MAXN; i++) {
    for (int k = 0; k < 3; k++) times[i][k] = 0.1f * (float)(k + 1) + 0.01f * (float)i;
    for (int k = 0; k < 4; k++) units[i][k] = (uint16_t)v->unit;
    labels[i] = (uint16_t)(i == 1 ? v->label : (unsigned)i % 20);
    tv[i] = (hvl_t){3, times[i]};
    uv[i] = (hvl_t){i == 0 && v->len_mismatch ? 4 : 3, units[i]};
    flat[i] = 0.5f;
  }
  hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  if (f < 0) return -1;
  hid_t g = H5Gcreate2(f, "spikes", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  hid_t vf = H5Tvlen_create(H5T_NATIVE_FLOAT), vu = H5Tvlen_create(H5T_NATIVE_UINT16);
  int rc = g < 0 || vf < 0 || vu < 0;
  if (!rc && !v->no_times) {
    if (v->fixed_times)
      rc = put(g, "times", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, v->n_times, flat);
    else
      rc = put(g, "times", vf, vf, v->n_times, tv);
  }
  if (!rc && !v->no_units) rc = put(g, "units", vu, vu, v->n_units, uv);
  if (!rc && !v->no_labels) rc = put(f, "labels", H5T_STD_U16LE, H5T_NATIVE_UINT16, v->n_labels, labels);
  if (vf >= 0) H5Tclose(vf);
  if (vu >= 0) H5Tclose(vu);
  if (g >= 0) H5Gclose(g);
  H5Fclose(f);
  return rc;
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: mkh5 DIR\n");
    return 2;
  }
  mkdir(argv[1], 0777); /* (it may exist) */
  for (size_t i = 0; i < sizeof variants / sizeof *variants; i++) {
    char dir[4096], path[4200];
    snprintf(dir, sizeof dir, "%s/%s", argv[1], variants[i].name);
    mkdir(dir, 0777);
    snprintf(path, sizeof path, "%s/shd_train.h5", dir);
    int rc = write_file(path, &variants[i]);
    snprintf(path, sizeof path, "%s/shd_test.h5", dir);
    if (rc || write_file(path, &variants[0])) {
      fprintf(stderr, "mkh5: cannot write %s\n", path);
      return 1;
    }
  }
  return 0;
}
