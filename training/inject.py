"""Spam injection: turn clean labelled pages into labelled spammy ones.

Real spam-injected pages are rare and their spam is always some brand, language and position we
have not seen yet, so the model learns from synthetic injections. What it can learn is bounded by
the breadth of this generator: every brand, keyword, language and placement it can produce is one
the model may recognise later, and every one it cannot is one the model will be blind to. The
generator therefore draws from *families* of material (brand generators, keyword templates per
language and topic, promo templates, unrelated headlines in many scripts, spam domains, obscene
word lists, synthetic foreign-script text) and places them in seven ways (`KINDS`), recording
exact character offsets so that excision can be trained and checked.

Kinds
-----
``splice_in_word``         keyword spliced inside a word of a headline / short content unit
                           (``Chan`` + ``8k8 withdrawal`` + ``g'e``); unit stays content, one span.
``byline_replace``         new unit ``unrelated headline | keyword | date`` after the headline, or
                           replacing a short boilerplate line near the top; label spam.
``promo_paragraph``        1-4 promo sentences as their own unit between content paragraphs; spam.
``foreign_headline``       unrelated headline in another language/script as a unit; spam.
``link_farm``              many keyword anchors/domains joined by separators; spam.
``splice_between_words``   keyword glued between words of a paragraph (with or without a space,
                           or a foreign-script fragment glued to Latin text); content + span.
``promo_sentence_append``  promo sentence appended (sometimes prepended) to a paragraph;
                           content + span.

Span convention: a span covers exactly the inserted characters, including the one space that was
inserted with the keyword when it was glued in with a space, so deleting every span of a content
unit gives back its original text exactly (kept as ``original`` in the injection record).

Family split (``holdout``)
--------------------------
Every piece of vocabulary belongs to exactly one family, and every family is either ``train`` or
``test``, so a benchmark built with ``holdout="test"`` measures generalisation to unseen strings
*and* unseen families. ``holdout="all"`` is the union, for a final model once numbers are taken.

==========================  ===================================  ================================
material                    train                                test
==========================  ===================================  ================================
languages (kw/promo/head.)  en zh vi id ko th ru es pt hi de     ja ar tr fr  (``TEST_LANGS``;
                                                                 Kana and Arabic script unseen)
spam topics                 gambling betting lottery adult       replica loans (``TEST_TOPICS``)
                            pharma crypto essay seo followers
                            docs
brand generators            digit_letter_digit letters_digits    doubled_letters country_suffix
                            digits_letters syllable_number       hyphenated leet
                            word_combo tld_suffix
hand-written brands         ``brands.tsv`` set a                 set b
zh-spam-domains             crc32(registrable domain) even       odd
zh-gambling-terms           crc32(term) even                     odd
zh headlines (categories)   sorted categories at even positions  odd positions (car, fashion,
                            (baby, discovery, essay, ...)        sports, tech, world, ...)
ldnoobw obscene words       other languages                      ``LDNOOBW_TEST_LANGS``
synthetic scripts           greek hebrew georgian bengali        armenian tamil lao myanmar
                            ethiopic khmer                       gujarati
==========================  ===================================  ================================

A keyword or promo family is ``test`` when its language *or* its topic is held out. Byline labels
("Updated:", "更新时间：") and date formats are layout, not vocabulary, so they are no family; train
only drops the labels written in a held-out language.
Headlines taken from *other input records* (the reservoir of `inject_records`) are the most
realistic "unrelated" text in the page's own language; they come from whatever pages are being
injected, so they are family ``reservoir`` and not part of any `Vocabulary`.

Determinism: all randomness comes from the `random.Random` passed in; lists are iterated in file
or sorted order; string hashing uses `zlib.crc32`, never `hash()`.
"""

from __future__ import annotations

import argparse
import copy
import json
import random
import re
import sys
import unicodedata
import zlib
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

KINDS: tuple[str, ...] = (
    "splice_in_word",
    "byline_replace",
    "promo_paragraph",
    "foreign_headline",
    "link_farm",
    "splice_between_words",
    "promo_sentence_append",
)
HOLDOUTS: tuple[str, ...] = ("train", "test", "all")

VOCAB_DIR = Path(__file__).resolve().parent / "vocab"
DEFAULT_DATA_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "data"

TEST_LANGS: frozenset[str] = frozenset({"ja", "ar", "tr", "fr"})
TEST_TOPICS: frozenset[str] = frozenset({"replica", "loans"})
TRAIN_BRAND_PATTERNS: tuple[str, ...] = (
    "digit_letter_digit",
    "letters_digits",
    "digits_letters",
    "syllable_number",
    "word_combo",
    "tld_suffix",
)
TEST_BRAND_PATTERNS: tuple[str, ...] = ("doubled_letters", "country_suffix", "hyphenated", "leet")
LDNOOBW_TEST_LANGS: frozenset[str] = TEST_LANGS | {"fa", "it", "nl", "pl", "sv"}
LDNOOBW_SKIP: frozenset[str] = frozenset({"tlh", "LICENSE"})

# Code-point ranges for synthetic foreign-script text: the model should learn "a run of a script
# foreign to the page" rather than the words of our few hand-written languages.
SCRIPT_RANGES: dict[str, tuple[int, int]] = {
    "greek": (0x03B1, 0x03C9),
    "hebrew": (0x05D0, 0x05EA),
    "georgian": (0x10D0, 0x10F0),
    "bengali": (0x0995, 0x09B9),
    "ethiopic": (0x1200, 0x1350),
    "khmer": (0x1780, 0x17A2),
    "armenian": (0x0561, 0x0586),
    "tamil": (0x0B95, 0x0BB9),
    "lao": (0x0E81, 0x0EAE),
    "myanmar": (0x1000, 0x102A),
    "gujarati": (0x0A95, 0x0AB9),
}
TRAIN_SCRIPTS: tuple[str, ...] = ("greek", "hebrew", "georgian", "bengali", "ethiopic", "khmer")
TEST_SCRIPTS: tuple[str, ...] = ("armenian", "tamil", "lao", "myanmar", "gujarati")

# Languages whose sentences are written without spaces between them.
_NO_SPACE_LANGS = frozenset({"zh", "ja"})


# --------------------------------------------------------------------------------------------
# Vocabulary
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    """One piece of vocabulary; `family` is the unit a benchmark holds out."""

    text: str
    family: str
    lang: str = ""
    topic: str = ""


@dataclass(frozen=True)
class _Pool:
    """Entries grouped by family, so sampling is uniform over families, not over strings.

    Uniform-over-family sampling keeps a 36k-line headline file from drowning a 20-line
    hand-written language: breadth of families matters more than volume of one family.
    """

    entries: tuple[Entry, ...]
    families: tuple[str, ...] = field(init=False)
    by_family: dict[str, tuple[Entry, ...]] = field(init=False, hash=False, compare=False)
    by_lang: dict[str, tuple[str, ...]] = field(init=False, hash=False, compare=False)

    def __post_init__(self) -> None:
        by_family: dict[str, list[Entry]] = {}
        by_lang: dict[str, list[str]] = {}
        for e in self.entries:
            if e.family not in by_family:
                by_family[e.family] = []
                by_lang.setdefault(e.lang, []).append(e.family)
            by_family[e.family].append(e)
        object.__setattr__(self, "families", tuple(sorted(by_family)))
        object.__setattr__(self, "by_family", {k: tuple(v) for k, v in by_family.items()})
        object.__setattr__(self, "by_lang", {k: tuple(sorted(v)) for k, v in by_lang.items()})

    def __bool__(self) -> bool:
        return bool(self.entries)

    def langs(self) -> tuple[str, ...]:
        """Languages present, sorted (for deterministic choice)."""
        return tuple(sorted(self.by_lang))

    def pick(
        self,
        rng: random.Random,
        lang: str | None = None,
        exclude_lang: str | None = None,
        families: Sequence[str] | None = None,
    ) -> Entry | None:
        """A random entry: first a family (uniformly), then an entry of it; None if none fit."""
        if families is None:
            if lang is not None:
                families = self.by_lang.get(lang, ())
            else:
                families = self.families
            if exclude_lang is not None:
                families = [f for f in families if self.by_family[f][0].lang != exclude_lang]
        if not families:
            return None
        return rng.choice(self.by_family[rng.choice(list(families))])


