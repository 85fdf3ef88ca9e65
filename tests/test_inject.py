"""Tests of the spam injection generator (training/inject.py).

The generator is training material: a wrong offset teaches the excision model to cut the wrong
characters, a non-deterministic run makes experiments irreproducible, and a leak between the
train and test vocabularies makes generalisation numbers meaningless. These tests pin those down.
"""

from __future__ import annotations

import copy
import json
import random
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # the repo is not installed in the venv; make `training` importable
    sys.path.insert(0, str(ROOT))

from training import inject  # noqa: E402
from training.inject import (  # noqa: E402
    KINDS,
    Vocabulary,
    inject_page,
    inject_records,
    load_vocabulary,
)

SHARED = ROOT.parent / "shared" / "data"


def text_record(rid: str = "t1") -> dict:
    """A small English text page shaped like the seed page (boilerplate, headline, paragraphs)."""
    lines = [
        ("xi's moments", "boilerplate"),
        ("Home | Americas", "boilerplate"),
        ("Chang'e 6 mission sparks hopes for Sino-US space collaboration", "content"),
        (
            "China's historic feat of successfully retrieving the first-ever samples from the far "
            "side of the moon has ignited discussions about the United States' approach.",
            "content",
        ),
        (
            "The Chang'e 6 probe returned to Earth on Tuesday, bringing back rock and soil samples "
            "from the lunar far side, which always faces away from the planet.",
            "content",
        ),
        (
            "The probe landed on the moon on June 2 and lifted off two days later to start its "
            "journey back to Earth. The far side of the moon presents unique challenges.",
            "content",
        ),
        ("Copyright 1995 - . All rights reserved.", "boilerplate"),
    ]
    return {
        "id": rid,
        "kind": "text",
        "units": [
            {"index": 2 * k, "text": t, "paragraph_break": True} for k, (t, _) in enumerate(lines)
        ],
        "labels": [lab for _, lab in lines],
    }


def html_record(rid: str = "h1") -> dict:
    """A small Chinese HTML page with markup fields."""
    rows = [
        ("首页 | 新闻 | 体育", "boilerplate", "a", "html>body>nav>a", 3, 0, 1.0),
        ("嫦娥六号任务圆满成功，月背样品顺利返回地球", "content", "h1", "body>article>h1", 3, 1, 0),
        (
            "嫦娥六号返回器携带来自月球背面的样品安全着陆，标志着探月工程取得新的重大进展。"
            "科学家表示，这些样品将帮助人类更好地了解月球的起源和演化。",
            "content", "p", "html>body>article>p", 3, 0, 0,
        ),
        (
            "专家认为，国际合作是深空探测的必由之路，各国科学家都期待能够研究这批珍贵的样品，"
            "并在此基础上开展更多的联合研究项目。",
            "content", "p", "html>body>article>p", 3, 0, 0,
        ),
        ("版权所有 © 2024 新闻网", "boilerplate", "div", "html>body>footer>div", 3, 0, 0),
    ]
    units = []
    for k, (t, _, tag, path, depth, heading, ld) in enumerate(rows):
        u = {"index": k, "text": t, "tag": tag, "path": path, "depth": depth, "attrs": "main"}
        if heading:
            u["heading"] = heading
        if ld:
            u["link_density"] = ld
        units.append(u)
    return {"id": rid, "kind": "html", "units": units, "labels": [r[1] for r in rows]}


@pytest.fixture(scope="module")
def vocab() -> Vocabulary:
    return load_vocabulary(holdout="train")


@pytest.fixture(scope="module")
def vocab_test() -> Vocabulary:
    return load_vocabulary(holdout="test")


def check_record(out: dict, src: dict) -> None:
    """Invariants every injected record must satisfy."""
    units, labels, spans = out["units"], out["labels"], out["spans"]
    assert len(units) == len(labels) == len(spans)
    assert all(lab in ("content", "boilerplate", "spam") for lab in labels)
    assert all(u["text"].strip() for u in units)
    assert all("\n" not in u["text"] for u in units)
    idx = [u["index"] for u in units]
    assert all(b > a for a, b in zip(idx, idx[1:], strict=False)), idx
    for u, sp in zip(units, spans, strict=True):
        for s in sp:
            assert 0 <= s["start"] < s["end"] <= len(u["text"])
            assert s["label"] == "spam" and s["kind"] in KINDS
    src_texts = [u["text"] for u in src["units"]]
    restored = []
    for inj in out["injections"]:
        assert inj["kind"] in KINDS
        k = inj["unit"]
        text = units[k]["text"]
        if "start" in inj:  # inside a content unit
            assert labels[k] == "content"
            assert text[inj["start"] : inj["end"]] == inj["text"]
            assert {"start": inj["start"], "end": inj["end"]} in [
                {"start": s["start"], "end": s["end"]} for s in spans[k]
            ]
            assert text[: inj["start"]] + text[inj["end"] :] == inj["original"]
            assert inj["original"] in src_texts
            restored.append(k)
        else:
            assert labels[k] == "spam"
            assert text == inj["text"]
            assert spans[k] == []
    # Removing all spans from every spanned content unit gives back an original line exactly.
    for k, (u, sp) in enumerate(zip(units, spans, strict=True)):
        if sp:
            assert labels[k] == "content"
            t = u["text"]
            for s in sorted(sp, key=lambda s: -s["start"]):
                t = t[: s["start"]] + t[s["end"] :]
            assert t in src_texts
    # Non-spam units are the original ones, in the original order.
    kept = [
        (u["text"] if not sp else None, lab)
        for u, lab, sp in zip(units, labels, spans, strict=True)
        if lab != "spam"
    ]
    assert len(kept) <= len(src["units"])


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("maker", [text_record, html_record])
def test_every_kind_offsets_and_restore(kind: str, maker, vocab: Vocabulary) -> None:
    src = maker()
    before = copy.deepcopy(src)
    for seed in range(25):
        out = inject_page(src, random.Random(seed), vocab, kinds=[kind], n_injections=1)
        assert src == before, "input record must not be modified"
        assert len(out["injections"]) == 1
        assert out["injections"][0]["kind"] == kind
        check_record(out, src)


