"""Hostile and random input, against the library and the HTTP API (in-process).

Every answer is a result or a clear error (a `CleanerError` from the library; a 2xx or 4xx JSON
answer from the service), within a bound. The bounds are generous on purpose: they catch hangs
and catastrophic backtracking (minutes to hours), not slowness, which benchmarks measure. The
live-server variant, where a worker must also survive, is tests/test_gunicorn.py.
"""

from __future__ import annotations

import codecs
import importlib
import json
import re
import time
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cleaner.decode import decode, sniff_kind
from cleaner.errors import CleanerError, DecodeError, EmptyPageError
from cleaner.limits import LimitError, Limits, check_html, check_text, nesting_work
from cleaner.segment import MAX_HIDDEN, MAX_HIDDEN_CHARS, segment
from service import create_app

BOUND_S = 60.0  # per input; a regression to quadratic behaviour takes far longer
FUZZ = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
ARTICLE = (
    "The city council approved the new budget on Tuesday after a long debate about the cost "
    "of repairing the old bridge, which engineers say has reached the end of its service life."
)


def timed(fn: Any, *args: Any, **kwargs: Any) -> Any:
    start = time.monotonic()
    try:
        return fn(*args, **kwargs)
    finally:
        elapsed = time.monotonic() - start
        assert elapsed < BOUND_S, f"{getattr(fn, '__name__', fn)} took {elapsed:.1f} s"


markup = st.lists(
    st.sampled_from(
        ["<p>", "</p>", "<div>", "</div>", "<b>", "<i>", "</b>", "<a href='x'>", "</a>", "<br>",
         "<script>", "</script>", "<!--", "-->", "<table><tr><td>", "<li>", "<h1>", "<", ">",
         "&amp;", "&#0;", "\x00", "\ufffd", "é", "日本", " ", "\n", "word", ARTICLE[:40],
         '<p style="display:none">', "<html><body>", "<meta charset=utf-16>", "\ud800"]
    ),
    max_size=60,
).map("".join)


# --- the library ---------------------------------------------------------------------------------


@FUZZ
@given(st.binary(max_size=3000), st.sampled_from([None, "utf-8", "utf-16", "latin-1",
                                                  "bogus", "utf-7", "base64", "", "utf-32"]))
def test_decode_returns_text_or_says_it_is_not(data: bytes, charset: str | None) -> None:
    try:
        text = decode(data, charset)
    except DecodeError:
        return
    assert isinstance(text, str)
    assert sniff_kind(text) in ("text", "html")


@FUZZ
@given(st.one_of(st.text(max_size=2000), markup), st.sampled_from(["text", "html"]))
def test_segment_never_fails(text: str, kind: str) -> None:
    page = segment(text, kind)
    assert all(u.text.strip() for u in page.units)


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.one_of(st.binary(max_size=2000), markup.map(lambda s: s.encode("utf-8", "replace"))))
def test_clean_bytes_gives_a_result_or_a_clear_error(real_cleaner: Any, data: bytes) -> None:
    try:
        result = timed(real_cleaner.clean_bytes, data)
    except (EmptyPageError, DecodeError):
        return
    assert result.lines and all(ln.label in ("content", "boilerplate", "spam")
                                for ln in result.lines)


def _encodings() -> list[tuple[str, bytes]]:
    text = f"Grüße aus Köln\n\n{ARTICLE}\n\n日本語のテキスト\n"
    return [
        ("utf-16-le with bom", codecs.BOM_UTF16_LE + text.encode("utf-16-le")),
        ("utf-16-be with bom", codecs.BOM_UTF16_BE + text.encode("utf-16-be")),
        ("utf-16-le without bom", text.encode("utf-16-le")),
        ("utf-16-be without bom", text.encode("utf-16-be")),
        ("utf-8 with bom", codecs.BOM_UTF8 + text.encode()),
        ("utf-32 with bom", text.encode("utf-32")),
    ]


@pytest.mark.parametrize(("name", "data"), _encodings(), ids=[e[0] for e in _encodings()])
def test_utf16_and_friends_decode(name: str, data: bytes) -> None:
    text = decode(data)
    assert ARTICLE in text and "Grüße" in text and "\ufeff" not in text


