"""cleaner as a step of a PySpark job, for corpora that outgrow one machine.

Spark already schedules, retries and scales; cleaner only has to be a well-behaved function of
a DataFrame. `clean_dataframe` adds the result columns to a DataFrame of pages through
`mapInPandas` (Arrow batches, no per-row Python call overhead in the JVM), and `clean_warc`
turns WARC/WET paths into the same rows `cleaner batch` writes for them. Both use the batch
module's record functions, so a Spark job and `cleaner batch` give the same output for the same
records (a test checks it), and a bad page is an error row, never a failed task.

The model travels once: its bytes and manifest are broadcast, and each executor's Python worker
writes them to a private temporary folder and loads them through `Cleaner.load`, which checks
the digest against the manifest before unpickling. The loaded model is cached per worker
process (Spark reuses Python workers), so it is loaded once per worker, not once per batch.

Columns added (as in `cleaner batch`'s Parquet output): `clean_text`, `title`, `published`
(strings) and `lines`, `spans`, `hidden`, `error` (JSON text; `from_json` or
`get_json_object` read them).

PySpark is an optional extra (`pip install 'cleaner[spark]'`); nothing here is imported by the
rest of cleaner.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from cleaner.batch import (
    Fields,
    Stats,
    _failed,
    _succeeded,
    clean_record,
    error_info,
    process_item,
)
from cleaner.errors import CleanerError, ModelError
from cleaner.readers import WARC_FIELDS, expand_inputs, read_warc, sniff_format
from cleaner.writers import RESULT_FIELDS, flat_row

_CACHE: dict[str, Any] = {}
_CACHE_LOCK = threading.Lock()


def _pyspark() -> Any:
    try:
        import pyspark.sql
    except ImportError:
        raise ModelError("cleaner.spark needs PySpark: pip install 'cleaner[spark]'") from None
    return pyspark.sql


def result_schema() -> Any:
    """The result columns, all strings (the nested ones hold JSON text)."""
    from pyspark.sql.types import StringType, StructField, StructType

    return StructType([StructField(name, StringType(), True) for name in RESULT_FIELDS])


def model_payload(model_path: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """The model's bytes and manifest: what is broadcast to the executors."""
    from cleaner.artifact import DEFAULT_MODEL, manifest_path

    path = Path(model_path) if model_path is not None else DEFAULT_MODEL
    try:
        manifest = json.loads(manifest_path(path).read_text("utf-8"))
        data = path.read_bytes()
    except (OSError, ValueError) as exc:
        raise ModelError(f"model {path} or its manifest cannot be read: {exc}") from exc
    return {"model": data, "manifest": manifest}


def _executor_cleaner(payload: dict[str, Any]) -> Any:
    """The cleaner for a broadcast model, loaded once per Python worker and verified."""
    key = str(payload["manifest"].get("sha256"))
    with _CACHE_LOCK:
        if key not in _CACHE:
            from cleaner.cleaning import Cleaner

            folder = Path(tempfile.mkdtemp(prefix="cleaner-model-"))
            (folder / "model.joblib").write_bytes(payload["model"])
            (folder / "model.json").write_text(json.dumps(payload["manifest"]), "utf-8")
            _CACHE[key] = Cleaner.load(folder / "model.joblib")
        return _CACHE[key]


def _broadcast(spark: Any, model_path: str | os.PathLike[str] | None) -> Any:
    return spark.sparkContext.broadcast(model_payload(model_path))


