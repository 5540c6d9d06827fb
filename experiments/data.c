/* data.c - the readers of the data sets the tasks learn from (docs/tasks.md):
 * Fashion-MNIST as IDX files (gzip or plain) and the Spiking Heidelberg
 * Digits as HDF5.  Every size comes from the file and is checked against
 * the others before anything is read into a buffer sized from it. */
#include <hdf5.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "experiments/tasks.h"

void snn_dataset_free(snn_dataset *d) {
  free(d->labels);
  free(d->pix);
  free(d->ev_off);
  free(d->times);
  free(d->units);
  memset(d, 0, sizeof *d);
}

/* ---- Fashion-MNIST: IDX files, gzip or plain ---- */

static int gz_u32(gzFile f, uint32_t *v) {
  unsigned char b[4];
  if (gzread(f, b, 4) != 4) return -1;
  *v = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
  return 0;
}

/* n bytes into a buffer that grows as they arrive, so that a header that
 * claims more than the file holds is found truncated rather than believed
 * (and allocated); gzread counts in int, so in pieces. */
static int gz_all(gzFile f, uint8_t **out, size_t n) {
  size_t have = 0, cap = 0;
  uint8_t *p = NULL;
  while (have < n) {
    if (have == cap) {
      size_t nc = cap ? 2 * cap : 1u << 20;
      if (nc > n) nc = n;
      uint8_t *q = realloc(p, nc);
      if (!q) return free(p), SNN_ENOMEM;
      p = q, cap = nc;
    }
    size_t want = cap - have > (1u << 30) ? 1u << 30 : cap - have;
    int got = gzread(f, p + have, (unsigned)want);
    if (got <= 0) return free(p), SNN_EIO;
    have += (size_t)got;
  }
  *out = p;
  return SNN_OK;
}

int snn_idx_load(const char *images, const char *labels, snn_dataset *d, size_t limit, snn_err *err) {
  memset(d, 0, sizeof *d);
  gzFile fi = gzopen(images, "rb"), fl = gzopen(labels, "rb");
  int st = SNN_OK;
  uint32_t mi = 0, ni = 0, rows = 0, cols = 0, ml = 0, nl = 0;
  if (!fi || !fl) {
    st = snn_err_set(err, SNN_EIO, fi ? labels : images, "",
                     "cannot open the IDX file (install Debian's dataset-fashion-mnist, or set task.path)");
  } else if (gz_u32(fi, &mi) || gz_u32(fi, &ni) || gz_u32(fi, &rows) || gz_u32(fi, &cols) || mi != 0x803 ||
             rows != 28 || cols != 28) {
    st = snn_err_set(err, SNN_EVALUE, images, "", "not an IDX image file of 28 x 28 images (magic 0x00000803)");
  } else if (ni == 0) {
    st = snn_err_set(err, SNN_EVALUE, images, "", "holds no images; expected at least one");
  } else if (gz_u32(fl, &ml) || gz_u32(fl, &nl) || ml != 0x801 || nl != ni) {
    st = snn_err_set(err, SNN_EVALUE, labels, "",
                     "not an IDX label file (magic 0x00000801) with %u labels, one per image", ni);
  }
  if (!st) {
    d->count = limit && limit < ni ? limit : ni;
    int r = gz_all(fi, &d->pix, d->count * 784);
    if (r)
      st = snn_err_set(err, r, images, "",
                       r == SNN_EIO ? "truncated: expected %zu images" : "out of memory for %zu images", d->count);
    if (!st && (r = gz_all(fl, &d->labels, d->count)))
      st = snn_err_set(err, r, labels, "",
                       r == SNN_EIO ? "truncated: expected %zu labels" : "out of memory for %zu labels", d->count);
  }
  for (size_t i = 0; !st && i < d->count; i++)
    if (d->labels[i] > 9)
      st = snn_err_set(err, SNN_EVALUE, labels, "", "label %u of sample %zu is not in [0, 9]", d->labels[i], i);
  if (fi) gzclose(fi);
  if (fl) gzclose(fl);
  if (st) snn_dataset_free(d);
  return st;
}

/* ---- SHD: spikes/times (vlen float, s), spikes/units (vlen uint16), labels ---- */

/* The number of entries of a one-dimensional dataset, or -1. */
static hssize_t entries(hid_t ds) {
  hid_t sp = H5Dget_space(ds);
  if (sp < 0) return -1;
  hssize_t n = H5Sget_simple_extent_ndims(sp) == 1 ? H5Sget_simple_extent_npoints(sp) : -1;
  H5Sclose(sp);
  return n;
}

/* The three datasets, open, one-dimensional, non-empty and of one length;
 * each buffer is sized from its own dataset. */
