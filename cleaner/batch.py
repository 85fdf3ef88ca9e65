"""Cleaning JSONL files of pages: one output record per input line, in order, written atomically.

A batch over a crawl is long and its input is dirty, so a bad record must cost one record, not
the run: every line yields exactly one output record, and a line that cannot be cleaned carries
an `error` instead of vanishing (downstream jobs join on position or id and would silently
misalign otherwise). Whole-run failures (a bad model, a full disk, Ctrl-C) leave no output file
at all rather than a truncated one that looks complete.

`clean_record` is also how the HTTP service turns a JSON request body into a `Result`, so the
two front ends validate and report records identically.
"""

from __future__ import annotations

import gzip
import json
import os
import signal
import sys
import tempfile
from collections import Counter, deque
from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Protocol

from cleaner.errors import CleanerError, ModelError
from cleaner.result import Result

# Fields every output record gets, after the input's own fields.
OUTPUT_FIELDS: tuple[str, ...] = ("clean_text", "title", "published", "lines", "spans", "error")
DEFAULT_CHUNK_SIZE = 32
GZIP_MAGIC = b"\x1f\x8b"


class CleanerLike(Protocol):
    """What batch and service need from `cleaner.cleaning.Cleaner` (so tests can stand in)."""

    manifest: dict

    def clean(
        self, text: str | None = None, html: str | None = None, *, repair: bool = True
    ) -> Result: ...

    def clean_bytes(
        self,
        data: bytes,
        *,
        kind: str | None = None,
        charset: str | None = None,
        repair: bool = True,
    ) -> Result: ...


