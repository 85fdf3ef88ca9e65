"""Load test of the production service: gunicorn on 127.0.0.1, driven by wrk (or Python).

What it prints (docs/benchmarks.md, "Service load", has the latest figures):

1. req/s, p50/p99 latency and error count for 5 KB text pages and for 100 KB HTML pages,
   median of `--repeat` runs of `--duration` seconds each;
2. peers measured in the same run, because this machine is shared and noisy: GET /healthz
   through the same server (the cost of HTTP, logging and metrics alone) and the library
   cleaning the same pages in this process on one thread (the model's own ceiling: with N
   cores, N times that is what a perfect server could do);
3. the server's memory over a `--soak`-second run of text pages: RSS and PSS summed over the
   master and its workers, sampled every 5 s (worker recycling is off for it, so a leak
   cannot hide behind restarts).

    .venv/bin/python benchmarks/load.py                       # everything, ~6 minutes
    .venv/bin/python benchmarks/load.py --duration 5 --repeat 1 --soak 20   # quick look
    .venv/bin/python benchmarks/load.py --url http://127.0.0.1:8000   # an already running server

Pages: real WCXB dev pages from ../shared/data when present (HTML pages of 80-130 KB as they
are; the text of their blocks, one per line, cut at about 5 KB, as the text pages), else
generated ones. Only 127.0.0.1 is ever targeted.
"""

from __future__ import annotations

import argparse
import gzip
import http.client
import json
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

os.environ.setdefault("OMP_NUM_THREADS", "1")

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data"
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

LUA = r"""
local bodies = {}
local i = 0
init = function(args)
  for _, path in ipairs(args) do
    local f = assert(io.open(path, "rb"))
    bodies[#bodies + 1] = f:read("*a")
    f:close()
  end
  i = math.random(#bodies)
end
request = function()
  i = i % #bodies + 1
  return wrk.format("POST", "/v1/clean", {["Content-Type"] = "CONTENT_TYPE"}, bodies[i])
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "RESULT {\"requests\": %d, \"duration_us\": %d, \"p50_us\": %d, \"p99_us\": %d, " ..
    "\"connect\": %d, \"read\": %d, \"write\": %d, \"status\": %d, \"timeout\": %d}\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.connect, e.read, e.write, e.status, e.timeout))
end
"""
GET_LUA = r"""
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "RESULT {\"requests\": %d, \"duration_us\": %d, \"p50_us\": %d, \"p99_us\": %d, " ..
    "\"connect\": %d, \"read\": %d, \"write\": %d, \"status\": %d, \"timeout\": %d}\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.connect, e.read, e.write, e.status, e.timeout))
end
"""


# --- pages ------------------------------------------------------------------------------------


def _wcxb_pages(n: int) -> tuple[list[bytes], list[bytes]]:
    """(text pages ~5 KB, HTML pages 80-130 KB) from WCXB dev, or ([], []) without the data."""
    from cleaner.segment import segment_html

    files = sorted((SHARED / "wcxb" / "dev" / "html").glob("*.html.gz"))
    random.Random(0).shuffle(files)
    texts: list[bytes] = []
    htmls: list[bytes] = []
    for f in files:
        if len(texts) >= n and len(htmls) >= n:
            break
        raw = gzip.open(f).read()
        html = raw.decode("utf-8", "replace")
        if len(htmls) < n and 80_000 <= len(raw) <= 130_000:
            htmls.append(raw)
        if len(texts) < n:
            lines, size = [], 0
            for unit in segment_html(html).units:
                if size + len(unit.text) > 5200:
                    break
                lines.append(unit.text)
                size += len(unit.text.encode()) + 1
            if size >= 4500:
                texts.append("\n".join(lines).encode())
    return texts, htmls