@dataclass(frozen=True)
class Vocabulary:
    """All injection material of one holdout, grouped into families.

    Built by `load_vocabulary`; immutable so it can be shared across processes and records.
    """

    holdout: str
    brands: _Pool  # fixed brand names (hand-written lists, domain-derived)
    brand_patterns: tuple[str, ...]  # names of brand generators usable in this holdout
    keywords: _Pool  # templates, "{brand}" filled at injection time
    promos: _Pool  # sentence templates: {brand} {kw} {domain} {n}
    headlines: _Pool  # unrelated headlines
    domains: _Pool  # spam domains for link farms and {domain}
    adult_terms: _Pool  # obscene words used as adult-spam keywords
    scripts: tuple[str, ...]  # synthetic-script generators usable in this holdout
    byline_labels: tuple[Entry, ...]  # shared layout material, not a family

    @property
    def families(self) -> tuple[str, ...]:
        """Every family this vocabulary can draw from, sorted."""
        fams: set[str] = set()
        for pool in (
            self.brands,
            self.keywords,
            self.promos,
            self.headlines,
            self.domains,
            self.adult_terms,
        ):
            fams.update(pool.families)
        fams.update(f"brand:gen-{p}" for p in self.brand_patterns)
        fams.update(f"synthetic:{s}" for s in self.scripts)
        return tuple(sorted(fams))


def _read_lines(path: Path) -> list[str]:
    """Non-blank, non-comment lines of a UTF-8 file."""
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            out.append(line.rstrip("\r"))
    return out


def _read_tsv(name: str) -> list[list[str]]:
    """Rows of one of our own vocab TSV files."""
    return [line.split("\t") for line in _read_lines(VOCAB_DIR / name)]


def _crc_half(text: str) -> str:
    """Deterministic half ("a"/"b") of a string: stable across runs, unlike `hash()`."""
    return "a" if zlib.crc32(text.encode("utf-8")) % 2 == 0 else "b"


def _registrable(domain: str) -> str:
    """Approximate registrable domain, so subdomains of one site land in the same half."""
    parts = domain.lower().strip(".").split(".")
    if len(parts) >= 3 and parts[-2] in {"com", "net", "org", "gov", "edu", "co"}:
        return ".".join(parts[-3:])
    return ".".join(parts[-2:])


@lru_cache(maxsize=4)
def _zh_headlines(path: str) -> tuple[tuple[str, str], ...]:
    """(category, headline) rows of the NLPCC headline file (cached: 36k lines)."""
    rows = []
    for line in _read_lines(Path(path))[1:]:
        cat, _, text = line.partition("\t")
        text = " ".join(text.split())
        if cat and text:
            rows.append((cat, text))
    return tuple(rows)


@lru_cache(maxsize=8)
def _plain_list(path: str) -> tuple[str, ...]:
    """A one-item-per-line list from the shared lexicons (cached)."""
    return tuple(" ".join(x.split()) for x in _read_lines(Path(path)))


def _resolve_data_dir(data_dir: Path | None) -> Path | None:
    """The shared data folder if it exists; None means "use our own vocabulary only"."""
    d = DEFAULT_DATA_DIR if data_dir is None else Path(data_dir)
    return d if d.is_dir() else None


def _family_is_test(lang: str = "", topic: str = "") -> bool:
    return lang in TEST_LANGS or topic in TEST_TOPICS


def load_vocabulary(data_dir: Path | None = None, holdout: str = "train") -> Vocabulary:
    """Load the injection vocabulary of one holdout.

    `data_dir` defaults to ``<repo>/../shared/data``; when that is absent only the hand-written
    vocabulary under ``training/vocab`` is used, so the generator (and its tests) still run.
    Train and test are disjoint in families *and* strings: a string that occurs in a test family
    (e.g. an obscene word shared by two languages) is dropped from train.
    """
    if holdout not in HOLDOUTS:
        raise ValueError(f"holdout must be one of {HOLDOUTS}, got {holdout!r}")
    data = _resolve_data_dir(data_dir)
    pools: dict[str, list[tuple[Entry, bool]]] = {
        k: [] for k in ("brands", "keywords", "promos", "headlines", "domains", "adult")
    }

    for set_, name in _read_tsv("brands.tsv"):
        pools["brands"].append((Entry(name, f"brand:list-{set_}"), set_ == "b"))
    for lang, topic, template in _read_tsv("keywords.tsv"):
        e = Entry(template, f"kw:{lang}:{topic}", lang, topic)
        pools["keywords"].append((e, _family_is_test(lang, topic)))
    for lang, topic, template in _read_tsv("promos.tsv"):
        e = Entry(template, f"promo:{lang}:{topic}", lang, topic)
        pools["promos"].append((e, _family_is_test(lang, topic)))
    for lang, text in _read_tsv("headlines.tsv"):
        e = Entry(text, f"headline:{lang}", lang, "news")
        pools["headlines"].append((e, _family_is_test(lang)))
    byline_labels = tuple(
        Entry(label, "", lang)
        for lang, label in _read_tsv("bylines.tsv")
        if holdout != "train" or lang not in TEST_LANGS  # no held-out language leaks via labels
    )

    if data is not None:
        hl = data / "headlines-zh" / "headlines.tsv"
        if hl.is_file():
            rows = _zh_headlines(str(hl))
            test_cats = set(sorted({c for c, _ in rows})[1::2])
            for cat, text in rows:
                e = Entry(text, f"headline:zh:{cat}", "zh", cat)
                pools["headlines"].append((e, cat in test_cats))
        lex = data / "lexicons"
        dom = lex / "zh-spam-domains.txt"
        if dom.is_file():
            for d in _plain_list(str(dom)):
                half = _crc_half(_registrable(d))
                pools["domains"].append((Entry(d.lower(), f"domain:zh-spam-{half}", "zh"),
                                         half == "b"))
                brand = Entry(_brand_from_domain(d), f"brand:zh-spam-domain-{half}")
                pools["brands"].append((brand, half == "b"))
        gam = lex / "zh-gambling-terms.txt"
        if gam.is_file():
            for t in _plain_list(str(gam)):
                half = _crc_half(t)
                e = Entry(t, f"kw:zh:lexicon-{half}", "zh", "gambling")
                pools["keywords"].append((e, half == "b"))
        ld = lex / "ldnoobw"
        if ld.is_dir():
            for f in sorted(ld.iterdir()):
                if f.name in LDNOOBW_SKIP or not f.is_file():
                    continue
                for w in _plain_list(str(f)):
                    letters = sum(ch.isalpha() for ch in w)
                    if letters >= (3 if w.isascii() else 2):
                        e = Entry(w, f"adult:{f.name}", f.name, "adult")
                        pools["adult"].append((e, f.name in LDNOOBW_TEST_LANGS))

    def select(items: list[tuple[Entry, bool]]) -> _Pool:
        if holdout == "all":
            return _Pool(tuple(e for e, _ in items))
        test_texts = {e.text.casefold() for e, t in items if t}
        if holdout == "test":
            return _Pool(tuple(e for e, t in items if t))
        return _Pool(tuple(e for e, t in items if not t and e.text.casefold() not in test_texts))

    patterns: tuple[str, ...] = ()
    scripts: tuple[str, ...] = ()
    if holdout in ("train", "all"):
        patterns += TRAIN_BRAND_PATTERNS
        scripts += TRAIN_SCRIPTS
    if holdout in ("test", "all"):
        patterns += TEST_BRAND_PATTERNS
        scripts += TEST_SCRIPTS

    return Vocabulary(
        holdout=holdout,
        brands=select(pools["brands"]),
        brand_patterns=patterns,
        keywords=select(pools["keywords"]),
        promos=select(pools["promos"]),
        headlines=select(pools["headlines"]),
        domains=select(pools["domains"]),
        adult_terms=select(pools["adult"]),
        scripts=scripts,
        byline_labels=byline_labels,
    )


def _brand_from_domain(domain: str) -> str:
    """``www.ag88.com`` -> ``ag88``: the label a spammer would use as a brand."""
    parts = [p for p in domain.lower().split(".") if p not in {"www", "m", "wap"}]
    if len(parts) >= 2:
        parts = parts[:-1]
        if len(parts) >= 2 and parts[-1] in {"com", "net", "org", "co"}:
            parts = parts[:-1]
    return max(parts, key=len) if parts else domain


