#!/usr/bin/env python3
"""npy_make.py - NumPy's side of tests/npy.c.

  npy_make.py make DIR    NumPy writes the files the reader is tested on into
                          DIR, with DIR/manifest.tsv saying what each holds:
                            ok  NAME DTYPE VERSION FORTRAN SHAPE   (SHAPE "2,3,4"; "" for rank 0)
                          with NAME.f8 its values as little-endian float64 in
                          C order (converted by NumPy), or
                            bad NAME KEY PHRASE
                          for a file the reader must refuse naming KEY, with
                          PHRASE in its message.
  npy_make.py check DIR   NumPy loads each NAME.npy listed in DIR/check.tsv
                          (NAME SHAPE) written by snn_npy_write and compares it
                          bit for bit with NAME.raw (little-endian float64
                          bits written by the test itself); checks the header
                          and, for NumPy versions whose numpy.save leaves room
                          for the first axis to grow, that the bytes are
                          numpy.save's.

Exit status 0 on success, 1 on a failure, 77 if NumPy is missing."""
import io
import os
import struct
import sys
import warnings

try:
    import numpy as np
    import numpy.lib.format as fmt
except ImportError:
    print("npy_make.py: numpy is not installed (Debian: apt-get install python3-numpy)")
    sys.exit(77)


def float_values(t, count, rng):
    t = np.dtype(t).type
    fi = np.finfo(t)
    sub = np.nextafter(t(0), t(1))
    v = [0.0, -0.0, 1.0, -1.5, 1.0 / 3.0, float(sub), -float(sub), float(fi.tiny), float(fi.max), -float(fi.max),
         np.inf, -np.inf, np.nan, float(np.copysign(np.nan, -1)), float(fi.eps),
         1.0 + float(fi.eps)]
    a = np.array(v, dtype=t)
    if t == np.float64:  # NaN payloads must survive bit for bit
        a = np.concatenate([a, np.frombuffer(struct.pack('<2Q', 0x7ff8000000000123, 0xfff4000000000001), '<f8')])
    rest = (rng.standard_normal(max(0, count - len(a))) * 100).astype(t)
    return np.concatenate([a, rest])[:count]


def int_values(t, count, rng):
    ii = np.iinfo(t)
    if t == np.int64:  # only values with an exact double
        v = [0, 1, -1, -2**63, 2**62, 2**53, -2**53, 2**53 + 2, 2**63 - 1024, -(2**63 - 1024)]
        lo, hi = -2**53, 2**53
    elif t == np.uint64:
        v = [0, 1, 2**64 - 2048, 2**63, 2**53, 2**53 + 2, 12345]
        lo, hi = 0, 2**53
    else:
        v = [0, 1, ii.min, ii.max, ii.max - 1] + ([-1] if ii.min < 0 else [])
        lo, hi = ii.min, ii.max
    rest = rng.integers(lo, hi, size=max(0, count - len(v)), endpoint=True)
    return np.concatenate([np.array(v, dtype=t), rest.astype(t)])[:count]


def values(code, count, rng):
    t = np.dtype(code).type
    if t == np.bool_:
        return (np.arange(count) % 3 == 1)
    if np.issubdtype(t, np.floating):
        return float_values(t, count, rng)
    return int_values(t, count, rng)


DTYPE_NAMES = ['float64', 'float32', 'float16', 'int8', 'int16', 'int32', 'int64', 'uint8', 'uint16', 'uint32',
               'uint64', 'bool']


