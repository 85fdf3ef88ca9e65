"""Tree inference: the compiled tree stages (cleaner/trees.py, ONNX Runtime) against
scikit-learn's own predict_proba on the same rows, in the same run. Run on demand; prints
milliseconds per page for each stage (median of several runs) and the ratio.

    .venv/bin/python benchmarks/trees.py [--pages 40] [--repeat 7]

The unit stage gets the real stacked rows of WCXB dev pages cut at about 5 KB (the service
benchmark's text pages). The span stages get as many rows per page as the page has units,
with random values: their cost is per call and per row, and a random row walks trees about
as deep as a real one.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

import load  # noqa: E402  (the service benchmark's pages)
import numpy as np  # noqa: E402

from cleaner.cleaning import Cleaner  # noqa: E402
from cleaner.features import PageBatch  # noqa: E402
from cleaner.segment import segment_text  # noqa: E402
from cleaner.trees import compiled  # noqa: E402


def _median_ms(fn, rows: list[np.ndarray], repeat: int) -> float:
    runs = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        for x in rows:
            fn(x)
        runs.append((time.perf_counter() - t0) / len(rows))
    return 1000 * statistics.median(runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pages", type=int, default=40)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--model", default=None)
    args = parser.parse_args()
    cleaner = Cleaner.load(args.model)
    model = cleaner.pipeline.named_steps["model"]
    features = cleaner.pipeline.named_steps["features"]
    texts, _ = load._wcxb_pages(args.pages)
    unit_rows = []
    for raw in texts:
        X = features.transform(PageBatch([segment_text(raw.decode("utf-8")).units]))
        unit_rows.append(model._stack(X, model.text_proba(X)))
    n_rows = [len(x) for x in unit_rows]
    print(f"{len(texts)} pages, {statistics.mean(n_rows):.0f} units each on average")
    stages = [("unit context stage", model.context_model_, "context", model, unit_rows)]
    rng = np.random.default_rng(0)
    spans = getattr(model, "spans_", None)
    if spans is not None:
        # As many rows per page as the page has units (the detector's token and candidate
        # counts on such pages are of that order).
        for label, est, name in (("span token scorer", spans.token_model_, "token"),
                                 ("span candidate scorer", spans.span_model_, "span")):
            rows = [rng.normal(size=(n, est.n_features_in_)).astype(np.float32) for n in n_rows]
            stages.append((label, est, name, spans, rows))
    print("| stage | trees | scikit-learn ms/page | compiled ms/page | ratio |")
    print("|---|---|---|---|---|")
    total_sk = total_c = 0.0
    for label, est, name, owner, rows in stages:
        twin = compiled(owner, name, est)
        twin.predict_proba(rows[0])  # the session is made on first use
        sk = _median_ms(est.predict_proba, rows, args.repeat)
        c = _median_ms(twin.predict_proba, rows, args.repeat)
        total_sk, total_c = total_sk + sk, total_c + c
        print(f"| {label} | {twin.n_trees} | {sk:.2f} | {c:.2f} | {sk / c:.1f}x |")
    print(f"| all | | {total_sk:.2f} | {total_c:.2f} | {total_sk / total_c:.1f}x |")


if __name__ == "__main__":
    main()
