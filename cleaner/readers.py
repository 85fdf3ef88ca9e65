"""Where batch pages come from: sources (files, folders, globs, stdin) and formats (JSONL, WARC,
WET), turned into one stream of `Item`s, each of which becomes exactly one output record.

Reading stays in the parent process and does as little as possible (split lines, walk WARC
records): parsing JSON and cleaning happen in the workers, so the reader is never what keeps
the cores waiting.

The rule for WARC is one output record per HTML `response` record (WET: per `conversion`
record). Other record types (request, metadata, warcinfo, revisit) are not pages; responses
whose Content-Type is not HTML are skipped but counted (`ReadStats.skipped_non_html`) so the
summary shows them. Damage never disappears silently: a truncated record, an HTTP message that
cannot be parsed, or a broken gzip stream becomes an `Item` carrying an error (which becomes an
error record), and a file that cannot be read past a point ends in one such item before the
next file is read.
"""

from __future__ import annotations

import glob
import gzip
import io
import os
import shutil
import sys
import tempfile
import zlib
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from cleaner.errors import CleanerError

FORMATS: tuple[str, ...] = ("jsonl", "warc", "wet")
GZIP_MAGIC = b"\x1f\x8b"
# Names a folder is searched for (a folder of crawl output also holds logs, indexes, ...).
_SUFFIXES: dict[str, tuple[str, ...]] = {
    "wet": (".wet", ".wet.gz"),
    "warc": (".warc", ".warc.gz", ".arc.gz"),
    "jsonl": (".jsonl", ".jsonl.gz", ".ndjson", ".ndjson.gz", ".json.gz"),
}
HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
# Fields a WARC page carries into its output record, in this order.
WARC_FIELDS: tuple[str, ...] = ("url", "warc_record_id", "date", "http_status")


class InputError(CleanerError):
    """An input argument that names nothing readable (missing file, empty glob, bad format)."""

    code = "input"


@dataclass(slots=True)
class Item:
    """One input record on its way to a worker: what is needed to build its output record.

    A JSONL line travels as `raw` bytes (parsed in the worker, so a bad line is reported there
    like any other bad record); a WARC page as `fields` plus `body`, `kind` and `charset`; an
    input the reader could not even delimit as `fields` plus `error`.
    """

    fields: dict[str, Any] | None = None
    raw: bytes | None = None
    lineno: int = 0
    body: bytes | None = None
    kind: str | None = None
    charset: str | None = None
    error: dict[str, str] | None = None


@dataclass(slots=True)
class ReadStats:
    """What the readers saw beyond the items they produced, for the end-of-run summary."""

    files: int = 0
    skipped_non_html: int = 0
    bytes_total: int | None = 0  # None when an input (stdin) has no known size
    _bytes_before: int = 0
    _current: IO[bytes] | None = None

    @property
    def bytes_done(self) -> int:
        """Stored bytes read so far (a gzip file counts by its compressed position)."""
        pos = 0
        if self._current is not None and not self._current.closed:
            try:
                pos = self._current.tell()
            except (OSError, ValueError):
                pos = 0
        return self._bytes_before + pos


# --- sources ----------------------------------------------------------------------------------


def _has_magic(spec: str) -> bool:
    return any(c in spec for c in "*?[")


def _known_suffix(name: str) -> bool:
    name = name.lower()
    return any(name.endswith(s) for group in _SUFFIXES.values() for s in group)


def expand_inputs(specs: Iterable[str]) -> list[str]:
    """Files to read, in order: each spec is a file, a folder (searched recursively for known
    extensions, sorted), a glob (sorted), or "-" for stdin.

    Sorted so that two runs over the same folder produce the same output order, which both
    `--resume` and anyone diffing outputs depend on. Raises `InputError` for a spec that names
    nothing, rather than quietly producing a smaller output.
    """
    out: list[str] = []
    for spec in specs:
        if spec == "-":
            out.append(spec)
        elif Path(spec).is_dir():
            found = sorted(
                str(p) for p in Path(spec).rglob("*") if p.is_file() and _known_suffix(p.name)
            )
            if not found:
                raise InputError(f"{spec}: folder holds no JSONL, WARC or WET files")
            out.extend(found)
        elif _has_magic(spec) and not Path(spec).exists():
            found = sorted(p for p in glob.glob(spec, recursive=True) if Path(p).is_file())
            if not found:
                raise InputError(f"{spec}: no file matches")
            out.extend(found)
        elif Path(spec).is_file():
            out.append(spec)
        else:
            raise InputError(f"{spec}: no such file")
    if out.count("-") > 1:
        raise InputError("stdin ('-') can be read only once")
    return out


