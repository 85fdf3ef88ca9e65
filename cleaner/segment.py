"""Segmenting: a page in, its units out.

Text pages are segmented by line because that is how scraped dumps arrive and how users read
the audit (a unit's index is its line number). HTML pages are segmented into block-level text
units by a real parser (lexbor, via selectolax), walking the tree iteratively so that absurdly
deep documents cannot exhaust the Python stack; each unit keeps what the markup says about it.
"""

from __future__ import annotations

import re

from selectolax.lexbor import LexborHTMLParser, LexborNode

from cleaner.units import Page, Unit

# Elements whose boundaries end a block of text. Inline elements (a, span, b, em...) do not.
BLOCK_TAGS = frozenset(
    """address article aside blockquote body br caption dd details dialog div dl dt fieldset
    figcaption figure footer form h1 h2 h3 h4 h5 h6 header hgroup hr html legend li main menu nav
    ol p pre section summary table tbody td tfoot th thead tr ul button label""".split()
)
# Elements whose content is never visible text.
SKIP_TAGS = frozenset(
    """script style template noscript svg math iframe object embed canvas head select option
    textarea input audio video picture source track map area link meta base -comment""".split()
)
HEADINGS = {"h1": 1, "h2": 2, "h3": 3, "h4": 4, "h5": 5, "h6": 6}
_WS = re.compile(r"\s+")
_HIDDEN_STYLE = re.compile(r"display\s*:\s*none|visibility\s*:\s*hidden", re.I)
_ATTR_TOKEN = re.compile(r"[a-z]+")
_PUBLISHED_META = (
    "article:published_time",
    "datepublished",
    "date",
    "pubdate",
    "publishdate",
    "dc.date",
    "dc.date.issued",
    "og:published_time",
)
MAX_ATTR_TOKENS = 24


def segment(text: str, kind: str) -> Page:
    """Segment `text` as `kind` ("text" or "html")."""
    if kind == "html":
        return segment_html(text)
    if kind == "text":
        return segment_text(text)
    raise ValueError(f"unknown page kind {kind!r}; expected 'text' or 'html'")


def segment_text(text: str) -> Page:
    """One unit per non-blank line; the index is the line's position in `text.split("\\n")`."""
    units: list[Unit] = []
    after_blank = True
    for i, line in enumerate(text.split("\n")):
        line = line.rstrip("\r")
        if not line.strip():
            after_blank = True
            continue
        units.append(Unit(index=i, text=line, paragraph_break=after_blank))
        after_blank = False
    return Page(units=units, kind="text")


def _is_hidden(attrs: dict[str, str | None]) -> bool:
    if "hidden" in attrs or (attrs.get("aria-hidden") or "").lower() == "true":
        return True
    style = attrs.get("style")
    return bool(style and _HIDDEN_STYLE.search(style))


def _attr_tokens(attrs: dict[str, str | None]) -> list[str]:
    value = " ".join(v for k, v in attrs.items() if k in ("class", "id", "role", "itemprop") and v)
    return _ATTR_TOKEN.findall(value.lower()) if value else []


class _Frame:
    """An open element on the traversal stack."""

    __slots__ = ("tag", "attrs", "is_block")

    def __init__(self, tag: str, attrs: list[str], is_block: bool) -> None:
        self.tag = tag
        self.attrs = attrs
        self.is_block = is_block


class _Builder:
    """Accumulates inline text and flushes it as a unit at every block boundary."""

    def __init__(self) -> None:
        self.units: list[Unit] = []
        self.parts: list[str] = []
        self.link_chars = 0

    def add_text(self, text: str, in_link: bool) -> None:
        self.parts.append(text)
        if in_link:
            self.link_chars += len(text.strip())

    def flush(self, stack: list[_Frame]) -> None:
        if not self.parts:
            return
        text = _WS.sub(" ", "".join(self.parts)).strip()
        link_chars, self.parts, self.link_chars = self.link_chars, [], 0
        if not text:
            return
        tags = [f.tag for f in stack]
        block = next((f.tag for f in reversed(stack) if f.is_block), "body")
        heading = next((HEADINGS[t] for t in reversed(tags) if t in HEADINGS), 0)
        attrs: list[str] = []
        for f in reversed(stack):
            attrs.extend(f.attrs)
            if len(attrs) >= MAX_ATTR_TOKENS:
                break
        self.units.append(
            Unit(
                index=len(self.units),
                text=text,
                tag=block,
                path=">".join(tags[-8:]),
                depth=len(stack),
                heading=heading,
                link_density=min(1.0, link_chars / max(1, len(text.replace(" ", "")))),
                in_list=any(t in ("li", "dd", "dt") for t in tags),
                in_table=any(t in ("td", "th") for t in tags),
                attrs=" ".join(dict.fromkeys(attrs[:MAX_ATTR_TOKENS])),
            )
        )


def _page_meta(tree: LexborHTMLParser) -> tuple[str | None, dict[str, str]]:
    title_node = tree.css_first("title")
    title = _WS.sub(" ", title_node.text()).strip() if title_node is not None else None
    meta: dict[str, str] = {}
    for node in tree.css("meta"):
        attrs = node.attributes
        key = (attrs.get("property") or attrs.get("name") or attrs.get("itemprop") or "").lower()
        if key in _PUBLISHED_META and attrs.get("content") and "published" not in meta:
            meta["published"] = (attrs.get("content") or "").strip()
        if key == "og:title" and attrs.get("content"):
            meta["og_title"] = (attrs.get("content") or "").strip()
    for node in tree.css("time[datetime]"):
        if "published" not in meta and node.attributes.get("datetime"):
            meta["time"] = (node.attributes.get("datetime") or "").strip()
            break
    return title or None, meta


def segment_html(html: str) -> Page:
    """Block-level text units of an HTML document, in document order."""
    tree = LexborHTMLParser(html)
    title, meta = _page_meta(tree)
    root = tree.root
    builder = _Builder()
    stack: list[_Frame] = []
    links_open = 0
    # Iterative depth-first walk: (node, entering) pairs; a None node marks an element's exit.
    todo: list[tuple[LexborNode | None, _Frame | None]] = []
    if root is not None:
        todo.append((root, None))
    while todo:
        node, frame = todo.pop()
        if node is None:  # exit of `frame`
            assert frame is not None
            if frame.is_block:
                builder.flush(stack)
            if frame.tag == "a":
                links_open -= 1
            stack.pop()
            continue
        tag = node.tag
        if tag == "-text":
            text = node.text_content
            if text:
                builder.add_text(text, links_open > 0)
            continue
        if tag in SKIP_TAGS or tag is None or tag.startswith("-"):
            continue
        attrs = node.attributes
        if _is_hidden(attrs):
            continue
        is_block = tag in BLOCK_TAGS
        if is_block:
            builder.flush(stack)
            if tag in ("br", "hr"):
                continue
        new = _Frame(tag, _attr_tokens(attrs), is_block)
        stack.append(new)
        if tag == "a":
            links_open += 1
        todo.append((None, new))
        children = []
        child = node.child
        while child is not None:
            children.append(child)
            child = child.next
        todo.extend((c, None) for c in reversed(children))
    builder.flush(stack)
    return Page(units=builder.units, kind="html", html_title=title, meta=meta)
