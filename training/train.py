"""Train the unit classifier on labelled pages and write the model with its manifest.

    python -m training.build_dataset --split dev --out data/wcxb-dev.jsonl.gz
    python -m training.train --data data/wcxb-dev.jsonl.gz --out cleaner/models/default.joblib

Users retrain on their own pages the same way: any JSONL in docs/data-format.md works, with or
without spam labels; `--inject` (on by default) adds synthetic spam from `training.inject`.

Injected spam is drawn per fold from a disjoint slice of the vocabulary families, and the
folds are what the stacked classifier uses for its out-of-fold text opinions: so the context
stage learns how much to trust vocabulary on spam whose vocabulary it has never seen, which is
the situation of every real spam campaign after training.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import random
import sys
import time
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from cleaner import __version__
from cleaner.features import PageBatch
from cleaner.model import DEFAULT_MODEL, build_pipeline, save_model
from cleaner.spans import build_bigrams, build_lexicon
from cleaner.units import Unit
from training.augment import cipher_records
from training.evaluate import unit_report
from training.io import default_data_dir, read_jsonl
from training.train_spans import fit_span_detector
from training.tune import (
    MAX_ALTERED,
    span_report,
    tune_content_floor,
    tune_span_thresholds,
    unit_lengths,
)

VALID_BUCKETS = 5  # one page source in five is held out for validation
CROP_SHARE = 0.3  # pages that also give a small page of themselves (`crop_records`)
VALIDATION_CROPS = 3  # small pages made of every validation page (`validation_set`)
CIPHER_SHARE = 0.25  # pages that also give a copy in another alphabet (`training.augment`)
DECOY_RATE = 0.35  # pages that get a benign separated line (training.inject decoy_byline)
SPLICED_WEIGHT = 1.0  # real lines with spam spliced in (weight relative to their class)
# Injected copies of each training page the span detector learns from (the unit model sees
# one): a page gives its candidate scorer only a few spliced spans, and more draws of where
# and what spam is spliced teach it more than more of the same page's clean lines.
SPAN_COPIES = 2


def record_units(record: dict) -> list[Unit]:
    """The record's units as `Unit`s (unknown keys are ignored so user files may carry extras)."""
    names = {f.name for f in dataclasses.fields(Unit)}
    return [Unit(**{k: v for k, v in u.items() if k in names}) for u in record["units"]]


def is_validation(record: dict) -> bool:
    """Whole pages (both their html and text records) go to one side, by a stable hash."""
    key = str(record.get("source") or record["id"])
    return zlib.crc32(key.encode("utf-8")) % VALID_BUCKETS == 0


def split_vocabulary(vocab: Any, k: int) -> list[Any]:
    """`k` vocabularies over disjoint parts of `vocab`, by a stable hash of each entry's topic
    (or language, or family)."""
    from training.inject import _Pool

    def part(pool: _Pool, i: int) -> _Pool:
        # Whole topics and languages go to one slice: spam in a fold is then of a topic or a
        # language the other folds never show, which is what real spam will be.
        entries = tuple(e for e in pool.entries
                        if zlib.crc32((e.topic or e.lang or e.family).encode()) % k == i)
        return _Pool(entries) if entries else pool

    def names(items: tuple[str, ...], i: int) -> tuple[str, ...]:
        kept = tuple(x for x in items if zlib.crc32(x.encode()) % k == i)
        return kept or items

    return [
        dataclasses.replace(
            vocab,
            brands=part(vocab.brands, i),
            keywords=part(vocab.keywords, i),
            promos=part(vocab.promos, i),
            headlines=part(vocab.headlines, i),
            domains=part(vocab.domains, i),
            adult_terms=part(vocab.adult_terms, i),
            brand_patterns=names(vocab.brand_patterns, i),
            scripts=names(vocab.scripts, i),
        )
        for i in range(k)
    ]


def inject_folds(
    records: list[dict], n_folds: int, seed: int, rate: float, data_dir: Path | None
) -> tuple[list[dict], list[int]]:
    """Inject spam into records, fold by fold, each fold with its own vocabulary slice.

    The training vocabulary is cut into `n_folds + 1` disjoint slices: one per fold, and the
    last for validation pages (`inject_validation`), so validation spam is as unseen as real
    spam will be, without touching the families held out for the benchmark."""
    from training.inject import inject_records, load_vocabulary

    vocabs = split_vocabulary(load_vocabulary(data_dir, holdout="train"), n_folds + 1)
    by_fold: list[list[dict]] = [[] for _ in range(n_folds)]
    for r in records:
        key = str(r.get("source") or r["id"])
        by_fold[zlib.crc32(key.encode("utf-8")) % n_folds].append(r)
    out: list[dict] = []
    folds: list[int] = []
    for i, recs in enumerate(by_fold):
        for r in inject_records(recs, seed=seed + i, vocab=vocabs[i], rate=rate,
                                decoy_rate=DECOY_RATE):
            out.append(r)
            folds.append(i)
    return out, folds


