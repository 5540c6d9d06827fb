#!/usr/bin/python3
"""torch_lif.py - snngrad's recurrent LIF network (docs/network.md) in PyTorch, float64.

The model, as docs/network.md writes it (lif, e-prop form, one recurrent layer):

    I^t = W_in x^t + W_rec z^{t-1}            (W_rec's diagonal held at zero)
    v^t = alpha v^{t-1} + I^t - v_th z^{t-1}  (subtractive reset by the threshold)
    u^t = v^t - v_th,  z^t = spike(u^t)
    y^t = kappa y^{t-1} + W_out z^t + b_out
    E   = sum over the loss window of  1/2 sum_k (y^t - y*^t)^2   (mse)
                                    or -log softmax(y^t)_c        (ce)

spike is a Heaviside step with a surrogate derivative in backward (triangle or
fast_sigmoid, through a custom autograd Function) or the smooth sigmoid forward
sigma(k u), differentiated exactly by autograd. The loop over time is a Python loop
over batched (B x n) tensors, as users write it.

Used two ways:
  * as a module by torch_compare.py (LIF, run);
  * as a benchmark:  torch_lif.py --shape a|b|c [--reps 3] [--updates 3] [--csv FILE]
      a: pixel-by-pixel Fashion-MNIST shape, T = 784, 1 input, 64 LIF, 10 outputs,
         ce on the last step, batch 32, Adam
      b: row-wise, T = 28, 28 inputs, 256 LIF, 10 outputs, ce on the last step,
         batch 32, Adam
      c: one sequence, T = 1000, 256 inputs (Poisson, rate 0.05), 256 LIF, 10 outputs,
         tau_out 20, mse on every step: snngrad bench's network; forward + backward
         only (BPTT, no optimizer)
    Inputs are random with the right shapes (uniform [0,1) intensities for a/b).
    Prints CSV: shape,implementation,batch,T,n_in,n,n_out,fwd_ms,bwd_ms,opt_ms,
    ms_per_update,sequences_per_s  (the median of --reps measurements, each the mean
    over --updates updates after one warm-up update).
"""
import argparse
import math
import os
import sys
import time

import torch


class SpikeFn(torch.autograd.Function):
    """Heaviside forward (u > 0; u = 0 gives 0); surrogate psi(u) in backward.

    psi is a factor evaluated at the forward pass's u: v_th inside the triangle is a
    constant (docs/network.md: it adds no term to the threshold's gradient)."""

    @staticmethod
    def forward(ctx, u, kind, vth, gamma, slope):
        ctx.save_for_backward(u)
        ctx.kind, ctx.vth, ctx.gamma, ctx.slope = kind, vth, gamma, slope
        return (u > 0).to(u.dtype)

    @staticmethod
    def backward(ctx, g):
        (u,) = ctx.saved_tensors
        if ctx.kind == "triangle":
            psi = (ctx.gamma / ctx.vth) * torch.clamp(1.0 - u.abs() / ctx.vth, min=0.0)
        elif ctx.kind == "fast_sigmoid":
            psi = 1.0 / (1.0 + ctx.slope * u.abs()) ** 2
        else:
            raise ValueError("surrogate " + ctx.kind)
        return g * psi, None, None, None, None


def per_unit_consts(module, n, train, **consts):
    """Registers each constant as a vector of n float64 values under its name, in the order
    given: a Parameter when train, else a buffer (torch_ltc.LTC's b0 and beta too)."""
    for name, value in consts.items():
        c = torch.full((n,), float(value), dtype=torch.float64)
        if train:
            setattr(module, name, torch.nn.Parameter(c))
        else:
            module.register_buffer(name, c)


