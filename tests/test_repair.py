"""Repair: spliced spam is cut out and the text joined back; real text is left alone."""

from __future__ import annotations

from cleaner.repair import PageVocabulary, apply_spans, find_spans
from cleaner.result import Span

ARTICLE = [
    "Kowloon Harbour ferries resume service after the storm",
    "The Kowloon ferries stopped on Monday when the storm reached the harbour.",
    "Operators said the Kowloon routes would run a reduced timetable until Friday.",
    "Passengers crowded the Kowloon piers as the first boats left.",
]


def spans_of(line: str, others: list[str] = ARTICLE) -> list[Span]:
    return find_spans(line, PageVocabulary.of([*others, line]))


def test_keyword_spliced_inside_a_word_is_excised() -> None:
    # A brand the code has never seen, spliced inside a word the article repeats.
    line = "Kowlzq77 jackpot spinsoon Harbour ferries resume service after the storm"
    spans = spans_of(line, ARTICLE[1:])
    assert [(s.start, s.end, s.text) for s in spans] == [(4, 22, "zq77 jackpot spins")]
    assert apply_spans(line, spans) == ARTICLE[0]


def test_foreign_fragment_glued_to_latin_text_is_excised() -> None:
    line = "Operators said the Kowloon routes ran a reduced timetable. 먹튀검증업체Until Friday."
    spans = spans_of(line)
    assert len(spans) == 1 and "먹튀검증업체" in spans[0].text
    assert apply_spans(line, spans) == (
        "Operators said the Kowloon routes ran a reduced timetable. Until Friday."
    )


def test_clean_lines_are_not_altered() -> None:
    lines = [
        "The RTX 4090 and the H5N1 virus both appeared in COVID-19 era headlines.",
        "Chinese leader Xi Jinping (习近平) met the Kowloon delegation.",
        "Call parseJSON() from src/utils.py, or see https://example.com/a_b?c=1.",
        "PowerPoint and iPhone users complained about the Kowloon ferries.",
    ]
    for line in lines:
        assert spans_of(line) == [], line


def test_apply_spans_mends_the_seams() -> None:
    text = "two massage parlour near me groups called"
    assert apply_spans(text, [Span(4, 28, text[4:28])]) == "two groups called"
    assert apply_spans("end of it promo .", [Span(9, 15, " promo")]) == "end of it."
    assert apply_spans("unchanged", []) == "unchanged"
