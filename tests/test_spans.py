"""The learned span detector on pages it has never seen: spliced spam is cut out and the line
repaired, legitimate odd-looking text is left alone. Runs the shipped model."""

from __future__ import annotations

from pathlib import Path

import pytest

from cleaner import clean

ARTICLE = [
    "Kowloon Harbour ferries resume service after the storm",
    "The Kowloon ferries stopped on Monday when the storm reached the harbour and the port "
    "authority closed the piers to all passenger traffic for two days.",
    "Operators said the Kowloon routes would run a reduced timetable until Friday, when "
    "engineers expect to finish checking the piers and the ferries themselves.",
    "Passengers crowded the Kowloon piers as the first boats left on Wednesday morning, and "
    "several said they had waited since dawn to cross the harbour.",
    "The port authority said the storm was the strongest to reach the harbour in ten years, "
    "and that the ferries would return to their normal timetable next week.",
]
NAV = "Home | News | Hong Kong | Business"
FOOTER = "© 2024 Harbour Daily. All rights reserved."


def page(lines: list[str]) -> str:
    return "\n\n".join([NAV, *lines, FOOTER])


def line_of(result, text: str):  # noqa: ANN001, ANN201
    return next(ln for ln in result.lines if ln.text == text)


def test_unseen_brand_spliced_inside_a_headline_word_is_excised() -> None:
    spliced = "Kowlzq77 jackpot spinsoon Harbour ferries resume service after the storm"
    result = clean(text=page([spliced, *ARTICLE[1:]]))
    line = line_of(result, spliced)
    assert line.label == "content"
    assert line.clean_text == ARTICLE[0]
    assert [s.text for s in line.spans] == ["zq77 jackpot spins"]
    assert result.title == ARTICLE[0]


PROMO = " Claim 200 free spins at luckyz88.vip, instant withdrawal!"


def test_a_paragraph_with_a_promo_sentence_glued_to_it_is_kept() -> None:
    result = clean(text=page([*ARTICLE[:2], ARTICLE[2] + PROMO, *ARTICLE[3:]]))
    assert line_of(result, ARTICLE[2] + PROMO).label == "content"
    for p in ARTICLE[1:]:
        assert p in result.text


def test_a_promo_sentence_glued_to_a_paragraph_is_cut() -> None:
    result = clean(text=page([*ARTICLE[:2], ARTICLE[2] + PROMO, *ARTICLE[3:]]))
    assert line_of(result, ARTICLE[2] + PROMO).clean_text == ARTICLE[2]
    assert "luckyz88" not in result.text


def test_repair_off_marks_spans_and_keeps_the_text() -> None:
    spliced = "Kowlzq77 jackpot spinsoon Harbour ferries resume service after the storm"
    result = clean(text=page([spliced, *ARTICLE[1:]]), repair=False)
    line = line_of(result, spliced)
    assert line.spans and line.clean_text == spliced


def test_legitimate_mixed_script_and_codes_are_not_altered() -> None:
    clean_lines = [
        "The RTX 4090 and the H5N1 outbreak both made headlines in the COVID-19 era, the "
        "Kowloon ferry operators noted in their statement to passengers.",
        "Chief executive John Lee (李家超) visited the Kowloon piers on Thursday and thanked "
        "the harbour staff for their work during the storm.",
        "Passengers can check the timetable with the MTR app or call 2525 1111, the operator "
        "said, adding that ferries to Lamma and Cheung Chau run every 30 minutes.",
    ]
    result = clean(text=page([*ARTICLE, *clean_lines]))
    for text in clean_lines:
        line = line_of(result, text)
        assert line.label == "content" and line.spans == [] and line.clean_text == text


GERMAN = [
    "Hafenfähren fahren nach dem Sturm wieder",
    "Die Fähren im Hafen von Kowloon standen am Montag still, als der Sturm die Küste "
    "erreichte und die Hafenbehörde alle Anleger für zwei Tage schloss.",
    "Die Betreiber teilten mit, dass die Linien bis Freitag nach einem verkürzten Fahrplan "
    "fahren, bis die Techniker die Anleger und die Schiffe geprüft haben.",
    "Am Mittwochmorgen drängten sich die Fahrgäste an den Anlegern, als die ersten Boote "
    "ablegten; viele sagten, sie hätten seit dem Morgengrauen gewartet.",
    "Nach Angaben der Hafenbehörde war es der stärkste Sturm seit zehn Jahren, und ab der "
    "kommenden Woche gilt wieder der normale Fahrplan.",
]
RUSSIAN = [
    "Паромы в гавани возобновили работу после шторма",
    "В понедельник паромы остановились, когда шторм достиг гавани и портовые власти "
    "закрыли причалы для пассажиров на два дня.",
    "Операторы сообщили, что до пятницы маршруты будут работать по сокращённому "
    "расписанию, пока инженеры проверяют причалы и сами паромы.",
    "В среду утром пассажиры толпились у причалов, когда отходили первые лодки; многие "
    "говорили, что ждали с самого рассвета.",
]


def test_articles_in_other_languages_are_kept_whole() -> None:
    pages = (
        (GERMAN, "Startseite | Nachrichten | Wirtschaft",
         "© 2024 Hafenblatt. Alle Rechte vorbehalten."),
        (RUSSIAN, "Главная | Новости | Экономика", "© 2024 Портовая газета. Все права защищены."),
    )
    for article, nav, footer in pages:
        result = clean(text="\n\n".join([nav, *article, footer]))
        for text in article[1:]:
            line = line_of(result, text)
            assert line.label == "content" and line.clean_text == text, (text, line.spans)


