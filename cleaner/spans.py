"""Spans: spam spliced inside content units, found by a learned detector and cut out.

Hacked pages rarely give spam a line of its own: a keyword is spliced inside a word of the
headline (`Chan8k8 withdrawalg'e`), glued between words, or a promo sentence is appended to a
real paragraph. Dropping such a line loses real text, keeping it keeps the spam, so the span is
found and cut out.

Detection runs in two learned stages, both trained on the offsets the injection generator
records (`training/inject.py`), and both looking at what makes a stretch of text out of place
*on its page* rather than at any list of brands:

1. Every token of the scanned (content) units gets a score from small trees over cheap
   features: does the rest of the article use the word, is it a common word of the language
   (the lexicon), its shape (digits inside letters, capitals inside a word), its script
   against the unit's and the page's, whether it is glued to its neighbour or to a symbol,
   whether it pairs with its neighbours as real text does and they pair without it (common
   word pairs), and a linear model's opinion of hashed character n-grams of the token and its
   neighbours.
2. Candidate spans are built from runs of high-scoring tokens (with variants one token longer
   or shorter, and edged at the warm tokens beside a run's first and last hot one), from
   sentences at either end of a unit that has a clearly suspect token, and
   from cuts that fuse two stretches into a word the page uses (`Chan` + `g'e` = `Chang'e`;
   tried at unknown words however low they score, the fused word vouching for the cut), and
   from whole glued stretches of a script written without spaces inside a line of another
   (`刷粉丝`, whose first character may score cold). A
   gradient-boosted model scores each candidate from span-level features: its tokens' scores,
   their fit with the page, the spam opinion of the unit text model on the span and on its
   whole line, and where it sits.

Non-overlapping candidates above the threshold are kept, best first. Only content units are
scanned, and stage 2 only sees the candidates stage 1 lets through: what span detection costs
is mostly how many those are (docs/benchmarks.md, "Where the span time goes").
"""

from __future__ import annotations

import bisect
import re
import weakref
from collections import Counter
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import SGDClassifier

from cleaner import textstats as ts
from cleaner.result import Span
from cleaner.trees import compiled

KIND_RUN, KIND_SENTENCE, KIND_JOIN = 0, 1, 2
MAX_SCAN_CHARS = 10_000
TOKEN_BUCKETS = 2**16
MAX_SPAN_TOKENS = 8  # tokens of the longest keyword-like candidate (sentences are separate)
MIN_FUSED_CHARS = 4
# Pages whose scanned units hold fewer tokens than this get the small-page threshold
# (`SpanDetector.threshold_for`): about one WCXB dev page in seven, and a page of one to eight
# article paragraphs between a menu and a footer nearly always.
SMALL_PAGE_TOKENS = 300
MAX_JOIN_HEAD = 12  # characters of a word that may stand before a splice


@dataclass
class Scan:
    """The scanned units of a page as tokens, with what the rest of the page says about each.

    `df_other[t]`: in how many *other* content units token t's word occurs (lowercased, digits
    folded). Spam repeats its keyword in spam lines, so only content units count.
    `source[u]`: whether scanned unit u is one of those content units.
    """

    texts: list[str]
    text: ts.PageText
    words: ts.Words
    df_other: np.ndarray
    all_texts: list[str]  # scanned units and context
    lexicon: Collection[str] = ()  # common words (see `SpanDetector.lexicon_`)
    bigrams: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.uint64))
    source: np.ndarray | None = None
    _words: dict[str, int] | None = None
    _sorted: list[str] | None = None
    _own: dict[int, frozenset[str]] = field(default_factory=dict)
    _in_lexicon: np.ndarray | None = None
    _in_language: bool | None = None

    def in_lexicon(self) -> np.ndarray:
        """Whether each token is a word of the lexicon (words of at least MIN_FUSED_CHARS
        letters only), made once per scan."""
        if self._in_lexicon is None:
            w = self.words
            hashes = lexicon_hashes(self.lexicon)
            found = np.zeros(len(w), dtype=bool)
            if len(hashes):
                pos = np.minimum(np.searchsorted(hashes, w.hash), len(hashes) - 1)
                found = hashes[pos] == w.hash
            self._in_lexicon = (w.n_letters >= MIN_FUSED_CHARS) & found
        return self._in_lexicon

    def unit_lexicon_share(self) -> np.ndarray:
        """Per scanned unit, the share of its words of at least MIN_FUSED_CHARS letters that
        are lexicon words (low on a page in a language the lexicon does not hold)."""
        w = self.words
        n_units = len(self.texts)
        long_word = (w.n_letters >= MIN_FUSED_CHARS).astype(np.float64)
        return np.bincount(w.unit, weights=self.in_lexicon(), minlength=n_units)[:n_units] / \
            np.maximum(np.bincount(w.unit, weights=long_word, minlength=n_units)[:n_units], 1)

    def in_lexicon_language(self) -> bool:
        """Whether the page is in the language of the lexicon and of the word pairs (most of
        its long words are lexicon words): elsewhere no pair is known, which says nothing
        about a splice, so pair features are left out (-1) rather than all "unknown"."""
        if self._in_language is None:
            long_word = self.words.n_letters >= MIN_FUSED_CHARS
            self._in_language = bool(long_word.any()) and bool(
                self.in_lexicon()[long_word].mean() >= PAIRS_MIN_LEXICON_SHARE)
        return self._in_language

    @classmethod
    def of(cls, texts: Sequence[str], context: Sequence[str] = (),
           sources: Sequence[bool] | None = None, lexicon: Collection[str] = (),
           bigrams: np.ndarray | None = None) -> Scan:
        """`texts` are scanned; `context` are further content units of the page that only
        contribute vocabulary. `sources` says which scanned texts contribute vocabulary too
        (default: all); a line suspected of spam must not vouch for its own keyword.
        `lexicon`: words common across many pages, which a split word may also rejoin into
        when the page itself never uses it (`Sugg|buy instagram followers|ested`).
        `bigrams`: hashes of word pairs common across many pages (`build_bigrams`)."""
        # Only the head of a huge line is scanned (a 10 MB "line" is junk, and scanning all of
        # it would cost memory in proportion); spans found there keep their offsets.
        texts = [t[:MAX_SCAN_CHARS] for t in texts]
        context = [t[:MAX_SCAN_CHARS] for t in context]
        text = ts.PageText.of(texts + context)
        folded = ts.fold(text)
        words = ts.Words.of(text, folded)
        n_scan = len(texts)
        is_source = np.ones(n_scan + len(context), dtype=bool)
        if sources is not None:
            is_source[:n_scan] = np.asarray(sources, dtype=bool)
        if len(words):
            tok = (words.hash >> np.uint64(25)).astype(np.int64)
            from_source = is_source[words.unit]
            pairs = np.unique((tok[from_source] << 24)
                              | np.minimum(words.unit[from_source], (1 << 24) - 1))
            uniq, df = np.unique(pairs >> 24, return_counts=True)
            pos = np.minimum(np.searchsorted(uniq, tok), max(len(uniq) - 1, 0))
            found = (uniq[pos] == tok) if len(uniq) else np.zeros(len(tok), dtype=bool)
            df_tok = np.where(found, df[pos] if len(uniq) else 0, 0)
            df_other = df_tok - from_source.astype(np.int64)
            keep = words.unit < n_scan
            words = ts.Words(*(getattr(words, f)[keep] for f in _WORD_FIELDS))
            df_other = df_other[keep]
        else:
            df_other = np.zeros(0, dtype=np.int64)
        vocab_texts = [t for t, src in zip(texts + context, is_source) if src]
        if bigrams is None:
            bigrams = np.zeros(0, dtype=np.uint64)
        return cls(texts, text, words, df_other, vocab_texts, lexicon, bigrams,
                   is_source[:n_scan])

    def without_suspect_vouching(self, suspect: np.ndarray) -> Scan:
        """This scan with `df_other` counting only the units where the word is not itself
        `suspect` (a token mask). A hacked page splices its keyword into several lines
        (`So刷粉丝cial Engagement`, `Jam Wi刷粉丝th the Pros!`): those copies must not make
        the keyword a word the page uses, or no cut is tried around it."""
        w = self.words
        src = self.source if self.source is not None else np.ones(len(self.texts), bool)
        hit = np.flatnonzero(suspect & src[w.unit])
        if not len(hit):
            return self
        tok = (w.hash >> np.uint64(25)).astype(np.int64)
        unit = np.minimum(w.unit, (1 << 24) - 1)
        pairs = np.unique((tok[hit] << 24) | unit[hit])  # (word, unit) where it is suspect
        words, n_units = np.unique(pairs >> 24, return_counts=True)
        pos = np.minimum(np.searchsorted(words, tok), len(words) - 1)
        suspect_units = np.where(words[pos] == tok, n_units[pos], 0)
        own = np.isin((tok << 24) | unit, pairs)  # the token's own unit is one of them
        df = np.maximum(self.df_other - (suspect_units - own), 0)
        return replace(self, df_other=df)

    def words_with_prefix(self, prefix: str) -> list[str]:
        """The page's words (of at least MIN_FUSED_CHARS) that start with `prefix`."""
        if self._sorted is None:
            self.word_df("")
            self._sorted = sorted(w for w in self._words or {} if len(w) >= MIN_FUSED_CHARS)
        return _with_prefix(self._sorted, prefix)

    def own_words(self, u: int) -> frozenset[str]:
        """The words of scanned unit `u` itself (lowercased, bare): asked for every token of
        a suspect run, so made once per unit."""
        if u not in self._own:
            self._own[u] = frozenset(_bare(x) for x in self.texts[u].lower().split())
        return self._own[u]

    def word_df(self, word: str) -> int:
        """Content units of the page using `word` as a whole word (apostrophes and hyphens
        included: `Chang'e`), lowercased. Built on first use: only joins need it."""
        if self._words is None:
            counts: Counter[str] = Counter()
            for t in self.all_texts:
                counts.update({_bare(x) for x in t.lower().split()})
            self._words = counts
        return self._words.get(_bare(word.lower()), 0)


