"""Readers and writers of `cleaner batch`, without the model: sources, format sniffing, WARC
and WET records (real and damaged), JSONL, and the JSONL.gz / Parquet writers."""

from __future__ import annotations

import gzip
import io
import json
from pathlib import Path

import pytest
from conftest import need_shared
from warc_fixtures import html_responses, http_response, warc_record, write_warc

from cleaner.readers import (
    InputError,
    Inputs,
    ReadStats,
    expand_inputs,
    read_items,
    read_jsonl,
    read_warc,
    sniff_format,
)
from cleaner.writers import JsonlWriter, OutputError, ParquetWriter, flat_row

PAGE = b"<html><body><h1>Title</h1><p>Some words about a thing.</p></body></html>"


def small_warc(path: Path) -> Path:
    return write_warc(
        path,
        [
            warc_record("http://a.example/", b"", wtype="warcinfo", content_type="text/plain"),
            warc_record("http://a.example/", b"GET / HTTP/1.1\r\n\r\n", wtype="request"),
            warc_record("http://a.example/", http_response(PAGE)),
            warc_record("http://a.example/x.png", http_response(b"\x89PNG", "image/png")),
            warc_record(
                "http://b.example/",
                http_response("<p>Привет, мир</p>".encode("cp1251"), "text/html; charset=cp1251"),
            ),
            warc_record("http://c.example/", http_response(PAGE, status="404 Not Found")),
        ],
    )


# --- sources ------------------------------------------------------------------------------------


def test_expand_inputs_files_folders_globs(tmp_path: Path) -> None:
    (tmp_path / "d" / "sub").mkdir(parents=True)
    for name in ["d/b.jsonl", "d/a.warc.gz", "d/sub/c.jsonl.gz", "d/notes.txt", "e.jsonl"]:
        (tmp_path / name).write_bytes(b"")
    got = expand_inputs([str(tmp_path / "d"), str(tmp_path / "*.jsonl")])
    rel = [str(Path(p).relative_to(tmp_path)) for p in got]
    assert rel == ["d/a.warc.gz", "d/b.jsonl", "d/sub/c.jsonl.gz", "e.jsonl"]  # sorted, no .txt


@pytest.mark.parametrize("spec", ["missing.jsonl", "*.nothing", "empty-dir"])
def test_expand_inputs_refuses_what_names_nothing(tmp_path: Path, spec: str) -> None:
    (tmp_path / "empty-dir").mkdir()
    with pytest.raises(InputError):
        expand_inputs([str(tmp_path / spec)])


def test_stdin_only_once() -> None:
    with pytest.raises(InputError):
        expand_inputs(["-", "-"])


@pytest.mark.parametrize(
    ("name", "head", "fmt"),
    [
        ("x.jsonl", b"", "jsonl"),
        ("x.jsonl.gz", b"", "jsonl"),
        ("CC-MAIN-1.warc.gz", b"", "warc"),
        ("CC-MAIN-1.warc.wet.gz", b"", "wet"),
        ("x.warc", b"", "warc"),
        ("<stdin>", b"WARC/1.0\r\n", "warc"),
        ("<stdin>", gzip.compress(b"WARC/1.1\r\nWARC-Type: x"), "warc"),
        ("<stdin>", b'{"id": 1}\n', "jsonl"),
        ("<stdin>", gzip.compress(b'  {"id": 1}\n'), "jsonl"),
    ],
)
def test_sniff_format(name: str, head: bytes, fmt: str) -> None:
    assert sniff_format(name, head[:64]) == fmt


def test_sniff_format_unknown_is_a_clear_error() -> None:
    with pytest.raises(InputError, match="--input-format"):
        sniff_format("page.bin", b"\x00\x01binary")


