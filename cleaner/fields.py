"""Fields: ` | `-separated lines judged field by field.

Bylines, breadcrumbs and datelines put several things on one line: `headline | keyword | date`.
Spam injected there shares the line with real text or real metadata, so one label for the line
is wrong either way: dropping it may lose the article's headline, keeping it keeps the spam.
Such a line is split into its fields and each field is labelled by the same unit model, in
place, on a copy of the page where the line is replaced by its fields: a field is judged by
the same evidence (its shape, its fit with the page, its neighbours) as any line. A date field
is metadata: it is labelled as such and feeds `Result.published`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from cleaner.units import Unit

# Separators of fields: a vertical bar (ASCII or full-width) anywhere, or a middle dot, a
# bullet or a slash between spaces (a bare slash or dot is part of words, dates and URLs). The
# spaces around a separator are trimmed from the fields, not matched (no backtracking).
FIELD_SEPARATOR = re.compile(r"[|｜]|(?<=\s)[·•/](?=\s)")
MAX_FIELDS = 8
DATE = re.compile(
    r"\b\d{4}-\d{1,2}-\d{1,2}(?:[ T]\d{1,2}:\d{2}(?::\d{2})?)?"
    r"|\b\d{4}[./年]\d{1,2}[./月]\d{1,2}日?(?:\s+\d{1,2}:\d{2}(?::\d{2})?)?"
    r"|\b\d{1,2}[./]\d{1,2}[./]\d{4}(?:\s+\d{1,2}:\d{2}(?::\d{2})?)?"
    r"|\b(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)[a-z]*\.? \d{1,2},? \d{4}\b"
    r"|\b\d{1,2} (?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)[a-z]* \d{4}\b"
)


@dataclass(slots=True)
class Field:
    """One field of a separated line: offsets into the unit's text, its label and scores."""

    start: int
    end: int
    text: str
    label: str
    probabilities: dict[str, float]
    role: str | None = None  # "date" for a field that is the line's date


def split_fields(text: str) -> list[tuple[int, int]]:
    """(start, end) of each non-empty field, or [] when the line is not a separated line."""
    if "|" not in text and "｜" not in text and " · " not in text and " • " not in text \
            and " / " not in text:
        return []
    out = []
    pos = 0
    for m in FIELD_SEPARATOR.finditer(text):
        out.append((pos, m.start()))
        pos = m.end()
    out.append((pos, len(text)))
    fields = []
    for a, b in out:
        seg = text[a:b]
        if seg.strip():
            fields.append((a + len(seg) - len(seg.lstrip()), b - (len(seg) - len(seg.rstrip()))))
    if not 2 <= len(fields) <= MAX_FIELDS:
        return []
    return fields


def field_units(unit: Unit, fields: list[tuple[int, int]]) -> list[Unit]:
    """The unit's fields as units of their own, with the unit's markup."""
    return [replace(unit, text=unit.text[a:b].strip()) for a, b in fields]


def date_role(text: str) -> str | None:
    return "date" if DATE.search(text) else None