# --------------------------------------------------------------------------------------------
# Generators of brands, keywords, domains, dates, promos, headlines
# --------------------------------------------------------------------------------------------

_LUCKY = ("8", "88", "888", "777", "99", "365", "168", "68", "86", "79", "123", "789", "188",
          "666", "555", "24", "9", "7", "5", "1", "68", "365", "247", "999", "711", "55")
_WORDS = ("win", "bet", "club", "vip", "play", "game", "slot", "spin", "lucky", "mega", "gold",
          "king", "star", "royal", "dragon", "tiger", "fortune", "jackpot", "ace", "max", "pro",
          "happy", "rich", "fun", "live", "top", "hot", "super", "diamond", "boss", "mania",
          "panda", "phoenix", "empire", "casino", "luck", "hero", "jet", "sky", "nova")
_CONS = "bcdfghjklmnprstvwxyz"
_VOWELS = "aeiou"
_TLDS = (".vip", ".bet", ".club", ".com", ".vn", ".win", ".io", ".cc", ".ph", ".app", ".net",
         ".asia", ".top", ".xyz", ".me", ".live", ".online", ".site", ".co", ".in", ".id")
_COUNTRY = ("vn", "th", "id", "ph", "br", "in", "bd", "kh", "my", "mx", "ng", "kr", "pk")
_LEET = {"a": "4", "e": "3", "i": "1", "o": "0", "s": "5"}


def _digits(rng: random.Random) -> str:
    if rng.random() < 0.7:
        return rng.choice(_LUCKY)
    return str(rng.randint(10, 999))


def _syllables(rng: random.Random, n: int) -> str:
    return "".join(rng.choice(_CONS) + rng.choice(_VOWELS) for _ in range(n))


def _letters(rng: random.Random, lo: int, hi: int) -> str:
    return "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(lo, hi)))


def _gen_brand(rng: random.Random, pattern: str) -> str:
    """A brand-like string made up on the fly, so no brand list limits what the model sees."""
    if pattern == "digit_letter_digit":
        d = str(rng.randint(1, 9))
        tail = d if rng.random() < 0.7 else _digits(rng)
        return d + rng.choice("abcdefghjkmnpqrstuvwxyz") + tail
    if pattern == "letters_digits":
        return _letters(rng, 1, 5) + _digits(rng)
    if pattern == "digits_letters":
        return _digits(rng) + rng.choice(_WORDS)
    if pattern == "syllable_number":
        s = _syllables(rng, rng.randint(2, 3))
        return s + (_digits(rng) if rng.random() < 0.6 else "")
    if pattern == "word_combo":
        a, b = rng.choice(_WORDS), rng.choice(_WORDS)
        w = a + b if rng.random() < 0.5 else a.capitalize() + b.capitalize()
        return w + (_digits(rng) if rng.random() < 0.5 else "")
    if pattern == "tld_suffix":
        base = _gen_brand(rng, rng.choice(TRAIN_BRAND_PATTERNS[:5]))
        return base.lower() + rng.choice(_TLDS)
    if pattern == "doubled_letters":
        c = rng.choice("bcdfgjkmnpqrtvwxyz")
        return c + c + (_digits(rng) if rng.random() < 0.6 else rng.choice(_WORDS))
    if pattern == "country_suffix":
        base = rng.choice((_letters(rng, 1, 4) + _digits(rng), _syllables(rng, 2)))
        return base + rng.choice(_COUNTRY)
    if pattern == "hyphenated":
        return rng.choice(_WORDS) + "-" + rng.choice(_WORDS) + _digits(rng)
    if pattern == "leet":
        w = rng.choice(_WORDS) + rng.choice(_WORDS)
        return "".join(_LEET.get(ch, ch) if rng.random() < 0.6 else ch for ch in w) + _digits(rng)
    raise ValueError(f"unknown brand pattern {pattern!r}")


def _pick_brand(rng: random.Random, vocab: Vocabulary) -> tuple[str, str]:
    """(brand, family): uniform over generator patterns and fixed-list families."""
    options = [f"brand:gen-{p}" for p in vocab.brand_patterns] + list(vocab.brands.families)
    if not options:
        return _gen_brand(rng, "letters_digits"), "brand:gen-letters_digits"
    fam = rng.choice(options)
    if fam.startswith("brand:gen-"):
        brand = _gen_brand(rng, fam.removeprefix("brand:gen-"))
    else:
        brand = rng.choice(vocab.brands.by_family[fam]).text
    if brand.isascii() and rng.random() < 0.2:
        brand = rng.choice((brand.upper(), brand.capitalize()))
    return brand, fam


def _make_domain(rng: random.Random, vocab: Vocabulary, brand: str | None) -> tuple[str, str]:
    """(domain, family): a listed spam domain or one built from the brand."""
    if vocab.domains and rng.random() < 0.4:
        e = vocab.domains.pick(rng)
        assert e is not None
        d, fam = e.text, e.family
    elif brand and brand.isascii() and "." in brand:  # tld_suffix brands already are domains
        d, fam = re.sub(r"[^a-z0-9.-]", "", brand.lower()), "domain:generated"
    else:
        b = brand if brand and brand.isascii() else _gen_brand(rng, "letters_digits")
        d = (re.sub(r"[^a-z0-9-]", "", b.lower()) or "bet88") + rng.choice(_TLDS)
        fam = "domain:generated"
    r = rng.random()
    if r < 0.15:
        d = "https://" + d
    elif r < 0.25 and not d.startswith("www."):
        d = "www." + d
    return d, fam


_EMOJI = ("🔥", "✅", "💰", "🎰", "⚡", "👉", "⭐", "🎁", "💎", "🏆", "❤️", "➡️")


def _decorate(rng: random.Random, text: str) -> str:
    """Surface variants spammers use; keeps the model off exact casing and bare strings."""
    r = rng.random()
    if r < 0.06 and text.isascii():
        return text.upper()
    if r < 0.12 and text.isascii():
        return text.title()
    if r < 0.18:
        return rng.choice(_EMOJI) + text
    if r < 0.22:
        return text + rng.choice(_EMOJI)
    if r < 0.26:
        left, right = rng.choice((("【", "】"), ("[", "]"), ("(", ")"), ("「", "」"), ("★", "★")))
        return left + text + right
    return text


def _make_keyword(
    rng: random.Random,
    vocab: Vocabulary,
    brand: str | None = None,
    lang: str | None = None,
    decorate: bool = True,
) -> tuple[str, list[str], str]:
    """(keyword, families, lang): a keyword template filled with a brand, or an adult term."""
    fams: list[str] = []
    if vocab.adult_terms and rng.random() < 0.08:
        e = vocab.adult_terms.pick(rng, lang=lang) or vocab.adult_terms.pick(rng)
        assert e is not None
        text = e.text
        if rng.random() < 0.4:
            text = f"{text} {rng.choice(('xxx', '18+', 'videos', 'live', 'cam', 'hd'))}"
        return (_decorate(rng, text) if decorate else text), [e.family], e.lang
    e = None
    if lang is not None:
        e = vocab.keywords.pick(rng, lang=lang)
    if e is None:
        e = vocab.keywords.pick(rng)
    if e is None:  # empty vocabulary: still produce something brand-like
        b, bf = (brand, "") if brand else _pick_brand(rng, vocab)
        return f"{b} login", [bf] if bf else [], "en"
    fams.append(e.family)
    text = e.text
    if "{brand}" in text:
        if brand is None:
            b, bf = _pick_brand(rng, vocab)
            fams.append(bf)
        else:
            b = brand
        text = text.replace("{brand}", b)
    return (_decorate(rng, text) if decorate else text), fams, e.lang


_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August",
           "September", "October", "November", "December")


