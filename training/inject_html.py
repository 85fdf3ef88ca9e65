"""Spam injection into raw HTML: the same seven kinds as `training.inject`, placed in the DOM.

`training.inject` edits labelled *unit records*, which is what the model trains on. But the pages
users send, and the pages every other extractor reads, are HTML: to ask "does trafilatura (or
readability, or jusText...) keep injected spam?" the spam has to be in the markup, where a hacked
CMS template or a compromised database would put it: inside the headline, as a byline under it,
as paragraphs between the article's paragraphs, as a block of links below it. This module puts
it there and records every injected string, so that any system's output text can be checked for
it (`benchmarks/peers.py`), and so that training can later learn from HTML pages segmented by the
real segmenter rather than from unit records.

The strings come from `training.inject`'s generators (brands, keywords, promos, unrelated
headlines, dates, link anchors, families and holdouts), so a benchmark built with
`load_vocabulary(data_dir, holdout="test")` injects only vocabulary the model never trained on.

Placement (the article is the page's headline plus its content paragraphs; see `find_article`):

``splice_in_word``         keyword spliced inside a word of the headline (h1, else first heading,
                           else a short article paragraph); spliced into a real text.
``byline_replace``         a ``<div>``/``<p>`` ``unrelated headline | keyword | date`` right after
                           the headline; an element of its own.
``promo_paragraph``        a ``<p>`` of 1-4 promo sentences between two article paragraphs, with
                           the neighbouring paragraph's class; own element.
``foreign_headline``       an unrelated headline in another language/script (``<h2>``-``<h4>``,
                           ``<p>``, ``<div>``, sometimes a link) before or after the headline, in
                           the middle or at the end of the article; own element.
``link_farm``              a ``<div>``/``<p>`` of 4-28 ``<a>`` anchors (keywords, spam domains,
                           brands) at the end, the top or the middle of the article; own element.
``splice_between_words``   keyword glued between two words of an article paragraph (spaced,
                           glued, or a foreign-script fragment); spliced.
``promo_sentence_append``  promo sentence appended (sometimes prepended) to an article paragraph;
                           spliced.

Every edit only adds text: removing each own-element injection and each spliced piece from the
page's visible text gives back the original visible text (the unit tests check this). The DOM is
parsed and serialized by lexbor (selectolax), the parser `cleaner.segment` uses, so the injected
page reads back exactly as it was built; serializing normalizes markup the way any HTML5 parser
would (closes open tags, quotes attributes), nothing else.

Determinism: all randomness comes from the `random.Random` passed in, and the DOM is walked in
document order.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field

from selectolax.lexbor import LexborHTMLParser, LexborNode

from training.align import tokens
from training.inject import (
    _FARM_PREFIX,
    _FARM_SEPS,
    _NO_SPACE_LANGS,
    _SEPS,
    KINDS,
    Vocabulary,
    _Campaign,
    _Ctx,
    _dominant_script,
    _fill_promo,
    _foreign_keyword,
    _interior_positions,
    _is_cjk,
    _make_date,
    _make_domain,
    _make_keyword,
    _pick_brand,
    _pick_headline,
    _pick_promo,
    _promo_lang,
    _promo_sentence,
    farm_anchors,
    guess_lang,
)

# Kinds that add an element of their own vs. those that splice spam into a real text.
OWN_UNIT_KINDS: tuple[str, ...] = ("byline_replace", "promo_paragraph", "foreign_headline",
                                   "link_farm")
SPLICED_KINDS: tuple[str, ...] = ("splice_in_word", "splice_between_words",
                                  "promo_sentence_append")
assert set(OWN_UNIT_KINDS) | set(SPLICED_KINDS) == set(KINDS)

ContentTest = Callable[[str], bool]

# Never visible: text under these is not part of the page a reader (or an extractor) sees.
_INVISIBLE = frozenset("""script style template noscript svg math iframe object embed canvas head
    select option textarea title""".split())
# Containers whose paragraphs are not the article, for the default content heuristic.
_CHROME_TAGS = frozenset("nav header footer aside form menu button label".split())
_CHROME_ATTR = re.compile(
    r"nav|menu|footer|sidebar|comment|related|share|social|cookie|breadcrumb|widget|advert|"
    r"banner|newsletter|subscribe|masthead|toolbar|popup|modal", re.I)
_HIDDEN_STYLE = re.compile(r"display\s*:\s*none|visibility\s*:\s*hidden", re.I)
_HEADINGS = ("h1", "h2", "h3")
# Blocks that may hold an article paragraph when a page has no usable <p>.
_FALLBACK_BLOCKS = ("div", "li", "td", "dd", "blockquote", "section", "article")
_BLOCK_TAGS = frozenset("""address article aside blockquote body br caption dd details dialog
    div dl dt fieldset figcaption figure footer form h1 h2 h3 h4 h5 h6 header hgroup hr html
    legend li main menu nav ol p pre section summary table tbody td tfoot th thead tr ul""".split())
MIN_PARAGRAPH_CHARS = 40
_LINK = frozenset({"a"})


@dataclass(frozen=True)
class HtmlInjection:
    """One injected string and where it went.

    `text` is the injection as it reads in the page's visible text (whitespace collapsed for own
    elements; exactly the inserted characters, including a space glued with it, when spliced).
    `parts` are the pieces a reader would recognise as spam on their own (the anchors of a link
    farm, the sentences of a promo paragraph, the headline/keyword/date of a byline; the piece
    itself when spliced): a system that keeps any of them has kept spam.
    """

    kind: str
    text: str
    own_unit: bool
    parts: tuple[str, ...]
    families: tuple[str, ...]
    lang: str
    variant: str
    original: str | None = None  # spliced: the block's visible text before the injection
    block: str | None = None  # spliced: the block's visible text after it

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class InjectedHtml:
    """An HTML page with spam in it, and the record of every injection."""

    html: str
    injections: list[HtmlInjection]
    lang: str  # the page language guessed from its article text


@dataclass
class Article:
    """The article of a page as injection sees it: its headline element and paragraphs."""

    headline: LexborNode | None
    paragraphs: list[LexborNode] = field(default_factory=list)


# --------------------------------------------------------------------------------------------
# Reading the DOM
# --------------------------------------------------------------------------------------------


def _norm(text: str) -> str:
    return " ".join(text.split())


def node_text(node: LexborNode) -> str:
    """Visible text of an element, whitespace collapsed (script/style text inside excluded)."""
    parts = []
    for n in node.traverse(include_text=True):
        if n.is_text_node and not _under(n, _INVISIBLE, stop=node):
            parts.append(n.text_content or "")
    return _norm("".join(parts))


def _under(node: LexborNode, tags: frozenset[str], stop: LexborNode | None = None) -> bool:
    """Whether an ancestor of `node` (below `stop`) has one of `tags`."""
    p = node.parent
    while p is not None and not p.is_document_node:
        if stop is not None and p.mem_id == stop.mem_id:
            return False
        if p.tag in tags:
            return True
        p = p.parent
    return False


def _hidden(node: LexborNode) -> bool:
    attrs = node.attributes
    if "hidden" in attrs or (attrs.get("aria-hidden") or "").lower() == "true":
        return True
    style = attrs.get("style")
    return bool(style and _HIDDEN_STYLE.search(style))


def _visible(node: LexborNode) -> bool:
    """Not inside an invisible element nor a hidden one (hidden attribute, display:none)."""
    n: LexborNode | None = node
    while n is not None and not n.is_document_node:
        if n.tag in _INVISIBLE or (n.is_element_node and _hidden(n)):
            return False
        n = n.parent
    return True


def _in_chrome(node: LexborNode) -> bool:
    """Inside navigation, header, footer, sidebar, comments...: not where an article is."""
    n = node.parent
    while n is not None and not n.is_document_node:
        if n.tag in _CHROME_TAGS:
            return True
        attrs = n.attributes
        value = " ".join(v for k, v in attrs.items() if k in ("class", "id", "role") and v)
        if value and _CHROME_ATTR.search(value):
            return True
        n = n.parent
    return False


def _link_density(node: LexborNode) -> float:
    total = linked = 0
    for n in node.traverse(include_text=True):
        if n.is_text_node:
            k = len((n.text_content or "").strip())
            total += k
            if _under(n, _LINK, stop=node):
                linked += k
    return linked / total if total else 0.0


def _has_block_child(node: LexborNode) -> bool:
    return any(n.tag in _BLOCK_TAGS for n in node.traverse() if n.mem_id != node.mem_id)


def _text_nodes(node: LexborNode) -> list[LexborNode]:
    """Visible, non-blank text nodes under `node`, in document order."""
    return [n for n in node.traverse(include_text=True)
            if n.is_text_node and (n.text_content or "").strip()
            and not _under(n, _INVISIBLE, stop=node)]


def _paragraph_ok(node: LexborNode) -> bool:
    return (_visible(node) and len(node_text(node)) >= MIN_PARAGRAPH_CHARS
            and _link_density(node) < 0.5)


def find_article(tree: LexborHTMLParser, is_content: ContentTest | None = None) -> Article:
    """The headline and the article paragraphs of a page.

    Paragraphs are visible ``<p>`` elements of at least 40 characters, mostly not links; with
    `is_content` (e.g. a test against the page's gold text, `gold_content_test`) those whose text
    it accepts, else those outside navigation, header, footer, sidebars and comments. Pages
    without such ``<p>`` fall back to leaf blocks (div, li, td...) of the same kind. The headline
    is the first visible h1 (else h2, h3) of at least 8 characters.
    """
    body = tree.body
    if body is None:
        return Article(None)
    paras = [n for n in body.css("p") if _paragraph_ok(n)]
    if not paras:
        paras = [n for n in body.css(", ".join(_FALLBACK_BLOCKS))
                 if not _has_block_child(n) and _paragraph_ok(n)]
    if is_content is not None:
        chosen = [n for n in paras if is_content(node_text(n))]
    else:
        chosen = [n for n in paras if not _in_chrome(n)]
    if not chosen:  # the test accepted nothing: better the page's paragraphs than no article
        chosen = [n for n in paras if not _in_chrome(n)] or paras
    headline = None
    for tag in _HEADINGS:
        for n in body.css(tag):
            if _visible(n) and 8 <= len(node_text(n)) <= 300 and _text_nodes(n):
                headline = n
                break
        if headline is not None:
            break
    return Article(headline, chosen)


def gold_content_test(gold: str, min_share: float = 0.9) -> ContentTest:
    """A block is article content when almost all of its words are in the gold text (the same
    lowercased word tokens as the benchmarks' word F1)."""
    vocab = set(tokens(gold))

    def test(text: str) -> bool:
        toks = tokens(text)
        return bool(toks) and sum(t in vocab for t in toks) >= min_share * len(toks)

    return test


def snippet_content_test(snippets: Sequence[str]) -> ContentTest:
    """A block is article content when it contains one of the page's must-keep snippets."""
    wanted = [_norm(s).lower() for s in snippets if s.strip()]

    def test(text: str) -> bool:
        low = text.lower()
        return any(s in low for s in wanted)

    return test


# --------------------------------------------------------------------------------------------
# Building and placing elements
# --------------------------------------------------------------------------------------------


@dataclass
class _Page:
    """Everything an HTML injector needs: the tree, the article, the string generators."""

    tree: LexborHTMLParser
    article: Article
    ctx: _Ctx  # training.inject's context: rng, vocabulary, page language, campaign
    touched: set[int] = field(default_factory=set)  # mem_ids of blocks already spliced

    @property
    def rng(self) -> random.Random:
        return self.ctx.rng


def _element(page: _Page, tag: str, text: str | None = None, cls: str | None = None
             ) -> LexborNode:
    node = page.tree.create_node(tag)
    if cls:
        node.attrs["class"] = cls
    if text is not None:
        node.insert_child(text)
    return node


def _href(page: _Page) -> str:
    domain = _make_domain(page.rng, page.ctx.vocab, page.ctx.camp.brand)[0]
    domain = re.sub(r"^https?://", "", domain)
    return f"https://{domain}/"


def _anchor(page: _Page, text: str) -> LexborNode:
    a = _element(page, "a", text)
    a.attrs["href"] = _href(page)
    return a


def _place(page: _Page, node: LexborNode, where: str) -> bool:
    """Insert `node` relative to the article: top (before the headline or first paragraph),
    after_headline, middle (after a random paragraph but the last), bottom (after the last)."""
    art, rng = page.article, page.rng
    paras = art.paragraphs
    if where == "after_headline" and art.headline is not None:
        art.headline.insert_after(node)
    elif where == "top" and (art.headline is not None or paras):
        (art.headline or paras[0]).insert_before(node)
    elif where == "middle" and len(paras) >= 2:
        paras[rng.randrange(len(paras) - 1)].insert_after(node)
    elif paras:
        paras[-1].insert_after(node)
    elif art.headline is not None:
        art.headline.insert_after(node)
    else:
        return False
    return True


def _own(kind: str, text: str, parts: Sequence[str], fams: Sequence[str], lang: str,
         variant: str) -> HtmlInjection:
    parts = tuple(dict.fromkeys(_norm(p) for p in parts if _norm(p)))
    return HtmlInjection(kind, _norm(text), True, parts, tuple(dict.fromkeys(fams)), lang,
                         variant)


def _splice(page: _Page, block: LexborNode, text_node: LexborNode, pos: int, piece: str,
            kind: str, fams: Sequence[str], lang: str, variant: str) -> HtmlInjection:
    """Insert `piece` at character `pos` of one text node of `block`."""
    original = node_text(block)
    value = text_node.text_content or ""
    text_node.replace_with(value[:pos] + piece + value[pos:])
    page.touched.add(block.mem_id)
    return HtmlInjection(kind, piece, False, (piece.strip(),), tuple(dict.fromkeys(fams)), lang,
                         variant, original=original, block=node_text(block))


def _untouched(page: _Page, min_len: int = 1, max_len: int | None = None) -> list[LexborNode]:
    return [p for p in page.article.paragraphs
            if p.mem_id not in page.touched
            and min_len <= len(node_text(p)) <= (max_len if max_len is not None else 10**9)]


# --------------------------------------------------------------------------------------------
# Injectors: each edits the tree and returns its record, or None when it cannot apply
# --------------------------------------------------------------------------------------------


def _inj_splice_in_word(page: _Page) -> HtmlInjection | None:
    rng = page.rng
    head = page.article.headline
    blocks: list[LexborNode] = []
    if head is not None and head.mem_id not in page.touched and rng.random() < 0.85:
        blocks.append(head)
    short = _untouched(page, 4, 160)
    blocks += [rng.choice(short)] if short else []
    blocks += _untouched(page, 4)[:3]
    for block in blocks:
        nodes = [(n, _interior_positions(n.text_content or "")) for n in _text_nodes(block)]
        nodes = [(n, ps) for n, ps in nodes if ps]
        if not nodes:
            continue
        node, positions = max(nodes, key=lambda x: len(x[1]))
        # Spliced keywords sit early in the line more often than not (they are meant to be seen).
        pos = positions[min(int(rng.random() ** 2 * len(positions)), len(positions) - 1)]
        kw, fams, lang = page.ctx.keyword()
        where = "headline" if head is not None and block.mem_id == head.mem_id else "paragraph"
        return _splice(page, block, node, pos, kw, "splice_in_word", fams, lang, where)
    return None


def _inj_splice_between_words(page: _Page) -> HtmlInjection | None:
    rng = page.rng
    cands = _untouched(page, MIN_PARAGRAPH_CHARS)
    if not cands:
        return None
    block = rng.choice(cands)
    node = max(_text_nodes(block), key=lambda n: len(n.text_content or ""))
    text = node.text_content or ""
    spaces = [m.start() for m in re.finditer(r"(?<=\w) (?=\w)", text)]
    variant = rng.choice(("spaced", "spaced", "glued_end", "glued_start", "foreign"))
    if not spaces:  # unspaced script (or one word): glue between two characters
        positions = _interior_positions(text) or list(range(1, len(text)))
        if not positions:
            return None
        kw, fams, lang = page.ctx.keyword()
        return _splice(page, block, node, rng.choice(positions), kw, "splice_between_words",
                       fams, lang, "glued")
    s = rng.choice(spaces)
    if variant == "foreign":
        kw, fams, lang = _foreign_keyword(page.ctx, _dominant_script(text))
        boundaries = [m.end() for m in re.finditer(r"[.!?。] (?=\w)", text)]
        pos = rng.choice(boundaries) if boundaries and rng.random() < 0.6 else s + 1
        return _splice(page, block, node, pos, kw, "splice_between_words", fams, lang, "foreign")
    kw, fams, lang = page.ctx.keyword()
    if variant == "spaced":
        if rng.random() < 0.5:  # "two" + " kw" + " groups"
            return _splice(page, block, node, s, " " + kw, "splice_between_words", fams, lang,
                           variant)
        return _splice(page, block, node, s + 1, kw + " ", "splice_between_words", fams, lang,
                       variant)
    pos = s if variant == "glued_end" else s + 1
    return _splice(page, block, node, pos, kw, "splice_between_words", fams, lang, variant)


def _inj_promo_sentence_append(page: _Page) -> HtmlInjection | None:
    rng = page.rng
    cands = _untouched(page, 25)
    if not cands:
        return None
    block = rng.choice(cands)
    nodes = _text_nodes(block)
    got = _promo_sentence(page.ctx)
    assert got is not None
    promo, fams, lang = got
    if rng.random() < 0.15:  # prepended: the same thing at the other end of the paragraph
        first = (nodes[0].text_content or "").lstrip()
        sep = "" if first and _is_cjk(first[0]) and lang in _NO_SPACE_LANGS else " "
        piece = promo + sep
        original = node_text(block)
        block.first_child.insert_before(piece)
        variant = "prepend"
    else:
        last = (nodes[-1].text_content or "").rstrip()
        sep = "" if last and _is_cjk(last[-1]) and lang in _NO_SPACE_LANGS else " "
        piece = sep + promo
        original = node_text(block)
        block.insert_child(piece)
        variant = "append"
    page.touched.add(block.mem_id)
    return HtmlInjection("promo_sentence_append", piece, False, (promo.strip(),),
                         tuple(dict.fromkeys(fams)), lang, variant, original=original,
                         block=node_text(block))


def _inj_byline_replace(page: _Page) -> HtmlInjection | None:
    """``unrelated headline | keyword | date`` under the headline, as on the seed page."""
    rng, ctx = page.rng, page.ctx
    if page.article.headline is None and not page.article.paragraphs:
        return None
    head, hfams, hlang = _pick_headline(ctx, None if rng.random() < 0.4 else ctx.lang)
    kw, kfams, _ = ctx.keyword()
    labels_page = [e for e in ctx.vocab.byline_labels if e.lang == ctx.lang]
    labels_en = [e for e in ctx.vocab.byline_labels if e.lang == "en"]
    r = rng.random()
    label_src = labels_page if r < 0.4 else labels_en if r < 0.7 else list(ctx.vocab.byline_labels)
    label = rng.choice(label_src) if label_src and rng.random() < 0.75 else None
    date = _make_date(rng, label.lang if label else ctx.lang)
    if label is not None:
        date = f"{label.text} {date}"
    sep = rng.choice(_SEPS)
    order = rng.choices(("hkd", "khd", "hdk", "hk"), (6, 1, 1, 1))[0]
    parts = [{"h": head, "k": kw, "d": date}[c] for c in order]
    node = _element(page, rng.choice(("div", "div", "p")),
                    cls=rng.choice((None, None, "meta", "post-meta", "entry-meta", "info")))
    link_head = rng.random() < 0.3
    for k, part in enumerate(parts):
        if k:
            node.insert_child(sep)
        node.insert_child(_anchor(page, part) if link_head and order[k] == "h" else part)
    where = "after_headline" if page.article.headline is not None else "top"
    _place(page, node, where)
    return _own("byline_replace", sep.join(parts), parts, hfams + kfams, hlang,
                f"{where}:{order}{':link' if link_head else ''}")


def _inj_promo_paragraph(page: _Page) -> HtmlInjection | None:
    rng, ctx = page.rng, page.ctx
    paras = page.article.paragraphs
    if not paras:
        return None
    first = _pick_promo(ctx, _promo_lang(ctx))
    if first is None:
        return None
    lang = first.lang
    entries = [first]
    for _ in range(rng.choices((0, 1, 2, 3), (3, 4, 3, 1))[0]):
        e = _pick_promo(ctx, lang, first.topic if rng.random() < 0.7 else None)
        if e is not None and e not in entries:
            entries.append(e)
    sentences = [_fill_promo(rng, ctx.vocab, e, ctx.camp) for e in entries]
    if rng.random() < 0.15:
        sentences.append(_make_domain(rng, ctx.vocab, ctx.camp.brand)[0])
    text = ("" if lang in _NO_SPACE_LANGS else " ").join(sentences)
    k = rng.randrange(len(paras) - 1) if len(paras) >= 2 else 0
    node = _element(page, "p", text, cls=paras[k].attributes.get("class"))
    paras[k].insert_after(node)
    return _own("promo_paragraph", text, sentences, [e.family for e in entries], lang,
                f"{len(entries)}_sentences" + ("" if len(paras) >= 2 else ":after_only"))


def _inj_foreign_headline(page: _Page) -> HtmlInjection | None:
    rng = page.rng
    text, fams, lang = _pick_headline(page.ctx, page.ctx.lang)
    tag = rng.choices(("h2", "h3", "h4", "p", "div"), (2, 2, 1, 2, 2))[0]
    node = _element(page, tag)
    node.insert_child(_anchor(page, text) if rng.random() < 0.25 else text)
    where = rng.choices(("top", "after_headline", "middle", "bottom"), (3, 2, 3, 2))[0]
    if not _place(page, node, where):
        return None
    return _own("foreign_headline", text, [text], fams, lang, f"{where}:{tag}")


def _inj_link_farm(page: _Page) -> HtmlInjection | None:
    rng, ctx = page.rng, page.ctx
    if page.article.headline is None and not page.article.paragraphs:
        return None
    anchors, fams = farm_anchors(ctx)
    sep = rng.choice(_FARM_SEPS)
    prefix = rng.choice(_FARM_PREFIX) if rng.random() < 0.25 else ""
    node = _element(page, rng.choice(("div", "div", "p")),
                    cls=rng.choice((None, None, "links", "tags", "friend-links", "partners")))
    if prefix:
        node.insert_child(prefix)
    for k, a in enumerate(anchors):
        if k:
            node.insert_child(sep)
        node.insert_child(_anchor(page, a))
    where = rng.choices(("bottom", "top", "middle"), (5, 2, 3))[0]
    _place(page, node, where)
    return _own("link_farm", prefix + sep.join(anchors), anchors, fams, "",
                f"{where}:{len(anchors)}")


_INJECTORS: dict[str, Callable[[_Page], HtmlInjection | None]] = {
    "splice_in_word": _inj_splice_in_word,
    "byline_replace": _inj_byline_replace,
    "promo_paragraph": _inj_promo_paragraph,
    "foreign_headline": _inj_foreign_headline,
    "link_farm": _inj_link_farm,
    "splice_between_words": _inj_splice_between_words,
    "promo_sentence_append": _inj_promo_sentence_append,
}
assert set(_INJECTORS) == set(KINDS)


# --------------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------------


def _campaign(rng: random.Random, vocab: Vocabulary) -> _Campaign:
    """The brand and keyword one spammer pushes across the page, drawn as `inject_page` does."""
    brand, bfam = _pick_brand(rng, vocab)
    kw, kfams, klang = _make_keyword(rng, vocab, brand)
    if bfam not in kfams and brand in kw:
        kfams = kfams + [bfam]
    kw_entries = vocab.keywords.by_family.get(kfams[0], ()) if kfams else ()
    topic = kw_entries[0].topic if kw_entries else "adult"
    return _Campaign(brand, bfam, kw, kfams, klang, topic)


def inject_html(
    html: str,
    rng: random.Random,
    vocab: Vocabulary,
    kinds: Sequence[str] | None = None,
    n_injections: int | None = None,
    *,
    unrelated: Sequence[str | tuple[str, str]] | None = None,
    is_content: ContentTest | None = None,
) -> InjectedHtml:
    """Inject spam into an HTML page; returns the new HTML and what was injected where.

    `kinds` restricts the kinds (default: all of `KINDS`); `n_injections` defaults to 1-6, mostly
    1-3, as in `training.inject.inject_page`. `unrelated` are headlines of other pages (text or
    (text, lang)), the most realistic unrelated headlines. `is_content` tells article text from
    the rest (see `find_article`). A kind that cannot apply to the page is replaced by another of
    `kinds`; a page with no headline and no paragraph gets no injection.
    """
    kinds = tuple(kinds) if kinds is not None else KINDS
    bad = [k for k in kinds if k not in _INJECTORS]
    if bad or not kinds:
        raise ValueError(f"unknown or no injection kinds: {bad}")
    tree = LexborHTMLParser(html)
    article = find_article(tree, is_content)
    blocks = ([article.headline] if article.headline is not None else []) + article.paragraphs
    lang = guess_lang(" ".join(node_text(b) for b in blocks)[:4000]) if blocks else "en"
    unrel = [(u, guess_lang(u)) if isinstance(u, str) else (u[0], u[1]) for u in unrelated or ()]
    ctx = _Ctx(rng, vocab, [], "html", lang, _campaign(rng, vocab), unrel)
    page = _Page(tree, article, ctx)
    if n_injections is None:
        n_injections = rng.choices((1, 2, 3, 4, 5, 6), (30, 30, 20, 10, 6, 4))[0]
    done: list[HtmlInjection] = []
    if blocks:
        for _ in range(n_injections):
            first = rng.choice(kinds)
            for kind in [first] + [k for k in rng.sample(list(kinds), len(kinds)) if k != first]:
                got = _INJECTORS[kind](page)
                if got is not None:
                    done.append(got)
                    break
    return InjectedHtml((tree.html or html) if done else html, done, lang)


def page_title(html: str) -> str | None:
    """A page's headline (else <title>) as an unrelated headline for other pages."""
    tree = LexborHTMLParser(html)
    art = find_article(tree)
    text = node_text(art.headline) if art.headline is not None else ""
    if not text:
        node = tree.css_first("title")
        text = node_text(node) if node is not None else ""
    return text if 12 <= len(text) <= 150 else None


def inject_html_pages(
    pages: Iterable[str | tuple[str, ContentTest | None]],
    seed: int,
    vocab: Vocabulary,
    rate: float = 1.0,
    reservoir_size: int = 2000,
    **kw: object,
) -> Iterator[InjectedHtml]:
    """Inject spam into a share `rate` of pages (HTML, or (HTML, content test)); the others come
    back unchanged with no injection. As `training.inject.inject_records`, keeps a reservoir of
    earlier pages' headlines to serve as same-language unrelated headlines. Deterministic for a
    seed and an input order."""
    rng = random.Random(seed)
    reservoir: list[tuple[str, str]] = []
    seen = 0
    for item in pages:
        html, test = (item, None) if isinstance(item, str) else item
        page_rng = random.Random(rng.getrandbits(64))
        if rng.random() < rate:
            yield inject_html(html, page_rng, vocab, unrelated=reservoir, is_content=test,
                              **kw)  # type: ignore[arg-type]
        else:
            yield InjectedHtml(html, [], "")
        title = page_title(html)
        if title is not None:
            seen += 1
            entry = (title, guess_lang(title))
            if len(reservoir) < reservoir_size:
                reservoir.append(entry)
            else:
                j = rng.randrange(seen)
                if j < reservoir_size:
                    reservoir[j] = entry
