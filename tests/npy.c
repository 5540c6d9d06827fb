/* npy.c - the .npy reader and writer (io/npy.c), tested on files NumPy
 * writes, on files NumPy reads back, and on a catalogue of malformed files.
 *
 * NumPy's side is tests/npy_make.py, run with the Python named by
 * $NPY_PYTHON (meson finds one that has NumPy); without it those cases are
 * skipped with a message and the rest still runs. */
#include "io/npy.h"

#include <check.h>
#include <dirent.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sim/snn.h"
#include "tests/testutil.h"

static char tmpdir[256];

static void setup(void) {
  snprintf(tmpdir, sizeof tmpdir, "/tmp/snngrad-npy-XXXXXX");
  ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void teardown(void) {
  char cmd[300];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
  ck_assert_int_eq(system(cmd), 0);
}

static const char *path_in(const char *dir, const char *name, const char *ext) {
  static char buf[4][600];
  static int k;
  k = (k + 1) % 4;
  snprintf(buf[k], sizeof buf[k], "%s/%s%s", dir, name, ext);
  return buf[k];
}

static void put_file(const char *path, const void *bytes, size_t n) {
  FILE *f = fopen(path, "wb");
  ck_assert_ptr_nonnull(f);
  ck_assert_uint_eq(fwrite(bytes, 1, n, f), n);
  ck_assert_int_eq(fclose(f), 0);
}

static unsigned char *get_file(const char *path, size_t *n) {
  FILE *f = fopen(path, "rb");
  ck_assert_ptr_nonnull(f);
  ck_assert_int_eq(fseek(f, 0, SEEK_END), 0);
  long len = ftell(f);
  ck_assert_int_ge(len, 0);
  rewind(f);
  unsigned char *b = malloc((size_t)len + 1);
  ck_assert_ptr_nonnull(b);
  ck_assert_uint_eq(fread(b, 1, (size_t)len, f), (size_t)len);
  fclose(f);
  *n = (size_t)len;
  return b;
}

static uint64_t bits(double x) {
  uint64_t b;
  memcpy(&b, &x, 8);
  return b;
}

static double from_bits(uint64_t b) {
  double x;
  memcpy(&x, &b, 8);
  return x;
}

/* A .npy file by hand: magic, version, length field, the dict padded with
 * spaces and '\n' so the data start at a multiple of `align` (1: no
 * padding), then the data.  newline = 0 ends the header with a space;
 * delta is added to the length field. */
static size_t build(unsigned char *buf, int major, int minor, const char *dict, size_t align, int newline, long delta,
                    const void *data, size_t ndata) {
  size_t prefix = major == 1 ? 10 : 12, len = strlen(dict);
  size_t hlen = len + 1;
  size_t pad = (align - (prefix + hlen) % align) % align;
  memcpy(buf, "\x93NUMPY", 6);
  buf[6] = (unsigned char)major;
  buf[7] = (unsigned char)minor;
  uint64_t field = (uint64_t)((long)(hlen + pad) + delta);
  for (size_t i = 0; i < prefix - 8; i++) buf[8 + i] = (unsigned char)(field >> (8 * i));
  memcpy(buf + prefix, dict, len);
  memset(buf + prefix + len, ' ', pad);
  buf[prefix + len + pad] = newline ? '\n' : ' ';
  if (ndata) memcpy(buf + prefix + hlen + pad, data, ndata);
  return prefix + hlen + pad + ndata;
}

static void put_npy(const char *path, int major, int minor, const char *dict, size_t align, int newline, long delta,
                    const void *data, size_t ndata) {
  unsigned char *buf = malloc(strlen(dict) + ndata + 4200);
  ck_assert_ptr_nonnull(buf);
  size_t n = build(buf, major, minor, dict, align, newline, delta, data, ndata);
  put_file(path, buf, n);
  free(buf);
}

/* Exact equality of doubles: bit for bit (so -0.0 is not 0.0, and a NaN
 * keeps its sign and payload). */
static void assert_same(const double *got, const double *want, size_t n, const char *what) {
  for (size_t i = 0; i < n; i++)
    ck_assert_msg(bits(got[i]) == bits(want[i]), "%s: element %zu is %.17g (0x%016llx), expected %.17g (0x%016llx)",
                  what, i, got[i], (unsigned long long)bits(got[i]), want[i], (unsigned long long)bits(want[i]));
}

/* ---- write, then read ---- */

static const double SPECIAL[] = {0.0,
                                 -0.0,
                                 1.0,
                                 -1.5,
                                 0.1,
                                 1.0 / 3.0,
                                 4.9406564584124654e-324,
                                 -4.9406564584124654e-324,
                                 2.2250738585072009e-308 /* largest subnormal */,
                                 2.2250738585072014e-308,
                                 1.7976931348623157e308,
                                 -1.7976931348623157e308,
                                 INFINITY,
                                 -INFINITY};

/* n values: the special ones (and NaNs with payloads), then a fixed sequence. */
static double *test_values(size_t n) {
  double *v = malloc((n ? n : 1) * sizeof *v);
  ck_assert_ptr_nonnull(v);
  const size_t ns = sizeof SPECIAL / sizeof *SPECIAL;
  for (size_t i = 0; i < n; i++) {
    if (i < ns)
      v[i] = SPECIAL[i];
    else if (i == ns)
      v[i] = NAN;
    else if (i == ns + 1)
      v[i] = from_bits(0xfff8000000000000ull); /* -nan */
    else if (i == ns + 2)
      v[i] = from_bits(0x7ff8000000000123ull); /* a payload */
    else if (i == ns + 3)
      v[i] = from_bits(0x7ff0000000000001ull); /* signalling */
    else
      v[i] = ldexp((double)((i * 2654435761u) % 1000003) - 500000.0, (int)(i % 61) - 30);
  }
  return v;
}

static const struct {
  int rank;
  size_t shape[5];
} SHAPES[] = {
    {0, {0}},          {1, {1}}, {1, {7}},    {1, {18}},      {2, {3, 6}},    {3, {2, 3, 4}},
    {4, {2, 1, 3, 5}}, {1, {0}}, {2, {3, 0}}, {3, {2, 0, 3}}, {2, {1000, 7}}, {5, {1, 1, 1, 1, 1}},
};

static size_t count(const size_t *shape, int rank) {
  size_t n = 1;
  for (int i = 0; i < rank; i++) n *= shape[i];
  return n;
}

START_TEST(test_roundtrip) {
  const size_t *shape = SHAPES[_i].shape;
  int rank = SHAPES[_i].rank;
  size_t n = count(shape, rank);
  double *v = test_values(n);
  const char *p = path_in(tmpdir, "rt", ".npy");
  snn_err e = {0};
  ck_assert_int_eq(snn_npy_write(p, n ? v : NULL, shape, rank, &e), SNN_OK);

  /* the layout: version 1.0, data at a multiple of 64, nothing after it */
  size_t len;
  unsigned char *b = get_file(p, &len);
  ck_assert_int_eq(memcmp(b, "\x93NUMPY\x01\x00", 8), 0);
  size_t off = 10 + (size_t)(b[8] | b[9] << 8);
  ck_assert_uint_eq(off % 64, 0);
  ck_assert_uint_eq(len, off + 8 * n);
  ck_assert_int_eq(b[off - 1], '\n');
  free(b);

  snn_npy a;
  ck_assert_msg(snn_npy_read(p, &a, &e) == SNN_OK, "%s", e.msg);
  ck_assert_int_eq(a.rank, rank);
  for (int i = 0; i < rank; i++) ck_assert_uint_eq(a.shape[i], shape[i]);
  ck_assert_uint_eq(a.n, n);
  ck_assert_ptr_nonnull(a.v);
  ck_assert_int_eq(a.dtype, SNN_NPY_F64);
  ck_assert_str_eq(a.descr, "<f8");
  ck_assert_int_eq(a.version, 1);
  ck_assert_int_eq(a.fortran_order, 0);
  assert_same(a.v, v, n, "round trip");
  snn_npy_free(&a);
  ck_assert_ptr_null(a.v);
  snn_npy_free(&a); /* twice, and on NULL: no-ops */
  snn_npy_free(NULL);
  free(v);
}
END_TEST

/* Replacing a file goes through a temporary beside it; nothing else is left. */
START_TEST(test_write_replaces_atomically) {
  const char *p = path_in(tmpdir, "x", ".npy");
  put_file(p, "old", 3);
  double v[2] = {1, 2};
  size_t shape[1] = {2};
  snn_err e = {0};
  ck_assert_int_eq(snn_npy_write(p, v, shape, 1, &e), SNN_OK);
  snn_npy a;
  ck_assert_int_eq(snn_npy_read(p, &a, &e), SNN_OK);
  assert_same(a.v, v, 2, "replaced");
  snn_npy_free(&a);
  /* a failed rename (onto a folder) removes its temporary */
  const char *dir = path_in(tmpdir, "sub", "");
  ck_assert_int_eq(mkdir(dir, 0700), 0);
  ck_assert_int_eq(snn_npy_write(dir, v, shape, 1, &e), SNN_EIO);
  ck_assert_str_eq(e.file, dir);
  DIR *d = opendir(tmpdir);
  ck_assert_ptr_nonnull(d);
  int entries = 0;
  for (struct dirent *de; (de = readdir(d));)
    if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) {
      entries++;
      ck_assert_msg(!strcmp(de->d_name, "x.npy") || !strcmp(de->d_name, "sub"), "left behind: %s", de->d_name);
    }
  closedir(d);
  ck_assert_int_eq(entries, 2);
}
END_TEST

