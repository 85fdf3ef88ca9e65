"""Combining models: the unit stages of one with the span detector of another, both sources
named in the manifest, and a detector this code cannot feed refused."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from sklearn.ensemble import HistGradientBoostingClassifier

from cleaner.errors import ModelError
from cleaner.model import DEFAULT_MODEL, load_model, manifest_path, save_model
from training.combine import combine


def _variant(tmp_path: Path, name: str, change) -> Path:  # noqa: ANN001
    pipeline, manifest = load_model(DEFAULT_MODEL)
    change(pipeline.named_steps["model"])
    keep = {k: v for k, v in manifest.items() if k not in ("sha256", "size_bytes", "file")}
    keep["trained_at"] = name
    path = tmp_path / f"{name}.joblib"
    save_model(pipeline, path, keep)
    return path


def test_units_of_one_model_and_spans_of_the_other(tmp_path: Path) -> None:
    def units(model) -> None:  # noqa: ANN001
        model.content_floor_ = 0.123
        model.spans_.threshold = 0.5

    def spans(model) -> None:  # noqa: ANN001
        model.content_floor_ = 0.456
        model.spans_.threshold = 0.789

    out = tmp_path / "combined.joblib"
    manifest = combine(_variant(tmp_path, "units", units), _variant(tmp_path, "spans", spans), out)
    pipeline, loaded = load_model(out)  # the manifest matches the written file
    model = pipeline.named_steps["model"]
    assert model.content_floor_ == 0.123 and model.spans_.threshold == 0.789
    assert loaded == manifest == json.loads(manifest_path(out).read_text("utf-8"))
    assert manifest["combined"]["units_from"]["trained_at"] == "units"
    assert manifest["combined"]["spans_from"]["trained_at"] == "spans"


def test_a_span_detector_of_other_features_is_refused(tmp_path: Path) -> None:
    def other(model) -> None:  # noqa: ANN001
        rng = np.random.default_rng(0)
        model.spans_.token_model_ = HistGradientBoostingClassifier(max_iter=2).fit(
            rng.normal(size=(50, 7)), rng.integers(0, 2, 50))

    with pytest.raises(ModelError, match="reads 7 token features"):
        combine(DEFAULT_MODEL, _variant(tmp_path, "other", other), tmp_path / "c.joblib")
    assert not (tmp_path / "c.joblib").exists()
