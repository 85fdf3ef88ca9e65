"""The batch runner: pages from `cleaner.readers`, cleaned on every core, records to
`cleaner.writers`, one output record per input record, in input order.

A batch over a crawl is long and its input is dirty, so a bad record must cost one record, not
the run: every input record (JSONL line, HTML response of a WARC) yields exactly one output
record, and one that cannot be cleaned carries an `error` instead of vanishing (downstream
jobs join on position or id and would silently misalign otherwise). Whole-run failures (a bad
model, a full disk, Ctrl-C, a kill) leave no output file at all rather than a truncated one that
looks complete; what was done so far stays in committed parts that `--resume` continues from
(`cleaner.parts`).

`clean_record` is also how the HTTP service turns a JSON request body into a `Result`, so the
two front ends validate and report records identically.
"""

from __future__ import annotations

import itertools
import json
import multiprocessing
import multiprocessing.context
import os
import signal
import sys
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from cleaner.errors import CleanerError, CodedError, ModelError
from cleaner.parts import PartStore, ResumeError
from cleaner.readers import WARC_FIELDS, InputError, Inputs, Item, ReadStats, read_items
from cleaner.result import Result
from cleaner.writers import (
    RESULT_FIELDS,
    OutputError,
    encode_record,
    flat_row,
    is_gzip_name,
    make_writer,
    output_format,
    stdout_stream,
)

# Fields every output record gets, after the input's own fields.
OUTPUT_FIELDS: tuple[str, ...] = RESULT_FIELDS
# Pages per task sent to a worker: small enough that two workers share a short input evenly
# (a real page costs tens to hundreds of milliseconds), large enough to amortise the hand-off.
DEFAULT_CHUNK_SIZE = 8
# Records per committed part (what a crash can cost, and the resume granularity).
DEFAULT_PART_SIZE = 1024


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


class RecordError(CodedError):
    """A request or record that is not a cleanable page; `code` says which way it is wrong."""


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


# --- one record in, one record out ----------------------------------------------------------


@dataclass(slots=True)
class Stats:
    """Running totals for the end-of-run summary (`records` = output records = pages)."""

    records: int = 0
    errors: int = 0
    error_codes: Counter[str] = field(default_factory=Counter)
    labels: Counter[str] = field(default_factory=Counter)
    pages_with_spam: int = 0
    skipped_non_html: int = 0
    files: int = 0

    def add(self, other: Stats) -> None:
        self.records += other.records
        self.errors += other.errors
        self.error_codes.update(other.error_codes)
        self.labels.update(other.labels)
        self.pages_with_spam += other.pages_with_spam
        self.skipped_non_html += other.skipped_non_html
        self.files += other.files

    def to_dict(self) -> dict[str, Any]:
        return {
            "records": self.records,
            "errors": self.errors,
            "error_codes": dict(self.error_codes),
            "labels": dict(self.labels),
            "pages_with_spam": self.pages_with_spam,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Stats:
        return cls(
            records=data["records"],
            errors=data["errors"],
            error_codes=Counter(data["error_codes"]),
            labels=Counter(data["labels"]),
            pages_with_spam=data["pages_with_spam"],
        )

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
        if self.skipped_non_html:
            parts.append(f"skipped non-HTML responses: {self.skipped_non_html}")
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
            hidden=data["hidden"],
        )
    out["error"] = error
    return out


def _failed(stats: Stats, base: dict[str, Any], info: dict[str, str]) -> dict[str, Any]:
    stats.errors += 1
    stats.error_codes[info["code"]] += 1
    return _output_record(base, None, info)


def _succeeded(stats: Stats, base: dict[str, Any], result: Result) -> dict[str, Any]:
    spam = False
    for ln in result.lines:
        stats.labels[ln.label] += 1
        spam = spam or ln.label == "spam" or bool(ln.spans)
    stats.pages_with_spam += spam
    return _output_record(base, result, None)


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
        return _failed(stats, {fields.id: None, "raw": line}, error_info(exc))

    try:
        result = clean_record(cleaner, record, fields=fields, repair=repair)
    except ModelError:
        raise  # the model is broken for every record: abort the run, don't write N errors
    except Exception as exc:  # one bad page must not end a long run
        return _failed(stats, record, error_info(exc))
    return _succeeded(stats, record, result)


