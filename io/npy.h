/* npy.h - NumPy's .npy files: a strict reader (versions 1.0, 2.0 and 3.0;
 * real, integer and bool element types, both byte orders, C and Fortran
 * order) that hands back doubles in C order, and a writer of float64 arrays.
 *
 * The format is numpy.lib.format's: the magic "\x93NUMPY", a major and a
 * minor version byte, the header length (2 bytes little-endian in 1.0,
 * 4 bytes in 2.0 and 3.0), then the header, a Python dict literal
 * {'descr': ..., 'fortran_order': ..., 'shape': ...} padded with spaces and
 * ended by '\n', then the elements, nothing else.
 *
 * Status codes (sim/snn.h), with the file and one of the keys "magic",
 * "version", "header", "descr", "fortran_order", "shape", "data" in the
 * snn_err:
 *   SNN_EIO     the file cannot be opened or read, or ends early (truncated);
 *   SNN_EKEY    the header is not a dict literal, or a key is missing,
 *               unknown, repeated, or its value has the wrong type;
 *   SNN_EVALUE  a bad magic or version, an element type this reader does not
 *               take (complex, strings, objects, structured, datetime,
 *               longdouble), a shape too large for memory, an element that has
 *               no exact double (an int64 or uint64 beyond 2^53 that is not a
 *               multiple of the spacing there, a bool byte other than 0 or 1),
 *               or bytes after the data;
 *   SNN_ENOMEM  out of memory. */
#ifndef SNN_NPY_H
#define SNN_NPY_H

#include <stddef.h>

#include "io/io.h"

/* NumPy's own limit (NPY_MAXDIMS) is 32 in NumPy 1.x and 64 in 2.x. */
#define SNN_NPY_MAXRANK 64

/* The element type stored in the file. */
enum snn_npy_dtype {
  SNN_NPY_F64,
  SNN_NPY_F32,
  SNN_NPY_F16,
  SNN_NPY_I8,
  SNN_NPY_I16,
  SNN_NPY_I32,
  SNN_NPY_I64,
  SNN_NPY_U8,
  SNN_NPY_U16,
  SNN_NPY_U32,
  SNN_NPY_U64,
  SNN_NPY_BOOL,
  SNN_NPY_NDTYPES
};

/* One array read from a file.  Every element becomes the double equal to it
 * (float16, float32 and the integers convert exactly; NaN keeps its sign and
 * payload bits; false/true become 0/1), in C (row-major) order whatever the
 * file's order. */
typedef struct {
  double *v;                     /* n values; never NULL after a successful read */
  size_t n;                      /* product of the shape: 1 for rank 0, 0 for an empty array */
  int rank;                      /* 0 .. SNN_NPY_MAXRANK */
  size_t shape[SNN_NPY_MAXRANK]; /* shape[0 .. rank-1] */
  int dtype;                     /* enum snn_npy_dtype */
  char descr[8];                 /* the descr as written, e.g. "<f4", ">i8", "|b1" */
  int version;                   /* the format's major version: 1, 2 or 3 */
  int fortran_order;             /* the file was in Fortran order (v is in C order anyway) */
} snn_npy;

/* Read `path` into *a.  On failure *a holds no memory (a->v is NULL), so
 * snn_npy_free may be called either way. */
int snn_npy_read(const char *path, snn_npy *a, snn_err *err);
void snn_npy_free(snn_npy *a);

/* Write the rank-dimensional array v (C order, the product of shape[0 ..
 * rank-1] elements; v may be NULL when that product is 0) to `path` as
 * little-endian float64 in C order, format version 1.0 (2.0 if the header
 * needed more than 65535 bytes), header padded so the data start at a
 * multiple of 64 bytes; byte for byte what numpy.save writes for the same
 * array (by the NumPy versions that leave room in the header for the first
 * axis to grow, such as Debian 12's 1.24).  Through a temporary file in the same folder and a rename: a
 * failure never leaves a half-written file. */
int snn_npy_write(const char *path, const double *v, const size_t *shape, int rank, snn_err *err);

/* NumPy's name of an element type ("float32", "uint8", "bool"), or "?" */
const char *snn_npy_dtype_name(int dtype);

#endif
