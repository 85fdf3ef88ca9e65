"""Compiled inference for the boosted-tree stages.

scikit-learn predicts a HistGradientBoostingClassifier one tree at a time, each a separate
call costing 10-20 µs whatever the number of rows. A page of a hundred lines is a few rows for
570 trees (unit context stage and both span stages), so that per-call cost, not the trees,
was a third of the time of cleaning a page. The same trees written as one ONNX
`TreeEnsembleRegressor` and run by ONNX Runtime are one call per stage.

The graph is built from the fitted estimator's own nodes (thresholds and leaf values in double
precision, missing values sent where scikit-learn sends them), so its probabilities are
scikit-learn's to float32 rounding of the summed scores (about 1e-7). It is built when a model
is saved, so the artifact carries it and serving imports only `onnxruntime`: `onnx`, whose
import costs a second, is needed only to build it. The session is made lazily in each process
(never shared across a fork) and runs on one thread, like the rest of a worker.
"""

from __future__ import annotations

import os
import threading
from typing import Any

import numpy as np
from scipy.special import expit, softmax
from sklearn.ensemble import HistGradientBoostingClassifier


class CompiledTrees:
    """The trees of one fitted HistGradientBoostingClassifier as an ONNX Runtime session;
    `predict_proba` answers as the estimator's does."""

    def __init__(self, model: HistGradientBoostingClassifier) -> None:
        self.classes_ = np.asarray(model.classes_)
        self.n_features_in_ = int(model.n_features_in_)
        self.n_trees = _n_trees(model)
        self.onnx_bytes = _to_onnx(model)
        self._session: Any = None
        self._pid = -1
        self._lock = threading.Lock()

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state.update(_session=None, _pid=-1, _lock=None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    def _run(self, X: np.ndarray) -> np.ndarray:
        if self._pid != os.getpid():  # first call in this process (or after a fork)
            with self._lock:
                if self._pid != os.getpid():
                    self._session = _session(self.onnx_bytes)
                    self._pid = os.getpid()
        X = np.ascontiguousarray(X, dtype=np.float64)
        return self._session.run(None, {"X": X})[0].astype(np.float64)

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        if X.shape[1] != self.n_features_in_:
            raise ValueError(f"X has {X.shape[1]} features, the trees take {self.n_features_in_}")
        if X.shape[0] == 0:
            return np.zeros((0, len(self.classes_)))
        raw = self._run(X)
        if raw.shape[1] == 1:
            p = expit(raw[:, 0])
            return np.column_stack([1.0 - p, p])
        return softmax(raw, axis=1)


def compiled(owner: object, name: str, model: HistGradientBoostingClassifier) -> CompiledTrees:
    """`owner`'s compiled twin of its stage `model`, built on first use. It lives on the
    owner (`owner.trees_[name]`), so it is saved with the model; refitting the owner must
    forget it (`owner.trees_ = {}`)."""
    trees = owner.__dict__.setdefault("trees_", {})
    twin = trees.get(name)
    if twin is None or twin.n_trees != _n_trees(model) or \
            twin.n_features_in_ != model.n_features_in_:
        twin = trees[name] = CompiledTrees(model)  # absent, or of a stage since replaced
    return twin


def _n_trees(model: HistGradientBoostingClassifier) -> int:
    return sum(len(iteration) for iteration in model._predictors)


def _session(onnx_bytes: bytes) -> Any:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    return ort.InferenceSession(onnx_bytes, options, providers=["CPUExecutionProvider"])


def _to_onnx(model: HistGradientBoostingClassifier) -> bytes:
    """One TreeEnsembleRegressor whose targets are the estimator's raw scores (one per class,
    or one for two classes), baseline included; the link function is applied in numpy."""
    from onnx import TensorProto, helper, numpy_helper

    per_iter = len(model._predictors[0])
    cols: dict[str, list[np.ndarray]] = {k: [] for k in (
        "tree", "node", "feature", "leaf", "value", "left", "right", "missing",
        "t_tree", "t_node", "t_class", "t_weight")}
    tree = 0
    for iteration in model._predictors:
        for cls, predictor in enumerate(iteration):
            nodes = predictor.nodes
            if nodes["is_categorical"].any():
                raise ValueError("categorical splits are not compiled")
            n = len(nodes)
            leaf = nodes["is_leaf"].astype(bool)
            cols["tree"].append(np.full(n, tree))
            cols["node"].append(np.arange(n))
            cols["feature"].append(np.where(leaf, 0, nodes["feature_idx"]))
            cols["leaf"].append(leaf)
            cols["value"].append(np.where(leaf, 0.0, nodes["num_threshold"]))
            cols["left"].append(np.where(leaf, 0, nodes["left"]))
            cols["right"].append(np.where(leaf, 0, nodes["right"]))
            cols["missing"].append(np.where(leaf, 0, nodes["missing_go_to_left"]))
            leaves = np.flatnonzero(leaf)
            cols["t_tree"].append(np.full(len(leaves), tree))
            cols["t_node"].append(leaves)
            cols["t_class"].append(np.full(len(leaves), cls))
            cols["t_weight"].append(nodes["value"][leaves])
            tree += 1
    c = {k: np.concatenate(v) for k, v in cols.items()}

    def ints(key: str) -> list[int]:
        return c[key].astype(np.int64).tolist()

    node = helper.make_node(
        "TreeEnsembleRegressor", ["X"], ["Y"], domain="ai.onnx.ml", n_targets=per_iter,
        nodes_treeids=ints("tree"), nodes_nodeids=ints("node"),
        nodes_featureids=ints("feature"),
        nodes_modes=np.where(c["leaf"], "LEAF", "BRANCH_LEQ").tolist(),
        nodes_values_as_tensor=numpy_helper.from_array(c["value"].astype(np.float64), "values"),
        nodes_truenodeids=ints("left"), nodes_falsenodeids=ints("right"),
        nodes_missing_value_tracks_true=ints("missing"),
        target_treeids=ints("t_tree"), target_nodeids=ints("t_node"),
        target_ids=ints("t_class"),
        target_weights_as_tensor=numpy_helper.from_array(
            c["t_weight"].astype(np.float64), "weights"),
        base_values_as_tensor=numpy_helper.from_array(
            np.asarray(model._baseline_prediction, np.float64).ravel(), "base"),
        aggregate_function="SUM", post_transform="NONE",
    )
    graph = helper.make_graph(
        [node], "trees",
        [helper.make_tensor_value_info("X", TensorProto.DOUBLE, [None, model.n_features_in_])],
        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, [None, per_iter])],
    )
    onnx_model = helper.make_model(graph, opset_imports=[
        helper.make_opsetid("", 17), helper.make_opsetid("ai.onnx.ml", 3)])
    onnx_model.ir_version = 9
    return onnx_model.SerializeToString()