def _keyword_for_topic(
    rng: random.Random, vocab: Vocabulary, brand: str, lang: str, topic: str
) -> str:
    """A keyword matching a promo template's topic (same language if we have one), so that
    "Buy {kw} with no prescription" gets a pharma keyword, not a casino one."""
    pool = vocab.keywords
    fams = [f for f in pool.families if pool.by_family[f][0].topic == topic]
    same = [f for f in fams if pool.by_family[f][0].lang == lang]
    fams = same if same and rng.random() < 0.8 else fams
    if not fams:
        return _make_keyword(rng, vocab, brand, lang, decorate=False)[0]
    e = pool.pick(rng, families=fams)
    assert e is not None
    return e.text.replace("{brand}", brand)


def _make_date(rng: random.Random, lang: str) -> str:
    """A date in one of many layouts (no locale-dependent strftime)."""
    y, mo, d = rng.randint(2016, 2025), rng.randint(1, 12), rng.randint(1, 28)
    h, mi, s = rng.randint(0, 23), rng.randint(0, 59), rng.randint(0, 59)
    fmts = [
        f"{y}-{mo:02d}-{d:02d} {h:02d}:{mi:02d}:{s:02d}",
        f"{y}-{mo:02d}-{d:02d}",
        f"{y}-{mo:02d}-{d:02d} {h:02d}:{mi:02d}",
        f"{d:02d}/{mo:02d}/{y}",
        f"{mo}/{d}/{y} {h:02d}:{mi:02d}",
        f"{_MONTHS[mo - 1]} {d}, {y}",
        f"{d} {_MONTHS[mo - 1][:3]} {y}",
        f"{y}.{mo:02d}.{d:02d}",
        f"{d:02d}.{mo:02d}.{y} {h:02d}:{mi:02d}",
        f"{y}-{mo:02d}-{d:02d}T{h:02d}:{mi:02d}:{s:02d}+08:00",
    ]
    if lang in ("zh", "ja"):
        fmts += [f"{y}年{mo}月{d}日", f"{y}年{mo:02d}月{d:02d}日 {h:02d}:{mi:02d}"]
    if lang == "ko":
        fmts += [f"{y}. {mo}. {d}. {h:02d}:{mi:02d}", f"{y}년 {mo}월 {d}일"]
    if lang == "vi":
        fmts += [f"{h:02d}:{mi:02d} {d:02d}/{mo:02d}/{y}", f"{rng.randint(1, 23)} giờ trước"]
    if lang == "en":
        fmts += [f"{rng.randint(1, 23)} hours ago", f"{rng.randint(2, 30)} days ago"]
    if lang == "zh":
        fmts += [f"{rng.randint(1, 59)}分钟前"]
    return rng.choice(fmts)


def _synthetic_text(rng: random.Random, script: str, words: tuple[int, int] = (3, 9)) -> str:
    """Word-like runs of one script: stands in for every language we have no list for."""
    lo, hi = SCRIPT_RANGES[script]
    letters = [chr(c) for c in range(lo, hi + 1) if unicodedata.category(chr(c)).startswith("L")]
    return " ".join(
        "".join(rng.choice(letters) for _ in range(rng.randint(2, 7)))
        for _ in range(rng.randint(*words))
    )


def _fill_promo(rng: random.Random, vocab: Vocabulary, e: Entry, camp: _Campaign) -> str:
    """Fill a promo template's slots, reusing the page's campaign brand/keyword."""
    text = e.text
    if "{brand}" in text:
        text = text.replace("{brand}", camp.brand)
    if "{kw}" in text:
        if camp.keyword_topic == e.topic and rng.random() < 0.5:
            kw = camp.keyword
        else:
            kw = _keyword_for_topic(rng, vocab, camp.brand, e.lang, e.topic)
        text = text.replace("{kw}", kw)
    if "{domain}" in text:
        text = text.replace("{domain}", _make_domain(rng, vocab, camp.brand)[0])
    if "{n}%" in text:  # a percentage: keep it plausible
        pct = rng.choice((10, 20, 30, 50, 88, 100, rng.randint(5, 100)))
        text = text.replace("{n}%", f"{pct}%")
    if "{n}" in text:
        text = text.replace("{n}", rng.choice(("50", "100", "150", "200", "88", "500", "1000",
                                              "30", "20", str(rng.randint(5, 999)))))
    return text


# --------------------------------------------------------------------------------------------
# Page language guess (only to choose same- vs other-language material)
# --------------------------------------------------------------------------------------------

_STOP: dict[str, frozenset[str]] = {
    "en": frozenset("the and of to in is that for with was on are as by this it".split()),
    "de": frozenset("der die und das ist nicht mit den von zu ein eine auf für sich".split()),
    "fr": frozenset("le la les et des est une dans pour que qui sur pas du au".split()),
    "es": frozenset("el la los las y de que en un una por con para es se del".split()),
    "pt": frozenset("o a os as e de que em um uma para com não do da é".split()),
    "id": frozenset("yang dan di ini itu dengan untuk dari tidak dalam akan ke ada".split()),
    "tr": frozenset("ve bir bu da de için ile çok olan gibi daha ama".split()),
    "vi": frozenset("và của là có được trong cho không những các một người này".split()),
}
_VI_CHARS = frozenset("ăâđêôơưạảấầẩẫậắằẳẵặẹẻẽếềểễệỉịọỏốồổỗộớờởỡợụủứừửữựỳỵỷỹ")


def _script(ch: str) -> str:
    o = ord(ch)
    if 0x4E00 <= o <= 0x9FFF or 0x3400 <= o <= 0x4DBF:
        return "han"
    if 0x3040 <= o <= 0x30FF:
        return "kana"
    if 0xAC00 <= o <= 0xD7AF or 0x1100 <= o <= 0x11FF:
        return "hangul"
    if 0x0E00 <= o <= 0x0E7F:
        return "thai"
    if 0x0400 <= o <= 0x04FF:
        return "cyrillic"
    if 0x0600 <= o <= 0x06FF:
        return "arabic"
    if 0x0900 <= o <= 0x097F:
        return "devanagari"
    if (ch.isalpha() and o < 0x0250) or 0x1E00 <= o <= 0x1EFF:
        return "latin"
    return "other" if ch.isalpha() else ""


_SCRIPT_LANG = {"hangul": "ko", "kana": "ja", "thai": "th", "cyrillic": "ru", "arabic": "ar",
                "devanagari": "hi"}


def guess_lang(text: str) -> str:
    """Rough language of a text: script first, then stop words for Latin script."""
    counts = Counter(s for s in map(_script, text[:4000]) if s)
    if not counts:
        return "en"
    top = counts.most_common(1)[0][0]
    if top in ("han", "kana"):
        return "ja" if counts["kana"] > 0.1 * (counts["han"] + counts["kana"]) else "zh"
    if top in _SCRIPT_LANG:
        return _SCRIPT_LANG[top]
    if top != "latin":
        return "xx"
    low = text[:4000].lower()
    if sum(ch in _VI_CHARS for ch in low) > 0.03 * max(1, counts["latin"]):
        return "vi"
    words = re.findall(r"[^\W\d_]+", low)
    scores = {lang: sum(w in stop for w in words) for lang, stop in _STOP.items()}
    best = max(sorted(scores), key=lambda k: scores[k])
    return best if scores[best] > 0 else "en"


# --------------------------------------------------------------------------------------------
# Page model
# --------------------------------------------------------------------------------------------


@dataclass
class _Row:
    """A unit while the page is being edited; `orig_pos` is its position in the input or None."""

    unit: dict
    label: str
    spans: list[dict]
    orig_pos: int | None
    touched: bool = False  # already carries an injection from this call


@dataclass
class _Campaign:
    """The brand and keyword one spammer pushes across a page (the seed page reuses one)."""

    brand: str
    brand_family: str
    keyword: str
    keyword_families: list[str]
    keyword_lang: str
    keyword_topic: str


@dataclass
class _Ctx:
    """Everything an injector needs about the page being edited."""

    rng: random.Random
    vocab: Vocabulary
    rows: list[_Row]
    kind: str
    lang: str
    camp: _Campaign
    unrelated: Sequence[tuple[str, str]]  # (text, lang) from other records
    injections: list[dict] = field(default_factory=list)

    def keyword(self, lang: str | None = None) -> tuple[str, list[str], str]:
        """The campaign keyword most of the time, a fresh one otherwise."""
        if lang is None and self.rng.random() < 0.55:
            return self.camp.keyword, list(self.camp.keyword_families), self.camp.keyword_lang
        brand = self.camp.brand if self.rng.random() < 0.6 else None
        return _make_keyword(self.rng, self.vocab, brand, lang)


