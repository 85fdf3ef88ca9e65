"""Peers benchmark: cleaner against the HTML extractors users already run, on the same pages.

Users who clean HTML compare us with trafilatura, readability, jusText, boilerpipe and
resiliparse. A comparison is only worth something when it is one run: the same pages, the same
machine, the same process, the same scoring for everyone. This script runs every system on every
page of three public benchmarks, clean and with held-out spam injected into the HTML
(`training.inject_html`, `holdout="test"`: brands, languages and templates the model never
trained on), and scores what each system returns:

- word P/R/F1 against the gold text (lowercased NFKC `\\w+` multisets, macro over pages; the
  measure bench_v1.py and the article-extraction benchmarks publish), per WCXB page type too;
- snippets: `with` snippets kept and `without` snippets leaked (WCXB test, trafilatura-eval),
  and snippet P/R/F1 as trafilatura's own evaluation computes it (tests/eval_common.py there:
  TP = `with` found, FN = `with` missing, FP = `without` found, TN = `without` absent, summed
  over pages; whitespace-collapsed substring match, here also case-insensitive as in bench_v1);
- spam removal on injected pages, by injection kind: an injection is kept when any of its parts
  (the anchors of a link farm, the sentences of a promo, the spliced keyword...) occurs more
  often in the system's output on the injected page than in its output on the clean page;
- speed: pages/s of each system's extraction call alone, one process, one thread, every system
  called on the same page in turn (so load from other jobs on a shared machine hits all of them),
  median of `--repeat` passes; accuracy comes from the first pass.

A peer that raises on a page, or takes longer than `--timeout`, returns empty text for it (which
scores as a failure) and is counted; the run never stops for it.

Systems (default settings unless said; docs/benchmarks.md repeats this):
  cleaner                HTML mode, `Cleaner.load(--model).clean(html=...).text`
  cleaner-text           text mode on the page's visible text blocks, one per line (the dump a
                         scraper saves); its speed is for text input, so it is not in the plot
  trafilatura            `extract(html, include_comments=False)`: trafilatura's own benchmark
                         settings (the gold texts have no comments)
  trafilatura-precision  the same with `favor_precision=True`
  readability            readability-lxml `Document(html).summary()`, as text (lxml, a line break
                         at every block element)
  justext                `justext.justext(html, stoplist)` with the stoplist of the page's
                         language: its `<html lang>` unless a stop-word vote over 30 languages
                         clearly says otherwise (`JustextStoplists`)
  boilerpy3              boilerpipe's `ArticleExtractor().get_content(html)`
  resiliparse            `extract_plain_text(html, main_content=True)`

    .venv/bin/pip install -e '.[bench]' && .venv/bin/python benchmarks/peers.py
    .venv/bin/python benchmarks/peers.py --limit 20 --repeat 1 --systems cleaner,trafilatura

Evaluation data only: nothing here is used to train or tune (see ../shared/data/README.md).
"""

from __future__ import annotations

import os

# One thread: "pages/s in one process" must not be numpy/OpenMP spreading over every core.
# Must be set before numpy or scikit-learn are first imported.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import gzip  # noqa: E402
import json  # noqa: E402
import logging  # noqa: E402
import platform  # noqa: E402
import re  # noqa: E402
import signal  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import unicodedata  # noqa: E402
from collections import Counter, defaultdict  # noqa: E402
from collections.abc import Callable, Iterable, Sequence  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from datetime import datetime, timezone  # noqa: E402
from importlib.metadata import PackageNotFoundError, version  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # run as a plain script from anywhere
    sys.path.insert(0, str(REPO))

from cleaner import Cleaner  # noqa: E402
from cleaner.decode import decode  # noqa: E402
from cleaner.errors import CleanerError, EmptyPageError  # noqa: E402
from cleaner.segment import segment_html  # noqa: E402
from training.align import tokens  # noqa: E402
from training.inject import KINDS, load_vocabulary  # noqa: E402
from training.inject_html import (  # noqa: E402
    HtmlInjection,
    gold_content_test,
    inject_html_pages,
    snippet_content_test,
)
from training.io import default_data_dir  # noqa: E402

DATASETS = ("scrapinghub", "wcxb", "trafilatura-eval")
VARIANTS = ("clean", "injected")
SYSTEMS = ("cleaner", "cleaner-text", "trafilatura", "trafilatura-precision", "readability",
           "justext", "boilerpy3", "resiliparse")
OURS = ("cleaner", "cleaner-text")
DATASET_TITLES = {"scrapinghub": "scrapinghub (181 articles, gold articleBody)",
                  "wcxb": "WCXB test (511 pages, 7 types, gold main_content)",
                  "trafilatura-eval": "trafilatura-eval (990 pages, mostly German; snippets)"}


# ------------------------------------------------------------------------------------------
# Data
# ------------------------------------------------------------------------------------------


@dataclass
class EvalPage:
    """One page of a benchmark with everything any scorer needs."""

    dataset: str
    page_id: str
    page_type: str
    html: str
    gold: str | None  # reference text; None where the benchmark has only snippets
    with_: list[str] = field(default_factory=list)  # snippets that must survive
    without: list[str] = field(default_factory=list)  # snippets that must go
    injected_html: str | None = None
    injections: list[HtmlInjection] = field(default_factory=list)


def read_gz_text(path: Path) -> str | None:
    """A gzipped page decoded as cleaner decodes bytes (every system then gets the same str),
    or None for the rare file that cannot be decoded."""
    try:
        return decode(gzip.decompress(path.read_bytes()))
    except (OSError, CleanerError):
        return None