def span_copies(records: list[dict], n_folds: int, seed: int, rate: float,
                data_dir: Path | None, copies: int = SPAN_COPIES) -> tuple[list[dict], list[int]]:
    """The injected pages the span detector learns from besides the unit model's own
    (`inject_folds(records, ..., seed)`): `copies - 1` more injections of every record, each
    with other draws, ids suffixed `-spans<k>`. A page's fold follows its source, so every
    copy is in the fold (and the vocabulary slice) of the page."""
    pages: list[dict] = []
    folds: list[int] = []
    for k in range(1, copies):
        extra, extra_folds = inject_folds(records, n_folds, seed + 1000 * k, rate, data_dir)
        pages += [{**r, "id": f"{r['id']}-spans{k}"} for r in extra]
        folds += extra_folds
    return pages, folds


def crop_records(records: list[dict], share: float, seed: int, tag: str = "crop"
                 ) -> list[dict]:
    """Small pages made from real ones: a few units of the page's start (its masthead, menu),
    a short run of its article, and a few units of its end (its footer).

    Users send small pages too (an excerpt, a short post), where "fits the rest of the page"
    means little; WCXB pages have hundreds of units, so without such pages a lone paragraph
    between a menu and a footer looks like nothing else on its page, i.e. like spam. The start
    and end are kept so that being before the article or after it still means what it means
    on a real page.
    """
    rng = random.Random(seed)
    out = []
    for r in records:
        n = len(r["units"])
        content_at = [i for i, lab in enumerate(r["labels"]) if lab == "content"]
        if n < 6 or not content_at or rng.random() >= share:
            continue
        head = list(range(min(rng.randint(0, 4), content_at[0])))
        tail = [i for i in range(max(n - rng.randint(0, 4), content_at[-1] + 1), n)]
        start = rng.choice(content_at)
        run = list(range(start, min(start + rng.randint(1, 8), content_at[-1] + 1)))
        keep = sorted(set(head + run + tail))
        crop = {k: v for k, v in r.items() if k not in ("units", "labels", "spans", "injections")}
        crop["id"] = f"{r['id']}-{tag}"
        crop["units"] = [dict(r["units"][i]) for i in keep]
        crop["labels"] = [r["labels"][i] for i in keep]
        if r.get("spans"):
            crop["spans"] = [r["spans"][i] for i in keep]
        if crop["kind"] == "html":
            for k, u in enumerate(crop["units"]):
                u["index"] = k
        out.append(crop)
    return out


def inject_validation(
    records: list[dict], n_folds: int, seed: int, rate: float, data_dir: Path | None
) -> list[dict]:
    """Validation pages injected with the vocabulary slice no training fold uses."""
    from training.inject import inject_records, load_vocabulary

    vocab = split_vocabulary(load_vocabulary(data_dir, holdout="train"), n_folds + 1)[n_folds]
    return list(inject_records(records, seed=seed, vocab=vocab, rate=rate, decoy_rate=DECOY_RATE))


def validation_set(records: list[dict], n_folds: int, seed: int, rate: float,
                   data_dir: Path | None, inject: bool = True) -> list[dict]:
    """The validation pages of `records` (one page source in five), with small crops of them
    and ciphered copies (thresholds tuned on long English pages alone would cut into small
    pages and pages in any other script), and spam from the vocabulary slice no training fold
    uses. The same for training and re-tuning."""
    valid = [r for r in records if is_validation(r)]
    # Small pages too, for the small-page span threshold: a threshold tuned on pages of
    # hundreds of lines cuts into the five-line page, where nearly every word is used nowhere
    # else. Several crops of each page, so that a few thousand clean lines decide it.
    whole = list(valid)
    for k in range(VALIDATION_CROPS):
        valid += crop_records(whole, 1.0, seed + 2 + k, tag=f"crop{k}")
    valid += cipher_records(valid, CIPHER_SHARE, seed + 1)
    return inject_validation(valid, n_folds, seed + 100, rate, data_dir) if inject else valid


def to_xy(records: list[dict]) -> tuple[PageBatch, np.ndarray]:
    batch = PageBatch([record_units(r) for r in records])
    y = np.array([label for r in records for label in r["labels"]])
    return batch, y


