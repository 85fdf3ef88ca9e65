"""Committed parts: how a batch survives a crash or Ctrl-C and how `--resume` continues it.

A run writing OUT keeps its work in the folder `OUT.partial/` beside it: numbered part files
of `part_size` records each, and `progress.json`, rewritten atomically after every part, which
lists the committed parts, the number of input records they cover, the running summary, and a
fingerprint of the run (inputs with their size and mtime, formats, fields, repair, model
digest, part size). A part counts only once it is in `progress.json`; anything else in the
folder is debris of the part being written when the run died, and is deleted.

`--resume` with a matching fingerprint skips the committed records in the input (input is
re-read, not re-cleaned: reading is cheap, cleaning is not) and carries on from the next part,
so no record is cleaned into the output twice and none is skipped. When the last part is
committed the parts are joined into OUT in one atomic rename and the folder is removed: OUT
either does not exist or is complete. A different fingerprint refuses to resume, because
splicing the output of two different runs would be silently wrong.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import IO, Any

from cleaner.errors import CleanerError
from cleaner.writers import atomic_file, make_writer

PROGRESS_FILE = "progress.json"
PROGRESS_VERSION = 1


class ResumeError(CleanerError):
    """`--resume` cannot continue: the partial output belongs to another run, or is damaged."""

    code = "resume"


def partial_dir(dest: str | os.PathLike[str]) -> Path:
    dest = Path(dest)
    return dest.with_name(dest.name + ".partial")


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


class PartStore:
    """The parts of one output file: commit them one by one, then assemble OUT."""

    def __init__(
        self,
        dest: str | os.PathLike[str],
        *,
        fingerprint: dict[str, Any],
        fmt: str,
        gz: bool,
        hint: dict[str, str] | None = None,
        resume: bool = False,
    ) -> None:
        self.dest = Path(dest)
        self.dir = partial_dir(dest)
        self.fingerprint, self.fmt, self.gz, self.hint = fingerprint, fmt, gz, hint
        self.parts: list[dict[str, Any]] = []
        self.records = 0
        self.stats: dict[str, Any] | None = None
        self.resumed = False
        self.discarded = False
        self._schema: Any = None
        if self.dir.exists():
            if resume:
                self._load()
            else:
                shutil.rmtree(self.dir)  # an earlier run's leftovers; this run starts over
                self.discarded = True
        self.dir.mkdir(exist_ok=True)

    # -- resuming ------------------------------------------------------------------------------

    def _load(self) -> None:
        path = self.dir / PROGRESS_FILE
        try:
            progress = json.loads(path.read_text("utf-8"))
        except FileNotFoundError:
            progress = None  # died before its first commit: nothing to keep
        except (OSError, ValueError) as exc:
            raise ResumeError(
                f"{path}: unreadable ({exc}); delete {self.dir} to start over"
            ) from None
        if progress is None:
            for p in self.dir.iterdir():
                p.unlink()
            return
        if progress.get("version") != PROGRESS_VERSION or progress.get("fingerprint") != (
            self.fingerprint
        ):
            raise ResumeError(
                f"{self.dir} was written by a different run (inputs, options or model differ); "
                "run without --resume to start over"
            )
        parts = progress["parts"]
        for part in parts:
            p = self.dir / part["file"]
            if not p.is_file() or p.stat().st_size != part["bytes"]:
                raise ResumeError(f"{p} is missing or damaged; delete {self.dir} to start over")
        keep = {part["file"] for part in parts} | {PROGRESS_FILE}
        for p in self.dir.iterdir():
            if p.name not in keep:
                p.unlink()  # the part being written when the run died
        self.parts, self.records, self.stats = parts, progress["records"], progress["stats"]
        self.resumed = bool(parts)

    def schema(self) -> Any:
        """Parquet: the schema fixed by the first part, so later parts match it."""
        if self._schema is None and self.fmt == "parquet" and self.parts:
            import pyarrow.parquet as pq

            self._schema = pq.read_schema(self.dir / self.parts[0]["file"])
        return self._schema

    # -- writing -------------------------------------------------------------------------------

    def _suffix(self) -> str:
        return ".parquet" if self.fmt == "parquet" else (".jsonl.gz" if self.gz else ".jsonl")

    def commit(self, payloads: list[Any], records: int, stats: dict[str, Any]) -> None:
        """Write one part and record it; the part exists for `--resume` only after this."""
        name = f"part-{len(self.parts):06d}{self._suffix()}"
        path = self.dir / name
        with atomic_file(path) as f:
            writer = make_writer(
                f,
                self.fmt,
                gz=self.gz,
                schema=self.schema(),
                hint=self.hint,
                first_record=self.records,
            )
            for payload in payloads:
                writer.write(payload)
            writer.close()
        if self._schema is None and self.fmt == "parquet":
            self._schema = writer.schema  # type: ignore[union-attr]
        self.parts.append({"file": name, "records": records, "bytes": path.stat().st_size})
        self.records += records
        self.stats = stats
        progress = {
            "version": PROGRESS_VERSION,
            "fingerprint": self.fingerprint,
            "records": self.records,
            "parts": self.parts,
            "stats": stats,
        }
        with atomic_file(self.dir / PROGRESS_FILE) as f:
            f.write(json.dumps(progress, indent=1).encode("utf-8"))
        _fsync_dir(self.dir)

    def assemble(self) -> None:
        """Join the parts into OUT atomically, then drop the folder."""
        with atomic_file(self.dest) as out:
            if self.fmt == "parquet":
                self._join_parquet(out)
            elif self.parts:
                for part in self.parts:
                    with open(self.dir / part["file"], "rb") as f:
                        shutil.copyfileobj(f, out, 1 << 20)
            elif self.gz:
                empty = make_writer(out, "jsonl", gz=True)
                empty.write(b"")  # a valid, empty gzip file rather than zero bytes
                empty.close()
        shutil.rmtree(self.dir)

    def _join_parquet(self, out: IO[bytes]) -> None:
        import pyarrow.parquet as pq

        if not self.parts:
            make_writer(out, "parquet", hint=self.hint).close()  # empty, with the columns
            return
        pw = pq.ParquetWriter(out, self.schema(), compression="zstd")
        for part in self.parts:
            table = pq.read_table(self.dir / part["file"])
            pw.write_table(table, row_group_size=max(1, table.num_rows))
        pw.close()

    def abandon(self) -> None:
        """After a failure: keep committed parts for `--resume`, or leave no trace at all."""
        if not self.parts:
            shutil.rmtree(self.dir, ignore_errors=True)
