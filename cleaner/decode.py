"""Bytes to text, and text to a page kind.

Scraped pages arrive as bytes whose encoding is declared wrongly, declared twice, or not at all;
cleaning must still see text. The order of evidence follows what browsers do (a byte-order mark
is unambiguous, so it beats any label; an explicit label beats guessing; UTF-8 that decodes
strictly is almost never an accident; only then a statistical guess), and every path ends in a
string: invalid bytes become U+FFFD rather than an exception. Only bytes that are not text at
all (images, archives, binary noise) raise `DecodeError`, because cleaning them would return
garbage dressed up as an article.

Line endings are left as they are: text-page unit indexes are positions in the input split on
"\\n", and the segmenter already treats "\\r\\n" like "\\n", so rewriting them here would only
create a second, possibly different, notion of a line number.
"""

from __future__ import annotations

import codecs
import re

from cleaner.errors import DecodeError

# How far into a document a <meta charset> may appear (the HTML spec pre-scans 1024 bytes;
# real pages put long <head> preambles first, so look further).
META_SCAN_BYTES = 4096
# How much text `sniff_kind` and the not-text check look at: enough to judge, bounded in cost.
SNIFF_CHARS = 4096
# Share of suspicious characters (controls, U+FFFD) above which the bytes are not text. Real
# pages have next to none; random 7-bit bytes have about 20%.
MAX_JUNK_RATIO = 0.10

# Valid multi-byte characters needed per broken sequence to read damaged UTF-8 as UTF-8.
UTF8_GOOD_PER_BAD = 4

