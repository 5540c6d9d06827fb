"""compare_make.py - the outside code of tests/compare.sh: NumPy saves a
gradient as one .npy per trained block, as a researcher's PyTorch/JAX/NumPy
code would.

  compare_make.py GRADS.json EXPORT_DIR OUT_DIR MODE [BLOCK]

GRADS.json is a snngrad gradient file (grad -o); EXPORT_DIR what `snngrad
export` wrote (its export.json gives the shapes).  MODE:
  f64        the gradient as float64
  f32        cast to float32
  f32as64    cast to float32 and back: float32's numbers, stored as float64
  perturb    float64, BLOCK's element of largest magnitude times 1 + 1e-3
  shape      float64, BLOCK transposed (or given a trailing axis)
  missing    float64, BLOCK left out
  nan        float64, BLOCK's first element NaN
  int        BLOCK as int64
  complex    BLOCK as complex128
  extra      float64, plus an unrelated extra.npy"""
import json
import os
import sys

import numpy as np

grads_path, export_dir, out, mode = sys.argv[1:5]
block = sys.argv[5] if len(sys.argv) > 5 else None
grads = json.load(open(grads_path))["grads"]
manifest = json.load(open(os.path.join(export_dir, "export.json")))
os.makedirs(out, exist_ok=True)
for b in manifest["blocks"]:
    if not b["trainable"]:
        continue
    name = b["name"]
    g = np.array(grads[name], dtype=np.float64).reshape(b["shape"])
    if mode == "f32":
        g = g.astype(np.float32)
    elif mode == "f32as64":
        g = g.astype(np.float32).astype(np.float64)
    if name == block:
        if mode == "perturb":
            i = np.unravel_index(np.argmax(np.abs(g)), g.shape)
            g[i] *= 1 + 1e-3
        elif mode == "shape":
            g = g.T.copy() if g.ndim == 2 else g[:, None]
        elif mode == "missing":
            continue
        elif mode == "nan":
            g.flat[0] = np.nan
        elif mode == "int":
            g = np.round(g).astype(np.int64)
        elif mode == "complex":
            g = g.astype(np.complex128)
    np.save(os.path.join(out, name + ".npy"), g)
if mode == "extra":
    np.save(os.path.join(out, "extra.npy"), np.zeros(3))
