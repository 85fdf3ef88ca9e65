"""Where spliced spans are lost, on the validation pages of the training data.

A spliced span that is not cut out exactly is lost at one of three stages, and each asks for
different work: no candidate has its offsets (candidate generation: token scores too low to
start a run, a join that fuses the wrong word), its candidate scores below the page's threshold
(the candidate scorer), or an overlapping candidate scores higher (edges). This counts them by
injection kind and page size, so a change to one stage can be judged by the stage it is for:

    python -m training.span_losses --model cleaner/models/default.joblib \
        --data data/wcxb-dev.jsonl.gz

Validation pages only (`training.train.validation_set`: spam from a vocabulary slice no
training fold uses), never the benchmark's.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from cleaner.model import load_model
from cleaner.spans import SpanDetector, is_small_page, select
from training import tune
from training.train_spans import content_spans

OUTCOMES = ("cut", "no_candidate", "scored_low", "beaten")


def span_losses(detector: SpanDetector, records: Sequence[dict],
                text_scorer: Callable[[list[str]], np.ndarray] | None) -> Counter:
    """Counts keyed by (page size, injection kind, outcome) for every spliced span."""
    counts: Counter = Counter()
    for record in records:
        texts, spans = content_spans(record)
        if not any(spans):
            continue
        cands, proba = detector.score(texts, text_scorer=text_scorer)
        threshold = detector.threshold_for(cands.page_tokens)
        size = "small" if is_small_page(cands.page_tokens) else "long"
        chosen = select(texts, cands, proba, threshold)
        index = {(int(u), int(a), int(b)): i
                 for i, (u, a, b) in enumerate(zip(cands.unit, cands.start, cands.end))}
        for u, unit_spans in enumerate(spans):
            cut = {(s.start, s.end) for s in chosen[u]}
            for a, b, kind in unit_spans:
                i = index.get((u, a, b))
                if (a, b) in cut:
                    outcome = "cut"
                elif i is None:
                    outcome = "no_candidate"
                elif proba[i] < threshold:
                    outcome = "scored_low"
                else:
                    outcome = "beaten"
                counts[size, kind, outcome] += 1
    return counts


def render(counts: Counter) -> str:
    """A markdown table: spans per (size, kind) and the share lost at each stage."""
    rows = ["| pages | kind | spans | " + " | ".join(OUTCOMES) + " |",
            "|---|---|---|" + "---|" * len(OUTCOMES)]
    for size, kind in sorted({(s, k) for s, k, _ in counts}):
        total = sum(counts[size, kind, o] for o in OUTCOMES)
        shares = " | ".join(f"{counts[size, kind, o] / total:.1%}" for o in OUTCOMES)
        rows.append(f"| {size} | {kind} | {total} | {shares} |")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    """Count where the spliced spans of the validation pages are lost and print a table."""
    parser = argparse.ArgumentParser(prog="python -m training.span_losses",
                                     description=main.__doc__)
    parser.add_argument("--model", type=Path, default=None, help="default: the shipped one")
    tune.add_validation_arguments(parser)
    args = parser.parse_args(argv)
    pipeline, _ = load_model(args.model)
    counts = span_losses(pipeline.named_steps["model"].spans_, tune.validation_pages(args),
                         tune.text_scorer(pipeline))
    print(render(counts))
    return 0


if __name__ == "__main__":
    sys.exit(main())
