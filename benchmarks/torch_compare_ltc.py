#!/usr/bin/python3
"""torch_compare_ltc.py - a PyTorch ltc gradient judged by `snngrad compare` (docs/compare.md).

    torch_compare_ltc.py SNNGRAD NET.json WORKDIR

torch_compare.py's check for the ltc neuron: for each network below,

1. `SNNGRAD export NET --npy WORKDIR/<case>/net` writes the parameters, the input and the
   target (or label) as .npy files;
2. torch_ltc.LTC (float64) is loaded with them, the loss computed, loss.backward() gives
   every trained block's gradient, saved as <block>.npy in float64 and as a float32 copy;
3. `SNNGRAD compare NET --grads DIR --json` judges them: every block must agree;
4. deliberately wrong models must be reported DIFFERS, in the layer's blocks. The readout's
   gradient depends only on the outputs and dE/dy, so readout.w and readout.b must differ
   exactly when the wrong model's outputs (its loss) do: a backward-only bug leaves them
   as they are; a forward bug changes them with the sigmoid forward, but with a
   heaviside spike only if it moves a threshold crossing (on these networks it does not:
   there the bug is seen in the layer's blocks alone).

The cases, all derived from NET.json (one recurrent ltc layer; the variants are written
into WORKDIR):
  sigmoid     NET.json as it is (its smooth sigmoid forward: a true derivative);
              bugs mix_v (forward), detach_reset (backward only)
  heaviside   the same with the heaviside spike and the multi_gaussian surrogate;
              bugs mix_v, detach_reset
  detach      heaviside with gradient.reset = detach (z^{t-1} cut in v^t and in the
              W_tau_m mix, docs/models.md); bug half_detach (cut in v^t only)
  ce_uniform  the timed configuration of torch_ltc.py on NET's sizes: heaviside,
              multi_gaussian, "initial_state": "uniform" (snngrad's draws, sequence 0),
              tau_out 0, ce on the last step; bug zero_state (the state drawn by snngrad
              ignored: a zero start)

Exit 0 when every correct model agrees (float64 and float32) and every bug is caught
where it should be; 1 otherwise.
"""
import copy
import json
import os
import subprocess
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_compare import block_grads, save  # noqa: E402
from torch_ltc import LTC, loss_ce, loss_mse, uniform01  # noqa: E402

FORWARD_BUGS = {"mix_v", "zero_state"}


def variants(spec):
    """The networks of the cases: name -> (network, bugs)."""
    hv = copy.deepcopy(spec)
    hv["spike"] = {"forward": "heaviside", "surrogate": "multi_gaussian"}
    dt = copy.deepcopy(hv)
    dt["gradient"] = dict(dt.get("gradient", {}), reset="detach")
    ce = copy.deepcopy(hv)
    ce["layers"][0]["initial_state"] = "uniform"
    ce["readout"] = dict(ce.get("readout", {}), tau_out=0)
    ce["loss"] = {"kind": "ce", "window": [spec["steps"], spec["steps"]]}
    for s, d in ((hv, "heaviside spike, multi_gaussian surrogate"),
                 (dt, "heaviside, multi_gaussian, gradient.reset = detach"),
                 (ce, "heaviside, multi_gaussian, uniform initial state, tau_out 0, ce on the last step")):
        s["description"] = "torch_compare_ltc.py: %s, from %s" % (d, spec.get("description", "")[:60])
    return [("sigmoid", spec, ["mix_v", "detach_reset"]), ("heaviside", hv, ["mix_v", "detach_reset"]),
            ("detach", dt, ["half_detach"]), ("ce_uniform", ce, ["zero_state"])]


def torch_grads(net_dir, bug):
    spec = json.load(open(os.path.join(net_dir, "network.json")))
    exp = json.load(open(os.path.join(net_dir, "export.json")))
    lay = spec["layers"][0]
    assert len(spec["layers"]) == 1 and lay["model"] == "ltc" and lay.get("recurrent"), \
        "torch_ltc.LTC is one recurrent ltc layer"
    assert not lay.get("delays") and "rate_reg" not in spec.get("loss", {})
    sp = spec.get("spike", {})
    gr = spec.get("gradient", {})
    ld = lambda b: torch.from_numpy(np.load(os.path.join(net_dir, b + ".npy")))
    w_in = ld("layer0.w_in")
    n, n_in = w_in.shape
    n_out = ld("readout.w").shape[0]
    b0 = lay.get("threshold", 0.1)
    net = LTC(n_in, n, n_out, b0=b0, beta=lay.get("beta", 1.8),
              tau_out=spec.get("readout", {}).get("tau_out", 0.0), dt=spec.get("dt", 1.0),
              self_connections=lay.get("self_connections", False),
              forward=sp.get("forward", "heaviside"), surrogate=sp.get("surrogate", "triangle"),
              gamma=sp.get("gamma", 0.3), slope=sp.get("slope", 5.0),
              reset=gr.get("reset", "keep"), recurrent=gr.get("recurrent", "keep"),
              train_consts=True, bug=None if bug in ("zero_state",) else bug)
    names = {"layer0.w_in": net.w_in, "layer0.w_rec": net.w_rec, "layer0.bias": net.bias,
             "layer0.w_tau_m": net.w_tau_m, "layer0.w_tau_adp": net.w_tau_adp,
             "layer0.threshold": net.b0, "layer0.beta": net.beta, "readout.w": net.w_out,
             "readout.b": net.b_out}
    with torch.no_grad():
        for b in exp["blocks"]:
            names[b["name"]].copy_(ld(b["name"]))
    x = ld("input").unsqueeze(1)  # T x 1 x n_in
    T = x.shape[0]
    v0 = None
    if lay.get("initial_state", "zero") == "uniform" and bug != "zero_state":
        # sequence 0 (grad, check and compare), layer 0, draw i = unit i's membrane
        v0 = torch.tensor([[uniform01(spec.get("seed", 0), 0, 0, i) for i in range(n)]], dtype=torch.float64)
    ys = net(x, v0)
    ls = spec.get("loss", {})
    if ls.get("kind", "mse") == "ce":
        label = torch.tensor([int(np.load(os.path.join(net_dir, "label.npy")))])
        loss = loss_ce(ys, label, tuple(ls.get("window", (1, T))))
    else:
        loss = loss_mse(ys, ld("target").unsqueeze(1), ls.get("window"))
    loss.backward()
    return loss.item(), block_grads(exp, names)


