"""The model: one scikit-learn Pipeline (features -> stacked classifier), persisted as one
artifact beside a JSON manifest that it must match before it is unpickled.

The classifier stacks two stages because they see different things. A linear model over
hashed character and word n-grams knows vocabulary ("All rights reserved", "Read more"), but
vocabulary is exactly what spam of unseen brands does not share. A gradient-boosted tree model
then decides from page-relative features (script, fit with the page, position, markup) together
with the linear model's opinion of the unit and of its neighbours. The linear opinions it trains
on are out-of-fold, with folds that can be made vocabulary-disjoint (`groups`), so it learns how
far to trust vocabulary on text it has not seen.

A third, small tree stage revises each unit with its neighbours' second-stage opinions
(jusText's "revise with context", learned): a doubtful long line between two confident footer
lines is a footer, a doubtful short line between two paragraphs is part of the article. Its
training opinions are out-of-fold too.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import sklearn
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import SGDClassifier
from sklearn.pipeline import Pipeline

from cleaner.artifact import DEFAULT_MODEL, manifest_path, sha256_file
from cleaner.errors import ModelError
from cleaner.features import FEATURE_NAMES, FeatureMatrix, UnitFeatures, ngram_matrix
from cleaner.spans import SpanDetector, linear_proba
from cleaner.trees import compiled
from cleaner.units import LABELS

CONTEXT_OFFSETS = (-2, -1, 1, 2)
CONTEXT_WINDOWS = (3, 10, 30)
REVISION_OFFSETS = (-3, -2, -1, 1, 2, 3)
_REVISION_FEATURES = [
    FEATURE_NAMES.index(n) for n in ("log_chars", "rel_pos", "content_before", "content_after",
                                     "is_html", "heading", "link_density", "sentence_end",
                                     "separators", "script_match", "word_cos")
]


def _context(proba: np.ndarray, page_starts: np.ndarray,
             offsets: tuple[int, ...] = CONTEXT_OFFSETS) -> np.ndarray:
    """Each unit's probabilities beside those of its neighbours on the same page."""
    cols = [proba]
    for off in offsets:
        shifted = np.full_like(proba, -1.0)
        for a, b in zip(page_starts[:-1], page_starts[1:]):
            n = b - a
            if n <= abs(off):
                continue
            if off < 0:
                shifted[a - off : b] = proba[a : b + off]
            else:
                shifted[a : b - off] = proba[a + off : b]
        cols.append(shifted)
    # The neighbourhood's mean opinion: a unit in the middle of the article is content even
    # when its own text is short or odd (jusText's context revision, learned).
    for half in CONTEXT_WINDOWS:
        cols.append(_window_mean(proba, page_starts, half))
    return np.hstack(cols)


def _window_mean(values: np.ndarray, page_starts: np.ndarray, half: int) -> np.ndarray:
    """Mean of `values` over the units within `half` positions, not crossing page borders."""
    out = np.empty_like(values)
    for a, b in zip(page_starts[:-1], page_starts[1:]):
        if a == b:
            continue
        csum = np.vstack([np.zeros((1, values.shape[1])), np.cumsum(values[a:b], axis=0)])
        idx = np.arange(b - a)
        lo = np.maximum(idx - half, 0)
        hi = np.minimum(idx + half + 1, b - a)
        out[a:b] = (csum[hi] - csum[lo]) / (hi - lo)[:, None]
    return out