# Small clean pages of a few lines (an excerpt, a short post), one per paragraph of the file:
# nearly every word on them is used nowhere else on the page, which on a page of hundreds of
# lines is what a splice looks like.
SMALL_PAGES = [p.split("\n") for p in
               (Path(__file__).parent / "data" / "small_pages.txt").read_text("utf-8")
               .strip().split("\n\n")]


@pytest.mark.parametrize("lines", SMALL_PAGES, ids=[p[1][:24] for p in SMALL_PAGES])
def test_small_clean_pages_are_not_cut(lines: list[str]) -> None:
    result = clean(text="\n".join(lines))
    for text in lines[1:-1]:  # the article between a menu line and a footer line
        line = line_of(result, text)
        assert line.label == "content" and line.clean_text == text, (text, line.spans)


def test_a_foreign_script_fragment_glued_into_latin_text_is_excised() -> None:
    spliced = ("Passengers said they wanted to discuss this topic. 먹튀검증업체I think it would "
               "be nice if the ferries ran later.")
    result = clean(text=page([*ARTICLE[:2], spliced, *ARTICLE[2:]]))
    line = line_of(result, spliced)
    assert line.label == "content"
    assert line.clean_text == ("Passengers said they wanted to discuss this topic. I think it "
                               "would be nice if the ferries ran later.")
    assert [s.text for s in line.spans] == ["먹튀검증업체"]


GAMBLING = [
    "Casino operators report record betting revenue in Macau",
    "Macau's casino operators reported record gross gaming revenue in October, as visitors "
    "returned to the baccarat tables and slot machines of the Cotai Strip.",
    "Analysts said betting on the city's casinos had recovered faster than expected, with VIP "
    "baccarat and mass-market slots both up on last year.",
    "The lottery regulator also reported higher sales of sports betting tickets, and said "
    "online casino sites remain illegal in the territory.",
    "Shares of the six casino licensees rose on the news, led by operators with the largest "
    "exposure to mass-market gaming and hotel rooms.",
]


def test_an_article_about_gambling_is_not_cut() -> None:
    result = clean(text="\n\n".join(["Home | Business | Macau", *GAMBLING,
                                     "© 2024 Macau Daily. All rights reserved."]))
    for text in GAMBLING:
        line = line_of(result, text)
        assert line.label == "content" and line.spans == [] and line.clean_text == text


@pytest.mark.xfail(strict=False, reason="known gap: keywords glued between two words the page "
                   "does not use elsewhere are mostly missed (docs/benchmarks.md, "
                   "splice_between_words)")
@pytest.mark.parametrize("spliced, original", [
    ("The ferry routes can be divided into two massage parlour near me groups called the inner "
     "and the outer harbour lines.",
     "The ferry routes can be divided into two groups called the inner and the outer harbour "
     "lines."),
    ("Passengers praised the amazing postb2b massage near me service the harbour staff gave "
     "during the storm.",
     "Passengers praised the amazing post service the harbour staff gave during the storm."),
])
def test_a_keyword_glued_between_words_is_excised(spliced: str, original: str) -> None:
    result = clean(text=page([*ARTICLE[:2], spliced, *ARTICLE[2:]]))
    assert line_of(result, spliced).clean_text == original


INJECTED_BYLINE = ("Ten best budget cameras for travel photographers this year · 北京赛车pk10 · "
                   "Published: 2024-07-20")


def test_an_injected_byline_is_dropped_whole_not_kept_for_its_headline_field() -> None:
    """`unrelated headline | keyword | date` where the byline was: the headline-shaped field
    reads as content on its own, but the line is spam, as on the example page."""
    result = clean(text=page([ARTICLE[0], INJECTED_BYLINE, *ARTICLE[1:]]))
    line = line_of(result, INJECTED_BYLINE)
    assert line.label == "spam" and line.clean_text is None
    assert "cameras" not in result.text
    assert [f.text for f in line.fields][1] == "北京赛车pk10"  # the fields stay in the audit


def test_a_promo_paragraph_is_not_kept_for_what_is_left_without_its_brand() -> None:
    promo = ("Check today's jackpot results at Spinz77 and claim your prize at spinz77.top. "
             "Get 50 free spins instantly, cheap and safe at www.spinz77.top today.")
    result = clean(text=page([*ARTICLE[:2], promo, *ARTICLE[2:]]))
    assert line_of(result, promo).clean_text is None
    assert "jackpot" not in result.text
    for p in ARTICLE[1:]:
        assert p in result.text


@pytest.mark.parametrize("at, keyword, word", [
    (2, "时时彩", "timetable"),
    (3, "代孕", "harbour."),
])
def test_a_keyword_of_a_script_without_spaces_glued_to_an_english_word_is_excised(
        at: int, keyword: str, word: str) -> None:
    """Its tokens score hot, and every cut around it (`孕`, `代孕`, `代孕harbour`...) touches
    spam: the one whose edges beat its rivals' is taken, not the real word beside it."""
    spliced = ARTICLE[at].replace(word, keyword + word, 1)
    result = clean(text=page([*ARTICLE[:at], spliced, *ARTICLE[at + 1:]]))
    line = line_of(result, spliced)
    assert line.label == "content" and line.clean_text == ARTICLE[at]
    assert [s.text for s in line.spans] == [keyword]
