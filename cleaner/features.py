"""Features: what makes a unit content, boilerplate or spam *on its page*.

Spam generalises through being out of place, not through its vocabulary, so most features
compare a unit with its own page: its script against the page's majority script, its character
trigrams (a proxy for language) and words (topic) against the rest of the page, its words
against the page's own frequent words, its position and its neighbours. Shape features (length,
punctuation, digits, separators) and markup features (tag, link density, class/id tokens) decide
most boilerplate cheaply. Character and word n-grams go to a separate sparse block that the
model uses as one more opinion.

The transformer takes a `PageBatch` (pages of units) rather than single units because page
context is part of every row; it returns a `FeatureMatrix` with one row per unit.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.feature_extraction.text import HashingVectorizer

from cleaner.units import Unit

# --- scripts -----------------------------------------------------------------------------------
SCRIPTS: dict[str, re.Pattern[str]] = {
    "latin": re.compile(r"[A-Za-z\u00c0-\u024f\u1e00-\u1eff]"),
    "cjk": re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]"),
    "kana": re.compile(r"[\u3040-\u30ff]"),
    "hangul": re.compile(r"[\uac00-\ud7af\u1100-\u11ff\u3130-\u318f]"),
    "cyrillic": re.compile(r"[\u0400-\u04ff]"),
    "arabic": re.compile(r"[\u0600-\u06ff\u0750-\u077f]"),
    "thai": re.compile(r"[\u0e00-\u0e7f]"),
    "devanagari": re.compile(r"[\u0900-\u097f]"),
    "greek": re.compile(r"[\u0370-\u03ff]"),
    "hebrew": re.compile(r"[\u0590-\u05ff]"),
}
_WORD = re.compile(r"\w+")
_DIGIT = re.compile(r"\d")
_UPPER = re.compile(r"[A-ZÀ-ÖØ-Þ]")
_PUNCT = re.compile(r"[^\w\s]")
_SEPARATOR = re.compile(r"\s[|·•»/–—-]\s|\s\|\s?|»|›")
_MIXED_TOKEN = re.compile(r"\b(?=\w*\d)(?=\w*[^\W\d_])\w+\b")
# A host name is matched from the start of its run of [\w-] only: `\b[\w-]+\.` would restart
# at every hyphen of "a-a-a-...", which is quadratic in the run (a 30 KB line took 7 s).
_URL = re.compile(
    r"https?://|www\.|(?<![\w-])-*\w[\w-]*\.(?:com|net|org|vip|bet|club|io|co|cc|info|top|xyz)\b"
)
_DATE = re.compile(
    r"\b\d{4}[-/.]\d{1,2}[-/.]\d{1,2}\b|\b\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4}\b|\b\d{1,2}:\d{2}\b"
    r"|\b(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.? \d{1,2}\b",
    re.I,
)
_SENTENCE_END = re.compile(r"[.!?。！？…:;\"'”»)]\s*$")
_SENTENCE = re.compile(r"[.!?。！？](?:\s|$)")

ATTR_GROUPS: dict[str, tuple[str, ...]] = {
    "nav": ("nav", "menu", "navbar", "navigation", "breadcrumb", "breadcrumbs", "pagination"),
    "foot": ("footer", "copyright", "legal", "bottom"),
    "head": ("header", "masthead", "topbar", "top"),
    "side": ("sidebar", "aside", "widget", "related", "recommended", "popular", "trending"),
    "social": ("share", "social", "sharing", "facebook", "twitter", "follow", "subscribe"),
    "comment": ("comment", "comments", "reply", "respond", "discussion"),
    "promo": ("ad", "ads", "advert", "advertisement", "sponsor", "sponsored", "promo", "banner"),
    "ui": ("cookie", "consent", "modal", "popup", "login", "search", "newsletter", "form", "btn"),
    "meta": ("meta", "byline", "author", "date", "time", "tags", "tag", "category", "posted"),
    "main": ("content", "article", "post", "entry", "body", "text", "story", "main", "prose"),
}
TAGS = ("p", "h", "li", "td", "div", "body", "blockquote", "pre", "dd", "button", "other")


@dataclass
class PageBatch:
    """Pages of units: the X of the model. `len()` is the number of units, one row each."""

    pages: list[list[Unit]]

    def __len__(self) -> int:
        return sum(len(p) for p in self.pages)


@dataclass
class FeatureMatrix:
    """Dense page-relative features, sparse n-grams, and where each page's rows start."""

    dense: np.ndarray
    sparse: sp.csr_matrix
    page_starts: np.ndarray  # len(pages) + 1 offsets into the rows

    def __len__(self) -> int:
        return self.dense.shape[0]


