"""Decoding bytes to text and sniffing the page kind (no model needed)."""

from __future__ import annotations

import codecs
import random

import pytest

from cleaner.decode import decode, sniff_kind
from cleaner.errors import DecodeError

FRENCH = "Il était une fois une très belle princesse qui habitait un château près de la forêt."
CHINESE = "孩子抑郁了,家长怎么办才好? 这是一个测试页面，内容比较长一些，用来检测编码。"
RUSSIAN = "Привет, мир! Как у тебя дела сегодня? Это проверка кодировки страницы."


def test_plain_utf8() -> None:
    assert decode(FRENCH.encode("utf-8")) == FRENCH


def test_empty_bytes_decode_to_empty_text() -> None:
    # Emptiness is the cleaner's call (EmptyPageError), not an encoding problem.
    assert decode(b"") == ""


@pytest.mark.parametrize("label", ["iso-8859-1", "ISO-8859-1", "latin1", '"latin-1"', "cp1252"])
def test_declared_charset_is_honoured(label: str) -> None:
    assert decode(FRENCH.encode("latin-1"), label) == FRENCH


def test_declared_latin1_reads_windows_1252_quotes() -> None:
    # Pages labelled latin-1 are windows-1252 in practice (as browsers assume).
    assert decode("“quoted” – fine".encode("cp1252"), "iso-8859-1") == "“quoted” – fine"


def test_declared_charset_beats_utf8_guess() -> None:
    assert decode(CHINESE.encode("gb18030"), "gbk") == CHINESE


@pytest.mark.parametrize("label", ["no-such-charset", "base64", "rot13", "", "utf-7", "  "])
def test_unusable_declared_charset_falls_back(label: str) -> None:
    assert decode("héllo wörld".encode(), label) == "héllo wörld"


def test_stale_legacy_label_over_utf8_content() -> None:
    # Servers defaulting to "iso-8859-1" over UTF-8 pages: valid UTF-8 is not an accident.
    assert decode(FRENCH.encode("utf-8"), "iso-8859-1") == FRENCH
    assert decode(CHINESE.encode("utf-8"), "ascii") == CHINESE


def test_declared_charset_that_fails_strictly_falls_back() -> None:
    # Shift_JIS label, GB18030 bytes that are not valid Shift_JIS: the label lies.
    data = CHINESE.encode("gb18030")
    assert decode(data, "shift_jis") == CHINESE


@pytest.mark.parametrize(
    "codec", ["utf-8-sig", "utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-32-le"]
)
def test_bom_is_honoured_and_stripped(codec: str) -> None:
    data = CHINESE.encode(codec)
    if codec in ("utf-16-le", "utf-16-be", "utf-32-le"):
        data = "\ufeff".encode(codec) + data
    assert decode(data) == CHINESE


def test_bom_beats_a_wrong_declaration() -> None:
    assert decode(codecs.BOM_UTF8 + FRENCH.encode(), "iso-8859-1") == FRENCH


def test_meta_charset() -> None:
    html = b'<html><head><meta charset="windows-1251"></head><body>' + RUSSIAN.encode("cp1251")
    assert RUSSIAN in decode(html)


def test_meta_http_equiv() -> None:
    head = b'<meta http-equiv="Content-Type" content="text/html; charset=Shift_JIS">'
    text = "こんにちは世界、お元気ですか。"
    assert text in decode(head + text.encode("shift_jis"))


def test_meta_charset_utf16_means_utf8() -> None:
    assert "é" in decode('<meta charset="utf-16"><p>é</p>'.encode())


@pytest.mark.parametrize(
    ("text", "codec"),
    [(CHINESE, "gb18030"), (RUSSIAN, "cp1251"), (FRENCH, "latin-1")],
)
def test_undeclared_legacy_encodings_are_detected(text: str, codec: str) -> None:
    assert decode(text.encode(codec)) == text


def test_utf16_without_bom_is_detected() -> None:
    text = "こんにちは世界、お元気ですか。これはテストです。"
    assert decode(text.encode("utf-16-le")) == text


def test_broken_utf8_keeps_the_good_characters() -> None:
    # A truncated multi-byte sequence costs one U+FFFD, not mojibake of the whole page.
    data = "Füße, Straße, Größe, schön, über alles.".encode() + b"\xc3"
    assert decode(data) == "Füße, Straße, Größe, schön, über alles.\ufffd"


def test_a_few_invalid_bytes_never_crash() -> None:
    text = decode(b"plain ascii text \xff\xfe with stray bytes, and more text after them. " * 3)
    assert text.startswith("plain ascii text")


def test_line_endings_are_kept() -> None:
    # Unit indexes are line positions in the input; the segmenter deals with "\r\n".
    assert decode(b"a\r\nb\n\nc") == "a\r\nb\n\nc"


@pytest.mark.parametrize(
    "data",
    [
        b"\x00" * 500,
        bytes(range(1, 32)) * 20,
        random.Random(0).randbytes(4000),
        b"\x89PNG\r\n\x1a\n" + b"\x00\x01IHDR" * 20,
        b"\x1f\x8b\x08\x00" + bytes(100),
        b"PK\x03\x04" + b"word/document.xml" * 5,
    ],
    ids=["nul", "controls", "random", "png", "gzip", "zip"],
)
def test_binary_is_undecodable(data: bytes) -> None:
    with pytest.raises(DecodeError) as info:
        decode(data)
    assert info.value.code == "undecodable"


@pytest.mark.parametrize(
    "text",
    [
        "<!DOCTYPE html><title>x</title><p>hello",
        "<!doctype HTML>\n<p>x",
        "  \n<html lang='en'><body>x</body></html>",
        "<?xml version='1.0'?>\n<html xmlns='http://www.w3.org/1999/xhtml'>",
        "<body><p>hello</p></body>",
        "<p>A fragment with one paragraph.</p>",
        "<div class='a'>x</div><div>y</div><span>z</span>",
        "Intro line\n<ul><li>one</li><li>two</li></ul>",
        "\ufeff<html>",
    ],
)
def test_sniff_html(text: str) -> None:
    assert sniff_kind(text) == "html"


@pytest.mark.parametrize(
    "text",
    [
        "I <3 you\nsee you soon",
        "if a < b and c > d then swap",
        "Write to <someone@example.com> for details.",
        "<i think> this is just prose",
        "Use the <b>bold</b> tag for emphasis.",
        "Plain article text.\n\nSecond paragraph.",
        "",
        "x" * 10000 + "<html>",  # markup far past the start does not make a text page HTML
    ],
)
def test_sniff_text(text: str) -> None:
    assert sniff_kind(text) == "text"
