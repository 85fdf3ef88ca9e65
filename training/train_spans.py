"""Train the span detector (`cleaner.spans.SpanDetector`) on injected pages.

Its examples come from the offsets the injection generator records: a token is positive when
it lies inside an injected span, a candidate span when its offsets are exactly an injected
span's (spaces trimmed). Only the content units of a page are scanned, as at cleaning time.

Token scores that train the candidate scorer are out-of-fold, with folds that are the
vocabulary-disjoint injection folds of `training.train`: the candidate scorer must learn how far
to trust a token score on spam whose words it has never seen, because that is every real case.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Collection, Sequence

import numpy as np
import scipy.sparse as sp
from sklearn.base import clone

from cleaner.spans import (
    TOKEN_FEATURES,
    Scan,
    SpanDetector,
    candidates,
    span_features,
    token_features,
)

TextScorer = Callable[[list[str]], np.ndarray]
# The text model's opinion for a page of a given fold: trained without that fold, so spam
# spans of the page are as new to it as real spam is at cleaning time.
FoldScorer = Callable[[int], TextScorer | None]
NEGATIVE_TOKEN_SHARE = 0.15  # tokens of span-free units kept for the token model


def page_examples(record: dict) -> tuple[list[str], list[list[tuple[int, int]]]] | None:
    """The content units of a record and the (trimmed) spans inside each."""
    texts, spans = content_spans(record)
    return (texts, [[(a, b) for a, b, _ in unit] for unit in spans]) if texts else None


def content_spans(record: dict) -> tuple[list[str], list[list[tuple[int, int, str]]]]:
    """The content units of a record and, per unit, its spliced spans: trimmed offsets and
    the injection kind (`?` where the record does not say)."""
    texts, spans = [], []
    per_unit = record.get("spans") or [[] for _ in record["units"]]
    for u, label, unit_spans in zip(record["units"], record["labels"], per_unit):
        if label != "content":
            continue
        t = u["text"]
        texts.append(t)
        spans.append([(*_trim(t, s["start"], s["end"]), str(s.get("kind", "?")))
                      for s in unit_spans or []])
    return texts, spans


def _trim(text: str, a: int, b: int) -> tuple[int, int]:
    while a < b and text[a].isspace():
        a += 1
    while b > a and text[b - 1].isspace():
        b -= 1
    return a, b


def token_labels(scan: Scan, gold: Sequence[Sequence[tuple[int, int]]]) -> np.ndarray:
    """1 for tokens with at least half their characters inside a gold span."""
    w = scan.words
    y = np.zeros(len(w), dtype=np.int64)
    base = scan.text.start
    for u, spans in enumerate(gold):
        for a, b in spans:
            lo, hi = base[u] + a, base[u] + b
            inside = (w.unit == u) & (np.minimum(w.last, hi) - np.maximum(w.first, lo)
                                      >= 0.5 * (w.last - w.first))
            y[inside] = 1
    return y


def spam_share(texts: Sequence[str], gold: Sequence[Sequence[tuple[int, int]]],
               unit: np.ndarray, start: np.ndarray, end: np.ndarray) -> np.ndarray:
    """Per candidate (`unit`, `start`, `end`), the share of its non-space characters that lie
    inside a gold span: 1 for the exact span and for any piece of it, 0 for a stretch of real
    text, in between for a cut that takes both."""
    out = np.zeros(len(unit))
    masks: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    for i, (u, a, b) in enumerate(zip(unit.tolist(), start.tolist(), end.tolist())):
        if not gold[u]:
            continue
        if u not in masks:
            text = texts[u]
            spam = np.zeros(len(text), dtype=np.int64)
            for s, e in gold[u]:
                spam[s:e] = 1
            solid = np.array([not c.isspace() for c in text], dtype=np.int64)
            masks[u] = (np.concatenate([[0], np.cumsum(spam * solid)]),
                        np.concatenate([[0], np.cumsum(solid)]))
        in_spam, chars = masks[u]
        out[i] = (in_spam[b] - in_spam[a]) / max(chars[b] - chars[a], 1)
    return out


def fit_span_detector(
    records: Sequence[dict],
    folds: Sequence[int],
    fold_scorer: FoldScorer,
    seed: int = 0,
    log: Callable[[str], None] = lambda s: print(s, file=sys.stderr),
    lexicon: Collection[str] = frozenset(),
    bigrams: np.ndarray | None = None,
) -> SpanDetector:
    """Fit both stages of the detector on `records` (injected, labelled pages). `lexicon`:
    common words of real pages (`cleaner.spans.build_lexicon`) that split words may rejoin
    into, and `bigrams` their common word pairs (`cleaner.spans.build_bigrams`); both ship
    inside the detector."""
    rng = np.random.default_rng(seed)
    pages = []
    for rec, fold in zip(records, folds):
        ex = page_examples(rec)
        if ex is None:
            continue
        texts, gold = ex
        scan = Scan.of(texts, lexicon=lexicon, bigrams=bigrams)
        dense, sparse = token_features(scan)
        y = token_labels(scan, gold)
        pages.append((fold, texts, gold, scan, dense, sparse, y))
    log(f"spans: {len(pages)} pages, {sum(len(p[6]) for p in pages)} tokens, "
        f"{sum(int(p[6].sum()) for p in pages)} in spans")

    def token_set(which: Sequence[int]) -> tuple[np.ndarray, sp.csr_matrix, np.ndarray,
                                                 np.ndarray, np.ndarray]:
        """Sampled tokens of the given pages: every token of a unit with a span, a share of
        the others. Units are renumbered so neighbours never cross pages."""
        ds, ss, us, ys, gs = [], [], [], [], []
        offset = 0
        for k in which:
            fold, texts, gold, scan, dense, sparse, y = pages[k]
            has_span = np.zeros(len(texts), dtype=bool)
            has_span[[u for u, g in enumerate(gold) if g]] = True
            unit = scan.words.unit
            keep = has_span[unit] | (rng.random(len(y)) < NEGATIVE_TOKEN_SHARE)
            ds.append(dense[keep])
            ss.append(sparse[keep])
            us.append(unit[keep] + offset)
            ys.append(y[keep])
            gs.append(np.full(int(keep.sum()), fold))
            offset += len(texts)
        return (np.vstack(ds), sp.vstack(ss, format="csr"), np.concatenate(us),
                np.concatenate(ys), np.concatenate(gs))

    base = SpanDetector(random_state=seed)
    fold_ids = sorted({p[0] for p in pages})
    oof_scores: dict[int, np.ndarray] = {}
    for f in fold_ids:
        train = [k for k, p in enumerate(pages) if p[0] != f]
        model = clone(base).fit_tokens(*token_set(train))
        for k, p in enumerate(pages):
            if p[0] == f:
                oof_scores[k] = model.token_scores(p[4], p[5], p[3].words.unit)
    detector = clone(base).fit_tokens(*token_set(range(len(pages))))

    feats, labels, shares = [], [], []
    for k, (fold, texts, gold, scan, dense, _sparse, _y) in enumerate(pages):
        score = oof_scores[k]
        cands = candidates(scan, score, detector.token_threshold)
        if not len(cands):
            continue
        feats.append(span_features(scan, cands, score, fold_scorer(fold),
                                   dense[:, : len(TOKEN_FEATURES)]))
        gold_set = {(u, a, b) for u, g in enumerate(gold) for a, b in g}
        labels.append(np.array([
            (int(u), int(a), int(b)) in gold_set
            for u, a, b in zip(cands.unit, cands.start, cands.end)
        ], dtype=np.int64))
        shares.append(spam_share(texts, gold, cands.unit, cands.start, cands.end))
        # Gold spans no candidate reached stay unlearnable; they are counted as recall loss.
    X = np.vstack(feats)
    y = np.concatenate(labels)
    share = np.concatenate(shares)
    n_gold = sum(len(g) for p in pages for g in p[2])
    log(f"spans: {len(y)} candidates, {int(y.sum())} exact of {n_gold} gold spans reachable, "
        f"{int((share > 0).sum())} touching one")
    detector.fit(X, y, spam_share=share)
    detector.lexicon_ = frozenset(lexicon)
    detector.bigrams_ = np.zeros(0, dtype=np.uint64) if bigrams is None else bigrams
    return detector
