"""`cleaner batch` at scale, against the shipped model: WARC/WET/JSONL in, JSONL/Parquet out,
workers, nothing lost (corrupt records, interrupts, kills), and `--resume`.

Labels are the model's call and change when it is retrained, so these tests check structure,
counts, order, errors and equality between two ways of producing the same output.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import need_shared
from test_cli import ARTICLE, PAGE, Exploding, assert_one_line_error, read_jsonl, write_jsonl
from warc_fixtures import html_responses, http_response, warc_record, write_warc

from cleaner import batch as batch_mod
from cleaner.cli import main
from cleaner.parts import PROGRESS_FILE, partial_dir
from cleaner.units import LABELS
from cleaner.writers import JSON_COLUMNS

REPO = Path(__file__).resolve().parents[1]
RESULT_KEYS = ("clean_text", "title", "published", "lines", "spans", "hidden", "error")
HTML = (
    f"<html><head><title>T</title></head><body><nav>Home | News</nav><p>{ARTICLE}</p></body></html>"
)


def jsonl_pages(n: int) -> list[str]:
    texts = [PAGE if i % 2 else f"Item {i}\n\n{ARTICLE}" for i in range(n)]
    return [json.dumps({"id": i, "text": t}) for i, t in enumerate(texts)]


def read_any(path: Path) -> list[dict[str, Any]]:
    """Records of a JSONL(.gz) or Parquet output, nested columns parsed back from JSON."""
    if path.name.endswith(".parquet"):
        import pyarrow.parquet as pq

        rows = pq.read_table(path).to_pylist()
        for row in rows:
            for key in JSON_COLUMNS:
                row[key] = None if row[key] is None else json.loads(row[key])
        return rows
    return read_jsonl(path)


def check_records(records: list[dict[str, Any]]) -> None:
    for rec in records:
        assert set(RESULT_KEYS) <= set(rec)
        if rec["error"] is None:
            assert isinstance(rec["clean_text"], str)
            assert all(ln["label"] in LABELS for ln in rec["lines"])
        else:
            assert rec["clean_text"] is None and rec["error"]["code"] and rec["error"]["message"]


# --- WARC -----------------------------------------------------------------------------------------


def test_real_warc_one_record_per_html_response(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # (workers=1 and workers=2 writing the same bytes is checked on cheaper pages elsewhere.)
    warc = need_shared("data", "warc", "sample-0001.warc.gz")
    out = tmp_path / "out.jsonl"
    assert main(["batch", str(warc), str(out), "--workers", "2"]) == 0
    summary = capsys.readouterr().err.strip().splitlines()
    records = read_jsonl(out)
    expected = html_responses(warc)
    assert [r["warc_record_id"] for r in records] == expected
    assert list(records[0])[:4] == ["url", "warc_record_id", "date", "http_status"]
    assert all(r["url"].startswith("http") and r["date"] for r in records)
    check_records(records)
    assert len(summary) == 1 and f"{len(expected)} records" in summary[0]


def test_corrupt_warc_records_are_error_records(tmp_path: Path) -> None:
    page = HTML.encode()
    records = [
        warc_record("http://a.example/", http_response(page)),
        warc_record("http://b.example/", b"not an HTTP message"),
        warc_record("http://c.example/img", http_response(b"GIF89a", "image/gif")),
        warc_record("http://d.example/", http_response(b"")),  # empty page
        warc_record("http://e.example/", http_response(page)),
    ]
    cut = warc_record("http://f.example/", http_response(page * 10))
    path = write_warc(tmp_path / "crawl.warc", records)
    path.write_bytes(path.read_bytes() + cut[: len(cut) // 2])  # the download broke off
    out = tmp_path / "out.jsonl"
    stats = batch_mod.run_batch(path, out, workers=1)
    got = read_jsonl(out)
    assert [r["url"] for r in got] == [
        "http://a.example/",
        "http://b.example/",
        "http://d.example/",
        "http://e.example/",
        "http://f.example/",
    ]
    codes = [r["error"] and r["error"]["code"] for r in got]
    assert codes == [None, "corrupt_record", "empty_page", None, "corrupt_record"]
    check_records(got)
    assert stats.records == 5 and stats.errors == 3 and stats.skipped_non_html == 1
    assert "skipped non-HTML responses: 1" in stats.summary()


def test_warc_on_stdin_and_wet(tmp_path: Path) -> None:
    warc = write_warc(
        tmp_path / "a.warc.gz",
        [warc_record(f"http://{i}.example/", http_response(HTML.encode())) for i in range(3)],
    )
    wet = write_warc(
        tmp_path / "b.warc.wet.gz",
        [warc_record("http://w.example/", PAGE.encode(), wtype="conversion", content_type="t")],
    )
    proc = subprocess.run(
        [sys.executable, "-m", "cleaner", "batch", "-", "-", "--workers", "1"],
        input=warc.read_bytes(),
        capture_output=True,
        cwd=REPO,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    lines = [json.loads(x) for x in proc.stdout.decode().splitlines()]
    assert [r["url"] for r in lines] == [f"http://{i}.example/" for i in range(3)]
    out = tmp_path / "wet.jsonl"
    assert main(["batch", str(wet), str(out), "--workers", "1"]) == 0
    (rec,) = read_jsonl(out)
    assert rec["url"] == "http://w.example/" and rec["error"] is None
    assert ARTICLE in [ln["text"] for ln in rec["lines"]]


# --- formats and sources ------------------------------------------------------------------------


def test_parquet_output_equals_jsonl_output(tmp_path: Path) -> None:
    pytest.importorskip("pyarrow")
    src = tmp_path / "in.jsonl"
    write_jsonl(
        src,
        [
            *jsonl_pages(5),
            '{"id": 99, "text": "broken',
            json.dumps({"id": 7, "html": HTML}),
            json.dumps({"id": 8, "text": ""}),
        ],
    )
    js, pq_out = tmp_path / "out.jsonl", tmp_path / "out.parquet"
    assert main(["batch", str(src), str(js), "--workers", "1"]) == 0
    assert main(["batch", str(src), str(pq_out), "--workers", "2", "--part-size", "3"]) == 0
    from_json, from_parquet = read_any(js), read_any(pq_out)
    assert len(from_parquet) == len(from_json) == 8
    for a, b in zip(from_json, from_parquet):
        assert {k: b[k] for k in a} == a  # Parquet has every JSONL field, with equal values
        assert all(b[k] is None for k in set(b) - set(a))  # and nulls for the others


def test_many_inputs_in_order(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    write_jsonl(folder / "b.jsonl.gz", [json.dumps({"id": "b", "text": PAGE})])
    write_jsonl(folder / "a.jsonl", [json.dumps({"id": "a", "text": PAGE})])
    write_warc(folder / "c.warc", [warc_record("http://c.example/", http_response(HTML.encode()))])
    write_jsonl(tmp_path / "z1.jsonl", [json.dumps({"id": "z1", "text": PAGE})])
    out = tmp_path / "out.jsonl.gz"
    argv = ["batch", str(folder), str(tmp_path / "z*.jsonl"), str(out), "--workers", "1"]
    assert main(argv) == 0
    got = read_jsonl(out)
    assert [r.get("id") or r.get("url") for r in got] == ["a", "b", "http://c.example/", "z1"]


def test_default_workers_is_all_cores(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    assert batch_mod.default_workers() == len(os.sched_getaffinity(0))
    seen: dict[str, Any] = {}

    def fake_run(*args: Any, **kwargs: Any) -> batch_mod.Stats:
        seen.update(kwargs)
        return batch_mod.Stats()

    monkeypatch.setattr(batch_mod, "run_batch", fake_run)
    write_jsonl(tmp_path / "in.jsonl", ["{}"])
    assert main(["batch", str(tmp_path / "in.jsonl"), str(tmp_path / "out.jsonl")]) == 0
    assert seen["workers"] == batch_mod.default_workers()


def test_progress_bar_in_pages_per_second(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = tmp_path / "in.jsonl"
    write_jsonl(src, jsonl_pages(4))
    argv = ["batch", str(src), str(tmp_path / "out.jsonl"), "--workers", "1", "--progress"]
    assert main(argv) == 0
    err = capsys.readouterr().err
    assert "page/s" in err and "4page" in err.replace(" ", "")
    assert err.strip().splitlines()[-1].startswith("cleaner: 4 records")


def test_parquet_to_stdout_is_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_jsonl(tmp_path / "in.jsonl", jsonl_pages(1))
    assert main(["batch", str(tmp_path / "in.jsonl"), "-", "--output-format", "parquet"]) == 2
    assert_one_line_error(capsys.readouterr().err)


# --- nothing lost: interrupts, kills, --resume ---------------------------------------------------


@pytest.mark.parametrize("name", ["out.jsonl.gz", "out.parquet"])
def test_interrupt_then_resume_equals_uninterrupted(
    tmp_path: Path, real_cleaner: Any, name: str
) -> None:
    if name.endswith(".parquet"):
        pytest.importorskip("pyarrow")
    src = tmp_path / "in.jsonl"
    write_jsonl(src, [*jsonl_pages(21), "not json", json.dumps({"id": 30, "html": HTML})])
    whole, out = tmp_path / f"whole-{name}", tmp_path / name
    opts: dict[str, Any] = {"chunk_size": 2, "part_size": 4}
    full = batch_mod.run_batch(src, whole, cleaner=real_cleaner, **opts)

    with pytest.raises(KeyboardInterrupt) as info:
        batch_mod.run_batch(
            src, out, cleaner=Exploding(real_cleaner, 10, KeyboardInterrupt()), **opts
        )
    assert not out.exists()  # no half-written output
    progress = json.loads((partial_dir(out) / PROGRESS_FILE).read_text())
    assert progress["records"] == 8  # two parts of 4 committed before page 11 blew up
    assert "--resume" in " ".join(getattr(info.value, "__notes__", []))

    resumed = batch_mod.run_batch(src, out, cleaner=real_cleaner, resume=True, **opts)
    assert not partial_dir(out).exists()
    assert out.read_bytes() == whole.read_bytes()  # byte for byte the uninterrupted output
    records = read_any(out)
    assert len(records) == 23 and resumed.records == 23 == full.records
    ids = [r["id"] for r in records]
    assert ids == [*range(21), None, 30]  # in = out, in order, no duplicates
    assert resumed.to_dict() == full.to_dict()  # the summary covers the whole run


def test_kill_then_resume(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src, out, whole = tmp_path / "in.jsonl", tmp_path / "out.jsonl.gz", tmp_path / "w.jsonl.gz"
    # Enough records that the run cannot finish between two looks at its progress (24 small
    # pages once did, once the cleaning got faster).
    n = 240
    write_jsonl(src, jsonl_pages(n))
    argv = ["batch", str(src), str(out), "--workers", "2", "--part-size", "4"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "cleaner", *argv],
        cwd=REPO,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    progress = partial_dir(out) / PROGRESS_FILE
    deadline = time.monotonic() + 240
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            if progress.exists() and json.loads(progress.read_text())["records"] >= 8:
                break
            time.sleep(0.05)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the parent and its workers, no cleanup at all
        proc.wait()
    assert not out.exists(), "the run finished before it could be killed"
    committed = json.loads(progress.read_text())["records"]
    assert committed >= 8

    assert main([*argv, "--resume"]) == 0
    err = capsys.readouterr().err
    assert f"resuming after {committed} committed records" in err
    assert f"cleaner: {n} records" in err
    assert main(["batch", str(src), str(whole), "--workers", "1", "--part-size", "4"]) == 0
    assert out.read_bytes() == whole.read_bytes()
    assert [r["id"] for r in read_jsonl(out)] == list(range(n))


def test_resume_refuses_another_runs_parts(
    tmp_path: Path, real_cleaner: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    src, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    write_jsonl(src, jsonl_pages(12))
    with pytest.raises(KeyboardInterrupt):
        batch_mod.run_batch(
            src,
            out,
            cleaner=Exploding(real_cleaner, 6, KeyboardInterrupt()),
            chunk_size=2,
            part_size=4,
        )
    write_jsonl(src, jsonl_pages(13))  # the input changed since
    assert main(["batch", str(src), str(out), "--resume", "--part-size", "4"]) == 2
    assert_one_line_error(capsys.readouterr().err)
    assert partial_dir(out).exists() and not out.exists()  # refused, and nothing destroyed

    # Without --resume the stale parts are discarded and the run starts over.
    assert main(["batch", str(src), str(out), "--workers", "1"]) == 0
    assert "discarded" in capsys.readouterr().err
    assert not partial_dir(out).exists()
    assert [r["id"] for r in read_jsonl(out)] == list(range(13))


def test_parent_of_workers_never_imports_scikit_learn() -> None:
    """With workers, the parent only reads and writes: importing scikit-learn there would add
    two seconds of start-up before the first worker begins (the forkserver loads the model)."""
    code = (
        "import sys, cleaner, cleaner.batch, cleaner.cli, cleaner.spark\n"
        "from cleaner.batch import _model_digest\n"
        "assert _model_digest(None, None)\n"
        "assert 'sklearn' not in sys.modules, 'sklearn imported'\n"
        "from cleaner import Result, clean\n"
        "assert clean(text='A short page about rivers and the fish living in them.').text\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