def make(d):
    rng = np.random.default_rng(20240601)
    lines = []

    def save(name, a, fortran=None, version=None):
        path = os.path.join(d, name + '.npy')
        with open(path, 'wb') as f:
            if version is None:
                np.save(f, a)
            else:
                fmt.write_array(f, a, version=version)
        with open(path, 'rb') as f:
            raw = f.read(8)
        assert raw[6] == (version or (1, 0))[0], name
        np.ascontiguousarray(a.astype('<f8')).tofile(os.path.join(d, name + '.f8'))
        fo = a.flags.f_contiguous and not a.flags.c_contiguous
        if fortran is not None:
            assert fo == fortran, name
        lines.append('\t'.join(['ok', name, a.dtype.name,
                                str(raw[6]), str(int(fo)), ','.join(str(s) for s in a.shape)]))

    def bad(name, key, phrase, a=None, data=None, **kw):
        path = os.path.join(d, name + '.npy')
        if data is None:
            with open(path, 'wb') as f:
                np.save(f, a, **kw)
        else:
            with open(path, 'wb') as f:
                f.write(data)
        lines.append('\t'.join(['bad', name, key, phrase]))

    # every dtype, byte order and order, rank 3, and rank 0 and 1
    for code in DTYPE_NAMES:
        dt = np.dtype(code)
        orders = ['|'] if dt.itemsize == 1 else ['<', '>']
        for bo in orders:
            t = dt.newbyteorder(bo) if bo != '|' else dt
            tag = {'<': 'le', '>': 'be', '|': 'na'}[bo]
            a = values(code, 24, rng).astype(t).reshape(2, 3, 4)
            assert a.dtype.str[0] == bo, (code, a.dtype.str)
            save('%s_%s_c_r3' % (code, tag), a, fortran=False)
            save('%s_%s_f_r3' % (code, tag), np.asfortranarray(a), fortran=True)
            save('%s_%s_r0' % (code, tag), values(code, 16, rng).astype(t)[6 if code[0] == 'f' else 3].reshape(()))
            save('%s_%s_r1' % (code, tag), values(code, 7, rng).astype(t))
    # versions 2.0 and 3.0 (NumPy writes 2.0 on its own only for headers
    # over 65535 bytes, i.e. structured types, which are refused below)
    for v in [(1, 0), (2, 0), (3, 0)]:
        for code, bo in [('float64', '<'), ('float32', '>'), ('int16', '>'), ('bool', '|'), ('float16', '<')]:
            dt = np.dtype(code)
            t = dt.newbyteorder(bo) if bo != '|' else dt
            a = np.asfortranarray(values(code, 30, rng).astype(t).reshape(5, 3, 2))
            save('v%d_%s_%s_f' % (v[0], code, bo.replace('<', 'le').replace('>', 'be').replace('|', 'na')), a,
                 fortran=True, version=v)
            save('v%d_%s_r0' % (v[0], code), values(code, 3, rng).astype(t)[2].reshape(()), version=v)
    # empty arrays, higher ranks, a larger Fortran block
    for shape in [(0,), (3, 0), (0, 2, 5), (2, 0, 3)]:
        for code, bo in [('float64', '<'), ('float32', '>')]:
            a = np.zeros(shape, dtype=np.dtype(code).newbyteorder(bo))
            save('empty_%s_%s_c' % (code, '_'.join(map(str, shape))), a)
            if len(shape) > 1:
                save('empty_%s_%s_f' % (code, '_'.join(map(str, shape))), np.asfortranarray(a))
    a = np.asfortranarray(values('float64', 48, rng).reshape(2, 1, 3, 2, 4))
    save('rank5_f', a, fortran=True)
    shape32 = (2,) + (1,) * 28 + (3, 1, 2)
    a = np.asfortranarray(values('float32', 12, rng).reshape(shape32))
    save('rank32_f', a, fortran=True)
    save('rank32_c', np.ascontiguousarray(a), fortran=False)
    a = np.asfortranarray(rng.standard_normal((100, 37)).astype('>f4'))
    save('block_100x37_f4be_f', a, fortran=True)
    save('block_100x37_f8_c', rng.standard_normal((100, 37)))

    # refused: types
    bad('complex64', 'descr', 'complex', np.zeros(3, np.complex64))
    bad('complex128', 'descr', 'complex', np.zeros((2, 2), '>c16'))
    bad('object', 'descr', 'object', np.array([1, 'a', None], dtype=object), allow_pickle=True)
    bad('structured', 'descr', 'structured', np.zeros(3, dtype=[('a', '<f8'), ('b', '<i4')]))
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        big = np.zeros(2, dtype=[('field%05d' % i, '<f4') for i in range(4000)])
        bad('structured_v2', 'descr', 'structured', big)
    with open(os.path.join(d, 'structured_v2.npy'), 'rb') as f:
        assert f.read(8)[6] == 2, 'NumPy was expected to write version 2.0 for a long header'
    bad('unicode', 'descr', 'strings', np.array(['abc', 'de']))
    bad('bytes', 'descr', 'strings', np.array([b'abc', b'de']))
    bad('datetime', 'descr', 'dates', np.array(['2024-06-01'], dtype='datetime64[ns]'))
    bad('timedelta', 'descr', 'dates', np.array([3], dtype='timedelta64[s]'))
    bad('void', 'descr', 'raw bytes', np.zeros(3, dtype='V8'))
    if np.dtype(np.longdouble).itemsize > 8:
        bad('longdouble', 'descr', 'extended precision', np.zeros(3, np.longdouble))
    # refused: values without an exact double, bool bytes other than 0 and 1
    bad('int64_max', 'data', 'no exact double', np.array([0, 2**63 - 1], np.int64))
    bad('int64_2p53p1', 'data', 'no exact double', np.array([[2**53 + 1]], '>i8'))
    bad('uint64_max', 'data', 'no exact double', np.array([2**64 - 1], np.uint64))
    bad('bool_2', 'data', '0 or 1', np.array([0, 1, 2], np.uint8).view(np.bool_))
    # refused: damaged files
    buf = io.BytesIO()
    np.save(buf, np.arange(6.0).reshape(2, 3))
    good = buf.getvalue()
    bad('truncated_data', 'data', 'truncated', data=good[:-5])
    bad('truncated_header', 'header', 'truncated', data=good[:40])
    bad('truncated_magic', 'magic', 'truncated', data=good[:7])
    buf2 = io.BytesIO()
    np.save(buf2, np.arange(6.0).reshape(2, 3))
    np.save(buf2, np.arange(3.0))
    bad('two_arrays', 'data', 'after the data', data=buf2.getvalue())

    with open(os.path.join(d, 'manifest.tsv'), 'w') as f:
        f.write('\n'.join(lines) + '\n')
    print('npy_make.py: NumPy %s wrote %d files (%d to read, %d to refuse)' % (
        np.__version__, len(lines), sum(l.startswith('ok') for l in lines), sum(l.startswith('bad') for l in lines)))
    return 0


