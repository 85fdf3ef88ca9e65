"""Vectorised text statistics over all the units of a page at once.

Per-unit Python loops (a regular expression per unit, an analyzer call per unit) cost more than
the model itself, so the page is turned into one array of code points and everything the
features and the span detector need (character classes, scripts, word boundaries, hashed
character and word n-grams) is computed with numpy over that array, with a unit id per code
point to bring the results back to units with `bincount`.

Hashes are arithmetic on code points (64-bit multiply-and-xor, wrapping), never Python's
`hash()`, so they are the same in every process and on every machine: the n-gram weights of a
trained model stay valid wherever it is loaded.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import scipy.sparse as sp

# Character classes.
C_SPACE, C_LOWER, C_UPPER, C_LETTER, C_DIGIT, C_PUNCT, C_SYMBOL, C_OTHER = range(8)
C_SENT_END, C_SEP, C_COPY, C_MARK = 8, 9, 10, 11
N_CLASSES = 12
SENTENCE_END_CHARS = ".!?。！？…"
SEPARATOR_CHARS = "|·•»›｜"

# Scripts: 0 = none (digits, punctuation, space). Ranges are coarse on purpose: what matters is
# "another writing system than the page's", not the exact Unicode block.
SCRIPTS: tuple[str, ...] = (
    "latin", "cjk", "kana", "hangul", "cyrillic", "arabic", "thai", "devanagari", "greek",
    "hebrew", "other",
)
_SCRIPT_RANGES: tuple[tuple[int, int, str], ...] = (
    (0x0041, 0x005A, "latin"), (0x0061, 0x007A, "latin"), (0x00C0, 0x024F, "latin"),
    (0x1E00, 0x1EFF, "latin"), (0x0370, 0x03FF, "greek"), (0x0400, 0x052F, "cyrillic"),
    (0x0590, 0x05FF, "hebrew"), (0x0600, 0x06FF, "arabic"), (0x0750, 0x077F, "arabic"),
    (0x0900, 0x097F, "devanagari"), (0x0E00, 0x0E7F, "thai"), (0x1100, 0x11FF, "hangul"),
    (0x3130, 0x318F, "hangul"), (0xAC00, 0xD7AF, "hangul"), (0x3040, 0x30FF, "kana"),
    (0x3400, 0x4DBF, "cjk"), (0x4E00, 0x9FFF, "cjk"), (0xF900, 0xFAFF, "cjk"),
)
SCRIPT_ID = {name: i for i, name in enumerate(SCRIPTS, start=1)}
# Scripts written without spaces between words: each character is a token of its own.
NO_SPACE_SCRIPTS = frozenset(SCRIPT_ID[s] for s in ("cjk", "kana", "thai"))

_M64 = np.uint64(0xFFFFFFFFFFFFFFFF)
_P1 = np.uint64(0x9E3779B97F4A7C15)
_P2 = np.uint64(0xC2B2AE3D27D4EB4F)
_P3 = np.uint64(0x165667B19E3779F9)
MAX_WORD_POS = 48  # characters of a word that enter its hash


@lru_cache(maxsize=1)
def tables() -> tuple[np.ndarray, np.ndarray]:
    """Per code point of the BMP: a character class and a script id (astral code points are
    classed as symbols with no script: emoji, mostly)."""
    cats = np.full(65536, C_OTHER, dtype=np.int8)
    for cp in range(65536):
        ch = chr(cp)
        cat = unicodedata.category(ch)
        if cat[0] == "Z" or ch.isspace():
            cats[cp] = C_SPACE
        elif cat == "Ll":
            cats[cp] = C_LOWER
        elif cat == "Lu" or cat == "Lt":
            cats[cp] = C_UPPER
        elif cat[0] == "L":
            cats[cp] = C_LETTER
        elif cat[0] == "N":
            cats[cp] = C_DIGIT
        elif cat[0] == "M":
            cats[cp] = C_MARK
        elif cat[0] == "P":
            cats[cp] = C_PUNCT
        elif cat[0] == "S":
            cats[cp] = C_SYMBOL
    for ch in SENTENCE_END_CHARS:
        cats[ord(ch)] = C_SENT_END
    for ch in SEPARATOR_CHARS:
        cats[ord(ch)] = C_SEP
    cats[ord("©")] = C_COPY
    scripts = np.zeros(65536, dtype=np.int8)
    letters = (cats == C_LOWER) | (cats == C_UPPER) | (cats == C_LETTER) | (cats == C_MARK)
    scripts[letters] = SCRIPT_ID["other"]
    for lo, hi, name in _SCRIPT_RANGES:
        block = np.arange(lo, hi + 1)
        scripts[block[letters[block]]] = SCRIPT_ID[name]
    return cats, scripts


def codepoints(text: str) -> np.ndarray:
    """The code points of `text` as int64 (UTF-32 decoding in C, no Python loop)."""
    return np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32).astype(
        np.int64
    )


@dataclass
class PageText:
    """The units of one page laid end to end, a separator (a newline) before and after each.

    `unit[i]` is the unit of code point i (-1 for separators); `start[u]`/`end[u]` are the
    offsets of unit u in the joined text, so offsets inside a unit are `i - start[u]`.
    """

    text: str
    cp: np.ndarray
    cls: np.ndarray
    script: np.ndarray
    unit: np.ndarray
    start: np.ndarray
    end: np.ndarray

    @classmethod
    def of(cls, texts: list[str]) -> PageText:
        # A newline never occurs inside a unit (text lines are split on it; HTML text is
        # whitespace-collapsed), so it is an unambiguous separator.
        joined = "\n" + "\n".join(texts) + "\n"
        cp = codepoints(joined)
        lengths = np.fromiter((len(t) for t in texts), dtype=np.int64, count=len(texts))
        start = 1 + np.concatenate([[0], np.cumsum(lengths + 1)[:-1]]).astype(np.int64)
        end = start + lengths
        unit = np.concatenate(
            [[-1], np.repeat(np.arange(len(texts), dtype=np.int64), lengths + 1)]
        ).astype(np.int64)
        unit[end] = -1
        cats, scripts = tables()
        bmp = np.minimum(cp, 65535)
        klass = np.where(cp < 65536, cats[bmp], C_SYMBOL).astype(np.int64)
        script = np.where(cp < 65536, scripts[bmp], 0).astype(np.int64)
        klass[end] = C_SPACE
        klass[0] = C_SPACE
        return cls(joined, cp, klass, script, unit, start, end)

    @property
    def n_units(self) -> int:
        return len(self.start)

    def per_unit(self, mask: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
        """Count (or sum `weights`) of the code points in `mask`, per unit."""
        u = self.unit[mask]
        w = None if weights is None else weights[mask]
        return np.bincount(u, weights=w, minlength=self.n_units).astype(np.float64)

    def units_of_offsets(self, offsets: np.ndarray) -> np.ndarray:
        """The unit each offset into the joined text falls in (for regex match positions)."""
        return self.unit[offsets]


def is_word_char(klass: np.ndarray) -> np.ndarray:
    return ((klass >= C_LOWER) & (klass <= C_DIGIT)) | (klass == C_MARK)


@dataclass
class Words:
    """Word tokens of a PageText: runs of letters/digits/marks of one script; in scripts written
    without spaces, every character is a token."""

    first: np.ndarray  # offset of the token's first character in the joined text
    last: np.ndarray  # offset one past its last character
    unit: np.ndarray  # unit of each token
    hash: np.ndarray  # uint64 hash of the lowercased token (digits mapped to 0)
    n_digits: np.ndarray
    n_letters: np.ndarray
    n_upper: np.ndarray
    script: np.ndarray  # script of the token's first letter (0 for all-digit tokens)

    @classmethod
    def of(cls, page: PageText, lowered_cp: np.ndarray) -> Words:
        word = is_word_char(page.cls)
        n = len(word)
        if not n or not word.any():
            z = np.zeros(0, dtype=np.int64)
            return cls(z, z, z, z.astype(np.uint64), z, z, z, z)
        prev = np.concatenate([[False], word[:-1]])
        script = page.script
        prev_script = np.concatenate([[0], script[:-1]])
        letter = script > 0
        # A new token starts where a word run starts, where a letter's script changes inside a
        # run (Latin glued to Hangul), and at every character of a no-space script.
        no_space = np.isin(script, list(NO_SPACE_SCRIPTS))
        prev_no_space = np.concatenate([[False], no_space[:-1]])
        starts = word & (
            ~prev | no_space | prev_no_space
            | (letter & (prev_script > 0) & (script != prev_script))
        )
        token_of = np.cumsum(starts) - 1  # token id per char (valid where word)
        idx = np.flatnonzero(word)
        tok = token_of[idx]
        first = idx[np.concatenate([[True], tok[1:] != tok[:-1]])]
        n_tok = len(first)
        last = np.zeros(n_tok, dtype=np.int64)
        np.maximum.at(last, tok, idx + 1)
        pos = idx - first[tok]
        powers = _powers()
        vals = (lowered_cp[idx].astype(np.uint64) + np.uint64(1)) * powers[
            np.minimum(pos, MAX_WORD_POS - 1)
        ]
        h = np.add.reduceat(vals, np.flatnonzero(np.concatenate([[True], tok[1:] != tok[:-1]])))
        h = _mix(h)
        klass = page.cls[idx]
        n_digits = np.bincount(tok, weights=(klass == C_DIGIT), minlength=n_tok).astype(np.int64)
        n_upper = np.bincount(tok, weights=(klass == C_UPPER), minlength=n_tok).astype(np.int64)
        lengths = last - first
        n_letters = lengths - n_digits
        tscript = np.zeros(n_tok, dtype=np.int64)
        has_letter = letter[idx]
        np.maximum.at(tscript, tok[has_letter], script[idx][has_letter])
        return cls(first, last, page.unit[first], h, n_digits, n_letters, n_upper, tscript)

    def __len__(self) -> int:
        return len(self.first)


@lru_cache(maxsize=1)
def _powers() -> np.ndarray:
    out = np.ones(MAX_WORD_POS, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for i in range(1, MAX_WORD_POS):
            out[i] = out[i - 1] * _P1
    return out


def _mix(h: np.ndarray) -> np.ndarray:
    """A final avalanche (xor-shift-multiply), so that buckets taken modulo 2^k are uniform."""
    with np.errstate(over="ignore"):
        h = h ^ (h >> np.uint64(31))
        h = h * _P2
        h = h ^ (h >> np.uint64(29))
    return h


def fold(page: PageText) -> np.ndarray:
    """Lowercased, digit-folded code points of the page (same length and offsets)."""
    cp = page.cp.copy()
    upper = page.cls == C_UPPER
    if upper.any():
        cp[upper] = _lower_table()[np.minimum(cp[upper], 65535)]
    cp[page.cls == C_DIGIT] = ord("0")
    cp[page.cls == C_SPACE] = ord(" ")
    cp[page.end] = ord("\n")
    cp[0] = ord("\n")
    return cp


@lru_cache(maxsize=1)
def _lower_table() -> np.ndarray:
    table = np.arange(65536, dtype=np.int64)
    for c in range(65536):
        low = chr(c).lower()
        if len(low) == 1:
            table[c] = ord(low)
    return table


def char_ngrams(page: PageText, folded: np.ndarray, n_buckets: int, head: int,
                orders: tuple[int, ...] = (2, 3)) -> sp.csr_matrix:
    """Hashed character n-gram counts per unit, over the first `head` characters of each unit,
    l2-normalised. The separator before a unit takes part, so n-grams can mark a line start."""
    n_units = page.n_units
    offset_in_unit = np.arange(len(folded)) - page.start[np.maximum(page.unit, 0)]
    in_head = (page.unit >= 0) & (offset_in_unit < head)
    rows_l, cols_l = [], []
    c = folded.astype(np.uint64)
    with np.errstate(over="ignore"):
        for k in orders:
            m = len(c) - k + 1
            if m <= 0:
                continue
            # An n-gram belongs to the unit of its last character; it may start on the
            # separator before the unit (a line-start n-gram) but not span two units. Only
            # those of unit heads are hashed: most characters of a long unit are past it.
            last_unit = page.unit[k - 1:]
            valid = in_head[k - 1:] & (last_unit >= 0)
            if k > 1:
                valid &= page.unit[1:m + 1] == last_unit
            at = np.flatnonzero(valid)
            h = c[at]
            for j in range(1, k):
                h = h * _P3 + c[at + j]
            h = _mix(h + np.uint64(k))
            rows_l.append(last_unit[at])
            cols_l.append((h % np.uint64(n_buckets)).astype(np.int64))
    return _normalised(rows_l, cols_l, n_units, n_buckets)


def word_ngrams(words: Words, n_units: int, n_buckets: int, head_tokens: int) -> sp.csr_matrix:
    """Hashed word unigram and bigram counts per unit (first `head_tokens` tokens)."""
    if not len(words):
        return sp.csr_matrix((n_units, n_buckets), dtype=np.float32)
    u = words.unit  # non-decreasing: tokens are in text order
    rank = np.arange(len(u)) - np.searchsorted(u, u, side="left")
    keep = rank < head_tokens
    h = words.hash
    rows_l = [u[keep]]
    cols_l = [(h[keep] % np.uint64(n_buckets)).astype(np.int64)]
    if len(u) > 1:
        same = (u[1:] == u[:-1]) & keep[1:]
        with np.errstate(over="ignore"):
            bi = _mix(h[:-1] * _P2 + h[1:] + np.uint64(7))
        rows_l.append(u[1:][same])
        cols_l.append((bi[same] % np.uint64(n_buckets)).astype(np.int64))
    return _normalised(rows_l, cols_l, n_units, n_buckets)


def _normalised(rows_l: list[np.ndarray], cols_l: list[np.ndarray], n_rows: int,
                n_cols: int) -> sp.csr_matrix:
    """Counts of (row, col) pairs as an l2-normalised CSR matrix, built with one sort."""
    rows = np.concatenate(rows_l) if rows_l else np.zeros(0, dtype=np.int64)
    cols = np.concatenate(cols_l) if cols_l else np.zeros(0, dtype=np.int64)
    keys = rows * n_cols + cols
    if n_rows * n_cols < 2**31:
        keys = keys.astype(np.int32)  # sorts twice as fast as int64, in the same order
    keys, counts = np.unique(keys, return_counts=True)
    keys = keys.astype(np.int64)
    r = keys // n_cols
    indptr = np.zeros(n_rows + 1, dtype=np.int64)
    np.cumsum(np.bincount(r, minlength=n_rows), out=indptr[1:])
    data = counts.astype(np.float32)
    sq = np.bincount(r, weights=data.astype(np.float64) ** 2, minlength=n_rows)
    norms = np.sqrt(sq)
    norms[norms == 0] = 1.0
    data /= norms[r].astype(np.float32)
    return sp.csr_matrix(
        (data, (keys % n_cols).astype(np.int32), indptr.astype(np.int32)), shape=(n_rows, n_cols)
    )
