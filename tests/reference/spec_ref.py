#!/usr/bin/env python3
"""An independent reference for SPEC.md: a scalar reverse-mode autodiff in pure
Python (double precision), written from the contract's equations and not from
snngrad's C code.  It reads a network file, the parameter file written by
`snngrad init` and the gradient file written by `snngrad grad --rule bptt`,
recomputes the loss and its gradient, and fails if any trainable block differs
by more than the given normwise relative tolerance.

Usage: spec_ref.py NET.json PARAMS.json GRADS.json [--tol 1e-12]
"""
import json
import math
import sys


M64 = (1 << 64) - 1


def mix64(z):
    """splitmix64's finaliser, as the contract's extension draws initial states (docs/models.md)."""
    z = (z + 0x9E3779B97F4A7C15) & M64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
    return z ^ (z >> 31)


def uniform01(seed, sid, layer, unit):
    """The draw of unit `unit` of layer `layer` in sequence `sid`: 53 bits in [0, 1)."""
    z = mix64(mix64(mix64(mix64(seed) ^ sid) ^ layer) ^ unit)
    return (z >> 11) / float(1 << 53)


class V:
    """A scalar in the graph: value, parents and local derivatives."""
    __slots__ = ("v", "parents", "g")

    def __init__(self, v, parents=()):
        self.v = float(v)
        self.parents = parents  # tuple of (node, d self / d node)
        self.g = 0.0

    def __add__(a, b):
        b = b if isinstance(b, V) else V(b)
        return V(a.v + b.v, ((a, 1.0), (b, 1.0)))

    __radd__ = __add__

    def __sub__(a, b):
        b = b if isinstance(b, V) else V(b)
        return V(a.v - b.v, ((a, 1.0), (b, -1.0)))

    def __rsub__(a, b):
        return V(b) - a

    def __mul__(a, b):
        b = b if isinstance(b, V) else V(b)
        return V(a.v * b.v, ((a, b.v), (b, a.v)))

    __rmul__ = __mul__

    def __neg__(a):
        return V(-a.v, ((a, -1.0),))

    def __truediv__(a, b):
        b = b if isinstance(b, V) else V(b)
        return V(a.v / b.v, ((a, 1.0 / b.v), (b, -a.v / (b.v * b.v))))


def vexp(a):
    e = math.exp(a.v)
    return V(e, ((a, e),))


def vlog(a):
    return V(math.log(a.v), ((a, 1.0 / a.v),))


def vsig(a):
    s = sigmoid(a.v)
    return V(s, ((a, s * (1.0 - s)),))


def vtanh(a):
    t = math.tanh(a.v)
    return V(t, ((a, 1.0 - t * t),))


def const(a):
    """Stop-gradient: the same value, no path back."""
    return V(a.v)


def relu(a):
    return V(a.v, ((a, 1.0),)) if a.v > 0 else V(0.0)


def sigmoid(x):
    return 1.0 / (1.0 + math.exp(-x))


def surrogate(kind, u, vth, gamma, k):
    if kind == "triangle":
        return gamma / vth * max(0.0, 1.0 - abs(u) / vth)
    if kind == "fast_sigmoid":
        return 1.0 / (1.0 + k * abs(u)) ** 2
    if kind == "sigmoid":
        s = sigmoid(k * u)
        return k * s * (1.0 - s)
    if kind == "tanh":
        return 1.0 - math.tanh(u) ** 2
    if kind == "multi_gaussian":  # Yin et al.: sigma 0.3, h 0.15, s 6, gamma 0.5
        def g(x, mu, sd):
            return math.exp(-(x - mu) ** 2 / (2 * sd * sd)) / (math.sqrt(2 * math.pi) * sd)
        return 0.5 * (1.15 * g(u, 0.0, 0.3) - 0.15 * g(u, 0.3, 1.8) - 0.15 * g(u, -0.3, 1.8))
    if kind == "boxcar":  # sparch: the gradient passes for -1/2 < u <= 1/2
        return 1.0 if -0.5 < u <= 0.5 else 0.0
    raise ValueError(kind)