def _generated_pages(n: int) -> tuple[list[bytes], list[bytes]]:
    rng = random.Random(0)
    words = ("the council approved budget on tuesday after long debate about cost repairing "
             "old bridge which engineers say has reached end its service life").split()

    def para(k: int) -> str:
        return " ".join(rng.choice(words) for _ in range(k)).capitalize() + "."

    texts, htmls = [], []
    for _ in range(n):
        lines = ["Home | News | Sport | Contact"]
        while sum(len(x) + 1 for x in lines) < 5000:
            lines.append(para(rng.randint(8, 40)))
        texts.append("\n".join(lines).encode())
        body = "".join(f"<p>{para(rng.randint(8, 40))}</p>" for _ in range(400))
        nav = "".join(f"<li><a href='/{i}'>{rng.choice(words)}</a></li>" for i in range(60))
        htmls.append(f"<html><body><nav><ul>{nav}</ul></nav><article>{body}</article>"
                     "<footer>Copyright 2024</footer></body></html>".encode()[:100_000])
    return texts, htmls


def pages(n: int) -> tuple[list[bytes], list[bytes], str]:
    if (SHARED / "wcxb" / "dev" / "html").is_dir():
        texts, htmls = _wcxb_pages(n)
        if texts and htmls:
            return texts, htmls, "WCXB dev"
    texts, htmls = _generated_pages(n)
    return texts, htmls, "generated"


# --- the server -------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(args: argparse.Namespace, log_path: Path) -> tuple[subprocess.Popen, str]:
    port = _free_port()
    env = {
        **os.environ,
        "CLEANER_BIND": f"127.0.0.1:{port}",
        "CLEANER_WORKERS": str(args.workers),
        "CLEANER_THREADS": str(args.threads),
        "CLEANER_MAX_REQUESTS": "0",
        "PYTHONPATH": str(REPO),
    }
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    if args.model:
        env["CLEANER_MODEL_PATH"] = str(Path(args.model).resolve())
    out = open(log_path, "wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", str(REPO / "gunicorn.conf.py"),
         "service:create_app()"],
        cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"gunicorn exited at boot; see {log_path}")
        try:
            if _get(url, "/readyz")[0] == 200 and len(_children(proc.pid)) == args.workers:
                return proc, url
        except OSError:
            pass
        time.sleep(0.5)
    proc.terminate()
    raise SystemExit("gunicorn not ready after 120 s")


def _get(url: str, path: str) -> tuple[int, bytes]:
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        conn.request("GET", path)
        r = conn.getresponse()
        return r.status, r.read()
    finally:
        conn.close()


def _children(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def _memory_kib(pid: int) -> tuple[int, int]:
    """(RSS, PSS) in KiB of `pid` and its children: PSS shares copy-on-write pages fairly."""
    rss = pss = 0
    for p in [pid, *_children(pid)]:
        try:
            for line in Path(f"/proc/{p}/smaps_rollup").read_text().splitlines():
                if line.startswith("Rss:"):
                    rss += int(line.split()[1])
                elif line.startswith("Pss:"):
                    pss += int(line.split()[1])
        except OSError:
            continue
    return rss, pss


# --- load generators ----------------------------------------------------------------------------


def run_wrk(url: str, files: list[Path] | None, content_type: str, seconds: float,
            connections: int, threads: int, path: str = "/v1/clean") -> dict[str, Any]:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(GET_LUA if files is None else LUA.replace("CONTENT_TYPE", content_type))
        script = f.name
    cmd = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{int(seconds)}s", "--timeout", "10s",
           "-s", script, url + (path if files is None else "")]
    if files is not None:
        cmd += ["--", *map(str, files)]
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 60).stdout
    finally:
        os.unlink(script)
    line = next(ln for ln in out.splitlines() if ln.startswith("RESULT "))
    r = json.loads(line[len("RESULT "):])
    errors = r["connect"] + r["read"] + r["write"] + r["status"] + r["timeout"]
    return {
        "rps": r["requests"] / (r["duration_us"] / 1e6),
        "p50_ms": r["p50_us"] / 1000,
        "p99_ms": r["p99_us"] / 1000,
        "errors": errors,
        "requests": r["requests"],
    }


