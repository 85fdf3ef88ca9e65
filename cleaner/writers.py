"""Where batch records go: JSONL, JSONL.gz or Parquet, always written atomically.

A writer takes records a chunk at a time, already encoded by the worker that cleaned them
(JSONL bytes, or flat rows for Parquet), so the parent process only moves bytes. Output is
cut into *parts* of a fixed number of records: a gzip member per part, a Parquet row group per
part. Parts are what `--resume` commits (see `cleaner.parts`), and because an uninterrupted run
cuts its output at the same places, a resumed run's file is byte-for-byte the file an
uninterrupted run would have written.

Parquet has one schema per file, while JSONL records may differ from line to line, so the
columnar rule is: result columns (`clean_text`, `title`, `published`) are strings and the
nested ones (`lines`, `spans`, `hidden`, `error`) are JSON text, the same shape `cleaner.spark`
returns; input fields keep their type (string, integer, float, boolean) as inferred from the
first part, nested input values become JSON text, and a value that does not fit its column
(or a field that the first part never had) stops the run with an error instead of being
dropped.
"""

from __future__ import annotations

import gzip
import json
import os
import sys
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from cleaner.errors import CleanerError

OUTPUT_FORMATS: tuple[str, ...] = ("jsonl", "parquet")
# Result fields every record gets after its input fields; the nested ones are JSON text in
# columnar outputs.
RESULT_FIELDS: tuple[str, ...] = ("clean_text", "title", "published", "lines", "spans", "hidden",
                                  "error")
JSON_COLUMNS: frozenset[str] = frozenset({"lines", "spans", "hidden", "error"})
GZIP_LEVEL = 6  # zlib's default: level 9 costs twice the CPU for ~2% smaller output


class OutputError(CleanerError):
    """Output that cannot be written as asked (a record that does not fit the Parquet schema,
    Parquet without pyarrow, Parquet to stdout)."""

    code = "output"


def output_format(path: str, override: str | None = None) -> str:
    """`parquet` for a .parquet/.pq name, else `jsonl` (gzip when the name ends in .gz)."""
    if override is not None:
        if override not in OUTPUT_FORMATS:
            raise OutputError(f"unknown output format {override!r} (one of {OUTPUT_FORMATS})")
        return override
    return "parquet" if path.lower().endswith((".parquet", ".pq")) else "jsonl"


def is_gzip_name(path: str) -> bool:
    return path.lower().endswith(".gz")


# --- encoding (runs in the workers) -------------------------------------------------------------


