/* npy.c - NumPy's .npy format (numpy.lib.format), read strictly and written
 * as numpy.save writes float64.
 *
 * What the reader takes, and why it refuses what NumPy itself would load:
 * - The header is parsed as the subset of Python literals that writers
 *   produce: a dict with exactly the keys 'descr', 'fortran_order' and
 *   'shape' (each once, any order, quoted with ' or ", an optional trailing
 *   comma, whitespace between tokens), 'descr' a type string, 'fortran_order'
 *   True or False, 'shape' a tuple of non-negative decimal integers (with
 *   Python 2's "L" suffix in versions 1.0 and 2.0, which NumPy also strips).
 *   After the closing brace only whitespace, and the header's last byte must
 *   be '\n': a wrong header length then shows as an error instead of as
 *   shifted data.  The data's alignment (64 bytes now, 16 in older files) is
 *   not checked: NumPy does not check it either, and the data is copied, so
 *   nothing here depends on it.
 * - 'descr' is a byte order, a kind and a size: '<' or '>' for any type, '='
 *   for the reading machine's order (NumPy's reading of it), '|' only for
 *   one-byte types, where the order does not exist (NumPy would read '|f8' in
 *   the machine's order; no writer produces it, so it is refused as
 *   ambiguous).
 * - Every element must have an exact double: float16 and float32 always do
 *   (float16 is decoded bit by bit, subnormals, infinities and NaN included),
 *   int8..int32 and uint8..uint32 too; int64 and uint64 are refused at the
 *   first element that does not, and a bool byte other than 0 or 1 is
 *   refused (NumPy never writes one).
 * - The file must end where the data ends.  NumPy loads a file with bytes
 *   after its data and ignores them; here they are refused, because for a
 *   gradient handed to `compare` they mean something went wrong (a second
 *   array saved into the same open file, a shape that does not describe the
 *   data, a concatenation).
 *
 * Elements are assembled from bytes arithmetically, so the code does not
 * depend on the byte order of the machine; it assumes only that double is
 * IEEE 754 binary64 and is stored in the same byte order as uint64_t. */
#include "io/npy.h"

#include <errno.h>
#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

_Static_assert(sizeof(double) == 8 && FLT_RADIX == 2 && DBL_MANT_DIG == 53 && DBL_MAX_EXP == 1024,
               "double must be IEEE 754 binary64");

static const unsigned char MAGIC[6] = {0x93, 'N', 'U', 'M', 'P', 'Y'};

static const struct {
  const char *name;
  char kind;
  unsigned size;
} DTYPES[SNN_NPY_NDTYPES] = {
    [SNN_NPY_F64] = {"float64", 'f', 8}, [SNN_NPY_F32] = {"float32", 'f', 4}, [SNN_NPY_F16] = {"float16", 'f', 2},
    [SNN_NPY_I8] = {"int8", 'i', 1},     [SNN_NPY_I16] = {"int16", 'i', 2},   [SNN_NPY_I32] = {"int32", 'i', 4},
    [SNN_NPY_I64] = {"int64", 'i', 8},   [SNN_NPY_U8] = {"uint8", 'u', 1},    [SNN_NPY_U16] = {"uint16", 'u', 2},
    [SNN_NPY_U32] = {"uint32", 'u', 4},  [SNN_NPY_U64] = {"uint64", 'u', 8},  [SNN_NPY_BOOL] = {"bool", 'b', 1},
};

const char *snn_npy_dtype_name(int dtype) {
  return dtype >= 0 && dtype < SNN_NPY_NDTYPES ? DTYPES[dtype].name : "?";
}

void snn_npy_free(snn_npy *a) {
  if (!a) return;
  free(a->v);
  memset(a, 0, sizeof *a);
}

/* "(2, 3)", "(3,)" or "()", as Python prints a shape (and as numpy.save
 * writes it).  Returns the length written, truncated to fit. */
