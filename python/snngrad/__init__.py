"""snngrad from Python: NumPy arrays in and out (docs/python.md).

    import snngrad
    net = snngrad.Network.load("examples/alif_recurrent.json")
    net.blocks                      # {"layer0.w_in": (12, 6), ...}
    g = net.grad(rule="bptt")       # {"layer0.w_in": array, ...}, g.loss
    g = net.grad(precision=256, exact=True)   # g.text: decimal strings at 256 bits
    net.check(precisions=(53, 256)) # BPTT against finite differences (smooth networks)
    net.compare(mine, rule="eprop") # your gradient against snngrad's, per block

The module is ctypes over libsnngrad_py (python/snngrad_c.c), found from the
environment variable SNNGRAD_LIB or in build/python/ of the source tree.
"""

import ctypes
import json
import math
import os

import numpy as np

__all__ = ["Network", "Gradient", "SnngradError", "library"]

_ERRLEN = 2048


class SnngradError(Exception):
    """An error of the library, with its message (file, key, what was expected)."""

    def __init__(self, status, msg):
        super().__init__(msg)
        self.status = status


def _find_library():
    env = os.environ.get("SNNGRAD_LIB")
    if env:
        return env
    here = os.path.dirname(os.path.abspath(__file__))
    for build in ("build", "builddir"):
        cand = os.path.join(here, "..", "..", build, "python", "libsnngrad_py.so")
        if os.path.exists(cand):
            return os.path.normpath(cand)
    # installed by `meson install`: beside the package, or where the loader looks
    cand = os.path.join(here, "libsnngrad_py.so")
    if os.path.exists(cand):
        return cand
    import ctypes.util
    found = ctypes.util.find_library("snngrad_py")
    if found:
        return found
    raise OSError("libsnngrad_py.so not found: set SNNGRAD_LIB, or build it with "
                  "`meson setup build && ninja -C build` in the source tree")


_lib = None


def library():
    """The loaded ctypes library (loaded on first use)."""
    global _lib
    if _lib is not None:
        return _lib
    lib = ctypes.CDLL(_find_library())
    P, D, L, I, C = ctypes.c_void_p, ctypes.POINTER(ctypes.c_double), ctypes.c_long, ctypes.c_int, ctypes.c_char_p
    LP, IP, S = ctypes.POINTER(ctypes.c_long), ctypes.POINTER(ctypes.c_int), ctypes.c_size_t
    sigs = {
        "snnpy_version": (I, []),
        "snnpy_load": (P, [C, I, C, S]),
        "snnpy_load_params": (I, [P, C, C, S]),
        "snnpy_free": (None, [P]),
        "snnpy_warnings": (C, [P]),
        "snnpy_size": (L, [P, I]),
        "snnpy_block": (I, [P, L, C, S, LP, LP, LP, IP, IP]),
        "snnpy_params_get": (None, [P, D]),
        "snnpy_params_set": (I, [P, D, C, S]),
        "snnpy_input_get": (None, [P, D]),
        "snnpy_input_set": (I, [P, D, C, S]),
        "snnpy_target_get": (I, [P, D]),
        "snnpy_target_set": (I, [P, D, C, S]),
        "snnpy_label_get": (L, [P]),
        "snnpy_label_set": (I, [P, L, C, S]),
        "snnpy_grad": (I, [P, C, L, D, D, ctypes.POINTER(ctypes.c_void_p), C, S]),
        "snnpy_text_free": (None, [ctypes.c_void_p]),
        "snnpy_run": (I, [P, L, D, D, D, C, S]),
        "snnpy_check": (I, [P, LP, I, D, D, IP, D, D, IP, IP, C, S]),
        "snnpy_rules_check": (I, [P, C, LP, I, IP, IP, IP, IP, C, D, D, IP, C, S]),
    }
    for name, (res, args) in sigs.items():
        f = getattr(lib, name)
        f.restype, f.argtypes = res, args
    if lib.snnpy_version() != 1:
        raise OSError("libsnngrad_py: expected interface version 1, found %d" % lib.snnpy_version())
    _lib = lib
    return lib


def _dptr(a):
    return a.ctypes.data_as(ctypes.POINTER(ctypes.c_double))


def _iptr(a):
    return a.ctypes.data_as(ctypes.POINTER(ctypes.c_int))


def _lptr(a):
    return a.ctypes.data_as(ctypes.POINTER(ctypes.c_long))


def _call(fn, *args):
    err = ctypes.create_string_buffer(_ERRLEN)
    st = fn(*args, err, _ERRLEN)
    if st:
        raise SnngradError(st, err.value.decode(errors="replace") or "error %d" % st)


