"""The page cleaner was specified from: every label, the repaired headline, the removed span,
the published date and the article, exactly."""

from __future__ import annotations

import json

from conftest import need_shared

from cleaner import clean


def test_example_page_exactly() -> None:
    seed = need_shared("seed")
    expected = json.loads((seed / "expected.json").read_text("utf-8"))
    result = clean(text=(seed / "page.txt").read_text("utf-8"))

    got = {ln.index: ln for ln in result.lines}
    assert sorted(got) == [e["i"] for e in expected["lines"]]
    for e in expected["lines"]:
        line = got[e["i"]]
        assert line.text == e["text"]
        assert line.label == e["label"], (e["i"], line.probabilities)
        if e["label"] == "content":
            assert line.clean_text == e.get("clean_text", e["text"])
            assert [(s.start, s.end, s.text) for s in line.spans] == [
                (s["start"], s["end"], s["text"]) for s in e.get("spans", [])
            ]
        else:
            assert line.clean_text is None
    assert result.text == expected["clean_text"]
    assert result.text + "\n" == (seed / "expected.txt").read_text("utf-8")
    assert result.published == expected["published"]
    assert result.title == "Chang'e 6 mission sparks hopes for Sino-US space collaboration"
