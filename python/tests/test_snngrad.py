"""Tests of the Python module (suite `python`):

    test_snngrad.py SNNGRAD_EXE EXAMPLES_DIR      (SNNGRAD_LIB and PYTHONPATH set by meson)

The module's gradients against the command line's (`snngrad grad -o`): to
1e-15 relative in double, the same decimal strings at 128 bits; the
finite-difference check; the e-prop example (correct agrees with snngrad's
eprop, the buggy one differs in layer0.w_rec only); compare's dtype rule;
parameters, input, target and label in and out; errors.  Prints
"N passed, M failed" and exits non-zero on a failure.
"""

import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time
import traceback

import numpy as np

import snngrad

EXE, EXAMPLES = sys.argv[1], sys.argv[2]
HERE = os.path.dirname(os.path.abspath(__file__))
TMP = tempfile.mkdtemp(prefix="snngrad-py-")
NETS = sorted(f for f in os.listdir(EXAMPLES) if f.endswith(".json"))
passed, failed = 0, 0


def test(fn):
    global passed, failed
    t0 = time.time()
    try:
        fn()
        passed += 1
        print("ok   %-40s %.2f s" % (fn.__name__, time.time() - t0))
    except Exception:
        failed += 1
        print("FAIL %s" % fn.__name__)
        traceback.print_exc(file=sys.stdout)
    return fn


def cli_grad(net, rule="bptt", bits=53, params=None):
    out = os.path.join(TMP, "g.json")
    cmd = [EXE, "grad", os.path.join(EXAMPLES, net), "--rule", rule, "--precision", str(bits), "-o", out]
    if params:
        cmd += ["--params", params]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    with open(out) as f:
        return json.load(f)


def rel(a, b):
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    nb = np.linalg.norm(b)
    return np.linalg.norm(a - b) / nb if nb else np.linalg.norm(a)


def same_blocks(g, cli):
    assert sorted(g) == sorted(cli["grads"]), (sorted(g), sorted(cli["grads"]))


@test
def bptt_double_equals_cli():
    worst = 0.0
    for name in NETS:
        net = snngrad.Network.load(os.path.join(EXAMPLES, name))
        g, cli = net.grad("bptt"), cli_grad(name)
        same_blocks(g, cli)
        assert rel(g.loss, cli["loss"]) <= 1e-15, (name, g.loss, cli["loss"])
        for b in g:
            r = rel(g[b], cli["grads"][b])
            assert g[b].shape == np.asarray(cli["grads"][b]).shape, (name, b)
            assert r <= 1e-15, (name, b, r)
            worst = max(worst, r)
    print("     %d networks, every block; largest relative difference %.1e" % (len(NETS), worst))


@test
def bptt_128_bits_strings_equal_cli():
    n = 0
    for name in ("lif_smooth.json", "alif_recurrent.json", "deep_mixed.json"):
        net = snngrad.Network.load(os.path.join(EXAMPLES, name))
        g, cli = net.grad("bptt", precision=128, exact=True), cli_grad(name, bits=128)
        same_blocks(g, cli)
        assert g.loss_text == cli["loss"], (name, g.loss_text, cli["loss"])
        for b in g:
            mine = [str(s) for s in g.text[b].ravel()]
            theirs = [str(s) for s in np.asarray(cli["grads"][b], dtype=object).ravel()]
            assert mine == theirs, (name, b, mine[:2], theirs[:2])
            assert rel(g[b].ravel(), np.array(theirs, dtype=float)) <= 1e-15, (name, b)
            n += len(mine)
    print("     %d decimal strings identical" % n)


@test
def other_rules_equal_cli():
    net = snngrad.Network.load(os.path.join(EXAMPLES, "alif_recurrent.json"))
    for rule in ("eprop", "rtrl", "tbptt:window=10"):
        g, cli = net.grad(rule), cli_grad("alif_recurrent.json", rule=rule)
        for b in g:
            assert rel(g[b], cli["grads"][b]) <= 1e-15, (rule, b)


