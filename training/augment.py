"""Augmentations of labelled pages that teach the model what does not make spam.

WCXB's dev split is almost all English (1,445 of 1,453 pages), so a model trained on it alone
would learn that an unfamiliar script or letter pattern means spam, and real pages in other
languages would lose their text. Two augmentations make such pages look ordinary:

* `cipher_records`: a page whose letters are all replaced through one random substitution,
  into a scrambled Latin, Cyrillic, Greek, Arabic, Hebrew, Georgian, Armenian or Devanagari
  alphabet, or whose words are all replaced, consistently, by made-up words of Hangul
  syllables, of Han characters, of kana, or of both as Japanese mixes them (the last three
  without spaces, as those languages are written). Words keep their repeats and the page its
  punctuation and structure (a menu is still short and repeated, an article still long and
  coherent), but its character n-grams are of no language the model knows. Labels are
  unchanged: what is content stays content whatever its script; only what is out of place on
  its own page is spam.
* `crop_records` (in `training.train`) makes small pages.

Spam is injected after augmentation, so ciphered pages carry real-language spam like others.
"""

from __future__ import annotations

import random
import re
import string
from collections.abc import Callable

ALPHABETS: dict[str, str] = {
    "latin": string.ascii_lowercase,
    "cyrillic": "абвгдежзийклмнопрстуфхцчшщъыьэюя",
    "greek": "αβγδεζηθικλμνξοπρστυφχψω",
    "arabic": "ابتثجحخدذرزسشصضطظعغفقكلمنهوي",
    "hebrew": "אבגדהוזחטיכלמנסעפצקרשת",
    "georgian": "აბგდევზთიკლმნოპჟრსტუფქღყშჩცძწჭხჯჰ",
    "armenian": "աբգդեզէըթժիլխծկհձղճմյնշոչպջռսվտրցւփքօֆ",
    "devanagari": "कखगघचछजझटठडढणतथदधनपफबभमयरलवशसह",
}
# Scripts written in syllables or characters: each word becomes a made-up word of 1-3 of
# them, drawn from a page's own pool (a language uses a few hundred, not all).
SYLLABLES: dict[str, tuple[int, int, bool]] = {  # first code point, count, spaces between
    "hangul": (0xAC00, 11172, True),
    "han": (0x4E00, 20902, False),
    "kana": (0x3041, 86, False),
}
# Japanese writes content words in Han and grammatical ones in kana, so its lines change script
# every few characters: a made-up Japanese draws each word from one or the other.
MIXED = {"japanese": ("han", "kana")}
_WORD = re.compile(r"[A-Za-z]+")
_GLUE = re.compile(r"(?<=[\u3041-\u30ff\u4e00-\u9fff]) (?=[\u3041-\u30ff\u4e00-\u9fff])")


def _cipher(rng: random.Random) -> dict[int, str]:
    name = rng.choice(sorted(ALPHABETS))
    target = list(ALPHABETS[name])
    rng.shuffle(target)
    # Greek has 24 letters: two source letters share a target then, like digraphs do.
    table = {ch: target[i % len(target)] for i, ch in enumerate(string.ascii_lowercase)}
    out: dict[int, str] = {}
    for src, dst in table.items():
        out[ord(src)] = dst
        out[ord(src.upper())] = dst.upper()
    return out


def _word_cipher(rng: random.Random) -> Callable[[str], str]:
    """A function rewriting text into made-up words of one syllabic or logographic script."""
    name = rng.choice(sorted([*SYLLABLES, *MIXED]))
    scripts = MIXED.get(name, (name,))
    pools = []
    for script in scripts:
        first, count, _ = SYLLABLES[script]
        pools.append([chr(first + i) for i in rng.sample(range(count), min(count, 400))])
    spaced = all(SYLLABLES[script][2] for script in scripts)
    words: dict[str, str] = {}

    def word(m: re.Match) -> str:
        key = m.group().lower()
        if key not in words:
            # short (grammatical) words from the last pool: kana in made-up Japanese
            pool = pools[-1] if len(key) <= 3 else rng.choice(pools)
            n = 1 if len(key) <= 3 else rng.choice((2, 2, 3))
            words[key] = "".join(rng.choice(pool) for _ in range(n))
        return words[key]

    def rewrite(text: str) -> str:
        out = _WORD.sub(word, text)
        return out if spaced else _GLUE.sub("", out)

    return rewrite


def cipher_records(records: list[dict], share: float, seed: int) -> list[dict]:
    """Ciphered copies of a share of the records (ids suffixed `-cipher`): a third in
    syllabic or logographic scripts, the rest in alphabets."""
    rng = random.Random(seed)
    out = []
    for r in records:
        if rng.random() >= share:
            continue
        if rng.random() < 1 / 3:
            rewrite = _word_cipher(rng)
        else:
            table = _cipher(rng)
            rewrite = lambda text, table=table: text.translate(table)  # noqa: E731
        copy = {k: v for k, v in r.items() if k not in ("units", "injections")}
        copy["id"] = f"{r['id']}-cipher"
        copy["units"] = [{**u, "text": rewrite(u["text"])} for u in r["units"]]
        if copy.get("title"):
            copy["title"] = rewrite(copy["title"])
        out.append(copy)
    return out