@pytest.mark.parametrize(
    "data",
    [b"caf\xc3 \xff\xfe\xfd " * 1000, (ARTICLE.encode() + b"\xc3\x28") * 200,
     b"\xed\xa0\x80" + ARTICLE.encode()],  # the last: an encoded lone surrogate
    ids=["junk", "mostly valid", "encoded surrogate"],
)
def test_invalid_utf8(real_cleaner: Any, data: bytes) -> None:
    try:
        result = real_cleaner.clean_bytes(data)
    except DecodeError:
        return
    assert result.lines


def test_nul_bytes(real_cleaner: Any) -> None:
    with pytest.raises(DecodeError):
        real_cleaner.clean_bytes(b"\x00" * 100_000)
    result = real_cleaner.clean_bytes((ARTICLE + "\x00\n").encode() * 3)
    assert len(result.lines) == 3


def test_a_10_mb_line(real_cleaner: Any) -> None:
    # Linear but not cheap: when the model keeps such a line as content, the repair pass
    # reads it character by character (~25-65 s here), hence the wider bound.
    line = "lorem ipsum dolor sit amet, consectetur adipiscing elit. " * 180_000
    assert len(line) > 10_000_000
    start = time.monotonic()
    assert len(real_cleaner.clean(text=line).lines) == 1
    assert time.monotonic() - start < 5 * BOUND_S


def test_a_10_mb_hyphenated_line(real_cleaner: Any) -> None:
    # "a-a-a-...": the host-name pattern of the features used to be quadratic on it.
    line = "a-" * 5_000_000 + "example.com"
    assert len(timed(real_cleaner.clean, text=line).lines) == 1


@pytest.mark.parametrize("tag", ["span", "b", "a", "font", "section"])
def test_html_nested_100000_levels(real_cleaner: Any, tag: str) -> None:
    html = f"<{tag}>" * 100_000 + ARTICLE + f"</{tag}>" * 100_000
    if tag == "section":
        # Block elements: lexbor's tree builder is quadratic in their depth (~30 s here),
        # which is what the nesting limit refuses in a few milliseconds.
        with pytest.raises(LimitError) as info:
            timed(check_html, html, Limits())
        assert info.value.code == "too_complex"
        return
    check_html(html, Limits())  # inline nesting is cheap for lexbor: not refused
    result = timed(real_cleaner.clean, html=html)
    assert [ln.text for ln in result.lines] == [ARTICLE]


@pytest.mark.parametrize("hidden", [
    ("<div hidden>" + "word " * 200) * 5000,  # unclosed: each holds all the ones after it
    "<span hidden>a</span>" * 200_000,
    "<div style='display:none'>" + "x" * 10_000_000 + "</div>",
])
def test_hidden_elements_nested_numerous_or_huge(real_cleaner: Any, hidden: str) -> None:
    result = timed(real_cleaner.clean, html=f"<p>{ARTICLE}</p>{hidden}")
    assert [ln.text for ln in result.lines] == [ARTICLE]
    assert 1 <= len(result.hidden) <= MAX_HIDDEN
    assert max(map(len, result.hidden)) <= MAX_HIDDEN_CHARS


def test_unclosed_and_misnested_tags(real_cleaner: Any) -> None:
    html = "<p><b>bold <i>both</b> italic</p><div><span>open <a href=x>link " * 200
    result = timed(real_cleaner.clean, html=html)
    assert result.lines
    # Repeated enough, unclosed elements nest without end: that is refused, not parsed.
    with pytest.raises(LimitError):
        timed(check_html, "<p><div><span>hello <b>world <i>again " * 20_000, Limits())


def test_huge_attribute_values(real_cleaner: Any) -> None:
    for html in (
        f'<p class="{"a " * 2_000_000}">{ARTICLE}</p>',
        f'<p style="{"display " * 500_000}">{ARTICLE}</p>',
        f'<p title="{"x" * 3_000_000}">{ARTICLE}',
        f'<p title="{ARTICLE}',  # never closed: the rest of the page is the attribute
    ):
        try:
            timed(real_cleaner.clean, html=html)
        except EmptyPageError:
            pass


def test_nesting_work_is_linear_and_skips_raw_text() -> None:
    depth, work = timed(nesting_work, "<div>" * 1_000_000)
    assert depth == 1_000_000
    # Tags inside scripts and comments are not tags; void and self-closing ones add no depth.
    html = "<script>" + "<div>" * 1000 + "</script><!--" + "<div>" * 1000 + "-->" + "<br>" * 99
    assert nesting_work(html)[0] == 0
    assert nesting_work("<ul>" + "<li>item" * 5000 + "</ul>")[0] == 1
    assert timed(nesting_work, "<a" * 2_000_000) == (0, 0)