@test
def params_file_equals_cli():
    net_path = os.path.join(EXAMPLES, "lif_smooth.json")
    pfile = os.path.join(TMP, "p.json")
    subprocess.run([EXE, "init", net_path, "-o", pfile], check=True, stdout=subprocess.DEVNULL)
    with open(pfile) as f:
        p = json.load(f)
    p["params"]["layer0.w_in"][0][0] = "0.123456789012345678901234567890"
    p["input"][3][1] = 0.75
    with open(pfile, "w") as f:
        json.dump(p, f)
    net = snngrad.Network.load(net_path, params=pfile)
    assert net.input[3, 1] == 0.75
    g, cli = net.grad(precision=128, exact=True), cli_grad("lif_smooth.json", bits=128, params=pfile)
    assert g.text["layer0.w_in"].ravel().tolist() == cli["grads"]["layer0.w_in"][0] + sum(
        cli["grads"]["layer0.w_in"][1:], [])


@test
def check_passes():
    net = snngrad.Network.load(os.path.join(EXAMPLES, "lif_smooth.json"))
    r = net.check(precisions=(53, 256))
    assert r["pass"], r
    for bits, p in r["precisions"].items():
        assert p["pass"] and p["rel_error"] < p["tolerance"], (bits, p)
        assert set(p["blocks"]) == set(net.trainable)
    print("     53 bits: %.1e (tol %.1e); 256 bits: %.1e (tol %.1e)" %
          (r["precisions"][53]["rel_error"], r["precisions"][53]["tolerance"], r["precisions"][256]["rel_error"],
           r["precisions"][256]["tolerance"]))


@test
def check_refuses_heaviside():
    net = snngrad.Network.load(os.path.join(EXAMPLES, "alif_recurrent.json"))
    try:
        net.check()
    except snngrad.SnngradError as e:
        assert "heaviside" in str(e) or e.status, e
        return
    raise AssertionError("check of a heaviside network was not refused")


