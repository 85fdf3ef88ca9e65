"""Repair mechanics: spans are cut out and the seams mended so the line reads as the original;
candidate spans reach the splices the detector must be able to choose."""

from __future__ import annotations

import numpy as np

from cleaner.repair import apply_spans
from cleaner.result import Span
from cleaner.spans import (
    KIND_JOIN,
    SPAN_FEATURES,
    TOKEN_FEATURES,
    Scan,
    build_lexicon,
    candidates,
    sentences,
    span_features,
    token_features,
)

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


def _candidate_texts(line: str, context: list[str], lexicon: frozenset[str] = frozenset(),
                     kind: int | None = None) -> set[str]:
    """Candidates of `line` when every word the page does not use elsewhere, and every word
    in a script foreign to the line, is "hot"."""
    scan = Scan.of([line], context, lexicon=lexicon)
    dense, _ = token_features(scan)
    score = np.maximum(dense[:, TOKEN_FEATURES.index("oov")],
                       dense[:, TOKEN_FEATURES.index("foreign")])
    cands = candidates(scan, score, 0.5)
    return {line[a:b] for a, b, k in zip(cands.start, cands.end, cands.kind)
            if kind is None or k == kind}


def test_a_split_word_rejoins_into_a_common_word_the_page_does_not_use() -> None:
    # `Search` occurs nowhere else on the page; the lexicon of common words vouches for it,
    # and the emoji glued before the keyword goes with it.
    line = "Sea🎰free followersrch the Kowloon timetable"
    lexicon = build_lexicon([["Search the timetable"]] * 3)
    assert "🎰free followers" in _candidate_texts(line, ARTICLE, lexicon, KIND_JOIN)
    assert "🎰free followers" not in _candidate_texts(line, ARTICLE, frozenset(), KIND_JOIN)


def test_a_join_never_cuts_out_the_pages_own_words() -> None:
    # Cutting `l be free to atten` out of `will be free to attend` leaves `wild`, a word of
    # the page, but the words cut are the page's own: no join.
    context = [*ARTICLE, "The wild ferries will be free to ride.", "Free rides attend the fair."]
    line = "The fair will be free to attend from Monday"
    assert "l be free to atten" not in _candidate_texts(line, context, kind=KIND_JOIN)


def test_glued_symbols_and_brackets_go_with_the_span() -> None:
    got = _candidate_texts("Walmart’s Inventory Ma刷粉丝✅nagement Optimization", ARTICLE)
    assert "刷粉丝✅" in got
    got = _candidate_texts("usable by a wider audien[escort vavada]ce today", ARTICLE)
    assert "[escort vavada]" in got


def test_a_promo_in_another_script_is_a_tail_candidate_wherever_it_starts() -> None:
    line = "Do not try locking down SSH too early 출장마사지 예약은 https://m88.id, 100% 후불제."
    assert "출장마사지 예약은 https://m88.id, 100% 후불제." in _candidate_texts(line, ARTICLE)


def test_a_keyword_glued_to_the_next_word_is_cut_at_the_seam() -> None:
    context = [*ARTICLE, "Water and safety are what me and the harbour staff check."]
    got = _candidate_texts("Material in water safety massage near meand the staff", context)
    assert "massage near me" in got


def test_lexicon_is_common_real_words() -> None:
    pages = [["The Harbour ferries resume"], ["harbour ferries run"], ["Ferries, harbour!"],
             ["zq77 x9"]]
    assert build_lexicon(pages, min_pages=3) == frozenset({"harbour", "ferries"})


def test_span_features_have_one_name_per_column() -> None:
    line = "Kowlzq77 jackpot spinsoon Harbour ferries resume service after the storm"
    scan = Scan.of([line], ARTICLE[1:])
    dense, _ = token_features(scan)
    score = dense[:, TOKEN_FEATURES.index("oov")]
    cands = candidates(scan, score, 0.5)
    feats = span_features(scan, cands, score, None, dense[:, : len(TOKEN_FEATURES)])
    assert feats.shape == (len(cands), len(SPAN_FEATURES))
