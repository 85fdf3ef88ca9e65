"""Building WARC/WET files for tests, and counting HTML responses without fastwarc.

The counter walks records by their Content-Length, independently of the reader under test, so
"one output record per HTML response" is checked against a second opinion.
"""

from __future__ import annotations

import gzip
import uuid
from pathlib import Path

from conftest import SHARED

WARC_DIR = SHARED / "data" / "warc"


def warc_record(
    url: str,
    block: bytes,
    *,
    wtype: str = "response",
    content_type: str = "application/http; msgtype=response",
    length: int | None = None,
) -> bytes:
    rid = f"<urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, wtype + url)}>"
    size = len(block) if length is None else length
    head = (
        f"WARC/1.0\r\nWARC-Type: {wtype}\r\nWARC-Record-ID: {rid}\r\n"
        f"WARC-Date: 2024-05-01T12:00:00Z\r\nWARC-Target-URI: {url}\r\n"
        f"Content-Type: {content_type}\r\nContent-Length: {size}"
        "\r\n\r\n"
    ).encode()
    return head + block + b"\r\n\r\n"


def http_response(body: bytes, content_type: str = "text/html", status: str = "200 OK") -> bytes:
    return (
        f"HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body


def write_warc(path: Path, records: list[bytes]) -> Path:
    """Uncompressed, or one gzip member per record for a .gz name (as crawlers write them)."""
    if path.name.endswith(".gz"):
        path.write_bytes(b"".join(gzip.compress(r, mtime=0) for r in records))
    else:
        path.write_bytes(b"".join(records))
    return path


def html_responses(path: Path) -> list[str]:
    """Record ids of the response records with an HTML Content-Type, in file order."""
    data = path.read_bytes()
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    ids, pos = [], 0
    while pos < len(data):
        end = data.index(b"\r\n\r\n", pos)
        headers = {}
        for line in data[pos:end].split(b"\r\n")[1:]:
            key, _, value = line.partition(b":")
            headers[key.strip().lower()] = value.strip()
        length = int(headers[b"content-length"])
        block = data[end + 4 : end + 4 + length]
        pos = end + 4 + length
        while data[pos : pos + 2] == b"\r\n":
            pos += 2
        if headers.get(b"warc-type") != b"response":
            continue
        http_head = block.split(b"\r\n\r\n", 1)[0].lower()
        for line in http_head.split(b"\r\n")[1:]:
            if line.startswith(b"content-type:"):
                media = line.split(b":", 1)[1].split(b";")[0].strip()
                if media in (b"text/html", b"application/xhtml+xml"):
                    ids.append(headers[b"warc-record-id"].decode())
                break
    return ids
