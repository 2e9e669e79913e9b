"""The leak audit: a notebook feature that reads the data past the origin (a global `panel`,
the `CompetitionData` frames) stops the run before training, in one line naming it; honest
features pass; the data is restored bit-exactly, also when a feature raises."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pandas as pd
import pytest
from helpers import QUICK, LabelAdapter

from store_sales import pipeline
from store_sales.data import load_data
from store_sales.features import REGISTRY, Feature, FeatureError, build_panel, feature, select
from store_sales.features.audit import CALENDAR, PROMOTIONS, SALES, TRANSACTIONS, audit
from store_sales.validation import make_plan

LEAKS = "it reads past the origin; read `known` only"


@pytest.fixture(scope="module")
def data(small_data_dir):
    """A private copy: the audit alters it in place (and restores it)."""
    return load_data(small_data_dir)


@pytest.fixture(scope="module")
def panel(data):
    return build_panel(data)


@pytest.fixture(scope="module")
def origin(panel):
    return make_plan(panel.last_train, 4, 14).val_origin


def _in_notebook(source: str, **names) -> dict:
    """Run `source` as a notebook cell (module `__main__`, its own globals)."""
    namespace = {"__name__": "__main__", "feature": feature, "np": np, "pd": pd, **names}
    exec(source, namespace)
    return namespace


@pytest.fixture
def registered():
    """Names registered by a test's notebook cells; removed afterwards."""
    before = set(REGISTRY)
    yield
    for name in set(REGISTRY) - before:
        REGISTRY.pop(name)


PEEK_FUTURE = """
@feature("peek_future")
def peek_future(known):
    return globals()["panel"].y[:, known.target_days]
"""

TRAIN_AFTER = """
@feature("train_after")
def train_after(known):  # per store: mean sales in train.csv after the origin
    train = globals()["data"].train
    after = train[train["date"] > known.date(known.origin)]
    means = after.groupby("store_nbr", observed=True)["sales"].mean()
    return means.to_numpy(np.float32)[known.store_of]
"""

HONEST = """
@feature("promo_days_16")
def promo_days_16(known):
    return (known.promo[:, -16:] > 0).sum(axis=1).astype(np.float32)

@feature("nb_trans_last")
def nb_trans_last(known):
    return known.transactions[:, -1][known.store_of]

@feature("nb_oil_trend")
def nb_oil_trend(known):  # per horizon day, from the calendar frame
    oil = known.calendar["oil"].to_numpy()
    return (oil - oil[0])[None, :]
"""


def test_a_feature_reading_a_global_panel_past_the_origin_is_named(data, panel, origin, registered):
    _in_notebook(HONEST + PEEK_FUTURE, panel=panel, data=data)
    with pytest.raises(FeatureError) as err:
        audit(select("all"), origin, panel, data)
    assert str(err.value) == f"feature 'peek_future' changed when {SALES} changed: {LEAKS}"


def test_a_feature_reading_the_train_frame_past_the_origin_is_named(
    data, panel, origin, registered
):
    _in_notebook(TRAIN_AFTER, panel=panel, data=data)
    with pytest.raises(FeatureError, match=f"^feature 'train_after' changed when {SALES}"):
        audit(select("train_after"), origin, panel, data)


@pytest.mark.parametrize(
    ("reads", "group"),
    [
        (lambda p, d, k: p.y[:, k.origin + 1 : k.origin + 17], SALES),  # a view of the panel
        (lambda p, d, k: p.log_trans[:, k.origin + 1][k.store_of], TRANSACTIONS),
        (lambda p, d, k: p.promo[:, k.origin + 17], PROMOTIONS),
        (lambda p, d, k: p.calendar["oil"].to_numpy()[None, k.target_days + 16], CALENDAR),
        (lambda p, d, k: p.local_holiday[k.store_of, k.origin + 20], CALENDAR),
        (
            lambda p, d, k: np.full(k.n_series, d.transactions["transactions"].iloc[-1]),
            TRANSACTIONS,
        ),
        (lambda p, d, k: np.full(k.n_series, d.test["onpromotion"].sum()), PROMOTIONS),
        (lambda p, d, k: np.full(k.n_series, d.oil["dcoilwtico"].iloc[-1]), CALENDAR),
        (
            lambda p, d, k: np.full(k.n_series, d.holidays_events["date"].iloc[-1].day_of_year),
            CALENDAR,
        ),
    ],
    ids=[
        "panel.y",
        "panel.log_trans",
        "panel.promo",
        "panel.calendar",
        "panel.local_holiday",
        "data.transactions",
        "data.test",
        "data.oil",
        "data.holidays_events",
    ],
)
def test_each_input_past_the_origin_is_named(data, panel, origin, reads, group):
    leak = Feature("leak", lambda k: reads(panel, data, k), "notebook", "", False)
    with pytest.raises(FeatureError, match=f"^feature 'leak' changed when {group} changed"):
        audit([leak], origin, panel, data)


def test_honest_and_builtin_style_features_pass(data, panel, origin, registered, capsys):
    _in_notebook(HONEST, panel=panel, data=data)
    # every built-in, as a notebook's own feature: reads each part of `known`
    own = [dataclasses.replace(f, name=f"nb_{f.name}", builtin=False) for f in select("default")]
    honest = [*select("promo_days_16,nb_trans_last,nb_oil_trend"), *own]
    assert audit([*select("default"), *honest], origin, panel, data) == [f.name for f in honest]
    assert f"unchanged when the data after {panel.day(origin).date()} changed" in (
        capsys.readouterr().out
    )
    assert audit(select("default"), origin, panel, data) == []  # built-ins: not audited


