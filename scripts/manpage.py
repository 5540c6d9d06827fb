#!/usr/bin/env python3
"""Writes snngrad.1 (roff, man(7)) from the program's own help, so that a
command added to the table in cli/main.c is documented without editing this
script: `snngrad help` gives the commands (the synopsis lines) and the rules,
`snngrad help CMD` each command's usage, description and options, and the
"Exit status:" lines the exit codes.

usage: manpage.py SNNGRAD OUT.1 VERSION DOCDIR DATADIR
"""
import re
import subprocess
import sys


def run(prog, *args):
    return subprocess.run([prog, *args], check=True, capture_output=True, text=True).stdout


def esc(text):
    """Text as roff: backslashes and hyphens escaped, no line starting with a control character."""
    text = text.replace("\\", "\\e").replace("-", "\\-")
    return "\n".join("\\&" + l if l[:1] in (".", "'") else l for l in text.split("\n"))


def commands(top):
    """The commands, in the order of `snngrad help`, from its synopsis lines."""
    seen = []
    for line in top.splitlines():
        m = re.match(r"^  snngrad ([a-z][a-z0-9-]*)", line)
        if m and m.group(1) not in seen:
            seen.append(m.group(1))
    return seen


def rules(top):
    """(form, [lines]) per rule, from the RULES section of `snngrad help`."""
    out, inside = [], False
    for line in top.splitlines():
        if line.startswith("RULES"):
            inside = True
        elif inside and re.match(r"^  \S", line):
            out.append((line.strip(), []))
        elif inside and line.startswith("      ") and out:
            out[-1][1].append(line.strip())
        elif inside and line and not line.startswith(" "):
            inside = False
    return out


def parse_help(text):
    """A command's help: synopsis lines, description paragraphs, options
    (name, text) and trailing notes; the RULES part and the exit status left out."""
    syn, desc, opts, notes, exits = [], [], [], [], []
    part = "start"
    for line in text.splitlines():
        if line.startswith("Exit status:"):
            exits.append(line[len("Exit status:"):].strip())
            continue
        if part == "start":
            if line.startswith("usage:"):
                part = "usage"
            continue
        if part == "usage":
            if not line.strip():
                part = "desc"
            elif re.match(r"^\s*snngrad ", line):
                syn.append(line.strip())
            else:  # a synopsis continued on the next line, kept as printed
                syn.append(line.rstrip())
            continue
        if line.startswith("RULES"):
            part = "rules"
            continue
        if part == "rules":
            if re.match(r"^  -", line):
                part = "opts"
            else:
                continue
        m = re.match(r"^  (-\S.*?)(?:\s{2,}(\S.*))?$", line)
        if m:
            opts.append([m.group(1), m.group(2) or ""])
            part = "opts"
        elif line.startswith("    ") and opts and part == "opts":
            opts[-1][1] += " " + line.strip()
        elif line.strip():
            (notes if part == "opts" else desc).append(line.strip())
    return syn, " ".join(desc), opts, " ".join(notes), exits


def exit_codes(lines):
    """The union of every "Exit status:" line: code -> meaning."""
    codes = {}
    for l in lines:
        for part in l.rstrip(".").split(","):
            m = re.match(r"\s*(\d+)\s+(.*)", part)
            if m:
                codes.setdefault(int(m.group(1)), m.group(2).strip())
    return dict(sorted(codes.items()))


def option(name):
    """'--rule RULE' as bold option and italic argument; several options stay as written."""
    words = name.split(" ")
    if "," in name or len(words) > 2:
        return ".B " + esc(name)
    if len(words) == 2:
        return ".BI " + '"' + esc(words[0]) + ' " ' + esc(words[1])
    return ".B " + esc(name)


def main():
    prog, out, version, docdir, datadir = sys.argv[1:6]
    top = run(prog, "help")
    cmds = commands(top)
    if not cmds:
        sys.exit("manpage.py: no commands in `snngrad help`")
    helps = {c: parse_help(run(prog, "help", c)) for c in cmds}
    exits = exit_codes([e for h in helps.values() for e in h[4]] +
                       [l[len("Exit status:"):] for l in top.splitlines() if l.startswith("Exit status:")])
    r = []
    r.append('.TH SNNGRAD 1 "" "snngrad %s" "User Commands"' % esc(version))
    r.append(".SH NAME")
    r.append("snngrad \\- gradients of spiking neural networks under many learning rules, "
             "in double and arbitrary (MPFR) precision")
    r.append(".nh")
    r.append(".ad l")
    r.append(".SH SYNOPSIS")
    r.append(".nf")
    for c in cmds:
        for s in helps[c][0]:
            r.append("\\fB" + esc(s) + "\\fR")
    r.append(".fi")
    r.append(".SH DESCRIPTION")
    r.append("snngrad runs one spiking (or gated recurrent) network under several learning rules, "
             "in double precision and in arbitrary precision (GNU MPFR), and says, with numbers, which rules "
             "compute the same gradient as backpropagation through time and how far the others are from it.")
    r.append(".PP")
    r.append(esc("--precision 53 is the double path; any other number of bits, or mpfr:53, runs the MPFR path. "
                 "Output files are written to a temporary beside them and renamed, and a command with several "
                 "outputs renames them only when all are written."))
    r.append(".PP")
    r.append(esc("snngrad help COMMAND or snngrad COMMAND --help prints one command's options; "
                 "this page is generated from that text."))
    r.append(".SH COMMANDS")
    for c in cmds:
        syn, desc, opts, notes, _ = helps[c]
        r.append(".SS %s" % esc("snngrad " + c))
        r.append(".nf")
        for s in syn:
            r.append("\\fB" + esc(s) + "\\fR")
        r.append(".fi")
        if desc:
            r.append(".PP")
            r.append(esc(desc))
        if c in ("grad", "check", "bench"):
            r.append(".PP")
            r.append("The rules and their options are listed under")
            r.append(".B RULES")
            r.append("below.")
        for name, text in opts:
            r.append(".TP")
            r.append(option(name))
            r.append(esc(text))
        if notes:
            r.append(".PP")
            r.append(esc(notes))
    r.append(".SH RULES")
    r.append(esc("A rule is written name[:key=value,...], as --rule and --rules take it (docs/formats.md)."))
    for form, lines in rules(top):
        r.append(".TP")
        r.append(".B " + esc(form))
        r.append(esc(lines[0]) if lines else "")
        for l in lines[1:]:
            r.append(".br")
            r.append(esc(l))
    r.append(".SH EXIT STATUS")
    for code, what in exits.items():
        r.append(".TP")
        r.append(".B %d" % code)
        r.append(esc(what))
    r.append(".SH FILES")
    r.append(esc("Network, parameter, gradient, experiment and report files are JSON (and CSV for tables); "
                 "every key is described in docs/formats.md, installed as %s/formats.md." % docdir))
    r.append(".TP")
    r.append(".I " + esc(datadir + "/examples/"))
    r.append("network files to start from")
    r.append(".TP")
    r.append(".I " + esc(datadir + "/experiments/"))
    r.append("one experiment file per training run of the papers' tasks")
    r.append(".SH SEE ALSO")
    r.append(esc("%s/formats.md (the file formats), %s/library.md (the C library: snngrad.h, pkg-config snngrad)"
                 % (docdir, docdir)))
    with open(out, "w") as f:
        f.write("\n".join(r) + "\n")


if __name__ == "__main__":
    main()