def spike(u, sp, vth):
    """SPEC section 2: the forward and the derivative every rule uses."""
    k = sp.get("slope", 5.0)
    if sp.get("forward", "heaviside") == "sigmoid":
        z = sigmoid(k * u.v)
        return V(z, ((u, k * z * (1.0 - z)),))
    vthv = vth.v if isinstance(vth, V) else vth
    psi = surrogate(sp.get("surrogate", "triangle"), u.v, vthv, sp.get("gamma", 0.3), k)
    return V(1.0 if u.v > 0 else 0.0, ((u, psi),))


def backward(root):
    order, seen, stack = [], set(), [(root, False)]
    while stack:
        node, done = stack.pop()
        if done:
            order.append(node)
            continue
        if id(node) in seen:
            continue
        seen.add(id(node))
        stack.append((node, True))
        for p, _ in node.parents:
            if id(p) not in seen:
                stack.append((p, False))
    root.g = 1.0
    for node in reversed(order):
        for p, d in node.parents:
            p.g += d * node.g


def num(x):
    return float(x)  # JSON numbers or decimal strings


CONSTS = {"lif": ["tau_mem", "threshold"], "alif": ["tau_mem", "threshold", "tau_adapt", "beta"], "snu": ["decay", "bias"],
          "adlif": ["tau_mem", "threshold", "tau_adapt", "a", "b"], "lstm": [], "gru": [], "ltc": ["threshold", "beta"]}
# currents per unit; which currents the stacked rows of w_in and w_rec feed (docs/models.md)
SHAPE = {"lstm": (4, [0, 1, 2, 3], [0, 1, 2, 3]), "gru": (4, [0, 1, 2], [0, 1, 3]), "ltc": (3, [0], [0])}
GATED = ("lstm", "gru")


def delay_kernel(D, dmax, kernel, sigma, rnd):
    """Weights over the taps 0..dmax for a real delay D (docs/delays.md)."""
    if D.v < 0 or D.v > dmax:
        D = V(min(max(D.v, 0.0), float(dmax)))
    if rnd:
        k = [V(0.0)] * (dmax + 1)
        k[int(math.floor(D.v + 0.5))] = V(1.0)
        return k
    if kernel == "linear":
        f = min(int(math.floor(D.v)), dmax - 1)
        frac = D - float(f)
        k = [V(0.0)] * (dmax + 1)
        k[f], k[f + 1] = 1.0 - frac, frac
        return k
    e = [vexp((D - float(d)) * (D - float(d)) / (-2.0 * sigma * sigma)) for d in range(dmax + 1)]
    Z = sum(e[1:], e[0])
    return [x / Z for x in e]
DEFAULTS = {"tau_mem": 20.0, "threshold": 1.0, "tau_adapt": 200.0, "beta": 1.8, "decay": 0.8, "a": 0.5, "b": 1.0}
# adlif (Bittar & Garner 2022): bounds applied as a clamp in the forward pass
ADLIF_BOUNDS = {"tau_mem": (5.0, 25.0), "tau_adapt": (30.0, 120.0), "a": (-1.0, 1.0), "b": (0.0, 2.0)}


def clamp(x, lo, hi):
    if x.v < lo:
        return V(lo)
    if x.v > hi:
        return V(hi)
    return V(x.v, ((x, 1.0),))


