"""The cleaning algorithm, top to bottom: decode -> segment -> features -> model -> repair ->
result. Each stage is one function of its own module; this one only puts them in order.
"""

from __future__ import annotations

import re
import threading
from pathlib import Path
from typing import Any

import numpy as np

from cleaner.decode import decode, sniff_kind
from cleaner.errors import EmptyPageError
from cleaner.features import PageBatch
from cleaner.model import load_model
from cleaner.repair import PageVocabulary, apply_spans, find_spans
from cleaner.result import Line, Result, Span
from cleaner.segment import segment
from cleaner.units import LABELS, Page, Unit

# A unit is dropped only when the model is fairly sure it is not content: losing a paragraph of
# the article is worse than keeping a footer line. Tuned on wcxb/dev validation pages.
CONTENT_FLOOR = 0.3

_DATE = re.compile(
    r"\b\d{4}-\d{1,2}-\d{1,2}(?:[ T]\d{1,2}:\d{2}(?::\d{2})?)?"
    r"|\b\d{1,2}[./]\d{1,2}[./]\d{4}\b"
    r"|\b(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)[a-z]*\.? \d{1,2},? \d{4}\b"
    r"|\b\d{1,2} (?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)[a-z]* \d{4}\b"
)


class Cleaner:
    """A loaded model and the algorithm around it. Immutable after loading, so one instance is
    safe to share across threads (the service shares one per process)."""

    def __init__(self, pipeline: Any, manifest: dict[str, Any]) -> None:
        self.pipeline = pipeline
        self.manifest = manifest

    @classmethod
    def load(cls, path: str | Path | None = None) -> Cleaner:
        """The shipped model, or the one at `path`; verified against its manifest first."""
        pipeline, manifest = load_model(Path(path) if path is not None else None)
        return cls(pipeline, manifest)

    @property
    def version(self) -> str:
        return str(self.manifest.get("version", "unknown"))

    def clean(
        self, text: str | None = None, html: str | None = None, *, repair: bool = True
    ) -> Result:
        """Clean a page given as text or as HTML (exactly one of the two)."""
        if (text is None) == (html is None):
            raise ValueError("give exactly one of text= or html=")
        raw = text if text is not None else html
        assert raw is not None
        return self.clean_page(segment(raw, "text" if text is not None else "html"), repair)

    def clean_bytes(
        self,
        data: bytes,
        *,
        kind: str | None = None,
        charset: str | None = None,
        repair: bool = True,
    ) -> Result:
        """Clean raw bytes: decoded (declared charset, else detected), kind sniffed if not given."""
        raw = decode(data, charset)
        return self.clean_page(segment(raw, kind or sniff_kind(raw)), repair)

    def clean_page(self, page: Page, repair: bool = True) -> Result:
        """Label, repair and assemble one segmented page."""
        if not page.units:
            raise EmptyPageError("the page has no text")
        proba = self.pipeline.predict_proba(PageBatch([page.units]))
        labels = decide(proba)
        lines = repair_units(page.units, labels, proba, apply=repair)
        return assemble(page, lines, self.version)


def decide(proba: np.ndarray) -> list[str]:
    """Labels from probabilities: content unless the model is sure enough it is not; then the
    likelier of boilerplate and spam."""
    content, boiler, spam = (LABELS.index(x) for x in ("content", "boilerplate", "spam"))
    out = []
    for p in proba:
        if p[content] >= CONTENT_FLOOR:
            out.append("content")
        else:
            out.append("spam" if p[spam] > p[boiler] else "boilerplate")
    return out


def repair_units(
    units: list[Unit], labels: list[str], proba: np.ndarray, apply: bool = True
) -> list[Line]:
    """Audit lines for every unit; content units get their spliced spam excised (or, with
    `apply=False`, only marked)."""
    # The article's own vocabulary: spliced spam must not vouch for itself through the spam
    # and boilerplate lines that repeat it.
    vocab = PageVocabulary.of([u.text for u, lab in zip(units, labels) if lab == "content"])
    lines = []
    for u, label, p in zip(units, labels, proba):
        probs = {name: round(float(v), 4) for name, v in zip(LABELS, p)}
        spans: list[Span] = []
        clean_text: str | None = None
        if label == "content":
            spans = find_spans(u.text, vocab)
            clean_text = apply_spans(u.text, spans) if apply else u.text.strip()
            if not clean_text:
                label, clean_text = "spam", None
        lines.append(Line(u.index, label, probs, u.text, clean_text, spans))
    return lines


def assemble(page: Page, lines: list[Line], model_version: str) -> Result:
    """The article (content units in order, a blank line between them), its title, and a
    published date when a removed line (a byline, a dateline) carries one."""
    kept = [ln for ln in lines if ln.clean_text is not None]
    text = "\n\n".join(ln.clean_text for ln in kept if ln.clean_text)
    return Result(
        text=text,
        title=_title(page, lines),
        published=_published(page, lines),
        lines=lines,
        kind=page.kind,
        model_version=model_version,
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
        if ln.clean_text is None:
            m = _DATE.search(ln.text)
            if m:
                return m.group()
    return page.meta.get("published") or page.meta.get("time")


_DEFAULT: Cleaner | None = None
_DEFAULT_LOCK = threading.Lock()


def default_cleaner() -> Cleaner:
    """The shipped model, loaded once per process on first use."""
    global _DEFAULT
    with _DEFAULT_LOCK:
        if _DEFAULT is None:
            _DEFAULT = Cleaner.load()
        return _DEFAULT


def clean(text: str | None = None, html: str | None = None, *, repair: bool = True) -> Result:
    """Clean one page with the shipped model: `clean(text=...)` or `clean(html=...)`."""
    return default_cleaner().clean(text=text, html=html, repair=repair)
