"""Measure how well the alignment labels (training/align.py) reproduce WCXB's gold text.

Why: the classifier can never do better than its training labels, and those labels are not
human per-block judgements but the output of a token/trigram alignment rule. This script puts
numbers on that ceiling, over a whole built dataset:

* label counts (per record kind);
* "oracle" word precision / recall / F1: the units labelled `content`, taken as if a perfect
  model had predicted exactly the labels, scored against the gold `main_content` as lowercased
  `\\w+` multisets, macro-averaged over pages (the same kind of word-overlap score used to
  evaluate extractors, so this is the best a model trained on these labels can hope for);
* `with[]` snippets (text a reviewer said must survive) found in the concatenated content units,
  and `without[]` snippets (boilerplate) that leak into them, after NFKC + case + whitespace
  normalisation; also how many of each occur anywhere on the segmented page, which separates
  the rule's misses from the segmenter's, and a token-sequence variant that ignores
  punctuation and respects word boundaries;
* two counts of suspect labels found by reading a hand-checked sample (docs/alignment.md):
  table-of-contents entries labelled `content`, and 1-3 token units labelled `boilerplate`
  between two content units although their words are in the gold (table cells). They are
  heuristics, upper bounds rather than error counts.

    python -m training.check_alignment --data data/wcxb-dev.jsonl.gz
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import unicodedata
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from training.io import default_data_dir, read_jsonl

_WORD = re.compile(r"\w+")
_NUMBERING = re.compile(r"^\s*\d+(?:\.\d+)*\.?\s+")
_HEADINGS = frozenset(("h1", "h2", "h3", "h4", "h5", "h6"))
_SPACE = re.compile(r"\s+")


def words(text: str) -> Counter[str]:
    """Lowercased `\\w+` token multiset (NFKC first, as the aligner does)."""
    return Counter(_WORD.findall(unicodedata.normalize("NFKC", text).lower()))


def norm(text: str) -> str:
    """NFKC, lowercase, whitespace collapsed to single spaces: the form snippets are matched in."""
    return _SPACE.sub(" ", unicodedata.normalize("NFKC", text).lower()).strip()


def token_string(text: str) -> str:
    """Space-padded `\\w+` token sequence: containment that ignores punctuation and respects
    word boundaries (so "Home" does not match inside "homework")."""
    return " " + " ".join(_WORD.findall(unicodedata.normalize("NFKC", text).lower())) + " "


def prf(pred: Counter[str], gold: Counter[str]) -> tuple[float, float, float]:
    """Bag-of-words precision, recall and F1 (empty prediction scores 0 precision)."""
    overlap = sum((pred & gold).values())
    p = overlap / sum(pred.values()) if pred else 0.0
    r = overlap / sum(gold.values()) if gold else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return p, r, f


@dataclass
class Tally:
    """Running sums over the pages of one record kind."""

    pages: int = 0
    labels: Counter[str] = field(default_factory=Counter)
    p: float = 0.0
    r: float = 0.0
    f: float = 0.0
    no_content_pages: int = 0
    with_total: int = 0
    with_in_content: int = 0
    with_on_page: int = 0
    with_in_content_tok: int = 0
    without_total: int = 0
    without_in_content: int = 0
    without_on_page: int = 0
    without_in_content_tok: int = 0
    toc_like_content: int = 0
    toc_like_pages: int = 0
    short_gap_boilerplate: int = 0
    short_gap_pages: int = 0

    def as_dict(self) -> dict:
        n = max(self.pages, 1)
        total = sum(self.labels.values()) or 1
        return {
            "pages": self.pages,
            "labels": dict(self.labels),
            "content_unit_share": round(self.labels["content"] / total, 4),
            "pages_without_content_units": self.no_content_pages,
            "oracle_word_precision": round(self.p / n, 4),
            "oracle_word_recall": round(self.r / n, 4),
            "oracle_word_f1": round(self.f / n, 4),
            "with_snippets": self.with_total,
            "with_kept_in_content": _share(self.with_in_content, self.with_total),
            "with_present_on_page": _share(self.with_on_page, self.with_total),
            "with_kept_in_content_tokens": _share(self.with_in_content_tok, self.with_total),
            "without_snippets": self.without_total,
            "without_leaked_into_content": _share(self.without_in_content, self.without_total),
            "without_present_on_page": _share(self.without_on_page, self.without_total),
            "without_leaked_into_content_tokens": _share(
                self.without_in_content_tok, self.without_total
            ),
            "suspect_toc_like_content_units": self.toc_like_content,
            "suspect_toc_like_pages": self.toc_like_pages,
            "suspect_short_gap_boilerplate_units": self.short_gap_boilerplate,
            "suspect_short_gap_pages": self.short_gap_pages,
        }


def _share(k: int, n: int) -> float:
    return round(k / n, 4) if n else 0.0


def toc_like(units: list[dict], labels: list[str]) -> int:
    """Content units that are not headings but repeat (numbering aside) a heading further down
    the page: table-of-contents entries the trigram/line rules mistake for the heading."""
    later: dict[str, int] = {}
    for k, u in enumerate(units):
        if u.get("tag") in _HEADINGS:
            later[token_string(_NUMBERING.sub("", u["text"]))] = k
    n = 0
    for k, (u, lab) in enumerate(zip(units, labels, strict=True)):
        key = token_string(_NUMBERING.sub("", u["text"]))
        if lab == "content" and u.get("tag") not in _HEADINGS and key.strip():
            n += later.get(key, -1) > k
    return n


def short_gaps(units: list[dict], labels: list[str], gold_toks: str) -> int:
    """Boilerplate units of 1-3 tokens between two content units whose tokens occur in the gold:
    mostly table cells and inline fragments that rule 4 rejects for being under half a line."""
    n = 0
    for k in range(1, len(units) - 1):
        if labels[k] != "boilerplate" or labels[k - 1] != "content" or labels[k + 1] != "content":
            continue
        toks = token_string(units[k]["text"])
        n += 0 < len(toks.split()) < 4 and toks in gold_toks
    return n


def load_gold(gold_dir: Path, source: str) -> dict | None:
    """The `ground_truth` object of a record's page (`wcxb/dev/0001` -> `<gold_dir>/0001.json`)."""
    path = gold_dir / f"{source.rsplit('/', 1)[-1]}.json"
    if not path.exists():
        return None
    return json.loads(path.read_text("utf-8"))["ground_truth"]