def test_every_kind_with_test_holdout(vocab_test: Vocabulary) -> None:
    for kind in KINDS:
        for seed in range(10):
            out = inject_page(text_record(), random.Random(seed), vocab_test, [kind], 1)
            assert out["injections"][0]["kind"] == kind
            check_record(out, text_record())


def test_many_injections_stay_consistent(vocab: Vocabulary) -> None:
    for seed in range(40):
        for maker in (text_record, html_record):
            src = maker()
            out = inject_page(src, random.Random(seed), vocab, n_injections=6)
            check_record(out, src)
            assert len(out["injections"]) == 6


def test_default_produces_every_kind(vocab: Vocabulary) -> None:
    seen = set()
    for seed in range(60):
        out = inject_page(text_record(), random.Random(seed), vocab)
        seen.update(i["kind"] for i in out["injections"])
    assert seen == set(KINDS)


def test_seed_like_splice_in_headline(vocab: Vocabulary) -> None:
    """The seed pattern: a keyword spliced inside a word of the headline, span = keyword."""
    hits = 0
    for seed in range(30):
        out = inject_page(text_record(), random.Random(seed), vocab, ["splice_in_word"], 1)
        inj = out["injections"][0]
        if inj["original"].startswith("Chang'e 6 mission"):
            hits += 1
            t = out["units"][inj["unit"]]["text"]
            assert t[inj["start"] - 1].isalpha() and t[inj["end"]].isalpha()
    assert hits >= 10  # the headline is the preferred target


def test_determinism(vocab: Vocabulary) -> None:
    recs = [text_record(f"t{k}") for k in range(6)] + [html_record(f"h{k}") for k in range(6)]
    a = list(inject_records(recs, seed=7, vocab=vocab, rate=0.8))
    b = list(inject_records(copy.deepcopy(recs), seed=7, vocab=load_vocabulary(), rate=0.8))
    assert json.dumps(a, ensure_ascii=False) == json.dumps(b, ensure_ascii=False)
    c = list(inject_records(recs, seed=8, vocab=vocab, rate=0.8))
    assert json.dumps(a, ensure_ascii=False) != json.dumps(c, ensure_ascii=False)
    p1 = inject_page(text_record(), random.Random(3), vocab)
    p2 = inject_page(text_record(), random.Random(3), vocab)
    assert p1 == p2


def test_inject_records_rate_and_reservoir(vocab: Vocabulary) -> None:
    recs = []
    for k in range(40):
        r = text_record(f"t{k}")
        r["units"][2]["text"] = f"Headline number {k} about the local harvest festival"
        recs.append(r)
    outs = list(inject_records(recs, seed=1, vocab=vocab, rate=0.5))
    assert len(outs) == len(recs)
    injected = [o for o in outs if o.get("injections")]
    assert 8 < len(injected) < 32
    for o, r in zip(outs, recs, strict=True):
        if not o.get("injections"):
            assert o == r
        else:
            check_record(o, r)
    fams = {f for o in injected for i in o["injections"] for f in i["families"]}
    # with many pages, some unrelated headlines should come from other records
    outs2 = list(
        inject_records(recs * 5, seed=2, vocab=vocab, rate=1.0, kinds=["byline_replace"])
    )
    fams2 = {f for o in outs2 for i in o["injections"] for f in i["families"]}
    assert "reservoir" in fams2
    assert fams  # every injection records its families