def sniff_format(name: str, head: bytes) -> str:
    """`jsonl`, `warc` or `wet` from the file name, else from the first (decompressed) bytes."""
    low = name.lower()
    for fmt in ("wet", "warc", "jsonl"):
        if any(low.endswith(s) for s in _SUFFIXES[fmt]):
            return fmt
    if low.endswith((".jsonl", ".json")) or ".jsonl." in low:
        return "jsonl"
    if head.startswith(GZIP_MAGIC):
        try:
            head = zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(head, 256)
        except zlib.error:
            head = b""
    if head.startswith(b"WARC/"):
        return "warc"
    stripped = head.lstrip()
    if stripped.startswith((b"{", b"[")) or not stripped:
        return "jsonl"
    raise InputError(f"{name}: cannot tell its format; pass --input-format ({', '.join(FORMATS)})")


@contextmanager
def _open_raw(path: str, stats: ReadStats) -> Iterator[tuple[IO[bytes], bytes]]:
    """The stored bytes of `path` ("-" = stdin) and its first bytes, for sniffing."""
    if path == "-":
        yield _stdin()
        return
    with open(path, "rb", buffering=1 << 20) as f:
        head = f.peek(HEAD_BYTES)[:HEAD_BYTES]
        stats._current = f
        try:
            yield f, head
        finally:
            stats._current = None
            stats._bytes_before += os.fstat(f.fileno()).st_size


def read_items(paths: list[str], formats: list[str], stats: ReadStats) -> Iterator[Item]:
    """Every input record of `paths` in order, as `Item`s, each file read as its format."""
    if "-" in paths:
        stats.bytes_total = None
    else:
        stats.bytes_total = sum(os.path.getsize(p) for p in paths)
    for path, fmt in zip(paths, formats):
        stats.files += 1
        with _open_raw(path, stats) as (raw, head):
            where = "<stdin>" if path == "-" else path
            if fmt == "jsonl":
                yield from read_jsonl(raw, where, gzipped=head.startswith(GZIP_MAGIC))
            elif path == "-":
                # fastwarc seeks in its input, and a pipe cannot seek: spool it to disk first.
                with tempfile.TemporaryFile() as spool:
                    shutil.copyfileobj(raw, spool, 1 << 20)
                    spool.seek(0)
                    yield from read_warc(spool, where, wet=fmt == "wet", stats=stats)
            else:
                yield from read_warc(raw, where, wet=fmt == "wet", stats=stats)


# Enough decompressed bytes to recognise a format through gzip (a deflate stream may give
# nothing for its first few dozen bytes).
HEAD_BYTES = 4096


class _Prefixed(io.RawIOBase):
    """`head` followed by the rest of `rest`: stdin after its first bytes were read to sniff it
    (a pipe cannot be rewound, and peek() returns as little as one read happened to get)."""

    def __init__(self, head: bytes, rest: IO[bytes]) -> None:
        self.head, self.rest = memoryview(head), rest

    def readable(self) -> bool:
        return True

    def readinto(self, buf: Any) -> int:
        if self.head:
            n = min(len(buf), len(self.head))
            buf[:n] = self.head[:n]
            self.head = self.head[n:]
            return n
        data = self.rest.read(len(buf))
        buf[: len(data)] = data
        return len(data)


_STDIN: dict[int, tuple[IO[bytes], bytes]] = {}


def _stdin() -> tuple[IO[bytes], bytes]:
    """stdin as a stream whose first bytes are known; made once per stdin object."""
    raw = sys.stdin.buffer
    if id(raw) not in _STDIN:
        head = raw.read(HEAD_BYTES)  # a buffered read waits for HEAD_BYTES or end of input
        _STDIN.clear()
        _STDIN[id(raw)] = (io.BufferedReader(_Prefixed(head, raw), 1 << 20), head)
    return _STDIN[id(raw)]


def _head(path: str) -> bytes:
    if path == "-":
        return _stdin()[1]
    with open(path, "rb") as f:
        return f.read(HEAD_BYTES)


# --- JSONL --------------------------------------------------------------------------------------


