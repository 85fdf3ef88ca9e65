"""The `cleaner` command line and the JSONL batch runner, against the shipped model."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
import types
from pathlib import Path
from typing import Any

import pytest

from cleaner import batch as batch_mod
from cleaner.cli import main
from cleaner.units import LABELS

REPO = Path(__file__).resolve().parents[1]
SEED = REPO.parent / "shared" / "seed"

ARTICLE = (
    "The city council approved the new budget on Tuesday after a long debate about the cost "
    "of repairing the old bridge, which engineers say has reached the end of its service life."
)
PAGE = f"Home | News | Sport | Contact\n\n{ARTICLE}\n\nCopyright 2024. All rights reserved.\n"


def run_cli(*args: str, stdin: bytes = b"") -> subprocess.CompletedProcess[bytes]:
    """`python -m cleaner ...` in a child process, importing this checkout."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH")) if p)
    env.pop("CLEANER_DEBUG", None)
    return subprocess.run(
        [sys.executable, "-m", "cleaner", *args],
        input=stdin,
        capture_output=True,
        cwd=REPO,
        env=env,
        timeout=300,
    )


def assert_one_line_error(stderr: str) -> None:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("cleaner: error: ")
    assert "Traceback" not in stderr


def write_jsonl(path: Path, lines: list[str]) -> None:
    data = "".join(line + "\n" for line in lines).encode()
    path.write_bytes(gzip.compress(data) if path.name.endswith(".gz") else data)


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    data = path.read_bytes()
    if path.name.endswith(".gz"):
        data = gzip.decompress(data)
    return parse_jsonl(data)


def parse_jsonl(data: bytes) -> list[dict[str, Any]]:
    # Split on "\n" only: str.splitlines() also breaks at U+2028, legal inside JSON strings.
    return [json.loads(line) for line in data.decode().split("\n") if line]


# --- cleaner clean ---------------------------------------------------------------------------


def test_clean_text_page(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    page = tmp_path / "page.txt"
    page.write_text(PAGE, encoding="utf-8")
    assert main(["clean", str(page)]) == 0
    out = capsys.readouterr().out
    assert ARTICLE in out
    assert out.endswith("\n") and not out.endswith("\n\n")


def test_clean_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    page = tmp_path / "page.txt"
    page.write_text(PAGE, encoding="utf-8")
    assert main(["clean", "--json", str(page)]) == 0
    data = json.loads(capsys.readouterr().out)
    assert {"text", "title", "published", "kind", "model_version", "lines", "spans"} <= set(data)
    assert data["kind"] == "text"
    # Every non-blank input line is audited under its line number.
    assert [ln["index"] for ln in data["lines"]] == [0, 2, 4]
    assert all(ln["label"] in LABELS for ln in data["lines"])
    assert ARTICLE in data["text"]


def test_clean_stdin_subprocess() -> None:
    proc = run_cli("clean", "-", stdin=PAGE.encode())
    assert proc.returncode == 0, proc.stderr
    assert ARTICLE in proc.stdout.decode()


def test_clean_html_flag(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    page = tmp_path / "page.dat"
    page.write_text(f"<nav><a href='/'>Home</a></nav><article><p>{ARTICLE}</p></article>")
    assert main(["clean", "--html", "--json", str(page)]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["kind"] == "html"
    assert ARTICLE in data["text"]


def test_clean_non_utf8_output_locale(tmp_path: Path) -> None:
    page = tmp_path / "page.txt"
    page.write_text(f"孩子抑郁了,家长怎么办才好?\n\n{ARTICLE}\n", encoding="gb18030")
    proc = run_cli("clean", "--json", str(page))
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout.decode("utf-8"))
    assert data["lines"][0]["text"] == "孩子抑郁了,家长怎么办才好?"


@pytest.mark.skipif(not SEED.is_dir(), reason=f"shared seed data not found at {SEED}")
def test_clean_seed_page_exactly() -> None:
    proc = run_cli("clean", str(SEED / "page.txt"))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == (SEED / "expected.txt").read_bytes()


# --- errors --------------------------------------------------------------------------------


def test_missing_file_is_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["clean", "/nonexistent/page.txt"]) == 2
    assert_one_line_error(capsys.readouterr().err)


def test_empty_page_is_input_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    page = tmp_path / "empty.txt"
    page.write_text("  \n\n \n")
    assert main(["clean", str(page)]) == 2
    err = capsys.readouterr().err
    assert_one_line_error(err)


def test_binary_input_is_input_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    page = tmp_path / "image.png"
    page.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(300))
    assert main(["clean", str(page)]) == 2
    assert_one_line_error(capsys.readouterr().err)