def _snapshot(*objects) -> list:
    """Bytes of every array and frame column of the panels and CompetitionData given."""
    out = []
    for obj in objects:
        for field in dataclasses.fields(obj):
            value = getattr(obj, field.name)
            if isinstance(value, np.ndarray):
                out.append((field.name, value.dtype, value.tobytes()))
            elif isinstance(value, pd.DataFrame):
                for col in value.columns:
                    series = value[col]
                    raw = series.array.codes if hasattr(series.array, "codes") else series
                    raw = np.asarray(raw)
                    kept = raw.tolist() if raw.dtype.kind == "O" else raw.tobytes()  # strings
                    out.append((f"{field.name}.{col}", series.dtype, kept))
    return out


class Boom(Exception):
    pass


def test_the_data_is_restored_bit_exactly_also_when_a_feature_raises(data, panel, origin):
    before = _snapshot(panel, data)
    frames = {name: getattr(data, name) for name in ("train", "test", "oil", "holidays_events")}
    arrays = {name: getattr(panel, name) for name in ("y", "promo", "log_trans")}

    def raises_when_altered(k):  # fine on the true data, raises on the altered one
        if panel.y[0, k.origin + 1] != before_value:
            raise Boom("the future moved")
        return k.y[:, -1]

    before_value = panel.y[0, origin + 1]

    def interrupted(k):  # not an Exception: passes through the audit, which still restores
        if panel.y[0, k.origin + 1] != before_value:
            raise KeyboardInterrupt
        return k.y[:, -1]

    peek = Feature("peek", lambda k: panel.y[:, k.target_days], "notebook", "", False)
    boom = Feature("boom", raises_when_altered, "notebook", "", False)
    stop = Feature("stop", interrupted, "notebook", "", False)
    with pytest.raises(FeatureError, match=r"^feature 'peek' changed"):
        audit([peek], origin, panel, data)
    assert _snapshot(panel, data) == before
    with pytest.raises(FeatureError, match=r"^feature 'boom' failed \(Boom: the future moved\)"):
        audit([boom], origin, panel, data)
    assert _snapshot(panel, data) == before
    with pytest.raises(KeyboardInterrupt):
        audit([stop], origin, panel, data)
    assert _snapshot(panel, data) == before
    # altered in place: the same objects a notebook global names, not replaced
    assert all(getattr(data, n) is f for n, f in frames.items())
    assert all(getattr(panel, n) is a for n, a in arrays.items())


def test_a_feature_that_raises_on_the_true_data_names_itself(data, panel, origin):
    broken = Feature("broken", lambda k: k.y[:, -1] / k.nothing, "notebook", "", False)
    with pytest.raises(FeatureError, match=r"^feature 'broken' failed at origin .*AttributeError"):
        audit([broken], origin, panel, data)


def test_a_random_feature_is_reported_not_blamed(data, panel, origin, capsys):
    rng = np.random.default_rng()
    noisy = Feature("noisy", lambda k: rng.random(k.n_series), "notebook", "", False)
    assert audit([noisy], origin, panel, data) == ["noisy"]
    assert "feature 'noisy' gives other values on the same data" in capsys.readouterr().out


def test_validate_audits_before_any_training(small_data_dir, tmp_path, registered):
    """The pipeline keeps what `load` read and `validate` audits it before the first fit: a
    sweep or tune trial goes through the same `validate`."""
    from store_sales.templates.exp001 import Exp001Config

    seen = {}
    leak = lambda k: seen["run"].panel.y[:, k.target_days]  # noqa: E731 (a notebook global)
    feature("peek_future")(leak)
    cfg = Exp001Config(
        data_dir=str(small_data_dir),
        output_dir=str(tmp_path / "run"),
        n_origins=4,
        tracker="none",
        features="default,+peek_future",
    )
    adapter = LabelAdapter()
    run = pipeline.start(cfg, adapter=adapter)
    seen["run"] = run
    data, panel = pipeline.load(run)
    assert run.data is data and run.panel is panel
    with pytest.raises(FeatureError, match=f"^feature 'peek_future' changed when {SALES}"):
        pipeline.validate(run, panel)
    assert adapter.fits == []
    run.finish(1)


@pytest.mark.e2e
def test_an_edited_exp001_with_a_leaking_feature_stops_before_training(small_data_dir, tmp_path):
    """The user's case: a features cell reading the notebook's global `panel` past the origin.
    The run fails with the one line naming the feature, before any model is trained."""
    import nbformat

    from store_sales import runner
    from store_sales.errors import RunFailed

    path = tmp_path / "exp001.ipynb"
    nb = nbformat.read(runner.resolve_notebook("exp001"), as_version=4)
    cell = next(c for c in nb.cells if "features" in c.metadata.get("tags", []))
    cell.source += "\n\n" + PEEK_FUTURE
    nbformat.write(nb, path)
    out = tmp_path / "run"
    params = {
        **QUICK["exp001"],
        "data_dir": str(small_data_dir),
        "output_dir": str(out),
        "tracker": "none",
        "features": "default,+peek_future",
    }
    with pytest.raises(RunFailed) as err:
        runner.run(path, params, log_output=False)
    assert str(err.value) == f"feature 'peek_future' changed when {SALES} changed: {LEAKS}"
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["status"] == "failed" and "leak_audit" in metrics["timings"]
    assert not {"features", "train"} & set(metrics["timings"])  # no rows built, no fit
    assert not list(out.glob("model*")) and not (out / "submission.csv").exists()