def read_jsonl(stream: IO[bytes], where: str, *, gzipped: bool) -> Iterator[Item]:
    """One item per line (blank lines included: they are records the user will want to see
    reported). A gzip stream that breaks off ends in one `corrupt_input` item."""
    source: IO[bytes] = gzip.GzipFile(fileobj=stream, mode="rb") if gzipped else stream  # type: ignore[assignment]
    lineno = 0
    lines = iter(source)
    while True:
        try:
            raw = next(lines)
        except StopIteration:
            return
        except (EOFError, OSError, zlib.error) as exc:
            yield Item(
                fields={"raw": None},
                lineno=lineno + 1,
                error={
                    "code": "corrupt_input",
                    "message": f"{where}: unreadable after line {lineno}: {exc}",
                },
            )
            return
        lineno += 1
        yield Item(raw=raw, lineno=lineno)


# --- WARC / WET ---------------------------------------------------------------------------------


def _warc_fields(rec: Any) -> dict[str, Any]:
    headers = rec.headers
    url = headers.get("WARC-Target-URI")
    return {
        "url": url.strip("<>") if url else None,  # WARC 1.0 writers sometimes keep the <>
        "warc_record_id": rec.record_id,
        "date": headers.get("WARC-Date"),
        "http_status": None,
    }


def _media_type(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


def read_warc(
    stream: IO[bytes], where: str, *, wet: bool = False, stats: ReadStats | None = None
) -> Iterator[Item]:
    """HTML pages of a WARC file (response records), or text pages of a WET file (conversion
    records), gzip or not.

    Each record's block is read whole and checked against its Content-Length before its HTTP
    message is parsed, because fastwarc ends iteration quietly at a truncated record: the check
    is what turns a cut-off download into a counted error instead of a missing page.
    """
    from fastwarc.warc import ArchiveIterator, WarcRecordType

    wanted = WarcRecordType.conversion if wet else WarcRecordType.response
    records = iter(ArchiveIterator(stream, record_types=wanted, parse_http=False))
    n = 0
    while True:
        try:
            rec = next(records)
        except StopIteration:
            return
        except Exception as exc:  # fastwarc raises OSError for broken headers and gzip data
            yield Item(
                fields=dict.fromkeys(WARC_FIELDS),
                error={
                    "code": "corrupt_input",
                    "message": f"{where}: unreadable after record {n}: {exc}",
                },
            )
            return
        n += 1
        fields = _warc_fields(rec)
        try:
            block = rec.reader.read()
        except Exception as exc:
            yield Item(fields=fields, error=_corrupt(where, n, f"cannot read the record: {exc}"))
            return
        if len(block) < rec.content_length:
            msg = f"truncated: {len(block)} of {rec.content_length} bytes"
            yield Item(fields=fields, error=_corrupt(where, n, msg))
            continue
        if wet:
            yield Item(fields=fields, body=block, kind="text", charset="utf-8")
            continue
        try:
            rec.set_bytes_content(block)
            rec.parse_http(auto_decode="all")
            status = rec.http_headers.status_code
            content_type = rec.http_content_type
            charset = rec.http_charset
            body = rec.reader.read()
        except Exception as exc:
            yield Item(fields=fields, error=_corrupt(where, n, f"bad HTTP message: {exc}"))
            continue
        if status is None:  # fastwarc parses anything; no status line means no HTTP message
            yield Item(fields=fields, error=_corrupt(where, n, "bad HTTP message: no status line"))
            continue
        if _media_type(content_type) not in HTML_TYPES:
            if stats is not None:
                stats.skipped_non_html += 1
            continue
        fields["http_status"] = status
        yield Item(fields=fields, body=body, kind="html", charset=charset)


def _corrupt(where: str, n: int, message: str) -> dict[str, str]:
    return {"code": "corrupt_record", "message": f"{where}: record {n}: {message}"}


@dataclass(slots=True)
class Inputs:
    """The resolved inputs of a run and what identifies them (for `--resume`)."""

    paths: list[str]
    formats: list[str]
    identity: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def resolve(cls, specs: Iterable[str], input_format: str | None = None) -> Inputs:
        if input_format is not None and input_format not in FORMATS:
            raise InputError(f"unknown input format {input_format!r} (one of {FORMATS})")
        paths = expand_inputs(specs)
        formats = [
            input_format or sniff_format("<stdin>" if p == "-" else p, _head(p)) for p in paths
        ]
        identity = []
        for p in paths:
            if p == "-":
                identity.append({"path": "-"})
            else:
                st = os.stat(p)
                identity.append(
                    {"path": os.path.abspath(p), "size": st.st_size, "mtime_ns": st.st_mtime_ns}
                )
        return cls(paths, formats, identity)