def _with_prefix(words: Sequence[str], prefix: str) -> list[str]:
    """Words of the sorted `words` that start with `prefix` and are longer than it."""
    out = []
    for i in range(bisect.bisect_left(words, prefix), len(words)):
        if not words[i].startswith(prefix):
            break
        if len(words[i]) > len(prefix):
            out.append(words[i])
    return out


def build_lexicon(texts_per_page: Iterable[Iterable[str]], min_pages: int = 3,
                  max_words: int = 60_000) -> frozenset[str]:
    """The words (letters only, at least MIN_FUSED_CHARS, lowercased) that at least
    `min_pages` pages use, the most widespread up to `max_words`. Built from real content
    only: a spam keyword must never become a word a splice may rejoin into."""
    pages: dict[str, int] = {}
    for texts in texts_per_page:
        seen = set()
        for t in texts:
            for x in t.lower().split():
                x = _bare(x)
                if len(x) >= MIN_FUSED_CHARS and x[0].isalpha() and \
                        x.replace("'", "").replace("-", "").isalpha():
                    seen.add(x)
        for x in seen:
            pages[x] = pages.get(x, 0) + 1
    common = sorted((x for x, n in pages.items() if n >= min_pages), key=lambda x: -pages[x])
    return frozenset(common[:max_words])