def _attr_groups(attrs: str) -> list[float]:
    toks = set(attrs.split())
    return [float(any(t in toks for t in group)) for group in ATTR_GROUPS.values()]


def _tag_onehot(unit: Unit) -> list[float]:
    tag = "h" if unit.heading or unit.tag in ("h1", "h2", "h3", "h4", "h5", "h6") else unit.tag
    if not tag:
        return [0.0] * len(TAGS)
    key = tag if tag in TAGS else "other"
    return [float(key == t) for t in TAGS]


UNIT_FEATURES = (
    ["log_chars", "log_words", "frac_letter", "frac_digit", "frac_punct", "frac_upper",
     "mean_word_len", "sentence_end", "n_sentences", "starts_upper", "separators", "mixed_tokens",
     "has_url", "has_date", "has_copyright", "frac_pipe_fields_short"]
    + [f"script_{s}" for s in SCRIPTS]
    + ["script_match", "script_is_majority", "char_cos", "word_cos", "vocab_shared",
       "vocab_frequent", "duplicates", "rel_pos", "rel_char_pos", "from_start", "from_end",
       "len_vs_median", "len_vs_max", "local_density", "paragraph_break", "is_html",
       "heading", "link_density", "in_list", "in_table", "depth"]
    + [f"tag_{t}" for t in TAGS]
    + [f"attr_{g}" for g in ATTR_GROUPS]
)
NEIGHBOUR_FEATURES = ("log_chars", "frac_punct", "sentence_end", "script_match", "char_cos",
                      "word_cos", "link_density", "separators")
NEIGHBOUR_OFFSETS = (-2, -1, 1, 2)
FEATURE_NAMES = UNIT_FEATURES + [
    f"{name}@{off:+d}" for off in NEIGHBOUR_OFFSETS for name in NEIGHBOUR_FEATURES
]
_NEIGHBOUR_IDX = [UNIT_FEATURES.index(n) for n in NEIGHBOUR_FEATURES]


def _head_chars(text: str) -> str:
    """Character n-grams of a unit's start: enough to know a footer or a keyword line, and it
    keeps the cost of long paragraphs (which shape features already decide) bounded."""
    return text[:CHAR_NGRAM_SPAN].lower()


def _head_words(text: str) -> str:
    return text[:WORD_NGRAM_SPAN].lower()


CHAR_NGRAM_SPAN = 100
WORD_NGRAM_SPAN = 400


