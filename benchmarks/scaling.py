"""Batch scaling: pages/s of `cleaner batch` with 1 and with 2 workers on the same input, and
the memory of each worker process. Run on demand; prints figures for docs/benchmarks.md.

    .venv/bin/python benchmarks/scaling.py                       # the real WARC files, x4
    .venv/bin/python benchmarks/scaling.py --repeat 8 --runs 5 --workers 1 2

Each run is the documented command (`python -m cleaner batch IN... OUT --workers N`) in a
fresh process, so every run pays the same start-up (imports, model load) and the figure is what
a user sees. Runs of different worker counts alternate (1, 2, 1, 2, ...) so that load from
other users of the machine falls on both alike; the figure is the median of the runs, and the
ratio is between medians measured in the same invocation. Memory is the peak resident set of
each process of the run's tree, sampled from /proc every 0.1 s: the parent (reader and writer)
and the largest worker.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
WARC_DIR = REPO.parent / "shared" / "data" / "warc"


def _children(pid: int) -> list[int]:
    out = []
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/children") as f:
                out.extend(int(x) for x in f.read().split())
    except OSError:
        pass
    return out


def _rss_mb(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


class TreeMemory(threading.Thread):
    """Peak RSS of every process under `root`, sampled until stopped."""

    def __init__(self, root: int) -> None:
        super().__init__(daemon=True)
        self.root, self.peaks = root, {}
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            stack = [self.root]
            while stack:
                pid = stack.pop()
                self.peaks[pid] = max(self.peaks.get(pid, 0.0), _rss_mb(pid))
                stack.extend(_children(pid))
            time.sleep(0.1)


def run_once(inputs: list[str], workers: int, out: Path) -> tuple[float, int, float, float]:
    """(seconds, pages, parent peak MB, largest worker peak MB) of one run."""
    cmd = [sys.executable, "-m", "cleaner", "batch", *inputs, str(out), "--workers", str(workers)]
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=REPO, stderr=subprocess.PIPE)
    mem = TreeMemory(proc.pid)
    mem.start()
    _, err = proc.communicate()
    seconds = time.perf_counter() - start
    mem.done.set()
    mem.join()
    if proc.returncode != 0:
        raise SystemExit(f"run failed: {err.decode()}")
    summary = err.decode().strip().splitlines()[-1]
    pages = int(summary.split(":", 1)[1].split()[0])
    parent = mem.peaks.get(proc.pid, 0.0)
    workers_peak = max((v for k, v in mem.peaks.items() if k != proc.pid), default=parent)
    return seconds, pages, parent, workers_peak


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("inputs", nargs="*", help=f"inputs (default: {WARC_DIR}/*.warc.gz)")
    ap.add_argument("--repeat", type=int, default=4, help="read the inputs this many times")
    ap.add_argument("--runs", type=int, default=3, help="runs per worker count (median)")
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    args = ap.parse_args()
    inputs = args.inputs or sorted(str(p) for p in WARC_DIR.glob("*.warc.gz"))
    if not inputs:
        raise SystemExit(f"no inputs: {WARC_DIR} is absent; name some")
    inputs = inputs * args.repeat
    results: dict[int, list[tuple[float, int, float, float]]] = {w: [] for w in args.workers}
    with tempfile.TemporaryDirectory() as tmp:
        for run in range(args.runs):
            for w in args.workers:
                r = run_once(inputs, w, Path(tmp) / f"out-{w}.jsonl")
                results[w].append(r)
                print(
                    f"run {run + 1} workers={w}: {r[1]} pages in {r[0]:.1f} s = "
                    f"{r[1] / r[0]:.2f} pages/s; parent {r[2]:.0f} MB, worker {r[3]:.0f} MB",
                    file=sys.stderr,
                )
    load = os.getloadavg()
    summary = {
        "inputs": len(inputs),
        "cores": os.cpu_count(),
        "loadavg": [round(x, 2) for x in load],
    }
    base = None
    print("| workers | pages | median pages/s | ratio | parent RSS MB | worker RSS MB |")
    print("|---|---|---|---|---|---|")
    for w in args.workers:
        rates = [pages / sec for sec, pages, _, _ in results[w]]
        med = statistics.median(rates)
        base = base or med
        parent = statistics.median(r[2] for r in results[w])
        worker = statistics.median(r[3] for r in results[w])
        print(
            f"| {w} | {results[w][0][1]} | {med:.2f} | {med / base:.2f} | {parent:.0f} | "
            f"{worker:.0f} |"
        )
        summary[f"workers_{w}"] = {"pages_per_s": [round(x, 3) for x in rates]}
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