def load_scrapinghub(data: Path, limit: int | None) -> list[EvalPage]:
    """Scrapinghub's article-extraction benchmark: gold `articleBody` per page."""
    root = data / "scrapinghub"
    truth = json.loads((root / "ground-truth.json").read_text("utf-8"))
    out: list[EvalPage] = []
    for file_id in sorted(truth):
        if limit is not None and len(out) >= limit:
            break
        gold = truth[file_id].get("articleBody") or ""
        html = read_gz_text(root / "html" / f"{file_id}.html.gz")
        if html is not None and gold.strip():
            out.append(EvalPage("scrapinghub", file_id, "article", html, gold))
    return out


def load_wcxb(data: Path, limit: int | None) -> list[EvalPage]:
    """WCXB held-out test split: gold `main_content`, `with`/`without` snippets, page type from
    metadata.json."""
    split = data / "wcxb" / "test"
    meta = json.loads((data / "wcxb" / "metadata.json").read_text("utf-8"))["files"]
    out: list[EvalPage] = []
    for gt_path in sorted((split / "ground-truth").glob("*.json")):
        if limit is not None and len(out) >= limit:
            break
        gt = json.loads(gt_path.read_text("utf-8"))["ground_truth"]
        gold = gt.get("main_content") or ""
        html = read_gz_text(split / "html" / f"{gt_path.stem}.html.gz")
        if html is None or not gold.strip():
            continue
        ptype = meta.get(gt_path.stem, {}).get("page_type") or "unknown"
        out.append(EvalPage("wcxb", gt_path.stem, ptype, html, gold, list(gt.get("with") or []),
                            list(gt.get("without") or [])))
    return out


def load_trafilatura_eval(data: Path, limit: int | None) -> list[EvalPage]:
    """trafilatura's evaluation set: `with`/`without` snippets only, no gold text."""
    root = data / "trafilatura-eval"
    evaldata = json.loads((root / "evaldata.json").read_text("utf-8"))
    out: list[EvalPage] = []
    for url in sorted(evaldata):
        if limit is not None and len(out) >= limit:
            break
        item = evaldata[url]
        html = read_gz_text(root / "html" / f"{item['file']}.gz")
        if html is not None:
            out.append(EvalPage("trafilatura-eval", item["file"], "", html, None,
                                list(item.get("with") or []), list(item.get("without") or [])))
    return out


LOADERS: dict[str, Callable[[Path, int | None], list[EvalPage]]] = {
    "scrapinghub": load_scrapinghub, "wcxb": load_wcxb, "trafilatura-eval": load_trafilatura_eval,
}


def add_injections(pages: list[EvalPage], seed: int, data: Path) -> None:
    """Give every page an injected twin, with spam only from held-out vocabulary families and
    placed in the page's real article (told apart by its gold text, else its `with` snippets)."""
    vocab = load_vocabulary(data, holdout="test")
    items = []
    for p in pages:
        test = (gold_content_test(p.gold) if p.gold else
                snippet_content_test(p.with_) if p.with_ else None)
        items.append((p.html, test))
    for page, inj in zip(pages, inject_html_pages(items, seed, vocab, rate=1.0), strict=True):
        page.injected_html = inj.html
        page.injections = inj.injections


def text_dump(html: str) -> str:
    """The page as the text dump a scraper saves: its visible text blocks, one per line."""
    return "\n".join(u.text for u in segment_html(html).units)


# ------------------------------------------------------------------------------------------
# Systems
# ------------------------------------------------------------------------------------------


@dataclass
class System:
    """One extractor: a name, its package version and a function from page to text."""

    name: str
    version: str
    extract: Callable[[str], str]
    input: str = "html"  # "text": it gets the page's text dump, not its HTML


_BLOCKS = frozenset("""address article aside blockquote br dd div dl dt figcaption figure footer
    form h1 h2 h3 h4 h5 h6 header hr li main nav ol p pre section table td th tr ul""".split())


def html_to_text(fragment: str) -> str:
    """Text of an HTML fragment with a line break at every block element, so that words of two
    paragraphs are not glued together (lxml's text_content() would glue them)."""
    import lxml.html

    if not fragment or not fragment.strip():
        return ""
    root = lxml.html.fromstring(fragment)
    for el in root.iter():
        if isinstance(el.tag, str) and el.tag in _BLOCKS:
            el.tail = "\n" + (el.tail or "")
    return root.text_content()


# ISO 639-1 code -> jusText stoplist, for the languages of the benchmark pages and their
# neighbours; the vote picks among these.
JUSTEXT_LANGS = {
    "en": "English", "de": "German", "fr": "French", "es": "Spanish", "pl": "Polish",
    "it": "Italian", "pt": "Portuguese", "nl": "Dutch", "ru": "Russian", "fi": "Finnish",
    "hu": "Hungarian", "no": "Norwegian_Bokmal", "sv": "Swedish", "da": "Danish", "cs": "Czech",
    "tr": "Turkish", "ar": "Arabic", "el": "Greek", "uk": "Ukrainian", "ro": "Romanian",
    "id": "Indonesian", "vi": "Vietnamese", "ca": "Catalan", "hr": "Croatian", "sk": "Slovak",
    "sl": "Slovenian", "bg": "Bulgarian", "he": "Hebrew", "fa": "Persian", "ko": "Korean",
}
_LANG_ATTR = re.compile(r"<html\b[^>]*?\blang\s*=\s*[\"']?([a-zA-Z]{2})\b", re.I)
_TAGS = re.compile(r"<script\b.*?</script>|<style\b.*?</style>|<[^>]*>", re.S | re.I)