class LIF(torch.nn.Module):
    """One recurrent LIF layer and the leaky readout, float64.

    forward = "heaviside" (with surrogate "triangle" or "fast_sigmoid") or "sigmoid".
    tau_mem and v_th are per-unit vectors, trained (Parameters) with train_consts.
    reset_at = "previous" is the model; "current" is a deliberate bug used by
    torch_compare.py to show that snngrad compare catches it: v^t = alpha v^{t-1} + I^t,
    z^t = spike(v^t - v_th), then v^t -= v_th z^t (the reset by this step's spike, which
    the next step then decays by alpha: a reset of alpha v_th z^{t-1} instead of v_th z^{t-1}).
    reset_at = "detached" is a backward-only bug: the forward is the model's, but z^{t-1}
    is detached where it enters the reset (gradient.reset = detach, while the network
    says keep)."""

    def __init__(self, n_in, n, n_out, tau_mem=20.0, v_th=1.0, tau_out=0.0, dt=1.0,
                 forward="heaviside", surrogate="triangle", gamma=0.3, slope=5.0,
                 reset_at="previous", train_consts=False, seed=0):
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        dd = torch.float64
        # init as snngrad's: w_in = N(0,1)/sqrt(n_in), w_rec = N(0,1)/sqrt(n), diagonal 0
        self.w_in = torch.nn.Parameter(torch.randn(n, n_in, generator=g, dtype=dd) / math.sqrt(n_in))
        self.w_rec = torch.nn.Parameter(torch.randn(n, n, generator=g, dtype=dd) / math.sqrt(n))
        self.w_out = torch.nn.Parameter(torch.randn(n_out, n, generator=g, dtype=dd) / math.sqrt(n))
        self.b_out = torch.nn.Parameter(torch.zeros(n_out, dtype=dd))
        self.register_buffer("offdiag", 1.0 - torch.eye(n, dtype=dd))
        with torch.no_grad():
            self.w_rec.mul_(self.offdiag)
        # per-unit constants (docs/network.md); Parameters when trained
        per_unit_consts(self, n, train_consts, tau_mem=tau_mem, v_th=v_th)
        self.dt = dt
        self.kappa = math.exp(-dt / tau_out) if tau_out > 0 else 0.0
        self.fwd, self.sur = forward, surrogate
        self.gamma, self.slope, self.reset_at = gamma, slope, reset_at

    def spike(self, u):
        if self.fwd == "sigmoid":
            return torch.sigmoid(self.slope * u)
        return SpikeFn.apply(u, self.sur, self.v_th.detach(), self.gamma, self.slope)

    def forward(self, x):
        """x: T x B x n_in. Returns the readout, T x B x n_out."""
        T, B, _ = x.shape
        n = self.w_in.shape[0]
        v = x.new_zeros(B, n)
        z = x.new_zeros(B, n)
        y = x.new_zeros(B, self.w_out.shape[0])
        w_rec = self.w_rec * self.offdiag
        alpha = torch.exp(-self.dt / self.tau_mem)
        v_th = self.v_th
        ys = []
        for t in range(T):
            i_t = torch.nn.functional.linear(x[t], self.w_in) + torch.nn.functional.linear(z, w_rec)
            if self.reset_at == "previous":
                v = alpha * v + i_t - v_th * z
                z = self.spike(v - v_th)
            elif self.reset_at == "detached":  # the backward-only bug: z^{t-1} detached in the reset
                v = alpha * v + i_t - v_th * z.detach()
                z = self.spike(v - v_th)
            else:  # the bug: reset by this step's spike, right after it (then decayed by alpha)
                v = alpha * v + i_t
                z = self.spike(v - v_th)
                v = v - v_th * z
            y = self.kappa * y + torch.nn.functional.linear(z, self.w_out, self.b_out)
            ys.append(y)
        return torch.stack(ys)


def loss_mse(ys, target, window=None):
    """1/2 sum over the window and the outputs of (y - y*)^2, mean over the batch.
    ys, target: T x B x n_out."""
    d = ys - target
    if window is not None:
        d = d[window[0] - 1:window[1]]
    return 0.5 * (d * d).sum() / ys.shape[1]


def loss_ce(ys, label, window):
    """-sum over the window of log softmax(y^t)_c, mean over the batch. label: B (long)."""
    yw = ys[window[0] - 1:window[1]]
    lp = torch.log_softmax(yw, dim=-1)
    return -lp.gather(-1, label.view(1, -1, 1).expand(yw.shape[0], -1, 1)).sum() / ys.shape[1]


SHAPES = {
    # name: T, n_in, n, n_out, batch, loss, optimizer, tau_out
    "a": dict(T=784, n_in=1, n=64, n_out=10, B=32, loss="ce", opt=True, tau_out=0.0),
    "b": dict(T=28, n_in=28, n=256, n_out=10, B=32, loss="ce", opt=True, tau_out=0.0),
    "c": dict(T=1000, n_in=256, n=256, n_out=10, B=1, loss="mse", opt=False, tau_out=20.0),
}


