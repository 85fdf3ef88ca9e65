"""What cleaning returns: the sanitized article plus an audit of every unit.

Nothing vanishes unexplained: every unit of the input appears in `Result.lines` with its label,
probabilities and, when it was dropped, `clean_text=None`; every excised span keeps its offsets
into the unit's original text.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


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


@dataclass(slots=True)
class Result:
    """The sanitized article (`text`), its `title`, a `published` date when a removed line carried
    one, and the audit (`lines`)."""

    text: str
    title: str | None
    published: str | None
    lines: list[Line]
    kind: str
    model_version: str

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
        }