def process_item(
    cleaner: CleanerLike, item: Item, *, fields: Fields, repair: bool, stats: Stats
) -> dict[str, Any]:
    """The output record for one input item (a JSONL line, a WARC page, a reader error)."""
    if item.raw is not None:
        return process_line(
            cleaner, item.raw, lineno=item.lineno, fields=fields, repair=repair, stats=stats
        )
    stats.records += 1
    base = dict(item.fields or {})
    if item.error is not None:
        return _failed(stats, base, item.error)
    try:
        result = cleaner.clean_bytes(
            item.body or b"", kind=item.kind, charset=item.charset, repair=repair
        )
    except ModelError:
        raise
    except Exception as exc:
        return _failed(stats, base, error_info(exc))
    return _succeeded(stats, base, result)


def process_chunk(
    cleaner: CleanerLike, items: list[Item], fields: Fields, repair: bool, fmt: str = "jsonl"
) -> tuple[Any, Stats]:
    """A chunk's output, encoded for the writer (JSONL bytes, or flat rows for Parquet), and
    its stats: what a worker returns, so the parent only has to write."""
    stats = Stats()
    records = (
        process_item(cleaner, item, fields=fields, repair=repair, stats=stats) for item in items
    )
    if fmt == "parquet":
        return [flat_row(r) for r in records], stats
    return b"".join(encode_record(r) for r in records), stats


# --- worker processes -----------------------------------------------------------------------

_worker_cleaner: CleanerLike | None = None
_worker_error: str | None = None


def default_workers() -> int:
    """All the cores this process may run on (a container's or taskset's limit included)."""
    count = getattr(os, "process_cpu_count", None)
    if count is not None:
        return count() or 1
    try:
        return len(os.sched_getaffinity(0)) or 1
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _one_thread() -> Any:
    """One compute thread per worker: the workers are the parallelism, and OpenMP/BLAS pools
    on top of them (the tree model predicts with OpenMP) oversubscribe the cores and spin."""
    from threadpoolctl import threadpool_limits

    return threadpool_limits(1)


def _init_worker(model_path: str | None, cleaner: CleanerLike | None) -> None:
    """Load the model once per worker; a failure is remembered and reported by the first chunk,
    because an exception here would only surface as an opaque BrokenProcessPool."""
    global _worker_cleaner, _worker_error
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle, once
    os.environ.setdefault("OMP_NUM_THREADS", "1")  # read by OpenMP when scikit-learn loads it
    try:
        _worker_cleaner = cleaner if cleaner is not None else load_cleaner(model_path)
    except Exception as exc:
        _worker_error = str(exc) or type(exc).__name__
    _one_thread()  # after the load: threadpoolctl limits only libraries already loaded


def _mp_context() -> multiprocessing.context.BaseContext:
    """Workers start from a clean process, never a fork of this one: a fork of a process whose
    OpenMP or BLAS thread pools are running (they are, once it has cleaned a page in-process)
    inherits their locks held and deadlocks at its first prediction."""
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(["cleaner._forkserver"])  # workers fork with the model loaded
    return ctx


def _work_chunk(items: list[Item], fields: Fields, repair: bool, fmt: str) -> tuple[Any, Stats]:
    if _worker_cleaner is None:
        raise ModelError(_worker_error or "the worker has no model")
    return process_chunk(_worker_cleaner, items, fields, repair, fmt)


def _chunks(items: Iterable[Item], size: int) -> Iterator[list[Item]]:
    it = iter(items)
    while chunk := list(itertools.islice(it, size)):
        yield chunk


def _clean_chunks(
    chunks: Iterable[list[Item]],
    handle: Callable[[Any, Stats], None],
    *,
    cleaner: CleanerLike | None,
    model_path: str | os.PathLike[str] | None,
    fields: Fields,
    repair: bool,
    workers: int,
    fmt: str,
) -> None:
    """Clean every chunk and pass its output to `handle` in input order.

    With `workers` > 1, chunks go to a process pool whose workers each load the model once;
    at most a few chunks per worker are in flight, so memory stays bounded on huge inputs
    however far ahead the reader could run.
    """
    if workers == 1:
        local = cleaner if cleaner is not None else load_cleaner(model_path)
        with _one_thread():
            for chunk in chunks:
                handle(*process_chunk(local, chunk, fields, repair, fmt))
        return
    mp = None if model_path is None else os.fspath(model_path)
    pool = ProcessPoolExecutor(
        workers, mp_context=_mp_context(), initializer=_init_worker, initargs=(mp, cleaner)
    )
    pending: deque[Future[tuple[Any, Stats]]] = deque()
    try:
        for chunk in chunks:
            pending.append(pool.submit(_work_chunk, chunk, fields, repair, fmt))
            if len(pending) >= 4 * workers:
                handle(*pending.popleft().result())
        while pending:
            handle(*pending.popleft().result())
    except BaseException:
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown()


