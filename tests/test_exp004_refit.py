"""exp004 (CatBoost, its adapter written in the notebook): the refit bins its rows with fold 1's
quantization borders, once, and leaves no file behind."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from store_sales import templates
from store_sales.features import build_features, feature_names
from store_sales.templates.exp004 import Exp004Config
from store_sales.validation import _train_rows, make_plan

pytest.importorskip("catboost")

SMALL = {"iterations": 30, "early_stopping_rounds": 5, "learning_rate": 0.3, "log_period": 0}


@pytest.fixture(scope="module")
def rows(panel):
    """Fold 1's training and validation rows and the refit's, as the pipeline builds them."""
    plan = make_plan(panel.last_train, n_origins=4, stride=14)
    fold = plan.folds[0]
    frame = build_features(panel, np.sort(np.append(fold.train_origins, fold.val_origin)))
    val = frame[(frame["origin"].to_numpy() == fold.val_origin) & frame["alive"].to_numpy()]
    later = build_features(panel, np.sort(plan.refit_origins))
    train = _train_rows(frame, fold.train_origins)
    return train, val, _train_rows(later, plan.refit_origins), feature_names()


def _recording(adapter) -> list:
    """(stage, pool, fold 1's borders file as written) of each training call, in order."""
    calls: list = []
    own_train = adapter.train

    def train(stage, pool, iterations, eval_pool=None, callbacks=(), **files):
        model = own_train(stage, pool, iterations, eval_pool, callbacks, **files)
        written = files.get("output_borders")
        calls.append((stage, pool, written and Path(written).read_text(), written))
        return model

    adapter.train = train
    return calls


def _borders(text: str) -> dict[int, set[np.float32]]:
    """CatBoost's borders file: one `feature index<TAB>border` line per border."""
    out: dict[int, set[np.float32]] = {}
    for line in text.splitlines():
        index, value = line.split("\t")[:2]
        out.setdefault(int(index), set()).add(np.float32(value))  # CatBoost's are float32
    return out


def _used(model) -> dict[int, set[np.float32]]:
    """The borders the model's splits use, per feature index."""
    return {k: set(np.float32(v)) for k, v in model.get_borders().items() if len(v)}


def _within(used: dict, borders: dict) -> bool:
    return all(values <= borders.get(k, set()) for k, values in used.items())


def test_the_refit_bins_its_rows_with_fold_1s_borders_once(rows):
    train, val, later, features = rows
    adapter = templates.adapter("exp004", Exp004Config(**SMALL, num_threads=1))
    calls = _recording(adapter)
    adapter.fit(train, val, features, fold=1)
    model = adapter.refit(later, features, 7)
    assert adapter.steps(model) == 7
    fold_1 = _borders(calls[0][2])
    assert calls[1][1].is_quantized()  # quantized before training: no border search of its own
    assert _within(_used(model), fold_1)  # every split of the refit is on one of fold 1's
    assert not Path(calls[0][3]).parent.exists()  # the borders' folder is gone after the refit
    # once only: a second refit quantizes its own rows, and its splits leave fold 1's borders
    again = adapter.refit(later, features, 7)
    assert not calls[2][1].is_quantized()
    assert not _within(_used(again), fold_1)


def test_only_fold_1_writes_borders_and_other_features_get_their_own(rows):
    train, val, later, features = rows
    adapter = templates.adapter("exp004", Exp004Config(**SMALL, num_threads=1))
    calls = _recording(adapter)
    adapter.fit(train, val, features, fold=2)
    assert calls[0][3] is None
    adapter.refit(later, features, 3)
    assert not calls[1][1].is_quantized()
    adapter.fit(train, val, features, fold=1)
    fewer = features[:-1]
    adapter.refit(later, fewer, 3)  # other features: fold 1's borders would not fit them
    assert not calls[3][1].is_quantized()
    assert not Path(calls[2][3]).parent.exists()