class JustextStoplists:
    """jusText needs the stoplist of the page's language and has no detector of its own. The
    page's `<html lang>` is often a template default (German sites declaring "en"), and stoplists
    alone confuse languages with many short stop words (Finnish, French) on English pages, so
    both decide: the stoplists vote with the page's words, and the declared language wins unless
    the vote's winner has twice its votes. No usable signal: English."""

    def __init__(self) -> None:
        import justext

        self.lists = {name: justext.get_stoplist(name) for name in JUSTEXT_LANGS.values()}
        self.by_word: dict[str, list[str]] = defaultdict(list)
        for name, words in self.lists.items():
            for w in words:
                self.by_word[w].append(name)

    def language(self, html: str) -> str:
        m = _LANG_ATTR.search(html[:20_000])
        declared = JUSTEXT_LANGS.get(m.group(1).lower()) if m else None
        votes: Counter[str] = Counter()
        for w in re.findall(r"\w+", _TAGS.sub(" ", html[:300_000]).lower())[:5000]:
            votes.update(self.by_word.get(w, ()))
        if not votes:
            return declared or "English"
        best, n = votes.most_common(1)[0]
        fallback = declared or "English"
        return fallback if 2 * votes[fallback] >= n else best

    def for_page(self, html: str) -> frozenset[str]:
        return self.lists[self.language(html)]


def _version(package: str) -> str:
    try:
        return version(package)
    except PackageNotFoundError:
        return "?"


def cleaner_system(name: str, cleaner: Cleaner) -> System:
    """cleaner on HTML (`cleaner`) or on the page's text dump (`cleaner-text`)."""
    html_mode = name == "cleaner"

    def run(page: str) -> str:
        try:
            res = cleaner.clean(html=page) if html_mode else cleaner.clean(text=page)
        except EmptyPageError:  # no text at all: an empty output, not a crash
            return ""
        return res.text

    return System(name, f"{_version('cleaner')} (model {cleaner.version})", run,
                  "html" if html_mode else "text")


def trafilatura_system(name: str) -> System:
    import trafilatura

    precision = name == "trafilatura-precision"

    def run(html: str) -> str:
        return trafilatura.extract(html, include_comments=False, favor_precision=precision) or ""

    return System(name, _version("trafilatura"), run)


def readability_system(name: str) -> System:
    from readability import Document

    return System(name, _version("readability-lxml"),
                  lambda html: html_to_text(Document(html).summary()))


def justext_system(name: str) -> System:
    import justext

    stoplists = JustextStoplists()

    def run(html: str) -> str:
        paragraphs = justext.justext(html, stoplists.for_page(html))
        return "\n".join(p.text for p in paragraphs if not p.is_boilerplate)

    return System(name, _version("justext"), run)


def boilerpy3_system(name: str) -> System:
    from boilerpy3 import extractors

    return System(name, _version("boilerpy3"), extractors.ArticleExtractor().get_content)


def resiliparse_system(name: str) -> System:
    from resiliparse.extract.html2text import extract_plain_text

    return System(name, _version("resiliparse"),
                  lambda html: extract_plain_text(html, main_content=True))


PEER_FACTORIES: dict[str, Callable[[str], System]] = {
    "trafilatura": trafilatura_system, "trafilatura-precision": trafilatura_system,
    "readability": readability_system, "justext": justext_system,
    "boilerpy3": boilerpy3_system, "resiliparse": resiliparse_system,
}


def make_systems(names: Sequence[str], model: Path | None) -> list[System]:
    """The requested systems, each peer imported only when asked for (one cleaner model load
    serves both cleaner modes)."""
    cleaner = Cleaner.load(model) if any(n in OURS for n in names) else None
    out = []
    for name in names:
        if name in OURS:
            assert cleaner is not None
            out.append(cleaner_system(name, cleaner))
        elif name in PEER_FACTORIES:
            try:
                out.append(PEER_FACTORIES[name](name))
            except ImportError as exc:
                raise SystemExit(f"peers.py: {name} is not installed ({exc}); "
                                 "install the peers with: pip install -e '.[bench]'") from exc
        else:
            raise ValueError(f"unknown system {name!r}; choose from {', '.join(SYSTEMS)}")
    for logger in ("trafilatura", "readability", "readability.readability", "htmldate",
                   "courlan", "justext", "boilerpy3"):
        logging.getLogger(logger).setLevel(logging.CRITICAL)  # their warnings are not results
    return out


class _Timeout(Exception):
    pass


def _on_alarm(signum: int, frame: Any) -> None:
    raise _Timeout


@dataclass
class Call:
    """One extraction: the text, its wall and CPU seconds, and how it ended."""

    text: str
    wall: float
    cpu: float
    status: str  # ok | empty | error | timeout


def run_system(system: System, page: str, timeout: float) -> Call:
    """Call one system on one page, timed; a raise or a timeout is an empty output."""
    previous = signal.signal(signal.SIGALRM, _on_alarm)
    signal.setitimer(signal.ITIMER_REAL, timeout)
    w, c = time.perf_counter(), time.process_time()
    try:
        text = system.extract(page) or ""
        status = "ok" if text.strip() else "empty"
    except _Timeout:
        text, status = "", "timeout"
    except Exception:  # a peer's failure on hostile markup is its result on that page
        text, status = "", "error"
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
    wall, cpu = time.perf_counter() - w, time.process_time() - c
    signal.signal(signal.SIGALRM, previous)
    return Call(text, wall, cpu, status)