START_TEST(test_write_refusals) {
  const char *p = path_in(tmpdir, "w", ".npy");
  double v[2] = {0, 0};
  size_t shape[65];
  for (int i = 0; i < 65; i++) shape[i] = 1;
  snn_err e = {0};
  ck_assert_int_eq(snn_npy_write(p, v, shape, -1, &e), SNN_EVALUE);
  ck_assert_str_eq(e.key, "shape");
  ck_assert_int_eq(snn_npy_write(p, v, shape, 65, &e), SNN_EVALUE);
  ck_assert_str_eq(e.key, "shape");
  ck_assert_int_eq(snn_npy_write(p, v, NULL, 2, &e), SNN_EVALUE);
  size_t huge[3] = {(size_t)1 << 32, (size_t)1 << 32, 2};
  ck_assert_int_eq(snn_npy_write(p, v, huge, 3, &e), SNN_EVALUE);
  ck_assert_str_eq(e.key, "shape");
  ck_assert_ptr_nonnull(strstr(e.msg, "(4294967296, 4294967296, 2)"));
  size_t two[1] = {2};
  ck_assert_int_eq(snn_npy_write(p, NULL, two, 1, &e), SNN_EVALUE);
  ck_assert_str_eq(e.key, "data");
  ck_assert_int_eq(snn_npy_write(path_in(tmpdir, "no/such/folder", ".npy"), v, two, 1, &e), SNN_EIO);
  ck_assert_int_eq(access(p, F_OK), -1);
  /* 64 axes is the limit, and fine */
  ck_assert_int_eq(snn_npy_write(p, v, shape, 64, &e), SNN_OK);
  snn_npy a;
  ck_assert_int_eq(snn_npy_read(p, &a, &e), SNN_OK);
  ck_assert_int_eq(a.rank, 64);
  ck_assert_uint_eq(a.n, 1);
  snn_npy_free(&a);
}
END_TEST