class UnitFeatures(BaseEstimator, TransformerMixin):
    """PageBatch -> FeatureMatrix. Stateless (hashing), so fitting learns nothing and the
    persisted pipeline stays small; `fit` exists for the Pipeline contract."""

    def __init__(self, char_buckets: int = 2**17, word_buckets: int = 2**16) -> None:
        self.char_buckets = char_buckets
        self.word_buckets = word_buckets

    def fit(self, X: PageBatch, y: Sequence[str] | None = None) -> UnitFeatures:
        return self

    def _vectorizers(self) -> tuple[HashingVectorizer, HashingVectorizer]:
        chars = HashingVectorizer(
            analyzer="char_wb", ngram_range=(2, 3), n_features=self.char_buckets,
            alternate_sign=False, norm="l2", preprocessor=_head_chars,
        )
        words = HashingVectorizer(
            analyzer="word", ngram_range=(1, 2), n_features=self.word_buckets,
            alternate_sign=False, norm="l2", preprocessor=_head_words,
            token_pattern=r"(?u)\b\w+\b",
        )
        return chars, words

    def transform(self, X: PageBatch) -> FeatureMatrix:
        chars, words = self._vectorizers()
        texts = [u.text for page in X.pages for u in page]
        char_m = chars.transform(texts).tocsr() if texts else sp.csr_matrix((0, self.char_buckets))
        word_m = words.transform(texts).tocsr() if texts else sp.csr_matrix((0, self.word_buckets))
        starts = np.zeros(len(X.pages) + 1, dtype=np.int64)
        dense_parts = []
        for k, page in enumerate(X.pages):
            a = starts[k]
            starts[k + 1] = a + len(page)
            if page:
                dense_parts.append(
                    _page_dense(page, char_m[a : a + len(page)], word_m[a : a + len(page)])
                )
        dense = (
            np.vstack(dense_parts) if dense_parts else np.zeros((0, len(FEATURE_NAMES)))
        )
        return FeatureMatrix(
            dense=dense.astype(np.float32),
            sparse=sp.hstack([char_m, word_m], format="csr", dtype=np.float32),
            page_starts=starts,
        )


def _char_tables() -> tuple[np.ndarray, np.ndarray]:
    """Per code point (BMP): a character class and a script id, so that per-unit counts are one
    `bincount` over the page instead of a dozen regular expressions per unit."""
    cats = np.full(65536, C_OTHER, dtype=np.int64)
    for cp in range(65536):
        cat = unicodedata.category(chr(cp))
        if cat[0] == "Z" or chr(cp).isspace():
            cats[cp] = C_SPACE
        elif cat == "Ll":
            cats[cp] = C_LOWER
        elif cat == "Lu":
            cats[cp] = C_UPPER
        elif cat[0] == "L":
            cats[cp] = C_LETTER
        elif cat == "Nd":
            cats[cp] = C_DIGIT
        elif cat[0] == "P":
            cats[cp] = C_PUNCT
        elif cat[0] == "S":
            cats[cp] = C_SYMBOL
    for ch in SENTENCE_END_CHARS:
        cats[ord(ch)] = C_SENT_END
    for ch in SEPARATOR_CHARS:
        cats[ord(ch)] = C_SEP
    cats[ord("©")] = C_COPY
    scripts = np.zeros(65536, dtype=np.int64)
    for sid, pattern in enumerate(SCRIPTS.values(), start=1):
        for lo, hi in re.findall(r"\\u([0-9a-f]{4})-\\u([0-9a-f]{4})", pattern.pattern):
            scripts[int(lo, 16) : int(hi, 16) + 1] = sid
    scripts[ord("A") : ord("Z") + 1] = 1
    scripts[ord("a") : ord("z") + 1] = 1
    return cats, scripts


C_SPACE, C_LOWER, C_UPPER, C_LETTER, C_DIGIT, C_PUNCT, C_SYMBOL, C_OTHER = range(8)
C_SENT_END, C_SEP, C_COPY = 8, 9, 10
N_CLASSES = 11
SENTENCE_END_CHARS = ".!?。！？…"
SEPARATOR_CHARS = "|·•»›｜"
_TABLES: tuple[np.ndarray, np.ndarray] | None = None


def _tables() -> tuple[np.ndarray, np.ndarray]:
    global _TABLES
    if _TABLES is None:
        _TABLES = _char_tables()
    return _TABLES


_TAG_CACHE: dict[tuple[str, int], list[float]] = {}
_ATTR_CACHE: dict[str, list[float]] = {}


def _markup(u: Unit) -> list[float]:
    key = (u.tag, u.heading)
    tag = _TAG_CACHE.get(key)
    if tag is None:
        tag = _TAG_CACHE.setdefault(key, _tag_onehot(u))
    attrs = _ATTR_CACHE.get(u.attrs)
    if attrs is None:
        if len(_ATTR_CACHE) > 50_000:
            _ATTR_CACHE.clear()
        attrs = _ATTR_CACHE.setdefault(u.attrs, _attr_groups(u.attrs))
    return [float(u.paragraph_break), float(bool(u.tag)), float(u.heading), u.link_density,
            float(u.in_list), float(u.in_table), float(np.log1p(u.depth)), *tag, *attrs]