static size_t shape_repr(char *buf, size_t cap, const size_t *shape, int rank) {
  size_t len = 0;
  int w = snprintf(buf, cap, "(");
  for (int i = 0; i < rank && w >= 0; i++) {
    len += (size_t)w;
    if (len >= cap) break;
    w = snprintf(buf + len, cap - len, i ? ", %zu" : "%zu", shape[i]);
  }
  if (w >= 0 && len < cap) {
    len += (size_t)w;
    if (len < cap) {
      w = snprintf(buf + len, cap - len, rank == 1 ? ",)" : ")");
      if (w >= 0) len += (size_t)w;
    }
  }
  return len < cap ? len : cap - 1;
}

/* Number of elements of a shape, 0 if an axis is 0.  As in NumPy, the
 * product of the non-zero axes must fit even when another axis is 0; here
 * it must also fit SIZE_MAX / 8, so the doubles and the file's bytes can be
 * counted in size_t. */
static int shape_count(const size_t *shape, int rank, size_t *n) {
  size_t p = 1;
  int zero = 0;
  for (int i = 0; i < rank; i++) {
    if (shape[i] == 0) {
      zero = 1;
      continue;
    }
    if (p > (SIZE_MAX / 8) / shape[i]) return -1;
    p *= shape[i];
  }
  *n = zero ? 0 : p;
  return 0;
}

/* ---- the header: a Python dict literal ---- */

typedef struct {
  const char *path;
  snn_err *err;
  const unsigned char *h;
  size_t len, pos;
  int major;
} hdr;

enum { K_DESCR, K_FORTRAN, K_SHAPE, K_N };
static const char *const KEYS[K_N] = {"descr", "fortran_order", "shape"};

static int at(const hdr *x) {
  return x->pos < x->len ? x->h[x->pos] : -1;
}

/* Python's whitespace between tokens inside brackets (newlines included). */
static void skip_ws(hdr *x) {
  for (int c; (c = at(x)) == ' ' || c == '\t' || c == '\f' || c == '\r' || c == '\n';) x->pos++;
}

/* What stands at the parser's position, for a message. */
static const char *found(const hdr *x, char *buf, size_t cap) {
  int c = at(x);
  if (c < 0)
    snprintf(buf, cap, "the end of the header");
  else if (c == '\'' || c == '"')
    snprintf(buf, cap, "a quoted string");
  else if (c > 0x20 && c < 0x7f)
    snprintf(buf, cap, "'%c'", c);
  else if (c == ' ')
    snprintf(buf, cap, "a space");
  else if (c == '\n')
    snprintf(buf, cap, "a newline");
  else
    snprintf(buf, cap, "the byte 0x%02x", (unsigned)c);
  return buf;
}

static int syntax(const hdr *x, const char *key, const char *expected) {
  char f[32];
  return snn_err_set(x->err, SNN_EKEY, x->path, key,
                     "the header is not a valid Python dict literal: expected %s at byte %zu of the header, found %s",
                     expected, x->pos, found(x, f, sizeof f));
}

/* A quoted string without escapes, of printable ASCII (no valid key or type
 * string needs more).  Copies at most cap-1 characters; *len is the full
 * length. */
static int parse_string(hdr *x, const char *key, const char *expected, char *out, size_t cap, size_t *len) {
  int q = at(x);
  if (q != '\'' && q != '"') return syntax(x, key, expected);
  size_t start = ++x->pos;
  for (;;) {
    int c = at(x);
    if (c == q) break;
    if (c < 0 || c == '\n') return syntax(x, key, "the closing quote of a string");
    if (c < 0x20 || c >= 0x7f || c == '\\') {
      char f[32];
      return snn_err_set(x->err, SNN_EKEY, x->path, key,
                         "a string in the header holds %s at byte %zu; expected printable ASCII without escapes",
                         found(x, f, sizeof f), x->pos);
    }
    x->pos++;
  }
  *len = x->pos - start;
  size_t k = *len < cap - 1 ? *len : cap - 1;
  memcpy(out, x->h + start, k);
  out[k] = '\0';
  x->pos++;
  return SNN_OK;
}

