"""Augmentations of labelled pages that teach the model what does not make spam.

WCXB's dev split is almost all English (1,445 of 1,453 pages), so a model trained on it alone
would learn that an unfamiliar script or letter pattern means spam, and real pages in other
languages would lose their text. Two augmentations make such pages look ordinary:

* `cipher_records`: a page whose letters are all replaced through one random substitution,
  into a scrambled Latin, Cyrillic or Greek alphabet. Words keep their length, case, repeats
  and punctuation, so the page keeps its structure (a menu is still short and repeated, an
  article still long and coherent), but its character n-grams are of no language the model
  knows. Labels are unchanged: what is content stays content whatever its alphabet.
* `crop_records` (in `training.train`) makes small pages.

Spam is injected after augmentation, so ciphered pages carry real-language spam like others.
"""

from __future__ import annotations

import random
import string

ALPHABETS: dict[str, str] = {
    "latin": string.ascii_lowercase,
    "cyrillic": "абвгдежзийклмнопрстуфхцчшщъыьэюя",
    "greek": "αβγδεζηθικλμνξοπρστυφχψω",
}


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


def cipher_records(records: list[dict], share: float, seed: int) -> list[dict]:
    """Ciphered copies of a share of the records (ids suffixed `-cipher`)."""
    rng = random.Random(seed)
    out = []
    for r in records:
        if rng.random() >= share:
            continue
        table = _cipher(rng)
        copy = {k: v for k, v in r.items() if k not in ("units", "injections")}
        copy["id"] = f"{r['id']}-cipher"
        copy["units"] = [{**u, "text": u["text"].translate(table)} for u in r["units"]]
        if copy.get("title"):
            copy["title"] = copy["title"].translate(table)
        out.append(copy)
    return out