def test_bad_model_is_failure(tmp_path: Path) -> None:
    bogus = tmp_path / "model.joblib"
    bogus.write_bytes(b"not a model")
    page = tmp_path / "page.txt"
    page.write_text(PAGE)
    proc = run_cli("clean", "--model", str(bogus), str(page))
    assert proc.returncode == 1
    assert_one_line_error(proc.stderr.decode())


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["frobnicate"],
        ["clean", "--html", "--text", "x"],
        ["batch", "only-in"],
        ["batch", "in", "out", "--workers", "zero"],
    ],
)
def test_usage_errors(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    assert_one_line_error(capsys.readouterr().err)


def test_usage_error_subprocess() -> None:
    proc = run_cli("clean", "--no-such-flag")
    assert proc.returncode == 2
    assert_one_line_error(proc.stderr.decode())


@pytest.mark.parametrize(
    ("command", "module"), [("train", "training.train"), ("evaluate", "training.evaluate")]
)
def test_train_and_evaluate_forward_their_argv(
    command: str, module: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[list[str]] = []
    fake = types.ModuleType(module)
    fake.main = lambda argv: seen.append(argv) or 3  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, module, fake)
    assert main([command, "--data", "x.jsonl", "--help"]) == 3
    assert seen == [["--data", "x.jsonl", "--help"]]


# --- cleaner batch -------------------------------------------------------------------------

MIXED = [
    json.dumps({"id": "a", "text": PAGE, "source": "crawl-1"}),
    '{"id": "b", "text": "unterminated',
    json.dumps({"id": "c", "url": "https://example.com/"}),
    json.dumps({"id": "d", "text": ""}),
    json.dumps({"id": "e", "html": f"<html><body><p>{ARTICLE}</p></body></html>"}),
    json.dumps({"id": "f", "text": 42}),
    json.dumps(["not", "an", "object"]),
    json.dumps({"id": "h", "text": "Line one\u2028still line one\n\n" + ARTICLE}),
]
EXPECTED_ERRORS = [
    None,
    "invalid_json",
    "missing_field",
    "empty_page",
    None,
    "invalid_field",
    "invalid_record",
    None,
]


def check_mixed(records: list[dict[str, Any]]) -> None:
    assert len(records) == len(MIXED)
    assert [(r["error"] or {}).get("code") for r in records] == EXPECTED_ERRORS
    assert [r.get("id") for r in records] == ["a", None, "c", "d", "e", "f", None, "h"]
    for rec in records:
        assert {"clean_text", "title", "published", "lines", "spans", "hidden", "error"} <= set(rec)
        if rec["error"] is None:
            assert isinstance(rec["clean_text"], str)
            assert all(ln["label"] in LABELS for ln in rec["lines"])
        else:
            assert rec["clean_text"] is None
            assert rec["error"]["message"]
    assert records[0]["source"] == "crawl-1"  # input fields are carried through
    # Every unit is audited whatever its label (labels are the model's call, not the test's).
    assert ARTICLE in [ln["text"] for ln in records[0]["lines"]]
    assert records[1]["raw"] == MIXED[1]  # the malformed line is kept verbatim
    assert records[6]["raw"] == MIXED[6]


def test_batch_mixed_records(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src, dst = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    write_jsonl(src, MIXED)
    assert main(["batch", str(src), str(dst)]) == 0
    check_mixed(read_jsonl(dst))
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "8 records" in err[0] and "5 errors" in err[0]


def test_batch_gzip_both_sides(tmp_path: Path) -> None:
    src, dst = tmp_path / "in.jsonl.gz", tmp_path / "out.jsonl.gz"
    write_jsonl(src, MIXED)
    assert main(["batch", str(src), str(dst)]) == 0
    check_mixed(read_jsonl(dst))


def test_batch_stdin_stdout() -> None:
    data = "".join(line + "\n" for line in MIXED).encode()
    proc = run_cli("batch", "-", "-", stdin=data)
    assert proc.returncode == 0, proc.stderr
    check_mixed(parse_jsonl(proc.stdout))
    assert len(proc.stderr.decode().strip().splitlines()) == 1  # the summary, nothing else


def test_batch_gzip_on_stdin() -> None:
    data = gzip.compress("".join(line + "\n" for line in MIXED).encode())
    proc = run_cli("batch", "-", "-", stdin=data)
    assert proc.returncode == 0, proc.stderr
    check_mixed(parse_jsonl(proc.stdout))


def test_batch_custom_fields(tmp_path: Path) -> None:
    src, dst = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    write_jsonl(src, [json.dumps({"doc": 1, "body": PAGE}), json.dumps({"doc": 2, "page": "<p>x"})])
    argv = ["batch", str(src), str(dst), "--text-field", "body", "--html-field", "page"]
    assert main([*argv, "--id-field", "doc"]) == 0
    out = read_jsonl(dst)
    assert [r["doc"] for r in out] == [1, 2]
    assert out[0]["error"] is None and ARTICLE in [ln["text"] for ln in out[0]["lines"]]


def test_batch_workers_match_serial(tmp_path: Path) -> None:
    src = tmp_path / "in.jsonl"
    write_jsonl(src, MIXED * 5)
    serial, parallel = tmp_path / "serial.jsonl", tmp_path / "parallel.jsonl"
    assert main(["batch", str(src), str(serial)]) == 0
    assert main(["batch", str(src), str(parallel), "--workers", "2"]) == 0
    assert parallel.read_bytes() == serial.read_bytes()


def test_batch_missing_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["batch", str(tmp_path / "nope.jsonl"), str(tmp_path / "out.jsonl")]) == 2
    assert_one_line_error(capsys.readouterr().err)
    assert not (tmp_path / "out.jsonl").exists()


def test_batch_bad_model_writes_nothing(tmp_path: Path) -> None:
    src, dst = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    write_jsonl(src, MIXED)
    bogus = tmp_path / "model.joblib"
    bogus.write_bytes(b"garbage")
    proc = run_cli("batch", str(src), str(dst), "--model", str(bogus))
    assert proc.returncode == 1
    assert_one_line_error(proc.stderr.decode())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.jsonl", "model.joblib"]


class Exploding:
    """The real cleaner, until the n-th page: then `exc` (a crash or Ctrl-C mid-run)."""

    def __init__(self, inner: Any, after: int, exc: BaseException) -> None:
        self.inner, self.after, self.exc, self.calls = inner, after, exc, 0
        self.manifest = inner.manifest

    def clean(self, text: str | None = None, html: str | None = None, *, repair: bool = True):
        self.calls += 1
        if self.calls > self.after:
            raise self.exc
        return self.inner.clean(text=text, html=html, repair=repair)

    def clean_bytes(self, data: bytes, **kwargs: Any):  # pragma: no cover - unused by batch
        return self.inner.clean_bytes(data, **kwargs)


@pytest.mark.parametrize("name", ["out.jsonl", "out.jsonl.gz"])
def test_batch_interrupted_leaves_no_output(tmp_path: Path, real_cleaner: Any, name: str) -> None:
    src, dst = tmp_path / "in.jsonl", tmp_path / name
    write_jsonl(src, [json.dumps({"id": i, "text": PAGE}) for i in range(200)])
    with pytest.raises(KeyboardInterrupt):
        batch_mod.run_batch(
            src, dst, cleaner=Exploding(real_cleaner, 50, KeyboardInterrupt()), chunk_size=8
        )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.jsonl"]  # no OUT, no temp file


def test_batch_failure_keeps_previous_output(
    tmp_path: Path, real_cleaner: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    src, dst = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    write_jsonl(src, [json.dumps({"id": i, "text": PAGE}) for i in range(20)])
    dst.write_text("previous run\n")
    encode, calls = batch_mod.encode_record, []

    def full_disk(record: dict[str, Any]) -> bytes:
        calls.append(1)
        if len(calls) > 5:
            raise OSError(28, "No space left on device")
        return encode(record)

    monkeypatch.setattr(batch_mod, "encode_record", full_disk)
    with pytest.raises(OSError):
        batch_mod.run_batch(src, dst, cleaner=real_cleaner, chunk_size=4)
    assert dst.read_text() == "previous run\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.jsonl", "out.jsonl"]


def test_cli_interrupt_exit_status(
    tmp_path: Path,
    real_cleaner: Any,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    src, dst = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    write_jsonl(src, [json.dumps({"id": i, "text": PAGE}) for i in range(10)])
    exploding = Exploding(real_cleaner, 3, KeyboardInterrupt())
    monkeypatch.setattr(batch_mod, "load_cleaner", lambda path=None: exploding)
    assert main(["batch", str(src), str(dst), "--workers", "1"]) == 130  # in-process
    assert_one_line_error(capsys.readouterr().err)
    assert not dst.exists()


def test_batch_unexpected_page_error_is_recorded(tmp_path: Path, real_cleaner: Any) -> None:
    # A bug on one page is reported on that record; the run goes on.
    src, dst = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    write_jsonl(src, [json.dumps({"id": i, "text": PAGE}) for i in range(4)])
    stats = batch_mod.run_batch(src, dst, cleaner=Exploding(real_cleaner, 2, RuntimeError("boom")))
    out = read_jsonl(dst)
    assert [r["id"] for r in out] == [0, 1, 2, 3]
    assert [r["error"] and r["error"]["code"] for r in out] == [None, None, "internal", "internal"]
    assert stats.records == 4 and stats.errors == 2


def test_serve_runs_gunicorn_with_the_repo_config(monkeypatch: pytest.MonkeyPatch) -> None:
    from cleaner.cli import build_parser, gunicorn_command

    args = build_parser().parse_args(
        ["serve", "--port", "9001", "--workers", "3", "--threads", "2", "--model", "m.joblib"]
    )
    argv, env = gunicorn_command(args)
    assert argv[1:3] == ["-m", "gunicorn"] and argv[-1] == "service:create_app()"
    conf = Path(argv[argv.index("-c") + 1])
    assert conf.name == "gunicorn.conf.py" and conf.is_file()
    assert env["CLEANER_BIND"] == "127.0.0.1:9001"
    assert env["CLEANER_WORKERS"] == "3" and env["CLEANER_THREADS"] == "2"
    assert env["CLEANER_MODEL_PATH"] == str(Path("m.joblib").resolve())

    calls: list[list[str]] = []

    def execvpe(file: str, a: list[str], e: dict[str, str]) -> None:
        calls.append(a)
        raise SystemExit(0)  # exec does not return

    monkeypatch.setattr(os, "execvpe", execvpe)
    with pytest.raises(SystemExit):
        main(["serve", "--port", "9002"])
    assert calls and calls[0][-1] == "service:create_app()"


def test_serve_rejects_zero_workers(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "--workers", "0"]) == 2
    assert "--workers must be at least 1" in capsys.readouterr().err