_HTML_FIELDS = ("tag", "path", "depth", "in_list", "in_table", "attrs", "ancestors")
_HEAD_TAGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})


def _new_unit(ctx: _Ctx, pos: int, text: str, role: str) -> dict:
    """A unit dict for inserted text, with markup borrowed from a neighbour (HTML) or a random
    unit, so the model cannot spot injections by their missing markup."""
    unit: dict = {"text": text}
    rows = ctx.rows
    rng = ctx.rng
    if ctx.kind == "html":
        neigh: _Row | None = None
        if rows:
            if rng.random() < 0.8:
                cands = [rows[i] for i in (pos - 1, pos) if 0 <= i < len(rows)]
                neigh = rng.choice(cands) if cands else None
            else:
                neigh = rng.choice(rows)
        src = neigh.unit if neigh is not None else {}
        for k in _HTML_FIELDS:
            if k in src:
                unit[k] = copy.deepcopy(src[k])
        unit.setdefault("tag", rng.choice(("p", "div", "span", "li")))
        unit.setdefault("path", "html>body>div>" + unit["tag"])
        unit.setdefault("depth", unit["path"].count(">"))
        if unit["tag"] in _HEAD_TAGS and not (role == "headline" and rng.random() < 0.5):
            new_tag = rng.choice(("p", "div", "span"))
            unit["path"] = re.sub(r"h[1-6]$", new_tag, str(unit["path"]))
            unit["tag"] = new_tag
        if role == "headline" and rng.random() < 0.3:
            level = rng.randint(1, 4)
            unit["tag"] = f"h{level}"
            unit["path"] = re.sub(r"[a-z0-9]+$", f"h{level}", str(unit["path"]))
        if unit["tag"] in _HEAD_TAGS:
            unit["heading"] = int(unit["tag"][1])
        if role == "links":
            unit["link_density"] = 1.0 if rng.random() < 0.7 else round(rng.uniform(0.6, 0.99), 3)
            if rng.random() < 0.3:
                unit["attrs"] = " ".join(
                    x for x in (str(unit.get("attrs", "")), rng.choice(
                        ("footer links", "tags", "friend-links", "partners", "seo-links", "sidebar")
                    )) if x
                )
        elif role == "promo" and rng.random() < 0.4:
            unit["link_density"] = round(rng.uniform(0.05, 0.5), 3)
        elif role in ("headline", "byline") and rng.random() < 0.25:
            unit["link_density"] = 1.0
    else:
        pb = True
        for i in (pos, pos - 1):
            if 0 <= i < len(rows):
                pb = bool(rows[i].unit.get("paragraph_break", True))
                break
        unit["paragraph_break"] = pb
    return unit


def _insert(ctx: _Ctx, pos: int, text: str, role: str) -> _Row:
    """Insert a spam unit at `pos`."""
    row = _Row(_new_unit(ctx, pos, text, role), "spam", [], None, touched=True)
    ctx.rows.insert(pos, row)
    return row


def _headline_pos(rows: list[_Row]) -> int | None:
    """Position of the headline: first heading-like content unit, else first content unit."""
    for i, r in enumerate(rows[:15]):
        if r.label == "content" and (r.unit.get("heading") or r.unit.get("tag") in _HEAD_TAGS):
            return i
    for i, r in enumerate(rows):
        if r.label == "content":
            return i
    return None


def _content_rows(ctx: _Ctx, min_len: int = 1, max_len: int | None = None) -> list[int]:
    out = []
    for i, r in enumerate(ctx.rows):
        n = len(r.unit["text"])
        if (
            r.label == "content"
            and not r.touched
            and not r.spans
            and n >= min_len
            and (max_len is None or n <= max_len)
        ):
            out.append(i)
    return out


def _splice(ctx: _Ctx, i: int, pos: int, piece: str, span_start: int, span_end: int,
            kind: str, fams: list[str], lang: str, variant: str) -> dict:
    """Insert `piece` at `pos` of row i's text; span is [span_start, span_end) of the new text."""
    row = ctx.rows[i]
    original = row.unit["text"]
    new = original[:pos] + piece + original[pos:]
    assert new[span_start:span_end] == piece
    row.unit["text"] = new
    row.spans.append({"start": span_start, "end": span_end, "label": "spam", "kind": kind})
    row.touched = True
    return {
        "kind": kind,
        "_row": row,
        "family": fams[0] if fams else "",
        "families": fams,
        "lang": lang,
        "variant": variant,
        "text": piece,
        "start": span_start,
        "end": span_end,
        "original": original,
    }


def _is_cjk(ch: str) -> bool:
    return _script(ch) in ("han", "kana", "hangul", "thai")


def _interior_positions(text: str) -> list[int]:
    """Positions strictly inside a word (Latin words of >= 4 letters, or CJK/Thai runs)."""
    out = []
    for m in re.finditer(r"[^\W\d_]+(?:'[^\W\d_]+)?", text):
        w = m.group()
        if len(w) < 2:
            continue
        cjk = _is_cjk(w[0])
        if not cjk and len(w) < 4:
            continue
        for k in range(1, len(w)):
            p = m.start() + k
            if unicodedata.category(text[p]).startswith("M") or "'" in (text[p], text[p - 1]):
                continue
            out.append(p)
    return out


# --------------------------------------------------------------------------------------------
# Injectors: each returns an injection record (with a `_row` reference) or None if inapplicable
# --------------------------------------------------------------------------------------------


def _inj_splice_in_word(ctx: _Ctx) -> dict | None:
    rng = ctx.rng
    cands = _content_rows(ctx, min_len=4)
    if not cands:
        return None
    h = _headline_pos(ctx.rows)
    short = [i for i in cands if len(ctx.rows[i].unit["text"]) <= 160]
    if h in cands and rng.random() < 0.7:
        i = h
    elif short and rng.random() < 0.8:
        i = rng.choice(short)
    else:
        i = rng.choice(cands)
    text = ctx.rows[i].unit["text"]
    positions = _interior_positions(text)
    if not positions:
        return None
    # Spliced keywords sit early in the line more often than not (they are meant to be seen).
    pos = positions[min(int(rng.random() ** 2 * len(positions)), len(positions) - 1)]
    kw, fams, lang = ctx.keyword()
    return _splice(ctx, i, pos, kw, pos, pos + len(kw), "splice_in_word", fams, lang, "in_word")


def _inj_splice_between_words(ctx: _Ctx) -> dict | None:
    rng = ctx.rng
    cands = _content_rows(ctx, min_len=40)
    if not cands:
        return None
    i = rng.choice(cands)
    text = ctx.rows[i].unit["text"]
    spaces = [m.start() for m in re.finditer(r"(?<=\w) (?=\w)", text)]
    variant = rng.choice(("spaced", "spaced", "glued_end", "glued_start", "foreign"))
    if not spaces:  # unspaced script: glue between two characters
        positions = _interior_positions(text) or list(range(1, len(text)))
        pos = rng.choice(positions)
        kw, fams, lang = ctx.keyword()
        return _splice(ctx, i, pos, kw, pos, pos + len(kw), "splice_between_words", fams, lang,
                       "glued")
    s = rng.choice(spaces)
    if variant == "foreign":
        page_script = _dominant_script(text)
        kw, fams, lang = _foreign_keyword(ctx, page_script)
        boundaries = [m.end() for m in re.finditer(r"[.!?。] (?=\w)", text)]
        pos = rng.choice(boundaries) if boundaries and rng.random() < 0.6 else s + 1
        return _splice(ctx, i, pos, kw, pos, pos + len(kw), "splice_between_words", fams, lang,
                       "foreign")
    kw, fams, lang = ctx.keyword()
    if variant == "spaced":
        if rng.random() < 0.5:  # "two" + " kw" + " groups"
            piece = " " + kw
            return _splice(ctx, i, s, piece, s, s + len(piece), "splice_between_words", fams,
                           lang, variant)
        piece = kw + " "  # "two " + "kw " + "groups"
        return _splice(ctx, i, s + 1, piece, s + 1, s + 1 + len(piece), "splice_between_words",
                       fams, lang, variant)
    if variant == "glued_end":  # "post" + "kw" + " ..."
        return _splice(ctx, i, s, kw, s, s + len(kw), "splice_between_words", fams, lang, variant)
    return _splice(ctx, i, s + 1, kw, s + 1, s + 1 + len(kw), "splice_between_words", fams,
                   lang, variant)