def load_example():
    spec = importlib.util.spec_from_file_location("eprop_numpy",
                                                  os.path.join(HERE, "..", "examples", "eprop_numpy.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@test
def eprop_example():
    ex = load_example()
    path = os.path.join(EXAMPLES, "alif_recurrent.json")
    with open(path) as f:
        spec = json.load(f)
    net = ex.eprop_network(path)
    (rc,) = net.rules_check("eprop", (53, 128, 256))
    assert rc["verdict"] == "EXACT" and rc["as_documented"], rc
    good, bad = ex.eprop(net, spec), ex.eprop(net, spec, bug=True)
    for bits in (53, 256):
        r = net.compare(good, rule="eprop", precision=bits)
        assert r["agrees"], (bits, r)
        worst = max(b["rel_error"] / b["tolerance"] for b in r["blocks"].values())
        r = net.compare(bad, rule="eprop", precision=bits)
        differs = {n for n, b in r["blocks"].items() if b["verdict"] == "differs"}
        assert differs == {"layer0.w_rec"}, (bits, r)
        print("     %d bits: correct within %.2f of its tolerance; bug: w_rec error %.2f" %
              (bits, worst, r["blocks"]["layer0.w_rec"]["rel_error"]))
    # and the same against BPTT, which e-prop equals on this network
    assert net.compare(good, rule="bptt", precision=256)["agrees"]


@test
def eprop_example_runs():
    env = dict(os.environ)
    out = subprocess.run([sys.executable, os.path.join(HERE, "..", "examples", "eprop_numpy.py"),
                          os.path.join(EXAMPLES, "alif_recurrent.json")], env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "buggy e-prop differs in: layer0.w_rec" in out.stdout, out.stdout


@test
def compare_dtype_rule():
    net = snngrad.Network.load(os.path.join(EXAMPLES, "lif_smooth.json"))
    g = net.grad(precision=128)
    assert net.compare({k: v.astype(np.float32) for k, v in g.items()})["agrees"]
    assert net.compare(dict(g))["agrees"]
    # a float32 rounding error is far beyond a float64 tolerance
    r = net.compare({k: v.astype(np.float32).astype(np.float64) for k, v in g.items()})
    assert not r["agrees"], r
    bad = {k: v.copy() for k, v in g.items()}
    bad["layer0.tau_mem"][3] *= 1 + 1e-4
    r = net.compare({k: v.astype(np.float32) for k, v in bad.items()})
    assert [n for n, b in r["blocks"].items() if b["verdict"] == "differs"] == ["layer0.tau_mem"], r
    assert abs(r["blocks"]["readout.w"]["cosine"] - 1) < 1e-6


@test
def params_input_target_label():
    with open(os.path.join(EXAMPLES, "lif_smooth.json")) as f:
        spec = json.load(f)
    a, b = snngrad.Network.load(os.path.join(EXAMPLES, "lif_smooth.json")), snngrad.Network.from_json(spec)
    assert json.dumps(spec) and a.blocks == b.blocks == snngrad.Network.from_json(json.dumps(spec)).blocks
    assert a.blocks["layer0.w_in"] == (8, 5) and a.blocks["readout.b"] == (2,)
    ga = a.grad()
    p = a.params
    p["layer0.w_in"] = p["layer0.w_in"] * 1.1
    a.params = {"layer0.w_in": p["layer0.w_in"]}
    assert np.array_equal(a.params["layer0.w_in"], p["layer0.w_in"])
    assert rel(a.grad()["layer0.w_in"], ga["layer0.w_in"]) > 1e-3
    a.params = {"layer0.w_in": p["layer0.w_in"] / 1.1}
    x = a.input
    a.input = x * 0
    assert a.grad()["layer0.w_in"].any() == False  # noqa: E712 (no input, no w_in gradient)
    a.input = x
    y = a.target
    a.target = y + 1
    assert abs(a.grad().loss - ga.loss) > 1e-3
    a.target = y
    assert rel(a.grad()["layer0.w_in"], ga["layer0.w_in"]) < 1e-12
    assert a.label is None
    c = snngrad.Network.load(os.path.join(EXAMPLES, "alif_recurrent.json"))
    assert c.target is None and c.label in (0, 1)
    l0 = c.grad().loss
    c.label = 1 - c.label
    assert c.grad().loss != l0
    yo, z, loss = c.run()
    assert yo.shape == (c.T, c.n_out) and z.shape == (c.T, 12) and set(np.unique(z)) <= {0.0, 1.0}


@test
def errors():
    net = snngrad.Network.load(os.path.join(EXAMPLES, "alif_recurrent.json"))
    cases = [
        lambda: net.grad("nosuchrule"),
        lambda: net.grad("tbptt:window=-1"),
        lambda: net.grad(precision=4),
        lambda: setattr(net, "params", {"layer0.w_rec": np.ones((12, 12))}),
        lambda: setattr(net, "params", {"layer0.w_in": np.full((12, 6), np.nan)}),
        lambda: setattr(net, "label", 7),
        lambda: setattr(net, "target", np.zeros((net.T, net.n_out))),
        lambda: snngrad.Network.load(os.path.join(TMP, "missing.json")),
        lambda: snngrad.Network.from_json('{"steps": 0}'),
    ]
    for i, case in enumerate(cases):
        try:
            case()
        except snngrad.SnngradError as e:
            assert str(e), i
            continue
        raise AssertionError("case %d was not refused" % i)
    for bad in (lambda: setattr(net, "params", {"nope": 1}), lambda: setattr(net, "input", np.zeros(3))):
        try:
            bad()
        except (KeyError, ValueError):
            continue
        raise AssertionError("not refused")
    assert net.grad().loss > 0  # still usable after the errors


print("%d passed, %d failed" % (passed, failed))
sys.exit(1 if failed else 0)