START_TEST(test_missing_and_folder) {
  snn_npy a;
  snn_err e = {0};
  const char *p = path_in(tmpdir, "nope", ".npy");
  ck_assert_int_eq(snn_npy_read(p, &a, &e), SNN_EIO);
  ck_assert_str_eq(e.file, p);
  ck_assert_ptr_nonnull(strstr(e.msg, "cannot open"));
  ck_assert_ptr_null(a.v);
  ck_assert_int_eq(snn_npy_read(tmpdir, &a, &e), SNN_EIO);
  ck_assert_ptr_nonnull(strstr(e.msg, "folder"));
  ck_assert_ptr_null(a.v);
}
END_TEST

/* ---- headers written by hand that must be accepted ---- */

static const unsigned char D12[16] = {0, 0, 0, 0, 0, 0, 0xf0, 0x3f, 0, 0, 0, 0, 0, 0, 0, 0x40};   /* <f8 1, 2 */
static const unsigned char D12BE[16] = {0x3f, 0xf0, 0, 0, 0, 0, 0, 0, 0x40, 0, 0, 0, 0, 0, 0, 0}; /* >f8 1, 2 */

typedef struct {
  const char *what;
  int major;
  const char *dict;
  size_t align;
  const void *data;
  size_t ndata;
  int dtype, fortran, rank;
  size_t shape[3];
  double want[6];
} good_npy;

static const good_npy GOOD[] = {
    {"double quotes, no trailing comma",
     1,
     "{\"descr\": \"<f8\", \"fortran_order\": False, \"shape\": (2,)}",
     64,
     D12,
     16,
     SNN_NPY_F64,
     0,
     1,
     {2},
     {1, 2}},
    {"keys in another order, tabs and newlines",
     1,
     "{'shape': (2,\n 1),\t'fortran_order': False,\n 'descr': '>f8'}",
     64,
     D12BE,
     16,
     SNN_NPY_F64,
     0,
     2,
     {2, 1},
     {1, 2}},
    {"Python 2 long integers (version 1.0)",
     1,
     "{'descr': '<f8', 'fortran_order': False, 'shape': (2L, 1L), }",
     64,
     D12,
     16,
     SNN_NPY_F64,
     0,
     2,
     {2, 1},
     {1, 2}},
    {"Python 2 long integers (version 2.0)",
     2,
     "{'descr': '<f8', 'fortran_order': False, 'shape': (1L, 2L), }",
     64,
     D12,
     16,
     SNN_NPY_F64,
     0,
     2,
     {1, 2},
     {1, 2}},
    {"'=' is the reading machine's order",
     1,
     "{'descr': '=f8', 'fortran_order': False, 'shape': (2,), }",
     64,
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
     D12BE,
#else
     D12,
#endif
     16,
     SNN_NPY_F64,
     0,
     1,
     {2},
     {1, 2}},
    {"'<' on a one-byte type",
     1,
     "{'descr': '<i1', 'fortran_order': False, 'shape': (3,), }",
     64,
     "\xff\x80\x7f",
     3,
     SNN_NPY_I8,
     0,
     1,
     {3},
     {-1, -128, 127}},
    {"'|' bool",
     1,
     "{'descr': '|b1', 'fortran_order': True, 'shape': (3,), }",
     64,
     "\x01\x00\x01",
     3,
     SNN_NPY_BOOL,
     1,
     1,
     {3},
     {1, 0, 1}},
    {"16-byte alignment (older NumPy)",
     1,
     "{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }",
     16,
     D12,
     16,
     SNN_NPY_F64,
     0,
     1,
     {2},
     {1, 2}},
    {"no alignment at all",
     1,
     "{'descr': '<f8', 'fortran_order': False, 'shape': (2,)}",
     1,
     D12,
     16,
     SNN_NPY_F64,
     0,
     1,
     {2},
     {1, 2}},
    {"version 3.0",
     3,
     "{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }",
     64,
     D12,
     16,
     SNN_NPY_F64,
     0,
     1,
     {2},
     {1, 2}},
    {"Fortran order, big-endian int16",
     1,
     "{'descr': '>i2', 'fortran_order': True, 'shape': (2, 3), }",
     64,
     "\x00\x01\x00\x04\x00\x02\x00\x05\x00\x03\xff\xfa",
     12,
     SNN_NPY_I16,
     1,
     2,
     {2, 3},
     {1, 2, 3, 4, 5, -6}},
    {"trailing comma in the shape",
     1,
     "{'descr': '<u2', 'fortran_order': False, 'shape': (1, 2,), }",
     64,
     "\xff\xff\x00\x80",
     4,
     SNN_NPY_U16,
     0,
     2,
     {1, 2},
     {65535, 32768}},
    {"float16 specials",
     1,
     "{'descr': '<f2', 'fortran_order': False, 'shape': (6,), }",
     64,
     "\x01\x00\x00\x80\xff\x7b\x00\xfc\x00\x04\xff\x03",
     12,
     SNN_NPY_F16,
     0,
     1,
     {6},
     {0x1p-24, -0.0, 65504, -INFINITY, 0x1p-14, 0x3ffp-24}},
    {"float32 specials",
     1,
     "{'descr': '>f4', 'fortran_order': False, 'shape': (3,), }",
     64,
     "\x00\x00\x00\x01\x7f\x7f\xff\xff\x80\x00\x00\x00",
     12,
     SNN_NPY_F32,
     0,
     1,
     {3},
     {0x1p-149, 0x1.fffffep127, -0.0}},
    {"int64 extremes with exact doubles",
     1,
     "{'descr': '<i8', 'fortran_order': False, 'shape': (2,), }",
     64,
     "\x00\x00\x00\x00\x00\x00\x00\x80\x00\xfc\xff\xff\xff\xff\xff\x7f",
     16,
     SNN_NPY_I64,
     0,
     1,
     {2},
     {-0x1p63, 0x1p63 - 1024}},
    {"uint64 extremes with exact doubles",
     1,
     "{'descr': '>u8', 'fortran_order': False, 'shape': (2,), }",
     64,
     "\xff\xff\xff\xff\xff\xff\xf8\x00\x00\x20\x00\x00\x00\x00\x00\x02",
     16,
     SNN_NPY_U64,
     0,
     1,
     {2},
     {0x1p64 - 2048, 0x1p53 + 2}},
    {"leading spaces (Python's literal_eval strips them)",
     1,
     "  {'descr': '<f8', 'fortran_order': False, 'shape': (), }",
     64,
     D12,
     8,
     SNN_NPY_F64,
     0,
     0,
     {0},
     {1}},
};

