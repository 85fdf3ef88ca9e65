"""Vectorised text statistics: tokens, scripts and n-gram hashes that features rely on."""

from __future__ import annotations

import numpy as np

from cleaner import textstats as ts


def tokens(texts: list[str]) -> list[tuple[int, str]]:
    page = ts.PageText.of(texts)
    words = ts.Words.of(page, ts.fold(page))
    return [(int(u), page.text[a:b]) for u, a, b in zip(words.unit, words.first, words.last)]


def test_tokens_split_on_script_changes_and_no_space_scripts() -> None:
    assert tokens(["topic. 먹튀검증업체I think", "孩子 8k8"]) == [
        (0, "topic"), (0, "먹튀검증업체"), (0, "I"), (0, "think"), (1, "孩"), (1, "子"),
        (1, "8k8"),
    ]


def test_units_never_share_a_token_or_an_ngram() -> None:
    page = ts.PageText.of(["ab", "cd"])
    grams = ts.char_ngrams(page, ts.fold(page), 1 << 12, head=100, orders=(2,))
    # "ab" gives the line-start gram "\na" and "ab"; "b\nc" would cross units and must not exist.
    assert grams.shape == (2, 1 << 12)
    assert np.diff(grams.indptr).tolist() == [2, 2]
    norms = np.sqrt(np.asarray(grams.multiply(grams).sum(axis=1)).ravel())
    assert np.allclose(norms, 1.0)


def test_hashes_are_stable_across_processes() -> None:
    # Arithmetic on code points, never hash(): a model trained in one process must see the
    # same features in every other.
    page = ts.PageText.of(["Hello"])
    words = ts.Words.of(page, ts.fold(page))
    assert int(words.hash[0]) == int(ts.Words.of(page, ts.fold(page)).hash[0])
    assert int(words.hash[0] % np.uint64(1 << 20)) == 57358


def test_fold_lowercases_and_folds_digits_in_place() -> None:
    page = ts.PageText.of(["ÉCOLE 2024", "Ab9"])
    folded = "".join(chr(c) for c in ts.fold(page))
    assert folded == "\nécole 0000\nab0\n"


def test_scripts_of_letters() -> None:
    page = ts.PageText.of(["aб中ア한ت"])
    names = [ts.SCRIPTS[s - 1] if s else None for s in page.script[1:-1]]
    assert names == ["latin", "cyrillic", "cjk", "kana", "hangul", "arabic"]


def test_ngram_counts_are_those_of_the_unit_heads_only() -> None:
    # Only the first `head` characters of a unit give n-grams, however long the unit: a long
    # tail must change nothing, and a change inside the head must.
    head = "Chang'e 6 mission lands on the far side of the Moon"
    page = ts.PageText.of([head, head + " and a long tail" * 200, "x" + head[1:]])
    grams = ts.char_ngrams(page, ts.fold(page), 1 << 16, head=len(head))
    assert (grams[0] != grams[1]).nnz == 0
    assert (grams[0] != grams[2]).nnz > 0