def test_text_unit_check_counts_only_to_the_limit() -> None:
    limits = Limits(max_units=1000)
    check_text("\n" * 5_000_000 + "x\n" * 1000, limits)
    with pytest.raises(LimitError):
        timed(check_text, "x\n" * 3_000_000, limits)


# --- regular expressions: the slowest input found for each ---------------------------------------

# Inputs of 200,000+ characters: linear matching takes milliseconds, quadratic minutes.
N = 100_000
WORST: dict[str, str] = {
    "cleaner.features._URL": "a-" * N + ".",
    "cleaner.features._MIXED_TOKEN": "1'" * N,
    "cleaner.features._DATE": "1/" * N,
    "cleaner.features._SEPARATOR": " |" * N,
    "cleaner.features._SENTENCE_END": "." + " " * (2 * N) + "x",
    "cleaner.features._SENTENCE": "." * (2 * N),
    "cleaner.features._WORD": "._" * N,
    "cleaner.features._PUNCT": "'/" * N,
    "cleaner.repair._VOCAB_TOKEN": "a" + "'" * (2 * N),
    "cleaner.repair._SEAM": "<http" * (N // 2),
    "cleaner.repair._CODE_MARK": ">:" * N,
    "cleaner.repair._WORD": "1 " * N,
    "cleaner.segment._HIDDEN_STYLE": "display" + " " * (2 * N),
    "cleaner.segment._TAG": "<a" * N,
    "cleaner.spans._SENTENCE_END": "." + "\"" * (2 * N),
    "cleaner.fields.FIELD_SEPARATOR": " " * (2 * N) + "x",
    "cleaner.fields.DATE": "1." * N,
    "cleaner.result._DATE": "1." * N,
    "cleaner.segment._WS": "é\n" * N,
    "cleaner.decode._TAG": "<p " * N,
    "cleaner.decode._JUNK": "_ " * N,
    "cleaner.cleaning._DATE": "1." * N,
    "cleaner.limits._TAG": "<a" + " " * (2 * N),
    "cleaner.limits._NON_BLANK_LINE": " \n" * N,
    "cleaner.telemetry._REQUEST_ID": "a" * (2 * N),
}
# These two are quadratic but only ever see the first 4 KB of a page (META_SCAN_BYTES,
# SNIFF_CHARS); their callers are timed on huge adversarial pages instead.
BOUNDED_BY_CALLER = {"cleaner.decode._META_CHARSET", "cleaner.decode._DOC_MARKERS"}
MODULES = ("cleaner.decode", "cleaner.segment", "cleaner.features", "cleaner.repair",
           "cleaner.cleaning", "cleaner.limits", "cleaner.telemetry", "cleaner.spans",
           "cleaner.fields", "cleaner.result", "cleaner.textstats")
GENERIC = [unit * (2 * N // len(unit)) for unit in
           ("a-", "-_", "1'", "1/", "a ", ". ", "<p ", "</", "<a", " \n", "é1", "www.", "::")]


def _patterns() -> dict[str, re.Pattern[Any]]:
    found: dict[str, re.Pattern[Any]] = {}
    for name in MODULES:
        for attr, value in vars(importlib.import_module(name)).items():
            if isinstance(value, re.Pattern):
                found[f"{name}.{attr}"] = value
            elif isinstance(value, dict):
                for key, item in value.items():
                    if isinstance(item, re.Pattern):
                        found[f"{name}.{attr}[{key}]"] = item
    return found


PATTERNS = _patterns()


@pytest.mark.parametrize("name", sorted(set(PATTERNS) - BOUNDED_BY_CALLER))
def test_no_regex_backtracks_catastrophically(name: str) -> None:
    pattern = PATTERNS[name]
    # Its own worst case when we know one, else a set of generic adversarial inputs (a new
    # pattern is covered by those until it gets an entry of its own).
    inputs = [WORST[name]] if name in WORST else GENERIC
    for text in inputs:
        data: Any = text.encode() if isinstance(pattern.pattern, bytes) else text
        start = time.monotonic()
        pattern.search(data + (data[:0] + ("!" if isinstance(data, str) else b"!")))
        for _ in pattern.finditer(data):
            pass
        assert time.monotonic() - start < 5.0, f"{name} on {text[:12]!r}..."


def test_prefix_scanners_are_bounded_by_their_callers() -> None:
    assert BOUNDED_BY_CALLER <= set(PATTERNS)
    for page in (b"<meta " * 1_000_000, b"<meta charset=" + b" " * 5_000_000,
                 b"<?xml" * 1_000_000):
        timed(decode, page)
        timed(sniff_kind, page.decode())


@pytest.mark.parametrize("unit", ["a-", "-_", " ", ". ", "a'", "1/", "<p ", "display ", "www.",
                                  "é1", "a1b2", "  ,", "\t \t"])
def test_adversarial_lines_through_the_whole_pipeline(real_cleaner: Any, unit: str) -> None:
    # Also reaches the patterns compiled inline (repair's re.sub calls).
    line = ARTICLE + " " + unit * (200_000 // len(unit)) + " end."
    timed(real_cleaner.clean, text=f"{ARTICLE}\n{line}\n{ARTICLE}")


# --- the HTTP API --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def client(real_cleaner: Any) -> Any:
    app = create_app({"CLEANER": real_cleaner, "API_KEY": None, "WARMUP": False,
                      "LOG_JSON": False})
    return app.test_client()


CONTENT_TYPES = [
    "text/plain", "text/html", "application/json", "text/plain; charset=utf-16",
    "text/html; charset=bogus", "text/plain; charset=utf-7", "application/xhtml+xml",
    "image/png", "application/octet-stream", "multipart/form-data; boundary=x",
    "application/x-www-form-urlencoded", "", "text/plain; charset=", "application/json; x=y",
]


def assert_json_answer(response: Any) -> None:
    assert 200 <= response.status_code < 500, response.get_data()[:300]
    if response.status_code == 200 and response.mimetype == "text/plain":
        return  # ?format=text
    assert response.mimetype == "application/json"
    body = json.loads(response.get_data())
    if response.status_code >= 400:
        assert set(body["error"]) == {"code", "message"}


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    body=st.one_of(st.binary(max_size=2000), markup.map(lambda s: s.encode("utf-8", "replace"))),
    content_type=st.sampled_from(CONTENT_TYPES),
    path=st.sampled_from(["/v1/clean", "/v1/clean/batch", "/v1/clean?format=text",
                          "/v1/clean?repair=no", "/v1/clean?format=%00", "/v1/model"]),
)
def test_any_body_any_type_gets_a_json_answer(
    client: Any, body: bytes, content_type: str, path: str
) -> None:
    start = time.monotonic()
    response = client.post(path, data=body, headers={"Content-Type": content_type})
    assert time.monotonic() - start < BOUND_S
    assert_json_answer(response)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=50) | markup,
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.sampled_from(["text", "html", "id", "options", "repair", "x"]),
                      children, max_size=4),
    max_leaves=12,
)


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(value=json_values, path=st.sampled_from(["/v1/clean", "/v1/clean/batch"]))
def test_any_json_gets_a_json_answer(client: Any, value: Any, path: str) -> None:
    data = json.dumps(value, allow_nan=True).encode()
    assert_json_answer(client.post(path, data=data, content_type="application/json"))


@pytest.mark.parametrize(
    "body",
    [b'{"text": "a\\ud800b\\n' + ARTICLE.encode() + b'"}', b'{"html": "<p>\\udfff</p>"}',
     b'[{"text": "\\ud83d"}]'],
)
def test_lone_surrogates_in_json(client: Any, body: bytes) -> None:
    path = "/v1/clean/batch" if body.startswith(b"[") else "/v1/clean"
    response = client.post(path, data=body, content_type="application/json")
    assert response.status_code == 200
    assert "\ud800" not in response.get_data(as_text=True)


def test_ten_mb_line_over_the_default_body_limit_is_413(client: Any) -> None:
    response = client.post("/v1/clean", data=b"x" * 10_000_001, content_type="text/plain")
    assert response.status_code == 413
    assert json.loads(response.get_data())["error"]["code"] == "too_large"


def test_library_errors_are_cleaner_errors() -> None:
    # What the service maps to 4xx: every failure a page can cause is a CleanerError.
    for exc in (EmptyPageError(), DecodeError(), LimitError("too_complex", "x")):
        assert isinstance(exc, CleanerError)