static int is_ident(int c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

static int parse_descr(hdr *x, snn_npy *a) {
  int c = at(x);
  if (c == '[')
    return snn_err_set(
        x->err, SNN_EVALUE, x->path, "descr",
        "a structured dtype (a list of fields) is not supported; expected one number type such as '<f8'");
  if (c == '(')
    return snn_err_set(x->err, SNN_EVALUE, x->path, "descr",
                       "a sub-array dtype (a tuple) is not supported; expected one number type such as '<f8'");
  char s[32];
  size_t len;
  int st = parse_string(x, "descr", "a type string such as '<f8'", s, sizeof s, &len);
  if (st) return st;
  if (len >= sizeof s)
    return snn_err_set(x->err, SNN_EVALUE, x->path, "descr",
                       "expected a type string such as '<f8', found a %zu-character string", len);
  const char *want = "expected a byte order ('<', '>', '|' or '='), a kind and a size in bytes, such as '<f8'";
  if (len < 2 || (s[0] != '<' && s[0] != '>' && s[0] != '|' && s[0] != '='))
    return snn_err_set(x->err, SNN_EVALUE, x->path, "descr", "%s; found '%s'", want, s);
  char kind = s[1]; /* checked before the size: NumPy writes objects as '|O' */
  switch (kind) {
    case 'c':
      return snn_err_set(x->err, SNN_EVALUE, x->path, "descr",
                         "complex numbers ('%s') are not supported; expected a real type such as '<f8'", s);
    case 'O':
      return snn_err_set(x->err, SNN_EVALUE, x->path, "descr",
                         "object arrays ('%s', pickled Python objects) are not supported; expected a number type", s);
    case 'U':
    case 'S':
    case 'a':
      return snn_err_set(x->err, SNN_EVALUE, x->path, "descr",
                         "strings ('%s') are not supported; expected a number type such as '<f8'", s);
    case 'V':
      return snn_err_set(x->err, SNN_EVALUE, x->path, "descr",
                         "raw bytes ('%s', void) are not supported; expected a number type such as '<f8'", s);
    case 'M':
    case 'm':
      return snn_err_set(x->err, SNN_EVALUE, x->path, "descr",
                         "dates and time spans ('%s') are not supported; expected a number type such as '<f8'", s);
    default:
      break;
  }
  if (len < 3) return snn_err_set(x->err, SNN_EVALUE, x->path, "descr", "%s; found '%s'", want, s);
  unsigned size = 0;
  for (size_t i = 2; i < len; i++) {
    if (s[i] < '0' || s[i] > '9' || (i == 2 && s[i] == '0') || i > 3)
      return snn_err_set(x->err, SNN_EVALUE, x->path, "descr", "%s; found '%s'", want, s);
    size = size * 10 + (unsigned)(s[i] - '0');
  }
  int dt = -1;
  for (int d = 0; d < SNN_NPY_NDTYPES; d++)
    if (DTYPES[d].kind == kind && DTYPES[d].size == size) dt = d;
  if (dt < 0) {
    if (kind == 'f' && size > 8)
      return snn_err_set(x->err, SNN_EVALUE, x->path, "descr",
                         "extended precision ('%s', long double) is not supported: its values need not have an exact "
                         "double; expected float16, float32 or float64",
                         s);
    if (kind == 'f' || kind == 'i' || kind == 'u' || kind == 'b')
      return snn_err_set(x->err, SNN_EVALUE, x->path, "descr",
                         "there is no %u-byte '%c' type ('%s'); expected f2, f4, f8, i1..i8, u1..u8 or b1", size, kind,
                         s);
    return snn_err_set(x->err, SNN_EVALUE, x->path, "descr", "unknown type '%s'; %s", s, want);
  }
  if (s[0] == '|' && size > 1)
    return snn_err_set(x->err, SNN_EVALUE, x->path, "descr",
                       "byte order '|' (not applicable) is for one-byte types; %u-byte types need '<' or '>' "
                       "(found '%s')",
                       size, s);
  a->dtype = dt;
  memcpy(a->descr, s, len + 1);
  return SNN_OK;
}

static int parse_fortran(hdr *x, snn_npy *a) {
  size_t start = x->pos;
  while (is_ident(at(x))) x->pos++;
  size_t len = x->pos - start;
  if (len == 4 && !memcmp(x->h + start, "True", 4))
    a->fortran_order = 1;
  else if (len == 5 && !memcmp(x->h + start, "False", 5))
    a->fortran_order = 0;
  else if (len == 0) {
    char f[32];
    return snn_err_set(x->err, SNN_EKEY, x->path, "fortran_order", "expected True or False, found %s",
                       found(x, f, sizeof f));
  } else
    return snn_err_set(x->err, SNN_EKEY, x->path, "fortran_order", "expected True or False, found '%.*s'",
                       len > 40 ? 40 : (int)len, (const char *)x->h + start);
  return SNN_OK;
}

static int parse_shape(hdr *x, snn_npy *a) {
  if (at(x) == '[')
    return snn_err_set(x->err, SNN_EKEY, x->path, "shape", "expected a tuple such as (2, 3), found a list");
  if (at(x) != '(') return syntax(x, "shape", "a tuple of integers such as (2, 3)");
  x->pos++;
  skip_ws(x);
  a->rank = 0;
  if (at(x) == ')') {
    x->pos++;
    return SNN_OK;
  }
  for (;;) {
    int c = at(x);
    if (c == '-')
      return snn_err_set(x->err, SNN_EVALUE, x->path, "shape", "axis %d is negative; expected sizes >= 0", a->rank);
    if (c < '0' || c > '9') return syntax(x, "shape", "a non-negative integer");
    if (a->rank == SNN_NPY_MAXRANK)
      return snn_err_set(x->err, SNN_EVALUE, x->path, "shape", "more than %d axes", SNN_NPY_MAXRANK);
    size_t start = x->pos, d = 0;
    int big = 0;
    while ((c = at(x)) >= '0' && c <= '9') {
      if (d > (SIZE_MAX - (size_t)(c - '0')) / 10) big = 1;
      d = d * 10 + (size_t)(c - '0');
      x->pos++;
    }
    size_t ndig = x->pos - start;
    if (ndig > 1 && x->h[start] == '0')
      return snn_err_set(x->err, SNN_EKEY, x->path, "shape",
                         "axis %d is written with a leading zero ('%.*s'); expected a decimal integer", a->rank,
                         ndig > 30 ? 30 : (int)ndig, (const char *)x->h + start);
    if (at(x) == 'L' && x->major <= 2) x->pos++; /* Python 2's long integers */
    if (is_ident(at(x)) || at(x) == '.') return syntax(x, "shape", "an integer (digits only)");
    if (big)
      return snn_err_set(x->err, SNN_EVALUE, x->path, "shape", "axis %d (%.*s) is too large; expected at most %zu",
                         a->rank, ndig > 30 ? 30 : (int)ndig, (const char *)x->h + start, (size_t)SIZE_MAX);
    a->shape[a->rank++] = d;
    skip_ws(x);
    if (at(x) == ',') {
      x->pos++;
      skip_ws(x);
      if (at(x) == ')') break;
      continue;
    }
    if (at(x) == ')') {
      if (a->rank == 1)
        return snn_err_set(x->err, SNN_EKEY, x->path, "shape",
                           "(%zu) is the integer %zu in Python, not a tuple; expected (%zu,)", d, d, d);
      break;
    }
    return syntax(x, "shape", "',' or ')' in the shape");
  }
  x->pos++;
  return SNN_OK;
}

static int parse_header(hdr *x, snn_npy *a) {
  int seen[K_N] = {0};
  skip_ws(x);
  if (at(x) != '{') return syntax(x, "header", "'{' (a dict)");
  x->pos++;
  for (;;) {
    skip_ws(x);
    if (at(x) == '}') break;
    char key[40];
    size_t len;
    int st =
        parse_string(x, "header", "a quoted key ('descr', 'fortran_order' or 'shape') or '}'", key, sizeof key, &len);
    if (st) return st;
    int k = 0;
    while (k < K_N && !(strlen(KEYS[k]) == len && !strcmp(KEYS[k], key))) k++;
    if (k == K_N)
      return snn_err_set(x->err, SNN_EKEY, x->path, "header",
                         "unknown key '%s%s'; a .npy header has exactly 'descr', 'fortran_order' and 'shape'", key,
                         len >= sizeof key ? "..." : "");
    if (seen[k])
      return snn_err_set(x->err, SNN_EKEY, x->path, KEYS[k], "appears twice in the header; expected it once");
    seen[k] = 1;
    skip_ws(x);
    if (at(x) != ':') return syntax(x, KEYS[k], "':' after the key");
    x->pos++;
    skip_ws(x);
    st = k == K_DESCR ? parse_descr(x, a) : k == K_FORTRAN ? parse_fortran(x, a) : parse_shape(x, a);
    if (st) return st;
    skip_ws(x);
    if (at(x) == ',') {
      x->pos++;
      continue;
    }
    if (at(x) == '}') break;
    return syntax(x, KEYS[k], "',' or '}' after the value");
  }
  x->pos++;
  skip_ws(x);
  if (x->pos < x->len) return syntax(x, "header", "only spaces after the dict's '}'");
  if (x->h[x->len - 1] != '\n')
    return snn_err_set(x->err, SNN_EKEY, x->path, "header",
                       "the header does not end with '\\n' (is its length field right?); expected it padded with "
                       "spaces and ended by a newline");
  for (int k = 0; k < K_N; k++)
    if (!seen[k])
      return snn_err_set(x->err, SNN_EKEY, x->path, KEYS[k], "missing from the header; expected %s",
                         k == K_DESCR     ? "a type string such as '<f8'"
                         : k == K_FORTRAN ? "True or False"
                                          : "a tuple such as (2, 3)");
  return SNN_OK;
}

/* ---- elements ---- */

static uint64_t load_uint(const unsigned char *p, unsigned size, int big) {
  uint64_t u = 0;
  for (unsigned i = 0; i < size; i++) u |= (uint64_t)p[big ? size - 1 - i : i] << (8 * i);
  return u;
}

static double bits_to_double(uint64_t b) {
  double d;
  memcpy(&d, &b, sizeof d);
  return d;
}

/* float16 (1 sign, 5 exponent, 10 fraction bits), exactly. */
static double half_to_double(uint64_t h) {
  uint64_t sign = (h >> 15) & 1, e = (h >> 10) & 0x1f, m = h & 0x3ff;
  if (e == 0x1f) /* inf, or NaN with its payload at the top of the fraction */
    return bits_to_double(sign << 63 | (uint64_t)0x7ff << 52 | m << 42);
  double v = e == 0 ? ldexp((double)m, -24) : ldexp((double)(m | 0x400), (int)e - 25);
  return sign ? -v : v;
}

/* float32, exactly; NaN bit by bit (a cast could quiet a signalling NaN). */
static double single_to_double(uint64_t b) {
  if ((b & 0x7f800000u) == 0x7f800000u && (b & 0x7fffffu))
    return bits_to_double((b >> 31) << 63 | (uint64_t)0x7ff << 52 | (b & 0x7fffffu) << 29);
  float f;
  uint32_t w = (uint32_t)b;
  memcpy(&f, &w, sizeof f);
  return (double)f;
}

/* 1 if the magnitude m has an exact double (at most 53 significant bits). */
static int exact_mag(uint64_t m) {
  if (m == 0) return 1;
  while (!(m & 1)) m >>= 1;
  return m < ((uint64_t)1 << 53);
}

/* Decode one element; returns 0, or 1 for an integer without an exact double,
 * 2 for a bool byte other than 0 and 1. */
static int decode(const unsigned char *p, int dt, int big, double *out) {
  unsigned size = DTYPES[dt].size;
  uint64_t u = load_uint(p, size, big);
  switch (DTYPES[dt].kind) {
    case 'f':
      *out = size == 8 ? bits_to_double(u) : size == 4 ? single_to_double(u) : half_to_double(u);
      return 0;
    case 'b':
      *out = (double)u;
      return u > 1 ? 2 : 0;
    case 'u':
      *out = (double)u;
      return exact_mag(u) ? 0 : 1;
    default: {
      /* two's complement by hand: no implementation-defined conversions */
      uint64_t mask = size == 8 ? UINT64_MAX : ((uint64_t)1 << (8 * size)) - 1;
      int neg = (int)((u >> (8 * size - 1)) & 1);
      uint64_t mag = neg ? (~u + 1) & mask : u; /* -2^63 gives 2^63 */
      *out = neg ? -(double)mag : (double)mag;
      return exact_mag(mag) ? 0 : 1;
    }
  }
}

/* The element's integer value as text, for a message. */
static void int_text(const unsigned char *p, int dt, int big, char *buf, size_t cap) {
  unsigned size = DTYPES[dt].size;
  uint64_t u = load_uint(p, size, big);
  if (DTYPES[dt].kind == 'i' && ((u >> (8 * size - 1)) & 1)) {
    uint64_t mask = size == 8 ? UINT64_MAX : ((uint64_t)1 << (8 * size)) - 1;
    snprintf(buf, cap, "-%" PRIu64, (~u + 1) & mask);
  } else
    snprintf(buf, cap, "%" PRIu64, u);
}

/* The multi-index of C offset c, as "(1, 2)". */
static void index_text(const snn_npy *a, size_t c, char *buf, size_t cap) {
  size_t idx[SNN_NPY_MAXRANK];
  for (int i = a->rank - 1; i >= 0; i--) {
    idx[i] = c % a->shape[i];
    c /= a->shape[i];
  }
  shape_repr(buf, cap, idx, a->rank);
}

static int host_is_big_endian(void) {
  const uint16_t one = 1;
  unsigned char b[2];
  memcpy(b, &one, 2);
  return b[0] == 0;
}

/* Convert the file's bytes to doubles in C order. */
static int convert(const unsigned char *raw, snn_npy *a, const char *path, snn_err *err) {
  char bo = a->descr[0];
  int big = bo == '>' || (bo == '=' && host_is_big_endian());
  unsigned size = DTYPES[a->dtype].size;
  /* In Fortran order the first axis varies fastest in the file: walk the
   * file's order, carrying a multi-index and its C offset. */
  int fortran = a->fortran_order && a->rank > 1;
  size_t idx[SNN_NPY_MAXRANK] = {0}, cstride[SNN_NPY_MAXRANK];
  for (int i = a->rank - 1; i >= 0; i--) cstride[i] = i == a->rank - 1 ? 1 : cstride[i + 1] * a->shape[i + 1];
  size_t c = 0;
  for (size_t k = 0; k < a->n; k++) {
    size_t dst = fortran ? c : k;
    const unsigned char *p = raw + k * size;
    int bad = decode(p, a->dtype, big, &a->v[dst]);
    if (bad) {
      char where[64], val[32];
      index_text(a, dst, where, sizeof where);
      int_text(p, a->dtype, big, val, sizeof val);
      if (bad == 2)
        return snn_err_set(err, SNN_EVALUE, path, "data",
                           "element %s of the bool array is the byte %s; expected 0 or 1", where, val);
      return snn_err_set(err, SNN_EVALUE, path, "data",
                         "element %s is %s, which has no exact double (beyond 2^53 in magnitude only multiples of "
                         "the spacing of doubles are exact); refusing to round this %s",
                         where, val, DTYPES[a->dtype].name);
    }
    if (fortran)
      for (int i = 0; i < a->rank; i++) {
        c += cstride[i];
        if (++idx[i] < a->shape[i]) break;
        c -= idx[i] * cstride[i];
        idx[i] = 0;
      }
  }
  return SNN_OK;
}

/* ---- reading ---- */

static int read_file(FILE *f, const char *path, snn_npy *a, snn_err *err, unsigned char **hbuf, unsigned char **raw) {
  struct stat sb;
  int regular = 0;
  uint64_t fsize = 0;
  if (fstat(fileno(f), &sb) == 0) {
    if (S_ISDIR(sb.st_mode)) return snn_err_set(err, SNN_EIO, path, "", "is a folder; expected a .npy file");
    regular = S_ISREG(sb.st_mode);
    fsize = (uint64_t)sb.st_size;
  }
  unsigned char pre[12];
  size_t got = fread(pre, 1, 8, f);
  if (memcmp(pre, MAGIC, got < 6 ? got : 6) != 0)
    return snn_err_set(err, SNN_EVALUE, path, "magic", "not a .npy file: expected it to start with \\x93NUMPY");
  if (got < 8)
    return snn_err_set(err, SNN_EIO, path, "magic",
                       "truncated: the file has %zu bytes; a .npy file starts with the magic \\x93NUMPY and a "
                       "2-byte version",
                       got);
  a->version = pre[6];
  if (pre[6] < 1 || pre[6] > 3 || pre[7] != 0)
    return snn_err_set(err, SNN_EVALUE, path, "version", "format version %u.%u; expected 1.0, 2.0 or 3.0",
                       (unsigned)pre[6], (unsigned)pre[7]);
  unsigned lenbytes = pre[6] == 1 ? 2 : 4;
  if (fread(pre + 8, 1, lenbytes, f) != lenbytes)
    return snn_err_set(err, SNN_EIO, path, "header", "truncated: the file ends inside the %u-byte header length",
                       lenbytes);
  uint64_t hlen = load_uint(pre + 8, lenbytes, 0), off = 8 + lenbytes + hlen;
  if (hlen == 0) return snn_err_set(err, SNN_EKEY, path, "header", "the header is empty; expected a dict");
  if (regular && fsize < off)
    return snn_err_set(err, SNN_EIO, path, "header",
                       "truncated: the header length field says %" PRIu64 " bytes, the file has %" PRIu64 " after it",
                       hlen, fsize - (8 + lenbytes));
  if (hlen > SIZE_MAX - 1) return snn_err_set(err, SNN_ENOMEM, path, "header", "a %" PRIu64 "-byte header", hlen);
  if (!(*hbuf = malloc((size_t)hlen)))
    return snn_err_set(err, SNN_ENOMEM, path, "header", "out of memory for a %" PRIu64 "-byte header", hlen);
  got = fread(*hbuf, 1, (size_t)hlen, f);
  if (got != hlen)
    return snn_err_set(err, SNN_EIO, path, "header",
                       "truncated: the header length field says %" PRIu64 " bytes, the file has %zu after it", hlen,
                       got);

  hdr x = {path, err, *hbuf, (size_t)hlen, 0, pre[6]};
  int st = parse_header(&x, a);
  if (st) return st;

  char shp[SNN_NPY_MAXRANK * 22 + 8];
  shape_repr(shp, sizeof shp, a->shape, a->rank);
  if (shape_count(a->shape, a->rank, &a->n))
    return snn_err_set(err, SNN_EVALUE, path, "shape", "%s has more elements than fit in memory", shp);
  size_t size = DTYPES[a->dtype].size, nbytes = a->n * size;
  if (regular && fsize - off < nbytes)
    return snn_err_set(err, SNN_EIO, path, "data",
                       "truncated: shape %s of '%s' takes %zu bytes of data, found %" PRIu64, shp, a->descr, nbytes,
                       fsize - off);
  if (regular && fsize - off > nbytes)
    return snn_err_set(err, SNN_EVALUE, path, "data",
                       "%" PRIu64
                       " byte%s after the data (shape %s of '%s' takes %zu bytes); expected the file to "
                       "end there (a second array saved into the same file?)",
                       fsize - off - nbytes, fsize - off - nbytes == 1 ? "" : "s", shp, a->descr, nbytes);
  if (!(*raw = malloc(nbytes ? nbytes : 1)) || !(a->v = malloc((a->n ? a->n : 1) * sizeof *a->v)))
    return snn_err_set(err, SNN_ENOMEM, path, "data", "out of memory for shape %s of '%s'", shp, a->descr);
  got = fread(*raw, 1, nbytes, f);
  if (got != nbytes && ferror(f))
    return snn_err_set(err, SNN_EIO, path, "data", "cannot read the data: %s", strerror(errno));
  if (got != nbytes)
    return snn_err_set(err, SNN_EIO, path, "data", "truncated: shape %s of '%s' takes %zu bytes of data, found %zu",
                       shp, a->descr, nbytes, got);
  if (fgetc(f) != EOF)
    return snn_err_set(err, SNN_EVALUE, path, "data",
                       "bytes after the data (shape %s of '%s' takes %zu bytes); expected the file to end there", shp,
                       a->descr, nbytes);
  if (ferror(f)) return snn_err_set(err, SNN_EIO, path, "data", "cannot read the file: %s", strerror(errno));
  return convert(*raw, a, path, err);
}

int snn_npy_read(const char *path, snn_npy *a, snn_err *err) {
  memset(a, 0, sizeof *a);
  FILE *f = fopen(path, "rb");
  if (!f) return snn_err_set(err, SNN_EIO, path, "", "cannot open: %s", strerror(errno));
  unsigned char *hbuf = NULL, *raw = NULL;
  int st = read_file(f, path, a, err, &hbuf, &raw);
  fclose(f);
  free(hbuf);
  free(raw);
  if (st) snn_npy_free(a);
  return st;
}

/* ---- writing ---- */

int snn_npy_write(const char *path, const double *v, const size_t *shape, int rank, snn_err *err) {
  if (rank < 0 || rank > SNN_NPY_MAXRANK || (rank > 0 && !shape))
    return snn_err_set(err, SNN_EVALUE, path, "shape", "rank %d; expected 0 to %d axes", rank, SNN_NPY_MAXRANK);
  size_t n;
  char shp[SNN_NPY_MAXRANK * 22 + 8];
  shape_repr(shp, sizeof shp, shape, rank);
  if (shape_count(shape, rank, &n) || n > (SIZE_MAX - 65536) / 8)
    return snn_err_set(err, SNN_EVALUE, path, "shape", "%s has more elements than fit in memory", shp);
  if (n > 0 && !v) return snn_err_set(err, SNN_EVALUE, path, "data", "no values given for shape %s", shp);

  /* numpy.save's header: the keys sorted, each followed by ", ", then room
   * for the first axis to grow to 21 digits, then spaces and '\n' up to a
   * multiple of 64 counted from the start of the file (a full 64 spaces when
   * already aligned, as NumPy does). */
  char text[sizeof shp + 128];
  int len = snprintf(text, sizeof text, "{'descr': '<f8', 'fortran_order': False, 'shape': %s, }", shp);
  if (rank > 0) {
    char first[24];
    int grow = 21 - snprintf(first, sizeof first, "%zu", shape[0]);
    for (int i = 0; i < grow; i++) text[len++] = ' ';
  }
  size_t hlen = (size_t)len + 1, prefix = 10;
  size_t pad = 64 - (prefix + hlen) % 64;
  if (hlen + pad > 65535) { /* version 2.0; never with at most 64 axes */
    prefix = 12;
    pad = 64 - (prefix + hlen) % 64;
  }
  size_t total = prefix + hlen + pad + n * 8;
  unsigned char *buf = malloc(total);
  if (!buf) return snn_err_set(err, SNN_ENOMEM, path, "", "out of memory for %zu bytes", total);
  memcpy(buf, MAGIC, 6);
  buf[6] = prefix == 10 ? 1 : 2;
  buf[7] = 0;
  size_t field = hlen + pad;
  for (size_t i = 0; i < prefix - 8; i++) buf[8 + i] = (unsigned char)(field >> (8 * i));
  unsigned char *p = buf + prefix;
  memcpy(p, text, (size_t)len);
  memset(p + len, ' ', pad);
  p[len + pad] = '\n';
  p += hlen + pad;
  for (size_t k = 0; k < n; k++) {
    uint64_t b;
    memcpy(&b, &v[k], 8);
    for (int i = 0; i < 8; i++) *p++ = (unsigned char)(b >> (8 * i));
  }
  int st = snn_write_atomic(path, (const char *)buf, total, err);
  free(buf);
  return st;
}
