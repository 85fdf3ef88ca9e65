"""Benchmark v1: every figure cleaner promises, measured in one run beside its peer (trafilatura).

Why one script: a figure measured alone (a speed on another day, an F1 on other pages) can always
be made to look good. Here accuracy, spam removal, content loss and speed come from the same
pages, the same model file and the same process, and trafilatura is run on exactly those pages
in that process, so every number has a comparison that cannot drift away from it.

What it measures (docs/benchmarks.md has the latest figures and the targets):

1. unit labels (content / boilerplate / spam): precision, recall, F1 against the alignment of
   each page with its gold text (`training.align`), plus the injector's labels for spam units;
2. words of the sanitized article (`Result.text`) against the gold text: lowercased `\\w+`
   multiset overlap, macro-averaged over pages; per WCXB page type; clean and injected pages;
3. spam removal by injection kind, with vocabulary families the model never trained on
   (`holdout="test"`, fixed seed);
4. content loss: word recall on pages without injections;
5. trafilatura's evaluation set: `with` snippets kept, `without` snippets leaked;
6. trafilatura's own figures on the same pages, in the same run;
7. speed (text and HTML input, median of `--repeat` runs, one thread), model load time, model
   file size, and the peak resident memory of a fresh process that loads the model and cleans
   100 pages.

Every page is cleaned twice per variant: as HTML (its block units) and as a text dump of the same
blocks, one per line, because scrapers hand cleaner both and the two are separate promises.

    .venv/bin/python benchmarks/bench_v1.py                       # full run, shipped model
    .venv/bin/python benchmarks/bench_v1.py --model /tmp/m2/default.joblib --limit 20 --repeat 1

Evaluation data only: nothing here is used to train or tune (see ../shared/data/README.md).
"""

from __future__ import annotations

import os

# "On one core" must be true of the measurement, not assumed: the gradient-boosted stage and
# numpy would otherwise spread prediction over every core through OpenMP/BLAS thread pools.
# These must be set before numpy or scikit-learn are first imported.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import gzip  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import random  # noqa: E402
import resource  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections import Counter, defaultdict  # noqa: E402
from collections.abc import Callable, Iterable, Iterator, Sequence  # noqa: E402
from dataclasses import dataclass, field, fields  # noqa: E402
from datetime import datetime, timezone  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # run as a plain script from anywhere, without installing
    sys.path.insert(0, str(REPO))

from cleaner.cleaning import Cleaner  # noqa: E402
from cleaner.decode import decode  # noqa: E402
from cleaner.errors import CleanerError  # noqa: E402
from cleaner.model import DEFAULT_MODEL  # noqa: E402
from cleaner.result import Result  # noqa: E402
from cleaner.segment import segment_html, segment_text  # noqa: E402
from cleaner.units import Page, Unit  # noqa: E402
from training.align import align_labels, tokens  # noqa: E402
from training.build_dataset import text_dump, unit_to_dict  # noqa: E402
from training.io import default_data_dir  # noqa: E402

# Injection kinds that add a unit of their own vs. those that splice spam into a real unit.
UNIT_KINDS = ("byline_replace", "promo_paragraph", "foreign_headline", "link_farm")
INUNIT_KINDS = ("splice_in_word", "splice_between_words", "promo_sentence_append")
MODES = ("html", "text")
DATASETS = ("wcxb", "scrapinghub")

TARGETS: dict[str, dict[str, Any]] = {
    "example_page_exact": {"target": "exact", "what": "the example page comes out exactly"},
    "spam_removed": {"target": 0.97, "what": "injected spam removed (unseen vocabulary)"},
    "content_word_recall": {"target": 0.97, "what": "word recall on pages without injections"},
    "with_kept": {"target": 0.95, "what": "trafilatura-eval `with` snippets kept"},
    "article_f1_vs_trafilatura": {"target": "≥ trafilatura", "what": "article word F1"},
    "text_lines_per_s": {"target": 20000, "what": "text input lines/s on one core"},
    "model_load_s": {"target": 1.0, "what": "model load time (s)"},
    "model_file_mb": {"target": 25.0, "what": "model file size (MB)"},
    "serving_rss_mb": {"target": 300.0, "what": "resident memory, load + 100 pages (MB)"},
    "spliced_repaired_exactly": {"target": 0.95,
                                 "what": "spliced spans excised, line repaired exactly"},
    "clean_lines_altered": {"target": 0.002, "what": "clean content lines altered (≤)"},
    "small_lines_altered": {"target": 0.002,
                            "what": "the same on small pages (crops of WCXB test pages, ≤)"},
    "span_time_share": {"target": 0.30, "what": "time added by span detection (≤)"},
}

_UNIT_FIELDS = frozenset(f.name for f in fields(Unit))


# ------------------------------------------------------------------------------------------
# Data
# ------------------------------------------------------------------------------------------


@dataclass
class BenchPage:
    """One evaluation page with everything both systems need: the raw HTML (for trafilatura and
    for HTML-mode speed), the gold text, and the labelled records of both input modes."""

    dataset: str
    page_id: str
    page_type: str
    html: str
    gold: str
    records: dict[str, dict]  # mode -> labelled record (docs/data-format.md)
    dump: str  # the text-mode record rendered as the text a scraper would save


def render_text(units: Sequence[dict]) -> str:
    """A text record back as a text page: unit `index` is the line number, other lines blank.
    Cleaning this string exercises the real text path (segmenting included)."""
    if not units:
        return ""
    lines = [""] * (max(int(u["index"]) for u in units) + 1)
    for u in units:
        lines[int(u["index"])] = u["text"]
    return "\n".join(lines)


