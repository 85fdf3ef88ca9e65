"""The cleaning algorithm, top to bottom: decode -> segment -> features + model -> decide ->
fields -> repair -> result. Each stage is a function of its own module; `Cleaner.clean_page`
only puts them in order.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from cleaner.decode import decode, sniff_kind
from cleaner.errors import EmptyPageError
from cleaner.features import PageBatch
from cleaner.fields import Field, date_role, field_units, split_fields
from cleaner.model import load_model
from cleaner.repair import repair_units
from cleaner.result import Result, assemble
from cleaner.segment import segment
from cleaner.units import LABELS, Page, Unit

# A unit is dropped only when the model is fairly sure it is not content: losing a paragraph of
# the article is worse than keeping a footer line. A trained model carries its own floor, tuned
# on wcxb/dev validation pages; this is the default for models that do not.
CONTENT_FLOOR = 0.3
FIELD_SPAM_FLOOR = 0.05  # a content line with this much P(spam) has its fields judged


class Cleaner:
    """A loaded model and the algorithm around it. Immutable after loading, so one instance is
    safe to share across threads (the service shares one per process)."""

    def __init__(self, pipeline: Any, manifest: dict[str, Any]) -> None:
        self.pipeline = pipeline
        self.manifest = manifest
        self._features = pipeline.named_steps["features"]
        self._model = pipeline.named_steps["model"]
        self._spans = getattr(self._model, "spans_", None)

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
        units = page.units
        X = self._features.transform(PageBatch([units]))
        proba = self._model.predict_proba(X)
        labels = decide(proba, self.content_floor)
        fields = self.judge_fields(units, labels, proba)
        # The span detector asks the text model about every unit it has candidates in; the
        # unit stage has those answers already.
        score_text = None if self._spans is None else _KnownTexts(self._score_text, dict(zip(
            (u.text for u in units), self._model.text_proba(X))))
        lines = repair_units(units, labels, proba, fields, self._spans, score_text,
                             lambda texts: self.relabel(units, texts), apply=repair)
        return assemble(page, lines, self.version)

    @property
    def content_floor(self) -> float:
        return float(getattr(self._model, "content_floor_", CONTENT_FLOOR))

    def judge_fields(self, units: list[Unit], labels: list[str],
                     proba: np.ndarray) -> dict[int, list[Field]]:
        """Fields of the separated lines that are not plain boilerplate, each labelled in
        place: the page is labelled again with those lines replaced by their fields."""
        split: dict[int, list[tuple[int, int]]] = {}
        spam = LABELS.index("spam")
        for i, (u, label) in enumerate(zip(units, labels)):
            # Spam lines, and content lines with some spam in them: a separated line that is
            # plainly content (a table row, a citation) or plainly boilerplate (a breadcrumb)
            # is not worth a second look.
            if label == "spam" or (label == "content" and proba[i, spam] >= FIELD_SPAM_FLOOR):
                f = split_fields(u.text)
                if f:
                    split[i] = f
        if not split:
            return {}
        expanded: list[Unit] = []
        where: dict[int, int] = {}  # unit -> position of its first field in `expanded`
        for i, u in enumerate(units):
            if i in split:
                where[i] = len(expanded)
                expanded.extend(field_units(u, split[i]))
            else:
                expanded.append(u)
        rows = np.array([at + k for i, at in where.items() for k in range(len(split[i]))])
        X = self._features.transform(PageBatch([expanded]))
        proba = self._model.predict_proba(X, rows=rows)
        field_labels = decide(proba, self.content_floor)
        out: dict[int, list[Field]] = {}
        pos = 0
        for i in where:
            out[i] = []
            for a, b in split[i]:
                out[i].append(Field(
                    a, b, units[i].text[a:b], field_labels[pos],
                    {name: round(float(v), 4) for name, v in zip(LABELS, proba[pos])},
                    date_role(units[i].text[a:b]),
                ))
                pos += 1
        return out

    def relabel(self, units: list[Unit], texts: Mapping[int, str]) -> np.ndarray:
        """Probabilities of the units `texts` names (in index order), the page labelled again
        with their text replaced: page-relative features change with the text."""
        changed = [replace(u, text=texts[i]) if i in texts else u for i, u in enumerate(units)]
        X = self._features.transform(PageBatch([changed]))
        return self._model.predict_proba(X, rows=np.array(sorted(texts)))

    def _score_text(self, texts: list[str]) -> np.ndarray:
        """The unit text model's opinion of stretches of lines (for the span detector)."""
        return self._model.text_proba_of(texts, self._features)


class _KnownTexts:
    """A text scorer that answers from `known` (text -> row) where it can and asks `score`
    for the rest, in one call."""

    def __init__(self, score: Callable[[list[str]], np.ndarray],
                 known: Mapping[str, np.ndarray]) -> None:
        self._score = score
        self._known = known

    def __call__(self, texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), len(LABELS)))
        todo = []
        for i, t in enumerate(texts):
            row = self._known.get(t)
            if row is None:
                todo.append(i)
            else:
                out[i] = row
        if todo:
            out[todo] = self._score([texts[i] for i in todo])
        return out


def decide(proba: np.ndarray, content_floor: float = CONTENT_FLOOR) -> list[str]:
    """Labels from probabilities: content unless the model is sure enough it is not; then the
    likelier of boilerplate and spam."""
    content, boiler, spam = (LABELS.index(x) for x in ("content", "boilerplate", "spam"))
    is_content = proba[:, content] >= content_floor
    is_spam = proba[:, spam] > proba[:, boiler]
    return [
        "content" if c else ("spam" if s else "boilerplate")
        for c, s in zip(is_content.tolist(), is_spam.tolist())
    ]


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