def check(d):
    failures = 0
    count = 0
    identical = getattr(fmt, 'GROWTH_AXIS_MAX_DIGITS', None) == 21
    with open(os.path.join(d, 'check.tsv')) as f:
        cases = [l.rstrip('\n').split('\t') for l in f if l.strip()]
    for name, shape in cases:
        count += 1
        shape = tuple(int(s) for s in shape.split(',')) if shape else ()
        path = os.path.join(d, name + '.npy')
        problems = []
        with open(path, 'rb') as f:
            version = fmt.read_magic(f)
            shp, fo, dt = fmt.read_array_header_1_0(f)
            offset = f.tell()
        if version != (1, 0):
            problems.append('version %r, expected (1, 0)' % (version,))
        if offset % 64:
            problems.append('the data starts at %d, not a multiple of 64' % offset)
        if shp != shape or fo or dt.str != '<f8':
            problems.append('header %r %r %r, expected %r False <f8' % (shp, fo, dt.str, shape))
        a = np.load(path, allow_pickle=False)
        want = np.fromfile(os.path.join(d, name + '.raw'), dtype='<u8').reshape(shape)
        if a.shape != shape or a.dtype.str != '<f8':
            problems.append('numpy.load gave %r %s' % (a.shape, a.dtype.str))
        elif not np.array_equal(a.view('<u8'), want):
            bad = np.flatnonzero(a.view('<u8').ravel() != want.ravel())
            problems.append('%d values differ, first at flat index %d: %r, expected bits 0x%016x' % (
                len(bad), bad[0], a.ravel()[bad[0]], want.ravel()[bad[0]]))
        if identical and not problems:
            buf = io.BytesIO()
            np.save(buf, want.view('<f8'))
            with open(path, 'rb') as f:
                if f.read() != buf.getvalue():
                    problems.append('the bytes differ from numpy.save\'s')
        print('%s %s%s' % ('FAIL' if problems else 'ok  ', name, ': ' + '; '.join(problems) if problems else ''))
        failures += bool(problems)
    print('npy_make.py: NumPy %s read %d files written by snn_npy_write, %d failed%s' % (
        np.__version__, count, failures, ' (bytes compared with numpy.save)' if identical else ''))
    return 1 if failures or not count else 0


if __name__ == '__main__':
    if len(sys.argv) != 3 or sys.argv[1] not in ('make', 'check'):
        print(__doc__)
        sys.exit(2)
    sys.exit(make(sys.argv[2]) if sys.argv[1] == 'make' else check(sys.argv[2]))