START_TEST(test_accepted_headers) {
  const good_npy *g = &GOOD[_i];
  const char *p = path_in(tmpdir, "good", ".npy");
  put_npy(p, g->major, 0, g->dict, g->align, 1, 0, g->data, g->ndata);
  snn_npy a;
  snn_err e = {0};
  ck_assert_msg(snn_npy_read(p, &a, &e) == SNN_OK, "%s: %s: %s", g->what, e.key, e.msg);
  ck_assert_int_eq(a.dtype, g->dtype);
  ck_assert_int_eq(a.fortran_order, g->fortran);
  ck_assert_int_eq(a.version, g->major);
  ck_assert_int_eq(a.rank, g->rank);
  for (int i = 0; i < g->rank; i++) ck_assert_uint_eq(a.shape[i], g->shape[i]);
  ck_assert_uint_eq(a.n, count(g->shape, g->rank));
  assert_same(a.v, g->want, a.n, g->what);
  snn_npy_free(&a);
}
END_TEST

/* ---- the catalogue of malformed files ---- */

#define HDR(descr, fortran, shape) "{'descr': " descr ", 'fortran_order': " fortran ", 'shape': " shape ", }"
#define ONES8 "1, 1, 1, 1, 1, 1, 1, 1, "
#define Z16 "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0"

typedef struct {
  const char *what;
  const char *bytes; /* the whole file, if not NULL */
  size_t nbytes;
  int major, minor;
  const char *dict;
  int newline; /* 0: header ends with a space */
  long delta;  /* added to the header length field */
  const char *data;
  size_t ndata;
  int status;
  const char *key, *phrase;
} bad_npy;