def _dominant_script(text: str) -> str:
    c = Counter(s for s in map(_script, text[:2000]) if s)
    return c.most_common(1)[0][0] if c else "latin"


def _foreign_keyword(ctx: _Ctx, page_script: str) -> tuple[str, list[str], str]:
    """A keyword (or synthetic fragment) in a script different from the page's."""
    rng = ctx.rng
    for _ in range(12):
        kw, fams, lang = _make_keyword(rng, ctx.vocab, ctx.camp.brand if rng.random() < 0.3
                                       else None, decorate=False)
        if _dominant_script(kw) != page_script:
            return kw, fams, lang
    if ctx.vocab.scripts:
        sc = rng.choice(ctx.vocab.scripts)
        return _synthetic_text(rng, sc, (1, 2)), [f"synthetic:{sc}"], sc
    return ctx.keyword()


def _pick_promo(ctx: _Ctx, lang: str | None, topic: str | None = None) -> Entry | None:
    pool = ctx.vocab.promos
    if topic is not None and lang is not None:
        fams = [f for f in pool.by_lang.get(lang, ()) if pool.by_family[f][0].topic == topic]
        if fams:
            return pool.pick(ctx.rng, families=fams)
    e = pool.pick(ctx.rng, lang=lang) if lang is not None else None
    return e or pool.pick(ctx.rng)


def _promo_lang(ctx: _Ctx) -> str | None:
    """Page language half of the time when we have promos in it, else any language."""
    if ctx.lang in ctx.vocab.promos.by_lang and ctx.rng.random() < 0.55:
        return ctx.lang
    langs = ctx.vocab.promos.langs()
    return ctx.rng.choice(langs) if langs else None


def _promo_sentence(ctx: _Ctx) -> tuple[str, list[str], str] | None:
    e = _pick_promo(ctx, _promo_lang(ctx))
    if e is None:
        kw, fams, lang = ctx.keyword()
        return f"Visit {kw} now!", fams, lang
    return _fill_promo(ctx.rng, ctx.vocab, e, ctx.camp), [e.family], e.lang


def _inj_promo_sentence_append(ctx: _Ctx) -> dict | None:
    rng = ctx.rng
    cands = _content_rows(ctx, min_len=25) or _content_rows(ctx)
    if not cands:
        return None
    i = rng.choice(cands)
    text = ctx.rows[i].unit["text"]
    got = _promo_sentence(ctx)
    assert got is not None
    promo, fams, lang = got
    if rng.random() < 0.15:  # prepended: the same thing at the other end of the line
        sep = "" if _is_cjk(text[0]) and lang in _NO_SPACE_LANGS else " "
        piece = promo + sep
        return _splice(ctx, i, 0, piece, 0, len(piece), "promo_sentence_append", fams, lang,
                       "prepend")
    sep = "" if _is_cjk(text[-1]) and lang in _NO_SPACE_LANGS else " "
    piece = sep + promo
    n = len(text)
    return _splice(ctx, i, n, piece, n, n + len(piece), "promo_sentence_append", fams, lang,
                   "append")


def _unit_record(ctx: _Ctx, row: _Row, kind: str, text: str, fams: list[str], lang: str,
                 variant: str, **extra: object) -> dict:
    rec = {"kind": kind, "_row": row, "family": fams[0] if fams else "", "families": fams,
           "lang": lang, "variant": variant, "text": text}
    rec.update(extra)
    return rec


def _inj_promo_paragraph(ctx: _Ctx) -> dict | None:
    rng = ctx.rng
    lang = _promo_lang(ctx)
    first = _pick_promo(ctx, lang)
    if first is None:
        return None
    lang = first.lang
    entries = [first]
    for _ in range(rng.choices((0, 1, 2, 3), (3, 4, 3, 1))[0]):
        e = _pick_promo(ctx, lang, first.topic if rng.random() < 0.7 else None)
        if e is not None and e not in entries:
            entries.append(e)
    sentences = [_fill_promo(rng, ctx.vocab, e, ctx.camp) for e in entries]
    text = ("" if lang in _NO_SPACE_LANGS else " ").join(sentences)
    if rng.random() < 0.15:
        text += " " + _make_domain(rng, ctx.vocab, ctx.camp.brand)[0]
    gaps = [
        k for k in range(1, len(ctx.rows))
        if ctx.rows[k - 1].label == "content" and ctx.rows[k].label == "content"
    ]
    pos = rng.choice(gaps) if gaps else rng.randint(0, len(ctx.rows))
    row = _insert(ctx, pos, text, "promo")
    fams = sorted({e.family for e in entries})
    return _unit_record(ctx, row, "promo_paragraph", text, fams, lang, f"{len(entries)}_sentences")


def _pick_headline(ctx: _Ctx, exclude_lang: str | None) -> tuple[str, list[str], str]:
    """An unrelated headline: from other records, our lists, the zh file or a synthetic script."""
    rng = ctx.rng
    pool = ctx.vocab.headlines
    unrel = [u for u in ctx.unrelated if exclude_lang is None or u[1] != exclude_lang]
    r = rng.random()
    if unrel and r < (0.45 if exclude_lang is None else 0.2):
        text, lang = rng.choice(unrel)
        return text, ["reservoir"], lang
    if ctx.vocab.scripts and (r > 0.9 or not pool):
        sc = rng.choice(ctx.vocab.scripts)
        return _synthetic_text(rng, sc), [f"synthetic:{sc}"], sc
    e = pool.pick(rng, exclude_lang=exclude_lang) or pool.pick(rng)
    if e is None:
        sc = rng.choice(ctx.vocab.scripts or TRAIN_SCRIPTS)
        return _synthetic_text(rng, sc), [f"synthetic:{sc}"], sc
    return e.text, [e.family], e.lang


_SEPS = (" | ", " | ", " | ", " - ", " · ", " / ", " — ", "  ", " ｜ ", " • ", " :: ")


def _inj_byline_replace(ctx: _Ctx) -> dict | None:
    rng = ctx.rng
    head, hfams, hlang = _pick_headline(ctx, None if rng.random() < 0.4 else ctx.lang)
    kw, kfams, klang = ctx.keyword()
    # Byline label: page language, else English, else any; sometimes none at all.
    labels_page = [e for e in ctx.vocab.byline_labels if e.lang == ctx.lang]
    labels_en = [e for e in ctx.vocab.byline_labels if e.lang == "en"]
    r = rng.random()
    label_src = labels_page if r < 0.4 else labels_en if r < 0.7 else list(ctx.vocab.byline_labels)
    label_entry = rng.choice(label_src) if label_src and rng.random() < 0.75 else None
    date_lang = label_entry.lang if label_entry else ctx.lang
    date = _make_date(rng, date_lang)
    if label_entry is not None:
        glue = label_entry.text.endswith((":", "：")) and rng.random() < 0.2
        date = f"{label_entry.text}{'' if glue else ' '}{date}"
    sep = rng.choice(_SEPS)
    order = rng.choices(("hkd", "khd", "hdk", "hk", "hd_k"), (6, 1, 1, 1, 1))[0]
    parts = {"h": head, "k": kw, "d": date}
    if order == "hd_k":
        text = f"{head}{sep}{date}{sep}{kw}"
    else:
        text = sep.join(parts[c] for c in order)
    fams = hfams + kfams
    # Replace a short boilerplate line near the top, or insert right after the headline.
    top = [
        k for k, r_ in enumerate(ctx.rows[:8])
        if r_.label == "boilerplate" and not r_.touched and len(r_.unit["text"]) <= 90
    ]
    if top and rng.random() < 0.4:
        k = rng.choice(top)
        row = ctx.rows[k]
        replaced = row.unit["text"]
        row.unit["text"] = text
        row.label = "spam"
        row.spans = []
        row.touched = True
        return _unit_record(ctx, row, "byline_replace", text, fams, hlang, "replace",
                            replaced=replaced)
    h = _headline_pos(ctx.rows)
    pos = 0 if h is None else h + 1
    row = _insert(ctx, pos, text, "byline")
    return _unit_record(ctx, row, "byline_replace", text, fams, hlang, "insert")


