"""Build labelled pages (docs/data-format.md) from a WCXB split.

Every page yields two records: its HTML segmentation, and a text dump of the same page (the
visible blocks one per line, as a scraper that saves text would), so the model learns both
kinds of input from the same gold. Labels come from `training.align`.

    python -m training.build_dataset --split dev --out data/wcxb-dev.jsonl.gz
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import sys
from collections.abc import Iterator
from dataclasses import asdict, fields
from pathlib import Path

from cleaner.decode import decode
from cleaner.segment import segment_html
from cleaner.units import Unit
from training.align import align_labels
from training.io import default_data_dir, write_jsonl

_UNIT_DEFAULTS = {f.name: f.default for f in fields(Unit) if f.name not in ("index", "text")}


def unit_to_dict(unit: Unit) -> dict:
    """The unit's fields, leaving out those at their default to keep files small."""
    d = asdict(unit)
    return {k: v for k, v in d.items() if k in ("index", "text") or v != _UNIT_DEFAULTS[k]}


def text_dump(units: list[Unit], rng: random.Random) -> list[Unit]:
    """The page as a scraped text dump: one block per line, with one of three blank-line styles
    seen in the wild (between all blocks, none, or only around long blocks)."""
    style = rng.choice(("all", "none", "long"))
    out: list[Unit] = []
    line = 0
    prev_long = True
    for u in units:
        is_long = len(u.text) > 80
        blank = style == "all" or (style == "long" and (is_long or prev_long))
        if out and blank:
            line += 1
        out.append(Unit(index=line, text=u.text, paragraph_break=blank or not out))
        line += 1
        prev_long = is_long
    return out


def wcxb_pages(split_dir: Path) -> Iterator[tuple[str, str, dict]]:
    """(file id, html, ground truth) for every page of a WCXB split folder."""
    for gt_path in sorted((split_dir / "ground-truth").glob("*.json")):
        file_id = gt_path.stem
        html_path = split_dir / "html" / f"{file_id}.html.gz"
        if not html_path.exists():
            continue
        html = decode(gzip.decompress(html_path.read_bytes()))
        yield file_id, html, json.loads(gt_path.read_text("utf-8"))


def build_records(split_dir: Path, split: str, seed: int = 0) -> Iterator[dict]:
    """Labelled html and text records for every page of the split."""
    rng = random.Random(seed)
    meta_path = split_dir.parent / "metadata.json"
    meta = json.loads(meta_path.read_text("utf-8"))["files"] if meta_path.exists() else {}
    for file_id, html, gt in wcxb_pages(split_dir):
        gold = gt["ground_truth"].get("main_content")
        page = segment_html(html)
        if not gold or not page.units:
            continue
        labels = align_labels([u.text for u in page.units], gold)
        page_type = meta.get(file_id, {}).get("page_type", "")
        common = {"source": f"wcxb/{split}/{file_id}", "page_type": page_type}
        yield {
            "id": f"wcxb-{split}-{file_id}-html",
            "kind": "html",
            **common,
            "title": page.html_title,
            "units": [unit_to_dict(u) for u in page.units],
            "labels": labels,
        }
        dump = text_dump(page.units, rng)
        yield {
            "id": f"wcxb-{split}-{file_id}-text",
            "kind": "text",
            **common,
            "units": [unit_to_dict(u) for u in dump],
            "labels": labels,
        }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=None, help="shared data folder")
    parser.add_argument("--split", default="dev", choices=("dev", "test"))
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    data = args.data or default_data_dir()
    if data is None:
        print("build_dataset: error: no data folder (pass --data)", file=sys.stderr)
        return 2
    n = write_jsonl(args.out, build_records(data / "wcxb" / args.split, args.split, args.seed))
    print(f"wrote {n} records to {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