static const bad_npy BAD[] = {
    {"empty file", "", 0, 0, 0, NULL, 1, 0, NULL, 0, SNN_EIO, "magic", "truncated"},
    {"half a magic", "\x93NUM", 4, 0, 0, NULL, 1, 0, NULL, 0, SNN_EIO, "magic", "truncated"},
    {"magic without a version", "\x93NUMPY\x01", 7, 0, 0, NULL, 1, 0, NULL, 0, SNN_EIO, "magic", "truncated"},
    {"wrong magic", "\x93NUMPZ\x01\x00\x00\x00", 10, 0, 0, NULL, 1, 0, NULL, 0, SNN_EVALUE, "magic", "not a .npy"},
    {"a JSON file", "{\"a\": [1, 2]}\n", 14, 0, 0, NULL, 1, 0, NULL, 0, SNN_EVALUE, "magic", "\\x93NUMPY"},
    {"version 4.0", NULL, 0, 4, 0, HDR("'<f8'", "False", "(2,)"), 1, 0, Z16, 16, SNN_EVALUE, "version", "4.0"},
    {"version 1.1", NULL, 0, 1, 1, HDR("'<f8'", "False", "(2,)"), 1, 0, Z16, 16, SNN_EVALUE, "version", "1.1"},
    {"version 0.0", NULL, 0, 0, 0, HDR("'<f8'", "False", "(2,)"), 1, 0, Z16, 16, SNN_EVALUE, "version", "expected 1.0"},
    {"one byte of the length field", "\x93NUMPY\x01\x00\x46", 9, 0, 0, NULL, 1, 0, NULL, 0, SNN_EIO, "header",
     "header length"},
    {"version 2.0 with a 2-byte length field", "\x93NUMPY\x02\x00\x10\x00", 10, 0, 0, NULL, 1, 0, NULL, 0, SNN_EIO,
     "header", "4-byte header length"},
    {"length field past the end", NULL, 0, 1, 0, HDR("'<f8'", "False", "(2,)"), 1, 100, Z16, 16, SNN_EIO, "header",
     "truncated"},
    {"empty header", "\x93NUMPY\x01\x00\x00\x00", 10, 0, 0, NULL, 1, 0, NULL, 0, SNN_EKEY, "header", "empty"},
    {"a list, not a dict", NULL, 0, 1, 0, "[1, 2]", 1, 0, NULL, 0, SNN_EKEY, "header", "'{'"},
    {"no closing brace", NULL, 0, 1, 0, "{'descr': '<f8', 'fortran_order': False, 'shape': (2,), ", 1, 0, Z16, 16,
     SNN_EKEY, "header", "found the end of the header"},
    {"no final newline", NULL, 0, 1, 0, HDR("'<f8'", "False", "(2,)"), 0, 0, Z16, 16, SNN_EKEY, "header",
     "does not end with '\\n'"},
    {"length field one short", NULL, 0, 1, 0, HDR("'<f8'", "False", "(2,)"), 1, -1, Z16, 16, SNN_EKEY, "header",
     "length field"},
    {"text after the dict", NULL, 0, 1, 0, HDR("'<f8'", "False", "(2,)") " x", 1, 0, Z16, 16, SNN_EKEY, "header",
     "only spaces"},
    {"missing shape", NULL, 0, 1, 0, "{'descr': '<f8', 'fortran_order': False, }", 1, 0, Z16, 16, SNN_EKEY, "shape",
     "missing"},
    {"missing descr", NULL, 0, 1, 0, "{'fortran_order': False, 'shape': (2,), }", 1, 0, Z16, 16, SNN_EKEY, "descr",
     "missing"},
    {"missing fortran_order", NULL, 0, 1, 0, "{'descr': '<f8', 'shape': (2,), }", 1, 0, Z16, 16, SNN_EKEY,
     "fortran_order", "missing"},
    {"an unknown key", NULL, 0, 1, 0, "{'descr': '<f8', 'fortran_order': False, 'shape': (2,), 'foo': 1}", 1, 0, Z16,
     16, SNN_EKEY, "header", "unknown key 'foo'"},
    {"a repeated key", NULL, 0, 1, 0, "{'shape': (1,), 'descr': '<f8', 'fortran_order': False, 'shape': (2,), }", 1, 0,
     Z16, 16, SNN_EKEY, "shape", "twice"},
    {"an unquoted key", NULL, 0, 1, 0, "{descr: '<f8', 'fortran_order': False, 'shape': (2,), }", 1, 0, Z16, 16,
     SNN_EKEY, "header", "quoted key"},
    {"no colon", NULL, 0, 1, 0, "{'descr' '<f8', 'fortran_order': False, 'shape': (2,), }", 1, 0, Z16, 16, SNN_EKEY,
     "descr", "':'"},
    {"two values without a comma", NULL, 0, 1, 0, "{'descr': '<f8' 'fortran_order': False, 'shape': (2,), }", 1, 0, Z16,
     16, SNN_EKEY, "descr", "',' or '}'"},
    {"an unterminated string", NULL, 0, 1, 0, "{'descr': '<f8}", 1, 0, Z16, 16, SNN_EKEY, "descr", "closing quote"},
    {"an escape in a key", NULL, 0, 1, 0, "{'des\\x63r': '<f8', 'fortran_order': False, 'shape': (2,), }", 1, 0, Z16,
     16, SNN_EKEY, "header", "without escapes"},
    {"a non-ASCII byte", NULL, 0, 1, 0, "{'descr': '<f8', \xe9'fortran_order': False, 'shape': (2,), }", 1, 0, Z16, 16,
     SNN_EKEY, "header", "0xe9"},
    {"fortran_order 0", NULL, 0, 1, 0, HDR("'<f8'", "0", "(2,)"), 1, 0, Z16, 16, SNN_EKEY, "fortran_order",
     "True or False, found '0'"},
    {"fortran_order a string", NULL, 0, 1, 0, HDR("'<f8'", "'False'", "(2,)"), 1, 0, Z16, 16, SNN_EKEY, "fortran_order",
     "found a quoted string"},
    {"fortran_order lower case", NULL, 0, 1, 0, HDR("'<f8'", "true", "(2,)"), 1, 0, Z16, 16, SNN_EKEY, "fortran_order",
     "found 'true'"},
    {"shape a list", NULL, 0, 1, 0, HDR("'<f8'", "False", "[2]"), 1, 0, Z16, 16, SNN_EKEY, "shape", "a list"},
    {"shape (2) is an integer", NULL, 0, 1, 0, HDR("'<f8'", "False", "(2)"), 1, 0, Z16, 16, SNN_EKEY, "shape",
     "expected (2,)"},
    {"a negative axis", NULL, 0, 1, 0, HDR("'<f8'", "False", "(2, -3)"), 1, 0, Z16, 16, SNN_EVALUE, "shape",
     "negative"},
    {"a fractional axis", NULL, 0, 1, 0, HDR("'<f8'", "False", "(2.5,)"), 1, 0, Z16, 16, SNN_EKEY, "shape",
     "digits only"},
    {"a missing comma in the shape", NULL, 0, 1, 0, HDR("'<f8'", "False", "(1 2)"), 1, 0, Z16, 16, SNN_EKEY, "shape",
     "',' or ')'"},
    {"shape (,)", NULL, 0, 1, 0, HDR("'<f8'", "False", "(,)"), 1, 0, Z16, 16, SNN_EKEY, "shape",
     "non-negative integer"},
    {"a nested tuple", NULL, 0, 1, 0, HDR("'<f8'", "False", "((2,),)"), 1, 0, Z16, 16, SNN_EKEY, "shape",
     "non-negative integer"},
    {"a leading zero", NULL, 0, 1, 0, HDR("'<f8'", "False", "(02,)"), 1, 0, Z16, 16, SNN_EKEY, "shape", "leading zero"},
    {"a hexadecimal axis", NULL, 0, 1, 0, HDR("'<f8'", "False", "(0x2,)"), 1, 0, Z16, 16, SNN_EKEY, "shape",
     "digits only"},
    {"'L' in version 3.0", NULL, 0, 3, 0, HDR("'<f8'", "False", "(2L,)"), 1, 0, Z16, 16, SNN_EKEY, "shape",
     "digits only"},
    {"an axis beyond size_t", NULL, 0, 1, 0, HDR("'<f8'", "False", "(99999999999999999999999,)"), 1, 0, Z16, 16,
     SNN_EVALUE, "shape", "too large"},
    {"a product beyond size_t", NULL, 0, 1, 0, HDR("'<f8'", "False", "(4294967296, 4294967296, 2)"), 1, 0, Z16, 16,
     SNN_EVALUE, "shape", "more elements than fit"},
    {"a product beyond size_t beside a zero axis", NULL, 0, 1, 0, HDR("'<f8'", "False", "(0, 4294967296, 4294967296)"),
     1, 0, NULL, 0, SNN_EVALUE, "shape", "more elements than fit"},
    {"65 axes", NULL, 0, 1, 0, HDR("'<f8'", "False", "(" ONES8 ONES8 ONES8 ONES8 ONES8 ONES8 ONES8 ONES8 "1)"), 1, 0,
     Z16, 8, SNN_EVALUE, "shape", "more than 64 axes"},
    {"complex", NULL, 0, 1, 0, HDR("'<c16'", "False", "(1,)"), 1, 0, Z16, 16, SNN_EVALUE, "descr", "complex"},
    {"object", NULL, 0, 1, 0, HDR("'|O'", "False", "(2,)"), 1, 0, Z16, 16, SNN_EVALUE, "descr", "object"},
    {"structured", NULL, 0, 1, 0, HDR("[('a', '<f8'), ('b', '<f8')]", "False", "(1,)"), 1, 0, Z16, 16, SNN_EVALUE,
     "descr", "structured"},
    {"sub-array", NULL, 0, 1, 0, HDR("('<f8', (2,))", "False", "(1,)"), 1, 0, Z16, 16, SNN_EVALUE, "descr",
     "sub-array"},
    {"unicode strings", NULL, 0, 1, 0, HDR("'<U2'", "False", "(2,)"), 1, 0, Z16, 16, SNN_EVALUE, "descr", "strings"},
    {"a type name", NULL, 0, 1, 0, HDR("'float64'", "False", "(2,)"), 1, 0, Z16, 16, SNN_EVALUE, "descr", "byte order"},
    {"a one-letter type code", NULL, 0, 1, 0, HDR("'<d'", "False", "(2,)"), 1, 0, Z16, 16, SNN_EVALUE, "descr",
     "such as '<f8'"},
    {"long double", NULL, 0, 1, 0, HDR("'<f16'", "False", "(1,)"), 1, 0, Z16, 16, SNN_EVALUE, "descr",
     "extended precision"},
    {"a 3-byte float", NULL, 0, 1, 0, HDR("'<f3'", "False", "(1,)"), 1, 0, Z16, 3, SNN_EVALUE, "descr",
     "no 3-byte 'f' type"},
    {"'|' on a multi-byte type", NULL, 0, 1, 0, HDR("'|f8'", "False", "(2,)"), 1, 0, Z16, 16, SNN_EVALUE, "descr",
     "byte order '|'"},
    {"datetime", NULL, 0, 1, 0, HDR("'<M8[ns]'", "False", "(2,)"), 1, 0, Z16, 16, SNN_EVALUE, "descr", "dates"},
    {"descr a number", NULL, 0, 1, 0, HDR("8", "False", "(2,)"), 1, 0, Z16, 16, SNN_EKEY, "descr", "type string"},
    {"truncated data", NULL, 0, 1, 0, HDR("'<f8'", "False", "(3,)"), 1, 0, Z16, 16, SNN_EIO, "data",
     "takes 24 bytes of data, found 16"},
    {"a byte after the data", NULL, 0, 1, 0, HDR("'<f8'", "False", "(2,)"), 1, 0, Z16 "\n", 17, SNN_EVALUE, "data",
     "1 byte after the data"},
    {"data for an empty array", NULL, 0, 1, 0, HDR("'<f8'", "False", "(2, 0)"), 1, 0, Z16, 8, SNN_EVALUE, "data",
     "8 bytes after"},
    {"a bool byte 2", NULL, 0, 1, 0, HDR("'|b1'", "False", "(3,)"), 1, 0, "\x01\x02\x00", 3, SNN_EVALUE, "data",
     "element (1,) of the bool array is the byte 2"},
    {"int64 2^53 + 1", NULL, 0, 1, 0, HDR("'<i8'", "False", "(1, 2)"), 1, 0, "\0\0\0\0\0\0\0\0\x01\0\0\0\0\0\x20\0", 16,
     SNN_EVALUE, "data", "element (0, 1) is 9007199254740993"},
    {"big-endian int64 -(2^53 + 1) in Fortran order", NULL, 0, 1, 0, HDR("'>i8'", "True", "(2, 2)"), 1, 0,
     "\0\0\0\0\0\0\0\0\xff\xdf\xff\xff\xff\xff\xff\xff" Z16, 32, SNN_EVALUE, "data",
     "element (1, 0) is -9007199254740993"},
    {"uint64 2^64 - 1", NULL, 0, 1, 0, HDR("'<u8'", "False", "()"), 1, 0, "\xff\xff\xff\xff\xff\xff\xff\xff", 8,
     SNN_EVALUE, "data", "element () is 18446744073709551615"},
};

