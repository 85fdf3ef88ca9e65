"""Repair: find spam spliced inside content units, excise it, and join the text back.

A content unit may carry injected text that has no line of its own: a keyword spliced into a
word of the headline, a foreign-script fragment glued onto a sentence. Dropping the unit would
lose real text, keeping it keeps the spam, so the span is cut out and the text around it joined.

Two signals, both from the page itself rather than from any list of brands:

* Vocabulary join: a run of words that occur nowhere else on the page, from which removing one
  stretch leaves only words the page does use (`Chan8k8 withdrawalg'e` minus `8k8 withdrawal` is
  `Chang'e`, a word of the article). Real text rarely has that property by accident, because the
  joined word must be one the page uses elsewhere.
* Glued foreign script: a stretch in a script that the rest of the page does not use, fused to a
  letter or digit without a space (`topic. 먹튀검증업체I think`), which real quotations and names
  in another script are not.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from cleaner.result import Span

_WORD = re.compile(r"\S+")
_VOCAB_TOKEN = re.compile(r"[^\W_](?:[\w'’-]*[^\W_])?")
_HAS_DIGIT = re.compile(r"\d")
MAX_RUN_WORDS = 6
MIN_SPAN_CHARS = 3
MIN_FUSED_CHARS = 4
MIN_FUSED_SEEN = 3  # the fused word must be one the article repeats

# Script of a character, coarse: enough to tell a fragment foreign to the page.
_SCRIPT_RANGES: tuple[tuple[int, int, str], ...] = (
    (0x0041, 0x024F, "latin"), (0x0370, 0x03FF, "greek"), (0x0400, 0x04FF, "cyrillic"),
    (0x0590, 0x05FF, "hebrew"), (0x0600, 0x06FF, "arabic"), (0x0900, 0x097F, "devanagari"),
    (0x0E00, 0x0E7F, "thai"), (0x1100, 0x11FF, "hangul"), (0x1E00, 0x1EFF, "latin"),
    (0x3040, 0x30FF, "kana"), (0x3400, 0x4DBF, "cjk"), (0x4E00, 0x9FFF, "cjk"),
    (0xAC00, 0xD7AF, "hangul"), (0xF900, 0xFAFF, "cjk"),
)


def script_of(ch: str) -> str | None:
    """The script of a letter, or None for digits, punctuation, spaces and unknown scripts."""
    if not ch.isalpha():
        return None
    cp = ord(ch)
    for lo, hi, name in _SCRIPT_RANGES:
        if lo <= cp <= hi:
            return name
    return "other"


@dataclass
class PageVocabulary:
    """Word and script counts of a page, from which one unit's own contribution can be removed."""

    words: Counter[str]
    scripts: Counter[str]

    @classmethod
    def of(cls, texts: Sequence[str]) -> PageVocabulary:
        words: Counter[str] = Counter()
        scripts: Counter[str] = Counter()
        for t in texts:
            words.update(vocab_tokens(t))
            scripts.update(s for s in map(script_of, t) if s)
        return cls(words, scripts)


    def longest_repeated(self) -> int:
        """Length of the longest word the page uses at least `MIN_FUSED_SEEN` times (cached:
        the vocabulary does not change once built)."""
        cached = self.__dict__.get("_longest_repeated")
        if cached is None:
            cached = max(
                (len(w) for w, n in self.words.items() if n >= MIN_FUSED_SEEN), default=0
            )
            self.__dict__["_longest_repeated"] = cached
        return cached


def vocab_tokens(text: str) -> list[str]:
    return [w.lower() for w in _VOCAB_TOKEN.findall(text)]


def find_spans(text: str, vocab: PageVocabulary) -> list[Span]:
    """Spam spans inside one content unit's text, sorted and non-overlapping."""
    own_words = Counter(vocab_tokens(text))
    own_scripts = Counter(s for s in map(script_of, text) if s)
    spans = _vocabulary_join_spans(text, vocab, own_words)
    spans += _glued_script_spans(text, vocab, own_scripts)
    spans.sort(key=lambda s: s.start)
    merged: list[Span] = []
    for s in spans:
        if merged and s.start < merged[-1].end:
            continue
        merged.append(s)
    return merged


def _elsewhere(word: str, vocab: PageVocabulary, own: Counter[str]) -> int:
    return vocab.words[word] - own[word]


def _vocabulary_join_spans(
    text: str, vocab: PageVocabulary, own: Counter[str]
) -> list[Span]:
    """Cuts from inside one unknown word to inside a later one (at most `MAX_RUN_WORDS` on)
    such that the prefix of the first and the suffix of the last fuse into a word the article
    repeats. Shortest cut wins; candidates are few because both ends must be unknown words."""
    words = [(m.start(), m.end()) for m in _WORD.finditer(text)]
    unknown = [
        any(_elsewhere(t, vocab, own) == 0 for t in vocab_tokens(text[a:b])) for a, b in words
    ]
    odd = [_odd_shape(text[a:b]) for a, b in words]
    spans: list[Span] = []
    i = 0
    while i < len(words):
        best: tuple[int, int] | None = None
        if unknown[i]:
            for j in range(i, min(len(words), i + MAX_RUN_WORDS)):
                if not unknown[j]:
                    break
                if not (odd[i] or odd[j]):
                    continue  # inflections and compounds fuse too; a splice leaves a seam
                cut = _fusing_cut(text, words[i], words[j], vocab, own)
                if cut and (best is None or cut[1] - cut[0] < best[1] - best[0]):
                    best = cut
                    last = j
        if best is None:
            i += 1
            continue
        spans.append(Span(best[0], best[1], text[best[0] : best[1]], "spam", 1.0))
        i = last + 1
    return spans