class StackedUnitClassifier(ClassifierMixin, BaseEstimator):
    """Text stage (linear, n-grams) stacked under a context stage (gradient-boosted trees)."""

    def __init__(
        self,
        n_folds: int = 4,
        text_alpha: float = 2e-6,
        max_iter: int = 300,
        learning_rate: float = 0.1,
        max_leaf_nodes: int = 31,
        min_samples_leaf: int = 100,
        l2_regularization: float = 1.0,
        class_weight: dict[str, float] | None = None,
        revise_iter: int = 0,
        random_state: int = 0,
    ) -> None:
        self.n_folds = n_folds
        self.text_alpha = text_alpha
        self.max_iter = max_iter
        self.learning_rate = learning_rate
        self.max_leaf_nodes = max_leaf_nodes
        self.min_samples_leaf = min_samples_leaf
        self.l2_regularization = l2_regularization
        self.class_weight = class_weight
        self.revise_iter = revise_iter
        self.random_state = random_state

    def _text_model(self) -> SGDClassifier:
        return SGDClassifier(
            loss="log_loss", alpha=self.text_alpha, max_iter=15, tol=None,
            random_state=self.random_state,
        )

    def fit(
        self, X: FeatureMatrix, y: Any, groups: np.ndarray | None = None,
        sample_weight: np.ndarray | None = None,
    ) -> StackedUnitClassifier:
        """`groups` gives each unit a fold (e.g. by page and by injection vocabulary); without
        it, folds are whole pages taken in turn. `sample_weight` multiplies the class weights
        (training gives real lines carrying a splice more weight: they look like spam and
        must stay content)."""
        y = np.asarray(y)
        self.classes_ = np.array(LABELS)
        self.trees_ = {}  # compiled twins of the stages fitted below (`compile`)
        if groups is None:
            page_of = np.repeat(np.arange(len(X.page_starts) - 1), np.diff(X.page_starts))
            groups = page_of % self.n_folds
        groups = np.asarray(groups)
        oof = np.zeros((len(y), len(self.classes_)))
        # The fold models stay on the instance until training is over: the span detector's
        # training asks them about stretches of pages they never saw (`text_proba_of(...,
        # fold=...)`); `training.train` drops them before the model is saved.
        self.fold_text_models_ = {}
        for fold in np.unique(groups):
            train, test = groups != fold, groups == fold
            model = self._text_model().fit(X.sparse[train], y[train])
            oof[np.ix_(test, self._columns(model))] = model.predict_proba(X.sparse[test])
            self.fold_text_models_[int(fold)] = model
        text = self._text_model().fit(X.sparse, y)
        text.coef_ = text.coef_.astype(np.float32)  # halves the artifact, no loss of accuracy
        self.text_model_ = text
        weights = np.ones(len(y)) if sample_weight is None else np.asarray(sample_weight, float)
        if self.class_weight:
            weights = weights * np.array([self.class_weight.get(label, 1.0) for label in y])
        stacked = self._stack(X, oof)
        self.context_model_ = self._context_model().fit(stacked, y, sample_weight=weights)
        if self.revise_iter:
            oof2 = np.zeros_like(oof)
            for fold in np.unique(groups):
                train, test = groups != fold, groups == fold
                model = self._context_model().fit(stacked[train], y[train],
                                                  sample_weight=weights[train])
                oof2[np.ix_(test, self._columns(model))] = model.predict_proba(stacked[test])
            self.revise_model_ = HistGradientBoostingClassifier(
                max_iter=self.revise_iter, learning_rate=0.1, max_leaf_nodes=15,
                min_samples_leaf=200, l2_regularization=1.0, random_state=self.random_state,
                early_stopping=False,
            ).fit(self._revision(X, oof2), y, sample_weight=weights)
        return self

    def _context_model(self) -> HistGradientBoostingClassifier:
        return HistGradientBoostingClassifier(
            max_iter=self.max_iter, learning_rate=self.learning_rate,
            max_leaf_nodes=self.max_leaf_nodes, min_samples_leaf=self.min_samples_leaf,
            l2_regularization=self.l2_regularization, random_state=self.random_state,
            early_stopping=False,
        )

    def _revision(self, X: FeatureMatrix, proba: np.ndarray) -> np.ndarray:
        """Third-stage rows: the unit's and its neighbours' second-stage opinions, and the
        few unit features that say how much a neighbour should count."""
        own = X.dense[:, _REVISION_FEATURES]
        return np.hstack([own, _context(proba, X.page_starts, offsets=REVISION_OFFSETS)]
                         ).astype(np.float32)

    def _columns(self, model: SGDClassifier) -> list[int]:
        return [int(np.flatnonzero(self.classes_ == c)[0]) for c in model.classes_]

    def _stack(self, X: FeatureMatrix, text_proba: np.ndarray) -> np.ndarray:
        return np.hstack([X.dense, _context(text_proba, X.page_starts)]).astype(np.float32)

    def fit_spans(self, detector: SpanDetector) -> StackedUnitClassifier:
        """Attach a fitted span detector (trained by `training.train_spans`, which needs the
        fitted text model first): the unit model and the span model ship as one artifact."""
        self.spans_ = detector
        return self

    def text_proba_of(self, texts: list[str], features: UnitFeatures,
                      fold: int | None = None) -> np.ndarray:
        """The text model's opinion of arbitrary strings (stretches of a line), columns in
        `LABELS` order; with `fold` (training only), the model that did not see that fold."""
        model = self.text_model_ if fold is None else self.fold_text_models_[fold]
        proba = np.zeros((len(texts), len(self.classes_)))
        if texts:
            m = ngram_matrix(texts, features.char_buckets, features.word_buckets)
            proba[:, self._columns(model)] = linear_proba(model, m)
        return proba

    def drop_training_state(self) -> StackedUnitClassifier:
        """Forget what only training needs (the per-fold text models), before saving."""
        self.__dict__.pop("fold_text_models_", None)
        return self

    def text_proba(self, X: FeatureMatrix) -> np.ndarray:
        proba = np.zeros((X.sparse.shape[0], len(self.classes_)))
        if X.sparse.shape[0]:
            proba[:, self._columns(self.text_model_)] = linear_proba(self.text_model_, X.sparse)
        return proba

    def predict_proba(self, X: FeatureMatrix, rows: np.ndarray | None = None) -> np.ndarray:
        """Probabilities of every unit, or only of `rows` (their context still comes from the
        whole page: judging the fields of one line needs the trees for those fields only)."""
        if X.dense.shape[0] == 0:
            return np.zeros((0, len(self.classes_)))
        stacked = self._stack(X, self.text_proba(X))
        revise = getattr(self, "revise_model_", None)
        if rows is not None and revise is None:
            stacked = stacked[rows]
        proba = compiled(self, "context", self.context_model_).predict_proba(stacked)
        out = np.zeros((proba.shape[0], len(self.classes_)))
        out[:, self._columns(self.context_model_)] = proba
        if revise is not None:
            # The revision needs every unit's second-stage opinion, then only `rows`.
            revised = self._revision(X, out)
            if rows is not None:
                revised = revised[rows]
            out = np.zeros((revised.shape[0], len(self.classes_)))
            out[:, self._columns(revise)] = compiled(self, "revise", revise).predict_proba(
                revised)
        return out

    def predict(self, X: FeatureMatrix) -> np.ndarray:
        return self.classes_[self.predict_proba(X).argmax(axis=1)]

    def compile(self) -> StackedUnitClassifier:
        """Build the compiled twins of every tree stage now (`save_model` does, so that an
        artifact carries them and serving never needs `onnx`)."""
        compiled(self, "context", self.context_model_)
        if getattr(self, "revise_model_", None) is not None:
            compiled(self, "revise", self.revise_model_)
        if getattr(self, "spans_", None) is not None:
            self.spans_.compile()
        return self


