"""What cleaning returns: the sanitized article plus an audit of every unit.

Nothing vanishes unexplained: every unit of the input appears in `Result.lines` with its label,
probabilities and, when it was dropped, `clean_text=None`; every excised span keeps its offsets
into the unit's original text.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any

from cleaner.fields import Field
from cleaner.units import Page


@dataclass(slots=True)
class Span:
    """A removed (or, with repair off, marked) stretch of a unit's text; offsets into its text."""

    start: int
    end: int
    text: str
    label: str = "spam"
    score: float = 1.0


@dataclass(slots=True)
class Line:
    """The audit entry of one unit."""

    index: int
    label: str
    probabilities: dict[str, float]
    text: str
    clean_text: str | None  # None when the unit was dropped
    spans: list[Span] = field(default_factory=list)
    fields: list[Field] = field(default_factory=list)  # a separated line, judged per field


@dataclass(slots=True)
class Result:
    """The sanitized article (`text`), its `title`, a `published` date when a removed line carried
    one, and the audit (`lines`, and the `hidden` text an HTML page hides from readers)."""

    text: str
    title: str | None
    published: str | None
    lines: list[Line]
    kind: str
    model_version: str
    # HTML: the text of the elements the page hides, dropped before segmenting (`Page.hidden`)
    hidden: list[str] = field(default_factory=list)

    @property
    def spans(self) -> list[dict[str, Any]]:
        """Every excised span of the page, flattened, each with the index of its unit."""
        return [{"index": ln.index, **asdict(s)} for ln in self.lines for s in ln.spans]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict; the shape the CLI, the batch output and the service all share."""
        return {
            "text": self.text,
            "title": self.title,
            "published": self.published,
            "kind": self.kind,
            "model_version": self.model_version,
            "lines": [asdict(ln) for ln in self.lines],
            "spans": self.spans,
            "hidden": list(self.hidden),
        }


_DATE = re.compile(
    r"\b\d{4}-\d{1,2}-\d{1,2}(?:[ T]\d{1,2}:\d{2}(?::\d{2})?)?"
    r"|\b\d{1,2}[./]\d{1,2}[./]\d{4}\b"
    r"|\b(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)[a-z]*\.? \d{1,2},? \d{4}\b"
    r"|\b\d{1,2} (?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)[a-z]* \d{4}\b"
)


def assemble(page: Page, lines: list[Line], model_version: str) -> Result:
    """The article (content units in order, a blank line between them), its title, and a
    published date when a removed line or field (a byline, a dateline) carries one."""
    text = "\n\n".join(ln.clean_text for ln in lines if ln.clean_text)
    return Result(
        text=text,
        title=_title(page, lines),
        published=_published(page, lines),
        lines=lines,
        kind=page.kind,
        model_version=model_version,
        hidden=list(page.hidden),
    )


def _title(page: Page, lines: list[Line]) -> str | None:
    by_index = {u.index: u for u in page.units}
    kept = [ln for ln in lines if ln.clean_text]
    for ln in kept:
        if by_index[ln.index].heading == 1:
            return ln.clean_text
    for ln in kept:
        if by_index[ln.index].heading:
            return ln.clean_text
    if page.kind == "text" and kept and len(kept[0].clean_text or "") <= 200:
        return kept[0].clean_text
    return page.meta.get("og_title") or page.html_title


def _published(page: Page, lines: list[Line]) -> str | None:
    for ln in lines:
        for f in ln.fields:
            if f.role == "date":
                m = _DATE.search(f.text)
                if m:
                    return m.group()
        if ln.clean_text is None:
            m = _DATE.search(ln.text)
            if m:
                return m.group()
    return page.meta.get("published") or page.meta.get("time")