def labelled(dataset: str, page_id: str, page_type: str, html: str, gold: str,
             rng: random.Random) -> BenchPage | None:
    """The page as HTML and text records, labelled exactly as training labels WCXB
    (`training.build_dataset.build_records`), so unit figures mean the same as the manifest's."""
    page = segment_html(html)
    if not gold.strip() or not page.units:
        return None
    labels = align_labels([u.text for u in page.units], gold)
    common = {"source": f"{dataset}/{page_id}", "page_type": page_type, "labels": labels}
    html_rec = {"id": f"{dataset}-{page_id}-html", "kind": "html", **common,
                "units": [unit_to_dict(u) for u in page.units]}
    text_rec = {"id": f"{dataset}-{page_id}-text", "kind": "text", **common,
                "units": [unit_to_dict(u) for u in text_dump(page.units, rng)]}
    return BenchPage(dataset, page_id, page_type, html, gold,
                     {"html": html_rec, "text": text_rec}, render_text(text_rec["units"]))


def read_gz_text(path: Path) -> str | None:
    """Decoded page text, or None for the rare file cleaner itself refuses to decode."""
    try:
        return decode(gzip.decompress(path.read_bytes()))
    except CleanerError:
        return None


def load_wcxb(data: Path, limit: int | None, rng: random.Random) -> list[BenchPage]:
    """WCXB held-out test split with page types from metadata.json."""
    split = data / "wcxb" / "test"
    meta = json.loads((data / "wcxb" / "metadata.json").read_text("utf-8"))["files"]
    out: list[BenchPage] = []
    for gt_path in sorted((split / "ground-truth").glob("*.json")):
        if limit is not None and len(out) >= limit:
            break
        html_path = split / "html" / f"{gt_path.stem}.html.gz"
        html = read_gz_text(html_path) if html_path.exists() else None
        if html is None:
            continue
        gold = json.loads(gt_path.read_text("utf-8"))["ground_truth"].get("main_content") or ""
        ptype = meta.get(gt_path.stem, {}).get("page_type", "")
        page = labelled("wcxb", gt_path.stem, ptype, html, gold, rng)
        if page is not None:
            out.append(page)
    return out


def load_scrapinghub(data: Path, limit: int | None, rng: random.Random) -> list[BenchPage]:
    """Scrapinghub article benchmark; every page is an article."""
    root = data / "scrapinghub"
    truth = json.loads((root / "ground-truth.json").read_text("utf-8"))
    out: list[BenchPage] = []
    for file_id in sorted(truth):
        if limit is not None and len(out) >= limit:
            break
        html_path = root / "html" / f"{file_id}.html.gz"
        html = read_gz_text(html_path) if html_path.exists() else None
        if html is None:
            continue
        gold = truth[file_id].get("articleBody") or ""
        page = labelled("scrapinghub", file_id, "article", html, gold, rng)
        if page is not None:
            out.append(page)
    return out


def inject(records: Iterable[dict], seed: int, data: Path) -> list[dict]:
    """Every record with spam drawn only from held-out vocabulary families, so the spam
    figures measure generalisation, not recall of training strings."""
    from training.inject import inject_records, load_vocabulary

    vocab = load_vocabulary(data, holdout="test")
    return list(inject_records(records, seed=seed, vocab=vocab, rate=1.0))


# ------------------------------------------------------------------------------------------
# Cleaning and scoring
# ------------------------------------------------------------------------------------------


def to_page(rec: dict) -> Page:
    """A labelled record as the Page the cleaner's own segmenter would have produced."""
    return Page(units=[Unit(**{k: v for k, v in u.items() if k in _UNIT_FIELDS})
                       for u in rec["units"]], kind=rec["kind"])


def clean_record(cleaner: Cleaner, rec: dict, fallbacks: Counter) -> Result:
    """Clean a record; text records go through `clean(text=...)` (the path users call) as long
    as re-segmenting the rendered text gives back the record's units one for one, so that
    `Result.lines[i]` is unit i; otherwise (a unit with a newline in it) the units directly."""
    if rec["kind"] == "text":
        res = cleaner.clean(text=render_text(rec["units"]))
        if [ln.text for ln in res.lines] == [u["text"] for u in rec["units"]]:
            return res
        fallbacks["text_units_direct"] += 1
    return cleaner.clean_page(to_page(rec))


def word_prf(pred: str, gold: str) -> tuple[float, float, float]:
    """Bag-of-words precision/recall/F1 (lowercased NFKC `\\w+`, multiset overlap), the measure
    the article-extraction benchmarks publish. An empty output scores 0: a failed extraction
    is a failure, for cleaner and trafilatura alike."""
    p, g = Counter(tokens(pred)), Counter(tokens(gold))
    if not p and not g:
        return 1.0, 1.0, 1.0
    overlap = sum((p & g).values())
    prec = overlap / sum(p.values()) if p else 0.0
    rec = overlap / sum(g.values()) if g else 0.0
    f1 = 2 * prec * rec / (prec + rec) if prec + rec else 0.0
    return prec, rec, f1