def _value(v: Any) -> Any:
    """pandas hands Spark nulls over as None, or as NaN in numeric/object columns."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return None
    if isinstance(v, (bytearray, memoryview)):
        return bytes(v)
    return v


def _clean_value(
    cleaner: Any,
    text: Any,
    html: Any,
    charset: Any,
    *,
    fields: Fields,
    repair: bool,
    stats: Stats,
) -> dict[str, Any]:
    """The result columns for one row, by the same rules as one `cleaner batch` record."""
    stats.records += 1
    if isinstance(html, bytes):  # raw bytes of a page (a WARC payload): decode like batch
        try:
            result = cleaner.clean_bytes(html, kind="html", charset=charset, repair=repair)
        except ModelError:
            raise
        except Exception as exc:
            return flat_row(_failed(stats, {}, error_info(exc)))
        return flat_row(_succeeded(stats, {}, result))
    record = {fields.text: text, fields.html: html}
    try:
        result = clean_record(cleaner, record, fields=fields, repair=repair)
    except ModelError:
        raise
    except Exception as exc:
        return flat_row(_failed(stats, {}, error_info(exc)))
    return flat_row(_succeeded(stats, {}, result))


def clean_dataframe(
    df: Any,
    text_col: str | None = None,
    html_col: str | None = None,
    *,
    charset_col: str | None = None,
    repair: bool = True,
    model_path: str | os.PathLike[str] | None = None,
    broadcast: Any = None,
) -> Any:
    """`df` with the result columns added: each row's page is in `text_col` (plain text) or
    `html_col` (HTML as a string, or raw bytes decoded with `charset_col` when given).

    With both columns, a row must fill exactly one of them, as a `cleaner batch` record must.
    `broadcast` reuses a model already broadcast by `model_payload` (one per job is enough).
    """
    _pyspark()
    from pyspark.sql.types import StructType

    if text_col is None and html_col is None:
        raise ValueError("give text_col, html_col, or both")
    for col in (text_col, html_col, charset_col):
        if col is not None and col not in df.columns:
            raise ValueError(f"no column {col!r} in the DataFrame (it has {df.columns})")
    clash = set(RESULT_FIELDS) & set(df.columns)
    if clash:
        raise ValueError(f"the DataFrame already has result column(s) {sorted(clash)}")
    bc = broadcast if broadcast is not None else _broadcast(df.sparkSession, model_path)
    schema = StructType(df.schema.fields + result_schema().fields)
    # Names that cannot collide with a column, so a missing one is simply absent.
    fields = Fields(text=text_col or "\x00text", html=html_col or "\x00html")

    def run(batches: Iterator[Any]) -> Iterator[Any]:
        cleaner = _executor_cleaner(bc.value)
        stats = Stats()
        for pdf in batches:
            n = len(pdf)
            texts = pdf[text_col].tolist() if text_col else [None] * n
            htmls = pdf[html_col].tolist() if html_col else [None] * n
            charsets = pdf[charset_col].tolist() if charset_col else [None] * n
            rows = [
                _clean_value(
                    cleaner,
                    _value(t),
                    _value(h),
                    _value(c),
                    fields=fields,
                    repair=repair,
                    stats=stats,
                )
                for t, h, c in zip(texts, htmls, charsets)
            ]
            for name in RESULT_FIELDS:
                pdf[name] = [row[name] for row in rows]
            yield pdf

    return df.mapInPandas(run, schema)


def warc_schema() -> Any:
    from pyspark.sql.types import LongType, StringType, StructField, StructType

    fields = [StructField(name, StringType(), True) for name in WARC_FIELDS[:3]]
    fields.append(StructField("http_status", LongType(), True))
    return StructType(fields + result_schema().fields)


def clean_warc(
    spark: Any,
    paths: Sequence[str],
    *,
    wet: bool = False,
    repair: bool = True,
    model_path: str | os.PathLike[str] | None = None,
    broadcast: Any = None,
    batch_size: int = 64,
) -> Any:
    """The cleaned pages of WARC (or WET) files as a DataFrame: `url`, `warc_record_id`,
    `date`, `http_status` and the result columns, one row per HTML response record, exactly
    as `cleaner batch` writes them.

    One task per file (a crawl's WARC file is the natural unit of work); each task streams its
    file with the batch reader, so corrupt and truncated records become error rows the same way.
    The paths must be readable from every executor (a shared filesystem).
    """
    import pandas as pd

    bc = broadcast if broadcast is not None else _broadcast(spark, model_path)
    names = [*WARC_FIELDS, *RESULT_FIELDS]
    files = spark.createDataFrame([(os.path.abspath(p),) for p in paths], "path string")
    files = files.repartition(max(1, len(paths)))

    def run(batches: Iterator[Any]) -> Iterator[Any]:
        cleaner = _executor_cleaner(bc.value)
        fields, stats = Fields(), Stats()
        for pdf in batches:
            for path in pdf["path"].tolist():
                rows: list[dict[str, Any]] = []
                with open(path, "rb") as f:
                    for item in read_warc(f, path, wet=wet):
                        record = process_item(
                            cleaner, item, fields=fields, repair=repair, stats=stats
                        )
                        rows.append(flat_row(record))
                        if len(rows) >= batch_size:
                            yield pd.DataFrame(rows, columns=names)
                            rows = []
                if rows:
                    yield pd.DataFrame(rows, columns=names)

    return files.mapInPandas(run, warc_schema())


# --- the example job: `cleaner spark IN... --output OUT.parquet` ------------------------------


def _session(master: str | None) -> Any:
    """A session: the one spark-submit set up, else a local one on every core."""
    sql = _pyspark()
    # Executors on this machine must run this interpreter, the one that has cleaner installed.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    builder = sql.SparkSession.builder.appName("cleaner")
    if master is None and "PYSPARK_GATEWAY_PORT" not in os.environ:
        master = "local[*]"
    if master is not None:
        builder = builder.master(master)
    return builder.config("spark.ui.showConsoleProgress", "false").getOrCreate()


def job_format(paths: Sequence[str], override: str | None) -> str:
    """One format per job (a DataFrame has one schema): jsonl, parquet, warc or wet."""
    if override:
        return override
    formats = set()
    for p in paths:
        if (
            p.lower().endswith((".parquet", ".pq"))
            or Path(p).is_dir()
            and any(Path(p).glob("*.parquet"))
        ):
            formats.add("parquet")
        else:
            with open(p, "rb") as f:
                formats.add(sniff_format(p, f.read(64)))
    if len(formats) != 1:
        raise ValueError(f"inputs mix formats {sorted(formats)}; run one job per format")
    return formats.pop()


def _job_paths(inputs: Sequence[str]) -> list[str]:
    """Files to read; a folder of Parquet parts (Spark's own output) is one input."""
    if "-" in inputs:
        raise ValueError("a Spark job cannot read stdin; name the input files")
    keep = [
        p for p in inputs if "://" in p or Path(p).is_dir() and any(Path(p).glob("*.parquet"))
    ]  # URIs (s3a://, hdfs://) and Parquet folders are Spark's to resolve
    rest = [p for p in inputs if p not in keep]
    return keep + (expand_inputs(rest) if rest else [])


def run_job(
    spark: Any,
    inputs: Sequence[str],
    output: str,
    *,
    input_format: str | None = None,
    text_col: str | None = "text",
    html_col: str | None = "html",
    repair: bool = True,
    model_path: str | None = None,
    partitions: int | None = None,
) -> int:
    """Read JSONL/Parquet/WARC/WET `inputs`, clean them, write Parquet `output` (a folder of
    part files, Spark's own atomic commit); returns the number of rows written."""
    paths = _job_paths(inputs)
    fmt = job_format(paths, input_format)
    bc = _broadcast(spark, model_path)
    if fmt in ("warc", "wet"):
        df = clean_warc(spark, paths, wet=fmt == "wet", repair=repair, broadcast=bc)
    else:
        reader = spark.read
        src = reader.parquet(*paths) if fmt == "parquet" else reader.json(paths)
        if partitions:
            src = src.repartition(partitions)
        text = text_col if text_col in src.columns else None
        html = html_col if html_col in src.columns else None
        if text is None and html is None:
            raise ValueError(f"the input has neither a {text_col!r} nor an {html_col!r} column")
        df = clean_dataframe(src, text, html, repair=repair, broadcast=bc)
    df.write.mode("overwrite").parquet(output)
    return spark.read.parquet(output).count()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="cleaner spark",
        description="Clean JSONL, Parquet, WARC or WET inputs with PySpark into Parquet.",
    )
    parser.add_argument("inputs", nargs="+", metavar="IN", help="files, folders or globs")
    parser.add_argument("--output", required=True, metavar="OUT", help="Parquet output folder")
    parser.add_argument("--input-format", choices=("jsonl", "parquet", "warc", "wet"))
    parser.add_argument("--text-field", default="text", metavar="NAME")
    parser.add_argument("--html-field", default="html", metavar="NAME")
    parser.add_argument("--model", metavar="PATH", help="model file (default: the shipped one)")
    parser.add_argument("--no-repair", dest="repair", action="store_false")
    parser.add_argument("--master", help="Spark master (default: spark-submit's, else local[*])")
    parser.add_argument("--partitions", type=int, help="repartition JSONL/Parquet input to N")
    args = parser.parse_args(argv)
    try:
        paths = _job_paths(args.inputs)
        job_format(paths, args.input_format)
    except (ValueError, OSError, CleanerError) as exc:
        print(f"cleaner spark: error: {exc}", file=sys.stderr)
        return 2
    spark = _session(args.master)
    try:
        rows = run_job(
            spark,
            args.inputs,
            args.output,
            input_format=args.input_format,
            text_col=args.text_field,
            html_col=args.html_field,
            repair=args.repair,
            model_path=args.model,
            partitions=args.partitions,
        )
    finally:
        spark.stop()
    print(f"cleaner: {rows} rows written to {args.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
