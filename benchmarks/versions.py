"""Two versions of cleaner in one process, page by page: the time a change saves, measured so
that the noise of a shared machine hits both sides alike. Run on demand; prints CPU seconds
per pass of each version, with and without span detection, and their ratios.

    .venv/bin/python benchmarks/versions.py --old 0bd56db [--split test] [--pages 300]

`--old` is a git revision of this repository: its `cleaner/` package (code and shipped model)
is extracted to a temporary folder under the name `cleaner_old`, its model unpickled into its
own classes, and every page is cleaned by the old and the working-tree version in turn, with
and without the span stage, for `--repeat` passes. Whole-benchmark runs minutes apart on these
machines differ by 15 % or more (the peer in `bench_v1.py` moves as much); interleaving pages
brings the spread of a ratio down to a few per cent. Input: the text of the blocks of WCXB
pages of `--split`, one per line.
"""

from __future__ import annotations

import argparse
import io
import os
import re
import subprocess
import sys
import tarfile
import tempfile
import time
from itertools import islice
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import joblib.numpy_pickle as numpy_pickle  # noqa: E402

from cleaner.cleaning import Cleaner  # noqa: E402
from cleaner.segment import segment_html  # noqa: E402
from training.build_dataset import wcxb_pages  # noqa: E402
from training.io import default_data_dir  # noqa: E402

OLD = "cleaner_old"


def extract_old(rev: str, into: Path) -> Path:
    """`cleaner/` at `rev`, renamed to `cleaner_old` (imports rewritten) under `into`."""
    tar = subprocess.run(["git", "-C", str(REPO), "archive", rev, "cleaner"], check=True,
                         capture_output=True).stdout
    with tarfile.open(fileobj=io.BytesIO(tar)) as archive:
        archive.extractall(into, filter="data")
    (into / "cleaner").rename(into / OLD)
    pattern = re.compile(r"\b(from|import) cleaner\b")
    for path in (into / OLD).rglob("*.py"):
        path.write_text(pattern.sub(rf"\1 {OLD}", path.read_text("utf-8")), "utf-8")
    return into / OLD


def load_old(package: Path) -> Cleaner:
    """The old version's shipped model, its pickled classes mapped to the old package."""
    sys.path.insert(0, str(package.parent))
    from cleaner_old.cleaning import Cleaner as OldCleaner  # noqa: PLC0415

    find_class = numpy_pickle.NumpyUnpickler.find_class

    def remap(self, module: str, name: str):  # noqa: ANN001, ANN202
        if module == "cleaner" or module.startswith("cleaner."):
            module = OLD + module[len("cleaner"):]
        return find_class(self, module, name)

    numpy_pickle.NumpyUnpickler.find_class = remap
    try:
        old = OldCleaner.load(package / "models" / "default.joblib")
    finally:
        numpy_pickle.NumpyUnpickler.find_class = find_class
    assert type(old._model).__module__.startswith(OLD)
    return old


def without_spans(cleaner: Cleaner) -> Cleaner:
    out = type(cleaner)(cleaner.pipeline, cleaner.manifest)
    out._spans = None
    return out


def pages(split: str, limit: int) -> list[str]:
    """The text of the blocks of the first `limit` WCXB pages of `split`, one per line."""
    out = []
    for _, html, _ in islice(wcxb_pages(default_data_dir() / "wcxb" / split), limit):
        text = "\n".join(u.text for u in segment_html(html).units)
        if text.strip():
            out.append(text)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--old", required=True, help="git revision to compare against")
    ap.add_argument("--split", default="test", choices=["dev", "test"])
    ap.add_argument("--pages", type=int, default=300)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        old = load_old(extract_old(args.old, Path(tmp)))
        new = Cleaner.load()
        versions = {"old": old, "old_no_spans": without_spans(old),
                    "new": new, "new_no_spans": without_spans(new)}
        texts = pages(args.split, args.pages)
        same = sum(old.clean(text=t).text == new.clean(text=t).text for t in texts)
        cpu = dict.fromkeys(versions, 0.0)
        for _ in range(args.repeat):
            for text in texts:
                for name, cleaner in versions.items():
                    t0 = time.process_time()
                    cleaner.clean(text=text)
                    cpu[name] += time.process_time() - t0
    per_pass = {k: v / args.repeat for k, v in cpu.items()}
    span_old = per_pass["old"] - per_pass["old_no_spans"]
    span_new = per_pass["new"] - per_pass["new_no_spans"]
    print(f"{len(texts)} WCXB {args.split} pages as text, {args.repeat} passes, interleaved; "
          f"identical text out: {same}/{len(texts)}")
    for name, value in per_pass.items():
        print(f"  {name:13s} {value:7.3f} CPU s per pass")
    print(f"span stage    old {span_old:.3f} s  new {span_new:.3f} s  new/old "
          f"{span_new / span_old:.2f}")
    print(f"span share    old {per_pass['old'] / per_pass['old_no_spans'] - 1:+.0%}  new "
          f"{per_pass['new'] / per_pass['new_no_spans'] - 1:+.0%}")
    print(f"whole page    new/old {per_pass['new'] / per_pass['old']:.2f}; without spans "
          f"new/old {per_pass['new_no_spans'] / per_pass['old_no_spans']:.2f}")


if __name__ == "__main__":
    main()
