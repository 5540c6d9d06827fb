#!/usr/bin/env python3
"""The catalogue of bad inputs and hostile conditions for tests/bad/run.sh.

    cases.py SNNGRAD WORK EXAMPLES EXPERIMENTS

writes every input file the cases need under WORK/in (most of them the
shipped examples/ and experiments/ files with one thing changed) and prints
the cases, one a line, tab-separated:

    id  exit  phrases  flags  description  arguments

`phrases` ('|'-separated) must all appear in stderr (in stdout or stderr
when the expected exit is 0); `arguments` is a shell fragment that the
runner evaluates after `$SNNGRAD_WRAP snngrad`, with $O the output folder
it prepares for each case (see run.sh for the sentinels in it).  `flags`
(','-separated; '-' for none, as for phrases) ask the runner for more:
mem (run under a memory limit), fsize (a file-size limit: writes fail with
EFBIG), mayWrite (a failure after training started may leave its run
folder), pre=NAME and post=NAME (shell functions of run.sh run before and
after the command), stdout=PATH, h5 (needs mkh5), nonroot (skipped when run
as root).

SNNGRAD is run here without the wrapper, only to write the parameter files
that the parameter-file cases mutate.
"""
import copy
import gzip
import json
import os
import shlex
import struct
import subprocess
import sys

SNNGRAD, WORK, EXAMPLES, EXPERIMENTS = sys.argv[1:5]
IN = os.path.join(WORK, "in")
RUN = os.path.join(WORK, "o", "run")  # the train output folder the cases use
os.makedirs(IN, exist_ok=True)

cases = []
ids = set()


class Out:
    """A path inside the per-case output folder $O."""

    def __init__(self, name):
        self.name = name


def arg(a):
    if isinstance(a, Out):
        return '"$O"/' + shlex.quote(a.name) if a.name else '"$O"'
    return shlex.quote(str(a))


def case(cid, args, exit=2, phrases=(), desc="", flags=()):
    assert cid not in ids, cid
    assert "\t" not in desc and "|" not in "".join(phrases), cid
    ids.add(cid)
    command = " ".join(arg(a) for a in args)
    cases.append((cid, str(exit), "|".join(phrases) or "-", ",".join(flags) or "-", desc or "-", command))


def path(name):
    return os.path.join(IN, name)


def write(name, data):
    p = path(name)
    with open(p, "wb" if isinstance(data, bytes) else "w") as f:
        f.write(data)
    return p


def load(name, folder=EXAMPLES):
    with open(os.path.join(folder, name)) as f:
        return json.load(f)


def key_phrases(fname, key):
    """A content error names the file and the key (as a JSON path)."""
    ph = [os.path.basename(fname)]
    if key:
        ph.append("'%s'" % key)
    return ph


# ---------------------------------------------------------------- network files
NETS = {
    "lif": "lif_smooth.json",  # sigmoid spikes, mse, 40 steps, 5 inputs, 8 lif
    "alif": "alif_recurrent.json",  # heaviside, ce, recurrent alif 12
    "deep": "deep_mixed.json",  # lif (rec), alif, snu (rec)
    "delays": "delays.json",  # lif with delays, adlif (rec) with delays
    "lstm": "lstm_recurrent.json",
    "ltc": "ltc_recurrent.json",
}
for k, v in NETS.items():  # the unchanged networks, by short name
    write(k + ".json", open(os.path.join(EXAMPLES, v)).read())


def mutated(cid, base, fn):
    d = load(NETS[base])
    fn(d)
    return write(cid + ".json", json.dumps(d))


DEL = object()  # a value for setter(): delete the key


def setter(keypath, value):
    """d[a][b]... = value; keypath like 'layers.0.size'; value DEL deletes."""
    parts = [int(p) if p.isdigit() else p for p in keypath.split(".")]

    def fn(d):
        for p in parts[:-1]:
            d = d[p]
        if value is DEL:
            del d[parts[-1]]
        else:
            d[parts[-1]] = value

    return fn


def net(cid, base, keypath, value=None, key=None, desc="", cmd="init", exit=2, flags=()):
    """A network file with one key set (or deleted), run through `cmd`."""
    p = mutated(cid, base, setter(keypath, value) if isinstance(keypath, str) else keypath)
    if key is None and isinstance(keypath, str):
        key = jsonpath(keypath)
    run_net(cid, p, cmd, exit, key_phrases(p, key), desc, flags)


def jsonpath(keypath):
    """'layers.0.size' -> 'layers[0].size' (the form snngrad prints)."""
    out = ""
    for p in keypath.split("."):
        out += "[%s]" % p if p.isdigit() else ("." if out else "") + p
    return out


def run_net(cid, p, cmd, exit, phrases, desc, flags=()):
    if cmd == "init":
        args = ["init", p, "-o", Out("new.json")]
    elif cmd == "grad":
        args = ["grad", p, "--rule", "bptt", "-o", Out("old.json")]
    elif cmd == "check":
        args = ["check", p, "--precision", "53", "--json", Out("new.json")]
    elif cmd == "rules":
        args = ["check", p, "--rules", "bptt,rtrl", "--precision", "53", "--csv", Out("old.csv")]
    elif cmd == "run":
        args = ["run", p, "--csv", Out("old.csv"), "--raster", Out("new.csv")]
    elif cmd == "bench":
        args = ["bench", p, "--reps", "1"]
    else:
        raise ValueError(cmd)
    case(cid, args, exit, phrases, desc, flags)


def raw(cid, text, desc, cmd="init"):
    """A network file that is not a valid network document at all."""
    p = write(cid + ".json", text)
    run_net(cid, p, cmd, 2, [os.path.basename(p)], desc)