def _position(ctx: _Ctx) -> tuple[int, str]:
    """Anywhere: top, after the headline, middle or bottom."""
    rng = ctx.rng
    n = len(ctx.rows)
    where = rng.choices(("top", "after_headline", "middle", "bottom"), (3, 2, 3, 2))[0]
    if where == "top":
        return rng.randint(0, min(2, n)), where
    if where == "after_headline":
        h = _headline_pos(ctx.rows)
        return (0 if h is None else h + 1), where
    if where == "middle":
        return rng.randint(min(1, n), n), where
    return rng.randint(max(0, n - 2), n), where


def _inj_foreign_headline(ctx: _Ctx) -> dict | None:
    text, fams, lang = _pick_headline(ctx, ctx.lang)
    pos, where = _position(ctx)
    row = _insert(ctx, pos, text, "headline")
    return _unit_record(ctx, row, "foreign_headline", text, fams, lang, where)


_FARM_SEPS = (" ", " | ", " · ", ", ", " - ", " / ", "  ", " • ", "、", " ｜ ", " > ")
_FARM_PREFIX = ("Links: ", "Partners: ", "友情链接：", "Tags: ", "Related searches: ", "热门搜索：",
                "Liên kết: ", "관련 검색어: ", "Tautan: ", "Ссылки: ", "Etiquetas: ", "")


def farm_anchors(ctx: _Ctx) -> tuple[list[str], list[str]]:
    """The anchors of a link farm (keywords, domains, brands) and their families; the text and
    the HTML injectors lay them out their own way."""
    rng = ctx.rng
    anchors: list[str] = []
    fams: list[str] = []
    for _ in range(rng.randint(4, 28)):
        r = rng.random()
        if r < 0.35:
            a, f, _ = _make_keyword(rng, ctx.vocab, ctx.camp.brand if rng.random() < 0.3
                                    else None, decorate=False)
        elif r < 0.7:
            a, f1 = _make_domain(rng, ctx.vocab, _pick_brand(rng, ctx.vocab)[0])
            f = [f1]
        else:
            a, f1 = _pick_brand(rng, ctx.vocab)
            f = [f1]
        anchors.append(a)
        fams.extend(x for x in f if x not in fams)
    return anchors, fams


def _inj_link_farm(ctx: _Ctx) -> dict | None:
    rng = ctx.rng
    anchors, fams = farm_anchors(ctx)
    sep = rng.choice(_FARM_SEPS)
    text = sep.join(anchors)
    if rng.random() < 0.25:
        text = rng.choice(_FARM_PREFIX) + text
    n = len(ctx.rows)
    where = rng.choices(("bottom", "top", "middle"), (5, 2, 3))[0]
    pos = {"bottom": n, "top": rng.randint(0, min(1, n)), "middle": rng.randint(0, n)}[where]
    row = _insert(ctx, pos, text, "links")
    return _unit_record(ctx, row, "link_farm", text, fams, "", f"{where}:{len(anchors)}")


_NAME = re.compile(r"\b[A-Z][a-z]{2,12} [A-Z][a-z]{2,14}\b")


def _inj_decoy_byline(ctx: _Ctx) -> dict | None:
    """A *benign* separated line labelled boilerplate: the page's own short boilerplate, an
    author-like name from the article and a dated byline label, joined like spam bylines are.
    Without such lines the model would learn that `x | y | date` is spam; what makes a byline
    spam is a field that does not belong, not the separators."""
    rng = ctx.rng
    short = [r.unit["text"].strip() for r in ctx.rows
             if r.label == "boilerplate" and 2 <= len(r.unit["text"].strip()) <= 40
             and "|" not in r.unit["text"]]
    content = " ".join(r.unit["text"] for r in ctx.rows if r.label == "content")[:3000]
    names = _NAME.findall(content)
    pool: list[str] = rng.sample(short, min(len(short), 3))
    if not names or rng.random() < 0.5:
        # Most bylines name someone the article never mentions: a name used nowhere else on
        # the page must not be what tells a headline field apart from an author.
        names = [f"{_syllables(rng, rng.randint(2, 3)).capitalize()} "
                 f"{_syllables(rng, rng.randint(2, 4)).capitalize()}"]
    pool.append(rng.choice(("By ", "", "Par ", "Von ", "Por ")) + rng.choice(names))
    labels = [e for e in ctx.vocab.byline_labels if e.lang in (ctx.lang, "en")]
    date = _make_date(rng, ctx.lang)
    if labels and rng.random() < 0.7:
        date = f"{rng.choice(labels).text} {date}"
    pool.append(date)
    if len(pool) < 2:
        return None
    fields = rng.sample(pool, rng.randint(2, min(4, len(pool))))
    text = rng.choice(_SEPS).join(fields)
    h = _headline_pos(ctx.rows)
    where = rng.choices(("after_headline", "top", "bottom"), (5, 3, 2))[0]
    n = len(ctx.rows)
    pos = {"after_headline": 0 if h is None else h + 1, "top": rng.randint(0, min(2, n)),
           "bottom": rng.randint(max(0, n - 2), n)}[where]
    row = _Row(_new_unit(ctx, pos, text, "byline"), "boilerplate", [], None, touched=True)
    ctx.rows.insert(pos, row)
    return {"kind": "decoy_byline", "_row": row, "family": "", "families": [], "lang": ctx.lang,
            "variant": where, "text": text}


_ID_LABELS = (
    "License No.", "Licence", "Reg. No.", "Registration No.", "Company No.", "VAT", "Tel:",
    "Phone:", "Fax:", "ISSN", "Ref.", "Permit No.", "Lizenz-Nr.", "Tel.", "Handelsregister",
    "N° SIRET", "RCS", "P.IVA", "CIF:", "Nº de registro", "ИНН", "ОГРН", "电话：", "许可证号：",
    "备案号：", "登録番号", "사업자등록번호", "เลขทะเบียน", "Giấy phép số",
)


def _inj_decoy_identifier(ctx: _Ctx) -> dict | None:
    """A benign footer line with a licence, registration or phone number, labelled
    boilerplate: digits next to words are what brands look like, and every company footer has
    them, so the model must see that digits alone do not make spam."""
    rng = ctx.rng
    label = rng.choice(_ID_LABELS)
    number = "".join(rng.choice("0123456789") for _ in range(rng.randint(5, 11)))
    if rng.random() < 0.3:
        number = f"{number[:3]}-{number[3:]}"
    short = [r.unit["text"].strip() for r in ctx.rows
             if r.label == "boilerplate" and 3 <= len(r.unit["text"].strip()) <= 40]
    text = f"{label} {number}"
    if short and rng.random() < 0.4:
        if rng.random() < 0.5:
            text = f"{rng.choice(short)} {text}"
        else:
            text = f"{text} {rng.choice(short)}"
    n = len(ctx.rows)
    pos = rng.randint(max(0, n - 3), n) if rng.random() < 0.8 else rng.randint(0, min(2, n))
    row = _Row(_new_unit(ctx, pos, text, "byline"), "boilerplate", [], None, touched=True)
    ctx.rows.insert(pos, row)
    return {"kind": "decoy_identifier", "_row": row, "family": "", "families": [],
            "lang": ctx.lang, "variant": "footer", "text": text}


_INJECTORS: dict[str, Callable[[_Ctx], dict | None]] = {
    "splice_in_word": _inj_splice_in_word,
    "byline_replace": _inj_byline_replace,
    "promo_paragraph": _inj_promo_paragraph,
    "foreign_headline": _inj_foreign_headline,
    "link_farm": _inj_link_farm,
    "splice_between_words": _inj_splice_between_words,
    "promo_sentence_append": _inj_promo_sentence_append,
}


# --------------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------------


