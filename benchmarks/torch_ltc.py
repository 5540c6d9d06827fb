#!/usr/bin/python3
"""torch_ltc.py - snngrad's ltc neuron (docs/models.md, models/ltc.c) in PyTorch, float64.

The model, one recurrent ltc layer and the leaky readout, as docs/models.md writes it:

    I^t   = W_in x^t + W_rec z^{t-1} + b_I          (W_rec's diagonal kept with self_connections)
    u^{t-1} = (1 - z^{t-1}) v^{t-1}                 (the reset to zero, applied when step t reads v)
    J_m^t = W_tau_m [I^t ; u^{t-1}] + b_m,    tau_m = sigma(J_m)
    J_a^t = W_tau_adp [I^t ; b^{t-1}] + b_a,  tau_a = sigma(J_a)
    b^t   = tau_a b^{t-1} + (1 - tau_a) z^{t-1}     (the adaptation path: never cut)
    v^t   = (1 - tau_m) u^{t-1} + tau_m I^t
    z^t   = spike(v^t - theta^t),  theta^t = b0 + beta b^t
    y^t   = kappa y^{t-1} + W_out z^t + b_out

snngrad's blocks map onto it as: layer0.bias = [b_I ; b_m ; b_a] (3n), layer0.w_tau_m and
layer0.w_tau_adp are n x 2n with the columns [from I | from the state], layer0.threshold
is b0 and layer0.beta is beta (per-unit vectors). gradient.reset = detach holds z^{t-1}
constant in u^{t-1}, both in v^t and in the W_tau_m mix; gradient.recurrent = detach
holds it constant in W_rec z^{t-1}. The initial state is zero, or with
"initial_state": "uniform" v^0 ~ U(0, 1) and b^0 = the threshold as the network file
gives it (a constant of the sequence), z^0 = 0.

spike is a Heaviside step (u > 0) with a surrogate derivative in backward (a custom
autograd Function; multi_gaussian with the constants and the operations of
sim/spike.h), or the smooth sigmoid forward sigma(k u), differentiated by autograd. The
loop over time is a Python loop over batched (B x n) tensors, as users write it.

Used two ways:
  * as a module by torch_compare_ltc.py (LTC, uniform01);
  * as a benchmark:  torch_ltc.py [--reps 3] [--updates 5] [--threads N] [--csv FILE]
      ltc: row-wise Fashion-MNIST shape, T = 28, 28 inputs, 128 recurrent LTC neurons
           with self-connections and the uniform initial state, heaviside spike with
           the multi_gaussian surrogate, 10 outputs (tau_out 0), ce on the last step,
           batch 32, BPTT + Adam (benchmarks/fmnist_row_ltc.json)
    Inputs are random with the right shapes (uniform [0,1) intensities), labels random.
    Trained as snngrad's default: w_in, w_rec, the biases, both mixes and the readout
    (b0 = 0.1 and beta = 1.8 held fixed). Prints CSV in torch_lif.py's columns:
    shape,implementation,batch,T,n_in,n,n_out,fwd_ms,bwd_ms,opt_ms,ms_per_update,
    sequences_per_s (the median of --reps measurements, each the mean over --updates
    updates after one warm-up update).
"""
import argparse
import math
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
# loss_mse: for torch_compare_ltc.py
from torch_lif import (bench_options, loss_ce, loss_mse, measure, per_unit_consts,  # noqa: E402,F401
                       result, write_rows)

F = torch.nn.functional

# sim/spike.h's multi_gaussian: gamma' [(1 + h) N(u; 0, s) - h N(u; s, 6s) - h N(u; -s, 6s)],
# s = 0.3, h = 0.15, gamma' = 0.5, each term's weight w/(sd sqrt(2 pi)) formed in double
_MG_MU = (0.0, 0.3, -0.3)
_MG_SD = (0.3, 1.8, 1.8)
_MG_W = (0.5 * (1 + 0.15), -0.5 * 0.15, -0.5 * 0.15)
_SQRT_2PI = 2.5066282746310002


