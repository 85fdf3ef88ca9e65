"""The shipped model: loads fast enough to serve at once, and a tampered or foreign model is
refused before it is unpickled."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from cleaner import Cleaner
from cleaner.errors import ModelError
from cleaner.features import PageBatch
from cleaner.model import DEFAULT_MODEL, load_model, manifest_path
from cleaner.segment import segment_text
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


def test_the_text_model_judges_a_unit_alone_as_within_its_page() -> None:
    # The span detector asks the text model about the units it has candidates in, and is
    # answered from the unit stage's rows (`cleaning._KnownTexts`): those must be what the
    # text model says of the unit's text on its own, as in training.
    cleaner = Cleaner.load()
    texts = ["Home | Americas", "  Chang'e 6 mission lands on the far side of the Moon  ",
             "官方网站 8k8 withdrawal", "The probe collected samples. " * 30]
    units = segment_text("\n\n".join(texts)).units
    X = cleaner._features.transform(PageBatch([units]))
    in_page = cleaner._model.text_proba(X)
    alone = cleaner._model.text_proba_of([u.text for u in units], cleaner._features)
    assert np.array_equal(in_page, alone)


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
