"""Repair: cut spam spliced inside content units out, and join the text back.

A content unit may carry injected text that has no line of its own: a keyword spliced into a
word of the headline, a fragment in another script glued onto a sentence, a promo sentence
appended to a paragraph. Dropping the unit would lose real text and keeping it keeps the spam,
so the learned span detector (`cleaner.spans`) finds the stretches and this stage removes them
and mends the seams, so that the repaired line reads as the original did. Every removed span is
kept in the audit with its offsets into the unit's original text and its score; with
`apply=False` spans are only marked and the text is left as it was.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np

from cleaner.fields import Field
from cleaner.result import Line, Span
from cleaner.spans import SpanDetector
from cleaner.units import LABELS, Unit


def repair_units(
    units: Sequence[Unit],
    labels: Sequence[str],
    proba: np.ndarray,
    fields: Mapping[int, list[Field]],
    detector: SpanDetector | None,
    text_scorer: Callable[[list[str]], np.ndarray] | None,
    apply: bool = True,
) -> list[Line]:
    """Audit lines for every unit; content units get their spliced spam excised (or, with
    `apply=False`, only marked).

    A separated line with both content and spam fields (`real headline | keyword | date`) is
    content: its content fields are kept and the others cut out as spans.
    """
    labels = list(labels)
    field_spans: dict[int, list[Span]] = {}
    for i, fs in fields.items():
        if any(f.label == "spam" for f in fs) and any(_real_field(f) for f in fs):
            labels[i] = "content"
            field_spans[i] = _field_cuts(units[i].text, fs)
    content = [i for i, lab in enumerate(labels) if lab == "content"]
    # A long spam line may be a real paragraph with a promo glued to it: scanned too, and
    # kept when cutting the spans leaves text the text model calls content.
    rescue = [i for i, lab in enumerate(labels)
              if lab == "spam" and len(units[i].text) >= RESCUE_MIN_CHARS]
    found: dict[int, list[Span]] = {}
    scanned = content + rescue
    if detector is not None and scanned:
        spans = detector.find([units[i].text for i in scanned], text_scorer=text_scorer,
                              sources=[lab == "content" for lab in (labels[i] for i in scanned)])
        found = {i: s for i, s in zip(scanned, spans) if s}
        for i in rescue:
            if i in found and _is_real_text(units[i].text, found[i], text_scorer):
                labels[i] = "content"
            else:
                found.pop(i, None)
    lines = []
    for i, (u, label, p) in enumerate(zip(units, labels, proba)):
        probs = {name: round(float(v), 4) for name, v in zip(LABELS, p)}
        spans_i: list[Span] = []
        clean_text: str | None = None
        if label == "content":
            spans_i = _merge(u.text, field_spans.get(i, []), found.get(i, []))
            clean_text = apply_spans(u.text, spans_i) if apply else u.text.strip()
            if not clean_text:
                label, clean_text = "spam", None
        lines.append(Line(u.index, label, probs, u.text, clean_text, spans_i, fields.get(i, [])))
    return lines


RESCUE_MIN_CHARS = 80
RESCUE_MIN_SHARE = 0.4  # of the line that must remain
RESCUE_MIN_CONTENT = 0.5  # P(content) of what remains, by the text model


def _is_real_text(text: str, spans: Sequence[Span],
                  text_scorer: Callable[[list[str]], np.ndarray] | None) -> bool:
    rest = apply_spans(text, spans)
    if len(rest) < RESCUE_MIN_SHARE * len(text.strip()) or text_scorer is None:
        return False
    return float(text_scorer([rest])[0, LABELS.index("content")]) >= RESCUE_MIN_CONTENT


FIELD_MIN_CHARS = 20  # a field that can carry a line by itself: a headline, not a keyword
FIELD_MIN_CONTENT = 0.5


def _real_field(f: Field) -> bool:
    return (f.label == "content" and len(f.text.strip()) >= FIELD_MIN_CHARS
            and f.probabilities.get("content", 0.0) >= FIELD_MIN_CONTENT)


def _field_cuts(text: str, fs: Sequence[Field]) -> list[Span]:
    """Spans removing the non-content fields of a line, each with the separator that joined
    it to the field before (or after, for a leading field)."""
    cuts = []
    for k, f in enumerate(fs):
        if _real_field(f):
            continue
        start = fs[k - 1].end if k > 0 else f.start
        end = f.end if k > 0 else (fs[1].start if len(fs) > 1 else f.end)
        score = f.probabilities.get(f.label, 1.0)
        cuts.append(Span(start, end, text[start:end], f.label, score))
    return _merge(text, cuts, [])


def _merge(text: str, first: list[Span], second: list[Span]) -> list[Span]:
    """`first` with those of `second` that overlap none of them, sorted, merged if touching."""
    out = list(first)
    for s in second:
        if not any(s.start < t.end and t.start < s.end for t in out):
            out.append(s)
    out.sort(key=lambda s: s.start)
    merged: list[Span] = []
    for s in out:
        if merged and s.start <= merged[-1].end and s.label == merged[-1].label:
            last = merged[-1]
            end = max(last.end, s.end)
            merged[-1] = Span(last.start, end, text[last.start:end], last.label,
                              max(last.score, s.score))
        else:
            merged.append(s)
    return merged


def apply_spans(text: str, spans: Sequence[Span]) -> str:
    """The text with the spans removed and each seam mended: one space where the cut left two
    (or a space and nothing), none before punctuation, none where the cut was inside a word.
    Text away from the seams is left as it was (only the ends are stripped)."""
    if not spans:
        return text.strip()
    out = ""
    pos = 0
    for s in sorted(spans, key=lambda s: s.start):
        if s.start < pos:
            continue
        out += text[pos : s.start]
        right = text[s.end :]
        core_l, core_r = out.rstrip(" \t"), right.lstrip(" \t")
        spaced = core_l != out or core_r != right
        sep = " " if spaced and core_l and core_r[:1] not in _PUNCT else ""
        out = core_l + sep
        pos = len(text) - len(core_r)
    return (out + text[pos:]).strip()


_PUNCT = frozenset(",.;:!?)]}»”’")