# --- progress -------------------------------------------------------------------------------


class _Progress:
    """A tqdm bar on stderr in pages and pages/s, with the share of input read and an ETA
    from it (the number of pages is not known before reading them all; the bytes are)."""

    def __init__(self, enabled: bool | None, read: ReadStats, initial: int) -> None:
        if enabled is None:
            enabled = sys.stderr.isatty()
        self.bar: Any = None
        self.read = read
        if enabled:
            from tqdm import tqdm

            self.bar = tqdm(
                unit="page", file=sys.stderr, dynamic_ncols=True, initial=initial, smoothing=0.1
            )
        self.start = time.monotonic()
        self.start_bytes: int | None = None
        self.last = 0.0

    def update(self, n: int) -> None:
        if self.bar is None:
            return
        self.bar.update(n)
        now = time.monotonic()
        total, done = self.read.bytes_total, self.read.bytes_done
        if self.start_bytes is None:
            self.start_bytes, self.start = done, now
        if total and now - self.last > 0.5:
            self.last = now
            rate = (done - self.start_bytes) / max(now - self.start, 1e-9)
            eta = (total - done) / rate if rate > 0 else None
            eta_text = "?" if eta is None else time.strftime("%H:%M:%S", time.gmtime(eta))
            self.bar.set_postfix_str(f"input {min(done / total, 1):.0%}, ETA {eta_text}")

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


# --- the run ---------------------------------------------------------------------------------


def _model_digest(cleaner: CleanerLike | None, model_path: str | os.PathLike[str] | None) -> Any:
    """What identifies the model for `--resume`, without loading it in the parent: the digest
    its manifest vouches for (a missing manifest fails the load later, with its own message)."""
    if cleaner is not None:
        return cleaner.manifest.get("sha256") or cleaner.manifest.get("version")
    from cleaner.artifact import DEFAULT_MODEL, manifest_path

    path = Path(model_path) if model_path is not None else DEFAULT_MODEL
    try:
        return json.loads(manifest_path(path).read_text("utf-8")).get("sha256")
    except (OSError, ValueError):
        return os.path.abspath(path)


def _schema_hint(formats: Iterable[str], fields: Fields) -> dict[str, str]:
    """Columns whose type is known before any record: the ones readers and errors add."""
    hint: dict[str, str] = {}
    for fmt in formats:
        if fmt == "jsonl":
            # The page fields are strings whichever of them the first records happen to use;
            # malformed lines keep their text in `raw`.
            hint.update({fields.text: "string", fields.html: "string", "raw": "string"})
        else:
            hint.update(dict.fromkeys(WARC_FIELDS[:3], "string"), http_status="int64")
    return hint


class _StdoutSink:
    """Records straight to stdout (no parts on disk, so nothing to resume)."""

    def __init__(self, fmt: str, part_size: int) -> None:
        self.writer = make_writer(stdout_stream(), fmt, gz=False)
        self.part_size, self.pending = part_size, 0
        self.records = 0
        self.stats: dict[str, Any] | None = None

    def add(self, payload: Any, records: int, stats: Stats) -> None:
        self.writer.write(payload)
        self.pending += records
        if self.pending >= self.part_size:
            self.writer.end_part()
            self.pending = 0

    def finish(self) -> None:
        self.writer.close()

    def abandon(self) -> None:
        sys.stdout.buffer.flush()


class _PartSink:
    """Records into committed parts of `part_size` records, then OUT (see `cleaner.parts`)."""

    def __init__(self, store: PartStore, part_size: int) -> None:
        self.store, self.part_size = store, part_size
        self.payloads: list[Any] = []
        self.pending = 0

    @property
    def records(self) -> int:
        return self.store.records

    def add(self, payload: Any, records: int, stats: Stats) -> None:
        self.payloads.append(payload)
        self.pending += records
        if self.pending >= self.part_size:
            self.store.commit(self.payloads, self.pending, stats.to_dict())
            self.payloads, self.pending = [], 0

    def finish(self, stats: Stats) -> None:
        if self.payloads:
            self.store.commit(self.payloads, self.pending, stats.to_dict())
            self.payloads, self.pending = [], 0
        self.store.assemble()

    def abandon(self) -> None:
        self.store.abandon()