START_TEST(test_malformed) {
  const bad_npy *b = &BAD[_i];
  const char *p = path_in(tmpdir, "bad", ".npy");
  if (b->bytes)
    put_file(p, b->bytes, b->nbytes);
  else
    put_npy(p, b->major, b->minor, b->dict, 64, b->newline, b->delta, b->data, b->ndata);
  snn_npy a;
  snn_err e = {0};
  int st = snn_npy_read(p, &a, &e);
  ck_assert_msg(st == b->status, "%s: status %d (%s: %s), expected %d", b->what, st, e.key, e.msg, b->status);
  ck_assert_ptr_null(a.v);
  ck_assert_str_eq(e.file, p);
  ck_assert_msg(!strcmp(e.key, b->key), "%s: key '%s', expected '%s' (%s)", b->what, e.key, b->key, e.msg);
  ck_assert_msg(strstr(e.msg, b->phrase) != NULL, "%s: message '%s' lacks '%s'", b->what, e.msg, b->phrase);
  char line[1400];
  snn_err_format(&e, line, sizeof line);
  ck_assert_msg(strstr(line, p) == line, "the formatted message must start with the file: %s", line);
}
END_TEST

/* Damaged copies of good files (bytes changed, cut, added), each read or
 * refused with one of the keys; never a crash, never a leak (valgrind). */