def check(records: Iterable[dict], gold_dir: Path) -> dict[str, Tally]:
    """Per record kind, the tallies described in the module docstring."""
    tallies: dict[str, Tally] = {}
    for rec in records:
        gt = load_gold(gold_dir, rec["source"])
        if gt is None or not gt.get("main_content"):
            continue
        t = tallies.setdefault(rec["kind"], Tally())
        t.pages += 1
        t.labels.update(rec["labels"])
        texts = [u["text"] for u in rec["units"]]
        content = [x for x, lab in zip(texts, rec["labels"], strict=True) if lab == "content"]
        if not content:
            t.no_content_pages += 1
        p, r, f = prf(words(" ".join(content)), words(gt["main_content"]))
        t.p, t.r, t.f = t.p + p, t.r + r, t.f + f
        content_text = norm(" ".join(content))
        page_text = norm(" ".join(texts))
        content_toks = token_string(" ".join(content))
        toc = toc_like(rec["units"], rec["labels"])
        gaps = short_gaps(rec["units"], rec["labels"], token_string(gt["main_content"]))
        t.toc_like_content += toc
        t.toc_like_pages += toc > 0
        t.short_gap_boilerplate += gaps
        t.short_gap_pages += gaps > 0
        for snip in gt.get("with") or []:
            s = norm(snip)
            if not s:
                continue
            t.with_total += 1
            t.with_in_content += s in content_text
            t.with_on_page += s in page_text
            t.with_in_content_tok += token_string(snip) in content_toks
        for snip in gt.get("without") or []:
            s = norm(snip)
            if not s:
                continue
            t.without_total += 1
            t.without_in_content += s in content_text
            t.without_on_page += s in page_text
            t.without_in_content_tok += token_string(snip) in content_toks
    return tallies


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, required=True, help="labelled JSONL(.gz) file")
    parser.add_argument(
        "--gold", type=Path, default=None,
        help="WCXB ground-truth folder (default: ../shared/data/wcxb/dev/ground-truth)",
    )
    args = parser.parse_args(argv)
    gold = args.gold
    if gold is None:
        data = default_data_dir()
        if data is None:
            print("check_alignment: error: no gold folder (pass --gold)", file=sys.stderr)
            return 2
        gold = data / "wcxb" / "dev"
    if (gold / "ground-truth").is_dir():
        gold = gold / "ground-truth"
    tallies = check(read_jsonl(args.data), gold)
    print(json.dumps({k: v.as_dict() for k, v in sorted(tallies.items())}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
