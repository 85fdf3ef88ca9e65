"""Tests of HTML-level spam injection (training/inject_html.py).

The peers benchmark scores every extractor by whether the injected strings survive in its
output, so the injector must (1) put every recorded string into the page's visible text, (2) keep
the page a parseable HTML page whose real text is untouched apart from the injections, (3) place
spam where it is hard to tell from the article (headline, between paragraphs), and (4) be
reproducible under a seed and draw only held-out vocabulary when asked to.
"""

from __future__ import annotations

import gzip
import json
import random
import sys
from pathlib import Path

import pytest
from selectolax.lexbor import LexborHTMLParser

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from cleaner.decode import decode  # noqa: E402
from cleaner.segment import segment_html  # noqa: E402
from tests.conftest import need_shared  # noqa: E402
from training.inject import KINDS, Vocabulary, load_vocabulary  # noqa: E402
from training.inject_html import (  # noqa: E402
    OWN_UNIT_KINDS,
    SPLICED_KINDS,
    HtmlInjection,
    find_article,
    gold_content_test,
    inject_html,
    inject_html_pages,
    node_text,
)

PARAGRAPHS = [
    "China's historic feat of retrieving the first samples from the far side of the moon has "
    "ignited discussions about the approach of the United States to space collaboration.",
    "The Chang'e 6 probe returned to Earth on Tuesday, bringing back rock and soil samples from "
    "the lunar far side, which always faces away from the planet.",
    "The probe landed on the moon on June 2 and lifted off two days later to start its journey "
    "back to Earth. The far side of the moon presents unique challenges.",
    "Scientists around the world hope to study the samples, which could help explain how the "
    "moon formed and why its two sides look so different from each other.",
]
PAGE = f"""<!DOCTYPE html>
<html lang="en"><head><title>Chang'e 6 mission | World News</title>
<style>p {{ color: black; }}</style><script>var ads = "<p>not text</p>";</script></head>
<body>
<nav class="menu"><a href="/">Home</a> | <a href="/world">World</a> | <a href="/tech">Tech</a></nav>
<article>
<h1>Chang'e 6 mission sparks hopes for <em>Sino-US</em> space collaboration</h1>
<p class="byline">By Staff Writer</p>
{''.join(f'<p class="body">{p}</p>' for p in PARAGRAPHS)}
</article>
<footer><p>Copyright 1995 - 2024 World News. All rights reserved. Terms and privacy.</p></footer>
</body></html>"""


@pytest.fixture(scope="module")
def vocab_test() -> Vocabulary:
    return load_vocabulary(holdout="test")


@pytest.fixture(scope="module")
def vocab_train() -> Vocabulary:
    return load_vocabulary(holdout="train")


def visible(html: str) -> list[str]:
    """The page's visible text blocks, as cleaner (and a text-dump scraper) sees them."""
    return [u.text for u in segment_html(html).units]


def restore(html: str, injections: list[HtmlInjection]) -> list[str]:
    """The visible blocks of an injected page with every injection taken out again."""
    blocks = visible(html)
    for inj in injections:
        if inj.own_unit:
            assert inj.text in blocks, (inj.kind, inj.text, blocks)
            blocks.remove(inj.text)
    text = "\n".join(blocks)
    for inj in injections:
        if not inj.own_unit:
            assert inj.text in text, (inj.kind, inj.text)
            text = text.replace(inj.text, "", 1)
    return text.split("\n")


def check_page(original: str, out, n_expected: int | None = None) -> None:
    """Every invariant of one injected page."""
    tree = LexborHTMLParser(out.html)
    assert tree.body is not None and segment_html(out.html).units
    if n_expected is not None:
        assert len(out.injections) == n_expected
    vis = "\n".join(visible(out.html))
    for inj in out.injections:
        assert inj.kind in KINDS
        assert inj.own_unit == (inj.kind in OWN_UNIT_KINDS)
        assert inj.text.strip() and inj.parts and inj.families
        for part in inj.parts:
            assert part in vis, (inj.kind, part)
        if not inj.own_unit:
            assert inj.original is not None and inj.block is not None
            assert " ".join(inj.block.replace(inj.text, "", 1).split()) == inj.original
    assert restore(out.html, out.injections) == visible(original)


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_visible_and_reversible(kind: str, vocab_test: Vocabulary) -> None:
    for seed in range(8):
        out = inject_html(PAGE, random.Random(seed), vocab_test, kinds=[kind], n_injections=1)
        check_page(PAGE, out, n_expected=1)
        assert out.injections[0].kind == kind