START_TEST(test_mutations) {
  static const char *const keys[] = {"magic", "version", "header", "descr", "fortran_order", "shape", "data"};
  unsigned char base[2][200], buf[260];
  size_t nbase[2];
  nbase[0] = build(base[0], 1, 0, HDR("'>i2'", "True", "(2, 3)"), 64, 1, 0,
                   "\x00\x01\x00\x04\x00\x02\x00\x05\x00\x03\xff\xfa", 12);
  nbase[1] = build(base[1], 2, 0, HDR("'<f8'", "False", "(2,)"), 16, 1, 0, D12, 16);
  const char *p = path_in(tmpdir, "m", ".npy");
  uint64_t r = 88172645463325252ull;
  FILE *devnull = fopen("/dev/null", "wb");
  ck_assert_ptr_nonnull(devnull);
  int accepted = 0, refused = 0;
  for (int m = 0; m < 3000; m++) {
    const unsigned char *src = base[m % 2];
    size_t n = nbase[m % 2];
    memcpy(buf, src, n);
    int changes = 1 + (int)((r >> 60) % 3);
    for (int c = 0; c < changes; c++) {
      r ^= r << 13, r ^= r >> 7, r ^= r << 17; /* xorshift64 */
      if (n == 0) break;
      size_t at = (size_t)(r % n);
      switch ((r >> 32) % 6) {
        case 0: /* a random byte */
          buf[at] = (unsigned char)(r >> 40);
          break;
        case 1: /* a byte from the header's alphabet */
          buf[at] = (unsigned char)"{}()[]',: \n0123456789LTrueFalse<>|=fiubc-"[(r >> 40) % 41];
          break;
        case 2: /* one bit */
          buf[at] ^= (unsigned char)(1u << ((r >> 40) % 8));
          break;
        case 3: /* cut */
          n = at;
          break;
        case 4: /* append */
          if (n < sizeof buf - 8) buf[n++] = (unsigned char)(r >> 48);
          break;
        default: /* delete a byte */
          if (n > 0) {
            memmove(buf + at, buf + at + 1, n - at - 1);
            n--;
          }
          break;
      }
    }
    put_file(p, buf, n);
    snn_npy a;
    snn_err e = {0};
    int st = snn_npy_read(p, &a, &e);
    if (st == SNN_OK) {
      accepted++;
      ck_assert_ptr_nonnull(a.v);
      ck_assert_int_le(a.rank, SNN_NPY_MAXRANK);
      ck_assert_uint_eq(a.n, count(a.shape, a.rank));
      /* every value initialised: valgrind checks what reaches write(2) */
      ck_assert_uint_eq(fwrite(a.v, sizeof *a.v, a.n, devnull), a.n);
      fflush(devnull);
      snn_npy_free(&a);
    } else {
      refused++;
      ck_assert_ptr_null(a.v);
      ck_assert_msg(st == SNN_EIO || st == SNN_EKEY || st == SNN_EVALUE, "mutation %d: status %d", m, st);
      int known = 0;
      for (size_t k = 0; k < sizeof keys / sizeof *keys; k++) known |= !strcmp(e.key, keys[k]);
      ck_assert_msg(known, "mutation %d: key '%s' (%s)", m, e.key, e.msg);
      ck_assert_msg(e.msg[0] != '\0', "mutation %d: no message", m);
    }
  }
  fclose(devnull);
  printf("npy: 3000 damaged files: %d read, %d refused\n", accepted, refused);
  ck_assert_int_gt(accepted, 40);
  ck_assert_int_gt(refused, 2500);
}
END_TEST

/* ---- NumPy's side ---- */

static const char *npy_python, *npy_make;

/* Runs npy_make.py; 0 on success, 77 if NumPy is missing, else failure. */
static int run_make(const char *verb, const char *dir) {
  char cmd[2000];
  snprintf(cmd, sizeof cmd, "'%s' '%s' %s '%s'", npy_python, npy_make, verb, dir);
  fflush(stdout);
  int st = system(cmd);
  if (st == -1 || !WIFEXITED(st)) return -1;
  return WEXITSTATUS(st);
}

typedef struct {
  int ok;
  char name[64], key[32], phrase[96], dtype[16];
  int version, fortran, rank;
  size_t shape[SNN_NPY_MAXRANK];
} npcase;

static char npdir[256];
static npcase *npcases;
static int nnpcases;

static int load_manifest(void) {
  char path[400];
  snprintf(path, sizeof path, "%s/manifest.tsv", npdir);
  FILE *f = fopen(path, "r");
  if (!f) return -1;
  char line[1024];
  int cap = 0;
  while (fgets(line, sizeof line, f)) {
    line[strcspn(line, "\n")] = '\0';
    if (nnpcases == cap) {
      cap = cap ? 2 * cap : 64;
      npcase *p = realloc(npcases, (size_t)cap * sizeof *npcases);
      if (!p) break;
      npcases = p;
    }
    npcase *c = &npcases[nnpcases];
    memset(c, 0, sizeof *c);
    char *field[6] = {0};
    int nf = 0;
    for (char *s = line, *t; nf < 6 && s; s = t) {
      t = strchr(s, '\t');
      if (t) *t++ = '\0';
      field[nf++] = s;
    }
    if (nf == 6 && !strcmp(field[0], "ok")) {
      c->ok = 1;
      snprintf(c->name, sizeof c->name, "%s", field[1]);
      snprintf(c->dtype, sizeof c->dtype, "%s", field[2]);
      c->version = atoi(field[3]);
      c->fortran = atoi(field[4]);
      for (char *s = field[5]; *s && c->rank < SNN_NPY_MAXRANK; s += *s == ',')
        c->shape[c->rank++] = strtoull(s, &s, 10);
    } else if (nf == 4 && !strcmp(field[0], "bad")) {
      snprintf(c->name, sizeof c->name, "%s", field[1]);
      snprintf(c->key, sizeof c->key, "%s", field[2]);
      snprintf(c->phrase, sizeof c->phrase, "%s", field[3]);
    } else
      continue;
    nnpcases++;
  }
  fclose(f);
  return 0;
}