def data_hash(paths: list[Path]) -> str:
    digest = hashlib.sha256()
    for p in paths:
        digest.update(Path(p).read_bytes())
    return digest.hexdigest()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m training.train", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--data", type=Path, nargs="+", required=True, help="labelled JSONL")
    parser.add_argument("--out", type=Path, default=DEFAULT_MODEL)
    parser.add_argument("--shared", type=Path, default=None, help="shared data folder")
    parser.add_argument("--no-inject", dest="inject", action="store_false")
    parser.add_argument("--inject-rate", type=float, default=0.8)
    parser.add_argument("--folds", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--span-copies", type=int, default=SPAN_COPIES,
                        help="injected copies of each training page for the span detector")
    parser.add_argument("--max-iter", type=int, default=120)
    parser.add_argument("--learning-rate", type=float, default=0.15)
    parser.add_argument("--target-recall", type=float, default=0.97,
                        help="content characters the tuned content floor must keep")
    parser.add_argument("--max-altered", type=float, default=MAX_ALTERED,
                        help="share of clean content lines the span threshold may alter")
    parser.add_argument("--limit", type=int, default=0, help="use only the first N records")
    parser.add_argument("--no-validation", dest="validate", action="store_false",
                        help="train on every record (no held-out metrics in the manifest)")
    args = parser.parse_args(argv)

    t0 = time.time()
    records = [r for p in args.data for r in read_jsonl(p)]
    if args.limit:
        records = records[: args.limit]
    train = [r for r in records if not (args.validate and is_validation(r))]
    # Common words of the real training pages (before any copy or injection), which a split
    # word may rejoin into when its page does not use it elsewhere, and their common pairs.
    content = [[u["text"] for u, label in zip(r["units"], r["labels"]) if label == "content"]
               for r in train]
    lexicon, bigrams = build_lexicon(content), build_bigrams(content)
    del content
    train += crop_records(train, CROP_SHARE, args.seed)
    train += cipher_records(train, CIPHER_SHARE, args.seed)
    shared = args.shared or default_data_dir()
    groups = None
    folds: list[int] = []
    span_pages: list[dict] = []
    span_folds: list[int] = []
    if args.inject:
        span_pages, span_folds = span_copies(train, args.folds, args.seed, args.inject_rate,
                                             shared, args.span_copies)
        train, folds = inject_folds(train, args.folds, args.seed, args.inject_rate, shared)
        fold_of_unit = np.repeat(folds, [len(r["units"]) for r in train])
        groups = fold_of_unit
    valid = []
    if args.validate:
        valid = validation_set(records, args.folds, args.seed, args.inject_rate, shared,
                               inject=args.inject)
    print(f"{len(train)} training pages, {len(valid)} validation pages "
          f"({time.time() - t0:.0f}s)", file=sys.stderr)

    pipeline = build_pipeline(
        n_folds=args.folds, max_iter=args.max_iter, learning_rate=args.learning_rate,
        random_state=args.seed,
        class_weight={"content": 1.0, "spam": 1.5},
    )
    X, y = to_xy(train)
    spliced = np.array(
        [bool(sp) for r in train for sp in (r.get("spans") or [[]] * len(r["units"]))]
    )
    weights = np.where(spliced, SPLICED_WEIGHT, 1.0)
    pipeline.fit(X, y, model__groups=groups, model__sample_weight=weights)
    print(f"fitted on {len(y)} units ({time.time() - t0:.0f}s)", file=sys.stderr)
    model, features = pipeline.named_steps["model"], pipeline.named_steps["features"]
    folds_of_page = folds if args.inject else [0] * len(train)
    def fold_scorer(fold: int) -> Any:
        if fold not in getattr(model, "fold_text_models_", {}):
            return lambda texts: model.text_proba_of(texts, features)
        return lambda texts: model.text_proba_of(texts, features, fold=fold)

    detector = fit_span_detector(train + span_pages, folds_of_page + span_folds, fold_scorer,
                                 args.seed, lexicon=lexicon, bigrams=bigrams)
    model.fit_spans(detector)
    model.drop_training_state()
    print(f"fitted the span detector ({time.time() - t0:.0f}s)", file=sys.stderr)

    metrics: dict[str, Any] = {}
    if valid:
        Xv, yv = to_xy(valid)
        proba = pipeline.predict_proba(Xv)
        floor = tune_content_floor(proba, yv, unit_lengths(Xv), args.target_recall)
        model.content_floor_ = floor["floor"]
        report = span_report(detector, valid,
                             lambda texts: model.text_proba_of(texts, features))
        chosen = tune_span_thresholds(detector, report, args.max_altered)
        metrics = {
            "units_argmax": unit_report(yv, pipeline.predict(Xv)),
            "content_floor": floor,
            "spans": chosen,
        }
        print(f"validation: {json.dumps(metrics)}", file=sys.stderr)
    manifest = save_model(
        pipeline,
        args.out,
        {
            "name": "cleaner-default",
            "version": __version__,
            "trained_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "training_data": [str(p) for p in args.data],
            "training_data_sha256": data_hash(args.data),
            "training_units": int(len(y)),
            "injection": {"enabled": args.inject, "rate": args.inject_rate, "seed": args.seed,
                          "vocabulary": "train", "span_copies": args.span_copies},
            "labels": ["content", "boilerplate", "spam"],
            "metrics": {"validation": metrics},
        },
    )
    print(f"wrote {args.out} ({manifest['size_bytes'] / 1e6:.1f} MB, "
          f"{time.time() - t0:.0f}s)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
