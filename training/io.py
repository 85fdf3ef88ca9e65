"""Reading and writing labelled-page JSONL files (plain or gzip), atomically."""

from __future__ import annotations

import gzip
import json
import os
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def default_data_dir() -> Path | None:
    """`../shared/data` beside the repository, when it is there: the data is never copied in."""
    path = REPO.parent / "shared" / "data"
    return path if path.is_dir() else None


def _open(path: Path, mode: str):
    return gzip.open(path, mode + "t", encoding="utf-8") if path.suffix == ".gz" else open(
        path, mode, encoding="utf-8"
    )


def read_jsonl(path: Path) -> Iterator[dict]:
    """Records of a JSONL(.gz) file; blank lines are skipped."""
    with _open(Path(path), "r") as f:
        for line in f:
            if line.strip():
                yield json.loads(line)


def write_jsonl(path: Path, records: Iterable[dict]) -> int:
    """Write records to `path` through a temporary file, so a crash never leaves half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=path.suffix)
    os.close(fd)
    n = 0
    try:
        with _open(Path(tmp), "w") as f:
            for rec in records:
                f.write(json.dumps(rec, ensure_ascii=False) + "\n")
                n += 1
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return n
