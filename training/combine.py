"""Combine two trained models: the unit stages of one, the span detector of another.

The unit model and the span detector are separate estimators inside the one persisted
`Pipeline` (`StackedUnitClassifier.spans_`). Retraining draws its injected pages anew, and the
unit-level figures move by about a point from one training run to the next (docs/benchmarks.md),
so a run that brings a better span detector may bring a unit stage that is no better than the
shipped one. This keeps the better of each. The span threshold is then re-tuned on the
validation pages (`training.tune`), because at cleaning time the detector's text-model features
come from the kept unit stage's text model, not from the one it was trained beside:

    python -m training.combine --units cleaner/models/default.joblib --spans new.joblib \\
        --out combined.joblib --data data/wcxb-dev.jsonl.gz

Ship the result only if it is better on the benchmark (`benchmarks/bench_v1.py --model`).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from cleaner.errors import ModelError
from cleaner.model import load_model, save_model
from cleaner.spans import SPAN_FEATURES, TOKEN_MODEL_COLUMNS
from training import tune


def combine(units: Path, spans: Path, out: Path) -> dict[str, Any]:
    """Write the model of `units` with the span detector of `spans` to `out` and return its
    manifest, which names both sources."""
    pipeline, manifest = load_model(units)
    donor, donor_manifest = load_model(spans)
    detector = donor.named_steps["model"].spans_
    stages = {"token": (detector.token_model_, TOKEN_MODEL_COLUMNS)}
    stages.update({name: (model, len(SPAN_FEATURES))
                   for name, model in detector.candidate_models().items()})
    for what, (model, made) in stages.items():
        if model.n_features_in_ != made:
            raise ModelError(f"{spans}: its span detector reads {model.n_features_in_} {what} "
                             f"features, this code makes {made}")
    pipeline.named_steps["model"].fit_spans(detector)
    keep = {k: v for k, v in manifest.items()
            if k not in ("sklearn_version", "file", "sha256", "size_bytes", "combined")}
    keep["combined"] = {
        "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "units_from": {"sha256": manifest["sha256"], "trained_at": manifest.get("trained_at")},
        "spans_from": {"sha256": donor_manifest["sha256"],
                       "trained_at": donor_manifest.get("trained_at")},
    }
    metrics = keep.setdefault("metrics", {}).setdefault("validation", {})
    donor_spans = donor_manifest.get("metrics", {}).get("validation", {}).get("spans")
    if donor_spans is not None:
        metrics["spans"] = donor_spans  # until re-tuned
    return save_model(pipeline, out, keep)


def main(argv: list[str] | None = None) -> int:
    """Combine the unit stages of one model with the span detector of another, then re-tune
    the span threshold on the validation pages of the training data."""
    parser = argparse.ArgumentParser(prog="python -m training.combine",
                                     description=main.__doc__.split("\n\n")[0])
    parser.add_argument("--units", type=Path, required=True, help="model whose unit stages stay")
    parser.add_argument("--spans", type=Path, required=True, help="model whose span detector")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--data", type=Path, nargs="+", required=True, help="labelled JSONL")
    parser.add_argument("--shared", type=Path, default=None, help="shared data folder")
    args = parser.parse_args(argv)
    try:
        combine(args.units, args.spans, args.out)
    except ModelError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    tune_args = ["--model", str(args.out), "--data", *map(str, args.data)]
    if args.shared:
        tune_args += ["--shared", str(args.shared)]
    return tune.main(tune_args)


if __name__ == "__main__":
    raise SystemExit(main())
