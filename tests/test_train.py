"""What training feeds its estimators: the span detector's extra injected copies."""

from __future__ import annotations

import numpy as np
from test_inject import text_record

from training.train import inject_folds, span_copies


def test_the_span_detector_gets_more_draws_of_every_page_in_its_own_fold() -> None:
    records = [text_record(f"p{k}") for k in range(6)]
    pages, folds = inject_folds(records, 3, 0, 1.0, None)
    extra, extra_folds = span_copies(records, 3, 0, 1.0, None, copies=3)
    assert len(extra) == 2 * len(records)
    fold_of = {r["id"]: f for r, f in zip(pages, folds)}
    for r, f in zip(extra, extra_folds):
        page_id, _, copy = r["id"].rpartition("-spans")
        assert copy in ("1", "2") and fold_of[page_id] == f
    # Other draws: the copies' injections differ from the unit model's pages.
    first = {r["id"]: r["injections"] for r in pages}
    assert any(r["injections"] != first[r["id"].rpartition("-spans")[0]] for r in extra)
    assert span_copies(records, 3, 0, 1.0, None, copies=1) == ([], [])


def test_a_candidate_is_labelled_by_the_share_of_its_characters_that_are_spam() -> None:
    from training.train_spans import spam_share

    text = "the learning代孕 process"
    a = text.index("代孕")
    gold = [[(a, a + 2)], []]
    cuts = [(a, a + 2), (a + 1, a + 2), (text.index("learning"), a + 2), (0, 3), (a, len(text))]
    unit = np.array([0] * len(cuts) + [1])
    start = np.array([s for s, _ in cuts] + [0])
    end = np.array([e for _, e in cuts] + [3])
    share = spam_share([text, "the"], gold, unit, start, end)
    # the span and a piece of it are all spam; an overreach is partly (spaces do not count);
    # real text, and any cut in a unit without spam, is none
    assert share.tolist() == [1.0, 1.0, 0.2, 0.0, 2 / 9, 0.0]


def test_retraining_on_own_labelled_pages_gives_a_model_that_cleans(tmp_path) -> None:
    import json

    from cleaner.cleaning import Cleaner
    from training import train

    data = tmp_path / "pages.jsonl"
    data.write_text("".join(json.dumps(text_record(f"p{k}")) + "\n" for k in range(18)),
                    "utf-8")
    out = tmp_path / "model.joblib"
    assert train.main(["--data", str(data), "--out", str(out), "--no-validation",
                       "--max-iter", "10"]) == 0
    cleaner = Cleaner.load(out)
    detector = cleaner.pipeline.named_steps["model"].spans_
    assert detector.span_model_ is not None and detector.edge_model_ is not None
    record = text_record()
    result = cleaner.clean(text="\n\n".join(u["text"] for u in record["units"]))
    assert len(result.lines) == len(record["units"])  # every line labelled, none dropped
    for unit, label in zip(record["units"], record["labels"]):
        if label == "content":  # a model of 18 pages may keep boilerplate, never lose text
            assert unit["text"] in result.text
