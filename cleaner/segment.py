"""Segmenting: a page in, its units out.

Text pages are segmented by line because that is how scraped dumps arrive and how users read
the audit (a unit's index is its line number). HTML pages are segmented into block-level text
units by a real parser (lexbor, via selectolax): invisible markup is removed inside the parser
(script, style, template, hidden elements), then one depth-first pass over the remaining nodes
cuts the text at every block boundary. Each unit keeps what the markup says about it: its tag,
path, heading level, link density, list and table membership, class/id tokens, and the block
elements that contain it (from which the features measure "inside the element holding the
article").

lexbor's traversal runs in C and yields nodes in document order without exit events; element
exits are recovered from parent ids, so the pass is one Python step per node, with no recursion
(absurdly deep documents cannot exhaust the Python stack). lexbor's tree building is quadratic in
nesting depth, so documents with pathological nesting are flattened beyond `MAX_NESTING` levels
before parsing.
"""

from __future__ import annotations

import re

from selectolax.lexbor import LexborHTMLParser

from cleaner.units import Page, Unit

# Elements whose boundaries end a block of text. Inline elements (a, span, b, em...) do not.
BLOCK_TAGS = frozenset(
    """address article aside blockquote body br caption dd details dialog div dl dt fieldset
    figcaption figure footer form h1 h2 h3 h4 h5 h6 header hgroup hr html legend li main menu nav
    ol p pre section summary table tbody td tfoot th thead tr ul button label center""".split()
)
# Elements whose content is never visible text; removed inside the parser before the walk.
SKIP_TAGS = (
    "script", "style", "template", "noscript", "svg", "math", "iframe", "object", "embed",
    "canvas", "head", "select", "option", "textarea", "audio", "video", "picture", "map",
)
VOID_TAGS = frozenset("br hr img input wbr meta link area base col embed source track".split())
HEADINGS = {"h1": 1, "h2": 2, "h3": 3, "h4": 4, "h5": 5, "h6": 6}
LIST_TAGS = frozenset({"li", "dd", "dt"})
CELL_TAGS = frozenset({"td", "th"})
_WS = re.compile(r"\s+")
_HIDDEN_STYLE = re.compile(r"display\s*:\s*none|visibility\s*:\s*hidden", re.I)
# Hidden text kept for the audit, bounded on hostile input (a page of a million hidden spans).
MAX_HIDDEN = 200
MAX_HIDDEN_CHARS = 2_000
MAX_HIDDEN_READ = 1_000_000
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
MAX_ANCESTORS = 12  # containers kept per unit: enough to reach the article element
ATTR_SCAN = 30  # open elements looked at for class/id tokens, innermost first
PATH_TAGS = 8

# Nesting guard: only documents with many tags can nest deeply, so the (cheap) count decides
# whether the (dearer) depth-limiting pass runs at all.
NESTING_CHECK_TAGS = 8000
MAX_NESTING = 512
_TAG = re.compile(r"<(/?)([a-zA-Z][a-zA-Z0-9:-]*)[^<>]*?(/?)>")
# Tags that real pages leave unclosed by the million; the parser closes them implicitly, so they
# do not nest and must not count.
_SELF_CLOSING_IN_PRACTICE = VOID_TAGS | {"p", "li", "td", "th", "tr", "dt", "dd", "option"}


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
        if not line or line.isspace():
            after_blank = True
            continue
        units.append(Unit(index=i, text=line.rstrip("\r"), paragraph_break=after_blank))
        after_blank = False
    return Page(units=units, kind="text")


def bound_nesting(html: str, limit: int = MAX_NESTING) -> str:
    """`html` with element tags nested deeper than `limit` removed (their text stays).

    Real pages nest a few dozen levels; a document nested thousands deep is an attack or a
    generator bug, and lexbor would spend quadratic time building it.
    """
    if html.count("<") < NESTING_CHECK_TAGS:
        return html
    depth = 0

    def keep(m: re.Match[str]) -> str:
        nonlocal depth
        closing, name, selfclose = m.group(1), m.group(2).lower(), m.group(3)
        if selfclose or name in _SELF_CLOSING_IN_PRACTICE:
            return m.group()
        if closing:
            depth -= 1
            return m.group() if depth < limit else ""
        depth += 1
        return m.group() if depth <= limit else ""

    return _TAG.sub(keep, html)


def _attr_tokens(attrs: dict[str, str | None]) -> list[str]:
    value = " ".join(
        v for v in (attrs.get("class"), attrs.get("id"), attrs.get("role"), attrs.get("itemprop"))
        if v
    )
    return _ATTR_TOKEN.findall(value.lower()) if value else []


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


def _remove_invisible(tree: LexborHTMLParser) -> list[str]:
    """Drop what a reader never sees, inside the parser, before the Python pass, and return
    the text of the hidden elements dropped (`Page.hidden`): a hidden block of links is how
    hacked pages feed spam to crawlers, and nothing is removed without a trace."""
    tree.strip_tags(list(SKIP_TAGS))
    hidden = [node for node in tree.css("[hidden], [aria-hidden=true], [style]")
              if "style" not in node.attrs or "hidden" in node.attrs
              or node.attrs.get("aria-hidden") == "true"
              or _HIDDEN_STYLE.search(node.attrs.get("style") or "")]
    # Texts first, every node still in the tree, in document order: a hidden element inside
    # another is read as part of the outer one and not again.
    # Each read costs the element's whole subtree, so reading stops after MAX_HIDDEN_READ
    # characters (nested hidden elements would otherwise read the page once per level).
    texts: list[str] = []
    read = 0
    for node in hidden:
        if len(texts) >= MAX_HIDDEN or read >= MAX_HIDDEN_READ:
            break
        raw = node.text(deep=True, separator=" ") or ""
        read += len(raw) + 1
        text = " ".join(raw[: MAX_HIDDEN_CHARS * 4].split())[:MAX_HIDDEN_CHARS]
        if text and not any(text in t for t in texts[-8:]):
            texts.append(text)
    for node in hidden:
        node.decompose()
    return texts