def build_pipeline(**params: Any) -> Pipeline:
    """The untrained pipeline; `params` go to the classifier."""
    return Pipeline([("features", UnitFeatures()), ("model", StackedUnitClassifier(**params))])


def save_model(pipeline: Pipeline, path: Path, manifest: dict[str, Any]) -> dict[str, Any]:
    """Write the artifact and its manifest (the manifest last, so a half-written model is never
    taken for a good one)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    model = pipeline.named_steps["model"].compile()
    spans = getattr(model, "spans_", None)
    compiled_stages = sorted(model.trees_) + sorted(
        f"spans.{k}" for k in getattr(spans, "trees_", {}))
    tmp = path.with_suffix(".joblib.tmp")
    joblib.dump(pipeline, tmp, compress=("zlib", 3))
    tmp.replace(path)
    full = {
        **manifest,
        "compiled_trees": {"runtime": "onnxruntime", "stages": compiled_stages},
        "sklearn_version": sklearn.__version__,
        "file": path.name,
        "sha256": sha256_file(path),
        "size_bytes": path.stat().st_size,
    }
    manifest_path(path).write_text(json.dumps(full, indent=1, ensure_ascii=False) + "\n", "utf-8")
    return full


def _minor(version: object) -> str:
    """Pickles are compatible within a scikit-learn minor series, not across them."""
    return ".".join(str(version).split(".")[:2])


def load_model(path: Path | None = None) -> tuple[Pipeline, dict[str, Any]]:
    """Load a pipeline after checking it against its manifest: a pickle is code, so a file whose
    digest differs from the manifest's, or that was made by another scikit-learn, is refused
    before it is unpickled."""
    path = Path(path) if path is not None else DEFAULT_MODEL
    mpath = manifest_path(path)
    if not path.is_file():
        raise ModelError(f"model file not found: {path}")
    if not mpath.is_file():
        raise ModelError(f"model manifest not found: {mpath}")
    try:
        manifest = json.loads(mpath.read_text("utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelError(f"model manifest {mpath} is not valid JSON: {exc}") from exc
    if not isinstance(manifest, dict) or "sha256" not in manifest:
        raise ModelError(f"model manifest {mpath} has no sha256")
    digest = sha256_file(path)
    if digest != manifest["sha256"]:
        raise ModelError(
            f"model {path} does not match its manifest (sha256 {digest[:12]}..., "
            f"manifest says {str(manifest['sha256'])[:12]}...)"
        )
    if _minor(manifest.get("sklearn_version")) != _minor(sklearn.__version__):
        raise ModelError(
            f"model {path} was trained with scikit-learn {manifest.get('sklearn_version')}, "
            f"but {sklearn.__version__} is installed; retrain it or install that version"
        )
    try:
        pipeline = joblib.load(path)
    except Exception as exc:  # a corrupt pickle can raise nearly anything
        raise ModelError(f"model {path} could not be loaded: {exc}") from exc
    if not isinstance(pipeline, Pipeline):
        raise ModelError(f"model {path} is not a scikit-learn Pipeline")
    return pipeline, manifest
