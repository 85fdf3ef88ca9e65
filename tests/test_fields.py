"""Separated lines (`headline | keyword | date`) are split into fields that are judged one by
one; dates are metadata."""

from __future__ import annotations

from cleaner.fields import date_role, field_units, split_fields
from cleaner.units import Unit

BYLINE = "孩子抑郁了,家长怎么办才好? | 8k8 withdrawal | Updated: 2024-07-20 13:57:56"


def texts(line: str) -> list[str]:
    return [line[a:b] for a, b in split_fields(line)]


def test_fields_of_a_byline() -> None:
    assert texts(BYLINE) == [
        "孩子抑郁了,家长怎么办才好?", "8k8 withdrawal", "Updated: 2024-07-20 13:57:56"
    ]
    assert texts("Home ｜ News ｜ Sport") == ["Home", "News", "Sport"]
    assert texts("A headline · keyword · 9/23/2025 04:36") == ["A headline", "keyword",
                                                                "9/23/2025 04:36"]


def test_lines_that_are_not_separated_have_no_fields() -> None:
    for line in ("A sentence with a 3.5/5 rating and and/or a URL https://a.b/c|d",
                 "just one field |", "Mr. Smith · 2024"[:3]):
        assert len(split_fields(line)) != 1
    assert split_fields("No separators here.") == []
    assert split_fields("and/or") == []


def test_field_units_keep_the_markup_of_their_line() -> None:
    unit = Unit(index=3, text=BYLINE, tag="p", path="body>p", attrs="byline")
    fields = field_units(unit, split_fields(BYLINE))
    assert [f.text for f in fields] == texts(BYLINE)
    assert all(f.index == 3 and f.tag == "p" and f.attrs == "byline" for f in fields)


def test_date_fields_are_metadata() -> None:
    assert date_role("Updated: 2024-07-20 13:57:56") == "date"
    assert date_role("Published Jan 5, 2023") == "date"
    assert date_role("8k8 withdrawal") is None