_CODE_MARK = re.compile(r"[/_:=()<>#@.\\\[\]{}+*]")
_SEAM = re.compile(r"[^\W\d_][0-9]|[0-9][^\W\d_]|[a-z][A-Z]")


def _odd_shape(word: str) -> bool:
    """A seam inside a word: letters against digits, lower against upper case, or two scripts.
    Code, paths and URLs are full of such seams by design, so words with their marks are not
    considered."""
    if _CODE_MARK.search(word.rstrip(".,;:!?)\"'”")):
        return False
    if _SEAM.search(word):
        return True
    scripts = {s for s in map(script_of, word) if s}
    return len(scripts) > 1


def _fusing_cut(
    text: str,
    left: tuple[int, int],
    right: tuple[int, int],
    vocab: PageVocabulary,
    own: Counter[str],
) -> tuple[int, int] | None:
    """The shortest (a, b) with a inside `left` and b inside `right` such that text[left:a] +
    text[b:right] is one word the article repeats and the cut holds something foreign."""
    # The fused word is the one token of head + tail, so it runs from the left word's first
    # token character to the right word's last, and it must be a word the page repeats: no
    # longer than the longest of those. Only (a, b) that can meet that bound are tried, which
    # keeps the search to longest**2 instead of len(left) * len(right) tries (quadratic in a
    # long word, each try linear: a 200-character seamy word took 0.25 s, 200 of them 13 s).
    longest = vocab.longest_repeated()
    first = _TOKEN_CHAR.search(text, left[0], left[1])
    last = _last_token_char(text, right)
    if longest < MIN_FUSED_CHARS or first is None or last is None:
        return None
    best: tuple[int, int] | None = None
    for a in range(left[0] + 1, left[1]):
        head_len = a - first.start()
        if head_len + 1 > longest:
            break  # the fused word would be longer than any word the page repeats
        if not text[a - 1].isalpha():
            continue
        head = text[left[0] : a]
        lowest_b = last + 1 - (longest - head_len)
        for b in range(max(a + MIN_SPAN_CHARS, right[0] + 1, lowest_b), right[1]):
            if best is not None and b - a >= best[1] - best[0]:
                break
            if not text[b].isalpha():
                continue
            fused = vocab_tokens(head + text[b : right[1]])
            if len(fused) != 1 or len(fused[0]) < MIN_FUSED_CHARS:
                continue
            if _elsewhere(fused[0], vocab, own) < MIN_FUSED_SEEN:
                continue
            best = (a, b)
    return best


_TOKEN_CHAR = re.compile(r"[^\W_]")  # where a `_VOCAB_TOKEN` can start or end


def _last_token_char(text: str, span: tuple[int, int]) -> int | None:
    for i in range(span[1] - 1, span[0] - 1, -1):
        if _TOKEN_CHAR.match(text, i):
            return i
    return None


def _glued_script_spans(text: str, vocab: PageVocabulary, own: Counter[str]) -> list[Span]:
    spans: list[Span] = []
    for m in re.finditer(r"\S+", text):
        word = m.group()
        pieces = _script_runs(word)
        if len(pieces) < 2:
            continue
        for k, (a, b, script) in enumerate(pieces):
            if script is None or vocab.scripts[script] - own[script] > 0:
                continue
            if own[script] * 2 > sum(own.values()):
                continue  # the unit's own main script: not a fragment
            glued = (k > 0 and pieces[k - 1][2] is not None) or (
                k + 1 < len(pieces) and pieces[k + 1][2] is not None
            )
            if glued and b - a >= 2:
                start, end = m.start() + a, m.start() + b
                spans.append(Span(start, end, text[start:end], "spam", 1.0))
    return spans


def _script_runs(word: str) -> list[tuple[int, int, str | None]]:
    """Maximal runs of one script within a word; digits join the run of letters before them
    (a brand like `8k8` stays one piece with its letters)."""
    runs: list[tuple[int, int, str | None]] = []
    for i, ch in enumerate(word):
        s = script_of(ch)
        if s is None and not ch.isdigit():
            s = None
        elif s is None:
            s = runs[-1][2] if runs else None
        if runs and runs[-1][2] == s:
            runs[-1] = (runs[-1][0], i + 1, s)
        else:
            runs.append((i, i + 1, s))
    return runs


def apply_spans(text: str, spans: Sequence[Span]) -> str:
    """The text with the spans removed and the seams mended: no doubled spaces, no space left
    before punctuation, no leading or trailing space."""
    if not spans:
        return text
    out: list[str] = []
    pos = 0
    for s in sorted(spans, key=lambda s: s.start):
        out.append(text[pos : s.start])
        pos = max(pos, s.end)
    out.append(text[pos:])
    joined = "".join(out)
    joined = re.sub(r"[ \t]{2,}", " ", joined)
    joined = re.sub(r" +([,.;:!?])", r"\1", joined)
    return joined.strip()