def test_train_test_families_disjoint() -> None:
    for data_dir in (None, Path("/nonexistent/shared/data")):
        tr = load_vocabulary(data_dir, "train")
        te = load_vocabulary(data_dir, "test")
        al = load_vocabulary(data_dir, "all")
        assert tr.families and te.families
        assert not set(tr.families) & set(te.families)
        assert set(tr.families) | set(te.families) == set(al.families)
        for pool in ("keywords", "promos", "headlines", "domains", "brands", "adult_terms"):
            a = {e.text for e in getattr(tr, pool).entries}
            b = {e.text for e in getattr(te, pool).entries}
            fam_a = {e.family for e in getattr(tr, pool).entries}
            fam_b = {e.family for e in getattr(te, pool).entries}
            assert not fam_a & fam_b, pool
            assert not {x.casefold() for x in a} & {x.casefold() for x in b}, pool
        assert not set(tr.brand_patterns) & set(te.brand_patterns)
        assert not set(tr.scripts) & set(te.scripts)
        for lang in inject.TEST_LANGS:
            assert lang not in tr.keywords.by_lang and lang not in tr.promos.by_lang
            assert lang in te.keywords.by_lang


def test_injection_families_respect_holdout(vocab: Vocabulary, vocab_test: Vocabulary) -> None:
    for v, other in ((vocab, vocab_test), (vocab_test, vocab)):
        own = set(v.families)
        theirs = set(other.families)
        for seed in range(60):
            out = inject_page(text_record(), random.Random(seed), v, n_injections=4)
            for inj in out["injections"]:
                for f in inj["families"]:
                    assert f not in theirs, f
                    assert f in own or f in ("reservoir", "domain:generated"), f


def test_works_without_shared_data(tmp_path: Path) -> None:
    v = load_vocabulary(tmp_path / "does-not-exist", "train")
    assert not v.domains and not v.adult_terms
    assert v.keywords and v.promos and v.headlines
    for kind in KINDS:
        for seed in range(5):
            for maker in (text_record, html_record):
                out = inject_page(maker(), random.Random(seed), v, [kind], 1)
                check_record(out, maker())


@pytest.mark.skipif(not SHARED.is_dir(), reason="shared data not present")
def test_uses_shared_lexicons(vocab: Vocabulary) -> None:
    assert len(vocab.headlines.entries) > 10_000
    assert any(f.startswith("headline:zh:") for f in vocab.headlines.families)
    assert vocab.domains and vocab.adult_terms
    assert any(f.startswith("kw:zh:lexicon-") for f in vocab.keywords.families)


def test_text_indexes_keep_gaps(vocab: Vocabulary) -> None:
    src = text_record()
    for seed in range(20):
        out = inject_page(src, random.Random(seed), vocab, ["foreign_headline", "link_farm"], 2)
        idx = [u["index"] for u in out["units"]]
        assert idx == list(range(idx[0], idx[0] + 2 * len(idx), 2))


def test_html_markup_on_inserted_units(vocab: Vocabulary) -> None:
    ld_one = 0
    for seed in range(30):
        out = inject_page(html_record(), random.Random(seed), vocab, ["link_farm"], 1)
        u = out["units"][out["injections"][0]["unit"]]
        assert u["tag"] and u["path"] and isinstance(u["depth"], int)
        assert [x["index"] for x in out["units"]] == list(range(len(out["units"])))
        ld_one += u.get("link_density") == 1.0
    assert ld_one >= 10


def test_existing_spans_and_injections_are_kept(vocab: Vocabulary) -> None:
    once = inject_page(text_record(), random.Random(1), vocab, ["splice_in_word"], 1)
    twice = inject_page(once, random.Random(2), vocab, n_injections=4)
    assert len(twice["injections"]) == 5
    first = twice["injections"][0]
    t = twice["units"][first["unit"]]["text"]
    assert t[first["start"] : first["end"]] == first["text"]


def test_rejects_misaligned_and_unknown_kind(vocab: Vocabulary) -> None:
    bad = text_record()
    bad["labels"] = bad["labels"][:-1]
    with pytest.raises(ValueError):
        inject_page(bad, random.Random(0), vocab)
    with pytest.raises(ValueError):
        inject_page(text_record(), random.Random(0), vocab, kinds=["nope"])


def test_brand_generators_are_varied() -> None:
    rng = random.Random(0)
    for pattern in inject.TRAIN_BRAND_PATTERNS + inject.TEST_BRAND_PATTERNS:
        made = {inject._gen_brand(rng, pattern) for _ in range(50)}
        assert len(made) > 20, pattern
        assert all(b and " " not in b for b in made)


def test_cli(tmp_path: Path) -> None:
    src = tmp_path / "in.jsonl"
    dst = tmp_path / "out.jsonl"
    recs = [text_record(f"t{k}") for k in range(5)] + [html_record("h")]
    src.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in recs), "utf-8")
    assert inject.main([str(src), str(dst), "--seed", "1", "--holdout", "test", "--rate", "1"]) == 0
    outs = [json.loads(line) for line in dst.read_text("utf-8").splitlines()]
    assert len(outs) == len(recs)
    for o, r in zip(outs, recs, strict=True):
        check_record(o, r)
