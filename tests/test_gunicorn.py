"""The production server itself: gunicorn with gunicorn.conf.py, on 127.0.0.1, two workers.

What only a real server shows: the model preloaded before forking, metrics aggregated over
worker processes, and workers that survive hostile input (same pids before and after).
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
BODY_LIMIT = 16 * 1024 * 1024  # above the default, so that a 10 MB line reaches the cleaner
ANSWER_BOUND_S = 120  # generous: a hang, not a slow answer, is what this catches
ARTICLE = (
    "The city council approved the new budget on Tuesday after a long debate about the cost "
    "of repairing the old bridge, which engineers say has reached the end of its service life."
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, port: int, proc: subprocess.Popen[bytes], log: Path) -> None:
        self.port = port
        self.proc = proc
        self.log = log

    def request(
        self, method: str, path: str, body: bytes | None = None, headers: dict | None = None
    ) -> tuple[int, dict[str, str], bytes, float]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=ANSWER_BOUND_S)
        start = time.monotonic()
        try:
            conn.request(method, path, body=body, headers=headers or {})
            response = conn.getresponse()
            data = response.read()
            return response.status, dict(response.getheaders()), data, time.monotonic() - start
        finally:
            conn.close()

    def workers(self) -> set[int]:
        path = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children")
        return {int(p) for p in path.read_text().split()}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    if not Path("/proc/self/task").is_dir():
        pytest.skip("needs Linux /proc to see the worker processes")
    port = _free_port()
    log = tmp_path_factory.mktemp("gunicorn") / "server.log"
    env = {
        **os.environ,
        "CLEANER_BIND": f"127.0.0.1:{port}",
        "CLEANER_WORKERS": "2",
        "CLEANER_THREADS": "2",
        "CLEANER_MAX_BODY_BYTES": str(BODY_LIMIT),
        "CLEANER_MAX_REQUESTS": "0",  # no recycling: a changed pid means a dead worker
        "PYTHONPATH": str(REPO),
    }
    for var in ("CLEANER_API_KEY", "CLEANER_API_KEY_FILE", "CLEANER_KEEPALIVE",
                "PROMETHEUS_MULTIPROC_DIR"):
        env.pop(var, None)
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", str(REPO / "gunicorn.conf.py"),
             "service:create_app()"],
            cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT,
        )
    srv = Server(port, proc, log)
    try:
        deadline = time.monotonic() + 120
        while True:
            if proc.poll() is not None:
                pytest.fail(f"gunicorn exited at boot:\n{log.read_text()[-3000:]}")
            try:
                if srv.request("GET", "/readyz")[0] == 200 and len(srv.workers()) == 2:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"gunicorn not ready after 120 s:\n{log.read_text()[-3000:]}")
            time.sleep(0.5)
        yield srv
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()


def test_serves_and_aggregates_metrics_over_workers(server: Server) -> None:
    page = f"Home | News\n\n{ARTICLE}\n".encode()
    for _ in range(12):
        status, headers, body, _ = server.request(
            "POST", "/v1/clean", page, {"Content-Type": "text/plain"}
        )
        assert status == 200 and headers["Content-Type"] == "application/json"
        assert json.loads(body)["kind"] == "text"
    status, _, body, _ = server.request("GET", "/metrics")
    assert status == 200
    text = body.decode()
    line = next(ln for ln in text.splitlines() if ln.startswith("cleaner_pages_total"))
    # 12 pages cleaned across two processes; a per-process registry would show a part only.
    assert float(line.split()[-1]) >= 12
    assert 'cleaner_model_info{name=' in text


def test_request_id_header_and_json_logs(server: Server) -> None:
    status, headers, _, _ = server.request("GET", "/healthz", None, {"X-Request-ID": "probe-7"})
    assert status == 200 and headers["X-Request-ID"] == "probe-7"
    server.request("POST", "/v1/clean", b"", {"Content-Type": "text/plain",
                                               "X-Request-ID": "empty-1"})
    time.sleep(0.5)
    records = [json.loads(ln) for ln in server.log.read_text().splitlines() if ln.startswith("{")]
    mine = [r for r in records if r.get("request_id") == "empty-1"]
    assert mine and mine[0]["status"] == 422 and mine[0]["error"] == "empty_page"
    assert any(r.get("logger") == "gunicorn.error" for r in records)  # gunicorn's, as JSON


HOSTILE: list[tuple[str, bytes, str]] = [
    ("random bytes", bytes(range(256)) * 4000, "text/plain"),
    ("invalid utf-8", b"caf\xc3 \xff\xfe\xfd " * 100_000, "text/plain; charset=utf-8"),
    ("utf-16 with bom", "\ufeffhello world\n".encode("utf-16-le") * 50_000, "text/plain"),
    ("utf-16 without bom", f"{ARTICLE}\n".encode("utf-16-be") * 1_000, "text/html"),
    ("nul bytes", b"\x00" * 1_000_000, "text/plain"),
    ("nul inside text", (ARTICLE + "\x00").encode() * 10_000, "text/plain"),
    ("10 MB line", b"lorem ipsum dolor sit amet " * 388_000, "text/plain"),
    ("10 MB line of a-a-a", b"a-" * 5_000_000 + b".com", "text/plain"),
    ("nested 100k div", b"<div>" * 100_000 + b"x" + b"</div>" * 100_000, "text/html"),
    ("nested 100k span", b"<span>" * 100_000 + b"x", "text/html"),
    ("unclosed tags", b"<p><div><span>hello <b>world <i>again " * 20_000, "text/html"),
    ("huge attribute", b'<p class="' + b"a " * 2_000_000 + b'">hi</p>', "text/html"),
    ("unterminated attribute", b'<p title="' + b"x" * 3_000_000, "text/html"),
    ("wrong content type", b"<html><body><p>hi</p></body></html>", "image/png"),
    ("json declared, html sent", b"<html><p>hi</p>", "application/json"),
    ("json nested 100k deep", b"[" * 100_000 + b"]" * 100_000, "application/json"),
]


@pytest.mark.parametrize(("name", "body", "content_type"), HOSTILE, ids=[h[0] for h in HOSTILE])
def test_hostile_input_gets_json_answer(
    server: Server, name: str, body: bytes, content_type: str
) -> None:
    before = server.workers()
    status, headers, data, elapsed = server.request(
        "POST", "/v1/clean", body, {"Content-Type": content_type}
    )
    assert 200 <= status < 500, (status, data[:300])
    assert headers["Content-Type"] == "application/json"
    json.loads(data)
    assert elapsed < ANSWER_BOUND_S
    assert server.request("GET", "/healthz")[0] == 200
    assert server.workers() == before, "a worker died"


def test_over_the_body_limit_is_refused_before_the_body_is_read(server: Server) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=ANSWER_BOUND_S)
    try:
        conn.putrequest("POST", "/v1/clean")
        conn.putheader("Content-Type", "text/plain")
        conn.putheader("Content-Length", str(BODY_LIMIT + 1))
        conn.endheaders()  # and no body: the answer must not wait for 16 MB that never come
        response = conn.getresponse()
        assert response.status == 413
        assert json.loads(response.read())["error"]["code"] == "too_large"
    finally:
        conn.close()


def test_connections_are_not_kept_alive_by_default(server: Server) -> None:
    """A gthread worker serves every request of a connection it accepted: with keep-alive, a
    few persistent clients can pin one worker while the other idles (docs/benchmarks.md,
    "Service load"). Each answer closes its connection, so the next request goes to whichever
    worker accepts it."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=ANSWER_BOUND_S)
    try:
        conn.request("GET", "/healthz", headers={"Connection": "keep-alive"})
        response = conn.getresponse()
        response.read()
        assert response.status == 200
        assert response.getheader("Connection", "").lower() == "close"
    finally:
        conn.close()