def compare(snngrad, net, d):
    js = d.rstrip("/") + ".compare.json"
    r = subprocess.run([snngrad, "compare", net, "--grads", d, "--json", js], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, universal_newlines=True)
    print("$ snngrad compare %s --grads %s   (exit %d)" % (net, d, r.returncode))
    print(r.stdout)
    rep = json.load(open(js)) if r.returncode in (0, 1) and os.path.exists(js) else None
    return r.returncode, rep


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    snngrad, net, work = sys.argv[1:]
    torch.set_num_threads(1)
    os.makedirs(work, exist_ok=True)
    spec = json.load(open(net))
    ok = True
    summary = []
    for case, cspec, bugs in variants(spec):
        cdir = os.path.join(work, case)
        os.makedirs(cdir, exist_ok=True)
        cnet = net if case == "sigmoid" else os.path.join(work, case + ".json")
        if cnet != net:
            with open(cnet, "w") as f:
                json.dump(cspec, f, indent=1)
        print("==== case %s: %s" % (case, cnet))
        subprocess.run([snngrad, "export", cnet, "--npy", os.path.join(cdir, "net")], check=True)
        loss, g = torch_grads(os.path.join(cdir, "net"), None)
        print("torch loss (correct model): %.17g" % loss)
        for tag, dtype in (("grads64", np.float64), ("grads32", np.float32)):
            save(g, os.path.join(cdir, tag), dtype)
            rc, rep = compare(snngrad, cnet, os.path.join(cdir, tag))
            good = rc == 0
            ok &= good
            summary.append((case, "correct", tag[5:], rc, rep, good))
        for bug in bugs:
            loss_b, gb = torch_grads(os.path.join(cdir, "net"), bug)
            print("torch loss (bug %s): %.17g" % (bug, loss_b))
            save(gb, os.path.join(cdir, "grads_" + bug), np.float64)
            rc, rep = compare(snngrad, cnet, os.path.join(cdir, "grads_" + bug))
            good = rc == 1 and rep is not None
            if good:
                ro_differ = [k for k in rep["differ"] if k.startswith("readout.")]
                layer_differ = [k for k in rep["differ"] if k.startswith("layer")]
                # the readout's gradient depends only on the trajectory and dE/dy: it must
                # differ exactly when the outputs (the loss) do. A backward-only bug keeps
                # them; so does a forward bug that moves no threshold crossing of a
                # heaviside spike, which only the layer's blocks can show.
                same_fwd = loss_b == loss
                good = bool(layer_differ) and (not ro_differ if same_fwd else bool(ro_differ))
                if bug not in FORWARD_BUGS:
                    good &= same_fwd
            ok &= good
            summary.append((case, bug, "64", rc, rep, good))
    print("==== summary (err@ref: the relative error against snngrad's reference precision)")
    for case, model, bits, rc, rep, good in summary:
        if rep is None:
            print("%-10s %-13s float%s  exit %d  no report  %s" % (case, model, bits, rc, "ok" if good else "FAILED"))
            continue
        errs = " ".join("%s %.1e%s" % (k.split(".", 1)[1] if k.startswith("layer0.") else k, v["rel_error"],
                                       "" if v["verdict"] == "agrees" else "*")
                        for k, v in rep["blocks"].items())
        print("%-10s %-13s float%s  exit %d  %-8s  %s  [%s]" % (case, model, bits, rc, rep["verdict"].split()[0],
                                                               errs, "ok" if good else "FAILED"))
    print("(* = DIFFERS)")
    print("torch_compare_ltc: %s" % ("ok: every correct model agrees in float64 and float32, every bug is caught"
                                     if ok else "FAILED"))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