def _page_dense(page: list[Unit], char_m: sp.csr_matrix, word_m: sp.csr_matrix) -> np.ndarray:
    """The dense rows of one page: per-unit shape, then page-relative, then neighbours."""
    n = len(page)
    texts = [u.text.strip() for u in page]
    lengths = np.array([len(t) for t in texts], dtype=np.int64)
    nchar = np.maximum(lengths, 1).astype(np.float64)
    total_chars = max(1.0, float(lengths.sum()))
    cats, script_table = _tables()

    cp = np.frombuffer("".join(texts).encode("utf-32-le"), dtype=np.uint32).astype(np.int64)
    bmp = cp < 65536
    cls = np.where(bmp, cats[np.minimum(cp, 65535)], C_SYMBOL)
    scr = np.where(bmp, script_table[np.minimum(cp, 65535)], 0)
    uid = np.repeat(np.arange(n), lengths)
    counts = np.bincount(uid * N_CLASSES + cls, minlength=n * N_CLASSES).reshape(n, N_CLASSES)
    n_scripts = len(SCRIPTS) + 1
    scripts = np.bincount(uid * n_scripts + scr, minlength=n * n_scripts).reshape(n, n_scripts)
    scripts = scripts[:, 1:].astype(np.float64)
    wordchar = (cls >= C_LOWER) & (cls <= C_DIGIT)
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    prev = np.concatenate([[False], wordchar[:-1]])
    prev[starts[lengths > 0]] = False
    n_words = np.bincount(uid[wordchar & ~prev], minlength=n).astype(np.float64)
    word_chars = np.bincount(uid[wordchar], minlength=n).astype(np.float64)
    ends = starts + lengths - 1
    nonempty = lengths > 0
    first_cls = np.where(nonempty, cls[np.minimum(starts, len(cls) - 1)] if len(cls) else 0, -1)
    last_cp = np.where(nonempty, cp[np.maximum(ends, 0)] if len(cp) else 0, 0)

    letters = counts[:, [C_LOWER, C_UPPER, C_LETTER]].sum(axis=1).astype(np.float64)
    punct = counts[:, [C_PUNCT, C_SENT_END, C_SEP, C_SYMBOL, C_COPY]].sum(axis=1)
    sent_end = np.isin(last_cp, _SENTENCE_END_CPS).astype(np.float64)

    page_scripts = scripts.sum(axis=0)
    majority = int(page_scripts.argmax()) if page_scripts.sum() else 0
    script_letters = scripts.sum(axis=1)
    safe_sl = np.maximum(script_letters, 1.0)
    has_sl = script_letters > 0

    # Fit with the rest of the page: cosine between a unit and the page's sum minus itself,
    # weighting each unit by its length so long article paragraphs define the page.
    weights = lengths.astype(np.float64)
    char_m, word_m = _compact(char_m), _compact(word_m)
    char_cos = _cos_with_rest(char_m, weights)
    word_cos = _cos_with_rest(word_m, weights)

    # Vocabulary shared with the rest of the page, and share of the page's frequent terms.
    binary = word_m.copy()
    binary.data[:] = 1.0
    df = np.asarray(binary.sum(axis=0)).ravel()
    terms = np.maximum(np.asarray(binary.sum(axis=1)).ravel(), 1.0)
    shared = (binary @ (df > 1).astype(np.float64)) / terms
    top = np.argsort(-df)[:40]
    frequent_mask = np.zeros(len(df))
    frequent_mask[top[df[top] > 1]] = 1.0
    frequent = (binary @ frequent_mask) / terms

    text_counts = Counter(texts)
    dup = np.log1p(np.array([text_counts[t] - 1 for t in texts], dtype=np.float64))
    median_len = max(1.0, float(np.median(lengths)))
    max_len = max(1.0, float(lengths.max()))
    cum_chars = np.cumsum(lengths) - lengths
    csum = np.concatenate([[0], np.cumsum(lengths)])
    window = csum[np.minimum(np.arange(n) + 4, n)] - csum[np.maximum(np.arange(n) - 3, 0)]
    idx = np.arange(n, dtype=np.float64)

    pipes = np.array([_pipe_short(t) if "|" in t else 0.0 for t in texts])
    regex = np.array(
        [
            (
                len(_MIXED_TOKEN.findall(t)) if counts[i, C_DIGIT] else 0,
                float(bool(_URL.search(t))) if "." in t or "/" in t else 0.0,
                float(bool(_DATE.search(t))) if counts[i, C_DIGIT] else 0.0,
            )
            for i, t in enumerate(texts)
        ],
        dtype=np.float64,
    ).reshape(n, 3)
    columns = [
        np.log1p(nchar),
        np.log1p(n_words),
        letters / nchar,
        counts[:, C_DIGIT] / nchar,
        punct / nchar,
        counts[:, C_UPPER] / np.maximum(letters, 1.0),
        word_chars / np.maximum(n_words, 1.0),
        sent_end,
        np.log1p(counts[:, C_SENT_END]),
        (first_cls == C_UPPER).astype(np.float64),
        counts[:, C_SEP].astype(np.float64),
        regex[:, 0],
        regex[:, 1],
        regex[:, 2],
        (counts[:, C_COPY] > 0).astype(np.float64),
        pipes,
        *(scripts / safe_sl[:, None]).T,
        np.where(has_sl, scripts[:, majority] / safe_sl, 1.0),
        (has_sl & (scripts.argmax(axis=1) == majority)).astype(np.float64),
        char_cos,
        word_cos,
        shared,
        frequent,
        dup,
        idx / max(1, n - 1),
        cum_chars / total_chars,
        np.log1p(idx),
        np.log1p(n - 1 - idx),
        np.log1p(lengths / median_len),
        lengths / max_len,
        window / total_chars,
    ]
    rows = np.column_stack([*columns, np.array([_markup(u) for u in page], dtype=np.float64)])
    neighbours = []
    base = rows[:, _NEIGHBOUR_IDX]
    for off in NEIGHBOUR_OFFSETS:
        shifted = np.full_like(base, -1.0)
        if off < 0:
            shifted[-off:] = base[: n + off]
        else:
            shifted[: n - off] = base[off:]
        neighbours.append(shifted)
    return np.hstack([rows, *neighbours])