_BOMS: tuple[tuple[bytes, str], ...] = (
    # UTF-32 first: its little-endian BOM starts with the UTF-16 one.
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
# Signatures of common binary formats that sometimes get fed to a text cleaner by mistake.
_BINARY_MAGIC: tuple[bytes, ...] = (
    b"\x89PNG\r\n\x1a\n",
    b"GIF87a",
    b"GIF89a",
    b"\xff\xd8\xff",  # JPEG
    b"\x1f\x8b",  # gzip
    b"PK\x03\x04",  # zip, docx, epub
    b"\xfd7zXZ\x00",
    b"(\xb5/\xfd",  # zstd
    b"\x7fELF",
    b"\x00asm",
)
_JUNK = re.compile("[\x00-\x08\x0e-\x1f\x7f-\x9f\ufffd]")
# `<meta charset=x>` and `<meta http-equiv="Content-Type" content="...; charset=x">` alike.
_META_CHARSET = re.compile(
    rb"""<meta\b[^>]*?charset\s*=\s*["']?\s*([a-z0-9_:.+-]+)""", re.IGNORECASE
)
# Labels whose bytes are really windows-1252 in the wild (the WHATWG Encoding Standard agrees).
_CP1252_ALIASES = frozenset(
    {
        "latin-1",
        "latin1",
        "iso-8859-1",
        "iso8859-1",
        "l1",
        "ascii",
        "us-ascii",
        "iso_8859-1",
        "8859_1",
        "cp819",
        "windows-1252",
    }
)
# Encodings a label must never select: UTF-7 is a known XSS vector and browsers refuse it.
_REFUSED = frozenset({"utf_7"})


def _codec_name(label: str | None) -> str | None:
    """The Python codec for a charset label, or None when the label is unusable.

    Labels come from headers and markup written by anyone, so a wrong one ("utf8mb4", "none",
    "base64") must lead to the next piece of evidence, never to a crash.
    """
    if not label:
        return None
    label = label.strip().strip("\"'").strip().lower()
    if label in ("utf8mb4", "utf8mb3"):  # MySQL's names leak into pages
        label = "utf-8"
    try:
        info = codecs.lookup(label)
    except LookupError:
        return None
    if not getattr(info, "_is_text_encoding", True) or info.name in _REFUSED:
        return None
    if label in _CP1252_ALIASES:
        return "cp1252"
    return info.name


def _is_utf(codec: str) -> bool:
    return codec.replace("_", "-").startswith("utf-")


def _try_decode(data: bytes, codec: str) -> str | None:
    """Strict decoding; cp1252 leaves five bytes undefined, so latin-1 catches those pages."""
    try:
        return data.decode(codec)
    except (UnicodeDecodeError, LookupError):
        if codec == "cp1252":
            return data.decode("latin-1")
        return None


def _bom(data: bytes) -> tuple[str, int] | None:
    for bom, codec in _BOMS:
        if data.startswith(bom):
            return codec, len(bom)
    return None


def _meta_charset(data: bytes) -> str | None:
    """The charset a page declares about itself in its first bytes.

    A page whose bytes we are reading as ASCII cannot really be UTF-16, so such a declaration
    means UTF-8 (as the HTML spec prescribes).
    """
    match = _META_CHARSET.search(data[:META_SCAN_BYTES])
    if not match:
        return None
    codec = _codec_name(match.group(1).decode("ascii", "replace"))
    if codec and codec.replace("_", "-").startswith(("utf-16", "utf-32")):
        return "utf-8"
    return codec


def _detect(data: bytes) -> str | None:
    """charset-normalizer's best guess, or None when it has none.

    Short Western text fits cp1250, cp1252 and cp1257 equally well and the detector breaks the
    tie by name, turning "très" into "trčs"; on the web cp1252 is by far the likeliest, so a
    tie goes to it.
    """
    from charset_normalizer import from_bytes  # imported lazily: rarely needed, slow to import

    matches = from_bytes(data)
    best = matches.best()
    if best is None:
        return None
    for match in matches:
        if (
            match.encoding == "cp1252"
            and match.chaos == best.chaos
            and match.coherence == best.coherence
        ):
            return str(match)
    return str(best)


def _mostly_utf8(data: bytes) -> str | None:
    """UTF-8 with replacement characters, when the bytes are UTF-8 with a few broken sequences.

    A truncated or spliced UTF-8 page otherwise goes to the detector, which may pick a legacy
    code page and turn every correct non-ASCII character into mojibake; one U+FFFD is the
    lesser damage. Legacy single-byte text almost never forms valid multi-byte sequences, so
    requiring many of them keeps such pages out.
    """
    text = data.decode("utf-8", errors="replace")
    bad = text.count("\ufffd")
    good = len(text) - len(text.encode("ascii", "ignore")) - bad
    return text if good >= max(1, UTF8_GOOD_PER_BAD * bad) else None


def _looks_binary(data: bytes) -> bool:
    return data.startswith(_BINARY_MAGIC)


def _junk_ratio(text: str) -> float:
    """Share of characters no real text contains: C0/C1 controls other than whitespace (NUL
    included) and replacement characters standing for undecodable bytes."""
    sample = text[: SNIFF_CHARS * 4]
    if not sample:
        return 0.0
    return len(_JUNK.findall(sample)) / len(sample)


def _check_text(text: str) -> str:
    if _junk_ratio(text) > MAX_JUNK_RATIO:
        raise DecodeError("the bytes do not look like text in any encoding")
    return text


def decode(data: bytes, declared_charset: str | None = None) -> str:
    """Decode a page's bytes to text, honouring the best evidence about its encoding.

    Order: byte-order mark, `declared_charset` (HTTP header, JSON field), `<meta charset>` in
    the first 4 KB, strict UTF-8, charset-normalizer detection, and finally UTF-8 with
    replacement characters. A BOM is stripped. A declared or meta charset whose strict decoding
    fails is treated as wrong and the next evidence is tried; so is a legacy (non-UTF) label
    on bytes that are valid UTF-8 with non-ASCII characters.

    Raises `DecodeError` when the bytes are not text at all (binary formats, mostly control
    bytes or undecodable bytes); an empty input decodes to "" (emptiness is the caller's call).
    """
    data = bytes(data)
    if not data:
        return ""
    if _looks_binary(data):
        raise DecodeError("the bytes are a binary file, not a text or HTML page")

    bom = _bom(data)
    if bom is not None:
        codec, skip = bom
        return _check_text(data[skip:].decode(codec, errors="replace"))

    utf8 = _try_decode(data, "utf-8")
    for codec in (_codec_name(declared_charset), _meta_charset(data)):
        if codec is not None and utf8 is not None and not data.isascii() and not _is_utf(codec):
            # Valid multi-byte UTF-8 is never an accident of legacy text, but a stale
            # "iso-8859-1" server default over UTF-8 content is common: trust the bytes.
            return _check_text(utf8)
        if codec is not None:
            text = _try_decode(data, codec)
            if text is not None:
                return _check_text(text.removeprefix("\ufeff"))

    text = utf8 if utf8 is not None else _mostly_utf8(data)
    if text is None:
        # Also where UTF-16/32 without a BOM ends up: the detector recognises those.
        text = _detect(data)
    if text is None:
        text = data.decode("utf-8", errors="replace")
    return _check_text(text.removeprefix("\ufeff"))


# --- page kind -----------------------------------------------------------------------------

# Document-level markers: any one of them makes a page HTML.
_DOC_MARKERS = re.compile(
    r"<!doctype\s+html|<html[\s>]|<head[\s>]|<body[\s>]|<\?xml[^>]*>\s*<html", re.IGNORECASE
)
# Real HTML tags (open or close, with a known name right after '<'), so `a < b`, `<3` and
# `<someone@example.com>` are never counted.
_TAG = re.compile(
    r"</?(?:p|div|span|a|br|hr|h[1-6]|ul|ol|li|dl|dt|dd|table|tr|td|th|tbody|thead|img|article|"
    r"section|header|footer|nav|main|aside|blockquote|pre|code|em|strong|b|i|u|form|input|"
    r"button|script|style|meta|link|title|iframe|figure|figcaption|noscript|label|select|"
    r"option|textarea|small|sup|sub)(?:\s[^<>]*)?/?>",
    re.IGNORECASE,
)
_VOID = frozenset({"br", "hr", "img", "meta", "link", "input"})
# A text page that happens to mention a tag or two must stay text.
MIN_TAGS = 3


def sniff_kind(text: str) -> str:
    """Guess whether a page is "html" or "text" from its beginning.

    HTML when it has a document marker (doctype, <html>, <head>, <body>), starts with a real
    tag, or carries at least `MIN_TAGS` real tags near the start; otherwise text, because
    treating text as HTML would silently drop anything that looks like markup.
    """
    head = text[:SNIFF_CHARS].lstrip("\ufeff \t\r\n")
    if _DOC_MARKERS.search(head):
        return "html"
    first = _TAG.match(head)
    if first and not first.group(0).startswith("</"):
        # "<p>..." with its "</p>" is a fragment; "<i think> so" is someone's prose.
        name = re.match(r"<(\w+)", first.group(0)).group(1)
        if name.lower() in _VOID or re.search(rf"</{name}\s*>", head, re.IGNORECASE):
            return "html"
    count = 0
    for _ in _TAG.finditer(head):
        count += 1
        if count >= MIN_TAGS:
            return "html"
    return "text"