class RecordError(CleanerError):
    """A request or record that is not a cleanable page; `code` says which way it is wrong."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code

    def __reduce__(self) -> tuple[Any, ...]:
        # Exceptions pickle through `args`; keep the code when one crosses a process boundary.
        return (type(self), (self.code, str(self)))


@dataclass(frozen=True, slots=True)
class Fields:
    """Which record fields hold the page and the id (datasets name them differently)."""

    text: str = "text"
    html: str = "html"
    id: str = "id"


def load_cleaner(model_path: str | os.PathLike[str] | None = None) -> CleanerLike:
    """The cleaner for `model_path`, or the process-wide shared one for the shipped model.

    Imported lazily so that reading records, the CLI's --help and error paths never pay for
    loading scikit-learn.
    """
    from cleaner.cleaning import Cleaner, default_cleaner

    if model_path is None:
        return default_cleaner()
    return Cleaner.load(model_path)


def error_info(exc: BaseException) -> dict[str, str]:
    """The `{"code", "message"}` shape every front end reports errors in."""
    if isinstance(exc, CleanerError):
        return {"code": exc.code, "message": str(exc) or exc.code}
    return {"code": "internal", "message": f"{type(exc).__name__}: {exc}"}


def parse_repair(options: Any, default: bool = True) -> bool:
    """`repair` from a request's `options` object; wrong types are the caller's bug, not False."""
    if options is None:
        return default
    if not isinstance(options, Mapping):
        raise RecordError("invalid_field", "'options' must be an object")
    unknown = set(options) - {"repair"}
    if unknown:
        raise RecordError("invalid_field", f"unknown option(s): {', '.join(sorted(unknown))}")
    repair = options.get("repair", default)
    if not isinstance(repair, bool):
        raise RecordError("invalid_field", "'options.repair' must be true or false")
    return repair


def clean_record(
    cleaner: CleanerLike,
    record: Any,
    *,
    fields: Fields = Fields(),
    repair: bool = True,
) -> Result:
    """Clean the page a JSON record carries in its text field or its html field.

    Exactly one of the two must hold a string (null counts as absent): a record with both is
    ambiguous, and guessing which one the caller meant would hide a bug in their pipeline.
    """
    if not isinstance(record, Mapping):
        raise RecordError("invalid_record", "a record must be a JSON object")
    text = record.get(fields.text)
    html = record.get(fields.html)
    if text is None and html is None:
        raise RecordError(
            "missing_field",
            f"the record has neither a {fields.text!r} nor an {fields.html!r} field",
        )
    if text is not None and html is not None:
        raise RecordError(
            "invalid_record", f"the record has both {fields.text!r} and {fields.html!r}; send one"
        )
    name, value = (fields.text, text) if text is not None else (fields.html, html)
    if not isinstance(value, str):
        raise RecordError("invalid_field", f"{name!r} must be a string")
    if text is not None:
        return cleaner.clean(text=value, repair=repair)
    return cleaner.clean(html=value, repair=repair)


# --- one line in, one record out -----------------------------------------------------------


@dataclass(slots=True)
class Stats:
    """Running totals for the end-of-run summary."""

    records: int = 0
    errors: int = 0
    error_codes: Counter[str] = field(default_factory=Counter)
    labels: Counter[str] = field(default_factory=Counter)
    pages_with_spam: int = 0

    def add(self, other: Stats) -> None:
        self.records += other.records
        self.errors += other.errors
        self.error_codes.update(other.error_codes)
        self.labels.update(other.labels)
        self.pages_with_spam += other.pages_with_spam

    def summary(self) -> str:
        """One line, because it goes to stderr after a possibly long run and must stay findable."""
        parts = [f"{self.records} record{'s' * (self.records != 1)}"]
        errors = f"{self.errors} error{'s' * (self.errors != 1)}"
        if self.error_codes:
            codes = ", ".join(f"{c}={n}" for c, n in sorted(self.error_codes.items()))
            errors += f" ({codes})"
        parts.append(errors)
        labels = " ".join(f"{lab}={n}" for lab, n in sorted(self.labels.items())) or "none"
        parts.append(f"units: {labels}")
        parts.append(f"pages with spam: {self.pages_with_spam}")
        return "cleaner: " + "; ".join(parts)


def _output_record(base: dict[str, Any], result: Result | None, error: dict | None) -> dict:
    out = dict(base)
    if result is None:
        out.update(dict.fromkeys(OUTPUT_FIELDS[:-1]))
    else:
        data = result.to_dict()
        out.update(
            clean_text=data["text"],
            title=data["title"],
            published=data["published"],
            lines=data["lines"],
            spans=data["spans"],
        )
    out["error"] = error
    return out


def process_line(
    cleaner: CleanerLike, raw: bytes, *, lineno: int, fields: Fields, repair: bool, stats: Stats
) -> dict[str, Any]:
    """The output record for one input line; never raises for anything the line contains."""
    stats.records += 1
    line = raw.rstrip(b"\r\n").decode("utf-8", errors="replace")
    try:
        if not line.strip():
            raise RecordError("invalid_json", f"line {lineno} is blank")
        try:
            record = json.loads(line)
        except ValueError as exc:
            raise RecordError("invalid_json", f"line {lineno} is not valid JSON: {exc}") from None
        if not isinstance(record, dict):
            raise RecordError("invalid_record", f"line {lineno} is not a JSON object")
    except RecordError as exc:
        stats.errors += 1
        stats.error_codes[exc.code] += 1
        return _output_record({fields.id: None, "raw": line}, None, error_info(exc))

    try:
        result = clean_record(cleaner, record, fields=fields, repair=repair)
    except ModelError:
        raise  # the model is broken for every record: abort the run, don't write N errors
    except Exception as exc:  # one bad page must not end a long run
        info = error_info(exc)
        stats.errors += 1
        stats.error_codes[info["code"]] += 1
        return _output_record(record, None, info)

    spam = False
    for ln in result.lines:
        stats.labels[ln.label] += 1
        spam = spam or ln.label == "spam" or bool(ln.spans)
    stats.pages_with_spam += spam
    return _output_record(record, result, None)


def encode_record(record: dict[str, Any]) -> bytes:
    """One JSONL line; lone surrogates (legal in JSON escapes, not in UTF-8) stay escaped."""
    try:
        return (json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8")
    except UnicodeEncodeError:
        return (json.dumps(record, ensure_ascii=True) + "\n").encode("ascii")


def process_chunk(
    cleaner: CleanerLike, lines: list[tuple[int, bytes]], fields: Fields, repair: bool
) -> tuple[bytes, Stats]:
    """Encoded output for a chunk of numbered lines, plus its stats (what a worker returns)."""
    stats = Stats()
    out = b"".join(
        encode_record(
            process_line(cleaner, raw, lineno=n, fields=fields, repair=repair, stats=stats)
        )
        for n, raw in lines
    )
    return out, stats


# --- worker processes -----------------------------------------------------------------------

_worker_cleaner: CleanerLike | None = None
_worker_error: str | None = None


def _init_worker(model_path: str | None, cleaner: CleanerLike | None) -> None:
    """Load the model once per worker; a failure is remembered and reported by the first chunk,
    because an exception here would only surface as an opaque BrokenProcessPool."""
    global _worker_cleaner, _worker_error
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle, once
    try:
        _worker_cleaner = cleaner if cleaner is not None else load_cleaner(model_path)
    except Exception as exc:
        _worker_error = str(exc) or type(exc).__name__


def _work_chunk(
    lines: list[tuple[int, bytes]], fields: Fields, repair: bool
) -> tuple[bytes, Stats]:
    if _worker_cleaner is None:
        raise ModelError(_worker_error or "the worker has no model")
    return process_chunk(_worker_cleaner, lines, fields, repair)


# --- files ------------------------------------------------------------------------------------


def _chunks(lines: Iterable[bytes], size: int) -> Iterator[list[tuple[int, bytes]]]:
    chunk: list[tuple[int, bytes]] = []
    for n, raw in enumerate(lines, 1):
        chunk.append((n, raw))
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


@contextmanager
def open_input(path: str | os.PathLike[str]) -> Iterator[IO[bytes]]:
    """Binary lines of `path` ("-" = stdin), gunzipped by a `.gz` name or, on stdin, by magic.

    Binary so that lines split only on "\\n": U+2028 inside a JSON string is a legal character
    that text-mode splitting would treat as a line break.
    """
    if str(path) == "-":
        stdin = sys.stdin.buffer
        peek = getattr(stdin, "peek", None)
        if peek is not None and peek(2)[:2] == GZIP_MAGIC:
            with gzip.GzipFile(fileobj=stdin, mode="rb") as f:
                yield f
        else:
            yield stdin
        return
    p = Path(path)
    with gzip.open(p, "rb") if p.name.endswith(".gz") else open(p, "rb") as f:
        yield f


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextmanager
def atomic_output(path: str | os.PathLike[str]) -> Iterator[IO[bytes]]:
    """A binary stream that becomes `path` only if the block completes ("-" = stdout).

    The temporary file lives in the destination directory so the final `os.replace` is an
    atomic rename on the same filesystem; on any exception (KeyboardInterrupt included) it is
    removed and an existing `path` is left untouched.
    """
    if str(path) == "-":
        yield sys.stdout.buffer
        sys.stdout.buffer.flush()
        return
    dest = Path(path)
    fd, tmp_name = tempfile.mkstemp(dir=dest.parent or ".", prefix=f".{dest.name}.", suffix=".tmp")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as raw:
            if dest.name.endswith(".gz"):
                with gzip.GzipFile(filename=dest.name[:-3], mode="wb", fileobj=raw) as gz:
                    yield gz
            else:
                yield raw
            raw.flush()
            os.fsync(raw.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp's 0600 would surprise whoever reads OUT
        os.replace(tmp, dest)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _progress(enabled: bool | None) -> Any:
    """A tqdm bar on stderr, only for a person watching (never in logs or pipes)."""
    if enabled is None:
        enabled = sys.stderr.isatty()
    if not enabled:
        return None
    from tqdm import tqdm

    return tqdm(unit="rec", file=sys.stderr, dynamic_ncols=True)


def run_batch(
    src: str | os.PathLike[str],
    dst: str | os.PathLike[str],
    *,
    cleaner: CleanerLike | None = None,
    model_path: str | os.PathLike[str] | None = None,
    fields: Fields = Fields(),
    repair: bool = True,
    workers: int = 1,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    progress: bool | None = None,
) -> Stats:
    """Clean JSONL `src` into JSONL `dst` (each "-" for stdin/stdout, ".gz" for gzip).

    With `workers` > 1, chunks go to a process pool whose workers each load the model once;
    at most a few chunks per worker are in flight, so memory stays bounded on huge inputs and
    output order is input order. `cleaner` overrides `model_path` (and is shipped to workers).
    Raises `ModelError` when the model cannot be loaded, `OSError` on I/O failure.
    """
    if workers < 1:
        raise ValueError("workers must be at least 1")
    stats = Stats()
    bar = _progress(progress)
    try:
        if workers == 1:
            local = cleaner if cleaner is not None else load_cleaner(model_path)
            with open_input(src) as fin, atomic_output(dst) as fout:
                for chunk in _chunks(fin, chunk_size):
                    data, st = process_chunk(local, chunk, fields, repair)
                    fout.write(data)
                    stats.add(st)
                    if bar is not None:
                        bar.update(st.records)
            return stats

        mp = None if model_path is None else os.fspath(model_path)
        pool = ProcessPoolExecutor(workers, initializer=_init_worker, initargs=(mp, cleaner))
        pending: deque[Future[tuple[bytes, Stats]]] = deque()
        try:
            with open_input(src) as fin, atomic_output(dst) as fout:

                def drain_one() -> None:
                    data, st = pending.popleft().result()
                    fout.write(data)
                    stats.add(st)
                    if bar is not None:
                        bar.update(st.records)

                for chunk in _chunks(fin, chunk_size):
                    pending.append(pool.submit(_work_chunk, chunk, fields, repair))
                    if len(pending) >= 4 * workers:
                        drain_one()
                while pending:
                    drain_one()
        except BaseException:
            pool.shutdown(wait=False, cancel_futures=True)
            raise
        pool.shutdown()
        return stats
    finally:
        if bar is not None:
            bar.close()