# --- WARC -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["small.warc", "small.warc.gz"])
def test_warc_one_item_per_html_response(tmp_path: Path, name: str) -> None:
    path = small_warc(tmp_path / name)
    stats = ReadStats()
    items = list(read_items([str(path)], ["warc"], stats))
    assert [it.fields["url"] for it in items] == [
        "http://a.example/",
        "http://b.example/",
        "http://c.example/",
    ]
    assert [it.fields["warc_record_id"] for it in items] == html_responses(path)
    assert stats.skipped_non_html == 1  # the PNG: counted, not output
    assert [it.fields["http_status"] for it in items] == [200, 200, 404]
    assert all(it.kind == "html" and it.error is None for it in items)
    assert items[0].body == PAGE
    assert items[1].charset == "cp1251"  # the HTTP charset travels with the bytes
    assert items[0].fields["date"] == "2024-05-01T12:00:00Z"


def test_real_warc_files_match_independent_count() -> None:
    folder = need_shared("data", "warc")
    paths = sorted(str(p) for p in folder.glob("*.warc.gz"))
    stats = ReadStats()
    items = list(read_items(paths, ["warc"] * len(paths), stats))
    expected = [rid for p in paths for rid in html_responses(Path(p))]
    assert [it.fields["warc_record_id"] for it in items] == expected
    assert all(it.error is None and it.body for it in items)
    assert all(it.fields["url"].startswith("http") for it in items)
    assert stats.files == 2 and stats.bytes_done == stats.bytes_total