def run(net, par):
    T, dt = net["steps"], net.get("dt", 1.0)
    sp = net.get("spike", {})
    gopt = net.get("gradient", {})
    det_reset = gopt.get("reset", "keep") == "detach"
    det_rec = gopt.get("recurrent", "keep") == "detach"
    P = par["params"]
    leaves = {}

    def leaf(name, shape):
        if name not in leaves:
            raw = P[name]
            if shape == 2:
                leaves[name] = [[V(num(x)) for x in row] for row in raw]
            else:
                leaves[name] = [V(num(x)) for x in raw]
        return leaves[name]

    layers = []
    for i, ly in enumerate(net["layers"]):
        m, n = ly["model"], ly["size"]
        L = {"m": m, "n": n, "rec": ly.get("recurrent", False), "w_in": leaf(f"layer{i}.w_in", 2),
             "self": ly.get("self_connections", m in GATED)}  # w_rec's diagonal: the model's default, or the layer's
        if L["rec"]:
            L["w_rec"] = leaf(f"layer{i}.w_rec", 2)
        for c in CONSTS[m]:
            name = f"layer{i}.{c}"
            if name in P:
                L[c] = leaf(name, 1)
            elif c == "bias":
                raise KeyError(name)
            else:
                dflt = 60.0 if (m == "adlif" and c == "tau_adapt") else DEFAULTS[c]
                L[c] = [V(ly.get(c, dflt)) for _ in range(n)]
        m_cur, in_cur, rec_cur = SHAPE.get(m, (1, [0], [0]))
        L["cur"] = (m_cur, in_cur, rec_cur)
        if m in SHAPE:
            L["bias"] = leaf(f"layer{i}.bias", 1)
        if m == "ltc":
            L["w_tau_m"] = leaf(f"layer{i}.w_tau_m", 2)
            L["w_tau_adp"] = leaf(f"layer{i}.w_tau_adp", 2)
            if f"layer{i}.threshold" not in P:
                L["threshold"] = [V(ly.get("threshold", 0.1)) for _ in range(n)]
        dl = ly.get("delays")
        if dl:
            D = leaf(f"layer{i}.delay", 2)
            L["kw"] = [[delay_kernel(d, dl["max"], dl.get("kernel", "linear"), dl.get("sigma", 0.5), dl.get("round", False))
                        for d in row] for row in D]
            L["hist"] = []
        if m == "adlif" and ly.get("bounds", "clamp") == "clamp":
            for c, (lo, hi) in ADLIF_BOUNDS.items():
                L[c] = [clamp(x, lo, hi) for x in L[c]]
        L["reset"] = ly.get("reset", "subtract") == "subtract"
        L["one_minus_alpha"] = str(ly.get("input_scale", 1)) == "1-alpha"
        L["relu"] = ly.get("activation", "identity") == "relu"
        if m in ("lif", "alif", "adlif"):
            L["alpha"] = [vexp(V(-dt) / t) for t in L["tau_mem"]]
        if m in ("alif", "adlif"):
            L["rho"] = [vexp(V(-dt) / t) for t in L["tau_adapt"]]
        layers.append(L)
    ro = net["readout"]
    W_out, b_out = leaf("readout.w", 2), leaf("readout.b", 1)
    kappa = math.exp(-dt / ro["tau_out"]) if ro.get("tau_out", 0.0) > 0 else 0.0
    X = [[num(x) for x in row] for row in par["input"]]
    loss_cfg = net.get("loss", {})
    kind = loss_cfg.get("kind", "mse")
    first, last = loss_cfg.get("window", [1, T])

    state = []
    for li, L in enumerate(layers):
        n = L["n"]
        state.append({"v": [V(0.0)] * n, "a": [V(0.0)] * n, "z": [V(0.0)] * n})
        if net["layers"][li].get("initial_state", "zero") == "uniform":
            # draw q of unit i is number q n + i of the layer's stream
            draw = [uniform01(net.get("seed", 1), 0, li, q) for q in range(3 * n)]
            if L["m"] == "ltc":  # v ~ U(0, 1), b = the file's threshold
                state[li]["v"] = [V(draw[i]) for i in range(n)]
                state[li]["a"] = [V(net["layers"][li].get("threshold", 0.1))] * n
            else:  # adlif (sparch): u, w and the output before step 1 ~ U(0, 1)
                state[li]["v"] = [V(draw[i]) for i in range(n)]
                state[li]["a"] = [V(draw[n + i]) for i in range(n)]
                state[li]["z"] = [V(draw[2 * n + i]) for i in range(n)]
    y = [V(0.0)] * ro["size"]
    E = V(0.0)
    zsum = [[V(0.0)] * L["n"] for L in layers]
    for t in range(1, T + 1):
        inp = [V(x) for x in X[t - 1]]
        for li, L in enumerate(layers):
            S, n = state[li], L["n"]
            zp = S["z"]
            zp_rec = [const(z) for z in zp] if det_rec else zp
            zp_res = [const(z) for z in zp] if det_reset else zp
            newv, newa, newz = [], [], []
            m_cur, in_cur, rec_cur = L["cur"]
            cur = [[V(0.0)] * n for _ in range(m_cur)]
            if "kw" in L:
                L["hist"].insert(0, inp)  # inputs x^t, x^{t-1}, ...
            for r, q in enumerate(in_cur):
                for i in range(n):
                    row = r * n + i
                    for j in range(len(inp)):
                        if "kw" in L:
                            k = L["kw"][row][j]
                            xd = sum((k[d] * L["hist"][d][j] for d in range(min(len(k), len(L["hist"])))), V(0.0))
                        else:
                            xd = inp[j]
                        cur[q][i] = cur[q][i] + L["w_in"][row][j] * xd
            if L["rec"]:
                for r, q in enumerate(rec_cur):
                    for i in range(n):
                        for j in range(n):
                            if j != i or L["self"]:
                                cur[q][i] = cur[q][i] + L["w_rec"][r * n + i][j] * zp_rec[j]
            if "bias" in L and L["m"] != "snu":
                for q in range(m_cur):
                    for i in range(n):
                        cur[q][i] = cur[q][i] + L["bias"][q * n + i]
            if L["m"] == "ltc":  # the time-constant mixes: [I, u^{t-1} after the reset] and [I, b^{t-1}]
                up = [(1.0 - zp_res[j]) * S["v"][j] for j in range(n)]
                for i in range(n):
                    for j in range(n):
                        cur[1][i] = cur[1][i] + L["w_tau_m"][i][j] * cur[0][j] + L["w_tau_m"][i][n + j] * up[j]
                        cur[2][i] = cur[2][i] + L["w_tau_adp"][i][j] * cur[0][j] + L["w_tau_adp"][i][n + j] * S["a"][j]
            for i in range(n):
                I = cur[0][i]
                if L["m"] == "lstm":
                    c = vsig(cur[1][i]) * S["a"][i] + vsig(cur[0][i]) * vtanh(cur[2][i])
                    h = vsig(cur[3][i]) * vtanh(c)
                    newa.append(c)
                    newv.append(h)
                    newz.append(h)
                    zsum[li][i] = zsum[li][i] + h
                    continue
                if L["m"] == "gru":
                    ug = vsig(cur[1][i])
                    nn = vtanh(cur[2][i] + vsig(cur[0][i]) * cur[3][i])
                    h = (1.0 - ug) * nn + ug * S["v"][i]
                    newv.append(h)
                    newz.append(h)
                    zsum[li][i] = zsum[li][i] + h
                    continue
                if L["m"] == "ltc":
                    tm, ta = vsig(cur[1][i]), vsig(cur[2][i])
                    b = ta * S["a"][i] + (1.0 - ta) * zp[i]  # adaptation: never detached
                    v = (1.0 - tm) * up[i] + tm * I
                    newa.append(b)
                    z = spike(v - (L["threshold"][i] + L["beta"][i] * b), sp, L["threshold"][i])
                elif L["m"] == "adlif":
                    # w = beta w + a u + b z (adaptation, never detached);
                    # u = alpha (u - v_th z) + (1 - alpha)(I - w); the reset is detachable
                    al = L["alpha"][i]
                    w = L["rho"][i] * S["a"][i] + L["a"][i] * S["v"][i] + L["b"][i] * zp[i]
                    v = al * (S["v"][i] - L["threshold"][i] * zp_res[i]) + (1.0 - al) * (I - w)
                    newa.append(w)
                    z = spike(v - L["threshold"][i], sp, L["threshold"][i])
                elif L["m"] in ("lif", "alif"):
                    al = L["alpha"][i]
                    zeta = (1.0 - al) if L["one_minus_alpha"] else 1.0
                    v = al * S["v"][i] + zeta * I
                    if L["reset"]:
                        v = v - L["threshold"][i] * zp_res[i]
                    if L["m"] == "alif":
                        a = L["rho"][i] * S["a"][i] + zp[i]  # the adaptation path is never detached
                        u = v - (L["threshold"][i] + L["beta"][i] * a)
                        newa.append(a)
                    else:
                        u = v - L["threshold"][i]
                    z = spike(u, sp, L["threshold"][i])
                else:  # snu
                    arg = I + L["decay"][i] * S["v"][i] * (1.0 - zp_res[i])
                    s = relu(arg) if L["relu"] else arg
                    v = s
                    z = spike(s + L["bias"][i], sp, 1.0)
                newv.append(v)
                newz.append(z)
                zsum[li][i] = zsum[li][i] + z
            S["v"], S["z"] = newv, newz
            if newa:
                S["a"] = newa
            inp = newz
        y = [kappa * y[k] + sum((W_out[k][j] * inp[j] for j in range(len(inp))), V(0.0)) + b_out[k]
             for k in range(ro["size"])]
        if first <= t <= last:
            if kind == "mse":
                for k in range(ro["size"]):
                    d = y[k] - num(par["target"][t - 1][k])
                    E = E + 0.5 * d * d
            else:
                mx = max(yk.v for yk in y)
                lse = vlog(sum((vexp(yk - mx) for yk in y), V(0.0))) + mx
                E = E + lse - y[par["label"]]
    rr = loss_cfg.get("rate_reg")
    if rr:
        for li in range(len(layers)):
            for zs in zsum[li]:
                d = zs / float(T) - rr.get("target", 0.0)
                E = E + 0.5 * rr["c"] * d * d
    backward(E)
    return E.v, leaves