def pair_hashes(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """Hashes of token pairs (`textstats.Words.hash` of each side), order-sensitive."""
    with np.errstate(over="ignore"):
        return ts._mix(first * ts._P3 + second + np.uint64(7))


def build_bigrams(texts_per_page: Iterable[Sequence[str]], min_pages: int = 3) -> np.ndarray:
    """Sorted hashes of the pairs of adjacent tokens that at least `min_pages` pages use in
    their content: `researchers demonstrated`, `is home`. Whether the words either side of a
    candidate form such a pair once it is cut out says whether the text around it was one
    sentence before the splice, in any brand's case. Built from real content only."""
    per_page = []
    for texts in texts_per_page:
        texts = list(texts)
        if not texts:
            continue
        text = ts.PageText.of(texts)
        w = ts.Words.of(text, ts.fold(text))
        same = w.unit[1:] == w.unit[:-1]
        per_page.append(np.unique(pair_hashes(w.hash[:-1][same], w.hash[1:][same])))
    if not per_page:
        return np.zeros(0, dtype=np.uint64)
    pairs, pages = np.unique(np.concatenate(per_page), return_counts=True)
    return pairs[pages >= min_pages]


def _known_pair(scan: Scan, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """1 where tokens `left[i]` and `right[i]` (indices into the scan's tokens) are of one
    unit and form a common pair, 0 where they do not, -1 where either is missing."""
    w = scan.words
    n = len(w)
    out = np.full(len(left), -1.0)
    if not scan.in_lexicon_language():
        return out
    ok = (left >= 0) & (right < n) & (right > left)
    ok[ok] &= w.unit[left[ok]] == w.unit[right[ok]]
    if ok.any():
        h = pair_hashes(w.hash[left[ok]], w.hash[right[ok]])
        b = scan.bigrams
        pos = np.minimum(np.searchsorted(b, h), max(len(b) - 1, 0))
        out[ok] = (b[pos] == h).astype(np.float64) if len(b) else 0.0
    return out


PAIRS_MIN_LEXICON_SHARE = 0.5  # English pages: 0.8-0.9; German or ciphered pages: far less
_LEXICON_HASHES: dict[int, tuple[Collection[str], np.ndarray]] = {}


def lexicon_hashes(lexicon: Collection[str]) -> np.ndarray:
    """Sorted token hashes (`textstats.Words.hash`) of the lexicon's one-token words, so a
    page's tokens are looked up in it without making a string of each. Made once per lexicon
    (it ships inside the detector, one or two per process)."""
    got = _LEXICON_HASHES.get(id(lexicon))
    if got is not None and got[0] is lexicon:
        return got[1]
    plain = [x for x in lexicon if x.isalpha()]
    hashes = np.zeros(0, dtype=np.uint64)
    if plain:
        text = ts.PageText.of([" ".join(sorted(plain))])
        hashes = np.unique(ts.Words.of(text, ts.fold(text)).hash)
    if len(_LEXICON_HASHES) >= 4:
        _LEXICON_HASHES.clear()
    _LEXICON_HASHES[id(lexicon)] = (lexicon, hashes)
    return hashes


def _bare(word: str) -> str:
    return word.strip(_PUNCT)


_PUNCT = ".,;:!?\"'“”‘’()[]{}«»<>*"
_WORD_FIELDS = ("first", "last", "unit", "hash", "n_digits", "n_letters", "n_upper", "script")

TOKEN_FEATURES = (
    "oov", "log_df", "len", "mixed", "digits_only", "upper_share", "caps_inside", "foreign",
    "no_space_script", "glued_left", "glued_right", "first_in_unit", "last_in_unit",
    "unit_oov_share", "unit_len", "in_lexicon", "unit_lexicon_share", "foreign_to_page",
    "symbol_left", "symbol_right", "pair_prev_known", "pair_next_known", "pair_skip_known",
)
TOKEN_CONTEXT = (-2, -1, 1, 2)


def token_features(scan: Scan) -> tuple[np.ndarray, sp.csr_matrix]:
    """Dense token features with their neighbours', and hashed character n-grams of each
    token with its neighbours' tokens (one sparse row per token)."""
    w = scan.words
    n = len(w)
    text = scan.text
    if n == 0:
        return np.zeros((0, len(TOKEN_FEATURES) * (1 + len(TOKEN_CONTEXT)))), sp.csr_matrix(
            (0, TOKEN_BUCKETS), dtype=np.float32)
    n_units = len(scan.texts)
    lengths = (w.last - w.first).astype(np.float64)
    oov = ((scan.df_other == 0) & (w.n_letters >= 2)).astype(np.float64)
    # The unit's main script: the script of most of its letter tokens.
    unit_script = np.zeros(n_units, dtype=np.int64)
    has_script = w.script > 0
    if has_script.any():
        n_s = len(ts.SCRIPTS) + 1
        counts = np.bincount(w.unit[has_script] * n_s + w.script[has_script],
                             weights=lengths[has_script], minlength=n_units * n_s)
        unit_script = counts.reshape(n_units, n_s).argmax(axis=1)
    foreign = (has_script & (w.script != unit_script[w.unit])).astype(np.float64)
    # Against the page's script too: a promo longer than the sentence it is glued to sets
    # the unit's script itself (`Take time. купить диплом любого вуза...`).
    page_script = np.bincount(w.script[has_script], weights=lengths[has_script],
                              minlength=len(ts.SCRIPTS) + 1).argmax() if has_script.any() else 0
    foreign_page = (has_script & (w.script != page_script)).astype(np.float64)
    # An emoji or a star glued to a word (`💰cheap`, `★free followers★`): what a keyword
    # wears to catch the eye, and what running text almost never does.
    symbol = text.cls == ts.C_SYMBOL
    symbol_left = symbol[np.maximum(w.first - 1, 0)].astype(np.float64)
    symbol_right = symbol[np.minimum(w.last, len(symbol) - 1)].astype(np.float64)
    # A common word of the language (`online`, `cheap`) against a word no page uses
    # (`togel`, `bicho`): topical vocabulary of other languages is what spam brings. The
    # unit's own share says how far that holds on this page (it is low on a German page).
    in_lex = scan.in_lexicon().astype(np.float64)
    unit_lex = scan.unit_lexicon_share()
    seam = np.zeros(len(text.cls), dtype=bool)
    seam[1:] = (text.cls[1:] == ts.C_UPPER) & (text.cls[:-1] == ts.C_LOWER)
    seam_pos = np.flatnonzero(seam)
    caps_inside = np.zeros(n)
    if len(seam_pos):
        tok = np.searchsorted(w.first, seam_pos, side="right") - 1
        ok = (tok >= 0) & (seam_pos < w.last[np.maximum(tok, 0)])
        caps_inside = np.bincount(tok[ok], minlength=n)[:n].astype(np.float64)
    # Glued: nothing but word characters between this token and its neighbour (a script
    # change or a digit/letter seam split them, not a space or punctuation).
    same_prev = np.zeros(n, dtype=bool)
    same_prev[1:] = w.unit[1:] == w.unit[:-1]
    glued_left = np.zeros(n)
    glued_left[1:] = (same_prev[1:] & (w.first[1:] == w.last[:-1])).astype(np.float64)
    glued_right = np.zeros(n)
    glued_right[:-1] = glued_left[1:]
    first_in = (~same_prev).astype(np.float64)
    last_in = np.ones(n)
    last_in[:-1] = (w.unit[1:] != w.unit[:-1]).astype(np.float64)
    per_unit = np.bincount(w.unit, minlength=n_units).astype(np.float64)
    unit_oov = np.bincount(w.unit, weights=oov, minlength=n_units) / np.maximum(per_unit, 1)
    unit_len = np.log1p((text.end - text.start)[:n_units].astype(np.float64))
    pair_prev = _known_pair(scan, np.arange(n) - 1, np.arange(n))
    base = np.column_stack([
        oov, np.log1p(scan.df_other), np.log1p(lengths),
        ((w.n_digits > 0) & (w.n_letters > 0)).astype(np.float64),
        (w.n_letters == 0).astype(np.float64), w.n_upper / np.maximum(lengths, 1), caps_inside,
        foreign, np.isin(w.script, list(ts.NO_SPACE_SCRIPTS)).astype(np.float64), glued_left,
        glued_right, first_in, last_in, unit_oov[w.unit], unit_len[w.unit], in_lex,
        unit_lex[w.unit], foreign_page, symbol_left, symbol_right,
        # Fluency: whether the token pairs with its neighbours as real text does, and whether
        # its neighbours pair with each other without it (a keyword glued between words).
        pair_prev, np.append(pair_prev[1:], -1.0),  # a token's next pair is the next's previous
        _known_pair(scan, np.arange(n) - 1, np.arange(n) + 1),
    ]).astype(np.float32)  # what the token model reads: neighbours' copies cost half as much
    cols = [base]
    for off in TOKEN_CONTEXT:
        shifted = np.full_like(base, -1.0)
        if off < 0:
            shifted[-off:] = base[: n + off]
            same = np.zeros(n, dtype=bool)
            same[-off:] = w.unit[-off:] == w.unit[: n + off]
        else:
            shifted[: n - off] = base[off:]
            same = np.zeros(n, dtype=bool)
            same[: n - off] = w.unit[: n - off] == w.unit[off:]
        shifted[~same] = -1.0
        cols.append(shifted)
    dense = np.hstack(cols)
    # Hashed n-grams: the token's own word hash, its character trigrams, and the words next
    # to it, so the model can learn vocabulary of spam topics without any list.
    rows_l = [np.arange(n)]
    cols_l = [(w.hash % np.uint64(TOKEN_BUCKETS)).astype(np.int64)]
    for off, salt in ((-1, 11), (1, 13)):
        idx = np.arange(n) + off
        ok = (idx >= 0) & (idx < n)
        ok[ok] &= w.unit[idx[ok]] == w.unit[ok]
        with np.errstate(over="ignore"):
            h = ts._mix(w.hash[idx[ok]] + np.uint64(salt))
        rows_l.append(np.flatnonzero(ok))
        cols_l.append((h % np.uint64(TOKEN_BUCKETS)).astype(np.int64))
    tri_rows, tri_cols = _token_trigrams(scan)
    rows_l.append(tri_rows)
    cols_l.append(tri_cols)
    sparse = ts._normalised(rows_l, cols_l, n, TOKEN_BUCKETS)
    return dense, sparse


def _token_trigrams(scan: Scan) -> tuple[np.ndarray, np.ndarray]:
    """Hashed character trigrams inside each token (with a boundary mark at both ends)."""
    w = scan.words
    folded = ts.fold(scan.text).astype(np.uint64)
    lengths = w.last - w.first
    n = len(w)
    # Code points of every token, padded with a boundary mark (0) on both sides.
    padded_len = lengths + 2
    offs = np.concatenate([[0], np.cumsum(padded_len)[:-1]])
    total = int(padded_len.sum())
    seq = np.zeros(total, dtype=np.uint64)
    tok_of = np.repeat(np.arange(n), padded_len)
    pos = np.arange(total) - offs[tok_of]
    inner = (pos >= 1) & (pos <= lengths[tok_of])
    seq[inner] = folded[w.first[tok_of[inner]] + pos[inner] - 1] + np.uint64(1)
    if total < 3:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    with np.errstate(over="ignore"):
        h = (seq[:-2] * ts._P3 + seq[1:-1]) * ts._P3 + seq[2:]
        h = ts._mix(h + np.uint64(3))
    same = tok_of[:-2] == tok_of[2:]
    return tok_of[:-2][same], (h[same] % np.uint64(TOKEN_BUCKETS)).astype(np.int64)


@dataclass
class Candidates:
    """Candidate spans: the scanned unit (index into `Scan.texts`), offsets, and their kind."""

    unit: np.ndarray
    start: np.ndarray
    end: np.ndarray
    kind: np.ndarray
    first_tok: np.ndarray  # token range [first_tok, last_tok) of the candidate (-1: none)
    last_tok: np.ndarray
    fused_df: np.ndarray  # KIND_JOIN: content units using the fused word
    page_tokens: int = 0  # tokens of the scanned units: how much page there is to go by

    def __len__(self) -> int:
        return len(self.unit)


def candidates(scan: Scan, token_score: np.ndarray, threshold: float,
               edge_threshold: float = 0.3) -> Candidates:
    """Candidate spans built from runs of tokens scoring above `threshold`, starting and
    ending at tokens scoring above `edge_threshold`."""
    # Copies of a keyword in other lines do not vouch for it (`without_suspect_vouching`).
    scan = scan.without_suspect_vouching(token_score >= VOUCH_THRESHOLD)
    w = scan.words
    n = len(w)
    units, starts, ends, kinds, ft, lt, fused = [], [], [], [], [], [], []

    def add(u: int, a: int, b: int, kind: int, t0: int, t1: int, f: int = 0) -> None:
        units.append(u)
        starts.append(a)
        ends.append(b)
        kinds.append(kind)
        ft.append(t0)
        lt.append(t1)
        fused.append(f)

    hot = token_score >= threshold
    unit_lo, unit_hi = _token_unit_bounds(w.unit, len(scan.texts))
    if n and hot.any():
        # Bridge one cold token between two hot ones of the same unit ("8k8 login vip").
        bridged = hot.copy()
        if n > 2:
            mid = (~hot[1:-1]) & hot[:-2] & hot[2:] & (w.unit[:-2] == w.unit[2:])
            bridged[1:-1] |= mid
        boundary = np.ones(n, dtype=bool)
        boundary[1:] = (w.unit[1:] != w.unit[:-1]) | (bridged[1:] != bridged[:-1])
        seg_start = np.flatnonzero(boundary)
        seg_end = np.concatenate([seg_start[1:], [n]])
        for a, b in zip(seg_start.tolist(), seg_end.tolist()):
            if not bridged[a]:
                continue
            u = int(w.unit[a])
            lo, hi = int(unit_lo[u]), int(unit_hi[u])
            base = int(scan.text.start[u])
            text = scan.texts[u]
            # Every stretch of the run from a hot token to a hot token at most MAX_SPAN_TOKENS
            # later (a long run of unknown words may hold a short keyword), with its edges
            # moved to seams inside the edge tokens and one token out.
            # Joins start at any unknown token of the run: the page's vocabulary, not the
            # token's score, is what vouches for them.
            for i in range(a, b):
                _join_candidates(scan, u, i, min(hi, i + MAX_SPAN_TOKENS), base, add,
                                 use_lexicon=bool(token_score[i] >= edge_threshold))
            # A word of a script written without spaces is one token per character
            # (`หวยออนไลน์`, `刷粉丝`): the whole glued stretch, however long and however
            # cold its first character, is one candidate.
            for x, y in _no_space_runs(scan, a, b, base, lo, hi):
                add(u, _glued_symbols_before(text, x), _glued_symbols_after(text, y),
                    KIND_RUN, a, b)
                if _encloses(text, x, y):
                    add(u, x - 1, y + 1, KIND_RUN, a, b)
            hot_in = [t for t in range(a, b) if token_score[t] >= edge_threshold]
            cuts = {t: _cuts(scan, t, base) for t in hot_in}
            for i in hot_in:
                begins = {int(w.first[i]) - base, *cuts[i]}
                if i > lo and i == a:
                    begins.add(int(w.first[i - 1]) - base)
                if i == hot_in[0]:
                    # ... and at the warm tokens of the run just before its first hot one: a
                    # keyword's first word is often barely suspect (`xổ:0.06 số:0.29
                    # npf68:0.37`); and likewise after its last hot one.
                    begins.update(int(w.first[t]) - base
                                  for t in range(max(a, i - WARM_EDGE), i))
                begins |= {_glued_symbols_before(text, x) for x in begins}
                for j in hot_in:
                    if j < i or j - i >= MAX_SPAN_TOKENS:
                        continue
                    finishes = {int(w.last[j]) - base, *cuts[j]}
                    if j < hi - 1 and j == b - 1:
                        finishes.add(int(w.last[j + 1]) - base)
                    if j == hot_in[-1]:
                        finishes.update(int(w.last[t]) - base
                                        for t in range(j + 1, min(b, j + 1 + WARM_EDGE)))
                    finishes |= {_glued_symbols_after(text, y) for y in finishes}
                    for x in begins:
                        for y in finishes:
                            if y > x:
                                add(u, x, y, KIND_RUN, i, j + 1)
                                if _encloses(text, x, y):
                                    add(u, x - 1, y + 1, KIND_RUN, i, j + 1)
    # Joins at unknown tokens outside every run: a word broken by a splice of unseen junk is
    # often cold (`Annhelvetetotated`, 0.00), but the word it rejoins into (`Annotated`)
    # vouches for the cut. Only on pages in the lexicon's language: in German compounds a
    # word the page uses is inside many others.
    if n and scan.in_lexicon_language():
        in_run = bridged if hot.any() else np.zeros(n, dtype=bool)
        cold = ~in_run & (scan.df_other == 0) & (w.n_letters >= COLD_JOIN_LETTERS)
        for t in np.flatnonzero(cold).tolist():
            u = int(w.unit[t])
            _join_candidates(scan, u, t, min(int(unit_hi[u]) - 1, t + COLD_JOIN_TOKENS),
                             int(scan.text.start[u]), add)
    # Promos appended to a line or put before it: the last or first one to three sentences,
    # and, for lines that do not end in a stop (headings, list items), the tail from a
    # capitalised word shortly before the hot tokens (or the head up to one after them).
    # Only in units with a token hot enough to be the edge of a run: a sentence candidate is
    # long, and most of what the text model reads; units whose tokens are all barely warm
    # almost never hold an appended promo (none of 122 on injected dev pages).
    hot_units = set(w.unit[token_score >= max(threshold, edge_threshold)].tolist()) if n else set()
    for u, t in enumerate(scan.texts):
        if len(t) < 25 or u not in hot_units:
            continue
        base = int(scan.text.start[u])
        in_unit = np.flatnonzero(w.unit == u)
        hot_tok = in_unit[hot[in_unit]]
        hot_pos = w.first[hot_tok] - base
        sents = sentences(t)
        for k in range(1, min(3, len(sents) - 1) + 1):
            for a, b in ((sents[-k][0], sents[-1][1]), (sents[0][0], sents[k - 1][1])):
                if ((hot_pos >= a) & (hot_pos < b)).any():
                    add(u, a, b, KIND_SENTENCE, -1, -1)
        last_hot = int(hot_tok[-1])
        lo_tok, hi_tok = int(in_unit[0]), int(in_unit[-1])
        # A tail may begin shortly before the first hot token, at a capital, a non-letter or
        # a change of script; and at any hot token where the script changes, however far in
        # (`...#1ee3ad66737d 출장마사지...`). Not at every capital: German capitalises
        # every noun.
        first_hot = int(hot_tok[0])
        # ... and up to the first token hot enough to be an edge: a warm last word of the
        # real sentence (`routine tasks Get 500 real followers...`) must not end the window
        # before the promo's first word.
        edge_tok = in_unit[token_score[in_unit] >= edge_threshold]
        last_start = int(edge_tok[0]) if len(edge_tok) else first_hot
        last_start = min(max(last_start, first_hot), first_hot + TAIL_LOOKBACK)
        tails = set(range(max(lo_tok + 1, first_hot - TAIL_LOOKBACK), last_start + 1))
        tails.update(int(x) for x in hot_tok if x > lo_tok and w.script[x] != w.script[x - 1])
        for t0 in sorted(tails):
            a = int(w.first[t0]) - base
            if t[a].isupper() or not t[a].isalpha() or w.script[t0] != w.script[t0 - 1]:
                add(u, a, len(t.rstrip()), KIND_SENTENCE, -1, -1)
        for t1 in range(last_hot, min(hi_tok - 1, last_hot + TAIL_LOOKBACK) + 1):
            nxt = int(w.first[t1 + 1]) - base
            if t[nxt].isupper():
                add(u, 0, int(w.last[t1]) - base + _trailing_stop(t, int(w.last[t1]) - base),
                    KIND_SENTENCE, -1, -1)
    if not units:
        z = np.zeros(0, dtype=np.int64)
        return Candidates(z, z, z, z, z, z, z, page_tokens=n)
    arr = [np.asarray(x, dtype=np.int64) for x in (units, starts, ends, kinds, ft, lt, fused)]
    # The same offsets may come from several runs; keep one.
    key = np.unique(np.stack(arr[:3]).T, axis=0, return_index=True)[1]
    return Candidates(*(x[np.sort(key)] for x in arr), page_tokens=n)


_SENTENCE_PUNCT = re.compile(r"[,;:.!?—–()\[\]]")
VOUCH_THRESHOLD = 0.1  # token score at which a word's copy no longer vouches for it
TAIL_LOOKBACK = 10  # tokens before the first hot token where a glued promo may begin
COLD_JOIN_TOKENS = 3  # tokens after a cold unknown one that a join's cut may end in
COLD_JOIN_LETTERS = 6  # a cold token shorter than this costs lookups and rejoined none
WARM_EDGE = 2  # warm tokens of a run either side of a hot edge that may edge a candidate


def _trailing_stop(text: str, pos: int) -> int:
    """Length of the stop (and closing quote) right after `pos`: a prepended promo's end."""
    m = re.compile(r"[.!?。！？]+[\"'”’]?").match(text, pos)
    return m.end() - pos if m else 0


_SENTENCE_END = re.compile(r"[.!?…]+[\"'”’)\]]*(?=\s|$)|[。！？]+[”’」』)]*")


def sentences(text: str) -> list[tuple[int, int]]:
    """(start, end) of each sentence, spaces trimmed. A stop ends a sentence only before a
    space or the end (so `jili777.vip` and `3.5` do not); CJK stops need no space."""
    out = []
    pos = 0
    for m in _SENTENCE_END.finditer(text):
        out.append((pos, m.end()))
        pos = m.end()
    if pos < len(text):
        out.append((pos, len(text)))
    trimmed = []
    for a, b in out:
        seg = text[a:b]
        a2, b2 = a + len(seg) - len(seg.lstrip()), b - (len(seg) - len(seg.rstrip()))
        if b2 > a2:
            trimmed.append((a2, b2))
    return trimmed


def _glued_symbols_after(text: str, pos: int) -> int:
    """`pos` moved right over symbols glued to the end of a span (`刷粉丝✅`, `6y6★`)."""
    while pos < len(text) and not text[pos].isspace() and not text[pos].isalnum() and \
            text[pos] not in _TEXT_PUNCT:
        pos += 1
    return pos


_PAIRS = {"(": ")", "[": "]", "{": "}", "「": "」", "『": "』", "【": "】", "（": "）", "«": "»",
          "“": "”", '"': '"'}


def _encloses(text: str, a: int, b: int) -> bool:
    """Whether `text[a:b]` sits right inside a pair of brackets or quotes glued to a word on
    at least one side (`audien[escort service]ce`): the brackets belong to the splice."""
    if a < 1 or b >= len(text) or _PAIRS.get(text[a - 1]) != text[b]:
        return False
    return (a >= 2 and text[a - 2].isalnum()) or (b + 1 < len(text) and text[b + 1].isalnum())


def _glued_symbols_before(text: str, pos: int) -> int:
    """`pos` moved left over symbols glued to the span (an emoji or a star put before a
    keyword to catch the eye), not over punctuation that belongs to the text before."""
    while pos > 0 and not text[pos - 1].isspace() and not text[pos - 1].isalnum() and \
            text[pos - 1] not in _TEXT_PUNCT:
        pos -= 1
    return pos


_TEXT_PUNCT = frozenset(",.;:!?'\"()[]{}-–—/\\«»“”‘’")


def _cuts(scan: Scan, t: int, base: int) -> list[int]:
    """Cut points inside token t where a splice may begin or end: a lower-to-upper case seam
    (`ItBahis`), a letter/digit seam (`parFf68`), or a split leaving one side a word the page
    uses (`on|pinjol`, `super|the`) and the other side unknown to it."""
    w = scan.words
    text = scan.texts[int(w.unit[t])]
    a, b = int(w.first[t]) - base, int(w.last[t]) - base
    tok = text[a:b]
    out = []
    for k in range(1, len(tok)):
        x, y = tok[k - 1], tok[k]
        if (x.islower() and y.isupper()) or (x.isalpha() != y.isalpha()) or (
            k >= 2 and tok[k - 2].isupper() and x.isupper() and y.islower()
            and k + 1 < len(tok) and tok[k + 1].islower()
        ):  # `ItBahis`, `parFf68`, `LIKESsatellite`
            out.append(a + k)
    if scan.df_other[t] == 0 and len(tok) >= 5:
        # A glued word: one side a word the page uses, the other (at least four letters)
        # unknown to it; or, the token itself unknown, two words the page uses (`me|and`).
        low = tok.lower()
        for k in range(2, len(tok) - 1):
            head, tail = low[:k], low[k:]
            known_head, known_tail = scan.word_df(head) > 0, scan.word_df(tail) > 0
            if (len(tail) >= 4 and known_head and not known_tail) or (
                len(head) >= 4 and known_tail and not known_head
            ) or (len(tail) >= 3 and known_head and known_tail):
                out.append(a + k)
    return out


def _no_space_runs(scan: Scan, a: int, b: int, base: int, lo: int,
                   hi: int) -> list[tuple[int, int]]:
    """Unit offsets of the stretches of glued characters of one script written without
    spaces that tokens a..b-1 reach into. In a unit mostly of another script, each stretch
    of two characters or more, extended to the whole glued stretch within the unit's tokens
    lo..hi-1: the keyword's first character may score cold (`刷` of `刷粉丝`, 0.02). In a
    unit of that script itself (a Chinese line is one glued stretch per clause), only the
    part inside the run, and only when longer than MAX_SPAN_TOKENS."""
    w = scan.words
    out = []
    t = a
    while t < b:
        script = w.script[t]
        if script not in ts.NO_SPACE_SCRIPTS:
            t += 1
            continue
        foreign = int((w.script[lo:hi] == script).sum()) * 2 < hi - lo
        first, last = (lo, hi) if foreign else (a, b)
        s, e = t, t + 1
        while s > first and w.script[s - 1] == script and w.first[s] == w.last[s - 1]:
            s -= 1
        while e < last and w.script[e] == script and w.first[e] == w.last[e - 1]:
            e += 1
        if e - s > MAX_SPAN_TOKENS or (foreign and e - s >= 2):
            out.append((int(w.first[s]) - base, int(w.last[e - 1]) - base))
        t = e
    return out


def _token_unit_bounds(token_unit: np.ndarray, n_units: int) -> tuple[np.ndarray, np.ndarray]:
    """Per unit, its first token and one past its last (tokens are in unit order)."""
    return (np.searchsorted(token_unit, np.arange(n_units), side="left"),
            np.searchsorted(token_unit, np.arange(n_units), side="right"))


def _join_candidates(scan: Scan, u: int, a: int, b: int, base: int, add,  # noqa: ANN001
                     use_lexicon: bool = True) -> None:
    """Cuts from inside token `a` to inside a later unknown token (up to `b`) such that what
    is left on both sides fuses into one word the page's content uses elsewhere:
    `Chan|8k8 withdrawal|g'e` -> `Chang'e`. The shortest such cut wins.

    Looked up, not searched: for each head of token `a`, the page's words that start with it
    give the tails to look for at the end of each later word. The words broken by a splice
    are no words (`Chan8k8`, `withdrawalg'e`): a whole word of the lexicon at either edge
    (`boils before reaching`) is not a splice.
    """
    w = scan.words
    text = scan.texts[u]
    if scan.df_other[a] != 0:
        return  # a word the page uses elsewhere is not half of a splice
    left = (int(w.first[a]) - base, int(w.last[a]) - base)
    word_start = text.rfind(" ", 0, left[0] + 1) + 1
    first_space = text.find(" ", left[0])
    if _is_lexicon_word(_bare(text[word_start:len(text) if first_space < 0 else first_space]
                              .lower()), scan.lexicon):
        return
    ends = set()
    for t in range(a, min(b + 1, len(w))):
        if int(w.unit[t]) == u and scan.df_other[t] == 0:
            # The fused word's tail may run past the token (apostrophes, hyphens): the end
            # of the whole whitespace-delimited word, bare of punctuation.
            space = text.find(" ", int(w.last[t]) - base)
            end = len(text) if space < 0 else space
            while end > 0 and text[end - 1] in _PUNCT:
                end -= 1
            start = text.rfind(" ", 0, end) + 1
            if not _is_lexicon_word(_bare(text[start:end].lower()), scan.lexicon):
                ends.add(end)
    if not ends:
        return
    # A word of the line itself does not vouch for a join: cutting `crypto a` out of
    # `Acrypto airdrop` rebuilds `airdrop`, not a word the splice broke.
    own = scan.own_words(u)
    # Cuts inside the token, or at its start when it is glued to letters before it
    # (`Sea|🎰free followers|rch`: the splice begins at the emoji).
    heads = list(range(left[0] + 1, min(left[1], word_start + MAX_JOIN_HEAD)))
    if left[0] > word_start:
        glued = _glued_symbols_before(text, left[0])
        heads.insert(0, glued)
        if glued - 1 > word_start and text[glued - 1] in _OPENERS:
            heads.insert(0, glued - 1)  # a bracketed keyword: `M[cheap cialis]aster`
    best: tuple[int, int, int] | None = None
    for cut_a in heads:
        head = text[word_start:cut_a]
        if not head[-1:].isalpha():
            continue
        key = _bare(head.lower())
        for word in scan.words_with_prefix(key):
            if word in own and scan.word_df(word) < 2:
                continue
            tail = word[len(key):]
            for right_end in ends:
                cut_b = right_end - len(tail)
                if cut_b < cut_a + 3 or text[cut_b:right_end].lower() != tail:
                    continue
                if text[cut_b - 1].isspace() or _crosses_clause(text, cut_a, cut_b):
                    continue  # a splice is a keyword, not a stretch across clauses
                if (best is None or cut_b - cut_a < best[1] - best[0]) and \
                        _cut_is_foreign(scan, u, base, cut_a, cut_b):
                    best = (cut_a, cut_b, scan.word_df(word))
    if best is None and scan.lexicon and use_lexicon:
        # No page word: a common word of the language, rejoined from the shortest cut (its
        # fused_df is 0, which tells the scorer the page itself does not vouch for it).
        for cut_a in heads:
            head = text[word_start:cut_a]
            if not head[-1:].isalpha():
                continue
            for right_end in ends:
                for cut_b in range(max(cut_a + 3, right_end - MAX_JOIN_HEAD), right_end):
                    if best is not None and cut_b - cut_a >= best[1] - best[0]:
                        continue
                    if text[cut_b - 1].isspace() or not text[cut_b].isalpha():
                        continue
                    word = _bare((head + text[cut_b:right_end]).lower())
                    if len(word) > MIN_FUSED_CHARS and word in scan.lexicon and \
                            word not in own and \
                            not _crosses_clause(text, cut_a, cut_b) and \
                            _cut_is_foreign(scan, u, base, cut_a, cut_b):
                        best = (cut_a, cut_b, 0)
    if best is not None:
        add(u, best[0], best[1], KIND_JOIN, a, b, best[2])


def _crosses_clause(text: str, a: int, b: int) -> bool:
    """Whether the cut `text[a:b]` holds clause punctuation inside its keyword. A pair of
    brackets at its very edges is what the keyword wears (`M[cheap cialis]aster`,
    `hel(成人视频)d`), not a stretch across clauses."""
    if b - a >= 2 and text[a] in _OPENERS and text[b - 1] in _CLOSERS:
        a, b = a + 1, b - 1
    return _SENTENCE_PUNCT.search(text, a, b) is not None


_INFLECTIONS = ("'s", "s", "es", "ed", "d", "ing", "ly", "er", "ers")


def _is_lexicon_word(word: str, lexicon: Collection[str]) -> bool:
    """Whether `word` is a lexicon word or one inflected (`depths`, `restricting`): the
    lexicon holds the words that three pages use, and a plural or a participle it misses is
    still no word a splice broke."""
    if word in lexicon:
        return True
    return any(word.endswith(x) and len(word) - len(x) >= MIN_FUSED_CHARS
               and word[: -len(x)] in lexicon for x in _INFLECTIONS)


def _cut_is_foreign(scan: Scan, u: int, base: int, a: int, b: int) -> bool:
    """Whether the whole tokens inside a join's cut are mostly words the rest of the page
    does not use: a splice brings its own words, while cutting `l be free to atten` out of
    `will be free to attend` (leaving `wild`) removes the page's own."""
    w = scan.words
    lo = int(np.searchsorted(w.first, base + a))
    hi = int(np.searchsorted(w.first, base + b))
    inside = [t for t in range(lo, hi) if w.unit[t] == u and w.last[t] <= base + b]
    if not inside:
        return True
    return int((scan.df_other[inside] > 0).sum()) * 2 <= len(inside)


SPAN_FEATURES = (
    "kind_run", "kind_sentence", "kind_join", "fused_df", "n_tokens", "log_chars", "share_of_unit",
    "at_start", "at_end", "tok_score_mean", "tok_score_max", "tok_score_min", "oov_share",
    "mixed_share", "foreign_share", "caps_share", "left_tok_score", "right_tok_score",
    "left_oov", "right_oov", "glued_left", "glued_right", "cut_in_word_left",
    "cut_in_word_right", "span_spam", "unit_spam", "span_content", "unit_content", "unit_len",
    "has_url", "enclosed", "title_case", "lexicon_share", "unit_lexicon_share",
    "foreign_to_page_share", "pair_across_known", "pair_left_edge_known",
    "pair_right_edge_known", "rest_max_score", "rest_mean_score", "near_max_score",
    "hot_covered", "unit_hot", "score_gap",
)


def span_features(scan: Scan, cands: Candidates, token_score: np.ndarray,
                  text_scorer: object | None, token_base: np.ndarray | None = None) -> np.ndarray:
    """One row of span-level features per candidate."""
    m = len(cands)
    if m == 0:
        return np.zeros((0, len(SPAN_FEATURES)))
    w = scan.words
    texts = scan.texts
    n_tok = len(w)
    cum = lambda x: np.concatenate([[0.0], np.cumsum(x)])  # noqa: E731
    oov = ((scan.df_other == 0) & (w.n_letters >= 2)).astype(np.float64)
    mixed = ((w.n_digits > 0) & (w.n_letters > 0)).astype(np.float64)
    dense_base = token_base if token_base is not None else np.zeros((n_tok, len(TOKEN_FEATURES)))
    foreign_t = dense_base[:, TOKEN_FEATURES.index("foreign")]
    caps_t = (dense_base[:, TOKEN_FEATURES.index("caps_inside")] > 0).astype(np.float64)
    c_score, c_oov, c_mixed = cum(token_score), cum(oov), cum(mixed)
    c_foreign, c_caps = cum(foreign_t), cum(caps_t)
    c_lex = cum(dense_base[:, TOKEN_FEATURES.index("in_lexicon")])
    c_foreign_page = cum(dense_base[:, TOKEN_FEATURES.index("foreign_to_page")])
    base = scan.text.start[cands.unit]
    # Token range of every candidate from its offsets (sentences and joins included).
    a_abs = base + cands.start
    b_abs = base + cands.end
    t0 = np.searchsorted(w.last, a_abs, side="right") if n_tok else np.zeros(m, dtype=np.int64)
    t1 = np.searchsorted(w.first, b_abs, side="left") if n_tok else np.zeros(m, dtype=np.int64)
    cnt = np.maximum(t1 - t0, 0).astype(np.float64)
    safe = np.maximum(cnt, 1.0)
    mean_score = (c_score[t1] - c_score[t0]) / safe if n_tok else np.zeros(m)
    max_score, min_score = _range_max_min(token_score, t0, t1)
    unit_len = np.array([len(texts[u]) for u in cands.unit.tolist()], dtype=np.float64)
    left_i, right_i = t0 - 1, t1
    def nb(values: np.ndarray, idx: np.ndarray) -> np.ndarray:
        ok = (idx >= 0) & (idx < n_tok)
        out = np.full(m, -1.0)
        ok[ok] &= w.unit[idx[ok]] == cands.unit[ok]
        out[ok] = values[idx[ok]]
        return out
    seg_texts = [texts[u][a:b] for u, a, b in
                 zip(cands.unit.tolist(), cands.start.tolist(), cands.end.tolist())]
    # The characters around each candidate, read off the joined text: the separator (a
    # newline) before and after a unit reads as a space does.
    joined = scan.text.text
    a_l, b_l = a_abs.tolist(), b_abs.tolist()
    before = [joined[x - 1] for x in a_l]
    after = [joined[y] for y in b_l]
    glued_l = np.array([not c.isspace() for c in before], dtype=np.float64)
    glued_r = np.array([not c.isspace() for c in after], dtype=np.float64)
    in_word_l = np.array([c.isalnum() and joined[x].isalnum() for c, x in zip(before, a_l)],
                         dtype=np.float64)
    in_word_r = np.array([c.isalnum() and joined[y - 1].isalnum() for c, y in zip(after, b_l)],
                         dtype=np.float64)
    span_spam = unit_spam = span_content = unit_content = np.zeros(m)
    if text_scorer is not None:
        # The text model on each candidate, and once on each unit that has candidates (what
        # a real line looks like to it, against what the stretch looks like).
        ps = text_scorer(seg_texts)
        units_with = np.unique(cands.unit)
        pu = np.zeros((len(texts), 3))
        pu[units_with] = text_scorer([texts[u] for u in units_with])
        span_spam, span_content = ps[:, 2], ps[:, 0]
        unit_spam, unit_content = pu[cands.unit, 2], pu[cands.unit, 0]
    has_url = np.array([float(bool(_URLISH.search(s))) for s in seg_texts])
    enclosed = np.array([c in _OPENERS or d in _CLOSERS
                         or (c == " " and joined[x - 2] in _OPENERS and a >= 2)
                         for c, d, x, a in zip(before, after, a_l, cands.start.tolist())],
                        dtype=np.float64)
    title_case = np.array([_title_share(x) for x in seg_texts])
    length = (cands.end - cands.start).astype(np.float64)
    foreign = (c_foreign[t1] - c_foreign[t0]) / safe if n_tok else np.zeros(m)
    caps = (c_caps[t1] - c_caps[t0]) / safe if n_tok else np.zeros(m)
    lex = (c_lex[t1] - c_lex[t0]) / safe if n_tok else np.zeros(m)
    foreign_page = (c_foreign_page[t1] - c_foreign_page[t0]) / safe if n_tok else np.zeros(m)
    unit_lex = scan.unit_lexicon_share()[cands.unit]
    return np.column_stack([
        cands.kind == KIND_RUN, cands.kind == KIND_SENTENCE, cands.kind == KIND_JOIN,
        np.log1p(cands.fused_df), cnt, np.log1p(length), length / np.maximum(unit_len, 1),
        cands.start == 0, cands.end >= unit_len, mean_score, max_score, min_score,
        (c_oov[t1] - c_oov[t0]) / safe if n_tok else np.zeros(m),
        (c_mixed[t1] - c_mixed[t0]) / safe if n_tok else np.zeros(m), foreign, caps,
        nb(token_score, left_i), nb(token_score, right_i), nb(oov, left_i), nb(oov, right_i),
        glued_l, glued_r, in_word_l, in_word_r, span_spam, unit_spam, span_content,
        unit_content, np.log1p(unit_len), has_url, enclosed, title_case, lex, unit_lex,
        foreign_page, _known_pair(scan, left_i, right_i), _known_pair(scan, left_i, t0),
        _known_pair(scan, t1 - 1, right_i),
        _against_rest(scan, cands.unit, t0, t1, token_score, glued_l, glued_r),
    ]).astype(np.float64)


HOT_TOKEN = 0.3  # a token score that makes a token suspect (`_against_rest`)
NEAR_TOKENS = 3


def _against_rest(scan: Scan, unit: np.ndarray, t0: np.ndarray, t1: np.ndarray,
                  token_score: np.ndarray, glued_l: np.ndarray, glued_r: np.ndarray
                  ) -> np.ndarray:
    """How each candidate's tokens [t0, t1) stand against the rest of their unit: the right
    cut takes every suspect token of the line and leaves plain text on both sides, while a
    cut one word short leaves a hot token beside it, and one into the real sentence takes
    cold ones. Columns: the highest and the mean score of the unit's other tokens, the
    highest within NEAR_TOKENS of either edge, the share of the unit's suspect tokens the
    candidate covers, how many suspect tokens the unit has, and the mean score inside less
    the mean outside. A token glued to the candidate (`먹튀검증업체I think`) is left out: it
    is warm for being glued to a suspect, and its own score is a feature already."""
    unit_lo, unit_hi = _token_unit_bounds(scan.words.unit, len(scan.texts))
    lo, hi = unit_lo[unit], unit_hi[unit]
    t0 = np.clip(t0, lo, hi)
    t1 = np.clip(t1, t0, hi)
    # The rest of the unit is [lo, left_end) and [right_start, hi).
    left_end = np.maximum(lo, t0 - (glued_l > 0))
    right_start = np.minimum(hi, t1 + (glued_r > 0))
    left_max, _ = _range_max_min(token_score, lo, left_end)
    right_max, _ = _range_max_min(token_score, right_start, hi)
    near_left, _ = _range_max_min(token_score, np.maximum(lo, left_end - NEAR_TOKENS), left_end)
    near_right, _ = _range_max_min(token_score, right_start,
                                   np.minimum(hi, right_start + NEAR_TOKENS))
    score_sum = np.concatenate([[0.0], np.cumsum(token_score)])
    hot_sum = np.concatenate([[0.0], np.cumsum(token_score >= HOT_TOKEN)])
    n_rest = (left_end - lo) + (hi - right_start)
    rest_mean = np.where(n_rest > 0, ((score_sum[left_end] - score_sum[lo]) + (score_sum[hi]
                         - score_sum[right_start])) / np.maximum(n_rest, 1), -1.0)
    unit_hot = (hot_sum[left_end] - hot_sum[lo]) + (hot_sum[hi] - hot_sum[right_start]) + \
        (hot_sum[t1] - hot_sum[t0])
    covered = np.where(unit_hot > 0, (hot_sum[t1] - hot_sum[t0]) / np.maximum(unit_hot, 1), 1.0)
    inside_mean = (score_sum[t1] - score_sum[t0]) / np.maximum(t1 - t0, 1)
    return np.column_stack([np.maximum(left_max, right_max), rest_mean,
                            np.maximum(near_left, near_right), covered, np.log1p(unit_hot),
                            inside_mean - np.maximum(rest_mean, 0.0)])


def _range_max_min(values: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray,
                                                                                np.ndarray]:
    """Max and min of `values[lo[i]:hi[i]]` for every i (0 where the range is empty), with
    one `reduceat` each rather than a loop over candidates."""
    out_max, out_min = np.zeros(len(lo)), np.zeros(len(lo))
    ok = hi > lo
    if ok.any():
        padded = np.append(values, 0.0)  # a range may end at len(values)
        idx = np.column_stack([lo[ok], hi[ok]]).ravel()
        out_max[ok] = np.maximum.reduceat(padded, idx)[::2]
        out_min[ok] = np.minimum.reduceat(padded, idx)[::2]
    return out_max, out_min


_OPENERS = frozenset("([{\"'“‘«「『（【")
_CLOSERS = frozenset(")]}\"'”’»」』）】")


def _title_share(text: str) -> float:
    """Share of the words that start with a capital: names are rarely spam, keywords are
    lower-case or brand-shaped."""
    words = [x for x in text.split() if x[:1].isalpha()]
    return sum(x[0].isupper() and x[1:2].islower() for x in words) / len(words) if words else 0.0


_URLISH = re.compile(r"https?://|www\.|(?<=[A-Za-z0-9])\.(?:[a-z]{2,6})\b")


TOKEN_TREES = 60
_SHAPE_COLUMNS = [TOKEN_FEATURES.index(n) for n in
                  ("mixed", "caps_inside", "foreign", "glued_left", "glued_right")]
UNIT_GATE = 0.02  # n-gram opinion of a token that makes its unit worth scanning


# Transposed weights per fitted model, kept beside (not inside) the model so they are never
# pickled into an artifact.
_COEF_T: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def linear_proba(model: SGDClassifier, X: sp.csr_matrix) -> np.ndarray:
    """`model.predict_proba(X)` for a log-loss SGDClassifier without scikit-learn's
    per-call validation, which costs more than the product on the few rows of one page."""
    coef_t = _COEF_T.get(model)
    if coef_t is None:
        coef_t = np.ascontiguousarray(model.coef_.T, dtype=np.float32)
        _COEF_T[model] = coef_t
    scores = np.asarray(X @ coef_t) + model.intercept_
    if scores.shape[1] == 1:
        p = 1.0 / (1.0 + np.exp(-scores[:, 0]))
        return np.column_stack([1.0 - p, p])
    prob = 1.0 / (1.0 + np.exp(-scores))
    prob /= prob.sum(axis=1, keepdims=True)
    return prob


# Columns the token model reads: the dense token features with their neighbours'
# (`token_features`), then the n-gram opinion of the token and its two neighbours.
TOKEN_MODEL_COLUMNS = len(TOKEN_FEATURES) * (1 + len(TOKEN_CONTEXT)) + 3


def _with_ngrams(dense: np.ndarray, ngram: np.ndarray, token_unit: np.ndarray) -> np.ndarray:
    """Dense token features with the n-gram opinion of the token and of its two neighbours
    (-1 where the neighbour is in another unit), as float32: what the trees read."""
    n = len(ngram)
    ngram = ngram.astype(np.float32)
    prev = np.full(n, -1.0, dtype=np.float32)
    nxt = np.full(n, -1.0, dtype=np.float32)
    if n > 1:
        same = token_unit[1:] == token_unit[:-1]
        prev[1:] = np.where(same, ngram[:-1], np.float32(-1.0))
        nxt[:-1] = np.where(same, ngram[1:], np.float32(-1.0))
    return np.column_stack([dense.astype(np.float32, copy=False), ngram, prev, nxt])


# The candidate scorer (`SpanDetector.fit`, `SpanDetector.score`).
SPAM_SHARE = 0.5  # share of spam characters that makes a cut one that removes spam
EDGE_ABSOLUTE = 0.25  # weight of a candidate's own edge probability against its rivals
RIVAL_BLOCK = 256  # candidates compared with their unit's others at a time (`_rivals_best`)


class SpanDetector(ClassifierMixin, BaseEstimator):
    """Token scorer (n-grams stacked under small trees) and candidate scorer (boosted trees)
    for spliced spam spans."""

    def __init__(self, token_threshold: float = 0.05, threshold: float = 0.5,
                 max_iter: int = 150, random_state: int = 0) -> None:
        self.token_threshold = token_threshold
        self.threshold = threshold
        self.max_iter = max_iter
        self.random_state = random_state

    # -- training ------------------------------------------------------------------------------
    def fit_tokens(self, dense: np.ndarray, sparse: sp.csr_matrix, token_unit: np.ndarray,
                   y: np.ndarray, groups: np.ndarray) -> SpanDetector:
        """Fit the token scorer: a linear model over the tokens' hashed n-grams (vocabulary of
        spam topics), whose out-of-fold opinions of each token and its neighbours join the
        dense features in small boosted trees (the signals combine: a script foreign to the
        unit only means spam when glued to a word, an unknown word only when odd-shaped).
        `groups` are vocabulary-disjoint folds, so the trees learn how far to trust the
        n-grams on unseen spam words."""
        oof = np.zeros(len(y))
        for g in np.unique(groups):
            train = groups != g
            if not train.any() or len(np.unique(y[train])) < 2:
                continue
            oof[groups == g] = self._ngram_model().fit(sparse[train], y[train]).predict_proba(
                sparse[groups == g])[:, 1]
        self.__dict__.get("trees_", {}).pop("token", None)
        self.ngram_model_ = self._ngram_model().fit(sparse, y)
        self.ngram_model_.coef_ = self.ngram_model_.coef_.astype(np.float32)
        self.token_model_ = HistGradientBoostingClassifier(
            max_iter=TOKEN_TREES, learning_rate=0.2, max_leaf_nodes=15, min_samples_leaf=50,
            l2_regularization=1.0, random_state=self.random_state, early_stopping=False,
        ).fit(_with_ngrams(dense, oof, token_unit), y)
        return self

    def _ngram_model(self) -> SGDClassifier:
        return SGDClassifier(loss="log_loss", alpha=1e-5, max_iter=10, tol=None,
                             random_state=self.random_state)

    def fit(self, X: np.ndarray, y: np.ndarray, spam_share: np.ndarray) -> SpanDetector:
        """Fit the candidate scorer on span features (after `fit_tokens`): `y` says which
        candidates are exactly a gold span, `spam_share` what share of each candidate's
        characters are spam (`training.train_spans.spam_share`).

        Two questions, two models: whether a cut removes spam at all (`span_model_`, every
        candidate, positive when mostly spam) and, among the cuts that touch spam, whether its
        edges are the spam's (`edge_model_`). One model asked both learns that a run of hot
        foreign tokens (`代孕` in an English line) is as often a piece or an overreach of the
        span as the span itself, and is never sure of any of them; each question alone is
        learnable (`score` combines them)."""
        self.classes_ = np.array([0, 1])
        for name in ("span", "edge"):
            self.__dict__.get("trees_", {}).pop(name, None)
        self.span_model_ = self._candidate_model().fit(X, spam_share >= SPAM_SHARE)
        touching = spam_share > 0
        self.edge_model_ = self._candidate_model().fit(X[touching], y[touching])
        return self

    def _candidate_model(self) -> HistGradientBoostingClassifier:
        return HistGradientBoostingClassifier(
            max_iter=self.max_iter, learning_rate=0.1, max_leaf_nodes=31, min_samples_leaf=100,
            l2_regularization=1.0, random_state=self.random_state, early_stopping=False,
        )

    # -- inference -----------------------------------------------------------------------------
    def token_scores(self, dense: np.ndarray, sparse: sp.csr_matrix,
                     token_unit: np.ndarray) -> np.ndarray:
        if dense.shape[0] == 0:
            return np.zeros(0)
        ngram = linear_proba(self.ngram_model_, sparse)[:, 1]
        rows = _with_ngrams(dense, ngram, token_unit)
        # Only units with something odd about them are scanned (a token of odd shape or one
        # the n-grams suspect), and in them only tokens that are unknown, odd or suspected:
        # a known, plain word with a clean n-gram opinion cannot start a candidate.
        shape = (dense[:, _SHAPE_COLUMNS] > 0).any(axis=1)
        suspect_unit = np.zeros(int(token_unit.max()) + 1, dtype=bool)
        suspect_unit[token_unit[shape | (ngram >= UNIT_GATE)]] = True
        odd = suspect_unit[token_unit] & (
            shape | (dense[:, TOKEN_FEATURES.index("oov")] > 0)
            | (dense[:, TOKEN_FEATURES.index("digits_only")] > 0) | (ngram >= 0.02)
        )
        out = np.zeros(len(ngram))
        if odd.any():
            out[odd] = compiled(self, "token", self.token_model_).predict_proba(rows[odd])[:, 1]
        return out

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Per candidate on its own, the probability that it is exactly a spliced span: that
        cutting it removes spam, times that its edges are the spam's (`fit`). `score` also
        weighs each candidate's edges against those of the candidates it overlaps."""
        if X.shape[0] == 0:
            return np.zeros((0, 2))
        spam, edge = self._parts(X)
        return np.column_stack([1.0 - spam * edge, spam * edge])

    def _parts(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per candidate, the probability that cutting it removes spam and that its edges
        are the spam's (`fit`). A model trained before 2026-12-03 has one candidate model,
        which answered both at once: its edges count as certain."""
        proba = {name: compiled(self, name, model).predict_proba(X)[:, 1]
                 for name, model in self.candidate_models().items()}
        return proba["span"], proba.get("edge", np.ones(X.shape[0]))

    def candidate_models(self) -> dict[str, HistGradientBoostingClassifier]:
        """The candidate scorer's models by stage name: `span`, and `edge` unless the model
        was trained before 2026-12-03 (`_parts`)."""
        models = {"span": self.span_model_}
        if getattr(self, "edge_model_", None) is not None:
            models["edge"] = self.edge_model_
        return models

    def compile(self) -> SpanDetector:
        """Build the compiled twins of every tree stage now (see `StackedUnitClassifier`)."""
        compiled(self, "token", self.token_model_)
        for name, model in self.candidate_models().items():
            compiled(self, name, model)
        return self

    def score(self, texts: Sequence[str], context: Sequence[str] = (),
              text_scorer: object | None = None,
              sources: Sequence[bool] | None = None) -> tuple[Candidates, np.ndarray]:
        """Every candidate span of `texts` with its probability of being spliced spam."""
        scan = Scan.of(texts, context, sources, getattr(self, "lexicon_", ()),
                       getattr(self, "bigrams_", None))
        dense, sparse = token_features(scan)
        token_score = self.token_scores(dense, sparse, scan.words.unit)
        cands = candidates(scan, token_score, self.token_threshold)
        if not len(cands):
            return cands, np.zeros(0)
        feats = span_features(scan, cands, token_score, text_scorer,
                              dense[:, : len(TOKEN_FEATURES)])
        spam, edge = self._parts(feats)
        return cands, spam * edge ** EDGE_ABSOLUTE * \
            (edge / np.maximum(_rivals_best(cands, edge), 1e-9)) ** (1 - EDGE_ABSOLUTE)

    def find(self, texts: Sequence[str], context: Sequence[str] = (),
             text_scorer: object | None = None, threshold: float | None = None,
             sources: Sequence[bool] | None = None) -> list[list[Span]]:
        """Spans to cut out of each of `texts` (non-overlapping, sorted by offset)."""
        if not texts:
            return []
        cands, proba = self.score(texts, context, text_scorer, sources)
        if threshold is None:
            threshold = self.threshold_for(cands.page_tokens)
        return select(texts, cands, proba, threshold)

    def threshold_for(self, page_tokens: int) -> float:
        """The cut threshold for a page whose scanned units hold `page_tokens` tokens. Small
        pages have their own, tuned on small pages (`training.tune`): on a page of a dozen
        lines nearly every word is used nowhere else on it, which on a long page is what a
        splice looks like, so the same score means less there. Never below the threshold of
        long pages."""
        small = getattr(self, "small_threshold_", None)
        if small is not None and is_small_page(page_tokens):
            return max(float(small), self.threshold)
        return self.threshold


def _rivals_best(cands: Candidates, edge: np.ndarray) -> np.ndarray:
    """Per candidate, the highest edge probability among the candidates of its unit that
    overlap it (itself included). At most one of them is cut, and the edge model, asked
    about each alone, is unsure of all of a keyword's pieces and overreaches alike (`代孕`,
    `孕`, `learning代孕`): the one whose edges beat its rivals' is the likely cut."""
    out = np.zeros(len(edge))
    order = np.argsort(cands.unit, kind="stable")
    bounds = np.flatnonzero(np.diff(cands.unit[order])) + 1
    for idx in np.split(order, bounds):
        s, e, p = cands.start[idx], cands.end[idx], edge[idx]
        # Blocks of rows: a huge line may hold thousands of candidates.
        for k in range(0, len(idx), RIVAL_BLOCK):
            bs, be = s[k:k + RIVAL_BLOCK, None], e[k:k + RIVAL_BLOCK, None]
            overlap = (bs < e[None, :]) & (s[None, :] < be)
            out[idx[k:k + RIVAL_BLOCK]] = np.where(overlap, p[None, :], 0.0).max(axis=1)
    return out


def is_small_page(page_tokens: int) -> bool:
    """Whether a page whose scanned units hold `page_tokens` tokens gets the small-page
    threshold (`SpanDetector.threshold_for`; `training.tune` tunes it on such pages)."""
    return page_tokens < SMALL_PAGE_TOKENS


def select(texts: Sequence[str], cands: Candidates, proba: np.ndarray,
           threshold: float) -> list[list[Span]]:
    """The best non-overlapping candidates above `threshold`, per text, sorted by offset. A
    candidate covering a whole text is never a span: whether a line is spam is the unit
    classifier's call."""
    out: list[list[Span]] = [[] for _ in texts]
    order = np.argsort(-proba, kind="stable")
    taken: list[list[tuple[int, int]]] = [[] for _ in texts]
    for i in order:
        p = float(proba[i])
        if p < threshold:
            break
        u, a, b = int(cands.unit[i]), int(cands.start[i]), int(cands.end[i])
        if any(a < e and s < b for s, e in taken[u]):
            continue
        if b - a >= len(texts[u].strip()):
            continue
        taken[u].append((a, b))
        out[u].append(Span(a, b, texts[u][a:b], "spam", round(p, 4)))
    for spans in out:
        spans.sort(key=lambda s: s.start)
    return out