# ------------------------------------------------------------------------------------------
# Metrics
# ------------------------------------------------------------------------------------------


def word_prf(pred: str, gold: str) -> tuple[float, float, float]:
    """Bag-of-words P/R/F1 (lowercased NFKC `\\w+`, multiset overlap), the same measure as
    bench_v1.py's. An empty output scores 0: a failed extraction is a failure."""
    p, g = Counter(tokens(pred)), Counter(tokens(gold))
    if not p and not g:
        return 1.0, 1.0, 1.0
    overlap = sum((p & g).values())
    prec = overlap / sum(p.values()) if p else 0.0
    rec = overlap / sum(g.values()) if g else 0.0
    f1 = 2 * prec * rec / (prec + rec) if prec + rec else 0.0
    return prec, rec, f1


def norm(text: str) -> str:
    """Whitespace-collapsed, lowercased form for snippet matching (as bench_v1.py)."""
    return " ".join(text.split()).lower()


def snippet_counts(output: str, with_: Sequence[str], without: Sequence[str]) -> Counter[str]:
    """trafilatura's own scoring of one page: tp/fn for `with`, fp/tn for `without`."""
    out = norm(output)
    c: Counter[str] = Counter()
    for s in with_:
        c["tp" if norm(s) in out else "fn"] += 1
    for s in without:
        c["fp" if norm(s) in out else "tn"] += 1
    return c


def snippet_summary(c: Counter[str]) -> dict[str, Any]:
    """Kept/leaked shares and snippet P/R/F1 over the summed counts."""
    tp, fn, fp, tn = c["tp"], c["fn"], c["fp"], c["tn"]
    prec = tp / (tp + fp) if tp + fp else 0.0
    rec = tp / (tp + fn) if tp + fn else 0.0
    return {"with": tp + fn, "with_kept": _rate(tp, tp + fn), "without": fp + tn,
            "without_leaked_n": fp, "without_leaked": _rate(fp, fp + tn),
            "precision": round(prec, 4), "recall": round(rec, 4),
            "f1": round(2 * prec * rec / (prec + rec), 4) if prec + rec else 0.0}