def main():
    args = sys.argv[1:]
    tol = 1e-12
    if "--tol" in args:
        k = args.index("--tol")
        tol = float(args[k + 1])
        del args[k:k + 2]
    net_p, par_p, grad_p = args
    net, par, gr = (json.load(open(p)) for p in (net_p, par_p, grad_p))
    loss, leaves = run(net, par)
    worst = 0.0
    ok = True
    got_loss = num(gr["loss"])
    lrel = abs(got_loss - loss) / max(abs(loss), 1e-300)
    print(f"{net_p}: loss reference {loss:.17g} snngrad {got_loss:.17g} rel {lrel:.2e}")
    if lrel > tol:
        ok = False
    for name, g in gr["grads"].items():
        ref = leaves[name]
        flat_ref = [x.g for row in ref for x in row] if isinstance(ref[0], list) else [x.g for x in ref]
        flat_got = [num(x) for row in g for x in row] if isinstance(g[0], list) else [num(x) for x in g]
        li = int(name.split(".")[0][5:]) if name.startswith("layer") else -1
        lay = net["layers"][li] if li >= 0 else {}
        if name.endswith("w_rec") and not lay.get("self_connections", lay.get("model") in GATED):
            n = len(ref[0])  # SPEC: the diagonal's gradient is reported as 0 (stacked blocks: every n x n block)
            for r in range(len(ref)):
                flat_ref[r * n + r % n] = 0.0
        den = math.sqrt(sum(r * r for r in flat_ref))
        diff = math.sqrt(sum((a - b) ** 2 for a, b in zip(flat_got, flat_ref)))
        rel = diff / den if den > 0 else diff
        worst = max(worst, rel)
        flag = "ok" if rel <= tol else "DIFFERS"
        print(f"  {name:20s} |ref| {den:10.3e}  rel.err {rel:9.2e}  {flag}")
        if rel > tol or len(flat_ref) != len(flat_got):
            ok = False
    missing = [k for k in leaves if k not in gr["grads"] and k.startswith("readout")]
    if missing:
        print("  missing blocks:", missing)
        ok = False
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
