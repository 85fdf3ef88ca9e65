"""The unit of work: one block of a page that receives one label.

Every stage speaks in `Unit`s: segmenting produces them, features read them, the model labels
them, repair rewrites their text. Markup fields stay at their neutral defaults for text input so
that one feature extractor serves both kinds of page.
"""

from __future__ import annotations

from dataclasses import dataclass, field

LABELS: tuple[str, ...] = ("content", "boilerplate", "spam")


@dataclass(slots=True)
class Unit:
    """One labelable block: a non-blank line of a text page, or a block element of an HTML page.

    `index` is what users see in the audit: for text, the 0-based line number in the input split
    on newlines (so blank lines keep their numbers); for HTML, the block's 0-based order.
    """

    index: int
    text: str
    tag: str = ""  # HTML block tag (p, h1, li, td, div, ...); "" for text input
    path: str = ""  # ancestor tag path, e.g. "body>div>article>p"
    depth: int = 0  # element depth in the document tree
    heading: int = 0  # 1..6 for h1..h6 (or a role=heading), else 0
    link_density: float = 0.0  # share of the unit's characters inside <a>
    in_list: bool = False  # inside <li>/<dd>/<dt>
    in_table: bool = False  # inside <td>/<th>
    attrs: str = ""  # lowercased class/id tokens of the element and its ancestors, space-joined
    paragraph_break: bool = True  # text input: a blank line (or the page start) precedes it
    # HTML: ids of the block elements that contain the unit, outermost first (ids are the
    # elements' order of appearance). Features aggregate text over these containers, which is
    # how "inside the element that holds the article" becomes visible to a per-unit model.
    ancestors: tuple[int, ...] = ()


@dataclass(slots=True)
class Page:
    """A segmented page: its units in document order plus what the markup says about the page."""

    units: list[Unit]
    kind: str  # "text" or "html"
    html_title: str | None = None  # <title> of an HTML page
    meta: dict[str, str] = field(default_factory=dict)  # e.g. published date from <meta>
    # HTML: text of the elements the page hides (`hidden`, `aria-hidden`, `display: none`),
    # dropped before segmenting: never a unit, never article text, but kept for the audit.
    hidden: list[str] = field(default_factory=list)
