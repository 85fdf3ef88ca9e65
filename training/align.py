"""Labelling units by aligning them with a page's gold main content.

WCXB gives, per page, the article text a human reviewed (`main_content`), not a label per
block; training needs a label per unit. The rule (documented with its measured agreement in
docs/alignment.md):

1. Text is compared as lowercased NFKC word tokens (`\\w+`), so quotes, dashes, markup
   whitespace and markdown decorations do not matter.
2. A unit whose whole token sequence equals a line of the gold text is `content` (this is what
   catches short headings and list items).
3. A unit of at least `MIN_SHINGLE_TOKENS` tokens is `content` when at least `MIN_COVERAGE` of
   its word trigrams occur in the gold text's trigrams (paragraphs that the gold re-wrapped or
   that the page split differently still align).
4. A shorter unit is `content` only when its token sequence occurs inside one gold line and makes
   up at least half of that line (a fragment of a sentence split by inline markup), never
   because one common word like "Home" happens to appear somewhere in the article.
5. Everything else is `boilerplate`.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

_TOKEN = re.compile(r"\w+")
MIN_SHINGLE_TOKENS = 4
MIN_COVERAGE = 0.5


def tokens(text: str) -> list[str]:
    """Lowercased NFKC word tokens: the common ground of a unit and the gold text."""
    return _TOKEN.findall(unicodedata.normalize("NFKC", text).lower())


def _trigrams(toks: Sequence[str]) -> set[tuple[str, str, str]]:
    return {(toks[i], toks[i + 1], toks[i + 2]) for i in range(len(toks) - 2)}


class GoldIndex:
    """The gold text, indexed once per page for the three matching rules."""

    def __init__(self, gold: str) -> None:
        lines = [tokens(line) for line in gold.split("\n")]
        self.lines = {tuple(t) for t in lines if t}
        self.line_texts = [" " + " ".join(t) + " " for t in lines if t]
        self.trigrams: set[tuple[str, str, str]] = set()
        for t in lines:
            self.trigrams |= _trigrams(t)
        # Trigrams across line ends too: a unit may join two gold lines.
        self.trigrams |= _trigrams([w for t in lines for w in t])

    def is_content(self, text: str) -> bool:
        toks = tokens(text)
        if not toks:
            return False
        if tuple(toks) in self.lines:
            return True
        if len(toks) >= MIN_SHINGLE_TOKENS:
            grams = _trigrams(toks)
            return sum(g in self.trigrams for g in grams) >= MIN_COVERAGE * len(grams)
        needle = " " + " ".join(toks) + " "
        return any(needle in line and 2 * len(needle) >= len(line) for line in self.line_texts)


def align_labels(texts: Sequence[str], gold: str) -> list[str]:
    """`content` or `boilerplate` for each unit text, by the rule in the module docstring."""
    index = GoldIndex(gold)
    return ["content" if index.is_content(t) else "boilerplate" for t in texts]
