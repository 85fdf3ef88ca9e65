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
    relabel: Callable[[Mapping[int, str]], np.ndarray] | None,
    apply: bool = True,
) -> list[Line]:
    """Audit lines for every unit; content units get their spliced spam excised (or, with
    `apply=False`, only marked).

    A separated line with both content and spam fields (`real headline | keyword | date`) is
    content, unless the model is sure the whole line is spam: its content fields are kept and
    the others cut out as spans.

    `relabel` gives the model's probabilities for some units of the page with their text
    replaced (in the order of their indices): how a long spam line with spans in it is judged
    once the spans are gone.
    """
    labels = list(labels)
    field_spans: dict[int, list[Span]] = {}
    for i, fs in fields.items():
        sure_spam = labels[i] == "spam" and proba[i, _SPAM] >= FIELD_RESCUE_MAX_SPAM
        if not sure_spam and any(f.label == "spam" for f in fs) and any(map(_real_field, fs)):
            labels[i] = "content"
            field_spans[i] = _field_cuts(units[i].text, fs)
    content = [i for i, lab in enumerate(labels) if lab == "content"]
    # A long spam line may be a real paragraph with a promo glued to it: scanned too, and
    # kept when what is left once the spans are cut is content. Not a separated line: its
    # fields were judged already, and a spam byline minus its keyword is still spam.
    rescue = [i for i, lab in enumerate(labels)
              if lab == "spam" and len(units[i].text) >= RESCUE_MIN_CHARS and i not in fields]
    found: dict[int, list[Span]] = {}
    scanned = content + rescue
    if detector is not None and scanned:
        spans = detector.find([units[i].text for i in scanned], text_scorer=text_scorer,
                              sources=[lab == "content" for lab in (labels[i] for i in scanned)])
        found = {i: s for i, s in zip(scanned, spans) if s}
        for i in _rescued(units, {i: found[i] for i in rescue if i in found}, relabel):
            labels[i] = "content"
        for i in rescue:
            if labels[i] != "content":
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
RESCUE_MIN_CONTENT = 0.5  # P(content) of what remains, with the rest of the page around it


def _rescued(units: Sequence[Unit], spans: Mapping[int, list[Span]],
             relabel: Callable[[Mapping[int, str]], np.ndarray] | None) -> list[int]:
    """The spam lines that are real text once their spans are cut out.

    Judged by the whole model with the page around the remainder, not by the text model
    alone: a promo paragraph stripped of its brand and domain still reads like a sentence,
    but it still fits nothing else on the page.
    """
    rests = {}
    for i, s in spans.items():
        rest = apply_spans(units[i].text, s)
        if len(rest) >= RESCUE_MIN_SHARE * len(units[i].text.strip()):
            rests[i] = rest
    if not rests or relabel is None:
        return []
    content = relabel(rests)[:, LABELS.index("content")]
    return [i for i, p in zip(sorted(rests), content.tolist()) if p >= RESCUE_MIN_CONTENT]


# A line the model is this sure is spam stays spam whatever its fields look like: an injected
# byline (`unrelated headline | keyword | date`) has a headline-shaped field that, judged alone,
# reads as content.
FIELD_RESCUE_MAX_SPAM = 0.9
_SPAM = LABELS.index("spam")
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
