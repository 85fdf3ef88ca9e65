"""Repair mechanics: spans are cut out and the seams mended so the line reads as the original;
candidate spans reach the splices the detector must be able to choose."""

from __future__ import annotations

import numpy as np

from cleaner.repair import apply_spans
from cleaner.result import Span
from cleaner.spans import KIND_JOIN, TOKEN_FEATURES, Scan, candidates, sentences, token_features

ARTICLE = [
    "Kowloon Harbour ferries resume service after the storm",
    "The Kowloon ferries stopped on Monday when the storm reached the harbour.",
    "Operators said the Kowloon routes would run a reduced timetable until Friday.",
    "Passengers crowded the Kowloon piers as the first boats left.",
]


def cut(text: str, piece: str) -> str:
    start = text.index(piece)
    return apply_spans(text, [Span(start, start + len(piece), piece)])


def test_seams_are_mended_to_the_original_text() -> None:
    assert cut("two massage parlour near me groups called", "massage parlour near me ") == (
        "two groups called"
    )
    assert cut("Chan8k8 withdrawalg'e 6 mission", "8k8 withdrawal") == "Chang'e 6 mission"
    assert cut("Join thepréstamos rápidos 2026 WeCoded", "préstamos rápidos") == (
        "Join the 2026 WeCoded"
    )
    assert cut("investment advice तुरंत लोन or portray", "तुरंत लोन") == (
        "investment advice or portray"
    )
    assert cut("The text ends. Visit jili777.vip now!", "Visit jili777.vip now!") == (
        "The text ends."
    )
    assert cut("Visit jili777.vip now! The text starts", "Visit jili777.vip now!") == (
        "The text starts"
    )
    assert cut("end of it promo .", " promo") == "end of it."


def test_text_away_from_the_seams_is_untouched() -> None:
    text = "Keep  this double space, cut here ZZZ and go on."
    assert cut(text, "ZZZ ") == "Keep  this double space, cut here and go on."
    assert apply_spans("  unchanged  ", []) == "unchanged"


def test_sentences_do_not_end_inside_domains_or_numbers() -> None:
    text = "Prices rose 3.5 percent. Shop at jili777.vip today! 第一句。第二句"
    got = [text[a:b] for a, b in sentences(text)]
    assert got == ["Prices rose 3.5 percent.", "Shop at jili777.vip today!", "第一句。", "第二句"]


def test_a_splice_inside_a_word_the_page_uses_is_a_candidate() -> None:
    # An unseen brand spliced inside a word the article repeats: cutting it must fuse the two
    # halves back into that word, whatever the detector then decides.
    line = "Kowlzq77 jackpot spinsoon Harbour ferries resume service after the storm"
    scan = Scan.of([line], ARTICLE[1:])
    dense, _ = token_features(scan)
    score = dense[:, TOKEN_FEATURES.index("oov")]  # every unknown word is "hot"
    cands = candidates(scan, score, 0.5)
    joins = [(a, b) for a, b, k in zip(cands.start, cands.end, cands.kind) if k == KIND_JOIN]
    assert (4, 22) in joins
    assert cut(line, line[4:22]) == ARTICLE[0]


def test_candidates_of_a_clean_page_are_few() -> None:
    scan = Scan.of(ARTICLE)
    dense, _ = token_features(scan)
    cands = candidates(scan, np.zeros(len(scan.words)), 0.5)
    assert len(cands) == 0