def run_batch(
    src: str | os.PathLike[str] | list[str],
    dst: str | os.PathLike[str],
    *,
    cleaner: CleanerLike | None = None,
    model_path: str | os.PathLike[str] | None = None,
    fields: Fields = Fields(),
    repair: bool = True,
    workers: int = 1,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    progress: bool | None = None,
    input_format: str | None = None,
    output_format_: str | None = None,
    resume: bool = False,
    part_size: int = DEFAULT_PART_SIZE,
    notify: Callable[[str], None] | None = None,
) -> Stats:
    """Clean every record of `src` (files, folders, globs, "-" for stdin; JSONL, WARC, WET)
    into `dst` (JSONL, JSONL.gz or Parquet by name; "-" for stdout) and return the totals.

    `cleaner` overrides `model_path` (and is shipped to the workers). `resume` continues the
    run whose committed parts are in `dst`.partial/. Raises `InputError`, `OutputError` or
    `ResumeError` for unusable arguments, `ModelError` when the model cannot be loaded,
    `OSError` on I/O failure; after a failure or KeyboardInterrupt `dst` is untouched and an
    exception note says how many records `--resume` would keep.
    """
    if workers < 1:
        raise ValueError("workers must be at least 1")
    if part_size < 1:
        raise ValueError("part_size must be at least 1")
    specs = [os.fspath(src)] if isinstance(src, (str, os.PathLike)) else list(src)
    inputs = Inputs.resolve(specs, input_format)
    dst = os.fspath(dst)
    fmt = output_format(dst, output_format_)
    chunk_size = max(1, min(chunk_size, part_size))
    part_size = -(-part_size // chunk_size) * chunk_size  # parts are whole chunks
    if dst == "-":
        if fmt == "parquet":
            raise OutputError("Parquet cannot be written to stdout; name an output file")
        if resume:
            raise OutputError("--resume needs an output file, not stdout")
    elif resume and "-" in inputs.paths:
        raise InputError("--resume cannot re-read stdin; name the input files")
    if fmt == "parquet":
        from cleaner.writers import _pyarrow

        _pyarrow()  # fail now, not after the first part has been cleaned

    hint = _schema_hint(inputs.formats, fields)
    sink: _StdoutSink | _PartSink
    stats = Stats()
    if dst == "-":
        sink = _StdoutSink(fmt, part_size)
    else:
        fingerprint = {
            "inputs": inputs.identity,
            "input_format": input_format,
            "output_format": fmt,
            "gzip": is_gzip_name(dst),
            "fields": [fields.text, fields.html, fields.id],
            "repair": repair,
            "model": _model_digest(cleaner, model_path),
            "part_size": part_size,
        }
        store = PartStore(
            dst, fingerprint=fingerprint, fmt=fmt, gz=is_gzip_name(dst), hint=hint, resume=resume
        )
        if notify is not None and store.discarded:
            notify(f"discarded the partial output of an earlier run in {store.dir}")
        if notify is not None and store.resumed:
            notify(f"resuming after {store.records} committed records")
        if store.stats:
            stats = Stats.from_dict(store.stats)
        sink = _PartSink(store, part_size)

    read = ReadStats()
    skip = sink.records
    items = read_items(inputs.paths, inputs.formats, read)
    bar = _Progress(progress, read, skip)
    try:
        if skip:
            skipped = sum(1 for _ in itertools.islice(items, skip))
            if skipped < skip:
                raise ResumeError(
                    f"the input has {skipped} records but {skip} are already committed"
                )

        def handle(payload: Any, st: Stats) -> None:
            stats.add(st)
            sink.add(payload, st.records, stats)
            bar.update(st.records)

        _clean_chunks(
            _chunks(items, chunk_size),
            handle,
            cleaner=cleaner,
            model_path=model_path,
            fields=fields,
            repair=repair,
            workers=workers,
            fmt=fmt,
        )
        if isinstance(sink, _PartSink):
            sink.finish(stats)
        else:
            sink.finish()
    except BaseException as exc:
        sink.abandon()
        if isinstance(sink, _PartSink) and sink.records and hasattr(exc, "add_note"):
            exc.add_note(
                f"{sink.records} records are committed in {sink.store.dir}; "
                "rerun with --resume to continue"
            )
        raise
    finally:
        bar.close()
    stats.skipped_non_html, stats.files = read.skipped_non_html, read.files
    return stats