def test_many_injections_keep_the_page_and_its_text(vocab_test: Vocabulary) -> None:
    for seed in range(20):
        out = inject_html(PAGE, random.Random(seed), vocab_test, n_injections=6)
        check_page(PAGE, out, n_expected=6)
        # Scripts and styles are left alone; the head is still a head.
        assert 'var ads = "<p>not text</p>";' in out.html
        assert LexborHTMLParser(out.html).css_first("title").text() == (
            "Chang'e 6 mission | World News")


def test_spam_goes_into_the_article(vocab_test: Vocabulary) -> None:
    """Splices hit the headline or article paragraphs, never the menu, byline or footer, and
    inserted elements sit inside the article."""
    for seed in range(30):
        out = inject_html(PAGE, random.Random(seed), vocab_test, n_injections=3)
        tree = LexborHTMLParser(out.html)
        assert node_text(tree.css_first("nav")) == "Home | World | Tech"
        assert node_text(tree.css_first("footer")).startswith("Copyright 1995")
        assert node_text(tree.css_first("p.byline")) == "By Staff Writer"
        article = node_text(tree.css_first("article"))
        for inj in out.injections:
            assert all(p in article for p in inj.parts)
            if not inj.own_unit:
                assert inj.original in {node_text(LexborHTMLParser(PAGE).css_first("h1")),
                                        *PARAGRAPHS}


def test_headline_splice_and_byline_under_it(vocab_test: Vocabulary) -> None:
    heads = 0
    for seed in range(20):
        out = inject_html(PAGE, random.Random(seed), vocab_test, kinds=["splice_in_word"],
                          n_injections=1)
        inj = out.injections[0]
        h1 = node_text(LexborHTMLParser(out.html).css_first("h1"))
        if inj.variant == "headline":
            heads += 1
            assert inj.text in h1 and h1.replace(inj.text, "", 1) == inj.original
    assert heads >= 12  # the headline is the usual target, as on the seed page

    out = inject_html(PAGE, random.Random(3), vocab_test, kinds=["byline_replace"],
                      n_injections=1)
    h1 = LexborHTMLParser(out.html).css_first("h1")
    assert node_text(h1.next if h1.next.is_element_node else h1.next.next) == (
        out.injections[0].text)


def test_promo_paragraph_between_paragraphs_and_link_farm_of_anchors(
        vocab_test: Vocabulary) -> None:
    for seed in range(10):
        out = inject_html(PAGE, random.Random(seed), vocab_test, kinds=["promo_paragraph"],
                          n_injections=1)
        tree = LexborHTMLParser(out.html)
        texts = [node_text(p) for p in tree.css("article p.body")]
        k = texts.index(out.injections[0].text)  # a <p> with the article's class...
        assert 0 < k < len(texts) - 1  # ...between two article paragraphs
        assert texts[k - 1] in PARAGRAPHS and texts[k + 1] in PARAGRAPHS

        out = inject_html(PAGE, random.Random(seed), vocab_test, kinds=["link_farm"],
                          n_injections=1)
        inj = out.injections[0]
        farm = next(n for n in LexborHTMLParser(out.html).css("article div, article p")
                    if node_text(n) == inj.text)
        anchors = [node_text(a) for a in farm.css("a")]
        assert len(anchors) >= 4 and set(inj.parts) == set(anchors)
        assert all(a.attributes["href"].startswith("https://") for a in farm.css("a"))


