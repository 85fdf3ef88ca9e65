"""`cleaner.spark` on PySpark in local[2] mode: the Spark job's output equals `cleaner batch`'s
for the same records (JSONL and WARC inputs), error rows included."""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest
from test_batch import HTML, jsonl_pages
from test_cli import write_jsonl
from warc_fixtures import http_response, warc_record, write_warc

pytest.importorskip("pyspark")
pytest.importorskip("pyarrow")
if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
    pytest.skip("PySpark needs Java (java on PATH or JAVA_HOME)", allow_module_level=True)

import pyarrow.parquet as pq  # noqa: E402

from cleaner import batch as batch_mod  # noqa: E402
from cleaner import spark as cspark  # noqa: E402
from cleaner.writers import RESULT_FIELDS  # noqa: E402


@pytest.fixture(scope="module")
def spark() -> Any:
    os.environ["PYSPARK_PYTHON"] = sys.executable  # executors run this venv's interpreter
    from pyspark.sql import SparkSession

    session = (
        SparkSession.builder.master("local[2]")
        .appName("cleaner-tests")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "2")
        .getOrCreate()
    )
    yield session
    session.stop()


def rows_by(path: Path, key: str) -> dict[Any, dict[str, Any]]:
    return {row[key]: row for row in pq.read_table(path).to_pylist()}


def assert_same_rows(batch_out: Path, spark_out: Path, key: str) -> None:
    ours, theirs = rows_by(batch_out, key), rows_by(spark_out, key)
    assert theirs.keys() == ours.keys()
    for k, row in ours.items():
        for col in RESULT_FIELDS:
            assert theirs[k][col] == row[col], (k, col)


def test_spark_job_equals_batch_on_jsonl(tmp_path: Path, spark: Any, real_cleaner: Any) -> None:
    src = tmp_path / "in.jsonl"
    write_jsonl(
        src,
        [
            *jsonl_pages(6),
            json.dumps({"id": 10, "html": HTML}),
            json.dumps({"id": 11, "text": ""}),  # empty page
            json.dumps({"id": 12, "text": "   \n"}),
            json.dumps({"id": 13}),  # neither text nor html
            json.dumps({"id": 14, "text": "a", "html": "<p>b</p>"}),  # both
        ],
    )
    batch_out, spark_out = tmp_path / "batch.parquet", tmp_path / "spark.parquet"
    batch_mod.run_batch(src, batch_out, cleaner=real_cleaner)
    assert cspark.run_job(spark, [str(src)], str(spark_out), partitions=2) == 11
    assert_same_rows(batch_out, spark_out, "id")
    errors = {
        k: json.loads(r["error"])["code"] for k, r in rows_by(spark_out, "id").items() if r["error"]
    }
    assert errors == {11: "empty_page", 12: "empty_page", 13: "missing_field", 14: "invalid_record"}


def test_spark_job_equals_batch_on_warc(tmp_path: Path, spark: Any, real_cleaner: Any) -> None:
    records = [warc_record(f"http://{i}.example/", http_response(HTML.encode())) for i in range(4)]
    records.insert(2, warc_record("http://bad.example/", b"not HTTP"))
    records.append(warc_record("http://img.example/", http_response(b"GIF89a", "image/gif")))
    a = write_warc(tmp_path / "a.warc.gz", records[:3])
    b = write_warc(tmp_path / "b.warc.gz", records[3:])
    batch_out, spark_out = tmp_path / "batch.parquet", tmp_path / "spark.parquet"
    stats = batch_mod.run_batch([str(a), str(b)], batch_out, cleaner=real_cleaner)
    assert stats.records == 5 and stats.skipped_non_html == 1
    assert cspark.run_job(spark, [str(tmp_path / "*.warc.gz")], str(spark_out)) == 5
    assert_same_rows(batch_out, spark_out, "warc_record_id")
    table = pq.read_table(spark_out)
    assert table.column_names[:4] == ["url", "warc_record_id", "date", "http_status"]


def test_clean_dataframe_adds_the_result_columns(spark: Any) -> None:
    df = spark.createDataFrame(
        [(1, "Some text\n\nMore text here.", None), (2, None, HTML), (3, None, None)],
        "id long, body string, page string",
    )
    out = cspark.clean_dataframe(df, text_col="body", html_col="page")
    assert out.columns == ["id", "body", "page", *RESULT_FIELDS]
    rows = {r["id"]: r for r in out.collect()}
    assert len(rows) == 3
    assert rows[1]["error"] is None and isinstance(json.loads(rows[1]["lines"]), list)
    assert json.loads(rows[2]["lines"])[0]["index"] == 0
    assert json.loads(rows[3]["error"])["code"] == "missing_field"
    with pytest.raises(ValueError):
        cspark.clean_dataframe(df, text_col="nope")
