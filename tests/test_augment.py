"""Ciphered training pages: the same page in another script, labels unchanged."""

from __future__ import annotations

import re

from training.augment import cipher_records

PAGE = {
    "id": "p1",
    "title": "Council approves the bridge budget",
    "units": [{"text": "Home | News | Sport"},
              {"text": "The council approved the bridge budget on Tuesday."},
              {"text": "The council said the bridge will close in spring."}],
    "labels": ["boilerplate", "content", "content"],
    "injections": [],
}


def test_a_ciphered_copy_keeps_labels_structure_and_word_repeats() -> None:
    copies = cipher_records([PAGE] * 40, share=1.0, seed=3)
    assert len(copies) == 40
    for copy in copies:
        assert copy["id"] == "p1-cipher"
        assert copy["labels"] == PAGE["labels"] and "injections" not in copy
        texts = [u["text"] for u in copy["units"]]
        assert all(t != u["text"] for t, u in zip(texts, PAGE["units"])), texts
        assert texts[0].count("|") == 2 and texts[1].endswith(".")
        # "The council" opens both sentences, so both copies open alike
        head = re.match(r"\S+ \S+", texts[1])
        if head:  # scripts written with spaces
            assert texts[2].startswith(head.group())


def test_ciphers_are_deterministic_and_cover_many_scripts() -> None:
    a = cipher_records([PAGE] * 60, share=1.0, seed=7)
    assert a == cipher_records([PAGE] * 60, share=1.0, seed=7)
    first_letters = {c["units"][1]["text"][0] for c in a}
    assert len(first_letters) > 10
    assert cipher_records([PAGE] * 100, share=0.25, seed=1).__len__() in range(10, 45)
