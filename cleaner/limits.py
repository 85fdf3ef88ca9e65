"""Cheap checks that bound what one page can cost, run before the expensive stages.

Cleaning is CPU-bound Python and a thread cannot be interrupted, so a time limit is only real if
no single stage can run away. Each check here costs little next to the stage it protects and
refuses a page that would make that stage slow, with a `LimitError` the service turns into a
413 JSON error:

- units per page (`max_units`): the model and the repair pass are linear in units, ~0.25 ms
  each; text pages are counted with an early exit before segmenting, every page after;
- tags per HTML page (`max_html_tags`): segmenting is linear in elements, ~15 us each;
- nesting work (`max_html_nesting`): lexbor's tree builder walks the stack of open elements for
  block start tags (closing an implied <p>), so 100,000 nested <div> take ~30 s of C time, and
  segmenting reads every ancestor per block too. `nesting_work` estimates the sum of depths
  over block start tags in one linear pass and refuses absurd documents before they are parsed
  (100,000 nested inline elements cost lexbor little and pass);
- a per-request `Deadline`, checked between stages and between batch items, bounds the total:
  a request whose budget is spent stops before its next stage instead of running on.

The body size limit lives in the service (`MAX_CONTENT_LENGTH`), because it must act before the
body is even read.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass

from cleaner.errors import CodedError
from cleaner.segment import BLOCK_TAGS


class LimitError(CodedError):
    """A page or request over a configured limit; `code` names the limit."""


@dataclass(frozen=True, slots=True)
class Limits:
    """Per-page cost limits. Defaults leave 7-100x headroom over real pages while keeping each
    stage to seconds: of the 1,678 WCXB-dev and scrapinghub pages the largest has 2,641 units,
    21,646 tags, an estimated depth of 130 and nesting work of 0.22 million."""

    max_units: int = 20_000
    max_html_tags: int = 250_000
    max_html_nesting: int = 50_000_000


# Elements the parser closes on its own (or that never open): they add no lasting depth.
_NO_DEPTH = frozenset(
    """area base br col embed hr img input link meta source track wbr keygen param
    p li dt dd option optgroup tr td th thead tbody tfoot colgroup caption rb rt rp""".split()
)
# Start tags that cost a walk of the open elements: the tree builder closes an implied <p>
# (searching the stack) and the segmenter flushes a unit (reading its ancestors) at each.
_BLOCK = BLOCK_TAGS | {"center", "dir", "listing", "plaintext", "search", "xmp"}
# Elements whose content is raw text: a "<div>" inside a script is not a tag.
_RAW_TEXT = frozenset("script style textarea title xmp iframe noembed noframes".split())
# `[^<>]*` rather than `[^>]*`: a run of "<a<a<a" must not rescan to the end at every "<".
_TAG = re.compile(r"<(/?)([A-Za-z][A-Za-z0-9:_-]*)([^<>]*)>")
_RAW_END: dict[str, re.Pattern[str]] = {
    name: re.compile(rf"</{name}[\s/>]", re.IGNORECASE) for name in _RAW_TEXT
}


def nesting_work(html: str, stop_above: int | None = None) -> tuple[int, int]:
    """(max depth, sum of depths at block start tags) of `html`, estimated in one linear pass.

    An estimate on purpose: it follows tags, not the HTML tree-building rules, and errs towards
    more depth (misnested formatting elements count as nested). Stops early once the work
    exceeds `stop_above`.
    """
    depth = max_depth = work = 0
    pos = 0
    find = html.find
    match = _TAG.match
    while True:
        i = find("<", pos)
        if i < 0:
            break
        if html.startswith("!--", i + 1):
            j = find("-->", i + 4)
            if j < 0:
                break
            pos = j + 3
            continue
        m = match(html, i)
        if m is None:
            pos = i + 1
            continue
        pos = m.end()
        closing, name, rest = m.groups()
        name = name.lower()
        if closing:
            if name not in _NO_DEPTH and depth:
                depth -= 1
            continue
        if name in _BLOCK:
            work += depth
        if name in _RAW_TEXT:
            end = _RAW_END[name].search(html, pos)
            if end is None:
                break
            pos = end.start()
        elif name not in _NO_DEPTH and not rest.endswith("/"):
            depth += 1
            max_depth = max(max_depth, depth)
        if stop_above is not None and work > stop_above:
            break
    return max_depth, work


def check_html(html: str, limits: Limits) -> None:
    """Refuse HTML whose tag count or nesting would make parsing or segmenting slow."""
    tags = html.count("<")
    if tags > limits.max_html_tags:
        raise LimitError(
            "too_complex",
            f"the page has {tags} tags; at most {limits.max_html_tags} are accepted",
        )
    if tags * (tags + 1) // 2 <= limits.max_html_nesting:
        return  # even fully nested, these few tags cannot exceed the limit: skip the scan
    depth, work = nesting_work(html, stop_above=limits.max_html_nesting)
    if work > limits.max_html_nesting:
        raise LimitError(
            "too_complex",
            f"the page nests elements too deeply (over {depth} levels); "
            "it would take too long to parse",
        )


_NON_BLANK_LINE = re.compile(r"^[^\S\n]*\S", re.MULTILINE)


def check_text(text: str, limits: Limits) -> None:
    """Refuse a text page with more non-blank lines (units) than `max_units`, counting no
    further than the limit so that the check stays cheap on huge inputs."""
    if text.count("\n") < limits.max_units:
        return
    for n, _ in enumerate(_NON_BLANK_LINE.finditer(text), 1):
        if n > limits.max_units:
            raise LimitError(
                "too_many_units",
                f"the page has more than {limits.max_units} lines; send smaller pages",
            )


def check_units(n_units: int, limits: Limits) -> None:
    """Refuse a segmented page with more units than `max_units`, before the model runs."""
    if n_units > limits.max_units:
        raise LimitError(
            "too_many_units",
            f"the page has {n_units} units; at most {limits.max_units} are accepted",
        )


class Deadline:
    """A time budget, checked between stages: it cannot stop a stage, so it stops the next one.

    Used with the per-stage limits above, which keep any one stage to seconds, it bounds a
    request to its budget plus one stage.
    """

    __slots__ = ("seconds", "_end")

    def __init__(self, seconds: float | None) -> None:
        self.seconds = seconds
        self._end = None if not seconds else time.monotonic() + seconds

    def remaining(self) -> float | None:
        return None if self._end is None else self._end - time.monotonic()

    def check(self) -> None:
        if self._end is not None and time.monotonic() > self._end:
            raise LimitError(
                "deadline_exceeded",
                f"the request took longer than its {self.seconds:g} s limit; "
                "send smaller pages or smaller batches",
            )
