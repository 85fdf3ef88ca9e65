"""The Python API users call: `clean`, `Cleaner`, `Result`."""

from __future__ import annotations

import json
import threading

import pytest

from cleaner import Cleaner, Result, clean
from cleaner.errors import EmptyPageError

PARAGRAPHS = [
    "The council approved the new budget on Tuesday after a long debate about the cost of "
    "repairing the old bridge, which engineers say has reached the end of its service life.",
    "Work on the bridge will begin in the spring and is expected to take two years, during "
    "which traffic will be diverted through the town centre, the council said.",
    "Residents who spoke at the meeting welcomed the decision but asked for more buses while "
    "the bridge is closed, and the council promised to review the timetable.",
]
TEXT_PAGE = "\n\n".join(["Home | News | Sport | Weather", *PARAGRAPHS, "© 2024 Town Post"])
HTML_PAGE = (
    "<html><head><title>Bridge budget</title></head><body><nav><ul>"
    + "".join(f'<li><a href="/{w}">{w}</a></li>' for w in ("Home", "News", "Sport", "Weather"))
    + "</ul></nav><article><h1>Council approves bridge budget</h1>"
    + "".join(f"<p>{p}</p>" for p in PARAGRAPHS)
    + '</article><footer class="footer"><p>© 2024 Town Post. All rights reserved.</p>'
    + "</footer></body></html>"
)


def test_clean_text_keeps_the_article_and_audits_every_line() -> None:
    result = clean(text=TEXT_PAGE)
    assert isinstance(result, Result)
    for p in PARAGRAPHS:
        assert p in result.text
    assert "Home | News" not in result.text
    assert [ln.index for ln in result.lines] == [0, 2, 4, 6, 8]
    dropped = [ln for ln in result.lines if ln.clean_text is None]
    assert all(ln.label in ("boilerplate", "spam") for ln in dropped)
    assert result.text.count("\n\n") == sum(1 for ln in result.lines if ln.clean_text) - 1


def test_clean_html() -> None:
    result = clean(html=HTML_PAGE)
    assert result.kind == "html"
    for p in PARAGRAPHS:
        assert p in result.text
    assert "Weather" not in result.text.split("\n\n")
    assert result.title == "Council approves bridge budget"


def test_hidden_spam_is_not_article_text_but_stays_in_the_audit() -> None:
    farm = "".join(f'<a href="https://slot{i}.example">slot gacor {i}</a> ' for i in range(5))
    html = HTML_PAGE.replace("</body>", f'<div style="display:none">{farm}</div></body>')
    result = clean(html=html)
    assert "slot gacor" not in result.text
    assert result.hidden == [" ".join(f"slot gacor {i}" for i in range(5))]
    assert result.to_dict()["hidden"] == result.hidden
    assert clean(text=TEXT_PAGE).hidden == []


def test_to_dict_is_json_ready() -> None:
    d = clean(text=TEXT_PAGE).to_dict()
    again = json.loads(json.dumps(d))
    assert set(again) >= {"text", "title", "published", "lines", "spans", "model_version",
                          "hidden"}
    line = again["lines"][0]
    assert set(line) >= {"index", "label", "probabilities", "text", "clean_text", "spans"}


def test_repair_false_marks_spans_without_removing_them() -> None:
    # "council" occurs three more times on the page: the fused word is the article's own.
    page = TEXT_PAGE.replace("The council approved", "The counc7x7 casino bonusil approved")
    page = page.replace("spoke at the meeting", "spoke at the council meeting")
    repaired = clean(text=page)
    marked = clean(text=page, repair=False)
    line = next(ln for ln in marked.lines if "7x7" in ln.text)
    assert line.clean_text == line.text
    fixed = next(ln for ln in repaired.lines if "7x7" in ln.text)
    assert [s.text for s in fixed.spans] == [s.text for s in line.spans]


def test_bad_arguments_and_empty_pages() -> None:
    with pytest.raises(ValueError):
        clean()
    with pytest.raises(ValueError):
        clean(text="a", html="<p>a</p>")
    with pytest.raises(EmptyPageError):
        clean(text=" \n\n \t")
    with pytest.raises(EmptyPageError):
        clean(html="<html><body><script>x</script></body></html>")


def test_one_cleaner_is_safe_across_threads() -> None:
    cleaner = Cleaner.load()
    expected = cleaner.clean(text=TEXT_PAGE).to_dict()
    results: list[dict] = []

    def work() -> None:
        for _ in range(5):
            results.append(cleaner.clean(text=TEXT_PAGE).to_dict())

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 20 and all(r == expected for r in results)