def run_python(url: str, bodies: list[bytes] | None, content_type: str, seconds: float,
               connections: int, threads: int, path: str = "/v1/clean") -> dict[str, Any]:
    """The fallback without wrk: one keep-alive connection per thread (it costs CPU that the
    server then lacks, so its figures are lower bounds)."""
    parts = urlsplit(url)
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def client(k: int) -> None:
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
        mine: list[float] = []
        i = k
        while time.monotonic() < stop:
            start = time.perf_counter()
            try:
                if bodies is None:
                    conn.request("GET", path)
                else:
                    conn.request("POST", path, body=bodies[i % len(bodies)],
                                 headers={"Content-Type": content_type})
                r = conn.getresponse()
                r.read()
                ok = 200 <= r.status < 400
            except OSError:
                ok = False
                conn.close()
                conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
            mine.append(time.perf_counter() - start)
            if not ok:
                with lock:
                    errors[0] += 1
            i += 1
        with lock:
            latencies.extend(mine)

    pool = [threading.Thread(target=client, args=(k,)) for k in range(connections)]
    began = time.monotonic()
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    elapsed = time.monotonic() - began
    latencies.sort()
    q = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else [0.0] * 99
    return {"rps": len(latencies) / elapsed, "p50_ms": q[49] * 1000, "p99_ms": q[98] * 1000,
            "errors": errors[0], "requests": len(latencies)}


# --- the run --------------------------------------------------------------------------------------


def library_rate(bodies: list[bytes], kind: str, seconds: float) -> float:
    """Pages per second the library cleans on one thread, in this process (the peer)."""
    from cleaner import default_cleaner

    cleaner = default_cleaner()
    cleaner.clean_bytes(bodies[0], kind=kind)
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        cleaner.clean_bytes(bodies[n % len(bodies)], kind=kind)
        n += 1
    return n / (time.perf_counter() - start)


