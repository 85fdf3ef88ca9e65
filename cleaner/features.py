"""Features: what makes a unit content, boilerplate or spam *on its page*.

Spam generalises through being out of place, not through its vocabulary, so most features
compare a unit with its own page: its script against the page's majority script, its character
n-grams (a proxy for language) and words (topic) against the rest of the page, the share of its
words the page uses elsewhere, its position and its neighbours. Shape features (length,
punctuation, digits, separators, brand-like tokens) and markup features (tag, link density,
class/id tokens, the text held by the elements around the unit) decide most boilerplate
cheaply. Character and word n-grams go to a separate sparse block that the model uses as one
more opinion.

The transformer takes a `PageBatch` (pages of units) rather than single units because page
context is part of every row; it returns a `FeatureMatrix` with one row per unit. All per-unit
work is vectorised over the page (`cleaner.textstats`): no Python loop runs per character and
only cheap ones run per unit.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from operator import attrgetter

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, TransformerMixin

from cleaner import textstats as ts
from cleaner.units import Unit

MAX_UNIT_CHARS = 4000  # characters of a unit whose statistics are taken (length is exact)
NGRAM_HEAD = 240  # characters of a unit that give character n-grams
WORD_HEAD = 64  # tokens of a unit that give word n-grams

# A web address or a bare domain ("jili777.vip"): a lower-case top-level label right after a
# letter or digit; starting the pattern at the dot keeps the scan fast.
_URL = re.compile(r"https?://|www\.|(?<=[A-Za-z0-9])\.(?:[a-z]{2,6}|xn--[a-z0-9]+)\b(?!\.?\w)")
_DATE = re.compile(
    r"\b\d{4}[-/.年]\d{1,2}[-/.月]\d{1,2}|\b\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4}\b|\b\d{1,2}:\d{2}\b"
    r"|\b(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.? \d{1,2}\b"
    r"|\b\d{1,2}\.? (?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\b",
    re.I,
)

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
N_CONTAINER_LEVELS = 3


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


UNIT_FEATURES: list[str] = (
    ["log_chars", "log_words", "frac_letter", "frac_digit", "frac_punct", "frac_upper",
     "mean_word_len", "sentence_end", "n_sentence_ends", "starts_upper", "separators",
     "mixed_tokens", "frac_mixed_tokens", "caps_inside", "has_url", "n_urls", "has_date",
     "has_copyright", "pipe_fields", "pipe_short"]
    + [f"script_{s}" for s in ts.SCRIPTS]
    + ["script_match", "script_is_majority", "n_scripts", "char_cos", "word_cos",
       "vocab_shared", "vocab_frequent", "oov_tokens", "sent_fit_min", "sent_fit_max",
       "sent_misfit_share", "n_sentences", "duplicates", "rel_pos", "rel_char_pos",
       "from_start", "from_end", "len_vs_median", "len_vs_max", "local_density",
       "content_before", "content_after", "page_units", "page_majority_latin",
       "page_majority_cjk", "paragraph_break", "is_html", "heading", "link_density", "in_list",
       "in_table", "depth"]
    + [f"tag_{t}" for t in TAGS]
    + [f"attr_{g}" for g in ATTR_GROUPS]
    + [f"box{k}_{name}" for k in range(1, N_CONTAINER_LEVELS + 1)
       for name in ("share", "link_density", "log_units", "long_share")]
    + ["in_main_box", "main_box_found"]
)
NEIGHBOUR_FEATURES = ("log_chars", "frac_punct", "sentence_end", "script_match", "char_cos",
                      "word_cos", "link_density", "separators", "mixed_tokens", "has_url",
                      "sent_fit_min")
NEIGHBOUR_OFFSETS = (-2, -1, 1, 2)
FEATURE_NAMES = UNIT_FEATURES + [
    f"{name}@{off:+d}" for off in NEIGHBOUR_OFFSETS for name in NEIGHBOUR_FEATURES
]
_NEIGHBOUR_IDX = [UNIT_FEATURES.index(n) for n in NEIGHBOUR_FEATURES]
_LONG = 120  # characters from which a unit counts as a paragraph of running text


class UnitFeatures(BaseEstimator, TransformerMixin):
    """PageBatch -> FeatureMatrix. Stateless (hashing), so fitting learns nothing and the
    persisted pipeline stays small; `fit` exists for the Pipeline contract."""

    def __init__(self, char_buckets: int = 2**17, word_buckets: int = 2**16) -> None:
        self.char_buckets = char_buckets
        self.word_buckets = word_buckets

    def fit(self, X: PageBatch, y: Sequence[str] | None = None) -> UnitFeatures:
        return self

    def transform(self, X: PageBatch) -> FeatureMatrix:
        starts = np.zeros(len(X.pages) + 1, dtype=np.int64)
        dense_parts, sparse_parts = [], []
        for k, page in enumerate(X.pages):
            starts[k + 1] = starts[k] + len(page)
            if page:
                dense, sparse = page_features(page, self.char_buckets, self.word_buckets)
                dense_parts.append(dense)
                sparse_parts.append(sparse)
        n_sparse = self.char_buckets + self.word_buckets
        return FeatureMatrix(
            dense=(np.vstack(dense_parts) if dense_parts
                   else np.zeros((0, len(FEATURE_NAMES)))).astype(np.float32),
            sparse=(sp.vstack(sparse_parts, format="csr") if sparse_parts
                    else sp.csr_matrix((0, n_sparse), dtype=np.float32)),
            page_starts=starts,
        )


def page_features(
    page: list[Unit], char_buckets: int, word_buckets: int
) -> tuple[np.ndarray, sp.csr_matrix]:
    """The dense rows and the sparse n-gram rows of one page."""
    n = len(page)
    full_lengths = np.fromiter((len(u.text) for u in page), dtype=np.float64, count=n)
    texts = [u.text.strip()[:MAX_UNIT_CHARS] for u in page]
    text = ts.PageText.of(texts)
    folded = ts.fold(text)
    words = ts.Words.of(text, folded)
    char_m = ts.char_ngrams(text, folded, char_buckets, NGRAM_HEAD)
    word_m = ts.word_ngrams(words, n, word_buckets, WORD_HEAD)

    cols: dict[str, np.ndarray] = {}
    cols.update(_shape(text, words, texts, full_lengths))
    cols.update(_scripts(text))
    cols.update(_fit_with_page(text, char_m, word_m, words, full_lengths, texts))
    cols.update(_position(page, full_lengths))
    cols.update(_markup(page))
    cols.update(_containers(page, full_lengths))
    rows = np.column_stack([cols[name] for name in UNIT_FEATURES])
    base = rows[:, _NEIGHBOUR_IDX]
    neighbours = []
    for off in NEIGHBOUR_OFFSETS:
        shifted = np.full_like(base, -1.0)
        if off < 0:
            shifted[-off:] = base[: n + off]
        else:
            shifted[: n - off] = base[off:]
        neighbours.append(shifted)
    dense = np.hstack([rows, *neighbours])
    return dense, sp.hstack([char_m, word_m], format="csr", dtype=np.float32)


def ngram_matrix(texts: list[str], char_buckets: int, word_buckets: int) -> sp.csr_matrix:
    """The sparse n-gram rows of arbitrary strings, exactly as units get them: what the span
    detector uses to ask the unit text model about a stretch of a line."""
    text = ts.PageText.of([t.strip()[:MAX_UNIT_CHARS] for t in texts])
    folded = ts.fold(text)
    words = ts.Words.of(text, folded)
    return sp.hstack(
        [ts.char_ngrams(text, folded, char_buckets, NGRAM_HEAD),
         ts.word_ngrams(words, len(texts), word_buckets, WORD_HEAD)],
        format="csr", dtype=np.float32,
    )


def _regex_units(pattern: re.Pattern[str], texts: list[str], candidates: np.ndarray) -> np.ndarray:
    """Matches of `pattern` per unit, scanning only the candidate units (those holding the
    characters every match needs, known from the class counts)."""
    out = np.zeros(len(texts))
    for i in np.flatnonzero(candidates):
        out[i] = len(pattern.findall(texts[i]))
    return out


def _shape(text: ts.PageText, words: ts.Words, texts: list[str],
           full_lengths: np.ndarray) -> dict[str, np.ndarray]:
    n = text.n_units
    lengths = (text.end - text.start).astype(np.float64)
    nchar = np.maximum(lengths, 1.0)
    cls = text.cls
    valid = text.unit >= 0
    counts = np.bincount(
        text.unit[valid] * ts.N_CLASSES + cls[valid], minlength=n * ts.N_CLASSES
    ).reshape(n, ts.N_CLASSES).astype(np.float64)
    letters = counts[:, [ts.C_LOWER, ts.C_UPPER, ts.C_LETTER, ts.C_MARK]].sum(axis=1)
    punct = counts[:, [ts.C_PUNCT, ts.C_SENT_END, ts.C_SEP, ts.C_SYMBOL, ts.C_COPY]].sum(axis=1)
    n_words = np.bincount(words.unit, minlength=n).astype(np.float64)
    word_chars = np.bincount(words.unit, weights=words.last - words.first, minlength=n)
    nonempty = lengths > 0
    first_cls = np.where(nonempty, cls[np.minimum(text.start, len(cls) - 1)], -1)
    last_cp = np.where(nonempty, text.cp[np.maximum(text.end - 1, 0)], 0)
    sent_end = np.isin(last_cp, _SENTENCE_END_CPS).astype(np.float64)
    mixed = (words.n_digits > 0) & (words.n_letters > 0)
    n_mixed = np.bincount(words.unit[mixed], minlength=n).astype(np.float64)
    # An upper-case letter after a lower-case one inside a token: camel-cased brand names and
    # glued words, rare in running text.
    caps_inside = np.zeros(n)
    if len(cls) > 1:
        seam = (cls[1:] == ts.C_UPPER) & (cls[:-1] == ts.C_LOWER)
        caps_inside = text.per_unit(np.concatenate([[False], seam]))
    pipe_fields = np.zeros(n)
    pipe_short = np.zeros(n)
    for i, t in enumerate(texts):
        if "|" in t:
            fields = t.split("|")
            pipe_fields[i] = len(fields)
            pipe_short[i] = sum(len(f.strip()) < 25 for f in fields) / len(fields)
    dots = text.per_unit((text.cp == ord(".")) | (text.cp == ord("/")))
    urls = _regex_units(_URL, texts, dots > 0)
    return {
        "log_chars": np.log1p(full_lengths),
        "log_words": np.log1p(n_words),
        "frac_letter": letters / nchar,
        "frac_digit": counts[:, ts.C_DIGIT] / nchar,
        "frac_punct": punct / nchar,
        "frac_upper": counts[:, ts.C_UPPER] / np.maximum(letters, 1.0),
        "mean_word_len": word_chars / np.maximum(n_words, 1.0),
        "sentence_end": sent_end,
        "n_sentence_ends": np.log1p(counts[:, ts.C_SENT_END]),
        "starts_upper": (first_cls == ts.C_UPPER).astype(np.float64),
        "separators": counts[:, ts.C_SEP],
        "mixed_tokens": n_mixed,
        "frac_mixed_tokens": n_mixed / np.maximum(n_words, 1.0),
        "caps_inside": caps_inside,
        "has_url": (urls > 0).astype(np.float64),
        "n_urls": np.log1p(urls),
        "has_date": (_regex_units(_DATE, texts, counts[:, ts.C_DIGIT] > 0) > 0).astype(float),
        "has_copyright": (counts[:, ts.C_COPY] > 0).astype(np.float64),
        "pipe_fields": pipe_fields,
        "pipe_short": pipe_short,
    }


_SENTENCE_END_CPS = np.array([ord(c) for c in ".!?。！？…:;\"'”»)"], dtype=np.int64)


def _scripts(text: ts.PageText) -> dict[str, np.ndarray]:
    n = text.n_units
    n_scripts = len(ts.SCRIPTS) + 1
    valid = text.unit >= 0
    scripts = np.bincount(
        text.unit[valid] * n_scripts + text.script[valid], minlength=n * n_scripts
    ).reshape(n, n_scripts)[:, 1:].astype(np.float64)
    page_scripts = scripts.sum(axis=0)
    majority = int(page_scripts.argmax()) if page_scripts.sum() else 0
    per_unit = scripts.sum(axis=1)
    safe = np.maximum(per_unit, 1.0)
    has = per_unit > 0
    out = {f"script_{s}": scripts[:, i] / safe for i, s in enumerate(ts.SCRIPTS)}
    out["script_match"] = np.where(has, scripts[:, majority] / safe, 1.0)
    out["script_is_majority"] = (has & (scripts.argmax(axis=1) == majority)).astype(np.float64)
    out["n_scripts"] = (scripts >= 2).sum(axis=1).astype(np.float64)
    out["page_majority_latin"] = np.full(n, float(majority == 0))
    out["page_majority_cjk"] = np.full(n, float(ts.SCRIPTS[majority] in ("cjk", "kana")))
    return out


def _fit_with_page(text: ts.PageText, char_m: sp.csr_matrix, word_m: sp.csr_matrix,
                   words: ts.Words, lengths: np.ndarray,
                   texts: list[str]) -> dict[str, np.ndarray]:
    """How well a unit fits the rest of its page: n-gram cosines, shared vocabulary."""
    n = len(texts)
    # Cosine between a unit and the page's sum minus itself, weighting each unit by its length
    # so that long article paragraphs define the page.
    weights = np.minimum(lengths, 2000.0)
    char_cos = _cos_with_rest(_compact(char_m), weights)
    word_cos = _cos_with_rest(_compact(word_m), weights)

    # Vocabulary: in how many units does each token occur (each unit counted once)?
    oov = np.zeros(n)
    shared = np.zeros(n)
    frequent = np.zeros(n)
    if len(words):
        # (token, unit) pairs as one 63-bit key: 39 bits of token hash, 24 of unit.
        tok39 = (words.hash >> np.uint64(25)).astype(np.int64)
        pairs = np.unique((tok39 << 24) | np.minimum(words.unit, (1 << 24) - 1))
        hashes, unit_of_pair = pairs >> 24, pairs & ((1 << 24) - 1)
        uniq, inverse, df = np.unique(hashes, return_inverse=True, return_counts=True)
        pair_df = df[inverse.ravel()]
        terms = np.maximum(np.bincount(unit_of_pair, minlength=n), 1).astype(np.float64)
        shared = np.bincount(unit_of_pair, weights=(pair_df > 1), minlength=n) / terms
        top = np.argsort(-df, kind="stable")[:40]
        top = top[df[top] > 1]
        is_top = np.zeros(len(uniq), dtype=bool)
        is_top[top] = True
        frequent = np.bincount(unit_of_pair, weights=is_top[inverse.ravel()], minlength=n) / terms
        # Letter tokens of three or more characters that nothing else on the page uses: an
        # injected brand or a keyword from another topic.
        tok_df = df[np.searchsorted(uniq, tok39)]
        lonely = (tok_df == 1) & (words.last - words.first >= 3) & (words.n_letters > 0)
        oov = np.bincount(words.unit[lonely], minlength=n) / terms
        sentence_fit = _sentence_fit(text, words, tok_df - 1, n)
    else:
        sentence_fit = {k: np.zeros(n) for k in ("sent_fit_min", "sent_fit_max",
                                                  "sent_misfit_share", "n_sentences")}
    counts = Counter(texts)
    dup = np.log1p(np.fromiter((counts[t] - 1 for t in texts), dtype=np.float64, count=n))
    return {"char_cos": char_cos, "word_cos": word_cos, "vocab_shared": shared,
            "vocab_frequent": frequent, "oov_tokens": oov, "duplicates": dup, **sentence_fit}


def _sentence_fit(text: ts.PageText, words: ts.Words, df_other: np.ndarray,
                  n: int) -> dict[str, np.ndarray]:
    """How well each sentence of a unit fits the rest of the page, relative to the page.

    A real paragraph with a promo glued to it has one sentence that fits nothing; a promo
    paragraph fits nothing at all; an article paragraph fits throughout. A sentence's fit is
    the frequency-weighted overlap of its words with the other units (the dot product of its
    word set with the page's unit-frequency vector, over the square root of its length),
    divided by the page's median sentence fit.
    """
    cls = text.cls
    m = len(cls)
    boundary = np.zeros(m, dtype=bool)
    boundary[:-1] = (cls[:-1] == ts.C_SENT_END) & (cls[1:] == ts.C_SPACE)
    boundary |= np.isin(text.cp, _CJK_STOPS)
    starts = np.zeros(m, dtype=bool)
    starts[1:] = boundary[:-1]
    starts[text.start[text.start < m]] = True
    sent_of_char = np.cumsum(starts) - 1
    sent = sent_of_char[words.first]
    n_sent = int(sent.max()) + 1 if len(sent) else 0
    count = np.bincount(sent, minlength=n_sent).astype(np.float64)
    total = np.bincount(sent, weights=np.minimum(df_other, 50), minlength=n_sent)
    fit = total / np.sqrt(np.maximum(count, 1.0))
    unit_of_sent = np.full(n_sent, -1)
    unit_of_sent[sent] = words.unit
    chars = np.bincount(sent, weights=words.last - words.first, minlength=n_sent)
    real = count >= 3
    out = {"sent_fit_min": np.full(n, -1.0), "sent_fit_max": np.full(n, -1.0),
           "sent_misfit_share": np.zeros(n),
           "n_sentences": np.log1p(np.bincount(unit_of_sent[real], minlength=n)).astype(float)}
    if not real.any():
        return out
    ref = max(float(np.median(fit[real])), 1e-6)
    rel = fit / ref
    u = unit_of_sent[real]
    lo = np.full(n, np.inf)
    hi = np.full(n, -np.inf)
    np.minimum.at(lo, u, rel[real])
    np.maximum.at(hi, u, rel[real])
    has = np.isfinite(lo)
    out["sent_fit_min"][has] = np.minimum(lo[has], 5.0)
    out["sent_fit_max"][has] = np.minimum(hi[has], 5.0)
    misfit = real & (rel < 0.25)
    unit_chars = np.bincount(u, weights=chars[real], minlength=n)
    out["sent_misfit_share"] = np.bincount(unit_of_sent[misfit], weights=chars[misfit],
                                           minlength=n) / np.maximum(unit_chars, 1.0)
    return out


_CJK_STOPS = np.array([ord(c) for c in "。！？"], dtype=np.int64)


def _position(page: list[Unit], lengths: np.ndarray) -> dict[str, np.ndarray]:
    n = len(page)
    idx = np.arange(n, dtype=np.float64)
    total = max(1.0, float(lengths.sum()))
    cum = np.cumsum(lengths) - lengths
    csum = np.concatenate([[0.0], np.cumsum(lengths)])
    ar = np.arange(n)
    window = csum[np.minimum(ar + 4, n)] - csum[np.maximum(ar - 3, 0)]
    median = max(1.0, float(np.median(lengths)))
    # Running text before and after the unit: a line after the article's last paragraph is a
    # footer whatever it looks like, one between two paragraphs is rarely boilerplate.
    long_chars = np.where(lengths >= _LONG, lengths, 0.0)
    before = np.cumsum(long_chars) - long_chars
    after = long_chars.sum() - np.cumsum(long_chars)
    total_long = max(1.0, float(long_chars.sum()))
    return {
        "rel_pos": idx / max(1, n - 1),
        "rel_char_pos": cum / total,
        "from_start": np.log1p(idx),
        "from_end": np.log1p(n - 1 - idx),
        "len_vs_median": np.log1p(lengths / median),
        "len_vs_max": lengths / max(1.0, float(lengths.max())),
        "local_density": window / total,
        "content_before": before / total_long,
        "content_after": after / total_long,
        "page_units": np.full(n, np.log1p(n)),
    }


_TOKEN_GROUPS: dict[str, int] = {}
for _bit, _group in enumerate(ATTR_GROUPS.values()):
    for _tok in _group:
        _TOKEN_GROUPS[_tok] = _TOKEN_GROUPS.get(_tok, 0) | (1 << _bit)
_TAG_ROWS: dict[tuple[str, int], tuple[float, ...]] = {}


def _markup_row(tag: str, heading: int, attrs: str) -> tuple[float, ...]:
    """Tag one-hot and class/id group flags of one unit (memoised: pages repeat them)."""
    key = (tag, heading, attrs)
    row = _MARKUP_ROWS.get(key)
    if row is None:
        if len(_MARKUP_ROWS) > 50_000:
            _MARKUP_ROWS.clear()
        row = _MARKUP_ROWS[key] = _compute_markup_row(tag, heading, attrs)
    return row


_MARKUP_ROWS: dict[tuple[str, int, str], tuple[float, ...]] = {}


def _compute_markup_row(tag: str, heading: int, attrs: str) -> tuple[float, ...]:
    onehot = _TAG_ROWS.get((tag, heading))
    if onehot is None:
        t = "h" if heading or tag in ("h1", "h2", "h3", "h4", "h5", "h6") else tag
        onehot = tuple([0.0] * len(TAGS)) if not t else tuple(
            float((t if t in TAGS else "other") == name) for name in TAGS
        )
        _TAG_ROWS[(tag, heading)] = onehot
    mask = 0
    if attrs:
        get = _TOKEN_GROUPS.get
        for tok in attrs.split():
            mask |= get(tok, 0)
    return (*onehot, *(float(mask >> b & 1) for b in range(len(ATTR_GROUPS))))


_UNIT_MARKUP = attrgetter(
    "paragraph_break", "tag", "heading", "link_density", "in_list", "in_table", "depth", "attrs"
)


def _markup(page: list[Unit]) -> dict[str, np.ndarray]:
    n = len(page)
    fields = [_UNIT_MARKUP(u) for u in page]
    rows = np.array(
        [(f[0], bool(f[1]), f[2], f[3], f[4], f[5], f[6], *_markup_row(f[1], f[2], f[7]))
         for f in fields],
        dtype=np.float64,
    ).reshape(n, 7 + len(TAGS) + len(ATTR_GROUPS))
    out = {name: rows[:, i] for i, name in enumerate(
        ("paragraph_break", "is_html", "heading", "link_density", "in_list", "in_table", "depth")
    )}
    out["depth"] = np.log1p(out["depth"])
    out.update({f"tag_{t}": rows[:, 7 + i] for i, t in enumerate(TAGS)})
    out.update({f"attr_{g}": rows[:, 7 + len(TAGS) + i] for i, g in enumerate(ATTR_GROUPS)})
    return out


def _containers(page: list[Unit], lengths: np.ndarray) -> dict[str, np.ndarray]:
    """Text held by the block elements around each unit (HTML only).

    For the unit's nearest containers: the share of the page's text they hold, their link
    density, how many units they hold and how much of the page's running text. And the "main
    box": the innermost element holding most of the page's running text, which is where an
    article lives; units outside it are rarely content.
    """
    n = len(page)
    names = [f"box{k}_{x}" for k in range(1, N_CONTAINER_LEVELS + 1)
             for x in ("share", "link_density", "log_units", "long_share")]
    out = {name: np.full(n, -1.0) for name in names}
    out["in_main_box"] = np.zeros(n)
    out["main_box_found"] = np.zeros(n)
    chains = [u.ancestors for u in page]
    sizes = np.fromiter((len(c) for c in chains), dtype=np.int64, count=n)
    if not sizes.any():
        return out
    flat = np.fromiter((a for c in chains for a in c), dtype=np.int64, count=int(sizes.sum()))
    owner = np.repeat(np.arange(n), sizes)
    n_el = int(flat.max()) + 1
    links = lengths * np.fromiter((u.link_density for u in page), np.float64, n)
    long_chars = np.where(lengths >= _LONG, lengths, 0.0)
    el_chars = np.bincount(flat, weights=lengths[owner], minlength=n_el)
    el_links = np.bincount(flat, weights=links[owner], minlength=n_el)
    el_units = np.bincount(flat, minlength=n_el).astype(np.float64)
    el_long = np.bincount(flat, weights=long_chars[owner], minlength=n_el)
    total = max(1.0, float(lengths.sum()))
    total_long = float(long_chars.sum())
    for k in range(1, N_CONTAINER_LEVELS + 1):
        has = sizes >= k
        if not has.any():
            continue
        pos = np.cumsum(sizes) - k  # index in `flat` of the k-th nearest container
        el = flat[pos[has]]
        out[f"box{k}_share"][has] = el_chars[el] / total
        out[f"box{k}_link_density"][has] = el_links[el] / np.maximum(el_chars[el], 1.0)
        out[f"box{k}_log_units"][has] = np.log1p(el_units[el])
        out[f"box{k}_long_share"][has] = el_long[el] / max(1.0, total_long)
    if total_long > 0:
        # Elements holding most of the running text are nested in one another (two disjoint
        # ones cannot both hold most of it), and ids follow document order, so the innermost
        # is the one with the largest id.
        holds = np.flatnonzero(el_long >= 0.6 * total_long)
        if len(holds):
            main = int(holds.max())
            inside = np.bincount(owner[flat == main], minlength=n) > 0
            out["in_main_box"] = inside.astype(np.float64)
            out["main_box_found"][:] = 1.0
    return out


def _compact(m: sp.csr_matrix) -> sp.csr_matrix:
    """The page's rows over only the columns the page uses, so page vectors are small."""
    cols, inverse = np.unique(m.indices, return_inverse=True)
    return sp.csr_matrix((m.data, inverse.ravel(), m.indptr), shape=(m.shape[0], len(cols)))


def _cos_with_rest(m: sp.csr_matrix, weights: np.ndarray) -> np.ndarray:
    """Cosine between each l2-normalised row r_i and the weighted sum of the other rows."""
    page_sum = np.asarray(m.T @ weights).ravel()
    dots = np.asarray(m @ page_sum).ravel()
    own_sq = np.asarray(m.multiply(m).sum(axis=1)).ravel()  # 1, or 0 for an empty row
    rest_sq = float(page_sum @ page_sum) - 2 * weights * dots + weights**2 * own_sq
    rest_dots = dots - weights * own_sq
    return np.clip(rest_dots / np.sqrt(np.maximum(rest_sq, 1e-12)), 0.0, 1.0)