class _Open:
    """An open element on the walk's stack."""

    __slots__ = ("mem_id", "tag", "block", "has_attrs")

    def __init__(self, mem_id: int, tag: str, block: int, has_attrs: bool) -> None:
        self.mem_id = mem_id
        self.tag = tag
        self.block = block  # block element id, or -1 for inline elements
        self.has_attrs = has_attrs  # pushed a list of class/id tokens


class _Walk:
    """The state of one pass: what is open, and the text gathered since the last boundary.

    Everything a unit needs is kept as running stacks and counters, so cutting a unit costs the
    same however deep the document is.
    """

    def __init__(self) -> None:
        self.units: list[Unit] = []
        self.parts: list[str] = []
        self.has_text = False  # parts hold more than whitespace
        self.link_chars = 0
        self.stack: list[_Open] = []
        self.blocks: list[int] = []  # ids of the open block elements
        self.block_tags: list[str] = []
        self.attrs: list[list[str]] = []  # class/id tokens of the open elements that have any
        self.headings: list[int] = []  # levels of the open headings
        self.n_links = self.n_lists = self.n_cells = 0
        self.n_blocks = 0

    def flush(self) -> None:
        if not self.has_text:
            self.parts.clear()
            return
        text = _WS.sub(" ", "".join(self.parts)).strip()
        link_chars, self.parts, self.link_chars, self.has_text = self.link_chars, [], 0, False
        tokens: list[str] = []
        for group in reversed(self.attrs):
            tokens.extend(group)
            if len(tokens) >= MAX_ATTR_TOKENS:
                break
        stack = self.stack
        self.units.append(
            Unit(
                index=len(self.units),
                text=text,
                tag=self.block_tags[-1] if self.block_tags else "body",
                path=">".join([f.tag for f in stack[-PATH_TAGS:]]),
                depth=len(stack),
                heading=self.headings[-1] if self.headings else 0,
                link_density=min(1.0, link_chars / max(1, len(text) - text.count(" "))),
                in_list=self.n_lists > 0,
                in_table=self.n_cells > 0,
                attrs=" ".join(dict.fromkeys(tokens[:MAX_ATTR_TOKENS])) if tokens else "",
                ancestors=tuple(self.blocks[-MAX_ANCESTORS:]),
            )
        )

    def open(self, node: object, tag: str) -> None:
        block = -1
        has_attrs = False
        if tag in BLOCK_TAGS:
            self.flush()
            block = self.n_blocks
            self.n_blocks += 1
            self.blocks.append(block)
            self.block_tags.append(tag)
            tokens = _attr_tokens(node.attributes)  # type: ignore[attr-defined]
            if tokens:
                self.attrs.append(tokens)
                has_attrs = True
            if tag in LIST_TAGS:
                self.n_lists += 1
            elif tag in CELL_TAGS:
                self.n_cells += 1
            elif tag in HEADINGS:
                self.headings.append(HEADINGS[tag])
        elif tag == "a":
            self.n_links += 1
        self.stack.append(_Open(node.mem_id, tag, block, has_attrs))  # type: ignore[attr-defined]

    def close(self) -> None:
        f = self.stack[-1]
        if f.block >= 0:
            self.flush()
            self.blocks.pop()
            self.block_tags.pop()
            tag = f.tag
            if tag in LIST_TAGS:
                self.n_lists -= 1
            elif tag in CELL_TAGS:
                self.n_cells -= 1
            elif tag in HEADINGS:
                self.headings.pop()
        elif f.tag == "a":
            self.n_links -= 1
        if f.has_attrs:
            self.attrs.pop()
        self.stack.pop()


def segment_html(html: str) -> Page:
    """Block-level text units of an HTML document, in document order."""
    tree = LexborHTMLParser(bound_nesting(html))
    title, meta = _page_meta(tree)
    hidden = _remove_invisible(tree)
    root = tree.root
    if root is None:
        return Page(units=[], kind="html", html_title=title, meta=meta, hidden=hidden)
    walk = _Walk()
    stack = walk.stack
    for node in root.traverse(include_text=True):
        parent = node.parent
        pid = parent.mem_id if parent is not None else 0
        while stack and stack[-1].mem_id != pid:
            walk.close()
        tag = node.tag
        if tag == "-text":
            text = node.text_content
            if text:
                walk.parts.append(text)
                if not text.isspace():
                    walk.has_text = True
                    if walk.n_links:
                        walk.link_chars += len(text.strip())
        elif tag in VOID_TAGS:
            if tag == "br" or tag == "hr":
                walk.flush()
        elif tag and tag[0] != "-":
            walk.open(node, tag)
    while stack:
        walk.close()
    walk.flush()
    return Page(units=walk.units, kind="html", html_title=title, meta=meta, hidden=hidden)