def _median(runs: list[dict[str, Any]]) -> dict[str, Any]:
    keys = ("rps", "p50_ms", "p99_ms")
    out = {k: statistics.median(r[k] for r in runs) for k in keys}
    out["errors"] = sum(r["errors"] for r in runs)
    out["requests"] = sum(r["requests"] for r in runs)
    out["runs"] = runs
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", help="an already running server on 127.0.0.1 (else started)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--model", help="model file for the started server")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--duration", type=float, default=15, help="seconds per load run")
    parser.add_argument("--repeat", type=int, default=3, help="runs per figure (median)")
    parser.add_argument("--soak", type=float, default=120, help="seconds of the memory soak")
    parser.add_argument("--pages", type=int, default=20, help="distinct pages of each kind")
    parser.add_argument("--python-client", action="store_true", help="do not use wrk")
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args(argv)

    if args.url and urlsplit(args.url).hostname not in ("127.0.0.1", "localhost"):
        raise SystemExit("load.py only drives a server on 127.0.0.1")
    use_wrk = not args.python_client and shutil.which("wrk") is not None
    texts, htmls, source = pages(args.pages)
    workdir = Path(tempfile.mkdtemp(prefix="cleaner-load-"))
    text_files, html_files = [], []
    for i, body in enumerate(texts):
        (workdir / f"t{i}.txt").write_bytes(body)
        text_files.append(workdir / f"t{i}.txt")
    for i, body in enumerate(htmls):
        (workdir / f"h{i}.html").write_bytes(body)
        html_files.append(workdir / f"h{i}.html")

    proc = None
    try:
        if args.url:
            url = args.url.rstrip("/")
            master = None
        else:
            proc, url = start_server(args, workdir / "server.log")
            master = proc.pid

        def load(kind: str, seconds: float) -> dict[str, Any]:
            gen_threads = min(2, args.connections)
            if kind == "healthz":
                if use_wrk:
                    return run_wrk(url, None, "", seconds, args.connections, gen_threads,
                                   path="/healthz")
                return run_python(url, None, "", seconds, args.connections, 1, "/healthz")
            files, bodies, ctype = (
                (text_files, texts, "text/plain; charset=utf-8") if kind == "text"
                else (html_files, htmls, "text/html")
            )
            if use_wrk:
                return run_wrk(url, files, ctype, seconds, args.connections, gen_threads)
            return run_python(url, bodies, ctype, seconds, args.connections, 1)

        print(f"cleaner load test: {len(texts)} text pages (mean "
              f"{statistics.mean(map(len, texts)) / 1000:.1f} KB), {len(htmls)} HTML pages "
              f"(mean {statistics.mean(map(len, htmls)) / 1000:.0f} KB) from {source}; "
              f"client {'wrk' if use_wrk else 'python'}, {args.connections} connections; "
              f"server {args.workers} workers x {args.threads} threads; {os.cpu_count()} cores",
              flush=True)
        load("text", 5)  # warm-up: first requests fault in the forked workers' pages
        results: dict[str, Any] = {"source": source, "client": "wrk" if use_wrk else "python",
                                   "connections": args.connections, "workers": args.workers,
                                   "threads": args.threads}
        for kind in ("text", "html", "healthz"):
            runs = [load(kind, args.duration) for _ in range(args.repeat)]
            results[kind] = _median(runs)
            r = results[kind]
            print(f"{kind:8s} {r['rps']:8.1f} req/s  p50 {r['p50_ms']:7.1f} ms  "
                  f"p99 {r['p99_ms']:7.1f} ms  errors {r['errors']} of {r['requests']}  "
                  f"(median of {args.repeat} x {args.duration:g} s)", flush=True)

        for kind, bodies in (("text", texts), ("html", htmls)):
            rate = library_rate(bodies, kind, min(10.0, args.duration))
            results[f"library_{kind}_pages_per_s"] = rate
            print(f"peer: library, one thread, {kind}: {rate:.1f} pages/s; service reaches "
                  f"{results[kind]['rps'] / rate:.2f}x of it on {os.cpu_count()} cores",
                  flush=True)

        if master is not None and args.soak > 0:
            samples: list[tuple[float, int, int]] = []
            result: dict[str, Any] = {}
            worker = threading.Thread(target=lambda: result.update(load("text", args.soak)))
            began = time.monotonic()
            worker.start()
            while worker.is_alive():
                rss, pss = _memory_kib(master)
                samples.append((time.monotonic() - began, rss, pss))
                worker.join(timeout=5)
            rss0, pss0 = samples[1][1:] if len(samples) > 1 else samples[0][1:]
            rss_max = max(s[1] for s in samples[1:]) if len(samples) > 1 else rss0
            rss_end, pss_end = samples[-1][1:]
            results["soak"] = {"seconds": args.soak, "load": result, "samples": samples}
            print(f"soak {args.soak:g} s: {result['rps']:.1f} req/s, p99 {result['p99_ms']:.1f}"
                  f" ms, errors {result['errors']} of {result['requests']}", flush=True)
            print("  RSS MiB (all server processes): " + " ".join(
                f"{s[1] / 1024:.0f}" for s in samples), flush=True)
            print(f"  RSS from {rss0 / 1024:.0f} MiB (at 5 s) to {rss_end / 1024:.0f} MiB "
                  f"({(rss_end / rss0 - 1) * 100:+.1f}%), max {rss_max / 1024:.0f} MiB; PSS "
                  f"{pss0 / 1024:.0f} -> {pss_end / 1024:.0f} MiB "
                  f"({(pss_end / pss0 - 1) * 100:+.1f}%)", flush=True)
        if args.json:
            Path(args.json).write_text(json.dumps(results, indent=1) + "\n")
    finally:
        if proc is not None:
            proc.terminate()
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