@dataclass
class SpamTally:
    """Removal counts of one injection kind."""

    total: int = 0
    removed: int = 0  # not kept as content (unit kinds) / injected text gone (in-unit kinds)
    exact: int = 0  # in-unit kinds: the unit came back exactly as it was before injection
    dropped: int = 0  # in-unit kinds: the whole (real) unit was dropped with its spam

    def as_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"total": self.total, "removed": self.removed,
                             "removed_rate": _rate(self.removed, self.total)}
        d.update({"exact": self.exact, "exact_rate": _rate(self.exact, self.total),
                  "dropped": self.dropped, "dropped_rate": _rate(self.dropped, self.total)})
        return d


def _rate(n: int, d: int) -> float | None:
    return round(n / d, 4) if d else None


def tally_injections(rec: dict, res: Result, tallies: dict[str, SpamTally]) -> None:
    """Score every injection of one page against what the cleaner kept."""
    for inj in rec.get("injections") or []:
        kind, unit = inj["kind"], inj["unit"]
        line = res.lines[unit]
        t = tallies.setdefault(kind, SpamTally())
        if kind in INUNIT_KINDS:
            piece = str(inj.get("text", "")).strip()
            original = str(inj.get("original", ""))
            kept = line.clean_text
            t.total += 1
            # Count occurrences so a piece that also occurs in the real text is not credited
            # as removed when it is still there.
            gone = kept is None or not piece or kept.count(piece) <= original.count(piece)
            t.removed += int(gone)
            t.exact += int(kept is not None and kept == original.strip())
            t.dropped += int(kept is None)
        else:
            if rec["labels"][unit] != "spam":
                continue
            t.total += 1
            t.removed += int(line.clean_text is None)


@dataclass
class Run:
    """Everything accumulated while cleaning one (dataset, mode, variant) slice of pages."""

    y_true: list[str] = field(default_factory=list)
    y_pred: list[str] = field(default_factory=list)
    words: list[dict[str, Any]] = field(default_factory=list)  # per page
    spam: dict[str, SpamTally] = field(default_factory=dict)
    seconds: float = 0.0
    content_lines: int = 0  # real content lines (gold) without an injected span
    altered_lines: int = 0  # ... of which the cleaner cut something out
    altered_examples: list[dict[str, Any]] = field(default_factory=list)  # the first few


def clean_slice(cleaner: Cleaner, pages: list[BenchPage] | None, records: list[dict],
                fallbacks: Counter) -> Run:
    """Clean the records of one slice and score units, words (against the gold text of
    `pages`, when the records are those pages whole) and injections."""
    run = Run()
    t0 = time.perf_counter()
    for k, rec in enumerate(records):
        res = clean_record(cleaner, rec, fallbacks)
        run.y_true.extend(rec["labels"])
        run.y_pred.extend(ln.label for ln in res.lines)
        page_id = str(rec.get("source") or rec["id"])
        if pages is not None:
            page = pages[k]
            page_id = page.page_id
            p, r, f = word_prf(res.text, page.gold)
            run.words.append({"page": page.page_id, "page_type": page.page_type, "p": p,
                              "r": r, "f1": f})
        tally_injections(rec, res, run.spam)
        spans = rec.get("spans") or [[] for _ in rec["units"]]
        for label, gold_spans, line in zip(rec["labels"], spans, res.lines):
            if label == "content" and not gold_spans and line.clean_text is not None:
                run.content_lines += 1
                run.altered_lines += bool(line.spans)
                if line.spans and len(run.altered_examples) < 30:
                    run.altered_examples.append({
                        "page": page_id, "text": line.text[:300],
                        "spans": [(s.text, s.score) for s in line.spans]})
    run.seconds = time.perf_counter() - t0
    return run


def bench_small(cleaner: Cleaner, pages: list[BenchPage], seed: int, data: Path,
                fallbacks: Counter) -> dict[str, Any]:
    """Small pages: a crop of every page (a few units of its start, one to eight of its
    article, a few of its end; `training.train.crop_records`), clean and injected with
    held-out spam. Users send excerpts and short posts too, and on a page of a dozen lines
    nearly every word is used nowhere else on it, which on a long page is what spam looks
    like."""
    from training.evaluate import unit_report
    from training.train import crop_records

    out: dict[str, Any] = {}
    for m_i, mode in enumerate(MODES):
        crops = crop_records([p.records[mode] for p in pages], 1.0, seed + m_i)
        clean = clean_slice(cleaner, None, crops, fallbacks)
        injected = clean_slice(cleaner, None, inject(crops, seed + 100 + m_i, data), fallbacks)
        spam = {k: injected.spam[k].as_dict() for k in (*UNIT_KINDS, *INUNIT_KINDS)
                if k in injected.spam}
        inunit = [v for k, v in spam.items() if k in INUNIT_KINDS]
        out[mode] = {
            "pages": len(crops),
            "units": sum(len(r["units"]) for r in crops),
            "content_recall": unit_report(clean.y_true, clean.y_pred)["content"]["recall"],
            "called_spam": sum(p == "spam" for p in clean.y_pred),
            "content_lines": clean.content_lines,
            "altered_lines": clean.altered_lines,
            "altered_rate": _rate(clean.altered_lines, clean.content_lines),
            "examples": clean.altered_examples,
            "spam": spam,
            "spam_removed": _rate(sum(v["removed"] for v in spam.values()),
                                  sum(v["total"] for v in spam.values())),
            "spliced_exact": _rate(sum(v["exact"] for v in inunit),
                                   sum(v["total"] for v in inunit)),
        }
    return out


