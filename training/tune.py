"""Pick the decision thresholds a model ships with, on validation pages of wcxb/dev.

Two thresholds turn probabilities into what users see, and both trade the failure users forgive
(a leftover footer line, a leftover keyword) against the one they do not (a missing paragraph,
an altered sentence):

* the content floor: a unit is kept unless P(content) is below it. It is the highest floor at
  which the kept units still hold `target_recall` of the content characters;
* the span thresholds: a candidate span is cut when its probability is above the threshold of
  its page's size. Each is the lowest at which at most `max_altered` of the clean content units
  of such pages get a cut: one for long pages, one for small pages (fewer than
  `cleaner.spans.SMALL_PAGE_TOKENS` scanned tokens), where every word looks unknown.

Run as a script, it re-tunes the span thresholds of a trained model in place (no retraining),
and with `--target-recall` the content floor too:

    python -m training.tune --model my-model.joblib --data data/wcxb-dev.jsonl.gz
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from sklearn.pipeline import Pipeline

from cleaner.features import PageBatch
from cleaner.model import load_model, save_model
from cleaner.repair import apply_spans
from cleaner.spans import SpanDetector, is_small_page, select
from cleaner.units import LABELS
from training.io import default_data_dir, read_jsonl
from training.train_spans import page_examples

# Pages the model has never seen alter several times the validation share (2-10x in
# benchmarks/bench_v1.py on wcxb/test and scrapinghub, more with the two-model candidate
# scorer of 2026-12-03, which is surer of itself): the threshold is tuned for a fifth of the
# 0.2% target.
MAX_ALTERED = 0.0004
FLOORS = np.round(np.arange(0.05, 0.61, 0.025), 3)
SPAN_THRESHOLDS = np.round(
    np.concatenate([np.arange(0.02, 0.3, 0.01), np.arange(0.3, 0.99, 0.02)]), 3
)


def content_floor_report(proba: np.ndarray, y: np.ndarray, lengths: np.ndarray,
                         floor: float) -> dict[str, float]:
    """What keeping the units with P(content) >= floor does, weighted by characters."""
    keep = proba[:, LABELS.index("content")] >= floor
    c, b = y == "content", y == "boilerplate"
    kept = float(lengths[keep].sum()) or 1.0
    return {
        "floor": float(floor),
        "content_char_recall": float(lengths[keep & c].sum() / max(1.0, lengths[c].sum())),
        "content_unit_recall": float(keep[c].mean()) if c.any() else 1.0,
        "kept_char_precision": float(lengths[keep & c].sum() / kept),
        "boilerplate_char_leak": float(lengths[keep & b].sum() / max(1.0, lengths[b].sum())),
        "spam_removed": float((~keep[y == "spam"]).mean()) if (y == "spam").any() else 1.0,
    }


def unit_lengths(batch: PageBatch) -> np.ndarray:
    """Characters of every unit of a batch, in order: the weights of `tune_content_floor`."""
    return np.array([len(u.text) for page in batch.pages for u in page], dtype=np.float64)


def tune_content_floor(proba: np.ndarray, y: np.ndarray, lengths: np.ndarray,
                       target_recall: float = 0.97) -> dict[str, float]:
    """The highest floor keeping `target_recall` of the content characters."""
    best = content_floor_report(proba, y, lengths, float(FLOORS[0]))
    for f in FLOORS:
        rep = content_floor_report(proba, y, lengths, float(f))
        if rep["content_char_recall"] >= target_recall:
            best = rep
    return best


def span_report(detector: SpanDetector, records: Sequence[dict],
                text_scorer: Callable[[list[str]], np.ndarray] | None,
                thresholds: Sequence[float] = SPAN_THRESHOLDS) -> dict[str, list[dict[str, float]]]:
    """For each threshold, on long pages and on small ones (`cleaner.spans.is_small_page`)
    apart: the share of spliced units repaired exactly to their original text, and the share
    of clean content units that get altered."""
    scored: dict[str, list] = {"long": [], "small": []}
    for rec in records:
        ex = page_examples(rec)
        if ex is None:
            continue
        texts, gold = ex
        cands, proba = detector.score(texts, text_scorer=text_scorer)
        targets = [
            apply_spans(t, [_span(t, a, b) for a, b in g]) if g else None
            for t, g in zip(texts, gold)
        ]
        scored["small" if is_small_page(cands.page_tokens) else "long"].append(
            (texts, targets, cands, proba))
    return {size: [_threshold_row(pages, float(t)) for t in thresholds]
            for size, pages in scored.items()}


def _threshold_row(pages: list, threshold: float) -> dict[str, float]:
    """What cutting the candidates of scored `pages` above `threshold` does."""
    exact = spliced = altered = clean = 0
    for texts, targets, cands, proba in pages:
        chosen = select(texts, cands, proba, threshold)
        for text, target, spans in zip(texts, targets, chosen):
            if target is None:
                clean += 1
                altered += bool(spans)
            else:
                spliced += 1
                exact += apply_spans(text, spans) == target
    return {"threshold": threshold, "exact": exact / max(1, spliced),
            "altered": altered / max(1, clean), "spliced_units": spliced,
            "clean_units": clean, "pages": len(pages)}


def tune_span_threshold(rows: list[dict[str, float]], max_altered: float = MAX_ALTERED
                        ) -> dict[str, float]:
    """The lowest threshold that alters at most `max_altered` of clean content units."""
    ok = [r for r in rows if r["altered"] <= max_altered]
    return min(ok, key=lambda r: r["threshold"]) if ok else rows[-1]


def tune_span_thresholds(detector: SpanDetector, report: dict[str, list[dict[str, float]]],
                         max_altered: float = MAX_ALTERED) -> dict[str, dict[str, float]]:
    """Set the detector's threshold for long pages and its small-page one, each the lowest
    that alters at most `max_altered` of the clean content units of such pages; returns both
    rows (the manifest's record of them)."""
    long_row = tune_span_threshold(report["long"], max_altered)
    small_row = tune_span_threshold(report["small"], max_altered)
    # Validation pages of one size only (a user's own data): no clean line of the other size
    # says anything, and its "lowest threshold that alters nothing" would be the lowest of all.
    if not _clean_units(report["long"]):
        long_row = small_row
    if not _clean_units(report["small"]):
        small_row = long_row
    detector.threshold = long_row["threshold"]
    detector.small_threshold_ = max(small_row["threshold"], long_row["threshold"])
    return {"long": long_row, "small": small_row}


def _clean_units(rows: list[dict[str, float]]) -> int:
    return int(rows[0]["clean_units"]) if rows else 0


def _span(text: str, a: int, b: int):  # noqa: ANN202
    from cleaner.result import Span

    return Span(a, b, text[a:b])


def add_validation_arguments(parser: argparse.ArgumentParser) -> None:
    """The arguments that say which validation pages to build (`validation_pages`)."""
    parser.add_argument("--data", type=Path, nargs="+", required=True, help="labelled JSONL")
    parser.add_argument("--shared", type=Path, default=None, help="shared data folder")
    parser.add_argument("--folds", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--inject-rate", type=float, default=0.8)


def validation_pages(args: argparse.Namespace) -> list[dict]:
    """The validation pages of the training data, injected as training injects them."""
    from training.train import validation_set  # training.train imports this module

    records = [r for p in args.data for r in read_jsonl(p)]
    return validation_set(records, args.folds, args.seed, args.inject_rate,
                          args.shared or default_data_dir())


def text_scorer(pipeline: Pipeline) -> Callable[[list[str]], np.ndarray]:
    """The unit text model's opinion of stretches of text, as cleaning asks it."""
    model, features = pipeline.named_steps["model"], pipeline.named_steps["features"]
    return lambda texts: model.text_proba_of(texts, features)


def main(argv: list[str] | None = None) -> int:
    """Re-tune the span threshold of a saved model on the validation pages of its training
    data and write the model back with its manifest."""
    from training.train import to_xy  # training.train imports this module

    parser = argparse.ArgumentParser(prog="python -m training.tune",
                                     description=main.__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, required=True)
    add_validation_arguments(parser)
    parser.add_argument("--max-altered", type=float, default=MAX_ALTERED)
    parser.add_argument("--target-recall", type=float, default=None,
                        help="also re-tune the content floor to keep this share of the "
                             "content characters")
    args = parser.parse_args(argv)
    pipeline, manifest = load_model(args.model)
    model = pipeline.named_steps["model"]
    valid = validation_pages(args)
    metrics = manifest.setdefault("metrics", {}).setdefault("validation", {})
    if args.target_recall is not None:
        batch, y = to_xy(valid)
        floor = tune_content_floor(pipeline.predict_proba(batch), y, unit_lengths(batch),
                                   args.target_recall)
        model.content_floor_ = floor["floor"]
        metrics["content_floor"] = floor
        print(json.dumps(floor), file=sys.stderr)
    report = span_report(model.spans_, valid, text_scorer(pipeline))
    chosen = tune_span_thresholds(model.spans_, report, args.max_altered)
    print(json.dumps(chosen), file=sys.stderr)
    metrics["spans"] = chosen
    keep = {k: v for k, v in manifest.items()
            if k not in ("sklearn_version", "file", "sha256", "size_bytes")}
    keep["tuned_at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    save_model(pipeline, args.model, keep)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