def test_deterministic_under_a_seed(vocab_test: Vocabulary) -> None:
    a = inject_html(PAGE, random.Random(7), vocab_test, n_injections=4)
    b = inject_html(PAGE, random.Random(7), vocab_test, n_injections=4)
    c = inject_html(PAGE, random.Random(8), vocab_test, n_injections=4)
    assert a.html == b.html and a.injections == b.injections
    assert (c.html, c.injections) != (a.html, a.injections)
    pages = [PAGE, PAGE.replace("Chang'e 6", "Tianwen 2")] * 3
    run1 = [(p.html, p.injections) for p in inject_html_pages(pages, 5, vocab_test)]
    run2 = [(p.html, p.injections) for p in inject_html_pages(pages, 5, vocab_test)]
    assert run1 == run2


def test_test_holdout_draws_no_training_family(vocab_test: Vocabulary,
                                               vocab_train: Vocabulary) -> None:
    train_only = set(vocab_train.families) - set(vocab_test.families)
    seen: set[str] = set()
    for seed in range(60):
        out = inject_html(PAGE, random.Random(seed), vocab_test, n_injections=4)
        for inj in out.injections:
            seen.update(inj.families)
    assert seen and not seen & train_only, sorted(seen & train_only)


def test_content_test_picks_the_paragraphs(vocab_test: Vocabulary) -> None:
    """With a gold text, only the paragraphs that are in it receive spam."""
    gold = "\n\n".join(PARAGRAPHS[1:3])
    art = find_article(LexborHTMLParser(PAGE), gold_content_test(gold))
    assert [node_text(p) for p in art.paragraphs] == PARAGRAPHS[1:3]
    assert art.headline is not None and art.headline.tag == "h1"
    for seed in range(20):
        out = inject_html(PAGE, random.Random(seed), vocab_test, n_injections=2,
                          kinds=["splice_between_words", "promo_sentence_append"],
                          is_content=gold_content_test(gold))
        assert {i.original for i in out.injections} <= set(PARAGRAPHS[1:3])


def test_page_without_article_is_left_alone(vocab_test: Vocabulary) -> None:
    html = "<html><body><nav><a href='/'>Home</a> <a href='/a'>About</a></nav></body></html>"
    out = inject_html(html, random.Random(1), vocab_test)
    assert out.html == html and out.injections == []


def test_rejects_unknown_kind(vocab_test: Vocabulary) -> None:
    with pytest.raises(ValueError, match="unknown"):
        inject_html(PAGE, random.Random(1), vocab_test, kinds=["hidden_div"])


def test_pages_rate_and_reservoir(vocab_test: Vocabulary) -> None:
    """Some pages pass through untouched at rate < 1; headlines of earlier pages come back as
    unrelated headlines of later ones."""
    titles = [f"Local council approves new budget for schools number {k}" for k in range(40)]
    pages = [PAGE.replace("Chang'e 6 mission sparks hopes for", t) for t in titles]
    outs = list(inject_html_pages(pages, 3, vocab_test, rate=0.5))
    assert any(not o.injections and o.html == p for o, p in zip(outs, pages, strict=True))
    assert any(o.injections for o in outs)
    outs = list(inject_html_pages(pages, 3, vocab_test, kinds=["foreign_headline",
                                                              "byline_replace"]))
    fams = {f for o in outs for i in o.injections for f in i.families}
    assert "reservoir" in fams


def test_real_pages(vocab_test: Vocabulary) -> None:
    """Messy real pages (WCXB test split) keep every invariant."""
    split = need_shared("data", "wcxb", "test")
    items = []
    for gt in sorted((split / "ground-truth").glob("*.json"))[:25]:
        html = decode(gzip.decompress((split / "html" / f"{gt.stem}.html.gz").read_bytes()))
        gold = json.loads(gt.read_text("utf-8"))["ground_truth"]["main_content"] or ""
        items.append((html, gold_content_test(gold)))
    outs = list(inject_html_pages(items, 11, vocab_test))
    kinds = set()
    for (html, _), out in zip(items, outs, strict=True):
        check_page(html, out)
        kinds.update(i.kind for i in out.injections)
    assert kinds >= set(SPLICED_KINDS) | {"promo_paragraph", "link_farm"}