static int shd_open(hid_t f, const char *path, hid_t ds[3], size_t *n, snn_err *err) {
  static const char *const names[3] = {"/spikes/times", "/spikes/units", "/labels"};
  hssize_t len[3];
  int spikes = H5Lexists(f, "/spikes", H5P_DEFAULT) > 0; /* else opening /spikes/times fails noisily */
  for (int i = 0; i < 3; i++) {
    ds[i] = spikes || i == 2 ? H5Dopen2(f, names[i], H5P_DEFAULT) : -1;
    if (ds[i] < 0)
      return snn_err_set(err, SNN_EKEY, path, names[i],
                         "missing; expected the SHD layout (spikes/times, spikes/units, labels)");
    len[i] = entries(ds[i]);
    if (len[i] <= 0)
      return snn_err_set(err, SNN_EVALUE, path, names[i], "expected a non-empty one-dimensional dataset");
  }
  for (int i = 0; i < 2; i++)
    if (len[i] != len[2])
      return snn_err_set(err, SNN_EVALUE, path, names[i],
                         "has %lld entries but /labels has %lld; expected one per sample", (long long)len[i],
                         (long long)len[2]);
  *n = (size_t)len[2];
  return SNN_OK;
}

/* The events of samples [0, d->count) into d. */
static int shd_copy(const char *path, const hvl_t *rt, const hvl_t *ru, const uint16_t *lab, snn_dataset *d,
                    snn_err *err) {
  size_t tot = 0;
  for (size_t i = 0; i < d->count; i++) {
    if (rt[i].len != ru[i].len)
      return snn_err_set(err, SNN_EVALUE, path, "/spikes", "sample %zu has %zu times but %zu units", i, rt[i].len,
                         ru[i].len);
    if (lab[i] > 255)
      return snn_err_set(err, SNN_EVALUE, path, "/labels", "label %u of sample %zu is too large", lab[i], i);
    tot += rt[i].len;
  }
  d->labels = malloc(d->count);
  d->ev_off = malloc((d->count + 1) * sizeof *d->ev_off);
  d->times = malloc((tot ? tot : 1) * sizeof *d->times);
  d->units = malloc((tot ? tot : 1) * sizeof *d->units);
  if (!d->labels || !d->ev_off || !d->times || !d->units)
    return snn_err_set(err, SNN_ENOMEM, path, "", "out of memory");
  size_t k = 0;
  for (size_t i = 0; i < d->count; i++) {
    d->ev_off[i] = k;
    d->labels[i] = (uint8_t)lab[i];
    if (rt[i].len) memcpy(d->times + k, rt[i].p, rt[i].len * sizeof(float));
    if (ru[i].len) memcpy(d->units + k, ru[i].p, ru[i].len * sizeof(uint16_t));
    k += rt[i].len;
  }
  d->ev_off[d->count] = k;
  return SNN_OK;
}

int snn_shd_load(const char *path, snn_dataset *d, size_t limit, snn_err *err) {
  memset(d, 0, sizeof *d);
  H5Eset_auto2(H5E_DEFAULT, NULL, NULL); /* errors are ours to report */
  hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
  if (f < 0)
    return snn_err_set(err, SNN_EIO, path, "", "cannot open the HDF5 file (see docs/tasks.md for where SHD goes)");
  hid_t ds[3] = {-1, -1, -1}, vf = H5Tvlen_create(H5T_NATIVE_FLOAT), vu = H5Tvlen_create(H5T_NATIVE_UINT16), sp = -1;
  size_t n = 0;
  hvl_t *rt = NULL, *ru = NULL;
  uint16_t *lab = NULL;
  int st = shd_open(f, path, ds, &n, err);
  if (!st) {
    rt = calloc(n, sizeof *rt), ru = calloc(n, sizeof *ru), lab = malloc(n * sizeof *lab);
    sp = H5Dget_space(ds[0]);
    if (!rt || !ru || !lab) st = snn_err_set(err, SNN_ENOMEM, path, "", "out of memory");
  }
  if (!st && (H5Dread(ds[2], H5T_NATIVE_UINT16, H5S_ALL, H5S_ALL, H5P_DEFAULT, lab) < 0 ||
              H5Dread(ds[0], vf, H5S_ALL, H5S_ALL, H5P_DEFAULT, rt) < 0 ||
              H5Dread(ds[1], vu, H5S_ALL, H5S_ALL, H5P_DEFAULT, ru) < 0))
    st = snn_err_set(err, SNN_EVALUE, path, "/spikes",
                     "cannot read: expected variable-length float times, uint16 units and integer labels");
  if (!st) {
    d->count = limit && limit < n ? limit : n;
    st = shd_copy(path, rt, ru, lab, d, err);
  }
  /* entries never read are zero (calloc): reclaiming them frees nothing */
  if (rt && sp >= 0) H5Dvlen_reclaim(vf, sp, H5P_DEFAULT, rt);
  if (ru && sp >= 0) H5Dvlen_reclaim(vu, sp, H5P_DEFAULT, ru);
  free(rt), free(ru), free(lab);
  H5Tclose(vf), H5Tclose(vu);
  if (sp >= 0) H5Sclose(sp);
  for (int i = 0; i < 3; i++)
    if (ds[i] >= 0) H5Dclose(ds[i]);
  H5Fclose(f);
  if (st) snn_dataset_free(d);
  return st;
}
