"""Compiled tree stages answer as scikit-learn's estimators do, survive pickling and forking,
and ship inside the artifact so that serving never needs `onnx`."""

from __future__ import annotations

import multiprocessing
import pickle
import subprocess
import sys

import numpy as np
import pytest
from sklearn.ensemble import HistGradientBoostingClassifier

from cleaner.features import PageBatch
from cleaner.spans import SpanDetector
from cleaner.trees import CompiledTrees, compiled
from cleaner.units import Unit
from tests.conftest import REPO, need_shared


def _data(n_classes: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(3000, 6))
    X[rng.random(X.shape) < 0.1] = np.nan  # missing values go where the trees learnt
    y = (np.nan_to_num(X[:, 0]) + np.nan_to_num(X[:, 1]) * 2 > 0).astype(int)
    if n_classes == 3:
        y = y + (np.isnan(X[:, 2]) | (X[:, 3] > 1)).astype(int)
    return X, y


@pytest.mark.parametrize("n_classes", [2, 3])
def test_compiled_probabilities_are_scikit_learns(n_classes: int) -> None:
    X, y = _data(n_classes)
    model = HistGradientBoostingClassifier(max_iter=40, random_state=0).fit(X, y)
    twin = CompiledTrees(model)
    Xt, _ = _data(n_classes, seed=1)
    Xt[0, :] = np.nan  # a row of nothing but missing values
    ours, theirs = twin.predict_proba(Xt), model.predict_proba(Xt)
    assert ours.shape == theirs.shape == (len(Xt), n_classes)
    assert np.abs(ours - theirs).max() < 1e-5
    assert (ours.argmax(1) == theirs.argmax(1)).all()
    assert twin.predict_proba(Xt[:0]).shape == (0, n_classes)
    with pytest.raises(ValueError, match="features"):
        twin.predict_proba(Xt[:, :3])


def test_shipped_stages_match_scikit_learn_on_a_real_page(real_cleaner) -> None:
    text = need_shared("seed", "page.txt").read_text("utf-8")
    units = [Unit(index=i, text=line) for i, line in enumerate(text.splitlines()) if line.strip()]
    model = real_cleaner.pipeline.named_steps["model"]
    X = real_cleaner.pipeline.named_steps["features"].transform(PageBatch([units]))
    stacked = model._stack(X, model.text_proba(X))
    ours = model.trees_["context"].predict_proba(stacked)
    assert np.abs(ours - model.context_model_.predict_proba(stacked)).max() < 1e-5
    spans = model.spans_
    for name, est in (("token", spans.token_model_), ("span", spans.span_model_),
                      ("edge", spans.edge_model_)):
        rows = np.random.default_rng(0).normal(size=(50, est.n_features_in_))
        assert np.abs(spans.trees_[name].predict_proba(rows) - est.predict_proba(rows)).max() < 1e-5


def _child_proba(twin: CompiledTrees, X: np.ndarray, queue) -> None:
    queue.put(twin.predict_proba(X))


def test_pickled_and_forked_twins_still_predict() -> None:
    X, y = _data(2)
    model = HistGradientBoostingClassifier(max_iter=10, random_state=0).fit(X, y)
    twin = CompiledTrees(model)
    expected = twin.predict_proba(X[:20])  # the parent has a session before the fork
    again = pickle.loads(pickle.dumps(twin))  # the session is not pickled, only the graph
    assert np.allclose(again.predict_proba(X[:20]), expected)
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    child = ctx.Process(target=_child_proba, args=(twin, X[:20], queue))
    child.start()
    got = queue.get(timeout=60)
    child.join(timeout=60)
    assert child.exitcode == 0
    assert np.allclose(got, expected)


def test_refitting_forgets_the_compiled_twins() -> None:
    X, y = _data(2)
    share = (np.nan_to_num(X[:, 2]) > -0.5).astype(float)  # both classes among the touching
    detector = SpanDetector(max_iter=10).fit(X, y, spam_share=share)
    first = detector.predict_proba(X[:50])
    detector.fit(X, 1 - y, spam_share=share)
    theirs = (detector.span_model_.predict_proba(X[:50])[:, 1]
              * detector.edge_model_.predict_proba(X[:50])[:, 1])
    assert np.abs(detector.predict_proba(X[:50])[:, 1] - theirs).max() < 1e-5
    assert not np.allclose(detector.predict_proba(X[:50]), first)


def test_compiled_is_built_once_per_owner() -> None:
    X, y = _data(2)
    model = HistGradientBoostingClassifier(max_iter=5, random_state=0).fit(X, y)

    class Owner:
        pass

    owner = Owner()
    assert compiled(owner, "stage", model) is compiled(owner, "stage", model)


def test_shipped_artifact_serves_without_onnx() -> None:
    """The artifact carries its compiled trees: cleaning a page imports `onnxruntime` only
    (`onnx`, needed to build the graphs, costs a second of import)."""
    code = ("import sys; from cleaner import default_cleaner; "
            "r = default_cleaner().clean(text='Home | About\\n\\n' + 'Real text here. ' * 9); "
            "print('onnx' in sys.modules, 'onnxruntime' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=REPO, timeout=120, check=True).stdout.split()
    assert out == ["False", "True"]


def test_a_replaced_stage_gets_a_new_twin() -> None:
    X, y = _data(2)
    small = HistGradientBoostingClassifier(max_iter=5, random_state=0).fit(X, y)
    large = HistGradientBoostingClassifier(max_iter=12, random_state=0).fit(X, y)

    class Owner:
        pass

    owner = Owner()
    compiled(owner, "stage", small)
    twin = compiled(owner, "stage", large)  # the stage was swapped for another estimator
    assert twin.n_trees == 12
    assert np.abs(twin.predict_proba(X[:30]) - large.predict_proba(X[:30])).max() < 1e-5


def test_a_saved_model_carries_and_names_its_compiled_stages(tmp_path) -> None:
    import json

    from cleaner.model import load_model, manifest_path, save_model

    pipeline, manifest = load_model()
    keep = {k: v for k, v in manifest.items() if k not in ("sha256", "size_bytes", "file")}
    pipeline.named_steps["model"].__dict__.pop("trees_", None)  # as a model saved without
    pipeline.named_steps["model"].spans_.__dict__.pop("trees_", None)
    save_model(pipeline, tmp_path / "m.joblib", keep)
    written = json.loads(manifest_path(tmp_path / "m.joblib").read_text("utf-8"))
    assert written["compiled_trees"] == {"runtime": "onnxruntime",
                                         "stages": ["context", "spans.edge", "spans.span",
                                                    "spans.token"]}
    again, _ = load_model(tmp_path / "m.joblib")
    assert sorted(again.named_steps["model"].trees_) == ["context"]
    assert sorted(again.named_steps["model"].spans_.trees_) == ["edge", "span", "token"]