def surrogate(u, kind, vth, gamma, slope):
    """psi(u), the factor that replaces the Heaviside step's derivative (docs/network.md)."""
    if kind == "multi_gaussian":
        psi = torch.zeros_like(u)
        for mu, sd, w in zip(_MG_MU, _MG_SD, _MG_W):
            a = (u - mu) / sd
            psi = psi + torch.exp(a * a * -0.5) * (w / (sd * _SQRT_2PI))
        return psi
    if kind == "triangle":  # vth: the unit's base threshold b0
        a = 1.0 - u.abs() / vth
        return torch.where(a > 0, a / vth * gamma, torch.zeros_like(a))
    if kind == "fast_sigmoid":
        return 1.0 / (1.0 + slope * u.abs()) ** 2
    if kind == "sigmoid":
        s = torch.sigmoid(slope * u)
        return slope * s * (1 - s)
    if kind == "tanh":
        return 1.0 - torch.tanh(u) ** 2
    if kind == "boxcar":
        return ((u > -0.5) & (u <= 0.5)).to(u.dtype)
    raise ValueError("surrogate " + kind)


class SpikeFn(torch.autograd.Function):
    """Heaviside forward (u > 0; u = 0 gives 0); psi(u) at the forward's u in backward."""

    @staticmethod
    def forward(ctx, u, kind, vth, gamma, slope):
        ctx.save_for_backward(u, vth)
        ctx.kind, ctx.gamma, ctx.slope = kind, gamma, slope
        return (u > 0).to(u.dtype)

    @staticmethod
    def backward(ctx, g):
        u, vth = ctx.saved_tensors
        return g * surrogate(u, ctx.kind, vth, ctx.gamma, ctx.slope), None, None, None, None


def _splitmix(z):
    m = (1 << 64) - 1
    z = (z + 0x9e3779b97f4a7c15) & m
    z = ((z ^ (z >> 30)) * 0xbf58476d1ce4e5b9) & m
    z = ((z ^ (z >> 27)) * 0x94d049bb133111eb) & m
    return z ^ (z >> 31)


def uniform01(seed, sid, layer, i):
    """snngrad's draw number i of layer `layer` in sequence sid (sim/forward.c,
    snn_uniform01): the 53 top bits of splitmix64 over the seed and the three indices."""
    z = _splitmix(_splitmix(_splitmix(_splitmix(seed) ^ sid) ^ layer) ^ i)
    return (z >> 11) * 2.0 ** -53