def test_truncated_warc_record_is_an_error_item(tmp_path: Path) -> None:
    good = warc_record("http://a.example/", http_response(PAGE))
    cut = warc_record("http://b.example/", http_response(PAGE * 20))
    path = tmp_path / "cut.warc"
    path.write_bytes(good + cut[: len(cut) // 2])  # a download that broke off
    items = list(read_warc(io.BytesIO(path.read_bytes()), str(path)))
    assert len(items) == 2
    assert items[0].error is None
    assert items[1].error["code"] == "corrupt_record"
    assert "truncated" in items[1].error["message"]
    assert items[1].fields["url"] == "http://b.example/"


def test_truncated_gzip_warc_is_an_error_item() -> None:
    real = need_shared("data", "warc", "sample-0000.warc.gz").read_bytes()
    items = list(read_warc(io.BytesIO(real[: len(real) // 2]), "half.warc.gz"))
    assert items and items[-1].error is not None
    assert all(it.error is None for it in items[:-1])


def test_garbage_in_the_middle_ends_the_file_with_one_error(tmp_path: Path) -> None:
    records = [warc_record(f"http://{i}.example/", http_response(PAGE)) for i in range(3)]
    data = records[0] + b"NOT A WARC RECORD\r\n\r\n" + records[1] + records[2]
    items = list(read_warc(io.BytesIO(data), "bad.warc"))
    assert items[0].error is None
    assert items[-1].error is not None
    assert items[-1].error["code"] in ("corrupt_input", "corrupt_record")


def test_bad_http_message_is_an_error_item() -> None:
    data = warc_record("http://a.example/", b"this is not HTTP at all") + warc_record(
        "http://b.example/", http_response(PAGE)
    )
    items = list(read_warc(io.BytesIO(data), "x.warc"))
    assert [it.fields["url"] for it in items] == ["http://a.example/", "http://b.example/"]
    assert items[0].error["code"] == "corrupt_record" and items[1].error is None


def test_wet_conversion_records_are_text_pages(tmp_path: Path) -> None:
    path = write_warc(
        tmp_path / "x.warc.wet.gz",
        [
            warc_record("http://a.example/", b"", wtype="warcinfo", content_type="text/plain"),
            warc_record(
                "http://a.example/",
                "Первая строка\nSecond line".encode(),
                wtype="conversion",
                content_type="text/plain",
            ),
            warc_record(
                "http://b.example/", b"Hello", wtype="conversion", content_type="text/plain"
            ),
        ],
    )
    inputs = Inputs.resolve([str(path)])
    assert inputs.formats == ["wet"]
    items = list(read_items(inputs.paths, inputs.formats, ReadStats()))
    assert [(it.fields["url"], it.kind, it.charset) for it in items] == [
        ("http://a.example/", "text", "utf-8"),
        ("http://b.example/", "text", "utf-8"),
    ]


# --- JSONL ----------------------------------------------------------------------------------------


def test_jsonl_every_line_is_an_item_blank_ones_too() -> None:
    items = list(read_jsonl(io.BytesIO(b'{"a": 1}\n\n{"a": 2}'), "x", gzipped=False))
    assert [it.raw for it in items] == [b'{"a": 1}\n', b"\n", b'{"a": 2}']
    assert [it.lineno for it in items] == [1, 2, 3]


def test_truncated_jsonl_gz_ends_in_one_error_item() -> None:
    data = gzip.compress(b"".join(b'{"id": %d, "text": "x"}\n' % i for i in range(2000)))
    items = list(read_jsonl(io.BytesIO(data[: len(data) // 2]), "cut.jsonl.gz", gzipped=True))
    assert items[-1].error is not None and items[-1].error["code"] == "corrupt_input"
    assert all(it.raw is not None for it in items[:-1])


# --- writers --------------------------------------------------------------------------------------


def test_jsonl_gz_parts_are_one_readable_stream() -> None:
    buf = io.BytesIO()
    w = JsonlWriter(buf, gz=True)
    w.write(b'{"a": 1}\n')
    w.end_part()
    w.write(b'{"a": 2}\n')
    w.close()
    assert gzip.decompress(buf.getvalue()) == b'{"a": 1}\n{"a": 2}\n'


def record(i: int, **extra: object) -> dict:
    return {
        "id": i,
        "meta": {"k": [1, 2]},
        **extra,
        "clean_text": "t",
        "title": None,
        "published": None,
        "lines": [{"index": 0, "label": "content"}],
        "spans": [],
        "hidden": ["casino links"],
        "error": None,
    }


def test_parquet_writer_types_and_json_columns() -> None:
    pq = pytest.importorskip("pyarrow.parquet")
    buf = io.BytesIO()
    w = ParquetWriter(buf, hint={"raw": "string"})
    w.write([flat_row(record(1)), flat_row(record(2))])
    w.end_part()
    w.write([flat_row(record(3))])
    w.close()
    table = pq.read_table(io.BytesIO(buf.getvalue()))
    assert table.column_names == [
        "id",
        "meta",
        "raw",
        "clean_text",
        "title",
        "published",
        "lines",
        "spans",
        "hidden",
        "error",
    ]
    assert str(table.schema.field("id").type) == "int64"
    rows = table.to_pylist()
    assert [r["id"] for r in rows] == [1, 2, 3]
    assert json.loads(rows[0]["lines"]) == [{"index": 0, "label": "content"}]
    assert json.loads(rows[0]["meta"]) == {"k": [1, 2]}
    assert json.loads(rows[0]["hidden"]) == ["casino links"]
    assert pq.ParquetFile(io.BytesIO(buf.getvalue())).num_row_groups == 2  # one per part


def test_parquet_writer_refuses_a_field_the_schema_lacks() -> None:
    pytest.importorskip("pyarrow")
    w = ParquetWriter(io.BytesIO())
    w.write([flat_row(record(1))])
    w.end_part()
    w.write([flat_row(record(2, surprise="x"))])
    with pytest.raises(OutputError, match="surprise"):
        w.end_part()


def test_parquet_writer_refuses_a_value_of_another_type() -> None:
    pytest.importorskip("pyarrow")
    w = ParquetWriter(io.BytesIO())
    w.write([flat_row(record(1))])
    w.end_part()
    w.write([flat_row(record("not-an-int"))])  # type: ignore[arg-type]
    with pytest.raises(OutputError, match="schema"):
        w.end_part()
