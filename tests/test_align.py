"""Alignment of units with gold main content: the labels the model is trained on."""

from __future__ import annotations

from training.align import align_labels

GOLD = """Storm closes harbour

The harbour closed on Monday as the storm reached the coast, officials said.

Ferries will resume on Friday.
Home improvements"""


def test_alignment_rule() -> None:
    units = [
        "Home",  # a nav word that occurs in the gold only inside a longer line
        "Storm closes harbour",  # a whole gold line
        "The harbour closed on Monday as the storm reached the coast,",  # re-wrapped paragraph
        "officials said.",  # the rest of it, short but half of nothing: boilerplate
        "Ferries will resume on Friday.",
        "Subscribe to our newsletter for more stories",
        "Copyright 2024",
    ]
    assert align_labels(units, GOLD) == [
        "boilerplate", "content", "content", "boilerplate", "content", "boilerplate",
        "boilerplate",
    ]


def test_alignment_ignores_case_quotes_and_width() -> None:
    gold = "He said “it’s fine” — twice."
    assert align_labels(['he said "it\'s fine" - twice.'], gold) == ["content"]
