#!/usr/bin/python3
"""torch_compare.py - a PyTorch gradient judged by `snngrad compare` (docs/compare.md).

    torch_compare.py SNNGRAD NET.json WORKDIR

1. `SNNGRAD export NET.json --npy WORKDIR/net` writes the parameters, the input and the
   target as .npy files;
2. the PyTorch model of torch_lif.py (LIF, float64) is loaded with them, the loss is
   computed and loss.backward() gives the gradient of every trained block, saved as
   WORKDIR/grads64/<block>.npy (float64) and WORKDIR/grads32/<block>.npy (a float32 copy);
3. `SNNGRAD compare NET.json --grads DIR` judges both: every block must agree.
4. The same with a deliberate bug in the model (the reset by this step's spike, see
   torch_lif.LIF's reset_at="current"): compare must say DIFFERS, in the blocks the
   reset reaches. A forward bug changes the trajectory, so every block differs, the
   readout's included; a second, backward-only bug (z^{t-1} detached in the reset while
   the network says keep; reset_at="detached") leaves the forward and the readout's
   gradient as they are: compare must find it in the layer's blocks only.

The network must be what torch_lif.LIF computes: one recurrent lif layer, mse, reset
subtract, input_scale 1, both gradient options keep (a smooth sigmoid forward, or a
heaviside one with the triangle or fast_sigmoid surrogate). Exit 0 when the correct model
agrees (float64 and float32) and both buggy ones are caught; 1 otherwise.
"""
import json
import os
import subprocess
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_lif import LIF, loss_mse  # noqa: E402


def torch_grads(net_dir, reset_at):
    spec = json.load(open(os.path.join(net_dir, "network.json")))
    exp = json.load(open(os.path.join(net_dir, "export.json")))
    lay = spec["layers"][0]
    assert len(spec["layers"]) == 1 and lay["model"] == "lif" and lay.get("recurrent")
    assert spec.get("loss", {}).get("kind", "mse") == "mse"
    assert lay.get("reset", "subtract") == "subtract" and lay.get("input_scale", 1) == 1
    assert all(v == "keep" for v in spec.get("gradient", {}).values())
    sp = spec.get("spike", {})
    ld = lambda b: torch.from_numpy(np.load(os.path.join(net_dir, b + ".npy")))
    w_in = ld("layer0.w_in")
    n, n_in = w_in.shape
    n_out = ld("readout.w").shape[0]
    net = LIF(n_in, n, n_out, tau_mem=lay.get("tau_mem", 20.0), v_th=lay.get("threshold", 1.0),
              tau_out=spec.get("readout", {}).get("tau_out", 0.0), dt=spec.get("dt", 1.0),
              forward=sp.get("forward", "heaviside"), surrogate=sp.get("surrogate", "triangle"),
              gamma=sp.get("gamma", 0.3), slope=sp.get("slope", 5.0), reset_at=reset_at,
              train_consts=True)
    names = {"layer0.w_in": net.w_in, "layer0.w_rec": net.w_rec, "layer0.tau_mem": net.tau_mem,
             "layer0.threshold": net.v_th, "readout.w": net.w_out, "readout.b": net.b_out}
    with torch.no_grad():
        for b in exp["blocks"]:
            names[b["name"]].copy_(ld(b["name"]))
    x = ld("input").unsqueeze(1)          # T x 1 x n_in
    target = ld("target").unsqueeze(1)    # T x 1 x n_out
    window = spec.get("loss", {}).get("window")
    loss = loss_mse(net(x), target, window)
    loss.backward()
    return loss.item(), block_grads(exp, names)


def block_grads(exp, names):
    """Every trained block's gradient (export's block list), zeros where autograd left none."""
    grads = {}
    for b in exp["blocks"]:
        if b["trainable"]:
            g = names[b["name"]].grad
            grads[b["name"]] = g.detach().numpy() if g is not None else np.zeros(b["shape"])
    return grads


def save(grads, d, dtype):
    os.makedirs(d, exist_ok=True)
    for k, g in grads.items():
        np.save(os.path.join(d, k + ".npy"), g.astype(dtype))


def compare(snngrad, net, d):
    r = subprocess.run([snngrad, "compare", net, "--grads", d], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, universal_newlines=True)
    print("$ snngrad compare %s --grads %s   (exit %d)" % (net, d, r.returncode))
    print(r.stdout)
    return r.returncode


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    snngrad, net, work = sys.argv[1:]
    torch.set_num_threads(1)
    net_dir = os.path.join(work, "net")
    os.makedirs(work, exist_ok=True)
    subprocess.run([snngrad, "export", net, "--npy", net_dir], check=True)
    ok = True
    loss, g = torch_grads(net_dir, "previous")
    print("torch loss (correct model): %.17g" % loss)
    save(g, os.path.join(work, "grads64"), np.float64)
    save(g, os.path.join(work, "grads32"), np.float32)
    ok &= compare(snngrad, net, os.path.join(work, "grads64")) == 0
    ok &= compare(snngrad, net, os.path.join(work, "grads32")) == 0
    loss_b, gb = torch_grads(net_dir, "current")
    print("torch loss (buggy reset, v_th z^t right after the spike): %.17g" % loss_b)
    save(gb, os.path.join(work, "grads_bug"), np.float64)
    ok &= compare(snngrad, net, os.path.join(work, "grads_bug")) == 1
    loss_d, gd = torch_grads(net_dir, "detached")
    print("torch loss (reset path detached in autograd; same forward): %.17g" % loss_d)
    save(gd, os.path.join(work, "grads_detach"), np.float64)
    ok &= compare(snngrad, net, os.path.join(work, "grads_detach")) == 1
    print("torch_compare: %s" % ("ok: the model agrees in float64 and float32, both bugs are caught" if ok
                                 else "FAILED"))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