lif_text = open(os.path.join(EXAMPLES, NETS["lif"])).read()
raw("net.empty", "", "an empty network file")
raw("net.blank", "  \n\t\n", "a network file of white space")
raw("net.notjson", "steps = 40\n", "not JSON")
raw("net.array", "[1, 2, 3]\n", "JSON that is an array", cmd="grad")
raw("net.number", "42\n", "JSON that is a number", cmd="check")
raw("net.string", '"lif"\n', "JSON that is a string", cmd="run")
raw("net.null", "null\n", "JSON null")
raw("net.truncated", lif_text[: len(lif_text) // 2], "truncated in the middle", cmd="grad")
raw("net.trailing", lif_text + "}\n", "a stray brace after the document")
raw("net.two.docs", lif_text + lif_text, "two documents in one file")
raw("net.nul", lif_text.replace('"seed"', '"se\x00ed"'), "a NUL byte inside a key")
raw("net.nul.end", lif_text + "\x00", "a NUL byte after the document", cmd="grad")
raw("net.bom", "\ufeff" + lif_text, "a UTF-8 byte-order mark before the document")
p = write("net.nonutf8.json", lif_text.encode().replace(b"One feed", b"One \xff\xfe feed"))
run_net("net.nonutf8", p, "init", 2, [os.path.basename(p)], "invalid UTF-8 in a string")
p = write("net.nonutf8.key.json", lif_text.encode().replace(b'"dt"', b'"d\xc3t"'))
run_net("net.nonutf8.key", p, "grad", 2, [os.path.basename(p)], "invalid UTF-8 in a key")
p = write("net.latin1.json", lif_text.encode().replace(b"demo", b"d\xe9mo"))
run_net("net.latin1", p, "run", 2, [os.path.basename(p)], "a Latin-1 byte in the description")
raw("net.deep.array", '{"description": ' + "[" * 100000 + "]" * 100000 + ', "steps": 3}', "arrays nested 100000 deep")
raw("net.deep.object", '{"comment": ' + '{"a": ' * 50000 + "1" + "}" * 50000 + "}", "objects nested 50000 deep",
    cmd="grad")
raw("net.deep.unclosed", "[" * 200000, "200000 unclosed brackets", cmd="check")
raw("net.dupkey", lif_text.replace('"seed": 7,', '"seed": 7, "steps": 3, '), "the key steps given twice")
raw("net.dupkey.nested", lif_text.replace('"size": 8,', '"size": 8, "size": 9,'), "layers[0].size given twice",
    cmd="grad")
raw("net.huge.real", lif_text.replace('"dt": 1.0', '"dt": 1e999'), "a number beyond the double range (1e999)")
raw("net.huge.int", lif_text.replace('"steps": 40', '"steps": 123456789012345678901234567890'),
    "an integer beyond 64 bits", cmd="grad")
raw("net.nan.literal", lif_text.replace('"dt": 1.0', '"dt": NaN'), "a NaN literal (not JSON)")
raw("net.inf.literal", lif_text.replace('"dt": 1.0', '"dt": Infinity'), "an Infinity literal (not JSON)", cmd="run")
raw("net.comment", "// a network\n" + lif_text, "a // comment (not JSON)")
raw("net.single.quotes", lif_text.replace('"seed"', "'seed'"), "single-quoted key (not JSON)")
raw("net.trailing.comma", lif_text.replace('"keep"}', '"keep",}'), "a trailing comma (not JSON)", cmd="grad")

# top level
net("net.steps.missing", "lif", "steps", DEL, desc="steps missing")
net("net.steps.zero", "lif", "steps", 0, desc="steps 0")
net("net.steps.neg", "lif", "steps", -5, desc="steps negative", cmd="grad")
net("net.steps.frac", "lif", "steps", 40.5, desc="steps fractional")
net("net.steps.string", "lif", "steps", "40", desc="steps as a string", cmd="run")
net("net.steps.bool", "lif", "steps", True, desc="steps as a boolean")
net("net.steps.null", "lif", "steps", None, desc="steps null", cmd="check")
net("net.steps.array", "lif", "steps", [40], desc="steps as an array")
net("net.steps.over", "lif", "steps", 100000001, desc="steps above the range (1e8)")
net("net.steps.1e308", "lif", "steps", 1e308, desc="steps 1e308")
net("net.seed.neg", "lif", "seed", -1, desc="seed negative")
net("net.seed.frac", "lif", "seed", 7.5, desc="seed fractional", cmd="grad")
net("net.seed.over", "lif", "seed", 2**32, desc="seed 2^32")
net("net.seed.string", "lif", "seed", "seven", desc="seed as a string")
net("net.dt.zero", "lif", "dt", 0, desc="dt 0")
net("net.dt.neg", "lif", "dt", -1.0, desc="dt negative", cmd="run")
net("net.dt.string", "lif", "dt", "1.0", desc="dt as a string")
net("net.dt.null", "lif", "dt", None, desc="dt null")
# input
net("net.input.missing", "lif", "input", DEL, desc="input missing")
net("net.input.array", "lif", "input", [5], desc="input an array", cmd="grad")
net("net.input.size.missing", "lif", "input.size", DEL, desc="input.size missing")
net("net.input.size.zero", "lif", "input.size", 0, desc="input.size 0")
net("net.input.size.neg", "lif", "input.size", -3, desc="input.size negative", cmd="check")
net("net.input.size.frac", "lif", "input.size", 2.5, desc="input.size fractional")
net("net.input.size.over", "lif", "input.size", 2**24 + 1, desc="input.size above the range")
net("net.input.kind.unknown", "lif", "input.kind", "uniform", desc="unknown input.kind")
net("net.input.kind.number", "lif", "input.kind", 1, desc="input.kind a number", cmd="run")
net("net.input.rate.neg", "lif", "input.rate", -0.1, desc="input.rate negative")
net("net.input.rate.over", "lif", "input.rate", 1.5, desc="input.rate above 1", cmd="grad")
net("net.input.rate.string", "lif", "input.rate", "0.2", desc="input.rate a string")
net("net.input.std.neg", "lstm", "input.std", -1, desc="input.std negative")
net("net.input.mean.string", "lstm", "input.mean", "zero", desc="input.mean a string")
# layers
net("net.layers.missing", "lif", "layers", DEL, desc="layers missing")
net("net.layers.empty", "lif", "layers", [], desc="layers empty", cmd="grad")
net("net.layers.object", "lif", "layers", {"model": "lif", "size": 8}, desc="layers an object, not an array")
net("net.layers.number", "lif", "layers", 1, desc="layers a number")
net("net.layers.too.many", "lif", lambda d: d.update(layers=[{"model": "lif", "size": 2}] * 100), key="layers",
    desc="100 layers")
net("net.layer.number", "lif", "layers.0", 8, desc="a layer that is a number")
net("net.layer.null", "lif", "layers.0", None, desc="a layer that is null", cmd="run")
net("net.layer1.bad", "deep", "layers.1.size", 0, desc="the second layer's size 0")
net("net.model.missing", "lif", "layers.0.model", DEL, desc="model missing")
net("net.model.unknown", "lif", "layers.0.model", "izhikevich", desc="unknown model", cmd="grad")
net("net.model.number", "lif", "layers.0.model", 0, desc="model a number")
net("net.model.case", "lif", "layers.0.model", "LIF", desc="model in capitals")
net("net.model.space", "lif", "layers.0.model", "lif ", desc="model with a trailing space", cmd="check")
net("net.size.missing", "lif", "layers.0.size", DEL, desc="size missing")
net("net.size.zero", "lif", "layers.0.size", 0, desc="size 0", cmd="grad")
net("net.size.neg", "lif", "layers.0.size", -8, desc="size negative")
net("net.size.frac", "lif", "layers.0.size", 8.5, desc="size fractional", cmd="run")
net("net.size.over", "lif", "layers.0.size", 2**20 + 1, desc="size above the range")
net("net.size.string", "lif", "layers.0.size", "8", desc="size a string")
net("net.size.1e308", "lif", "layers.0.size", 1e308, desc="size 1e308", cmd="grad")
net("net.recurrent.string", "lif", "layers.0.recurrent", "yes", desc="recurrent a string")
net("net.recurrent.number", "lif", "layers.0.recurrent", 1, desc="recurrent 1 instead of true")
net("net.tau_mem.zero", "lif", "layers.0.tau_mem", 0, desc="tau_mem 0", cmd="grad")
net("net.tau_mem.neg", "lif", "layers.0.tau_mem", -20, desc="tau_mem negative")
net("net.tau_mem.string", "lif", "layers.0.tau_mem", "20", desc="tau_mem a string")
net("net.threshold.zero", "lif", "layers.0.threshold", 0, desc="threshold 0")
net("net.threshold.neg", "alif", "layers.0.threshold", -0.6, desc="threshold negative", cmd="grad")
net("net.tau_adapt.zero", "alif", "layers.0.tau_adapt", 0, desc="tau_adapt 0")
net("net.beta.string", "alif", "layers.0.beta", "1.8", desc="beta a string")
net("net.decay.one", "deep", "layers.2.decay", 1.0, desc="snu decay 1 (range [0, 1))")
net("net.decay.neg", "deep", "layers.2.decay", -0.1, desc="snu decay negative", cmd="grad")
net("net.activation.unknown", "deep", "layers.2.activation", "sigmoid", desc="unknown snu activation")
net("net.reset.unknown", "lif", "layers.0.reset", "zero", desc="unknown reset")
net("net.reset.bool", "lif", "layers.0.reset", False, desc="reset false", cmd="run")
net("net.input_scale.two", "lif", "layers.0.input_scale", 2, desc="input_scale 2")
net("net.input_scale.string", "lif", "layers.0.input_scale", "alpha", desc="input_scale an unknown string")
net("net.train.string", "lif", "layers.0.train", "w_in", desc="train a string, not an array")
net("net.selfconn.number", "lif", "layers.0.self_connections", 1, desc="self_connections a number")
net("net.selfconn.string", "lif", "layers.0.self_connections", "yes", desc="self_connections a string", cmd="grad")
net("net.init.lif", "lif", "layers.0.initial_state", "uniform", desc="initial_state uniform on lif (ltc and adlif only)", cmd="grad")
net("net.init.alif", "lif", lambda d: d["layers"][0].update(model="alif", initial_state="uniform"),
    key="layers[0].initial_state", desc="initial_state uniform on alif (ltc and adlif only)", cmd="grad")
net("net.init.bogus", "ltc", "layers.0.initial_state", "random", desc="initial_state an unknown choice", cmd="grad")
net("net.init.number", "ltc", "layers.0.initial_state", 1, desc="initial_state a number")
net("net.sepbias.lif", "lif", lambda d: d["layers"][0].update(recurrent=True, separate_biases=True),
    key="layers[0].separate_biases", desc="separate_biases on lif (no biases)")
net("net.sepbias.ff", "ltc", lambda d: d["layers"][0].update(recurrent=False, separate_biases=True),
    key="layers[0].separate_biases", desc="separate_biases on a feed-forward layer", cmd="grad")
net("net.sepbias.string", "ltc", "layers.0.separate_biases", "yes", desc="separate_biases a string")
# batch_norm (docs/batchnorm.md)
net("net.bn.string", "ltc", "layers.0.batch_norm", "yes", desc="batch_norm a string")
net("net.bn.momentum.over", "ltc", "layers.0.batch_norm", {"momentum": 1.5}, key="layers[0].batch_norm.momentum",
    desc="batch_norm.momentum above 1")
net("net.bn.eps.zero", "ltc", "layers.0.batch_norm", {"eps": 0}, key="layers[0].batch_norm.eps",
    desc="batch_norm.eps 0 (the normalisation divides by sqrt(var + eps))", cmd="grad")
net("net.bn.gamma.string", "ltc", "layers.0.batch_norm", {"gamma": "one"}, key="layers[0].batch_norm.gamma",
    desc="batch_norm.gamma a string")
net("net.bn.train.stat", "ltc", lambda d: d["layers"][0].update(batch_norm=True, train=["w_in", "bn_in_mean"]),
    key="layers[0].train[1]", desc="a running statistic of batch_norm listed in train")
net("net.bn.readout.number", "ltc", "readout.batch_norm", 1, desc="readout.batch_norm a number")
net("net.bn.readout.eprop", "ltc", "readout.batch_norm", True, key="readout.batch_norm",
    desc="check --rules with rtrl on a network whose readout is normalised", cmd="rules")
net("net.bn.rtrl", "ltc", "layers.0.batch_norm", True, desc="check --rules with rtrl on a batch_norm network",
    cmd="rules")
net("net.alpha.over", "lif", lambda d: d["layers"][0].update(model="adlif_sparch", alpha=1.0),
    key="layers[0].alpha", desc="adlif_sparch alpha = 1 (a decay must be < 1)")
net("net.beta_adapt.neg", "lif", lambda d: d["layers"][0].update(model="adlif_sparch", beta_adapt=-0.5),
    key="layers[0].beta_adapt", desc="adlif_sparch beta_adapt < 0", cmd="grad")
net("net.train.unknown", "lif", "layers.0.train", ["w_out"], key="layers[0].train[0]", desc="train names w_out",
    cmd="grad")
net("net.train.w_rec.ff", "lif", "layers.0.train", ["w_in", "w_rec"], key="layers[0].train[1]",
    desc="w_rec trained in a feed-forward layer")
net("net.train.tau_adapt.lif", "lif", "layers.0.train", ["tau_adapt"], key="layers[0].train[0]",
    desc="tau_adapt trained in a lif layer")
net("net.train.decay.alif", "alif", "layers.0.train", ["w_in", "decay"], key="layers[0].train[1]",
    desc="decay trained in an alif layer")
net("net.train.bias.lif", "lif", "layers.0.train", ["bias"], key="layers[0].train[0]",
    desc="bias trained in a lif layer",
    cmd="check")
net("net.train.a.alif", "alif", "layers.0.train", ["a"], key="layers[0].train[0]", desc="adlif's a trained in alif")
net("net.train.delay.nodelays", "lif", "layers.0.train", ["delay"], key="layers[0].train[0]",
    desc="delay trained without delays")
net("net.train.w_tau_m.lif", "lif", "layers.0.train", ["w_tau_m"], key="layers[0].train[0]",
    desc="ltc's w_tau_m trained in lif")
net("net.train.number", "lif", "layers.0.train", [1], key="layers[0].train[0]", desc="train holds a number")
net("net.train.nested", "lif", "layers.0.train", [["w_in"]], key="layers[0].train[0]", desc="train holds an array")
net("net.w_scale.neg", "lif", "layers.0.w_scale", -1.5, desc="w_scale negative")
net("net.w_scale.string", "lif", "layers.0.w_scale", "big", desc="w_scale a string", cmd="grad")
net("net.rec_scale.neg", "alif", "layers.0.rec_scale", -1, desc="rec_scale negative")
net("net.w_mean.string", "lif", "layers.0.w_mean", "0", desc="w_mean a string")
# delays
net("net.delays.number", "delays", "layers.0.delays", 5, desc="delays a number, not an object")
net("net.delays.max.missing", "delays", "layers.0.delays.max", DEL, desc="delays.max missing")
net("net.delays.max.zero", "delays", "layers.0.delays.max", 0, desc="delays.max 0", cmd="grad")
net("net.delays.max.over", "delays", "layers.0.delays.max", 4097, desc="delays.max above 4096")
net("net.delays.max.frac", "delays", "layers.0.delays.max", 6.5, desc="delays.max fractional")
net("net.delays.kernel.unknown", "delays", "layers.1.delays.kernel", "box", desc="unknown delays.kernel")
net("net.delays.sigma.zero", "delays", "layers.1.delays.sigma", 0, desc="delays.sigma 0", cmd="run")
net("net.delays.round.string", "delays", "layers.0.delays.round", "yes", desc="delays.round a string")
net("net.delays.init.number", "delays", "layers.0.delays.init", 3, desc="delays.init a number")
net("net.delays.init.reversed", "delays", "layers.0.delays.init", [5, 1], desc="delays.init [5, 1]")
net("net.delays.init.over", "delays", "layers.0.delays.init", [0, 10], desc="delays.init beyond max", cmd="grad")
net("net.delays.init.neg", "delays", "layers.0.delays.init", [-1, 2], desc="delays.init negative")
net("net.delays.init.three", "delays", "layers.0.delays.init", [0, 1, 2], desc="delays.init of three numbers")
net("net.delays.init.strings", "delays", "layers.0.delays.init", ["0", "1"], desc="delays.init of strings")
net("net.adlif.bounds.unknown", "delays", "layers.1.bounds", "wrap", desc="unknown adlif bounds")
net("net.adlif.project.out", "delays", lambda d: d["layers"][1].update(bounds="project", tau_mem=100),
    key="layers[1].tau_mem", desc="adlif tau_mem 100 outside the projected range [5, 25]")
net("net.adlif.a.string", "delays", "layers.1.a", "half", desc="adlif a a string")
# readout
net("net.readout.missing", "lif", "readout", DEL, desc="readout missing")
net("net.readout.number", "lif", "readout", 2, desc="readout a number", cmd="grad")
net("net.readout.size.missing", "lif", "readout.size", DEL, desc="readout.size missing")
net("net.readout.size.zero", "lif", "readout.size", 0, desc="readout.size 0")
net("net.readout.size.frac", "lif", "readout.size", 1.5, desc="readout.size fractional", cmd="run")
net("net.readout.tau_out.neg", "lif", "readout.tau_out", -10, desc="readout.tau_out negative")
# loss
net("net.loss.number", "lif", "loss", 1, desc="loss a number")
net("net.loss.kind.unknown", "lif", "loss.kind", "nll", desc="unknown loss.kind", cmd="grad")
net("net.loss.kind.number", "lif", "loss.kind", 0, desc="loss.kind a number")
net("net.loss.window.zero", "lif", "loss.window", [0, 10], desc="loss.window starting at 0")
net("net.loss.window.over", "lif", "loss.window", [1, 41], desc="loss.window past the last step", cmd="run")
net("net.loss.window.reversed", "lif", "loss.window", [30, 10], desc="loss.window reversed")
net("net.loss.window.one", "lif", "loss.window", [5], desc="loss.window of one number")
net("net.loss.window.frac", "lif", "loss.window", [1.5, 10], desc="loss.window fractional", cmd="grad")
net("net.loss.window.strings", "lif", "loss.window", ["1", "10"], desc="loss.window of strings")
net("net.loss.window.huge", "lif", "loss.window", [1, 2**63 - 1], desc="loss.window ending at 2^63-1")
net("net.loss.label.over", "alif", "loss.label", 2, desc="ce label 2 with 2 outputs")
net("net.loss.label.neg", "alif", "loss.label", -1, desc="ce label negative", cmd="grad")
net("net.loss.label.frac", "alif", "loss.label", 0.5, desc="ce label fractional")
net("net.loss.target.kind.unknown", "lif", "loss.target.kind", "square", desc="unknown loss.target.kind")
net("net.loss.target.number", "lif", "loss.target", 0, desc="loss.target a number")
net("net.loss.rate_reg.c.neg", "lif", "loss.rate_reg", {"c": -1}, key="loss.rate_reg.c", desc="rate_reg.c negative")
net("net.loss.rate_reg.target.over", "lif", "loss.rate_reg", {"c": 1, "target": 2}, key="loss.rate_reg.target",
    desc="rate_reg.target above 1", cmd="grad")
net("net.loss.rate_reg.empty", "lif", "loss.rate_reg", {}, key="loss.rate_reg.c", desc="rate_reg without c")
net("net.loss.rate_reg.number", "lif", "loss.rate_reg", 0.1, desc="rate_reg a number")
# spike and gradient
net("net.spike.number", "lif", "spike", 5, desc="spike a number")
net("net.spike.forward.unknown", "lif", "spike.forward", "step", desc="unknown spike.forward", cmd="grad")
net("net.spike.surrogate.unknown", "alif", "spike.surrogate", "gauss", desc="unknown spike.surrogate")
net("net.spike.surrogate.number", "alif", "spike.surrogate", 2, desc="spike.surrogate a number")
net("net.spike.slope.zero", "lif", "spike.slope", 0, desc="spike.slope 0", cmd="check")
net("net.spike.slope.neg", "lif", "spike.slope", -5, desc="spike.slope negative")
net("net.spike.gamma.neg", "alif", "spike.gamma", -0.3, desc="spike.gamma negative")
net("net.gradient.reset.unknown", "lif", "gradient.reset", "cut", desc="unknown gradient.reset")
net("net.gradient.recurrent.number", "lif", "gradient.recurrent", 0, desc="gradient.recurrent a number", cmd="grad")
net("net.gradient.string", "lif", "gradient", "keep", desc="gradient a string")
# through bench
net("net.bench.size.zero", "lif", "layers.0.size", 0, desc="bench NET with size 0", cmd="bench")
# unknown keys: a warning naming the key, and the run goes on (docs/formats.md)
for cid, base, kp, v, key, cmd in [
    ("net.warn.top", "lif", "stpes", 40, "stpes", "init"),
    ("net.warn.layer", "lif", "layers.0.tau", 5, "layers[0].tau", "grad"),
    ("net.warn.input", "lif", "input.rates", 0.1, "input.rates", "init"),
    ("net.warn.spike", "lif", "spike.slop", 3, "spike.slop", "run"),
    ("net.warn.lstm.tau_mem", "lstm", "layers.0.tau_mem", 5, "layers[0].tau_mem", "init"),
]:
    p = mutated(cid, base, setter(kp, v))
    run_net(cid, p, cmd, 0, ["warning", key], "unknown key %s: a warning, exit 0" % key)

# sizes that fit each key's range but not memory together
MEM = ("mem",)
net("net.mem.recurrent", "lif", lambda d: d["layers"][0].update(size=50000, recurrent=True), key="layers[0].size",
    desc="a recurrent layer of 50000 units (w_rec alone is 20 GB)", flags=MEM)
net("net.mem.recurrent.grad", "lif", lambda d: d["layers"][0].update(size=50000, recurrent=True), key="layers[0].size",
    desc="grad on a recurrent layer of 50000 units", cmd="grad", flags=MEM)
net("net.mem.steps", "lif", "steps", 100000000, key="steps", desc="1e8 steps (the input alone is 4 GB)", flags=MEM)
net("net.mem.steps.run", "lif", "steps", 100000000, key="steps", desc="run over 1e8 steps", cmd="run", flags=MEM)
net("net.mem.bn_steps", "lif", lambda d: (d.update(steps=100000000), d["layers"][0].update(batch_norm=True)),
    key="steps", desc="batch_norm over 1e8 steps (its running statistics are 1.6e9 parameters)", flags=MEM)
net("net.mem.input", "lif", "input.size", 2**24, key="input.size", desc="2^24 inputs over 40 steps", cmd="grad",
    flags=MEM)
net("net.mem.readout", "lif", lambda d: d.update(steps=100000, readout={"size": 2**20}), key="readout.size",
    desc="2^20 outputs over 1e5 steps (the target is 800 GB)", flags=MEM)

# overflow: w_scale 1e308 makes every weight infinite or NaN
p = mutated("ovf.w_scale", "lif", setter("layers.0.w_scale", 1e308))
case("ovf.w_scale.init", ["init", p, "-o", Out("new.json")], 2, ["ovf.w_scale.json", "w_scale"],
     "init with w_scale 1e308: names the network file and the key, writes nothing")
case("ovf.w_scale.grad", ["grad", p, "--rule", "bptt", "-o", Out("old.json")], 2, ["ovf.w_scale.json", "finite"],
     "grad with w_scale 1e308")
case("ovf.w_scale.grad.mpfr", ["grad", p, "--rule", "bptt", "--precision", "64", "-o", Out("new.json")], 2,
     ["ovf.w_scale.json", "finite"], "grad at 64 bits with w_scale 1e308")
case("ovf.w_scale.check", ["check", p, "--precision", "53", "--json", Out("new.json")], 2,
     ["ovf.w_scale.json", "finite"], "check with w_scale 1e308: an overflow, not a refusal")
case("ovf.w_scale.rules", ["check", p, "--rules", "bptt,rtrl", "--precision", "53", "--json", Out("new.json")], 2,
     ["ovf.w_scale.json", "finite"], "check --rules with w_scale 1e308")
case("ovf.w_scale.run", ["run", p, "--csv", Out("old.csv")], 2, ["ovf.w_scale.json", "finite"],
     "run with w_scale 1e308: no NaN in the CSV, no NaN loss printed")
case("ovf.w_scale.run.mpfr", ["run", p, "--precision", "64", "--csv", Out("new.csv")], 2,
     ["ovf.w_scale.json", "finite"], "run at 64 bits with w_scale 1e308")
p = mutated("ovf.w_scale.alif", "alif", setter("layers.0.w_scale", 1e308))
case("ovf.w_scale.run.heaviside", ["run", p, "--csv", Out("new.csv"), "--raster", Out("new2.csv")], 2,
     ["ovf.w_scale.alif.json", "finite"], "run of a heaviside network with w_scale 1e308")
p = mutated("ovf.tau_out", "lif", lambda d: d.update(steps=40, readout={"size": 2, "tau_out": 1e308}))
case("ovf.tau_out.grad", ["grad", p, "--rule", "bptt", "-o", Out("new.json")], 0, [],
     "tau_out 1e308 (kappa rounds to 1): a finite gradient, no NaN written")

# ---------------------------------------------------------------- parameter files
def init_params(base):
    out = path(base + ".params.json")
    subprocess.run([SNNGRAD, "init", path(base + ".json"), "-o", out], check=True, stdout=subprocess.DEVNULL)
    with open(out) as f:
        return json.load(f)


PARAMS = {b: init_params(b) for b in ("lif", "alif", "delays", "deep")}
mutated("bn", "ltc", lambda d: d["layers"][0].update(batch_norm=True))
PARAMS["bn"] = init_params("bn")


def par(cid, base, fn, key, desc, cmd="grad", net_base=None):
    """A parameter file of `base` changed by `fn`, read by `cmd`."""
    d = copy.deepcopy(PARAMS[base])
    fn(d)
    p = write(cid + ".json", json.dumps(d) if not isinstance(d, str) else d)
    run_par(cid, p, net_base or base, cmd, 2, key_phrases(p, key), desc)


def run_par(cid, p, base, cmd, exit, phrases, desc):
    n = path(base + ".json")
    if cmd == "grad":
        args = ["grad", n, "--rule", "bptt", "--params", p, "-o", Out("old.json")]
    elif cmd == "check":
        args = ["check", n, "--params", p, "--precision", "53", "--json", Out("new.json")]
    elif cmd == "run":
        args = ["run", n, "--params", p, "--csv", Out("new.csv")]
    elif cmd == "rules":
        args = ["check", n, "--params", p, "--rules", "bptt,rtrl", "--precision", "53", "--json", Out("old.json")]
    case(cid, args, exit, phrases, desc)


def praw(cid, text, desc, cmd="grad"):
    p = write(cid + ".json", text)
    run_par(cid, p, "lif", cmd, 2, [os.path.basename(p)], desc)


ptext = open(path("lif.params.json")).read()
praw("par.empty", "", "an empty parameter file")
praw("par.notjson", "w_in = 1\n", "a parameter file that is not JSON", cmd="run")
praw("par.array", "[[1, 2], [3, 4]]\n", "a parameter file that is an array")
praw("par.truncated", ptext[: len(ptext) // 3], "a truncated parameter file", cmd="check")
praw("par.nul", ptext.replace('"input"', '"in\x00put"'), "a NUL byte in a parameter file")
praw("par.dupkey", ptext.replace('"params": {', '"params": {"readout.b": [0, 0], '), "readout.b given twice")
praw("par.deep", ptext.replace('"input"', '"x": ' + "[" * 100000 + "]" * 100000 + ', "input"'),
     "arrays nested 100000 deep in a parameter file", cmd="run")
case("par.missing.file", ["grad", path("lif.json"), "--rule", "bptt", "--params", path("nosuch.params.json"), "-o",
     Out("old.json")], 2, ["nosuch.params.json"], "--params names a file that does not exist")
case("par.directory", ["run", path("lif.json"), "--params", IN, "--csv", Out("new.csv")], 2, [os.path.basename(IN)],
     "--params names a directory")
par("par.bn.var.neg", "bn", lambda d: d["params"]["layer0.bn_rec_var"][3].__setitem__(1, -0.5),
    "params.layer0.bn_rec_var", "a negative running variance (batch_norm)", cmd="run")
par("par.bn.mean.rows", "bn", lambda d: d["params"]["layer0.bn_in_mean"].pop(), "params.layer0.bn_in_mean",
    "running means with a row (a step) missing")
par("par.format.missing", "lif", lambda d: d.pop("format"), "format", "format missing")
par("par.format.wrong", "lif", lambda d: d.update(format="snngrad-params/2"), "format", "format snngrad-params/2",
    cmd="run")
par("par.format.grads", "lif", lambda d: d.update(format="snngrad-grads/1"), "format",
    "a gradient file's format string")
par("par.format.number", "lif", lambda d: d.update(format=1), "format", "format a number")
par("par.params.missing", "lif", lambda d: d.pop("params"), "params", "params missing", cmd="check")
par("par.params.array", "lif", lambda d: d.update(params=[]), "params", "params an array")
par("par.block.missing", "lif", lambda d: d["params"].pop("layer0.w_in"), "params.layer0.w_in", "layer0.w_in missing")
par("par.block.trained.const.missing", "lif", lambda d: d["params"].pop("layer0.tau_mem"), "params.layer0.tau_mem",
    "a trained constant (tau_mem) missing", cmd="run")
par("par.block.unknown", "lif", lambda d: d["params"].update({"layer0.w_out": [[0]]}), "params.layer0.w_out",
    "a block the network does not have")
par("par.block.layer9", "lif", lambda d: d["params"].update({"layer9.w_in": [[0]]}), "params.layer9.w_in",
    "a block of a layer that does not exist", cmd="check")
par("par.shape.rows", "lif", lambda d: d["params"]["layer0.w_in"].pop(), "params.layer0.w_in", "w_in with 7 rows of 8")
par("par.shape.cols", "lif", lambda d: d["params"]["layer0.w_in"][3].pop(), "params.layer0.w_in[3]",
    "w_in row 3 one number short", cmd="run")
par("par.shape.flat", "lif", lambda d: d["params"].update({"layer0.w_in": sum(d["params"]["layer0.w_in"], [])}),
    "params.layer0.w_in", "w_in flattened")
par("par.shape.vector.nested", "lif", lambda d: d["params"].update({"readout.b": [[0.0], [0.0]]}),
    "params.readout.b[0]", "readout.b as a column matrix")
par("par.shape.scalar", "lif", lambda d: d["params"].update({"readout.b": 0}), "params.readout.b",
    "readout.b a number", cmd="check")
par("par.shape.empty", "lif", lambda d: d["params"].update({"readout.w": []}), "params.readout.w", "readout.w empty")
par("par.num.string", "lif", lambda d: d["params"]["readout.b"].__setitem__(0, "abc"), "params.readout.b[0]",
    "a number that is the string abc")
par("par.num.string.empty", "lif", lambda d: d["params"]["readout.b"].__setitem__(1, ""), "params.readout.b[1]",
    "a number that is the empty string", cmd="run")
par("par.num.string.trailing", "lif", lambda d: d["params"]["layer0.w_in"][0].__setitem__(0, "1.5x"),
    "params.layer0.w_in[0][0]", "a number string with trailing garbage")
par("par.num.nan", "lif", lambda d: d["params"]["layer0.w_in"][0].__setitem__(1, "nan"), "params.layer0.w_in[0][1]",
    "the string nan")
par("par.num.inf", "lif", lambda d: d["params"]["readout.w"][1].__setitem__(0, "-inf"), "params.readout.w[1][0]",
    "the string -inf", cmd="check")
par("par.num.1e999", "lif", lambda d: d["params"]["readout.w"][0].__setitem__(0, "1e999"), "params.readout.w[0][0]",
    "the string 1e999 (overflows a double)")
par("par.num.null", "lif", lambda d: d["params"]["readout.b"].__setitem__(0, None), "params.readout.b[0]",
    "a number that is null", cmd="run")
par("par.num.bool", "lif", lambda d: d["params"]["layer0.w_in"][2].__setitem__(2, True), "params.layer0.w_in[2][2]",
    "a number that is true")
par("par.num.object", "lif", lambda d: d["params"]["layer0.w_in"][2].__setitem__(2, {"v": 1}),
    "params.layer0.w_in[2][2]", "a number that is an object")
par("par.tau_mem.zero", "lif", lambda d: d["params"]["layer0.tau_mem"].__setitem__(0, 0), "params.layer0.tau_mem[0]",
    "tau_mem 0")
par("par.tau_mem.neg", "lif", lambda d: d["params"]["layer0.tau_mem"].__setitem__(3, -1), "params.layer0.tau_mem[3]",
    "tau_mem negative", cmd="run")
par("par.threshold.zero", "lif", lambda d: d["params"]["layer0.threshold"].__setitem__(7, 0),
    "params.layer0.threshold[7]", "threshold 0")
par("par.decay.one", "deep", lambda d: d["params"].update({"layer2.decay": [1.0] * 4}), "params.layer2.decay[0]",
    "snu decay 1 given as an untrained constant")
par("par.wrec.diag", "alif", lambda d: d["params"]["layer0.w_rec"][4].__setitem__(4, 0.5), "params.layer0.w_rec",
    "a non-zero diagonal in w_rec")
par("par.delay.over", "delays", lambda d: d["params"]["layer0.delay"][0].__setitem__(0, 6.5), "params.layer0.delay",
    "a delay above delays.max")
par("par.delay.neg", "delays", lambda d: d["params"]["layer1.delay"][1].__setitem__(2, -0.5), "params.layer1.delay",
    "a negative delay", cmd="run")
par("par.input.missing", "lif", lambda d: d.pop("input"), "input", "input missing")
par("par.input.rows", "lif", lambda d: d["input"].pop(), "input", "input with 39 rows of 40", cmd="run")
par("par.input.cols", "lif", lambda d: d["input"][5].append(0), "input[5]", "input row 5 one number long")
par("par.input.nan", "lif", lambda d: d["input"][0].__setitem__(0, "NaN"), "input[0][0]", "input NaN")
par("par.target.missing", "lif", lambda d: d.pop("target"), "target", "target missing (mse)", cmd="check")
par("par.target.shape", "lif", lambda d: d["target"][0].pop(), "target[0]", "target row 0 short")
par("par.label.missing", "alif", lambda d: d.pop("label"), "label", "label missing (ce)")
par("par.label.over", "alif", lambda d: d.update(label=2), "label", "label 2 with 2 outputs", cmd="run")
par("par.label.neg", "alif", lambda d: d.update(label=-1), "label", "label negative")
par("par.label.string", "alif", lambda d: d.update(label="1"), "label", "label a string")
par("par.label.frac", "alif", lambda d: d.update(label=1.5), "label", "label fractional", cmd="rules")
par("par.other.network", "lif", lambda d: None, "params.layer0.w_in",
    "the parameters of another network (lif for alif)",
    net_base="alif")
par("par.other.steps", "lif", lambda d: d.update(input=d["input"][:30], target=d["target"][:30]), "input",
    "the input of a 30-step network for a 40-step one", cmd="run")
# overflow through the parameters: the numbers are finite, their results are not
d = copy.deepcopy(PARAMS["lif"])
d["params"]["layer0.w_in"][0][0] = 1e308
p = write("ovf.par.w_in.json", json.dumps(d))
case("ovf.par.w_in.grad", ["grad", path("lif.json"), "--rule", "bptt", "--params", p, "-o", Out("old.json")], 2,
     ["finite"], "a weight of 1e308 in the parameters: grad refuses to write infinities")
case("ovf.par.w_in.run", ["run", path("lif.json"), "--params", p, "--csv", Out("new.csv")], 0, [],
     "a weight of 1e308 in the parameters: the loss stays finite (only its gradient overflows); no NaN written")
d = copy.deepcopy(PARAMS["lif"])
d["target"][10][0] = 1e308
p = write("ovf.par.target.json", json.dumps(d))
case("ovf.par.target.run", ["run", path("lif.json"), "--params", p, "--csv", Out("new.csv")], 2, ["finite"],
     "a target of 1e308: the loss overflows; run prints no inf loss")
case("ovf.par.target.grad", ["grad", path("lif.json"), "--rule", "bptt", "--params", p, "-o", Out("new.json")], 2,
     ["finite"], "a target of 1e308: grad refuses")
# extra top-level keys: a warning (docs/formats.md: keys not listed are reported as a warning)
d = copy.deepcopy(PARAMS["lif"])
d["comment"] = "hand-edited"
d["temperature"] = 3
p = write("par.warn.extra.json", json.dumps(d))
case("par.warn.extra", ["grad", path("lif.json"), "--rule", "bptt", "--params", p, "-o", Out("new.json")], 0,
     ["warning", "temperature"], "an unknown top-level key in a parameter file: a warning naming it, exit 0")

# ---------------------------------------------------------------- command line
L = path("lif.json")
A = path("alif.json")
D = path("deep.json")
G = ["grad", L, "--rule"]


def cli(cid, args, phrases, desc, exit=2, flags=()):
    case(cid, args, exit, phrases, desc, flags)


cli("cli.none", [], ["usage"], "no subcommand")
cli("cli.unknown.command", ["frob"], ["frob"], "an unknown subcommand")
cli("cli.version.extra", ["version", "--bogus"], ["--bogus"], "version with an unknown option")
for sub in ("init", "grad", "check", "bench", "run", "train", "version"):
    cli("help." + sub, [sub, "--help"], ["usage", sub], "%s --help: usage on stdout, exit 0" % sub, exit=0)
for sub in ("grad", "train"):
    cli("help.h." + sub, [sub, "-h"], ["usage", sub], "%s -h: usage on stdout, exit 0" % sub, exit=0)
# init
cli("init.no.args", ["init"], ["init"], "init without arguments")
cli("init.no.out", ["init", L], ["-o"], "init without -o")
cli("init.out.novalue", ["init", L, "-o"], ["-o"], "-o without its value")
cli("init.unknown.option", ["init", L, "-o", Out("new.json"), "--rule", "bptt"], ["--rule"], "init with --rule")
cli("init.extra.arg", ["init", L, A, "-o", Out("new.json")], [os.path.basename(A)], "init with two networks")
cli("init.net.missing", ["init", path("nosuch.json"), "-o", Out("new.json")], ["nosuch.json"],
    "a network file that does not exist")
cli("init.net.directory", ["init", IN, "-o", Out("new.json")], [os.path.basename(IN)],
    "a network path that is a folder")
cli("init.net.devnull", ["init", "/dev/null", "-o", Out("new.json")], ["/dev/null"], "the network file /dev/null")
# grad
cli("grad.no.args", ["grad"], ["grad"], "grad without arguments")
cli("grad.no.rule", ["grad", L, "-o", Out("old.json")], ["--rule"], "grad without --rule")
cli("grad.no.out", ["grad", L, "--rule", "bptt"], ["-o"], "grad without -o")
cli("grad.rule.novalue", ["grad", L, "-o", Out("old.json"), "--rule"], ["--rule"], "--rule without its value")
cli("grad.unknown.option", ["grad", L, "--rule", "bptt", "-o", Out("old.json"), "--rules", "bptt"], ["--rules"],
    "grad with --rules")
cli("grad.extra.arg", ["grad", L, L, "--rule", "bptt", "-o", Out("old.json")], ["unexpected"], "grad with two networks")
for cid, rule, ph, desc in [
    ("grad.rule.unknown", "nosuch", "nosuch", "an unknown rule"),
    ("grad.rule.empty", "", "--rule", "an empty rule"),
    ("grad.rule.colon", "bptt:", "bptt:", "bptt: with an empty option list"),
    ("grad.rule.colon.only", ":", "--rule", "a rule that is a colon"),
    ("grad.rule.bptt.option", "bptt:window=3", "window", "bptt with an option"),
    ("grad.rule.tbptt.none", "tbptt", "tbptt", "tbptt without window or blocks"),
    ("grad.rule.tbptt.window0", "tbptt:window=0", "window=0", "tbptt:window=0"),
    ("grad.rule.tbptt.windowneg", "tbptt:window=-2", "window=-2", "tbptt:window=-2"),
    ("grad.rule.tbptt.windowfrac", "tbptt:window=2.5", "window=2.5", "tbptt:window=2.5"),
    ("grad.rule.tbptt.windowhex", "tbptt:window=0x10", "window=0x10", "tbptt:window=0x10"),
    ("grad.rule.tbptt.window.overflow", "tbptt:window=99999999999999999999999", "window=",
     "tbptt:window beyond a long"),
    ("grad.rule.tbptt.blocks0", "tbptt:blocks=0", "blocks=0", "tbptt:blocks=0"),
    ("grad.rule.tbptt.noeq", "tbptt:window", "window", "tbptt:window without =value"),
    ("grad.rule.tbptt.emptyval", "tbptt:window=", "window", "tbptt:window= with an empty value"),
    ("grad.rule.fptt.chunks0", "fptt:chunks=0", "chunks=0", "fptt:chunks=0"),
    ("grad.rule.fptt.chunks.over", "fptt:chunks=41", "chunks=41", "fptt:chunks=41 with 40 steps"),
    ("grad.rule.fptt.chunks.frac", "fptt:chunks=2.5", "chunks=2.5", "fptt:chunks=2.5"),
    ("grad.rule.fptt.alpha0", "fptt:chunks=4,alpha=0", "alpha=0", "fptt:alpha=0"),
    ("grad.rule.fptt.beta2", "fptt:chunks=4,beta=2", "beta=2", "fptt:beta=2"),
    ("grad.rule.fptt.alpha.nan", "fptt:chunks=4,alpha=nan", "alpha=nan", "fptt:alpha=nan"),
    ("grad.rule.fptt.rho.inf", "fptt:chunks=4,rho=inf", "rho=inf", "fptt:rho=inf"),
    ("grad.rule.fptt.unknown", "fptt:chunks=4,gamma=1", "gamma", "fptt with an unknown option"),
    ("grad.rule.eprop.feedback", "eprop:feedback=nosuch", "feedback=nosuch", "eprop:feedback=nosuch"),
    ("grad.rule.eprop.signal", "eprop:signal=nosuch", "signal=nosuch", "eprop:signal=nosuch"),
    ("grad.rule.eprop.traces", "eprop:traces=full", "traces", "eprop with ostl's traces option"),
    ("grad.rule.ostl.traces", "ostl:traces=nosuch", "traces=nosuch", "ostl:traces=nosuch"),
    ("grad.rule.eprop.block.neg", "eprop:block=-1", "block=-1", "eprop:block=-1"),
    ("grad.rule.eprop.block.frac", "eprop:block=2.5", "block=2.5", "eprop:block=2.5"),
    ("grad.rule.ostl.block.word", "ostl:block=all", "block=all", "ostl:block=all"),
    ("grad.rule.ostl.adaptive", "ostl:feedback=adaptive", "feedback=adaptive", "ostl with e-prop's adaptive feedback"),
    ("grad.rule.rtrl.option", "rtrl:exact=1", "exact", "rtrl with an option"),
    ("grad.rule.case", "BPTT", "BPTT", "a rule name in capitals"),
    ("grad.rule.long", "b" * 300, "--rule", "a 300-character rule name"),
    ("grad.rule.many.options", "eprop:" + ",".join("k%d=1" % i for i in range(40)), "--rule", "40 options"),
    ("grad.rule.option.long", "eprop:feedback=" + "r" * 500, "--rule", "a 500-character option value"),
    ("grad.rule.dup.option", "eprop:feedback=random,feedback=symmetric", "feedback", "the same option twice"),
]:
    cli(cid, G + [rule, "-o", Out("old.json")], [ph], desc)
cli("grad.rule.eprop.deep", ["grad", D, "--rule", "eprop", "-o", Out("new.json")], ["e-prop"],
    "eprop on a network of three layers")
for cid, prec, desc in [
    ("grad.prec.3", "3", "--precision 3"),
    ("grad.prec.0", "0", "--precision 0"),
    ("grad.prec.neg", "-53", "--precision -53"),
    ("grad.prec.over", "1048577", "--precision above 2^20"),
    ("grad.prec.huge", "99999999999999999999999", "--precision beyond a long"),
    ("grad.prec.mpfr.x", "mpfr:x", "--precision mpfr:x"),
    ("grad.prec.mpfr.empty", "mpfr:", "--precision mpfr:"),
    ("grad.prec.mpfr.3", "mpfr:3", "--precision mpfr:3"),
    ("grad.prec.list", "53,128", "a list where grad takes one precision"),
    ("grad.prec.frac", "53.5", "--precision 53.5"),
    ("grad.prec.empty", "", "--precision ''"),
    ("grad.prec.word", "double", "--precision double"),
]:
    cli(cid, G + ["bptt", "--precision", prec, "-o", Out("old.json")], ["--precision"], desc)
cli("grad.prec.novalue", G + ["bptt", "-o", Out("old.json"), "--precision"], ["--precision"],
    "--precision without value")
cli("grad.params.novalue", G + ["bptt", "-o", Out("old.json"), "--params"], ["--params"], "--params without its value")
# outputs that cannot be written
cli("out.missing.dir", G + ["bptt", "-o", Out("missing/g.json")], ["g.json"], "-o in a folder that does not exist")
cli("out.is.dir", G + ["bptt", "-o", Out("dir")], ["dir"], "-o names a folder")
cli("out.under.file", G + ["bptt", "-o", Out("old.json/g.json")], ["g.json"], "-o under a regular file")
cli("out.proc", G + ["bptt", "-o", "/proc/snngrad-g.json"], ["snngrad-g.json"], "-o in /proc (no files can be made)")
cli("out.too.long", G + ["bptt", "-o", Out("x" * 300 + ".json")], ["xxxx"], "-o with a 300-character name")
cli("out.path.too.long", ["init", L, "-o", Out("/".join(["d" * 200] * 25) + "/p.json")], ["p.json"],
    "-o with a 5000-character path in missing folders")
cli("out.empty", G + ["bptt", "-o", ""], ["-o"], "-o ''")
cli("out.fsize", ["init", L, "-o", Out("old.json")], ["old.json"],
    "the file-size limit is reached while writing (as a full disk): the old file stays", flags=("fsize",))
cli("out.fsize.new", ["check", L, "--precision", "53", "--json", Out("new.json")], ["new.json"],
    "a full disk while writing the check report", flags=("fsize",))
cli("out.stdout.full", ["grad", L, "--rule", "bptt", "-o", Out("new.json")], ["write"],
    "standard output is /dev/full: the write error is reported", flags=("stdout=/dev/full", "mayWrite"))
cli("out.readonly.dir", G + ["bptt", "-o", Out("dir/g.json")], ["g.json"],
    "-o in a folder without write permission (skipped as root, who may write anyway)",
    flags=("nonroot", "pre=pre_readonly_dir"))
cli("out.symlink", ["init", L, "-o", Out("link.json")], [],
    "-o onto a symlink: written through the link, as cp and shell redirection do", exit=0,
    flags=("pre=pre_symlink", "post=post_symlink"))
cli("out.mode.new", ["init", L, "-o", Out("new.json")], [], "a new output file gets the umask's mode (0644 under 022)",
    exit=0, flags=("post=post_mode_new",))
cli("out.mode.kept", ["init", L, "-o", Out("old.json")], [], "a replaced output file keeps its mode (0644)", exit=0,
    flags=("post=post_mode_old",))
# check (finite differences)
C = ["check", L]
cli("check.no.args", ["check"], ["check"], "check without a network")
cli("check.unknown.option", C + ["--rule", "bptt"], ["--rule"], "check with --rule (grad's option)")
cli("check.extra.arg", C + [A], ["unexpected"], "check with two networks")
cli("check.prec.3", C + ["--precision", "3"], ["--precision"], "--precision 3")
cli("check.prec.list.bad", C + ["--precision", "53,x"], ["--precision"], "--precision 53,x")
cli("check.prec.list.empty.item", C + ["--precision", "53,,128"], ["--precision"], "--precision 53,,128")
cli("check.prec.empty", C + ["--precision", ""], ["--precision"], "--precision ''")
cli("check.prec.commas", C + ["--precision", ",,,"], ["--precision"], "--precision ,,,")
cli("check.prec.many", C + ["--precision", ",".join(["53"] * 33)], ["--precision", "at most 32"], "33 precisions (32 at most)")
cli("check.prec.mpfr.x", C + ["--precision", "53,mpfr:x"], ["--precision"], "--precision 53,mpfr:x")
cli("check.method.nosuch", C + ["--method", "nosuch"], ["--method"], "--method nosuch")
cli("check.method.empty", C + ["--method", ""], ["--method"], "--method ''")
cli("check.step.2", C + ["--step", "2"], ["--step"], "--step 2")
cli("check.step.0", C + ["--step", "0"], ["--step"], "--step 0")
cli("check.step.1", C + ["--step", "1"], ["--step"], "--step 1")
cli("check.step.neg", C + ["--step", "-0.001"], ["--step"], "--step negative")
cli("check.step.nan", C + ["--step", "nan"], ["--step"], "--step nan")
cli("check.step.word", C + ["--step", "small"], ["--step"], "--step small")
cli("check.step.tiny", C + ["--precision", "53", "--step", "1e-300"], ["--step"],
    "--step 1e-300: below what 53 bits resolve; refused naming --step", exit=2)
cli("check.json.missing.dir", C + ["--precision", "53", "--json", Out("missing/c.json")], ["c.json"],
    "--json in a missing folder")
cli("check.json.is.dir", C + ["--precision", "53", "--json", Out("dir")], ["dir"], "--json names a folder")
cli("check.sweep.missing.dir", C + ["--precision", "53", "--step-sweep", Out("missing/v.csv")], ["v.csv"],
    "--step-sweep in a missing folder")
cli("check.multi.json.sweep", C + ["--precision", "53", "--json", Out("old.json"), "--step-sweep",
                                   Out("missing/v.csv")], ["v.csv"],
    "--json ok but --step-sweep unwritable: nothing written, the old --json file unchanged")
cli("check.multi.new.json.sweep", C + ["--precision", "53", "--json", Out("new.json"), "--step-sweep",
                                       "/nonexistent/v.csv"], ["v.csv"],
    "--json ok but --step-sweep in /nonexistent: the new --json file not created")
cli("check.psweep.without.rules", C + ["--precision-sweep", "24:64"], ["--csv"], "--precision-sweep without --csv")
cli("check.heaviside", ["check", A, "--precision", "53"], ["spike.forward"], "finite differences on heaviside: refused",
    exit=3)
p = mutated("check.detach.reset", "lif", setter("gradient.reset", "detach"))
cli("check.detach.reset", ["check", p, "--precision", "53", "--json", Out("new.json")], ["gradient.reset"],
    "finite differences with gradient.reset detach: refused", exit=3)
p = mutated("check.detach.recurrent", "lif", setter("gradient.recurrent", "detach"))
cli("check.detach.recurrent", ["check", p, "--precision", "53"], ["gradient.recurrent"],
    "finite differences with gradient.recurrent detach: refused", exit=3)
p = mutated("check.silent", "lif", lambda d: d["layers"][0].update(w_scale=0, w_mean=0, threshold=1e6))
cli("check.silent", ["check", p, "--precision", "53", "--json", Out("new.json")], ["check.silent.json"],
    "a layer that never crosses its threshold: refused as vacuous", exit=3)
# check --rules
R = ["check", A, "--rules"]
cli("rules.unknown", R + ["bptt,nosuch", "--precision", "53"], ["nosuch"], "--rules with an unknown rule")
cli("rules.empty", R + ["", "--precision", "53"], ["--rules"], "--rules ''")
cli("rules.commas", R + [",,", "--precision", "53"], ["--rules"], "--rules ,,")
cli("rules.option.first", R + ["window=3", "--precision", "53"], ["--rules"], "--rules starting with an option")
cli("rules.many", R + [",".join(["bptt"] * 17), "--precision", "53"], ["--rules"], "17 rules (16 at most)")
cli("rules.tbptt.window0", R + ["bptt,tbptt:window=0", "--precision", "53"], ["window=0"], "--rules tbptt:window=0")
cli("rules.eprop.feedback", R + ["eprop:feedback=nosuch", "--precision", "53"], ["feedback=nosuch"],
    "--rules eprop:feedback=nosuch")
cli("rules.fptt.chunks0", R + ["fptt:chunks=0", "--precision", "53"], ["chunks=0"], "--rules fptt:chunks=0")
cli("rules.colon", R + ["rtrl:", "--precision", "53"], ["rtrl:"], "--rules rtrl:")
cli("rules.prec.3", R + ["rtrl", "--precision", "3"], ["--precision"], "--rules with --precision 3")
cli("rules.prec.mpfr.x", R + ["rtrl", "--precision", "mpfr:x"], ["--precision"], "--rules with --precision mpfr:x")
cli("rules.eprop.deep", ["check", D, "--rules", "bptt,eprop", "--precision", "53", "--json", Out("new.json")],
    ["e-prop"], "--rules eprop on three layers: refused before anything is written")
cli("rules.psweep.no.csv", R + ["rtrl", "--precision-sweep", "24:64"], ["--csv"], "--precision-sweep without --csv")
cli("rules.psweep.reversed", R + ["rtrl", "--precision-sweep", "64:24", "--csv", Out("new.csv")], ["--precision-sweep"],
    "--precision-sweep 64:24")
cli("rules.psweep.low", R + ["rtrl", "--precision-sweep", "8:64", "--csv", Out("new.csv")], ["--precision-sweep"],
    "--precision-sweep below 16 bits")
cli("rules.psweep.high", R + ["rtrl", "--precision-sweep", "24:70000", "--csv", Out("new.csv")],
    ["--precision-sweep"], "--precision-sweep above 65536 bits")
cli("rules.psweep.word", R + ["rtrl", "--precision-sweep", "low:high", "--csv", Out("new.csv")],
    ["--precision-sweep"], "--precision-sweep low:high")
cli("rules.psweep.trailing", R + ["rtrl", "--precision-sweep", "24:64x", "--csv", Out("new.csv")],
    ["--precision-sweep"], "--precision-sweep 24:64x")
cli("rules.psweep.missing.dir", R + ["rtrl", "--precision", "53", "--precision-sweep", "24:32", "--csv",
                                     Out("missing/s.csv")], ["s.csv"], "--precision-sweep --csv in a missing folder")
cli("rules.json.is.dir", R + ["rtrl", "--precision", "53", "--json", Out("dir")], ["dir"], "--rules --json a folder")
cli("rules.multi.csv.json", R + ["bptt,rtrl", "--precision", "53", "--csv", Out("old.csv"), "--json",
                                 "/nonexistent/v.json"], ["v.json"],
    "--rules --csv ok but --json unwritable: nothing written, the old CSV unchanged")
cli("rules.multi.json.psweep", R + ["rtrl", "--precision", "53", "--json", Out("new.json"), "--precision-sweep",
                                    "24:32", "--csv", Out("missing/s.csv")], ["s.csv"],
    "--rules --json ok but the sweep CSV unwritable: the JSON not created")
# run
cli("run.no.csv", ["run", L], ["--csv"], "run without --csv")
cli("run.no.net", ["run", "--csv", Out("new.csv")], ["run"], "run without a network")
cli("run.unknown.option", ["run", L, "--csv", Out("new.csv"), "-o", Out("new.json")], ["-o"], "run with -o")
cli("run.prec.3", ["run", L, "--precision", "3", "--csv", Out("new.csv")], ["--precision"], "run --precision 3")
cli("run.prec.list", ["run", L, "--precision", "53,64", "--csv", Out("new.csv")], ["--precision"],
    "run with a list of precisions")
cli("run.csv.missing.dir", ["run", L, "--csv", Out("missing/r.csv")], ["r.csv"], "--csv in a missing folder")
cli("run.csv.is.dir", ["run", L, "--csv", Out("dir")], ["dir"], "--csv names a folder")
cli("run.multi.raster", ["run", L, "--csv", Out("old.csv"), "--raster", "/nonexistent/x"], ["/nonexistent/x"],
    "--csv ok but --raster unwritable: nothing written, the old CSV unchanged")
cli("run.multi.raster.new", ["run", L, "--csv", Out("new.csv"), "--raster", Out("missing/r.csv")], ["r.csv"],
    "--csv ok but --raster in a missing folder: the new CSV not created")
cli("run.raster.same.as.csv", ["run", L, "--csv", Out("new.csv"), "--raster", Out("new.csv")], ["new.csv"],
    "--raster and --csv the same file: refused rather than one overwriting the other")
# bench
B = ["bench", "--reps", "1", "--steps", "10", "--neurons", "4"]
for cid, opt, val in [
    ("bench.neurons.0", "--neurons", "0"),
    ("bench.neurons.neg", "--neurons", "-4"),
    ("bench.neurons.word", "--neurons", "many"),
    ("bench.neurons.over", "--neurons", "65537"),
    ("bench.neurons.trailing", "--neurons", "4x"),
    ("bench.steps.0", "--steps", "0"),
    ("bench.steps.over", "--steps", "16777217"),
    ("bench.steps.frac", "--steps", "10.5"),
    ("bench.layers.0", "--layers", "0"),
    ("bench.layers.over", "--layers", "65"),
    ("bench.reps.0", "--reps", "0"),
    ("bench.reps.word", "--reps", "x"),
    ("bench.recurrent.maybe", "--recurrent", "maybe"),
    ("bench.model.unknown", "--model", "izhikevich"),
    ("bench.prec.3", "--precision", "3"),
    ("bench.prec.mpfr.x", "--precision", "mpfr:x"),
]:
    args = [a for a in B]
    if opt in args:
        i = args.index(opt)
        del args[i:i + 2]
    cli(cid, args + [opt, val], [opt], "bench %s %s" % (opt, val))
cli("bench.unknown.option", B + ["--rule", "bptt"], ["--rule"], "bench with --rule")
cli("bench.extra.arg", ["bench", L, A], ["unexpected"], "bench with two networks")
cli("bench.net.missing", ["bench", path("nosuch.json")], ["nosuch.json"], "bench on a missing network file")
cli("bench.mem.neurons", ["bench", "--neurons", "65536", "--steps", "10", "--reps", "1", "--recurrent", "yes"],
    ["--neurons"], "bench with 65536 recurrent neurons (34 GB of weights): refused naming --neurons", flags=MEM)
cli("bench.mem.steps", ["bench", "--neurons", "4096", "--steps", "16777216", "--reps", "1"], ["--steps"],
    "bench over 2^24 steps of 4096 neurons: refused naming --steps", flags=MEM)
BR = ["bench", "--rules"]
cli("bench.rules.unknown", BR + ["bptt,nosuch", "--neurons", "4", "--steps", "10"], ["nosuch"],
    "bench --rules with an unknown rule")
cli("bench.rules.option", BR + ["tbptt:window=0", "--neurons", "4", "--steps", "10"], ["window=0"],
    "bench --rules tbptt:window=0")
cli("bench.rules.empty", BR + ["", "--neurons", "4", "--steps", "10"], ["--rules"], "bench --rules ''")
cli("bench.rules.neurons.0", BR + ["bptt", "--neurons", "0", "--steps", "10"], ["--neurons"],
    "bench --rules --neurons 0")
cli("bench.rules.neurons.trailing", BR + ["bptt", "--neurons", "4x", "--steps", "10"], ["--neurons"],
    "bench --rules --neurons 4x")
cli("bench.rules.neurons.list.bad", BR + ["bptt", "--neurons", "4,x", "--steps", "10"], ["--neurons"],
    "bench --rules --neurons 4,x")
cli("bench.rules.steps.word", BR + ["bptt", "--neurons", "4", "--steps", "ten"], ["--steps"],
    "bench --rules --steps ten")
cli("bench.rules.steps.empty", BR + ["bptt", "--neurons", "4", "--steps", ""], ["--steps"], "bench --rules --steps ''")
cli("bench.rules.steps.many", BR + ["bptt", "--neurons", "4", "--steps", ",".join(["10"] * 17)], ["--steps"],
    "bench --rules with 17 lengths (16 are used)")
cli("bench.rules.prec.list", BR + ["bptt", "--neurons", "4", "--steps", "10", "--precision", "53,64"],
    ["--precision"], "bench --rules with a list of precisions")
cli("bench.rules.csv.missing.dir", BR + ["bptt", "--neurons", "4", "--steps", "10", "--csv", Out("missing/b.csv")],
    ["b.csv"], "bench --rules --csv in a missing folder")
cli("bench.rules.model.unknown", BR + ["bptt", "--neurons", "4", "--steps", "10", "--model", "izhikevich"],
    ["--model"], "bench --rules --model izhikevich")
cli("bench.rules.mem.steps", BR + ["bptt", "--neurons", "4096", "--steps", "100000000"], ["--steps"],
    "bench --rules over 1e8 steps of 4096 neurons: refused naming --steps", flags=MEM)

# ---------------------------------------------------------------- experiments
EXPS = {k: k + ".json" for k in ("adding", "colearn", "cues", "cues_deep", "fmnist_rows", "fmnist_pixels", "pattern",
                                 "recall", "shd")}


def small(d):
    """Make a shipped experiment cheap: two sequences per update, three
    updates, evaluation on two samples; its output in $O/run."""
    d.update(batch=2, updates=3, out=RUN)
    d["eval"] = {"every": 1, "samples": 2}
    d.pop("checkpoint", None)
    for ly in d["network"]["layers"] if isinstance(d.get("network"), dict) else []:
        ly["size"] = min(ly.get("size", 8), 8)
    t = d["task"]
    if t["kind"] == "pattern":
        t.update(steps=20, inputs=10)
    if t["kind"] == "cues":
        t.update(cues=3, cue_len=2, gap=1, delay=2, recall_len=2, group=2)
    if t["kind"] == "adding":
        t.update(steps=10)
    if t["kind"] == "recall":
        t.update(steps=12, store_len=2, group=2)
    if t["kind"] == "fmnist":
        t.update(path=os.path.join(IN, "idx", "ok"), limit=8)
    if t["kind"] == "shd":
        t.update(path=os.path.join(IN, "h5", "ok"), steps=10)
    return d


def experiment(cid, base, fn):
    d = small(load(EXPS[base], EXPERIMENTS))
    fn(d)
    return write(cid + ".json", json.dumps(d) if not isinstance(d, str) else d)


def exp(cid, base, keypath, value=None, key=None, desc="", phrases=None, until=True, flags=(), args=()):
    """An experiment with one key set (or deleted): refused before its
    output folder exists."""
    p = experiment(cid, base, setter(keypath, value) if isinstance(keypath, str) else keypath)
    if key is None and isinstance(keypath, str):
        key = jsonpath(keypath)
    ph = phrases if phrases is not None else key_phrases(p, key)
    case(cid, ["train", p, "--quiet"] + (["--until", "1"] if until else []) + list(args), 2, ph, desc, flags)


tiny = experiment("exp.tiny", "recall", lambda d: d.update(rule="eprop"))
for cid, text, desc in [
    ("exp.empty", "", "an empty experiment file"),
    ("exp.notjson", "rule: bptt\n", "an experiment that is not JSON"),
    ("exp.array", "[]\n", "an experiment that is an array"),
    ("exp.number", "1\n", "an experiment that is a number"),
    ("exp.truncated", open(tiny).read()[:100], "a truncated experiment"),
    ("exp.nul", open(tiny).read().replace('"rule"', '"ru\x00le"'), "a NUL byte in the experiment"),
    ("exp.dupkey", open(tiny).read().replace('"rule": "eprop"', '"rule": "eprop", "rule": "bptt"'),
     "rule given twice"),
    ("exp.deep", open(tiny).read().replace('"rule"', '"comment": ' + "[" * 100000 + "]" * 100000 + ', "rule"'),
     "arrays nested 100000 deep in an experiment"),
]:
    p = write(cid + ".json", text)
    case(cid, ["train", p, "--quiet"], 2, [cid + ".json"], desc)
p = write("exp.nonutf8.json", open(tiny, "rb").read().replace(b'"eprop"', b'"epr\xffop"'))
case("exp.nonutf8", ["train", p, "--quiet"], 2, ["exp.nonutf8.json"], "invalid UTF-8 in the experiment")
case("exp.missing.file", ["train", path("nosuch.exp.json"), "--quiet"], 2, ["nosuch.exp.json"],
     "an experiment file that does not exist")
case("exp.directory", ["train", IN, "--quiet"], 2, [os.path.basename(IN)], "an experiment path that is a folder")
exp("exp.unknown.key", "recall", "learning_rate", 0.1, key="learning_rate", phrases=["exp.unknown.key.json",
    "learning_rate"], desc="an unknown top-level key (an error for experiments)")
exp("exp.network.missing", "recall", "network", DEL, desc="network missing")
exp("exp.network.number", "recall", "network", 3, desc="network a number")
exp("exp.network.array", "recall", "network", [], desc="network an array")
exp("exp.network.file.missing", "recall", "network", "nosuch_net.json", phrases=["nosuch_net.json"],
    desc="network names a file that does not exist")
write("exp.net.bad.json", json.dumps({"layers": [{"model": "lif", "size": 0}], "readout": {"tau_out": 0}}))
exp("exp.network.file.bad", "recall", "network", "exp.net.bad.json", phrases=["exp.net.bad.json", "'layers[0].size'"],
    desc="network file with a layer of size 0")
write("exp.net.notjson.json", "not json")
exp("exp.network.file.notjson", "recall", "network", "exp.net.notjson.json", phrases=["exp.net.notjson.json"],
    desc="network file that is not JSON")
exp("exp.network.size.zero", "recall", "network.layers.0.size", 0, phrases=["exp.network.size.zero.json",
    "'layers[0].size'", "expected"], desc="an inline layer of size 0")
exp("exp.network.model.unknown", "cues", "network.layers.0.model", "hh", phrases=["exp.network.model.unknown.json",
    "'layers[0].model'", "expected"], desc="an inline layer of an unknown model")
exp("exp.network.train.unknown", "colearn", "network.layers.1.train", ["w_in", "delay"],
    phrases=["exp.network.train.unknown.json", "'layers[1].train[1]'", "expected"],
    desc="train names delay in a layer without delays")
exp("exp.network.layers.empty", "recall", "network.layers", [], phrases=["exp.network.layers.empty.json",
    "'layers'"], desc="an inline network without layers")
exp("exp.network.delays.max.zero", "colearn", "network.layers.0.delays.max", 0,
    phrases=["exp.network.delays.max.zero.json", "'layers[0].delays.max'"], desc="delays.max 0 in an inline network")
# task
exp("exp.task.missing", "recall", "task", DEL, desc="task missing")
exp("exp.task.string", "recall", "task", "recall", desc="task a string")
exp("exp.task.kind.missing", "recall", "task.kind", DEL, desc="task.kind missing")
exp("exp.task.kind.unknown", "recall", "task.kind", "mnist", desc="unknown task.kind")
exp("exp.task.kind.number", "recall", "task.kind", 3, desc="task.kind a number")
exp("exp.task.unknown.key", "recall", "task.length", 5, key="task", phrases=["exp.task.unknown.key.json", "length"],
    desc="an unknown task key")
exp("exp.task.cues.even", "cues", "task.cues", 4, desc="cues 4 (must be odd)")
exp("exp.task.cues.zero", "cues", "task.cues", 0, desc="cues 0")
exp("exp.task.cue_len.zero", "cues", "task.cue_len", 0, desc="cue_len 0")
exp("exp.task.group.zero", "cues", "task.group", 0, desc="group 0")
exp("exp.task.cue_rate.over", "cues", "task.cue_rate", 1.5, desc="cue_rate 1.5")
exp("exp.task.steps.zero", "adding", "task.steps", 0, desc="adding steps 0")
exp("exp.task.steps.one", "adding", "task.steps", 1, desc="adding steps 1 (needs two halves)")
exp("exp.task.steps.frac", "adding", "task.steps", 10.5, desc="adding steps fractional")
exp("exp.task.steps.string", "recall", "task.steps", "12", desc="recall steps a string")
exp("exp.task.store_len.big", "recall", "task.store_len", 6, desc="store_len 6 of 12 steps (store and recall overlap)")
exp("exp.task.rate.over", "pattern", "task.rate", 2, desc="pattern rate 2")
exp("exp.task.outputs.zero", "pattern", "task.outputs", 0, desc="pattern outputs 0")
exp("exp.task.inputs.over", "pattern", "task.inputs", 100001, desc="pattern inputs above the range")
exp("exp.task.window.over", "recall", "task.window", [1, 13], desc="task.window past the last of 12 steps")
exp("exp.task.window.bad", "recall", "task.window", "last", desc="task.window a string")
exp("exp.task.window.zero", "recall", "task.window", [0, 3], desc="task.window starting at 0")
exp("exp.task.seed.neg", "pattern", "task.seed", -1, desc="task.seed negative")
exp("exp.task.seed.frac", "pattern", "task.seed", 1.5, desc="task.seed fractional")
exp("exp.task.limit.neg", "fmnist_rows", "task.limit", -1, desc="task.limit negative")
exp("exp.task.order.unknown", "fmnist_rows", "task.order", "column", desc="fmnist order column")
exp("exp.task.path.number", "fmnist_rows", "task.path", 5, desc="task.path a number")
exp("exp.task.duration.zero", "shd", "task.duration", 0, desc="shd duration 0")
exp("exp.task.shd.steps.zero", "shd", "task.steps", 0, desc="shd steps 0")

# Fashion-MNIST: IDX files (gzip), each folder with one defect
def idx_images(n, pixels=None, magic=0x803, rows=28, cols=28, count=None):
    body = pixels if pixels is not None else bytes((i * 7) % 256 for i in range(n * rows * cols))
    return struct.pack(">IIII", magic, n if count is None else count, rows, cols) + body


def idx_labels(n, labels=None, magic=0x801, count=None):
    body = labels if labels is not None else bytes(i % 10 for i in range(n))
    return struct.pack(">II", magic, n if count is None else count) + body


def idx_folder(name, train_img, train_lab, test=True, gz=True):
    d = os.path.join(IN, "idx", name)
    os.makedirs(d, exist_ok=True)
    pack = gzip.compress if gz else (lambda b: b)
    for fn, data in (("train-images-idx3-ubyte.gz", train_img), ("train-labels-idx1-ubyte.gz", train_lab)):
        if data is not None:
            with open(os.path.join(d, fn), "wb") as f:
                f.write(pack(data) if isinstance(data, bytes) else data.encode())
    if test:
        with open(os.path.join(d, "t10k-images-idx3-ubyte.gz"), "wb") as f:
            f.write(gzip.compress(idx_images(8)))
        with open(os.path.join(d, "t10k-labels-idx1-ubyte.gz"), "wb") as f:
            f.write(gzip.compress(idx_labels(8)))
    return d


idx_folder("ok", idx_images(8), idx_labels(8))
for cid, folder, fname, desc in [
    ("exp.fmnist.missing.folder", None, "nosuch", "task.path a folder that does not exist"),
    ("exp.fmnist.images.truncated", idx_folder("img_trunc", idx_images(8)[: 16 + 3 * 784], idx_labels(8)),
     "train-images", "the image file holds 3 of the 8 images its header counts"),
    ("exp.fmnist.header.truncated", idx_folder("hdr_trunc", idx_images(8)[:10], idx_labels(8)), "train-images",
     "the image file ends inside its header"),
    ("exp.fmnist.labels.truncated", idx_folder("lab_trunc", idx_images(8), idx_labels(8)[:8 + 3]), "train-labels",
     "the label file holds 3 of 8 labels"),
    ("exp.fmnist.images.magic", idx_folder("img_magic", idx_images(8, magic=0x801), idx_labels(8)), "train-images",
     "the image file has the label magic"),
    ("exp.fmnist.labels.magic", idx_folder("lab_magic", idx_images(8), idx_labels(8, magic=0x803)), "train-labels",
     "the label file has the image magic"),
    ("exp.fmnist.zero.images", idx_folder("zero", idx_images(0), idx_labels(0)), "train-images",
     "the training files hold zero images"),
    ("exp.fmnist.count.mismatch", idx_folder("mismatch", idx_images(8), idx_labels(6)), "train-labels",
     "8 images but 6 labels"),
    ("exp.fmnist.label.over", idx_folder("label10", idx_images(8), idx_labels(8, bytes([1, 2, 10, 3, 4, 5, 6, 7]))),
     "train-labels", "a label 10 (classes 0-9)"),
    ("exp.fmnist.size.27", idx_folder("size27", idx_images(8, rows=27), idx_labels(8)), "train-images",
     "27 x 28 images"),
    ("exp.fmnist.garbage", idx_folder("garbage", bytes(range(256)) * 20, idx_labels(8)),
     "train-images", "the image file is neither gzip nor IDX"),
    ("exp.fmnist.empty.file", idx_folder("empty", b"", idx_labels(8), gz=False), "train-images",
     "an empty image file"),
    ("exp.fmnist.test.missing", idx_folder("no_test", idx_images(8), idx_labels(8), test=False), "t10k-images",
     "the test files are missing"),
    ("exp.fmnist.labels.missing", idx_folder("no_labels", idx_images(8), None), "train-labels",
     "the training labels are missing"),
    ("exp.fmnist.count.huge", idx_folder("huge", idx_images(8, count=0xFFFFFFFF), idx_labels(8, count=0xFFFFFFFF)),
     "train-images", "headers that count 2^32-1 images (8 present)"),
]:
    target = folder if folder else os.path.join(IN, "idx", fname)
    lim = cid != "exp.fmnist.count.huge"

    def fn(d, target=target, lim=lim):
        d["task"]["path"] = target
        if not lim:
            d["task"].pop("limit", None)

    ph = [fname, "truncated"] if cid == "exp.fmnist.count.huge" else [fname]
    exp(cid, "fmnist_rows", fn, phrases=ph, desc=desc, flags=MEM if not lim else ())

# SHD: the HDF5 files come from mkh5 (run.sh builds them in WORK/in/h5)
for variant, ph, desc in [
    ("missing", "shd_train.h5", "task.path a folder without the files"),
    ("no_labels", "/labels", "shd_train.h5 without /labels"),
    ("no_times", "/spikes/times", "shd_train.h5 without /spikes/times"),
    ("no_units", "/spikes/units", "shd_train.h5 without /spikes/units"),
    ("units_longer", "/spikes/units", "/spikes/units longer than /labels"),
    ("times_longer", "/labels", "/spikes/times longer than /labels"),
    ("empty", "expected a non-empty one-dimensional dataset", "every dataset empty"),
    ("len_mismatch", "/spikes", "a sample with more units than times"),
    ("unit_700", "/spikes/units", "a unit 700 (channels 0-699)"),
    ("label_20", "/labels", "a label 20 (classes 0-19)"),
    ("label_300", "/labels", "a label 300"),
    ("fixed_times", "/spikes", "/spikes/times plain floats, not variable-length arrays"),
    ("not_hdf5", "shd_train.h5", "shd_train.h5 is a text file"),
]:
    cid = "exp.shd." + variant
    target = os.path.join(IN, "h5", variant)
    if variant == "not_hdf5":
        os.makedirs(target, exist_ok=True)
        with open(os.path.join(target, "shd_train.h5"), "w") as f:
            f.write("not an HDF5 file\n")
    exp(cid, "shd", setter("task.path", target), phrases=[ph], desc=desc, flags=("h5",))
# rule
exp("exp.rule.missing", "recall", "rule", DEL, desc="rule missing")
exp("exp.bn.shard", "adding", lambda d: (d["network"]["layers"][0].update(batch_norm=True), d.update(shards=2)),
    key="shards", desc="batch_norm with shards of one sequence (batch 2 in 2 shards)")
exp("exp.bn.batch1", "adding", lambda d: (d["network"]["layers"][0].update(batch_norm=True), d.update(batch=1)),
    key="batch", desc="batch_norm with a batch of one")
exp("exp.bn.eprop", "adding", lambda d: (d["network"]["layers"][0].update(batch_norm=True), d.update(rule="eprop",
    batch=4)), key="rule", desc="batch_norm trained with e-prop")
exp("exp.rule.number", "recall", "rule", 1, desc="rule a number")
exp("exp.rule.unknown", "recall", "rule", "sgd", desc="an unknown rule")
exp("exp.rule.empty", "recall", "rule", "", desc="rule ''")
exp("exp.rule.colon", "recall", "rule", "bptt:", desc="rule bptt: (empty options)")
exp("exp.rule.bptt.option", "recall", "rule", "bptt:window=3", desc="bptt with an option")
exp("exp.rule.tbptt.none", "recall", "rule", "tbptt", desc="tbptt without window or blocks")
exp("exp.rule.tbptt.window0", "recall", "rule", "tbptt:window=0", desc="tbptt:window=0")
exp("exp.rule.tbptt.blocks0", "cues_deep", "rule", "tbptt:blocks=0", desc="tbptt:blocks=0")
exp("exp.rule.eprop.feedback", "cues", "rule", "eprop:feedback=nosuch", desc="eprop:feedback=nosuch")
exp("exp.rule.eprop.signal", "cues", "rule", "eprop:signal=nosuch", desc="eprop:signal=nosuch")
exp("exp.rule.ostl.traces", "recall", "rule", "ostl:traces=nosuch", desc="ostl:traces=nosuch")
exp("exp.rule.eprop.block.neg", "cues", "rule", "eprop:block=-3", desc="eprop:block=-3")
exp("exp.rule.rtrl.option", "recall", "rule", "rtrl:fast=1", desc="rtrl with an option")
exp("exp.rule.fptt.chunks0", "adding", "rule", "fptt:chunks=0", desc="fptt:chunks=0")
exp("exp.rule.fptt.chunks.over", "adding", "rule", "fptt:chunks=11", desc="fptt:chunks=11 with 10 steps")
exp("exp.rule.fptt.alpha.neg", "adding", "rule", "fptt:chunks=2,alpha=-1", desc="fptt:alpha=-1")
exp("exp.rule.eprop.deep", "cues_deep", "rule", "eprop", desc="eprop on three recurrent layers")
exp("exp.shards.over", "recall", "shards", 10 ** 6, desc="more shards than sequences in a batch")
exp("exp.shards.zero", "recall", "shards", 0, desc="shards 0")
exp("exp.threads.string", "recall", "threads", "2", desc="threads a string")
exp("exp.threads.over", "recall", "threads", 5000, desc="threads 5000")
exp("exp.fptt.other.rule", "recall", "fptt", {"loss": "time_weighted"}, desc="an fptt object with rule eprop")
exp("exp.fptt.loss.mse", "adding", lambda d: d.update(rule="fptt:chunks=2", fptt={"loss": "time_weighted"}),
    key="fptt.loss", desc="the time-weighted loss on a regression task")
exp("exp.fptt.loss.unknown", "adding", lambda d: d.update(rule="fptt:chunks=2", fptt={"loss": "weighted"}),
    key="fptt.loss", desc="an unknown fptt loss")
exp("exp.fptt.reset.neg", "adding", lambda d: d.update(rule="fptt:chunks=2", fptt={"reset_every": -1}),
    key="fptt.reset_every", desc="fptt.reset_every -1")
exp("exp.fptt.unknown.key", "adding", lambda d: d.update(rule="fptt:chunks=2", fptt={"lambda": 1}),
    key="fptt", desc="an unknown key in the fptt object")


def fptt_rate_reg(d):
    d["rule"] = "fptt:chunks=2"
    d["network"]["loss"] = {"rate_reg": {"c": 1}}


exp("exp.rule.fptt.rate_reg", "adding", fptt_rate_reg, phrases=["'loss.rate_reg'"], desc="fptt with a rate regulariser")
# optimizer
exp("exp.optimizer.string", "recall", "optimizer", "adam", desc="optimizer a string")
exp("exp.optimizer.kind.number", "recall", "optimizer.kind", 5, desc="optimizer.kind a number")
exp("exp.optimizer.kind.unknown", "recall", "optimizer.kind", "rmsprop", desc="optimizer.kind rmsprop")
exp("exp.optimizer.kind.null", "recall", "optimizer.kind", None, desc="optimizer.kind null")
exp("exp.optimizer.lr.neg", "recall", "optimizer.lr", -0.01, desc="lr negative")
exp("exp.optimizer.lr.string", "recall", "optimizer.lr", "0.01", desc="lr a string")
exp("exp.optimizer.lr.over", "recall", "optimizer.lr", 1e7, desc="lr 1e7")
exp("exp.optimizer.beta1.one", "recall", "optimizer.beta1", 1.0, desc="beta1 1")
exp("exp.optimizer.beta2.neg", "recall", "optimizer.beta2", -0.5, desc="beta2 negative")
exp("exp.optimizer.eps.over", "recall", "optimizer.eps", 2, desc="eps 2")
exp("exp.optimizer.momentum.one", "recall", lambda d: d.update(optimizer={"kind": "sgd", "momentum": 1}),
    key="optimizer.momentum", desc="momentum 1")
exp("exp.optimizer.unknown.key", "recall", "optimizer.decay", 0.1, key="optimizer",
    phrases=["exp.optimizer.unknown.key.json", "decay"], desc="an unknown optimizer key")
# sizes and counts
exp("exp.batch.zero", "recall", "batch", 0, desc="batch 0")
exp("exp.batch.neg", "recall", "batch", -2, desc="batch negative")
exp("exp.batch.frac", "recall", "batch", 2.5, desc="batch fractional")
exp("exp.batch.string", "recall", "batch", "2", desc="batch a string")
exp("exp.batch.over", "recall", "batch", 2**20 + 1, desc="batch above the range")
exp("exp.updates.zero", "recall", "updates", 0, desc="updates 0")
exp("exp.updates.frac", "recall", "updates", 2.5, desc="updates fractional")
exp("exp.updates.string", "recall", "updates", "3", desc="updates a string")
exp("exp.clip.neg", "recall", "clip", -1, desc="clip negative")
exp("exp.clip.string", "recall", "clip", "1", desc="clip a string")
exp("exp.update.string", "pattern", "update", "online", desc="update a string")
exp("exp.update.mode.number", "pattern", "update", {"mode": 1}, key="update.mode", desc="update.mode a number")
exp("exp.update.mode.unknown", "pattern", "update", {"mode": "sometimes"}, key="update.mode",
    desc="update.mode sometimes")
exp("exp.update.every.zero", "pattern", "update", {"mode": "online", "every": 0}, key="update.every",
    desc="update.every 0")
exp("exp.update.every.over", "pattern", "update", {"mode": "online", "every": 21}, key="update.every",
    desc="update.every beyond the 20 steps")
exp("exp.update.online.bptt", "pattern", lambda d: d.update(rule="bptt", batch=1, update={"mode": "online"}),
    key="update.mode", desc="online updates with bptt")
exp("exp.update.online.batch", "pattern", lambda d: d.update(update={"mode": "online"}), key="batch",
    desc="online updates with batch 2")
exp("exp.update.unknown.key", "pattern", "update", {"mode": "online", "often": 1}, key="update",
    phrases=["exp.update.unknown.key.json", "often"], desc="an unknown update key")
exp("exp.eval.number", "recall", "eval", 5, desc="eval a number")
exp("exp.eval.every.zero", "recall", "eval.every", 0, desc="eval.every 0")
exp("exp.eval.samples.zero", "recall", "eval.samples", 0, desc="eval.samples 0")
exp("exp.eval.unknown.key", "recall", "eval.size", 3, key="eval", phrases=["exp.eval.unknown.key.json", "size"],
    desc="an unknown eval key")
exp("exp.checkpoint.number", "recall", "checkpoint", 5, desc="checkpoint a number")
exp("exp.checkpoint.every.zero", "recall", "checkpoint", {"every": 0}, key="checkpoint.every",
    desc="checkpoint.every 0")
exp("exp.precision.5", "recall", "precision", 5, desc="precision 5 (grad refuses below 8)")
exp("exp.precision.frac", "recall", "precision", 53.5, desc="precision 53.5")
exp("exp.precision.string", "recall", "precision", "53", desc="precision a string")
exp("exp.precision.zero", "recall", "precision", 0, desc="precision 0")
exp("exp.precision.over", "recall", "precision", 2**21, desc="precision 2^21")
exp("exp.seed.neg", "recall", "seed", -1, desc="seed negative")
exp("exp.seed.frac", "recall", "seed", 1.5, desc="seed fractional")
exp("exp.seed.string", "recall", "seed", "1", desc="seed a string")
exp("exp.out.missing", "recall", "out", DEL, desc="out missing and no --out")
exp("exp.out.number", "recall", "out", 7, desc="out a number")
exp("exp.out.empty", "recall", "out", "", desc="out ''")
exp("exp.out.is.file", "recall", "out", os.path.join(WORK, "o", "old.json"), phrases=["old.json"],
    desc="out names an existing file")
exp("exp.out.under.file", "recall", "out", os.path.join(WORK, "o", "old.json", "run"), phrases=["old.json"],
    desc="out under an existing file")
long_out = os.path.join(WORK, "o", "/".join(["d" * 100] * 48), "run")
exp("exp.out.long", "recall", "out", long_out, phrases=["exp.out.long.json", "'out'"],
    desc="out 4800 characters long (beyond PATH_MAX): refused, not truncated")
# an experiment deep in the file system, its network beside it
deep_dir = os.path.join(IN, "/".join(["e" * 100] * 6))
os.makedirs(deep_dir)
with open(os.path.join(deep_dir, "net.json"), "w") as f:
    json.dump(small(load(EXPS["recall"], EXPERIMENTS))["network"], f)
with open(os.path.join(deep_dir, "exp.json"), "w") as f:
    json.dump(dict(small(load(EXPS["recall"], EXPERIMENTS)), network="net.json"), f)
case("exp.path.long", ["train", os.path.join(deep_dir, "exp.json"), "--quiet", "--until", "1", "--out", Out("run")], 0,
     ["trained 1 updates"], "an experiment at a 650-character path names its network file beside it: it trains")
# conditions met only while training (they must still not leave a half run)
exp("exp.w_scale.huge", "recall", "network.layers.0.w_scale", 1e308, phrases=["exp.w_scale.huge.json", "w_scale"],
    desc="w_scale 1e308: refused before the output folder is made")


def diverge(d):
    d.update(optimizer={"kind": "sgd", "lr": 1e6}, clip=0, batch=1, updates=20)
    d["eval"] = {"every": 1, "samples": 1}
    d["network"]["layers"][0]["w_scale"] = 3


exp("exp.diverge", "pattern", diverge, phrases=["exp.diverge.json", "optimizer.lr"], until=False,
    flags=("mayWrite",), desc="sgd with lr 1e6 diverges: exit 2 naming lr, no NaN or inf in the files it wrote")
# the train command line
TE = ["train", tiny, "--quiet"]
cli("train.no.args", ["train"], ["train"], "train without an experiment")
cli("train.unknown.option", TE + ["--bogus"], ["--bogus"], "train --bogus")
cli("train.extra.arg", TE + [tiny], ["unexpected"], "train with two experiments")
cli("train.until.0", TE + ["--until", "0"], ["--until"], "--until 0")
cli("train.until.neg", TE + ["--until", "-1"], ["--until"], "--until -1")
cli("train.until.word", TE + ["--until", "soon"], ["--until"], "--until soon")
cli("train.until.frac", TE + ["--until", "1.5"], ["--until"], "--until 1.5")
cli("train.until.novalue", TE + ["--until"], ["--until"], "--until without its value")
cli("train.out.novalue", TE + ["--out"], ["--out"], "--out without its value")
cli("train.out.empty", TE + ["--out", ""], ["--out"], "--out ''")
cli("train.out.missing.parent.file", TE + ["--out", Out("old.json/run")], ["old.json"], "--out under a regular file")
cli("train.resume.no.checkpoint", TE + ["--resume", "--out", Out("run")], ["checkpoint.json"],
    "--resume with no checkpoint: refused, no output folder made")
cli("train.resume.empty.folder", TE + ["--resume", "--out", Out("dir")], ["checkpoint.json"],
    "--resume into a folder without a checkpoint: the folder unchanged")
other = experiment("exp.tiny.bptt", "recall", lambda d: d.update(rule="bptt"))
cli("train.resume.other.rule", ["train", other, "--quiet", "--resume", "--out", Out("run")], ["'rule'", "manifest.json"],
    "--resume a checkpoint of eprop with bptt: refused, the run folder unchanged", flags=("pre=pre_tiny_run",))


def smaller(d):
    d["rule"] = "eprop"
    d["network"]["layers"][0]["size"] = 4


other = experiment("exp.tiny.small", "recall", smaller)
cli("train.resume.other.network", ["train", other, "--quiet", "--resume", "--out", Out("run")],
    ["'network'", "manifest.json"],
    "--resume a checkpoint of another network size: refused, the run folder unchanged", flags=("pre=pre_tiny_run",))
other = experiment("exp.tiny.lr", "recall", lambda d: d.update(rule="eprop", optimizer={"kind": "adam", "lr": 0.1234}))
cli("train.resume.other.lr", ["train", other, "--quiet", "--resume", "--out", Out("run")], ["'optimizer'", "manifest.json"],
    "--resume with another learning rate: refused (the run would match no experiment), the run folder unchanged",
    flags=("pre=pre_tiny_run",))
cli("train.resume.corrupt", TE + ["--resume", "--out", Out("run")], ["checkpoint.json"],
    "--resume from a truncated checkpoint: refused, the run folder unchanged",
    flags=("pre=pre_tiny_run_corrupt",))
cli("train.resume.no.log", TE + ["--resume", "--out", Out("run")], ["log.csv"],
    "--resume with the log deleted: refused, the run folder unchanged", flags=("pre=pre_tiny_run_nolog",))
cli("train.resume.nan", TE + ["--resume", "--out", Out("run")], ["checkpoint.json"],
    "--resume from a checkpoint holding a NaN string: refused", flags=("pre=pre_tiny_run_nan",))
cli("train.out.readonly.file", TE + ["--out", Out("run")], ["run"],
    "--out where a run folder holds a folder named log.csv: the failure leaves the folder as it was",
    flags=("pre=pre_run_blocked",))

for c in cases:
    print("\t".join(c))
