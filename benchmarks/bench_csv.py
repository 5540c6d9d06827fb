"""bench_csv.py - what train.sh and ltc.sh share in assembling their CSV files.

Both scripts leave in their temporary folder TMP: snn_header (the header of `snngrad
bench --train --csv`), snngrad's rows, REPS runs a file (lib.sh's snngrad_runs), and
PyTorch's rows in torch_lif.py's columns without a header (torch_lif.py or torch_ltc.py
--no-header). Their Python (a here-document run from the top of the repository) reads
them with these functions, writes OUT and prints some of its columns. It needs neither
torch nor numpy.
"""
import csv

# torch_lif.py's columns (torch_lif.COLS; torch_ltc.py writes the same)
TORCH_COLS = ["shape", "implementation", "batch", "T", "n_in", "n", "n_out", "fwd_ms", "bwd_ms", "opt_ms",
              "ms_per_update", "sequences_per_s"]

# the first columns of both files, head()'s cells
HEAD_COLS = ["shape", "threads", "batch", "T", "n_in", "n", "n_out", "snngrad_workers",
             "snngrad_seq_per_s", "snngrad_ms_per_update", "snngrad_grad_ms", "snngrad_opt_ms",
             "snngrad_gflops", "snngrad_fraction_of_dgemm",
             "torch_seq_per_s", "torch_ms_per_update"]


def torch_rows(path):
    """PyTorch's rows in the file path (no header), as dicts of TORCH_COLS."""
    return list(csv.DictReader(open(path), fieldnames=TORCH_COLS))


def median_run(tmp, name):
    """The median by sequences per second of snngrad's runs in tmp/name (rows of
    tmp/snn_header's columns), as a dict."""
    hdr = open(tmp + "/snn_header").read().strip().split(",")
    runs = list(csv.DictReader(open("%s/%s" % (tmp, name)), fieldnames=hdr))
    runs.sort(key=lambda r: float(r["sequences_per_s"]))
    return runs[len(runs) // 2]


def sizes(tr):
    """batch, T, n_in, n, n_out of a PyTorch row, as integers."""
    return tuple(int(tr[k]) for k in ("batch", "T", "n_in", "n", "n_out"))


def head(shape, t, tr, m):
    """HEAD_COLS' cells: the shape, the thread count t, the sizes of the PyTorch row tr,
    then snngrad's figures of its median run m and PyTorch's sequences and time."""
    return [shape, t, *sizes(tr), m["threads"],
            "%.4g" % float(m["sequences_per_s"]), "%.4g" % float(m["ms_per_update"]),
            "%.4g" % float(m["grad_ms_per_update"]), "%.4g" % float(m["opt_ms_per_update"]),
            "%.3g" % float(m["gflops"]), "%.3g" % float(m["fraction_of_dgemm"]),
            "%.4g" % float(tr["sequences_per_s"]), "%.4g" % float(tr["ms_per_update"])]


def torch_rate(t, tr, m):
    """The cells torch_gflops, torch_fraction_of_dgemm, snngrad_over_torch_seq_per_s: PyTorch's
    rate by snngrad's flop model (m's gflop_per_update) over t threads' dgemm, and the ratio."""
    tgf = float(m["gflop_per_update"]) / (float(tr["ms_per_update"]) / 1e3)
    return ["%.3g" % tgf, "%.3g" % (tgf / (float(m["dgemm_gflops"]) * int(t))),
            "%.3g" % (float(m["sequences_per_s"]) / float(tr["sequences_per_s"]))]


def assemble(argv, cols, show, rows_of):
    """The here-document's work, argv being [-, TMP, OUT, THREADS]: the rows of every thread
    count t in THREADS, rows_of(TMP, t) (a list, t a string), written to OUT under cols;
    then the columns show (their indices) are printed."""
    tmp, out, threads = argv[1], argv[2], argv[3].split()
    rows = []
    for t in threads:
        rows.extend(rows_of(tmp, t))
    write(out, cols, rows, show)


def write(out, cols, rows, show):
    """Writes the CSV file out (cols, then rows) and prints the columns show, aligned."""
    with open(out, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(cols)
        w.writerows(rows)
    w = [max(len(str(r[i])) for r in [cols] + rows) for i in show]
    for r in [cols] + rows:
        print("  ".join(str(r[i]).ljust(w[k]) for k, i in enumerate(show)))