START_TEST(test_numpy_file) {
  const npcase *c = &npcases[_i];
  const char *p = path_in(npdir, c->name, ".npy");
  snn_npy a;
  snn_err e = {0};
  int st = snn_npy_read(p, &a, &e);
  if (!c->ok) {
    ck_assert_msg(st != SNN_OK, "%s: read, expected a refusal naming '%s'", c->name, c->key);
    ck_assert_ptr_null(a.v);
    ck_assert_msg(!strcmp(e.key, c->key), "%s: key '%s', expected '%s' (%s)", c->name, e.key, c->key, e.msg);
    ck_assert_msg(strstr(e.msg, c->phrase) != NULL, "%s: message '%s' lacks '%s'", c->name, e.msg, c->phrase);
    ck_assert_str_eq(e.file, p);
    return;
  }
  ck_assert_msg(st == SNN_OK, "%s: %s: %s", c->name, e.key, e.msg);
  ck_assert_str_eq(snn_npy_dtype_name(a.dtype), c->dtype);
  ck_assert_int_eq(a.version, c->version);
  ck_assert_int_eq(a.fortran_order, c->fortran);
  ck_assert_int_eq(a.rank, c->rank);
  for (int i = 0; i < c->rank; i++) ck_assert_uint_eq(a.shape[i], c->shape[i]);
  ck_assert_uint_eq(a.n, count(c->shape, c->rank));
  size_t len;
  unsigned char *want = get_file(path_in(npdir, c->name, ".f8"), &len);
  ck_assert_uint_eq(len, 8 * a.n);
  double *w = malloc((a.n ? a.n : 1) * sizeof *w);
  ck_assert_ptr_nonnull(w);
  for (size_t i = 0; i < a.n; i++) {
    uint64_t b = 0;
    for (int k = 0; k < 8; k++) b |= (uint64_t)want[8 * i + k] << (8 * k);
    w[i] = from_bits(b);
  }
  assert_same(a.v, w, a.n, c->name);
  free(w);
  free(want);
  snn_npy_free(&a);
}
END_TEST

/* What snn_npy_write writes, NumPy loads: the same bits (NaN payloads,
 * -0.0, subnormals, infinities), shape and dtype, and numpy.save's bytes. */
START_TEST(test_numpy_reads_ours) {
  FILE *list = fopen(path_in(tmpdir, "check", ".tsv"), "w");
  ck_assert_ptr_nonnull(list);
  static const struct {
    int rank;
    size_t shape[4];
  } S[] = {{0, {0}},          {1, {1}},      {1, {24}},      {2, {3, 8}},
           {3, {2, 3, 4}},    {1, {0}},      {3, {2, 0, 3}}, {2, {123456789012, 0}},
           {4, {1, 2, 1, 3}}, {2, {500, 9}}, {1, {9}},       {1, {10}},
           {1, {99}},         {1, {100}}};
  size_t ncase = sizeof S / sizeof *S;
  for (size_t c = 0; c < ncase; c++) {
    size_t n = count(S[c].shape, S[c].rank);
    double *v = test_values(n);
    char name[32];
    snprintf(name, sizeof name, "ours%zu", c);
    snn_err e = {0};
    ck_assert_msg(snn_npy_write(path_in(tmpdir, name, ".npy"), v, S[c].shape, S[c].rank, &e) == SNN_OK, "%s", e.msg);
    unsigned char *raw = malloc(8 * n + 1);
    ck_assert_ptr_nonnull(raw);
    for (size_t i = 0; i < n; i++)
      for (int k = 0; k < 8; k++) raw[8 * i + k] = (unsigned char)(bits(v[i]) >> (8 * k));
    put_file(path_in(tmpdir, name, ".raw"), raw, 8 * n);
    free(raw);
    free(v);
    fprintf(list, "%s\t", name);
    for (int i = 0; i < S[c].rank; i++) fprintf(list, i ? ",%zu" : "%zu", S[c].shape[i]);
    fprintf(list, "\n");
  }
  fclose(list);
  int st = run_make("check", tmpdir);
  ck_assert_msg(st == 0, "NumPy did not read back what snn_npy_write wrote (npy_make.py check: status %d)", st);
}
END_TEST

int main(void) {
  Suite *su = suite_create("npy");
  TCase *tc = tcase_create("npy");
  tcase_add_checked_fixture(tc, setup, teardown);
  tcase_set_timeout(tc, 60); /* the mutation test takes seconds under sanitizers */
  tcase_add_loop_test(tc, test_roundtrip, 0, (int)(sizeof SHAPES / sizeof *SHAPES));
  tcase_add_test(tc, test_write_replaces_atomically);
  tcase_add_test(tc, test_write_refusals);
  tcase_add_test(tc, test_missing_and_folder);
  tcase_add_loop_test(tc, test_accepted_headers, 0, (int)(sizeof GOOD / sizeof *GOOD));
  tcase_add_loop_test(tc, test_malformed, 0, (int)(sizeof BAD / sizeof *BAD));
  tcase_add_test(tc, test_mutations);

  /* NumPy writes its files once, before the suite runs. */
  npy_python = getenv("NPY_PYTHON");
  npy_make = getenv("NPY_MAKE");
  int made = -1;
  if (npy_python && *npy_python && npy_make && *npy_make) {
    snprintf(npdir, sizeof npdir, "/tmp/snngrad-npy-numpy-XXXXXX");
    if (!mkdtemp(npdir)) {
      perror("npy: mkdtemp");
      return 1;
    }
    made = run_make("make", npdir);
    if (made == 0 && load_manifest() != 0) made = -1;
  }
  if (made == 0) {
    tcase_add_loop_test(tc, test_numpy_file, 0, nnpcases);
    tcase_add_test(tc, test_numpy_reads_ours);
  } else if (made == 77 || !npy_python || !*npy_python) {
    printf(
        "npy: SKIPPED the NumPy cases (files NumPy writes, NumPy reading ours): no python3 with numpy "
        "(Debian: apt-get install python3-numpy, then reconfigure meson)\n");
  } else {
    fprintf(stderr, "npy: tests/npy_make.py make failed (status %d)\n", made);
    return 1;
  }
  suite_add_tcase(su, tc);
  int failed = snn_run_suite(su, 0);
  free(npcases);
  if (npdir[0]) {
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", npdir);
    if (system(cmd) != 0) fprintf(stderr, "npy: could not remove %s\n", npdir);
  }
  return failed;
}