# compare(): a block agrees within COMPARE_C * sqrt(n) * u of its dtype.
COMPARE_C = 10.0

VERDICTS = ("EXACT", "APPROXIMATE", "INCONCLUSIVE")
BLOCK_VERDICTS = {0: "ok", 1: "fail", 2: "unresolved", -1: "not trained"}


class Gradient(dict):
    """A gradient: block name -> float64 array (the trained blocks only), with
    .loss, .rule, .precision, and with exact=True .text (block name -> array of
    decimal strings at that precision) and .loss_text."""

    def __init__(self, arrays, loss, rule, precision, text=None, loss_text=None):
        super().__init__(arrays)
        self.loss, self.rule, self.precision = loss, rule, precision
        self.text, self.loss_text = text, loss_text


class Network:
    """One network file with its parameters, input and target (drawn from the
    file's seed, as `snngrad init` does, or read with load_params)."""

    def __init__(self, handle):
        self._h = handle
        lib = library()
        size = lambda k: int(lib.snnpy_size(handle, k))
        self.P, self.T, self.n_in, self.n_out = size(0), size(1), size(2), size(3)
        self.loss_kind = "ce" if size(5) else "mse"
        self.n_hidden = size(7)
        self._blk = []  # (name, shape, off, trainable)
        name = ctypes.create_string_buffer(64)
        r, c, o = ctypes.c_long(), ctypes.c_long(), ctypes.c_long()
        t, m = ctypes.c_int(), ctypes.c_int()
        for b in range(size(4)):
            lib.snnpy_block(handle, b, name, 64, ctypes.byref(r), ctypes.byref(c), ctypes.byref(o), ctypes.byref(t),
                            ctypes.byref(m))
            shape = (r.value, c.value) if m.value else (r.value * c.value,)
            self._blk.append((name.value.decode(), shape, o.value, bool(t.value)))
        w = lib.snnpy_warnings(handle)
        self.warnings = w.decode() if w else ""

    # ---- construction ----
    @classmethod
    def load(cls, path, params=None):
        """A network file; `params`: a parameter file (else drawn from the seed)."""
        err = ctypes.create_string_buffer(_ERRLEN)
        h = library().snnpy_load(os.fsencode(path), 0, err, _ERRLEN)
        if not h:
            raise SnngradError(1, err.value.decode(errors="replace"))
        net = cls(h)
        if params is not None:
            net.load_params(params)
        return net

    @classmethod
    def from_json(cls, spec):
        """A network from a dict or a JSON text (the network file's keys)."""
        text = spec if isinstance(spec, str) else json.dumps(spec)
        err = ctypes.create_string_buffer(_ERRLEN)
        h = library().snnpy_load(text.encode(), 1, err, _ERRLEN)
        if not h:
            raise SnngradError(1, err.value.decode(errors="replace"))
        return cls(h)

    def load_params(self, path):
        """Parameters, input and target (or label) from a parameter file."""
        _call(library().snnpy_load_params, self._h, os.fsencode(path))

    def close(self):
        if getattr(self, "_h", None):
            library().snnpy_free(self._h)
            self._h = None

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # ---- structure ----
    @property
    def blocks(self):
        """Every parameter block: name -> shape (matrices (rows, cols), vectors (n,))."""
        return {n: s for n, s, _, _ in self._blk}

    @property
    def trainable(self):
        """The names of the blocks whose gradient is computed."""
        return [n for n, _, _, t in self._blk if t]

    # ---- parameters, input, target ----
    def _theta(self):
        th = np.empty(self.P)
        library().snnpy_params_get(self._h, _dptr(th))
        return th

    @property
    def params(self):
        """name -> float64 array (a copy).  Assign a dict (some or all blocks) to set them."""
        th = self._theta()
        return {n: th[o:o + int(np.prod(s))].reshape(s).copy() for n, s, o, _ in self._blk}

    @params.setter
    def params(self, new):
        th = self._theta()
        shapes = self.blocks
        for name, arr in new.items():
            if name not in shapes:
                raise KeyError("%s: not a block of this network; expected one of %s" % (name, ", ".join(shapes)))
            a = np.asarray(arr, dtype=np.float64)
            if a.shape != shapes[name]:
                raise ValueError("%s: expected shape %s, found %s" % (name, shapes[name], a.shape))
            o = next(o for n, _, o, _ in self._blk if n == name)
            th[o:o + a.size] = a.ravel()
        _call(library().snnpy_params_set, self._h, _dptr(np.ascontiguousarray(th)))

    def set_params(self, **blocks):
        self.params = blocks

    @property
    def input(self):
        """The input, T x n_in (float64)."""
        x = np.empty((self.T, self.n_in))
        library().snnpy_input_get(self._h, _dptr(x))
        return x

    @input.setter
    def input(self, x):
        x = np.ascontiguousarray(x, dtype=np.float64)
        if x.shape != (self.T, self.n_in):
            raise ValueError("input: expected shape %s, found %s" % ((self.T, self.n_in), x.shape))
        _call(library().snnpy_input_set, self._h, _dptr(x))

    @property
    def target(self):
        """The target, T x n_out (mse; None for ce)."""
        y = np.empty((self.T, self.n_out))
        return y if library().snnpy_target_get(self._h, _dptr(y)) == 0 else None

    @target.setter
    def target(self, y):
        y = np.ascontiguousarray(y, dtype=np.float64)
        if y.shape != (self.T, self.n_out):
            raise ValueError("target: expected shape %s, found %s" % ((self.T, self.n_out), y.shape))
        _call(library().snnpy_target_set, self._h, _dptr(y))

    @property
    def label(self):
        """The class of the sequence (ce; None for mse)."""
        v = int(library().snnpy_label_get(self._h))
        return None if v < 0 else v

    @label.setter
    def label(self, c):
        _call(library().snnpy_label_set, self._h, int(c))

    # ---- computations ----
    def grad(self, rule="bptt", precision=53, exact=False):
        """The gradient under `rule` (as on the command line: "eprop",
        "tbptt:window=10") at `precision` bits (53: double; otherwise MPFR).
        Returns a Gradient: block -> float64 array for every trained block,
        with .loss; exact=True (precision != 53) adds .text, the decimal
        strings that round-trip at that precision."""
        g = np.empty(self.P)
        loss = ctypes.c_double()
        txt = ctypes.c_void_p()
        if exact and precision == 53:
            raise ValueError("exact=True needs an MPFR precision (not 53 bits); at 53 bits the doubles are exact")
        _call(library().snnpy_grad, self._h, rule.encode(), int(precision), _dptr(g), ctypes.byref(loss),
              ctypes.byref(txt) if exact else None)
        arrays = {n: g[o:o + int(np.prod(s))].reshape(s).copy() for n, s, o, t in self._blk if t}
        text = loss_text = None
        if exact:
            try:
                lines = ctypes.string_at(txt.value).decode().split("\n")
            finally:
                library().snnpy_text_free(txt)
            loss_text, vals = lines[0], lines[1:1 + self.P]
            text = {n: np.array(vals[o:o + int(np.prod(s))], dtype=object).reshape(s) for n, s, o, t in self._blk if t}
        return Gradient(arrays, loss.value, rule, precision, text, loss_text)

    def run(self, precision=53):
        """One forward pass: (readout T x n_out, hidden outputs T x H with the
        layers side by side, loss)."""
        yo = np.empty((self.T, self.n_out))
        z = np.empty((self.T, max(self.n_hidden, 1)))
        loss = ctypes.c_double()
        _call(library().snnpy_run, self._h, int(precision), _dptr(yo), _dptr(z), ctypes.byref(loss))
        return yo, z[:, :self.n_hidden], loss.value

    def check(self, precisions=(53, 256)):
        """BPTT against Richardson finite differences (`snngrad check`): for a
        smooth network with both gradient options at keep.  Returns
        {"pass": bool, "precisions": {bits: {"rel_error", "tolerance", "pass",
        "blocks": {name: {"rel_error", "tolerance", "verdict", "pass"}}}}};
        errors are normwise relative, verdict "ok", "fail" or "unresolved"."""
        bits = np.array(precisions, dtype=np.int_)
        nb, k = len(self._blk), len(bits)
        lg, tol, ok = np.empty(k), np.empty(k), np.zeros(k, dtype=np.intc)
        blg, btol, bv = np.empty(k * nb), np.empty(k * nb), np.zeros(k * nb, dtype=np.intc)
        allp = ctypes.c_int()
        _call(library().snnpy_check, self._h, _lptr(bits), k, _dptr(lg), _dptr(tol), _iptr(ok), _dptr(blg),
              _dptr(btol), _iptr(bv), ctypes.byref(allp))
        out = {"pass": bool(allp.value), "precisions": {}}
        for i, b in enumerate(precisions):
            blocks = {}
            for j, (n, _, _, t) in enumerate(self._blk):
                if t:
                    v = int(bv[i * nb + j])
                    blocks[n] = {"rel_error": 10.0**blg[i * nb + j], "tolerance": 10.0**btol[i * nb + j],
                                 "verdict": BLOCK_VERDICTS[v], "pass": v != 1}
            out["precisions"][int(b)] = {"rel_error": 10.0**lg[i], "tolerance": 10.0**tol[i], "pass": bool(ok[i]),
                                         "blocks": blocks}
        return out

    def rules_check(self, rules="eprop", precisions=(53, 128, 256)):
        """Every rule against BPTT with the verdicts of `snngrad check --rules`:
        a list of {"rule", "verdict" (EXACT, APPROXIMATE, INCONCLUSIVE),
        "expected" (True, False, None), "as_documented", "why", "rel_error"
        {bits: e}, "blocks" {name: {"rel_error": {bits: e}, "verdict"}}}."""
        bits = np.array(precisions, dtype=np.int_)
        nb, k, mr = len(self._blk), len(bits), 16
        nr = ctypes.c_int()
        verdict, expect, agrees = (np.zeros(mr, dtype=np.intc) for _ in range(3))
        why = ctypes.create_string_buffer(256 * mr)
        lg, lgb = np.empty(mr * k), np.empty(mr * nb * k)
        bv = np.zeros(mr * nb, dtype=np.intc)
        _call(library().snnpy_rules_check, self._h, rules.encode(), _lptr(bits), k, ctypes.byref(nr), _iptr(verdict),
              _iptr(expect), _iptr(agrees), why, _dptr(lg), _dptr(lgb), _iptr(bv))
        names = _split_rules(rules)
        out = []
        for i in range(nr.value):
            blocks = {}
            for j, (n, _, _, t) in enumerate(self._blk):
                if t:
                    blocks[n] = {"rel_error": {int(b): 10.0**lgb[(i * nb + j) * k + q] for q, b in enumerate(precisions)},
                                 "verdict": VERDICTS[bv[i * nb + j]]}
            out.append({"rule": names[i] if i < len(names) else "?", "verdict": VERDICTS[verdict[i]],
                        "expected": {1: True, 0: False}.get(int(expect[i])), "as_documented": bool(agrees[i]),
                        "why": why.raw[256 * i:256 * (i + 1)].split(b"\0")[0].decode(),
                        "rel_error": {int(b): 10.0**lg[i * k + q] for q, b in enumerate(precisions)},
                        "blocks": blocks})
        return out

    def compare(self, theirs, rule="bptt", precision=128, c=None):
        """Your gradient (`theirs`: block name -> array, every trained block)
        against snngrad's under `rule` at `precision` bits, block by block.

        The rule: with u the unit roundoff of your arrays' dtype (float32:
        2^-24, float64: 2^-53, anything else as float64) and n the block's
        size, the block AGREES when its normwise relative error
        ||g - ref||_2 / ||ref||_2 is at most c * sqrt(n) * u (c = 10 by
        default), else DIFFERS; a block whose reference is exactly 0 agrees
        only if yours is 0 too.  The reference is computed well above your
        precision (128 bits by default), so the error is yours.  Returns
        {"agrees": all blocks agree, "blocks": {name: {"rel_error", "cosine",
        "tolerance", "n", "verdict" ("agrees" / "differs")}}}."""
        c = COMPARE_C if c is None else c
        ref = self.grad(rule=rule, precision=precision)
        unknown = sorted(set(theirs) - set(ref))
        if unknown:
            raise KeyError("not trained blocks of this network: %s; expected %s" % (", ".join(unknown), ", ".join(ref)))
        missing = [n for n in ref if n not in theirs]
        if missing:
            raise KeyError("missing blocks: %s" % ", ".join(missing))
        blocks, agrees = {}, True
        for name, r in ref.items():
            a = np.asarray(theirs[name])
            if a.shape != r.shape:
                raise ValueError("%s: expected shape %s, found %s" % (name, r.shape, a.shape))
            u = 2.0**-24 if a.dtype == np.float32 else 2.0**-53
            g = a.astype(np.float64)
            nref, ng = np.linalg.norm(r), np.linalg.norm(g)
            err = np.linalg.norm(g - r) / nref if nref > 0 else (0.0 if ng == 0 else math.inf)
            cos = float(np.dot(g.ravel(), r.ravel()) / (ng * nref)) if ng > 0 and nref > 0 else math.nan
            tol = c * math.sqrt(r.size) * u
            ok = err <= tol
            agrees &= ok
            blocks[name] = {"rel_error": float(err), "cosine": cos, "tolerance": tol, "n": int(r.size),
                            "verdict": "agrees" if ok else "differs"}
        return {"agrees": bool(agrees), "rule": rule, "precision": precision, "blocks": blocks}


def _split_rules(text):
    """"a,b:k=v,k2=v2,c" -> ["a", "b:k=v,k2=v2", "c"], as snngrad splits them."""
    out = []
    for tok in text.split(","):
        if "=" in tok and ":" not in tok and out:
            out[-1] += "," + tok
        else:
            out.append(tok)
    return out
