"""Evaluate a model on labelled pages: unit-level precision, recall and F1 per label, and spam
removal by injection kind.

    python -m training.evaluate --data data/wcxb-test.jsonl.gz --inject test [--model PATH]

`--inject test` adds spam drawn only from the held-out vocabulary families, so the spam
figures say how the model does on brands, languages and scripts it never saw.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.metrics import precision_recall_fscore_support

from cleaner.units import LABELS


def unit_report(y_true: Sequence[str], y_pred: Sequence[str]) -> dict[str, Any]:
    """Per-label precision/recall/F1/support, rounded for manifests and docs."""
    p, r, f, s = precision_recall_fscore_support(
        y_true, y_pred, labels=list(LABELS), zero_division=0
    )
    return {
        label: {"precision": round(float(p[i]), 4), "recall": round(float(r[i]), 4),
                "f1": round(float(f[i]), 4), "support": int(s[i])}
        for i, label in enumerate(LABELS)
    }


def spam_by_kind(records: list[dict], predicted: list[np.ndarray]) -> dict[str, dict[str, int]]:
    """For each injection kind that makes a unit of its own, how many such units were removed
    (labelled anything but content)."""
    out: dict[str, Counter] = {}
    for rec, pred in zip(records, predicted):
        for inj in rec.get("injections") or []:
            if rec["labels"][inj["unit"]] != "spam":
                continue
            c = out.setdefault(inj["kind"], Counter())
            c["total"] += 1
            c["removed"] += int(pred[inj["unit"]] != "content")
    return {k: dict(v) for k, v in sorted(out.items())}


def main(argv: list[str] | None = None) -> int:
    from cleaner.model import load_model
    from training.io import default_data_dir, read_jsonl
    from training.train import to_xy

    parser = argparse.ArgumentParser(prog="python -m training.evaluate",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--model", type=Path, default=None)
    parser.add_argument("--inject", choices=("none", "test", "train"), default="none")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    pipeline, _ = load_model(args.model)
    records = list(read_jsonl(args.data))
    if args.inject != "none":
        from training.inject import inject_records, load_vocabulary

        vocab = load_vocabulary(default_data_dir(), holdout=args.inject)
        records = list(inject_records(records, seed=args.seed, vocab=vocab, rate=1.0))
    X, y = to_xy(records)
    pred = pipeline.predict(X)
    per_page = np.split(pred, np.cumsum([len(r["labels"]) for r in records])[:-1])
    report = {"units": unit_report(y, pred), "spam_by_kind": spam_by_kind(records, per_page)}
    json.dump(report, sys.stdout, indent=1)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