def _pipe_short(text: str) -> float:
    fields = text.split("|")
    return sum(len(f.strip()) < 25 for f in fields) / len(fields)


_SENTENCE_END_CPS = np.array([ord(c) for c in ".!?。！？…:;\"'”»)"], dtype=np.int64)


def _compact(m: sp.csr_matrix) -> sp.csr_matrix:
    """The page's rows over only the columns the page uses, so page vectors are small."""
    cols, inverse = np.unique(m.indices, return_inverse=True)
    return sp.csr_matrix((m.data, inverse.ravel(), m.indptr), shape=(m.shape[0], len(cols)))


def _cos_with_rest(m: sp.csr_matrix, weights: np.ndarray) -> np.ndarray:
    """Cosine between each l2-normalised row r_i and the length-weighted sum of the other rows."""
    page_sum = np.asarray(m.T @ weights).ravel()
    dots = np.asarray(m @ page_sum).ravel()
    own_sq = np.asarray(m.multiply(m).sum(axis=1)).ravel()  # 1, or 0 for an empty row
    rest_sq = float(page_sum @ page_sum) - 2 * weights * dots + weights**2 * own_sq
    rest_dots = dots - weights * own_sq
    return np.clip(rest_dots / np.sqrt(np.maximum(rest_sq, 1e-12)), 0.0, 1.0)
