"""Tuning the span thresholds: long pages and small pages each get the lowest threshold that
keeps their clean lines unaltered, and the detector uses the one of the page's size."""

from __future__ import annotations

import copy

import pytest
from test_spans import ARTICLE as SPANS_ARTICLE

from cleaner.model import DEFAULT_MODEL, load_model
from cleaner.spans import SMALL_PAGE_TOKENS, SpanDetector
from training.tune import span_report, tune_span_thresholds

SPLICED = "Kowlzq77 jackpot spinsoon Harbour ferries resume service after the storm"
ARTICLE = SPANS_ARTICLE[1:4]  # three paragraphs of the harbour story


@pytest.fixture(scope="module")
def pipeline():  # noqa: ANN201
    return load_model(DEFAULT_MODEL)[0]


@pytest.fixture()
def detector(pipeline) -> SpanDetector:  # noqa: ANN001
    """A copy of the shipped detector, free to re-tune."""
    return copy.deepcopy(pipeline.named_steps["model"].spans_)


@pytest.fixture()
def score_text(pipeline):  # noqa: ANN001, ANN201
    """The shipped text model's opinion of stretches of text, as cleaning asks it."""
    model, features = pipeline.named_steps["model"], pipeline.named_steps["features"]
    return lambda texts: model.text_proba_of(texts, features)


def test_small_pages_have_their_own_threshold_never_below_the_long_one(
        detector: SpanDetector) -> None:
    detector.threshold, detector.small_threshold_ = 0.3, 0.7
    assert detector.threshold_for(SMALL_PAGE_TOKENS - 1) == 0.7
    assert detector.threshold_for(SMALL_PAGE_TOKENS) == 0.3
    detector.small_threshold_ = 0.1
    assert detector.threshold_for(10) == 0.3
    del detector.small_threshold_  # a model tuned before small pages had their own
    assert detector.threshold_for(10) == 0.3


def test_find_uses_the_threshold_of_the_page_size(detector: SpanDetector,
                                                  score_text) -> None:  # noqa: ANN001
    texts = [SPLICED, *ARTICLE]  # a small page: a headline and three paragraphs
    detector.small_threshold_ = None
    found = detector.find(texts, text_scorer=score_text)
    assert [s.text for s in found[0]] == ["zq77 jackpot spins"]
    detector.small_threshold_ = 1.01  # nothing is sure enough on a small page
    assert detector.find(texts, text_scorer=score_text) == [[], [], [], []]
    # The same splice on a long page is cut at the long pages' threshold.
    long_page = texts + [f"{p} (part {k})" for k in range(8) for p in ARTICLE]
    found = detector.find(long_page, text_scorer=score_text)
    assert [s.text for s in found[0]] == ["zq77 jackpot spins"]


def _record(texts: list[str], spliced_at: int | None) -> dict:
    spans = [[] for _ in texts]
    if spliced_at is not None:
        spans[spliced_at] = [{"start": 4, "end": 22}]  # "zq77 jackpot spins"
    return {"id": "p", "kind": "text", "units": [{"text": t} for t in texts],
            "labels": ["content"] * len(texts), "spans": spans}


def test_span_report_scores_small_and_long_pages_apart(detector: SpanDetector,
                                                      score_text) -> None:  # noqa: ANN001
    small = _record([SPLICED, *ARTICLE], 0)
    long_page = _record([SPLICED, *ARTICLE, *(f"{p} ({k})" for k in range(8) for p in ARTICLE)],
                        0)
    report = span_report(detector, [small, long_page], score_text, thresholds=[0.5, 1.01])
    assert [r["pages"] for r in report["small"]] == [1, 1]
    assert [r["pages"] for r in report["long"]] == [1, 1]
    assert report["small"][0]["spliced_units"] == 1 and report["small"][0]["clean_units"] == 3
    assert report["small"][0]["exact"] == 1.0  # cut at 0.5, repaired to the headline
    assert report["small"][1]["exact"] == 0.0  # no probability is above 1.01


def test_tuning_picks_the_lowest_safe_threshold_for_each_size(detector: SpanDetector) -> None:
    def rows(altered: list[float]) -> list[dict]:
        return [{"threshold": t, "exact": 0.5, "altered": a, "spliced_units": 10,
                 "clean_units": 1000, "pages": 5} for t, a in zip((0.1, 0.2, 0.4, 0.8), altered)]

    chosen = tune_span_thresholds(detector, {"long": rows([0.01, 0.0005, 0.0, 0.0]),
                                             "small": rows([0.05, 0.01, 0.002, 0.0])}, 0.0006)
    assert detector.threshold == 0.2 and detector.small_threshold_ == 0.8
    assert chosen["long"]["threshold"] == 0.2 and chosen["small"]["threshold"] == 0.8
    # A small-page threshold below the long one is raised to it.
    tune_span_thresholds(detector, {"long": rows([0.01, 0.01, 0.01, 0.0]),
                                    "small": rows([0.0, 0.0, 0.0, 0.0])}, 0.0006)
    assert detector.threshold == 0.8 and detector.small_threshold_ == 0.8


def test_validation_pages_of_one_size_set_both_thresholds(detector: SpanDetector) -> None:
    def rows(altered: list[float], clean: int) -> list[dict]:
        return [{"threshold": t, "exact": 0.5, "altered": a, "spliced_units": 10,
                 "clean_units": clean, "pages": 5} for t, a in zip((0.1, 0.4, 0.8), altered)]

    # Only small pages: their threshold serves long pages too, not the lowest of all.
    tune_span_thresholds(detector, {"long": rows([0.0, 0.0, 0.0], 0),
                                    "small": rows([0.01, 0.0, 0.0], 500)}, 0.0006)
    assert detector.threshold == 0.4 and detector.small_threshold_ == 0.4
    tune_span_thresholds(detector, {"long": rows([0.01, 0.01, 0.0], 500),
                                    "small": rows([0.0, 0.0, 0.0], 0)}, 0.0006)
    assert detector.threshold == 0.8 and detector.small_threshold_ == 0.8


def test_span_losses_name_the_stage_each_splice_is_lost_at(detector: SpanDetector,
                                                           score_text) -> None:  # noqa: ANN001
    from training.span_losses import render, span_losses

    page = [SPLICED, *ARTICLE]
    found = _record(page, 0)
    found["spans"][0][0]["kind"] = "splice_in_word"
    # Real words of the article marked as a splice: nothing odd about them starts a
    # candidate, so the loss is candidate generation's.
    missed = _record(page, None)
    start = page[1].index("stopped on Monday")
    missed["spans"][1] = [{"start": start, "end": start + len("stopped on Monday"),
                           "kind": "splice_between_words"}]
    detector.small_threshold_ = None
    counts = span_losses(detector, [found, missed], score_text)
    assert counts["small", "splice_in_word", "cut"] == 1
    assert counts["small", "splice_between_words", "no_candidate"] == 1
    assert sum(counts.values()) == 2
    table = render(counts)
    assert "| small | splice_in_word | 1 | 100.0% | 0.0% | 0.0% | 0.0% |" in table