class LTC(torch.nn.Module):
    """One recurrent ltc layer and the leaky readout, float64.

    forward = "heaviside" (with a surrogate, default multi_gaussian) or "sigmoid".
    train_consts: b0 (threshold) and beta are trained Parameters; otherwise buffers.
    reset, recurrent: "keep" or "detach" (the network's gradient options).
    bug: None is the model. The deliberate bugs that torch_compare_ltc.py shows caught:
      "mix_v"        forward: W_tau_m reads the membrane before the reset, v^{t-1}, instead
                     of u^{t-1} = (1 - z^{t-1}) v^{t-1} (the state that is stored, not the
                     one the next step starts from)
      "detach_reset" backward only: z^{t-1} detached in the reset (in v^t and in the mix)
                     while the network says keep
      "half_detach"  backward only, for a network with gradient.reset = detach: z^{t-1}
                     detached where the reset enters v^t but kept where u^{t-1} enters the
                     W_tau_m mix"""

    def __init__(self, n_in, n, n_out, b0=0.1, beta=1.8, tau_out=0.0, dt=1.0, self_connections=True,
                 forward="heaviside", surrogate="multi_gaussian", gamma=0.3, slope=5.0,
                 reset="keep", recurrent="keep", train_consts=False, bug=None, seed=0):
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        dd = torch.float64
        rn = lambda *s: torch.randn(*s, generator=g, dtype=dd)
        # init as snngrad's: N(0,1)/sqrt(fan-in); the mixes N(0,1)/sqrt(2n); biases 0
        self.w_in = torch.nn.Parameter(rn(n, n_in) / math.sqrt(n_in))
        self.w_rec = torch.nn.Parameter(rn(n, n) / math.sqrt(n))
        self.bias = torch.nn.Parameter(torch.zeros(3 * n, dtype=dd))
        self.w_tau_m = torch.nn.Parameter(rn(n, 2 * n) / math.sqrt(2 * n))
        self.w_tau_adp = torch.nn.Parameter(rn(n, 2 * n) / math.sqrt(2 * n))
        self.w_out = torch.nn.Parameter(rn(n_out, n) / math.sqrt(n))
        self.b_out = torch.nn.Parameter(torch.zeros(n_out, dtype=dd))
        self.self_connections = self_connections
        self.register_buffer("offdiag", 1.0 - torch.eye(n, dtype=dd))
        if not self_connections:
            with torch.no_grad():
                self.w_rec.mul_(self.offdiag)
        per_unit_consts(self, n, train_consts, b0=b0, beta=beta)
        self.b0_file = float(b0)  # b^0 of the uniform initial state: the file's value, a constant
        self.n = n
        self.kappa = math.exp(-dt / tau_out) if tau_out > 0 else 0.0
        self.fwd, self.sur, self.gamma, self.slope = forward, surrogate, gamma, slope
        self.reset, self.recurrent, self.bug = reset, recurrent, bug

    def spike(self, u):
        if self.fwd == "sigmoid":
            return torch.sigmoid(self.slope * u)
        return SpikeFn.apply(u, self.sur, self.b0.detach(), self.gamma, self.slope)

    def forward(self, x, v0=None):
        """x: T x B x n_in; v0: B x n (the uniform initial state's membrane) or None (zero
        state). Returns the readout, T x B x n_out."""
        T, B, _ = x.shape
        n = self.n
        w_rec = self.w_rec if self.self_connections else self.w_rec * self.offdiag
        b_i, b_m, b_a = self.bias[:n], self.bias[n:2 * n], self.bias[2 * n:]
        z = x.new_zeros(B, n)
        if v0 is None:
            v, b = x.new_zeros(B, n), x.new_zeros(B, n)
        else:
            v, b = v0, x.new_full((B, n), self.b0_file)
        y = x.new_zeros(B, self.w_out.shape[0])
        ys = []
        for t in range(T):
            zr = z.detach() if self.recurrent == "detach" else z
            cur = F.linear(x[t], self.w_in) + F.linear(zr, w_rec, b_i)
            z_reset = z.detach() if (self.reset == "detach" or self.bug == "detach_reset") else z
            u_prev = (1.0 - z_reset) * v
            u_mix = u_prev
            if self.bug == "mix_v":
                u_mix = v
            elif self.bug == "half_detach":
                u_mix = (1.0 - z) * v
            tau_m = torch.sigmoid(F.linear(torch.cat((cur, u_mix), -1), self.w_tau_m, b_m))
            tau_a = torch.sigmoid(F.linear(torch.cat((cur, b), -1), self.w_tau_adp, b_a))
            b = tau_a * b + (1.0 - tau_a) * z
            v = (1.0 - tau_m) * u_prev + tau_m * cur
            z = self.spike(v - (self.b0 + self.beta * b))
            y = F.linear(z, self.w_out, self.b_out) if self.kappa == 0 else \
                self.kappa * y + F.linear(z, self.w_out, self.b_out)
            ys.append(y)
        return torch.stack(ys)


SHAPE = dict(T=28, n_in=28, n=128, n_out=10, B=32)


def bench(reps, updates):
    s = SHAPE
    T, B = s["T"], s["B"]
    g = torch.Generator().manual_seed(1)
    net = LTC(s["n_in"], s["n"], s["n_out"], self_connections=True, forward="heaviside",
              surrogate="multi_gaussian", seed=1)
    x = torch.rand(T, B, s["n_in"], generator=g, dtype=torch.float64)
    label = torch.randint(0, s["n_out"], (B,), generator=g)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)

    def lossf():
        v0 = torch.rand(B, s["n"], generator=g, dtype=torch.float64)  # each sequence its own draw
        return loss_ce(net(x, v0), label, (T, T))

    return result("ltc", s, measure(net, lossf, opt, reps, updates))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    bench_options(ap, 5, "row")
    a = ap.parse_args()
    if a.reps < 1 or a.updates < 1 or a.threads < 1:
        ap.error("--reps, --updates and --threads take integers >= 1")
    torch.set_num_threads(a.threads)
    r = bench(a.reps, a.updates)
    write_rows([r], a.csv, not a.no_header)


if __name__ == "__main__":
    main()