def _spam_norm(text: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def spam_kept(injections: Sequence[HtmlInjection], clean_out: str, injected_out: str
              ) -> list[bool]:
    """Which injections a system kept: any part of it occurs more often in the output on the
    injected page than in the output on the clean page. Each surplus occurrence is credited to
    one injection only, so a keyword a spammer used twice counts twice only if kept twice."""
    clean, dirty = _spam_norm(clean_out), _spam_norm(injected_out)
    surplus: dict[str, int] = {}
    kept = []
    for inj in injections:
        hit = False
        for part in {_spam_norm(p) for p in inj.parts}:
            if len(part) < 3:
                continue
            if part not in surplus:
                surplus[part] = max(0, dirty.count(part) - clean.count(part))
            if surplus[part] > 0:
                surplus[part] -= 1
                hit = True
        kept.append(hit)
    return kept


def _rate(n: int, d: int) -> float | None:
    return round(n / d, 4) if d else None


def macro(rows: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """Macro averages of per-page word scores."""
    rows = list(rows)
    if not rows:
        return {"pages": 0, "p": None, "r": None, "f1": None}
    return {"pages": len(rows), **{k: round(statistics.fmean(r[k] for r in rows), 4)
                                   for k in ("p", "r", "f1")}}


@dataclass
class Tally:
    """What one system did on one (dataset, variant) slice."""

    words: list[dict[str, Any]] = field(default_factory=list)  # per page, pages with gold
    snippets: Counter[str] = field(default_factory=Counter)
    spam_total: Counter[str] = field(default_factory=Counter)  # by kind
    spam_kept: Counter[str] = field(default_factory=Counter)  # by kind
    status: Counter[str] = field(default_factory=Counter)
    wall: list[float] = field(default_factory=list)  # per repeat: seconds summed over pages
    cpu: list[float] = field(default_factory=list)
    pages: int = 0


def score_page(t: Tally, page: EvalPage, call: Call) -> None:
    """Word and snippet scores of one output."""
    t.status[call.status] += 1
    if page.gold is not None:
        p, r, f = word_prf(call.text, page.gold)
        t.words.append({"page": page.page_id, "page_type": page.page_type, "p": round(p, 4),
                        "r": round(r, 4), "f1": round(f, 4), "status": call.status})
    if page.with_ or page.without:
        t.snippets += snippet_counts(call.text, page.with_, page.without)


def score_spam(t: Tally, page: EvalPage, clean: Call, injected: Call) -> None:
    for inj, kept in zip(page.injections, spam_kept(page.injections, clean.text, injected.text),
                         strict=True):
        t.spam_total[inj.kind] += 1
        t.spam_kept[inj.kind] += int(kept)


# ------------------------------------------------------------------------------------------
# The run
# ------------------------------------------------------------------------------------------


def _progress(msg: str) -> None:
    print(f"[peers] {msg}", file=sys.stderr, flush=True)


def run_dataset(pages: list[EvalPage], systems: list[System], repeat: int, timeout: float
                ) -> dict[tuple[str, str], Tally]:
    """Every system on every page, clean and injected; `repeat` timed passes, scored once.

    Page-major order, with the systems' order rotated from page to page: whatever else the
    machine is doing falls on every system alike."""
    tallies = {(s.name, v): Tally() for s in systems for v in VARIANTS}
    dumps = {}
    if any(s.input == "text" for s in systems):
        dumps = {(p.page_id, v): text_dump(p.html if v == "clean" else p.injected_html or "")
                 for p in pages for v in VARIANTS}
    for rep in range(repeat):
        totals = {k: [0.0, 0.0] for k in tallies}
        t0 = time.perf_counter()
        for k, page in enumerate(pages):
            order = systems[k % len(systems):] + systems[: k % len(systems)]
            for system in order:
                calls = {}
                for v in VARIANTS:
                    src = page.html if v == "clean" else page.injected_html or page.html
                    inp = dumps[(page.page_id, v)] if system.input == "text" else src
                    call = run_system(system, inp, timeout)
                    totals[(system.name, v)][0] += call.wall
                    totals[(system.name, v)][1] += call.cpu
                    if rep == 0:
                        score_page(tallies[(system.name, v)], page, call)
                    calls[v] = call
                if rep == 0:
                    score_spam(tallies[(system.name, "injected")], page, calls["clean"],
                               calls["injected"])
            if (k + 1) % 50 == 0:
                _progress(f"  pass {rep + 1}/{repeat}: {k + 1}/{len(pages)} pages, "
                          f"{time.perf_counter() - t0:.0f} s")
        for key, (wall, cpu) in totals.items():
            tallies[key].wall.append(wall)
            tallies[key].cpu.append(cpu)
            tallies[key].pages = len(pages)
    return tallies


def speed_of(tallies: Iterable[Tally]) -> dict[str, Any]:
    """Pages/s over the given slices: per pass, seconds summed over slices; median of passes."""
    tallies = list(tallies)
    if not tallies:
        return {}
    n = sum(t.pages for t in tallies)
    walls = [sum(x) for x in zip(*(t.wall for t in tallies), strict=True)]
    cpus = [sum(x) for x in zip(*(t.cpu for t in tallies), strict=True)]
    wall, cpu = statistics.median(walls), statistics.median(cpus)
    return {"pages": n, "wall_s": round(wall, 3), "cpu_s": round(cpu, 3),
            "pages_per_s": round(n / wall, 2) if wall else None,
            "pages_per_cpu_s": round(n / cpu, 2) if cpu else None,
            "wall_s_passes": [round(w, 3) for w in walls]}


def summarise(pages_by_ds: dict[str, list[EvalPage]], systems: list[System],
              tallies: dict[tuple[str, str, str], Tally]) -> dict[str, Any]:
    """Per system: words, snippets, spam, status and speed, by dataset and variant."""
    out: dict[str, Any] = {}
    for s in systems:
        res: dict[str, Any] = {"version": s.version, "input": s.input, "words": {},
                               "snippets": {}, "spam": {}, "status": {}, "speed": {}}
        for ds, pages in pages_by_ds.items():
            types = sorted({p.page_type for p in pages}) if ds == "wcxb" else []
            for v in VARIANTS:
                t = tallies[(s.name, ds, v)]
                key = f"{ds}/{v}"
                res["status"][key] = dict(t.status)
                if t.words:
                    res["words"][key] = {"all": macro(t.words), **{
                        pt: macro(w for w in t.words if w["page_type"] == pt) for pt in types}}
                if t.snippets:
                    res["snippets"][key] = snippet_summary(t.snippets)
                if v == "injected":
                    res["spam"][ds] = spam_summary(t.spam_total, t.spam_kept)
            res["speed"][ds] = speed_of(tallies[(s.name, ds, v)] for v in VARIANTS)
        total: Counter[str] = Counter()
        kept: Counter[str] = Counter()
        for ds in pages_by_ds:
            total += tallies[(s.name, ds, "injected")].spam_total
            kept += tallies[(s.name, ds, "injected")].spam_kept
        res["spam"]["all"] = spam_summary(total, kept)
        res["speed"]["all"] = speed_of(tallies[(s.name, ds, v)] for ds in pages_by_ds
                                       for v in VARIANTS)
        res["pages"] = {f"{ds}/{v}": tallies[(s.name, ds, v)].words
                        for ds in pages_by_ds for v in VARIANTS}
        out[s.name] = res
    return out


def spam_summary(total: Counter[str], kept: Counter[str]) -> dict[str, Any]:
    """Removal rate per kind and over all kinds."""
    by_kind = {k: {"n": total[k], "removed": _rate(total[k] - kept[k], total[k])}
               for k in KINDS if total[k]}
    n = sum(total.values())
    return {"n": n, "removed": _rate(n - sum(kept.values()), n), "by_kind": by_kind}


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def run(args: argparse.Namespace) -> dict[str, Any]:
    """The whole benchmark; returns the results dict that is rendered and saved."""
    started = time.perf_counter()
    systems = make_systems(args.systems, args.model)
    warm = "<html><body><h1>Warm up</h1><p>" + "Some words of text. " * 20 + "</p></body></html>"
    for s in systems:  # lazy imports and first-call set-up are not extraction time
        run_system(s, warm if s.input == "html" else text_dump(warm), args.timeout)
    meta: dict[str, Any] = {
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "cpus": os.cpu_count(), "cpu_model": cpu_model(),
        "loadavg_start": [round(x, 2) for x in os.getloadavg()],
        "python": platform.python_version(), "threads": os.environ.get("OMP_NUM_THREADS"),
        "seed": args.seed, "limit": args.limit, "repeat": args.repeat, "timeout_s": args.timeout,
        "versions": {s.name: s.version for s in systems},
    }
    pages_by_ds: dict[str, list[EvalPage]] = {}
    tallies: dict[tuple[str, str, str], Tally] = {}
    for d_i, ds in enumerate(args.datasets):
        _progress(f"loading {ds}")
        pages = LOADERS[ds](args.data, args.limit)
        add_injections(pages, args.seed + 100 * d_i, args.data)
        pages_by_ds[ds] = pages
        n_inj = Counter(i.kind for p in pages for i in p.injections)
        _progress(f"{ds}: {len(pages)} pages, {sum(n_inj.values())} injections; running "
                  f"{len(systems)} systems × {args.repeat} passes")
        for (name, v), t in run_dataset(pages, systems, args.repeat, args.timeout).items():
            tallies[(name, ds, v)] = t
    meta["pages"] = {ds: len(p) for ds, p in pages_by_ds.items()}
    meta["injections"] = {ds: dict(Counter(i.kind for p in pages for i in p.injections))
                          for ds, pages in pages_by_ds.items()}
    meta["page_types"] = {ds: dict(Counter(p.page_type for p in pages))
                          for ds, pages in pages_by_ds.items() if ds == "wcxb"}
    meta["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
    results = {"meta": meta, "systems": summarise(pages_by_ds, systems, tallies)}
    results["targets"] = targets(results)
    meta["runtime_s"] = round(time.perf_counter() - started, 1)
    return results


# ------------------------------------------------------------------------------------------
# Targets (issue 3)
# ------------------------------------------------------------------------------------------


def _get(d: dict[str, Any], *keys: str) -> Any:
    for k in keys:
        if not isinstance(d, dict) or k not in d:
            return None
        d = d[k]
    return d


def targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Each target of issue 3 beside its measured figure; a target whose systems or dataset
    were not run is left out."""
    sy = results["systems"]
    peers = [n for n in sy if n not in OURS]
    out: list[dict[str, Any]] = []

    def put(what: str, measured: str, met: bool) -> None:
        out.append({"target": what, "measured": measured, "met": met})

    f1 = {n: _get(sy[n], "words", "scrapinghub/clean", "all", "f1") for n in sy}
    if f1.get("cleaner") is not None:
        best = max(((f1[n], n) for n in peers if f1[n] is not None), default=None)
        put("scrapinghub word F1 ≥ 0.96 and above every peer",
            f"{f1['cleaner']:.3f}" + (f" (best peer {best[1]} {best[0]:.3f})" if best else ""),
            f1["cleaner"] >= 0.96 and (best is None or f1["cleaner"] > best[0]))
    tr = _get(sy, "trafilatura", "snippets", "trafilatura-eval/clean")
    for n in OURS:
        sn = _get(sy, n, "snippets", "trafilatura-eval/clean")
        if sn is None:
            continue
        ok = sn["with_kept"] is not None and sn["with_kept"] >= 0.97
        msg = f"F1 {sn['f1']:.3f}, with kept {100 * (sn['with_kept'] or 0):.1f}%"
        if tr is not None:
            ok = ok and sn["f1"] > tr["f1"]
            msg += f" (trafilatura F1 {tr['f1']:.3f})"
        put(f"trafilatura-eval snippet F1 above trafilatura's, ≥ 97% with kept ({n})", msg, ok)
    w = _get(sy, "cleaner", "words", "wcxb/clean", "all", "f1")
    if w is not None:
        leaks = _get(sy, "cleaner", "snippets", "wcxb/clean", "without_leaked_n")
        tleaks = _get(sy, "trafilatura", "snippets", "wcxb/clean", "without_leaked_n")
        msg = f"F1 {w:.3f}, without leaked {leaks}"
        ok = w >= 0.86
        if tleaks is not None and leaks is not None:
            msg += f" (trafilatura {tleaks})"
            ok = ok and leaks < tleaks
        put("wcxb/test word F1 ≥ 0.86, fewer without[] leaks than trafilatura", msg, ok)
    rem = _get(sy, "cleaner", "spam", "all", "removed")
    if rem is not None:
        peer_rem = {n: _get(sy, n, "spam", "all", "removed") for n in peers}
        worst = max(((r, n) for n, r in peer_rem.items() if r is not None), default=None)
        msg = f"{100 * rem:.1f}% removed" + (
            f" (the most any peer removed: {worst[1]} {100 * worst[0]:.1f}%)" if worst else "")
        put("injected pages: ≥ 98% of spam removed, every peer keeps most of it", msg,
            rem >= 0.98 and (worst is None or worst[0] < 0.5))
    ours = _get(sy, "cleaner", "speed", "all", "pages_per_s")
    theirs = _get(sy, "trafilatura", "speed", "all", "pages_per_s")
    if ours and theirs:
        put("speed ≥ 10 × trafilatura's pages/s, one process",
            f"{ours:.1f} vs {theirs:.1f} pages/s = {ours / theirs:.2f} ×", ours >= 10 * theirs)
    return out


# ------------------------------------------------------------------------------------------
# Report: markdown, paste-ready for docs/benchmarks.md, and the plot
# ------------------------------------------------------------------------------------------


def md_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A markdown table (numbers right-aligned)."""
    def cell(x: Any) -> str:
        return "–" if x is None else str(x)

    body = [[cell(c) for c in r] for r in rows]
    align = ["---" if k == 0 else "---:" for k in range(len(headers))]
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join(align) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in body]
    return "\n".join(lines)


def _f(x: float | None, pct: bool = False) -> str | None:
    if x is None:
        return None
    return f"{100 * x:.1f}%" if pct else f"{x:.3f}"


def _prf(d: dict[str, Any] | None) -> str | None:
    if not d or not d.get("pages"):
        return None
    return f"**{d['f1']:.3f}** ({d['p']:.3f}/{d['r']:.3f})"


def render(results: dict[str, Any], plot: Path | None = None) -> str:
    """The report as markdown."""
    m, sy = results["meta"], results["systems"]
    names = list(sy)
    out = [f"Run {m['date']}: `{m['command']}`; {m['cpus']} cores ({m['cpu_model']}), load "
           f"average {m['loadavg_start']} at start, {m['loadavg_end']} at the end; Python "
           f"{m['python']}, one thread; seed {m['seed']}, timing median of {m['repeat']} "
           f"pass(es), time limit {m['timeout_s']} s per call; pages "
           + ", ".join(f"{ds} {n}" for ds, n in m["pages"].items())
           + (f" (limit {m['limit']} per dataset)" if m["limit"] else "") + ".",
           "", "Versions: " + ", ".join(f"{n} {v}" for n, v in m["versions"].items()) + ".",
           "", "Injected spam (held-out vocabulary, every page): " + "; ".join(
               f"{ds}: " + ", ".join(f"{k} {c}" for k, c in sorted(inj.items()))
               for ds, inj in m["injections"].items()) + "."]

    word_ds = [ds for ds in ("scrapinghub", "wcxb") if ds in m["pages"]]
    if word_ds:
        headers = ["system"] + [f"{ds} {v}" for ds in word_ds for v in VARIANTS]
        rows = [[n] + [_prf(_get(sy[n], "words", f"{ds}/{v}", "all")) for ds in word_ds
                       for v in VARIANTS] for n in names]
        out += ["", "**Word F1 (P/R) against the gold text, macro over pages**", "",
                md_table(headers, rows)]
    if "wcxb" in m["pages"]:
        types = sorted(m["page_types"]["wcxb"])
        headers = ["system"] + [f"{t} ({m['page_types']['wcxb'][t]})" for t in types]
        rows = [[n] + [_f(_get(sy[n], "words", "wcxb/clean", t, "f1")) for t in types]
                for n in names]
        out += ["", "**WCXB test: word F1 by page type (clean pages)**", "",
                md_table(headers, rows)]
    snip_ds = [ds for ds in ("trafilatura-eval", "wcxb") if ds in m["pages"]]
    if snip_ds:
        headers = ["system"]
        for ds in snip_ds:
            headers += [f"{ds} with kept", f"{ds} without leaked", f"{ds} snippet F1",
                        f"{ds} + spam F1"]
        rows = []
        for n in names:
            row = [n]
            for ds in snip_ds:
                c = _get(sy[n], "snippets", f"{ds}/clean") or {}
                i = _get(sy[n], "snippets", f"{ds}/injected") or {}
                row += [_f(c.get("with_kept"), True),
                        f"{_f(c.get('without_leaked'), True)} ({c.get('without_leaked_n')})"
                        if c else None, _f(c.get("f1")), _f(i.get("f1"))]
            rows.append(row)
        out += ["", "**Snippets: `with` kept, `without` leaked (count), snippet F1 (trafilatura's "
                "scoring), clean and injected pages**", "", md_table(headers, rows)]
    headers = ["system", "all kinds"] + list(KINDS)
    rows = []
    for n in names:
        sp = sy[n]["spam"]["all"]
        rows.append([n, _f(sp["removed"], True)] + [
            _f(_get(sp, "by_kind", k, "removed"), True) for k in KINDS])
    n_all = sy[names[0]]["spam"]["all"]["n"] if names else 0
    out += ["", f"**Injected spam removed, by kind ({n_all} injections over all datasets)**",
            "", md_table(headers, rows)]
    traf = _get(sy, "trafilatura", "speed", "all", "pages_per_s")
    headers = ["system", "input", "pages/s", "pages/CPU-s", "× trafilatura", "errors",
               "timeouts", "empty outputs"]
    rows = []
    for n in names:
        sp = sy[n]["speed"]["all"]
        st: Counter[str] = Counter()
        for c in sy[n]["status"].values():
            st.update(c)
        ratio = f"{sp['pages_per_s'] / traf:.2f}" if traf and sp.get("pages_per_s") else None
        rows.append([n, sy[n]["input"], sp.get("pages_per_s"), sp.get("pages_per_cpu_s"), ratio,
                     st["error"], st["timeout"], st["empty"]])
    n_calls = sy[names[0]]["speed"]["all"]["pages"] if names else 0
    out += ["", f"**Speed: extraction calls only, one process, one thread ({n_calls} page "
            f"calls, clean and injected; median of {m['repeat']} pass(es))**", "",
            md_table(headers, rows)]
    if results["targets"]:
        rows = [[t["target"], t["measured"], "yes" if t["met"] else "**no**"]
                for t in results["targets"]]
        out += ["", "**Targets (issue 3)**", "", md_table(["target", "measured", "met"], rows)]
    if plot is not None:
        out += ["", f"![word F1 against pages/s]({plot.name})"]
    return "\n".join(out)


def make_plot(results: dict[str, Any], path: Path) -> bool:
    """Word F1 against pages/s (log x), one point per HTML system, one panel per dataset with
    a gold text. Returns False when there is nothing to plot."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    sy = results["systems"]
    panels = [ds for ds in ("scrapinghub", "wcxb") if any(
        _get(s, "words", f"{ds}/clean", "all", "f1") is not None for s in sy.values())]
    if not panels:
        return False
    fig, axes = plt.subplots(1, len(panels), figsize=(6 * len(panels), 4.6), squeeze=False)
    for ax, ds in zip(axes[0], panels, strict=True):
        points = []
        for n, s in sy.items():
            f1 = _get(s, "words", f"{ds}/clean", "all", "f1")
            speed = _get(s, "speed", ds, "pages_per_s")
            if s["input"] != "html" or f1 is None or not speed:
                continue
            ours = n in OURS
            ax.scatter([speed], [f1], s=90 if ours else 50, marker="*" if ours else "o",
                       color="tab:red" if ours else "tab:blue", zorder=3)
            points.append((n, speed, f1))
        ax.set_xscale("log")
        _label_points(ax, points)
        ax.xaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
        ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _: f"{x:g}"))
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_xlabel("pages/s, one process, one thread (log scale)")
        ax.set_ylabel("word F1 (macro over pages)")
        ax.set_title(DATASET_TITLES[ds].split(" (")[0] + " (clean pages)")
        ax.grid(True, which="both", alpha=0.3)
    fig.suptitle(f"HTML extraction: accuracy against speed ({results['meta']['date']})",
                 fontsize=11)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return True


def _label_points(ax: Any, points: list[tuple[str, float, float]]) -> None:
    """Name every point, moving a label to another side of its point when it would cover an
    earlier label (systems of similar speed and F1 sit close together)."""
    ax.autoscale_view()
    to_px = ax.transData.transform
    placed: list[tuple[float, float, float, float]] = []
    sides = [(6, 4, "left"), (6, -12, "left"), (-6, 4, "right"), (-6, -12, "right"),
             (6, 14, "left"), (6, -22, "left")]
    for name, x, y in sorted(points, key=lambda p: -p[2]):
        px, py = to_px((x, y))
        width = 6.0 * len(name)
        for dx, dy, ha in sides:
            x0 = px + dx if ha == "left" else px + dx - width
            box = (x0, py + dy, x0 + width, py + dy + 10)
            if not any(box[0] < b[2] and b[0] < box[2] and box[1] < b[3] and b[1] < box[3]
                       for b in placed):
                break
        placed.append(box)
        ax.annotate(name, (x, y), textcoords="offset points", xytext=(dx, dy), ha=ha,
                    fontsize=9)


def write_json(path: Path, obj: Any) -> None:
    """Atomically: a killed run never leaves half a results file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(obj, f, indent=1, ensure_ascii=False)
        f.write("\n")
    os.replace(tmp, path)


# ------------------------------------------------------------------------------------------
# Main
# ------------------------------------------------------------------------------------------


def _names(value: str, allowed: Sequence[str], what: str) -> list[str]:
    names = [v.strip() for v in value.split(",") if v.strip()]
    bad = [n for n in names if n not in allowed]
    if bad or not names:
        raise argparse.ArgumentTypeError(
            f"unknown {what} {', '.join(bad) or '(none)'}; choose from {', '.join(allowed)}")
    return names


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, default=None,
                        help="cleaner model artifact (default: the shipped model)")
    parser.add_argument("--data", type=Path, default=default_data_dir(),
                        help="shared data folder (default: ../shared/data)")
    parser.add_argument("--systems", type=lambda v: _names(v, SYSTEMS, "system"),
                        default=list(SYSTEMS), help="comma-separated (default: all): "
                        + ",".join(SYSTEMS))
    parser.add_argument("--datasets", type=lambda v: _names(v, DATASETS, "dataset"),
                        default=list(DATASETS), help="comma-separated (default: all): "
                        + ",".join(DATASETS))
    parser.add_argument("--limit", type=int, default=None,
                        help="at most N pages per dataset (quick runs)")
    parser.add_argument("--repeat", type=int, default=3, help="timed passes (median reported)")
    parser.add_argument("--timeout", type=float, default=30.0,
                        help="seconds one system may spend on one page")
    parser.add_argument("--seed", type=int, default=1, help="seed of the injections")
    parser.add_argument("--out", type=Path, default=REPO / "out" / "peers.json",
                        help="results JSON (default: out/peers.json)")
    parser.add_argument("--plot", type=Path, default=REPO / "docs" / "peers.png",
                        help="the F1-against-speed plot (default: docs/peers.png)")
    parser.add_argument("--no-plot", action="store_true")
    parser.add_argument("--render", type=Path, default=None, metavar="JSON",
                        help="print the report (and plot) of a saved results file; run nothing")
    args = parser.parse_args(argv)
    if args.data is None or not args.data.is_dir():
        parser.error("no shared data folder found; pass --data")
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    if args.render is not None:  # re-render a saved run: no page is cleaned
        results = json.loads(args.render.read_text("utf-8"))
    else:
        results = run(args)
    plot = None
    if not args.no_plot and make_plot(results, args.plot):
        plot = args.plot
    if args.render is None:
        write_json(args.out, results)
    print(render(results, plot))
    wrote = ([] if args.render is not None else [str(args.out)]) + ([str(plot)] if plot else [])
    print(f"\nwrote {' and '.join(wrote) or 'nothing'} (run took "
          f"{results['meta']['runtime_s']} s)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
