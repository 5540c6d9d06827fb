"""e-prop in a few dozen lines of NumPy, checked by snngrad.

One recurrent ALIF layer with a leaky readout (examples/alif_recurrent.json,
cross-entropy over a recall window), with both gradient options at "detach":
there e-prop with its online learning signal and symmetric feedback
B = W_out^T is exactly snngrad's eprop rule (docs/eprop.md).  The NumPy
version is compared with snngrad's "eprop" at 53 and 256 bits, block by
block; then a deliberate bug (the leak factor forgotten in the presynaptic
trace of the recurrent weights) is caught in layer0.w_rec and nowhere else.

    SNNGRAD_LIB=build/python/libsnngrad_py.so PYTHONPATH=python \\
        /usr/bin/python3 python/examples/eprop_numpy.py [examples/alif_recurrent.json]
"""

import json
import math
import os
import sys

import numpy as np

import snngrad


def eprop_network(path):
    """The example network with both gradient options at detach."""
    with open(path) as f:
        spec = json.load(f)
    spec["gradient"] = {"reset": "detach", "recurrent": "detach"}
    return snngrad.Network.from_json(spec)


def eprop(net, spec, bug=False):
    """e-prop for one recurrent ALIF layer (docs/network.md, docs/eprop.md):
    the eligibility trace e_ji = psi_j (eps_v - beta eps_a) of each synapse,
    filtered by the readout's kappa, times the learning signal
    L_j = sum_k W_out[k, j] dE/dy_k.  Returns {block: gradient}."""
    p, x, T = net.params, net.input, net.T
    lay, dt = spec["layers"][0], spec.get("dt", 1.0)
    W_in, W_rec, W_out, b_out = p["layer0.w_in"], p["layer0.w_rec"], p["readout.w"], p["readout.b"]
    n = W_in.shape[0]
    alpha, rho = math.exp(-dt / lay["tau_mem"]), math.exp(-dt / lay["tau_adapt"])
    kappa = math.exp(-dt / spec["readout"]["tau_out"])
    vth, beta, gamma = lay["threshold"], lay["beta"], spec["spike"]["gamma"]
    first, last = spec["loss"]["window"]
    label = net.label

    v, a, z, y = np.zeros(n), np.zeros(n), np.zeros(n), np.zeros(net.n_out)
    # traces per synapse: eps_v (membrane), eps_a (adaptation), e of the step before, e filtered
    ev_in, ea_in, e_in, f_in = (np.zeros_like(W_in) for _ in range(4))
    ev_rec, ea_rec, e_rec, f_rec = (np.zeros_like(W_rec) for _ in range(4))
    zbar, bbar = np.zeros(n), 0.0
    g = {k: np.zeros_like(p[k]) for k in ("layer0.w_in", "layer0.w_rec", "readout.w", "readout.b")}
    for t in range(1, T + 1):
        z_prev = z
        a = rho * a + z_prev
        v = alpha * v + W_in @ x[t - 1] + W_rec @ z_prev - vth * z_prev
        u = v - (vth + beta * a)
        z = (u > 0).astype(float)
        psi = (gamma / vth) * np.maximum(0.0, 1.0 - np.abs(u) / vth)
        y = kappa * y + W_out @ z + b_out
        # eligibility: the adaptation trace takes the previous step's e, then the membrane trace
        ea_in = rho * ea_in + e_in
        ea_rec = rho * ea_rec + e_rec
        ev_in = alpha * ev_in + x[t - 1][None, :]
        ev_rec = (1.0 if bug else alpha) * ev_rec + z_prev[None, :]
        e_in = psi[:, None] * (ev_in - beta * ea_in)
        e_rec = psi[:, None] * (ev_rec - beta * ea_rec)
        f_in, f_rec = kappa * f_in + e_in, kappa * f_rec + e_rec
        zbar, bbar = kappa * zbar + z, kappa * bbar + 1.0
        if first <= t <= last:  # cross-entropy: dE/dy = softmax(y) - onehot(label)
            s = np.exp(y - y.max())
            dy = s / s.sum()
            dy[label] -= 1.0
            L = W_out.T @ dy  # the learning signal, symmetric feedback
            g["layer0.w_in"] += L[:, None] * f_in
            g["layer0.w_rec"] += L[:, None] * f_rec
            g["readout.w"] += np.outer(dy, zbar)
            g["readout.b"] += dy * bbar
    np.fill_diagonal(g["layer0.w_rec"], 0.0)
    return g


def report(net, mine, title):
    print(title)
    results = {}
    for bits in (53, 256):
        r = net.compare(mine, rule="eprop", precision=bits)
        results[bits] = r
        for name, b in r["blocks"].items():
            print("  %3d bits  %-14s rel. error %.2e (tolerance %.1e)  cosine %.15f  %s" %
                  (bits, name, b["rel_error"], b["tolerance"], b["cosine"], b["verdict"]))
    return results


def main(path):
    with open(path) as f:
        spec = json.load(f)
    net = eprop_network(path)
    for r in net.rules_check("eprop", (53, 128, 256)):
        print("snngrad: eprop against BPTT on this network: %s (%s)" % (r["verdict"], r["why"]))
    good = report(net, eprop(net, spec), "NumPy e-prop against snngrad's eprop:")
    bad = report(net, eprop(net, spec, bug=True), "with the leak factor forgotten in the recurrent presynaptic trace:")
    ok = all(good[b]["agrees"] for b in good)
    caught = {n for b in bad for n, v in bad[b]["blocks"].items() if v["verdict"] == "differs"}
    print("correct e-prop: %s; buggy e-prop differs in: %s" %
          ("agrees" if ok else "DIFFERS", ", ".join(sorted(caught)) or "nothing"))
    return 0 if ok and caught == {"layer0.w_rec"} else 1


if __name__ == "__main__":
    here = os.path.dirname(os.path.abspath(__file__))
    default = os.path.join(here, "..", "..", "examples", "alif_recurrent.json")
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else default))