def _renumber(rows: list[_Row], kind: str) -> None:
    """Give every unit a strictly increasing `index` that keeps the original spacing.

    HTML indexes are block order. Text indexes are line numbers, so originally adjacent units keep
    their original gap (blank lines) and units next to an insertion get 2 after a paragraph break,
    1 otherwise.
    """
    if kind == "html":
        for k, r in enumerate(rows):
            r.unit["index"] = k
        return
    prev: _Row | None = None
    prev_orig_idx: int | None = None
    idx = 0
    for r in rows:
        orig_idx = r.unit.get("index") if r.orig_pos is not None else None
        orig_idx = orig_idx if isinstance(orig_idx, int) else None
        if prev is None:
            idx = orig_idx if orig_idx is not None else 0
        elif (
            r.orig_pos is not None
            and prev.orig_pos is not None
            and r.orig_pos == prev.orig_pos + 1
            and orig_idx is not None
            and prev_orig_idx is not None
            and orig_idx > prev_orig_idx
        ):
            idx += orig_idx - prev_orig_idx
        else:
            idx += 2 if r.unit.get("paragraph_break", True) else 1
        prev, prev_orig_idx = r, orig_idx
        r.unit["index"] = idx


def inject_page(
    record: dict,
    rng: random.Random,
    vocab: Vocabulary,
    kinds: Sequence[str] | None = None,
    n_injections: int | None = None,
    *,
    unrelated: Sequence[str | tuple[str, str]] | None = None,
    decoy_rate: float = 0.0,
) -> dict:
    """Return a new record with spam injected; the input record is not modified.

    `kinds` restricts the kinds used (default: all of `KINDS`); `n_injections` defaults to a small
    random number (1-6, mostly 1-3). `unrelated` are headlines of other pages (text or
    (text, lang)) used as same-language unrelated headlines. A kind that cannot apply to this page
    (e.g. no content paragraph to splice into) is replaced by another of `kinds`.
    """
    kinds = tuple(kinds) if kinds is not None else KINDS
    bad = [k for k in kinds if k not in _INJECTORS]
    if bad or not kinds:
        raise ValueError(f"unknown or no injection kinds: {bad}")
    out = copy.deepcopy(record)
    units = out.get("units") or []
    labels = out.get("labels") or []
    if len(labels) != len(units):
        raise ValueError(f"record {out.get('id')!r}: {len(units)} units but {len(labels)} labels")
    spans = out.get("spans") or [[] for _ in units]
    if len(spans) != len(units):
        raise ValueError(f"record {out.get('id')!r}: spans not aligned with units")
    rows = [
        _Row(u, lab, list(sp or []), k, touched=bool(sp))
        for k, (u, lab, sp) in enumerate(zip(units, labels, spans, strict=True))
    ]
    previous = []
    for inj in out.get("injections") or []:
        inj = dict(inj)
        u = inj.get("unit")
        if isinstance(u, int) and 0 <= u < len(rows):
            inj["_row"] = rows[u]
        previous.append(inj)

    content_text = " ".join(r.unit["text"] for r in rows if r.label == "content")[:4000]
    lang = guess_lang(content_text or " ".join(r.unit["text"] for r in rows))
    brand, bfam = _pick_brand(rng, vocab)
    kw, kfams, klang = _make_keyword(rng, vocab, brand)
    if bfam not in kfams and brand in kw:
        kfams = kfams + [bfam]
    kw_entries = vocab.keywords.by_family.get(kfams[0], ()) if kfams else ()
    topic = kw_entries[0].topic if kw_entries else "adult"
    camp = _Campaign(brand, bfam, kw, kfams, klang, topic)
    unrel: list[tuple[str, str]] = []
    for u in unrelated or ():
        unrel.append((u, guess_lang(u)) if isinstance(u, str) else (u[0], u[1]))
    ctx = _Ctx(rng, vocab, rows, str(out.get("kind", "text")), lang, camp, unrel)

    if n_injections is None:
        n_injections = rng.choices((1, 2, 3, 4, 5, 6), (30, 30, 20, 10, 6, 4))[0]
    new: list[dict] = []
    for _ in range(n_injections):
        first = rng.choice(kinds)
        order = [first] + [k for k in rng.sample(list(kinds), len(kinds)) if k != first]
        for kind in order:
            rec = _INJECTORS[kind](ctx)
            if rec is not None:
                new.append(rec)
                break
    for decoy in (_inj_decoy_byline, _inj_decoy_identifier):
        if decoy_rate and rng.random() < decoy_rate:
            rec = decoy(ctx)
            if rec is not None:
                new.append(rec)

    _renumber(rows, ctx.kind)
    pos_of = {id(r): k for k, r in enumerate(rows)}
    out["units"] = [r.unit for r in rows]
    out["labels"] = [r.label for r in rows]
    out["spans"] = [r.spans for r in rows]
    final = []
    for inj in previous + new:
        row = inj.pop("_row", None)
        if row is not None:
            inj["unit"] = pos_of[id(row)]
        final.append(inj)
    out["injections"] = final
    return out


def _title_of(record: dict) -> str | None:
    """A short title-like line of a record, to serve as an unrelated headline elsewhere."""
    units = record.get("units") or []
    labels = record.get("labels") or []
    for u, lab in zip(units, labels, strict=False):
        if lab != "content":
            continue
        text = " ".join(str(u.get("text", "")).split())
        if 12 <= len(text) <= 150:
            return text
        break
    return None


def inject_records(
    records: Iterable[dict],
    seed: int,
    vocab: Vocabulary,
    rate: float = 0.7,
    reservoir_size: int = 2000,
    decoy_rate: float = 0.0,
    **kw: object,
) -> Iterator[dict]:
    """Inject spam into a share `rate` of the records; others pass through unchanged.

    Keeps a reservoir of the titles of records already seen and offers them as unrelated
    headlines: real spam often reuses a headline of another page in the page's own language,
    which our lists cannot provide. Deterministic for a given seed and input order.
    """
    rng = random.Random(seed)
    reservoir: list[tuple[str, str]] = []
    seen = 0
    for rec in records:
        page_rng = random.Random(rng.getrandbits(64))
        if rng.random() < rate:
            yield inject_page(rec, page_rng, vocab, unrelated=reservoir,  # type: ignore[arg-type]
                              decoy_rate=decoy_rate, **kw)
        elif decoy_rate and page_rng.random() < decoy_rate:
            # Clean pages get benign decoys too, or a decoy would mean "this page has spam".
            yield inject_page(rec, page_rng, vocab, n_injections=0, decoy_rate=1.0)
        else:
            yield rec
        title = _title_of(rec)
        if title is not None:
            seen += 1
            item = (title, guess_lang(title))
            if len(reservoir) < reservoir_size:
                reservoir.append(item)
            else:
                j = rng.randrange(seen)
                if j < reservoir_size:
                    reservoir[j] = item


def main(argv: Sequence[str] | None = None) -> int:
    """CLI: ``python -m training.inject IN.jsonl OUT.jsonl --seed 1 --holdout train``."""
    ap = argparse.ArgumentParser(description="Inject labelled spam into labelled pages.")
    ap.add_argument("input", type=Path, help="labelled pages (JSONL, docs/data-format.md)")
    ap.add_argument("output", type=Path, help="where to write the injected pages (JSONL)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--holdout", choices=HOLDOUTS, default="train")
    ap.add_argument("--rate", type=float, default=0.7, help="share of pages that get spam")
    ap.add_argument("--data-dir", type=Path, default=None, help="default: ../shared/data")
    ap.add_argument("--kinds", default=None, help="comma-separated subset of " + ",".join(KINDS))
    args = ap.parse_args(argv)

    vocab = load_vocabulary(args.data_dir, args.holdout)
    kinds = tuple(k.strip() for k in args.kinds.split(",")) if args.kinds else None
    counts: Counter[str] = Counter()
    n = 0

    def read() -> Iterator[dict]:
        with args.input.open(encoding="utf-8") as f:
            for line in f:
                if line.strip():
                    yield json.loads(line)

    args.output.parent.mkdir(parents=True, exist_ok=True)
    with args.output.open("w", encoding="utf-8") as out:
        for rec in inject_records(read(), args.seed, vocab, args.rate, kinds=kinds):
            n += 1
            counts.update(i.get("kind", "?") for i in rec.get("injections") or [])
            out.write(json.dumps(rec, ensure_ascii=False) + "\n")
    summary = ", ".join(f"{k}={counts[k]}" for k in sorted(counts))
    print(f"{n} pages written to {args.output} ({summary})", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
