"""The shipped model: loads fast enough to serve at once, and a tampered or foreign model is
refused before it is unpickled."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from cleaner import Cleaner
from cleaner.errors import ModelError
from cleaner.model import DEFAULT_MODEL, load_model, manifest_path
from cleaner.units import LABELS


def copy_model(tmp_path: Path) -> Path:
    target = tmp_path / "m.joblib"
    shutil.copy(DEFAULT_MODEL, target)
    shutil.copy(manifest_path(DEFAULT_MODEL), manifest_path(target))
    return target


def test_shipped_manifest_describes_the_model() -> None:
    manifest = json.loads(manifest_path(DEFAULT_MODEL).read_text("utf-8"))
    for key in ("version", "sklearn_version", "training_data_sha256", "metrics", "sha256"):
        assert key in manifest
    assert manifest["labels"] == list(LABELS)
    assert DEFAULT_MODEL.stat().st_size < 25 * 1024 * 1024


def test_load_and_predict_probabilities() -> None:
    cleaner = Cleaner.load()
    result = cleaner.clean(text="Home | About\n\n" + "A sentence of real article text. " * 8)
    for line in result.lines:
        assert set(line.probabilities) == set(LABELS)
        assert abs(sum(line.probabilities.values()) - 1.0) < 1e-3


def test_tampered_model_is_refused(tmp_path: Path) -> None:
    path = copy_model(tmp_path)
    with open(path, "ab") as f:
        f.write(b"\0")
    with pytest.raises(ModelError, match="does not match its manifest"):
        load_model(path)


def test_other_sklearn_version_is_refused(tmp_path: Path) -> None:
    path = copy_model(tmp_path)
    manifest = json.loads(manifest_path(path).read_text("utf-8"))
    manifest["sklearn_version"] = "0.24.2"
    manifest_path(path).write_text(json.dumps(manifest), "utf-8")
    with pytest.raises(ModelError, match="scikit-learn 0.24.2"):
        Cleaner.load(path)


def test_missing_or_broken_manifest_is_refused(tmp_path: Path) -> None:
    path = copy_model(tmp_path)
    manifest_path(path).write_text("{not json", "utf-8")
    with pytest.raises(ModelError, match="not valid JSON"):
        load_model(path)
    manifest_path(path).unlink()
    with pytest.raises(ModelError, match="manifest not found"):
        load_model(path)
    with pytest.raises(ModelError, match="model file not found"):
        load_model(tmp_path / "nope.joblib")