def encode_record(record: dict[str, Any]) -> bytes:
    """One JSONL line; lone surrogates (legal in JSON escapes, not in UTF-8) stay escaped."""
    try:
        return (json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8")
    except UnicodeEncodeError:
        return (json.dumps(record, ensure_ascii=True) + "\n").encode("ascii")


def _json_text(value: Any) -> str:
    try:
        text = json.dumps(value, ensure_ascii=False)
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return json.dumps(value, ensure_ascii=True)


def _string(value: str) -> str:
    """Lone surrogates cannot be stored in Arrow's UTF-8 strings: escape them, don't crash."""
    try:
        value.encode("utf-8")
        return value
    except UnicodeEncodeError:
        return value.encode("utf-8", "backslashreplace").decode("utf-8")


def flat_row(record: dict[str, Any]) -> dict[str, Any]:
    """A record as columns: nested values (the audit, spans, error, nested input fields) become
    JSON text, so every column has a scalar type. Shared by the Parquet writer and Spark."""
    row: dict[str, Any] = {}
    for key, value in record.items():
        if key in JSON_COLUMNS:
            row[key] = None if value is None else _json_text(value)
        elif isinstance(value, (dict, list)):
            row[key] = _json_text(value)
        elif isinstance(value, str):
            row[key] = _string(value)
        else:
            row[key] = value
    return row


# --- files --------------------------------------------------------------------------------------


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextmanager
def atomic_file(path: str | os.PathLike[str]) -> Iterator[IO[bytes]]:
    """A binary file that becomes `path` only if the block completes.

    The temporary file lives in the destination directory so the final `os.replace` is an
    atomic rename on the same filesystem; on any exception (KeyboardInterrupt included) it is
    removed and an existing `path` is left untouched.
    """
    dest = Path(path)
    fd, tmp_name = tempfile.mkstemp(dir=dest.parent or ".", prefix=f".{dest.name}.", suffix=".tmp")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as raw:
            yield raw
            raw.flush()
            os.fsync(raw.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp's 0600 would surprise whoever reads OUT
        os.replace(tmp, dest)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


# --- writers ------------------------------------------------------------------------------------


class JsonlWriter:
    """JSONL to a binary stream; with `gz`, one gzip member per part (a multi-member gzip file
    is standard, and every gzip reader, Python's, zcat and Spark's included, reads it whole)."""

    def __init__(self, stream: IO[bytes], *, gz: bool) -> None:
        self.stream, self.gz = stream, gz
        self._member: gzip.GzipFile | None = None

    def write(self, payload: bytes) -> None:
        if not self.gz:
            self.stream.write(payload)
            return
        if self._member is None:
            # mtime=0 and no name: the same records always give the same bytes.
            self._member = gzip.GzipFile(
                filename="", mode="wb", fileobj=self.stream, compresslevel=GZIP_LEVEL, mtime=0
            )
        self._member.write(payload)

    def end_part(self) -> None:
        if self._member is not None:
            self._member.close()
            self._member = None

    def close(self) -> None:
        self.end_part()
        self.stream.flush()


def _pyarrow() -> Any:
    try:
        import pyarrow
        import pyarrow.parquet  # noqa: F401
    except ImportError:
        raise OutputError("Parquet output needs pyarrow: pip install 'cleaner[parquet]'") from None
    return pyarrow


def infer_schema(rows: Sequence[dict[str, Any]], hint: dict[str, str] | None = None) -> Any:
    """The Parquet schema of a run, from its first part: input columns in first-seen order
    (types from the values; all-null or mixed columns become strings), then result columns."""
    pa = _pyarrow()
    names: dict[str, None] = {}
    for row in rows:
        for key in row:
            if key not in RESULT_FIELDS:
                names.setdefault(key)
    for key in hint or {}:
        names.setdefault(key)
    simple = {
        "string": pa.string(),
        "int64": pa.int64(),
        "double": pa.float64(),
        "bool": pa.bool_(),
    }
    fields = []
    for name in names:
        if hint and name in hint:
            fields.append(pa.field(name, simple[hint[name]]))
            continue
        try:
            inferred = pa.array([row.get(name) for row in rows]).type
        except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
            inferred = pa.string()
        fields.append(pa.field(name, inferred if inferred in simple.values() else pa.string()))
    fields.extend(pa.field(name, pa.string()) for name in RESULT_FIELDS)
    return pa.schema(fields)


class ParquetWriter:
    """Parquet to a binary stream, one row group per part; the schema is fixed by the first
    part (or given, when a resumed run continues a file whose first part is already written)."""

    def __init__(
        self,
        stream: IO[bytes],
        *,
        schema: Any = None,
        hint: dict[str, str] | None = None,
        first_record: int = 0,
    ) -> None:
        self.pa = _pyarrow()
        self.stream, self.schema, self.hint = stream, schema, hint
        self._rows: list[dict[str, Any]] = []
        self._writer: Any = None
        self._seen = first_record  # records before this writer's, for error messages

    def write(self, payload: list[dict[str, Any]]) -> None:
        self._rows.extend(payload)

    def end_part(self) -> None:
        if not self._rows:
            return
        pa = self.pa
        rows, self._rows = self._rows, []
        if self.schema is None:
            self.schema = infer_schema(rows, self.hint)
        table = self._table(rows)
        if self._writer is None:
            self._writer = pa.parquet.ParquetWriter(self.stream, self.schema, compression="zstd")
        self._writer.write_table(table, row_group_size=max(1, len(rows)))
        self._seen += len(rows)

    def _table(self, rows: list[dict[str, Any]]) -> Any:
        pa = self.pa
        names = set(self.schema.names)
        strings = {f.name for f in self.schema if f.type == pa.string()}
        for n, row in enumerate(rows):
            extra = set(row) - names
            if extra:
                raise OutputError(
                    f"record {self._seen + n + 1} has field(s) {', '.join(sorted(extra))} that "
                    "the first records lacked; Parquet needs one schema (write JSONL instead)"
                )
            for key in strings & set(row):
                value = row[key]
                if value is not None and not isinstance(value, str):
                    row[key] = _json_text(value)
        try:
            return pa.Table.from_pylist(rows, schema=self.schema)
        except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError, TypeError) as exc:
            raise OutputError(
                f"records {self._seen + 1}-{self._seen + len(rows)} do not fit the Parquet "
                f"schema taken from the first records ({exc}); write JSONL instead"
            ) from None

    def close(self) -> None:
        self.end_part()
        if self._writer is None:
            # No record at all: still a valid (empty) file with the result columns.
            self.schema = self.schema or infer_schema([], self.hint)
            self._writer = self.pa.parquet.ParquetWriter(self.stream, self.schema)
        self._writer.close()
        self.stream.flush()


def make_writer(
    stream: IO[bytes],
    fmt: str,
    *,
    gz: bool = False,
    schema: Any = None,
    hint: dict[str, str] | None = None,
    first_record: int = 0,
) -> JsonlWriter | ParquetWriter:
    if fmt == "parquet":
        return ParquetWriter(stream, schema=schema, hint=hint, first_record=first_record)
    return JsonlWriter(stream, gz=gz)


def stdout_stream() -> IO[bytes]:
    return sys.stdout.buffer