def bench(shape, reps, updates):
    s = SHAPES[shape]
    g = torch.Generator().manual_seed(1)
    net = LIF(s["n_in"], s["n"], s["n_out"], tau_out=s["tau_out"], seed=1)
    T, B = s["T"], s["B"]
    if shape == "c":
        x = (torch.rand(T, B, s["n_in"], generator=g, dtype=torch.float64) < 0.05).double()
        tt = torch.arange(1, T + 1, dtype=torch.float64).view(T, 1, 1)
        target = torch.sin(2 * math.pi * tt / T * torch.arange(1, s["n_out"] + 1, dtype=torch.float64))
        target = target.expand(T, B, s["n_out"])
        lossf = lambda: loss_mse(net(x), target)
    else:
        x = torch.rand(T, B, s["n_in"], generator=g, dtype=torch.float64)
        label = torch.randint(0, s["n_out"], (B,), generator=g)
        lossf = lambda: loss_ce(net(x), label, (T, T))
    opt = torch.optim.Adam(net.parameters(), lr=1e-3) if s["opt"] else None
    return result(shape, s, measure(net, lossf, opt, reps, updates), opt is not None)


def measure(net, lossf, opt, reps, updates):
    """The update's seconds, (forward, backward, optimiser): one warm-up update, then reps
    measurements, each the mean over updates updates; the median measurement by its sum.
    lossf() computes the loss (the forward pass and what it draws timed with it); opt is
    the optimiser or None (no step). torch_ltc.py's bench times with it too."""

    def one():
        t0 = time.perf_counter()
        loss = lossf()
        t1 = time.perf_counter()
        net.zero_grad(set_to_none=True)
        loss.backward()
        t2 = time.perf_counter()
        if opt is not None:
            opt.step()
        t3 = time.perf_counter()
        return t1 - t0, t2 - t1, t3 - t2

    one()  # warm-up
    meas = []
    for _ in range(reps):
        acc = [0.0, 0.0, 0.0]
        for _ in range(updates):
            acc = [a + b for a, b in zip(acc, one())]
        meas.append([a / updates for a in acc])
    meas.sort(key=sum)
    return meas[len(meas) // 2]


def result(shape, s, times, opt=True):
    """The CSV row (COLS) of the shape s (T, n_in, n, n_out, B) measured in times (measure's
    seconds); opt_ms is nan without an optimiser."""
    f, b, o = times
    tot = f + b + o
    B = s["B"]
    return dict(shape=shape, implementation="torch-%s" % torch.__version__.split("+")[0], batch=B, T=s["T"],
                n_in=s["n_in"], n=s["n"], n_out=s["n_out"], fwd_ms=1e3 * f, bwd_ms=1e3 * b,
                opt_ms=1e3 * o if opt else float("nan"), ms_per_update=1e3 * tot,
                sequences_per_s=B / tot)


COLS = ["shape", "implementation", "batch", "T", "n_in", "n", "n_out", "fwd_ms", "bwd_ms", "opt_ms",
        "ms_per_update", "sequences_per_s"]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shape", default="a,b,c", help="comma-separated from a, b, c")
    bench_options(ap, 3, "rows")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    rows = [bench(sh, a.reps, a.updates) for sh in a.shape.split(",")]
    write_rows(rows, a.csv, not a.no_header)


def bench_options(ap, updates, what):
    """The options of a benchmark run (torch_ltc.py's too): --reps, --updates (default
    updates), --threads, --csv (its help saying what it appends: "rows" or "row"), --no-header."""
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--updates", type=int, default=updates, help="updates per measurement")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--csv", help="append the %s to this file (with a header if new)" % what)
    ap.add_argument("--no-header", action="store_true")


def write_rows(rows, path, header):
    """The rows in COLS' columns, appended to the file path (with the header if header and
    the file is new or empty) or, without a path, to stdout (with the header if header)."""
    out = open(path, "a") if path else sys.stdout
    if header and not (path and os.path.getsize(path) > 0):
        out.write(",".join(COLS) + "\n")
    for r in rows:
        out.write(",".join(("%.4g" % r[c]) if isinstance(r[c], float) else str(r[c]) for c in COLS) + "\n")
    out.flush()


if __name__ == "__main__":
    main()
