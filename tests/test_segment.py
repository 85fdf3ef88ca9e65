"""Segmenting: unit indexes users see in the audit, and what HTML markup is kept or dropped."""

from __future__ import annotations

from cleaner.segment import MAX_HIDDEN, MAX_HIDDEN_CHARS, segment, segment_html, segment_text


def test_text_units_are_non_blank_lines_numbered_by_position() -> None:
    page = segment_text("Title\r\n\r\nFirst paragraph.\n  \nSecond\r\nThird\n")
    assert [(u.index, u.text) for u in page.units] == [
        (0, "Title"), (2, "First paragraph."), (4, "Second"), (5, "Third")
    ]
    assert [u.paragraph_break for u in page.units] == [True, True, True, False]
    assert page.kind == "text"


def test_html_blocks_and_inline_text() -> None:
    html = """<html><head><title>The T</title><style>p{}</style></head><body>
      <nav><ul><li><a href="/">Home</a></li><li><a href="/a">About</a></li></ul></nav>
      <article><h1>Big <em>news</em> today</h1><p>Some <b>bold</b> text and
      a <a href="#">link</a>.</p><script>var x = "<p>no</p>";</script>
      <div hidden>secret</div><p style="display: none">invisible</p>
      <template><p>tpl</p></template><p>Line one<br>line two</p></article>
      <footer class="site-footer">© 2024 Site</footer></body></html>"""
    page = segment_html(html)
    texts = [u.text for u in page.units]
    assert texts == [
        "Home", "About", "Big news today", "Some bold text and a link.", "Line one", "line two",
        "© 2024 Site",
    ]
    assert page.html_title == "The T"
    by_text = {u.text: u for u in page.units}
    assert by_text["Home"].in_list and by_text["Home"].link_density == 1.0
    assert by_text["Big news today"].heading == 1 and by_text["Big news today"].tag == "h1"
    assert 0 < by_text["Some bold text and a link."].link_density < 0.3
    assert "footer" in by_text["© 2024 Site"].attrs
    assert [u.index for u in page.units] == list(range(len(texts)))
    assert page.hidden == ["secret", "invisible"]  # dropped, but not without a trace


def test_hidden_text_is_kept_once_and_bounded() -> None:
    farm = "".join(f"<a href='https://x{i}.bet'>casino {i}</a> " for i in range(3))
    html = (f"<p>Real text.</p><div style='display:none'>{farm}<span hidden>inner</span></div>"
            "<p aria-hidden='true'></p>")
    page = segment_html(html)
    assert [u.text for u in page.units] == ["Real text."]
    assert page.hidden == ["casino 0 casino 1 casino 2 inner"]  # the inner one not again
    many = "".join(f"<div hidden>{i} {'spam ' * 1000}</div>" for i in range(MAX_HIDDEN + 50))
    hidden = segment_html("<p>ok</p>" + many).hidden
    assert len(hidden) == MAX_HIDDEN and max(map(len, hidden)) == MAX_HIDDEN_CHARS
    assert segment_text("a\nb").hidden == []


def test_deeply_nested_html_does_not_exhaust_the_stack() -> None:
    html = "<div>" * 20000 + "deep text" + "</div>" * 20000
    page = segment_html(html)
    assert [u.text for u in page.units] == ["deep text"]


def test_broken_html_still_yields_text() -> None:
    page = segment_html("<p>unclosed <b>bold <i>italic<p>next <td>cell")
    texts = [u.text for u in page.units]
    assert texts[0] == "unclosed bold italic" and texts[1].startswith("next")


def test_segment_dispatch() -> None:
    assert segment("a\nb", "text").kind == "text"
    assert segment("<p>a</p>", "html").kind == "html"
