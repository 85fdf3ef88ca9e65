"""Tests of the peers benchmark's scoring (benchmarks/peers.py).

The benchmark's figures are only as good as its scorers: a spam check that credits a system for
removing spam it kept, or a snippet score computed differently from trafilatura's, would make
every comparison in docs/benchmarks.md wrong. The peers themselves are not needed here.
"""

from __future__ import annotations

import sys
import time
from collections import Counter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks import peers  # noqa: E402
from training.inject_html import HtmlInjection  # noqa: E402


def inj(kind: str, *parts: str, own: bool = True) -> HtmlInjection:
    return HtmlInjection(kind, " | ".join(parts), own, tuple(parts), ("fam",), "en", "v")


def test_spam_kept_compares_with_the_clean_output() -> None:
    farm = inj("link_farm", "ag88.vip", "replica watches", "luckyspin77")
    splice = inj("splice_in_word", "8k8 withdrawal", own=False)
    clean = "Chang'e 6 mission. The probe returned."
    # Kept: one anchor of the farm is enough; the splice is still in the headline.
    dirty = "Chan8k8 withdrawalg'e 6 mission. The probe returned. luckyspin77"
    assert peers.spam_kept([farm, splice], clean, dirty) == [True, True]
    # Removed: the output is the clean one, whatever the case or spacing.
    assert peers.spam_kept([farm, splice], clean, "CHANG'E 6  mission.\nThe probe returned.") == [
        False, False]
    # A part that also occurs in the clean output is no evidence of spam kept.
    clean2 = "Buy replica watches? Our guide to fakes."
    assert peers.spam_kept([farm], clean2, clean2) == [False]
    assert peers.spam_kept([farm], clean2, clean2 + " replica watches") == [True]


def test_spam_kept_credits_each_occurrence_once() -> None:
    """The campaign keyword spliced into two paragraphs and kept once: one of two kept."""
    a = inj("splice_between_words", " xx88 login", own=False)
    b = inj("splice_between_words", "xx88 login ", own=False)
    assert peers.spam_kept([a, b], "one two three", "one xx88 login two three") == [True, False]
    assert peers.spam_kept([a, b], "one two", "one xx88 login two xx88 login") == [True, True]


def test_snippet_scoring_is_trafilaturas() -> None:
    out = "Die GEMA dreht völlig am Zeiger!\nMehr auf http://www.openpetition.de  Impressum"
    c = peers.snippet_counts(out, ["Die GEMA dreht  völlig am Zeiger!", "Fehlt hier"],
                             ["31. Mai", "impressum", "Steuerdarling"])
    assert c == Counter({"tp": 1, "fn": 1, "fp": 1, "tn": 2})
    s = peers.snippet_summary(Counter({"tp": 90, "fn": 10, "fp": 30, "tn": 70}))
    assert s["precision"] == 0.75 and s["recall"] == 0.9
    assert s["f1"] == round(2 * 0.75 * 0.9 / 1.65, 4)
    assert s["with_kept"] == 0.9 and s["without_leaked"] == 0.3 and s["without_leaked_n"] == 30


def test_word_prf() -> None:
    assert peers.word_prf("", "some gold words") == (0.0, 0.0, 0.0)
    assert peers.word_prf("The Gold, words!", "the gold words") == (1.0, 1.0, 1.0)
    p, r, f = peers.word_prf("gold words menu", "gold words here here")
    assert (p, r) == (2 / 3, 0.5) and f == pytest.approx(2 * p * r / (p + r))


def test_a_failing_or_slow_system_gives_empty_output() -> None:
    def boom(html: str) -> str:
        raise RuntimeError("hostile markup")

    def slow(html: str) -> str:
        time.sleep(5)
        return "late"

    call = peers.run_system(peers.System("boom", "0", boom), "<p>x</p>", timeout=2)
    assert (call.text, call.status) == ("", "error")
    call = peers.run_system(peers.System("slow", "0", slow), "<p>x</p>", timeout=0.2)
    assert (call.text, call.status) == ("", "timeout") and call.wall < 2
    call = peers.run_system(peers.System("ok", "0", str.upper), "<p>x</p>", timeout=2)
    assert (call.text, call.status) == ("<P>X</P>", "ok")


def test_html_to_text_breaks_lines_at_blocks() -> None:
    pytest.importorskip("lxml")
    text = peers.html_to_text("<div><h1>Title</h1><p>one <b>bold</b> word</p><p>next</p></div>")
    assert text.split() == ["Title", "one", "bold", "word", "next"]
    assert peers.html_to_text("") == ""


def test_justext_language_guess() -> None:
    pytest.importorskip("justext")
    st = peers.JustextStoplists()
    german = ("<html lang='en'><body><p>" + "Die Stadt hat sich in den letzten Jahren sehr "
              "verändert, und die Bürger sind nicht mit allen Plänen einverstanden. " * 5
              + "</p></body></html>")
    english = ("<html lang='en'><body><p>" + "The city has changed a lot in recent years and "
               "not all of its people agree with the plans. " * 5 + "</p></body></html>")
    assert st.language(german) == "German"  # the vote overrules a template's lang="en"
    assert st.language(english) == "English"
    assert st.language("<html><body></body></html>") == "English"


def test_targets_and_report_from_results() -> None:
    def sys_(f1: float, removed: float, speed: float, kept: float, sf1: float) -> dict:
        return {"version": "1", "input": "html",
                "words": {"scrapinghub/clean": {"all": {"pages": 2, "p": f1, "r": f1,
                                                        "f1": f1}}},
                "snippets": {"trafilatura-eval/clean": {"with_kept": kept, "f1": sf1,
                                                        "without_leaked": 0.1,
                                                        "without_leaked_n": 3}},
                "spam": {"all": {"n": 10, "removed": removed, "by_kind": {}}},
                "speed": {"all": {"pages": 4, "pages_per_s": speed, "pages_per_cpu_s": speed}},
                "status": {"scrapinghub/clean": {"ok": 2}}, "pages": {}}

    results = {"meta": {"date": "d", "command": "c", "cpus": 2, "cpu_model": "x",
                        "loadavg_start": [1], "loadavg_end": [1], "python": "3.11",
                        "seed": 1, "repeat": 3, "timeout_s": 30, "limit": None,
                        "pages": {"scrapinghub": 2, "trafilatura-eval": 2},
                        "injections": {"scrapinghub": {"link_farm": 1}}, "versions": {}},
               "systems": {"cleaner": sys_(0.97, 0.99, 200.0, 0.98, 0.95),
                           "trafilatura": sys_(0.95, 0.2, 10.0, 0.99, 0.92)}}
    got = {t["target"].split(" ")[0]: t["met"] for t in peers.targets(results)}
    assert got == {"scrapinghub": True, "trafilatura-eval": True, "injected": True,
                   "speed": True}
    results["systems"]["cleaner"]["speed"]["all"]["pages_per_s"] = 50.0
    assert [t["met"] for t in peers.targets(results)][-1] is False
    results["targets"] = peers.targets(results)
    report = peers.render(results)
    assert "| cleaner | **0.970** (0.970/0.970) |" in report
    assert "| speed ≥ 10 × trafilatura's pages/s, one process | 50.0 vs 10.0 pages/s" in report