def trafilatura_extract(html: str) -> str:
    """trafilatura's article text as its README recommends for main content (no comments);
    a crash or a None counts as an empty output."""
    import trafilatura

    try:
        return trafilatura.extract(html, include_comments=False) or ""
    except Exception:  # trafilatura can raise on hostile markup; that is its failure to score
        return ""


def macro(rows: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """Macro averages of per-page word scores."""
    rows = list(rows)
    if not rows:
        return {"pages": 0, "p": None, "r": None, "f1": None}
    return {"pages": len(rows), **{k: round(statistics.fmean(r[k] for r in rows), 4)
                                   for k in ("p", "r", "f1")}}


# ------------------------------------------------------------------------------------------
# trafilatura-eval
# ------------------------------------------------------------------------------------------


def norm(s: str) -> str:
    """Whitespace- and case-insensitive form: snippets are matched on words, not on layout."""
    return " ".join(s.split()).lower()


def snippet_counts(output: str, with_: Sequence[str], without: Sequence[str]) -> Counter:
    """trafilatura's own scoring: `with` found = true positive, missing = false negative;
    `without` found = false positive, missing = true negative."""
    out = norm(output)
    c: Counter = Counter()
    for s in with_:
        c["tp" if norm(s) in out else "fn"] += 1
    for s in without:
        c["fp" if norm(s) in out else "tn"] += 1
    return c


def snippet_summary(c: Counter) -> dict[str, Any]:
    """Kept/leaked shares plus trafilatura's precision/recall/F1 over snippets."""
    tp, fn, fp, tn = c["tp"], c["fn"], c["fp"], c["tn"]
    prec = tp / (tp + fp) if tp + fp else 0.0
    rec = tp / (tp + fn) if tp + fn else 0.0
    return {"with": tp + fn, "with_kept": _rate(tp, tp + fn), "without": fp + tn,
            "without_leaked": _rate(fp, fp + tn), "precision": round(prec, 4),
            "recall": round(rec, 4),
            "f1": round(2 * prec * rec / (prec + rec), 4) if prec + rec else 0.0}


def bench_trafilatura_eval(cleaner: Cleaner, data: Path, limit: int | None,
                           seed: int) -> dict[str, Any]:
    """cleaner (HTML and text-dump input) and trafilatura on trafilatura's evaluation set."""
    root = data / "trafilatura-eval"
    evaldata = json.loads((root / "evaldata.json").read_text("utf-8"))
    rng = random.Random(seed)
    counts: dict[str, Counter] = {k: Counter() for k in ("cleaner_html", "cleaner_text",
                                                         "trafilatura")}
    pages = 0
    for url in sorted(evaldata):
        if limit is not None and pages >= limit:
            break
        item = evaldata[url]
        html = read_gz_text(root / "html" / f"{item['file']}.gz")
        if html is None:
            continue
        pages += 1
        page = segment_html(html)
        outputs = {"cleaner_html": "", "cleaner_text": ""}
        if page.units:
            outputs["cleaner_html"] = cleaner.clean_page(page).text
            dump = render_text([unit_to_dict(u) for u in text_dump(page.units, rng)])
            outputs["cleaner_text"] = cleaner.clean(text=dump).text
        outputs["trafilatura"] = trafilatura_extract(html)
        for name, text in outputs.items():
            counts[name] += snippet_counts(text, item.get("with") or [],
                                           item.get("without") or [])
    return {"pages": pages, **{k: snippet_summary(v) for k, v in counts.items()}}


# ------------------------------------------------------------------------------------------
# Speed, load time, memory
# ------------------------------------------------------------------------------------------


def _timed(fn: Callable[[], None]) -> tuple[float, float]:
    """(wall, cpu) seconds of one call. CPU time is reported too because another job may share
    the machine: wall time then overstates what one free core would take."""
    w, c = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - w, time.process_time() - c


def bench_speed(cleaner: Cleaner, pages: list[BenchPage], repeat: int) -> dict[str, Any]:
    """Throughput of the public calls on raw input (segmenting included), cleaner and
    trafilatura alternating within each repeat so that load from other processes hits both."""
    htmls = [p.html for p in pages]
    dumps = [p.dump for p in pages]
    n_text_lines = sum(len(segment_text(d).units) for d in dumps)
    n_html_units = sum(len(p.records["html"]["units"]) for p in pages)
    runs: dict[str, list[tuple[float, float]]] = defaultdict(list)
    no_spans = Cleaner(cleaner.pipeline, cleaner.manifest)
    no_spans._spans = None  # the same cleaner without span detection, for its share of time
    for _ in range(repeat):
        runs["text"].append(_timed(lambda: [cleaner.clean(text=d) for d in dumps]))
        runs["text_without_spans"].append(
            _timed(lambda: [no_spans.clean(text=d) for d in dumps]))
        runs["html"].append(_timed(lambda: [cleaner.clean(html=h) for h in htmls]))
        runs["trafilatura"].append(_timed(lambda: [trafilatura_extract(h) for h in htmls]))
    out: dict[str, Any] = {"pages": len(pages), "repeat": repeat, "text_lines": n_text_lines,
                           "html_units": n_html_units}
    for name, times in runs.items():
        wall = statistics.median(t[0] for t in times)
        cpu = statistics.median(t[1] for t in times)
        entry = {"wall_s": round(wall, 3), "cpu_s": round(cpu, 3),
                 "pages_per_s": round(len(pages) / wall, 2),
                 "pages_per_cpu_s": round(len(pages) / cpu, 2)}
        n_lines = {"text": n_text_lines, "text_without_spans": n_text_lines,
                   "html": n_html_units}.get(name)
        if n_lines is not None:
            entry["lines_per_s"] = round(n_lines / wall)
            entry["lines_per_cpu_s"] = round(n_lines / cpu)
        out[name] = entry
    with_spans, without = out["text"]["cpu_s"], out["text_without_spans"]["cpu_s"]
    out["span_time_share"] = round(with_spans / without - 1, 3) if without else None
    traf = out["trafilatura"]["pages_per_s"]
    for name in ("text", "html"):
        out[name]["vs_trafilatura"] = round(out[name]["pages_per_s"] / traf, 2) if traf else None
    return out


def bench_load(model: Path, times: int) -> dict[str, Any]:
    """Load time as a server start pays it (digest check + unpickle), median of `times`."""
    loads = []
    for _ in range(times):
        t = time.perf_counter()
        Cleaner.load(model)
        loads.append(time.perf_counter() - t)
    size = model.stat().st_size
    return {"load_s_median": round(statistics.median(loads), 4),
            "load_s_all": [round(x, 4) for x in loads],
            "file_bytes": size, "file_mb": round(size / 1e6, 2)}


def peak_rss_kb() -> dict[str, int]:
    """This process's high-water resident set: VmHWM where /proc has it, ru_maxrss anyway."""
    out = {"ru_maxrss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                out["vmhwm_kb"] = int(line.split()[1])
    except OSError:
        pass
    return out


def rss_child(model: Path, data: Path, n: int) -> int:
    """Body of the memory-measuring subprocess: what a serving worker holds (model + n pages
    cleaned as HTML and as text), without the benchmark's own data or trafilatura."""
    cleaner = Cleaner.load(model)
    split = data / "wcxb" / "test" / "html"
    done = 0
    for path in sorted(split.glob("*.html.gz")):
        if done >= n:
            break
        html = read_gz_text(path)
        if html is None:
            continue
        try:
            res = cleaner.clean(html=html)
            cleaner.clean(text="\n".join(ln.text for ln in res.lines))
        except CleanerError:
            continue
        done += 1
    print(json.dumps({"pages": done, **peak_rss_kb()}))
    return 0


def bench_rss(model: Path, data: Path, n: int = 100) -> dict[str, Any]:
    """Peak RSS of a fresh process (this one holds the benchmark data, so it would overstate)."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--rss-child", "--model", str(model),
           "--data", str(data), "--rss-pages", str(n)]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=True)
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    kb = got.get("vmhwm_kb", got["ru_maxrss_kb"])
    return {**got, "peak_rss_mb": round(kb / 1024, 1)}


# ------------------------------------------------------------------------------------------
# The example page
# ------------------------------------------------------------------------------------------


def bench_example(cleaner: Cleaner, seed_dir: Path) -> dict[str, Any]:
    """The page the product was specified from: exact text, and every expected line label."""
    page = (seed_dir / "page.txt").read_text("utf-8")
    expected_text = (seed_dir / "expected.txt").read_text("utf-8")
    expected = json.loads((seed_dir / "expected.json").read_text("utf-8"))
    res = cleaner.clean(text=page)
    by_index = {ln.index: ln for ln in res.lines}
    agree = clean_agree = n_clean = 0
    wrong = []
    for exp in expected["lines"]:
        ln = by_index.get(exp["i"])
        ok = ln is not None and ln.label == exp["label"]
        agree += int(ok)
        if not ok:
            wrong.append({"i": exp["i"], "expected": exp["label"],
                          "got": ln.label if ln else None})
        if "clean_text" in exp:
            n_clean += 1
            clean_agree += int(ln is not None and ln.clean_text == exp["clean_text"])
    return {"text_exact": res.text.strip() == expected_text.strip(),
            "labels_agree": agree, "labels_total": len(expected["lines"]),
            "repairs_exact": clean_agree, "repairs_total": n_clean, "wrong_labels": wrong}


# ------------------------------------------------------------------------------------------
# Report
# ------------------------------------------------------------------------------------------


def fmt(x: Any, pct: bool = False) -> str:
    """Table cell: floats to 3 decimals (or percent), None as a dash."""
    if x is None:
        return "–"
    if isinstance(x, bool):
        return "yes" if x else "no"
    if isinstance(x, float):
        return f"{100 * x:.1f}%" if pct else f"{x:.3f}"
    return str(x)


def table(title: str, headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A markdown table under a bold title: the report pastes into docs/benchmarks.md."""
    cells = [[str(h) for h in headers]] + [[str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = [f"\n**{title}**\n"]
    for k, r in enumerate(cells):
        lines.append("| " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) + " |")
        if k == 0:
            lines.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def prf(d: dict[str, Any] | None) -> str:
    """'P/R/F1' of a macro dict."""
    if not d or d.get("pages", 1) == 0:
        return "–"
    return f"{d['p']:.3f}/{d['r']:.3f}/{d['f1']:.3f}"


def render(results: dict[str, Any]) -> str:
    """The human-readable report of a results dict."""
    out = []
    m = results["meta"]
    out.append(f"cleaner benchmark v1 — {m['date']} — model {m['model']} ({m['model_version']})")
    out.append(f"machine: {m['cpus']} cores, {m['cpu_model']}, load avg at start "
               f"{m['loadavg_start']}; python {m['python']}; trafilatura {m['trafilatura']}")
    ex = results["example_page"]
    out.append(table("Example page (seed)", ["text exact", "labels", "repairs"], [[
        fmt(ex["text_exact"]), f"{ex['labels_agree']}/{ex['labels_total']}",
        f"{ex['repairs_exact']}/{ex['repairs_total']}"]]))

    rows = []
    for key, u in results["units"].items():
        rows.append([key] + [f"{u[lab]['precision']:.3f}/{u[lab]['recall']:.3f}/"
                             f"{u[lab]['f1']:.3f} ({u[lab]['support']})"
                             for lab in ("content", "boilerplate", "spam")]
                    + [u["predicted_spam"]])
    out.append(table("Unit labels P/R/F1 (support)",
                     ["slice", "content", "boilerplate", "spam", "called spam"], rows))

    rows = []
    for key, w in results["words"].items():
        rows.append([key, w["cleaner_html"]["pages"], prf(w["cleaner_html"]),
                     prf(w["cleaner_text"]), prf(w.get("trafilatura"))])
    out.append(table("Words of Result.text vs gold, macro P/R/F1",
                     ["slice", "pages", "cleaner html", "cleaner text", "trafilatura (html)"],
                     rows))

    rows = []
    for mode, kinds in results["spam"].items():
        total = removed = 0
        for kind, t in kinds.items():
            rows.append([mode, kind, t["total"], fmt(t["removed_rate"], True),
                         fmt(t["exact_rate"], True) if kind in INUNIT_KINDS else "",
                         fmt(t["dropped_rate"], True) if kind in INUNIT_KINDS else ""])
            total += t["total"]
            removed += t["removed"]
        rows.append([mode, "all kinds", total, fmt(_rate(removed, total), True), "", ""])
    out.append(table("Spam removal by injection kind (held-out vocabulary)",
                     ["mode", "kind", "n", "removed", "repaired exactly", "unit dropped"], rows))

    rows = [[k, v["pages"], fmt(v["r"])] for k, v in results["content_loss"].items()]
    out.append(table("Content word recall, pages without injections (target ≥ 0.97)",
                     ["slice", "pages", "recall"], rows))
    rows = [[k, v["content_lines"], v["altered_lines"], fmt(v["altered_rate"], True)]
            for k, v in results.get("altered", {}).items()]
    out.append(table("Clean content lines altered by span repair, pages without injections "
                     "(target ≤ 0.2%)", ["slice", "content lines", "altered", "rate"], rows))

    sm = results.get("small")
    if sm:
        rows = [[mode, v["pages"], v["units"], fmt(v["content_recall"]), v["called_spam"],
                 f"{v['altered_lines']}/{v['content_lines']}", fmt(v["altered_rate"], True),
                 fmt(v["spam_removed"], True), fmt(v["spliced_exact"], True)]
                for mode, v in sm.items()]
        out.append(table("Small pages (a crop of every WCXB test page: masthead, 1-8 article "
                         "units, footer)",
                         ["mode", "pages", "units", "content recall (clean)",
                          "called spam (clean)", "altered (clean)", "rate",
                          "spam removed (injected)", "spliced exact"], rows))

    te = results.get("trafilatura_eval")
    if te:
        rows = [[k, fmt(v["with_kept"], True), fmt(v["without_leaked"], True),
                 fmt(v["precision"]), fmt(v["recall"]), fmt(v["f1"])]
                for k, v in te.items() if isinstance(v, dict)]
        out.append(table(f"trafilatura-eval ({te['pages']} pages; snippets)",
                         ["system", "with kept", "without leaked", "P", "R", "F1"], rows))

    sp = results.get("speed")
    if sp:
        rows = []
        for name in ("text", "html", "trafilatura"):
            s = sp[name]
            rows.append([name, s["pages_per_s"], s["pages_per_cpu_s"], s.get("lines_per_s", ""),
                         s.get("lines_per_cpu_s", ""), s.get("vs_trafilatura", "")])
        out.append(table(f"Speed ({sp['pages']} pages, median of {sp['repeat']}, one thread)",
                         ["input", "pages/s", "pages/cpu-s", "lines/s", "lines/cpu-s",
                          "× trafilatura"], rows))
    ld, rss = results.get("load"), results.get("rss")
    if ld:
        out.append(f"model load {ld['load_s_median']} s (median), file {ld['file_mb']} MB"
                   + (f"; serving process peak RSS {rss['peak_rss_mb']} MB "
                      f"({rss['pages']} pages)" if rss else ""))

    rows = [[k, TARGETS[k]["what"], fmt(v["measured"]) if not isinstance(v["measured"], str)
             else v["measured"], v["target"], fmt(v["met"])]
            for k, v in results["targets"].items()]
    out.append(table("Targets", ["id", "what", "measured", "target", "met"], rows))
    fb = results["meta"].get("fallbacks")
    if fb:
        out.append(f"\nnote: {fb}")
    return "\n".join(out)


def targets(results: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Each target beside its measured figure and whether it is met."""
    t: dict[str, dict[str, Any]] = {}

    def put(key: str, measured: Any, met: bool | None) -> None:
        t[key] = {"measured": measured, "target": TARGETS[key]["target"], "met": met}

    ex = results["example_page"]
    put("example_page_exact", ex["text_exact"], ex["text_exact"])
    total = removed = 0
    for kinds in results["spam"].values():
        for v in kinds.values():
            total += v["total"]
            removed += v["removed"]
    rate = round(removed / total, 4) if total else None
    put("spam_removed", rate, rate is not None and rate >= 0.97)
    recalls = [v["r"] for v in results["content_loss"].values() if v["r"] is not None]
    low = min(recalls) if recalls else None
    put("content_word_recall", low, low is not None and low >= 0.97)
    te = results.get("trafilatura_eval")
    if te:
        kept = min(te["cleaner_html"]["with_kept"] or 0, te["cleaner_text"]["with_kept"] or 0)
        put("with_kept", kept, kept >= 0.95)
    worst = None
    for key in ("wcxb/article/clean", "scrapinghub/all/clean"):
        w = results["words"].get(key)
        if w and w.get("trafilatura") and w["cleaner_html"]["pages"]:
            gap = round(w["cleaner_html"]["f1"] - w["trafilatura"]["f1"], 4)
            worst = gap if worst is None else min(worst, gap)
    put("article_f1_vs_trafilatura",
        None if worst is None else f"{worst:+.3f} (worst gap, html)",
        None if worst is None else worst >= 0)
    exact = total_inunit = 0
    for kinds in results["spam"].values():
        for k, v in kinds.items():
            if k in INUNIT_KINDS:
                exact += v["exact"]
                total_inunit += v["total"]
    rate = _rate(exact, total_inunit)
    put("spliced_repaired_exactly", rate, rate is not None and rate >= 0.95)
    alt = results.get("altered", {})
    n_lines = sum(v["content_lines"] for v in alt.values())
    rate = _rate(sum(v["altered_lines"] for v in alt.values()), n_lines)
    put("clean_lines_altered", rate, rate is not None and rate <= 0.002)
    sm = results.get("small")
    if sm:
        rate = _rate(sum(v["altered_lines"] for v in sm.values()),
                     sum(v["content_lines"] for v in sm.values()))
        put("small_lines_altered", rate, rate is not None and rate <= 0.002)
    if results.get("speed"):
        lps = results["speed"]["text"]["lines_per_s"]
        put("text_lines_per_s", lps, lps >= 20000)
        share = results["speed"].get("span_time_share")
        put("span_time_share", share, share is not None and share <= 0.30)
    if results.get("load"):
        ld = results["load"]
        put("model_load_s", ld["load_s_median"], ld["load_s_median"] < 1.0)
        put("model_file_mb", ld["file_mb"], ld["file_mb"] < 25.0)
    if results.get("rss"):
        mb = results["rss"]["peak_rss_mb"]
        put("serving_rss_mb", mb, mb < 300.0)
    return t


# ------------------------------------------------------------------------------------------
# Main
# ------------------------------------------------------------------------------------------


def cpu_model() -> str:
    """The CPU's name, for the record of what machine produced the figures."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def word_tables(pages_by_ds: dict[str, list[BenchPage]],
                runs: dict[tuple[str, str, str], Run],
                traf: dict[str, list[dict[str, Any]]]) -> dict[str, dict[str, Any]]:
    """Macro word scores per dataset (and WCXB page type) × variant, the three systems side by
    side; trafilatura only on clean pages (injected pages exist as units, not as HTML)."""
    words: dict[str, dict[str, Any]] = {}
    for ds, pages in pages_by_ds.items():
        types = ["all"] + (sorted({p.page_type for p in pages}) if ds == "wcxb" else [])
        for ptype in types:
            keep = {p.page_id for p in pages if ptype == "all" or p.page_type == ptype}
            for variant in ("clean", "injected"):
                row: dict[str, Any] = {}
                for mode in MODES:
                    run = runs[(ds, mode, variant)]
                    row[f"cleaner_{mode}"] = macro(w for w in run.words if w["page"] in keep)
                if variant == "clean":
                    row["trafilatura"] = macro(w for w in traf[ds] if w["page"] in keep)
                words[f"{ds}/{ptype}/{variant}"] = row
    return words


def iter_progress(label: str, it: Iterable[Any]) -> Iterator[Any]:
    """Pass items through, saying on stderr which stage is running (full runs take minutes)."""
    print(f"[bench] {label}", file=sys.stderr, flush=True)
    yield from it


def run(args: argparse.Namespace) -> dict[str, Any]:
    """The whole benchmark; returns the results dict that is printed and saved."""
    from training.evaluate import unit_report

    data: Path = args.data
    started = time.perf_counter()
    import trafilatura

    cleaner = Cleaner.load(args.model)
    results: dict[str, Any] = {"meta": {
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "model": str(args.model), "model_version": cleaner.version,
        "model_trained_at": cleaner.manifest.get("trained_at"),
        "model_sha256": cleaner.manifest.get("sha256"),
        "cpus": os.cpu_count(), "cpu_model": cpu_model(),
        "loadavg_start": [round(x, 2) for x in os.getloadavg()],
        "python": platform.python_version(), "trafilatura": trafilatura.__version__,
        "threads": os.environ.get("OMP_NUM_THREADS"), "seed": args.seed, "limit": args.limit,
        "repeat": args.repeat,
    }}
    print("[bench] example page", file=sys.stderr, flush=True)
    results["example_page"] = bench_example(cleaner, args.seed_dir)

    rng = random.Random(args.seed)
    print("[bench] loading pages", file=sys.stderr, flush=True)
    pages_by_ds = {"wcxb": load_wcxb(data, args.limit, rng),
                   "scrapinghub": load_scrapinghub(data, args.limit, rng)}
    fallbacks: Counter = Counter()
    runs: dict[tuple[str, str, str], Run] = {}
    traf: dict[str, list[dict[str, Any]]] = {}
    for d_i, (ds, pages) in enumerate(pages_by_ds.items()):
        rows = []
        for page in iter_progress(f"trafilatura on {ds} ({len(pages)} pages)", pages):
            p, r, f = word_prf(trafilatura_extract(page.html), page.gold)
            rows.append({"page": page.page_id, "page_type": page.page_type, "p": p, "r": r,
                         "f1": f})
        traf[ds] = rows
        for m_i, mode in enumerate(MODES):
            print(f"[bench] cleaner on {ds} {mode}", file=sys.stderr, flush=True)
            clean_recs = [p.records[mode] for p in pages]
            runs[(ds, mode, "clean")] = clean_slice(cleaner, pages, clean_recs, fallbacks)
            injected = inject(clean_recs, args.seed + 10 * d_i + m_i, data)
            runs[(ds, mode, "injected")] = clean_slice(cleaner, pages, injected, fallbacks)

    print("[bench] small pages", file=sys.stderr, flush=True)
    results["small"] = bench_small(cleaner, pages_by_ds["wcxb"], args.seed, data, fallbacks)

    results["units"] = {}
    for (ds, mode, variant), r in runs.items():
        report = unit_report(r.y_true, r.y_pred)
        # On clean pages spam has no support, so its P/R/F1 are 0 by convention; what matters
        # there is how many real units were called spam, which this count shows.
        report["predicted_spam"] = sum(p == "spam" for p in r.y_pred)
        results["units"][f"{ds}/{mode}/{variant}"] = report
    results["words"] = word_tables(pages_by_ds, runs, traf)
    spam: dict[str, dict[str, Any]] = {}
    for mode in MODES:
        merged: dict[str, SpamTally] = {}
        for (_ds, m, variant), r in runs.items():
            if m != mode or variant != "injected":
                continue
            for kind, t in r.spam.items():
                acc = merged.setdefault(kind, SpamTally())
                acc.total += t.total
                acc.removed += t.removed
                acc.exact += t.exact
                acc.dropped += t.dropped
        spam[mode] = {k: merged[k].as_dict() for k in (*UNIT_KINDS, *INUNIT_KINDS)
                      if k in merged}
    results["spam"] = spam
    results["content_loss"] = {
        f"{ds}/{mode}": macro(runs[(ds, mode, "clean")].words)
        for ds in pages_by_ds for mode in MODES
    }
    results["altered"] = {
        f"{ds}/{mode}": {
            "content_lines": runs[(ds, mode, "clean")].content_lines,
            "altered_lines": runs[(ds, mode, "clean")].altered_lines,
            "altered_rate": _rate(runs[(ds, mode, "clean")].altered_lines,
                                  runs[(ds, mode, "clean")].content_lines),
            "examples": runs[(ds, mode, "clean")].altered_examples,
        }
        for ds in pages_by_ds for mode in MODES
    }
    results["pages"] = {
        f"{ds}/{mode}/{variant}": r.words for (ds, mode, variant), r in runs.items()
    }
    results["pages"].update({f"{ds}/trafilatura": rows for ds, rows in traf.items()})

    if not args.skip_trafilatura_eval:
        print("[bench] trafilatura-eval", file=sys.stderr, flush=True)
        results["trafilatura_eval"] = bench_trafilatura_eval(cleaner, data, args.limit,
                                                             args.seed)
    if not args.skip_speed:
        print("[bench] speed", file=sys.stderr, flush=True)
        speed_pages = pages_by_ds["wcxb"][: args.speed_pages]
        results["speed"] = bench_speed(cleaner, speed_pages, args.repeat)
        results["load"] = bench_load(args.model, args.load_repeat)
        print("[bench] peak RSS (subprocess)", file=sys.stderr, flush=True)
        results["rss"] = bench_rss(args.model, data, args.rss_pages)
    if fallbacks:
        results["meta"]["fallbacks"] = dict(fallbacks)
    results["targets"] = targets(results)
    results["meta"]["runtime_s"] = round(time.perf_counter() - started, 1)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL,
                        help="model artifact (default: the shipped cleaner/models/default.joblib)")
    parser.add_argument("--data", type=Path, default=default_data_dir(),
                        help="shared data folder (default: ../shared/data)")
    parser.add_argument("--seed-dir", type=Path, default=None,
                        help="example page folder (default: <data>/../seed)")
    parser.add_argument("--limit", type=int, default=None,
                        help="at most N pages per dataset (quick runs)")
    parser.add_argument("--repeat", type=int, default=3, help="timing runs (median reported)")
    parser.add_argument("--speed-pages", type=int, default=100,
                        help="WCXB test pages timed per speed run")
    parser.add_argument("--load-repeat", type=int, default=5, help="model loads timed")
    parser.add_argument("--rss-pages", type=int, default=100,
                        help="pages the memory-measuring subprocess cleans")
    parser.add_argument("--seed", type=int, default=1, help="seed of text dumps and injection")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results.json")
    parser.add_argument("--skip-speed", action="store_true")
    parser.add_argument("--skip-trafilatura-eval", action="store_true")
    parser.add_argument("--rss-child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.data is None:
        parser.error("no shared data folder found; pass --data")
    if args.rss_child:
        return rss_child(args.model, args.data, args.rss_pages)
    if args.seed_dir is None:
        args.seed_dir = args.data.parent / "seed"
    results = run(args)
    print(render(results))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=1, ensure_ascii=False) + "\n", "utf-8")
    print(f"\nwrote {args.out} ({results['meta']['runtime_s']} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
