"""The feature contract: a feature sees one origin's `Known` and nothing after it; features are
registered (built-in groups, a notebook's own) and selected by the `features` string."""

from __future__ import annotations

import dataclasses
import gc
import types
import weakref

import numpy as np
import pandas as pd
import pytest

from store_sales import features as F
from store_sales.errors import ConfigError
from store_sales.features import REGISTRY, Known, build_features, feature, select
from store_sales.paths import HORIZON


def _in_notebook(source: str) -> dict:
    """Run `source` as a notebook cell would (module `__main__`)."""
    namespace = {"__name__": "__main__", "feature": feature, "np": np}
    exec(source, namespace)
    return namespace


@pytest.fixture
def notebook_feature():
    """`mean_7_again` registered as a notebook cell registers it; removed afterwards."""
    _in_notebook(
        "@feature('mean_7_again')\n"
        "def mean_7_again(known):\n"
        "    '''mean of the last 7 days'''\n"
        "    return np.nanmean(known.y[:, -7:], axis=1)\n"
    )
    yield REGISTRY["mean_7_again"]
    REGISTRY.pop("mean_7_again", None)


def test_known_holds_copies_cut_at_the_origin(panel):
    origin = panel.last_train - 40
    known = Known(panel, origin)
    assert known.y.shape == (panel.y.shape[0], origin + 1)
    assert known.promo.shape[1] == origin + 1 + HORIZON
    assert known.transactions.shape[1] == origin + 1
    assert len(known.calendar) == HORIZON and known.local_holiday.shape[1] == HORIZON
    np.testing.assert_array_equal(known.target_days, origin + np.arange(1, HORIZON + 1))
    # nothing reaches the whole panel: no array is a view (a view's .base is the full array)
    for name, value in vars(known).items():
        if isinstance(value, np.ndarray) and name not in ("h", "target_days"):
            assert value.base is None and not value.flags.writeable, name
    with pytest.raises(IndexError):
        known.y[:, origin + 1]
    with pytest.raises(ValueError):
        known.y[0, 0] = 1.0  # read-only: one feature cannot change what the next sees


# ---- Known owns its memory, cut at the origin ---------------------------------------------------
_NOT_DATA = (type, types.ModuleType, types.FunctionType, types.BuiltinFunctionType, types.CodeType)


def _reachable_arrays(root) -> list[np.ndarray]:
    """Every ndarray reachable from `root`: through the garbage collector's references, array
    `.base` chains and weak references (classes, modules and functions are not followed)."""
    seen: set[int] = set()
    arrays, todo = [], [root]
    while todo:
        obj = todo.pop()
        if id(obj) in seen or isinstance(obj, _NOT_DATA):
            continue
        seen.add(id(obj))
        assert len(seen) < 20_000, "the walk left the object: something refers to a module"
        if isinstance(obj, np.ndarray):
            arrays.append(obj)
            todo.append(obj.base)
        elif isinstance(obj, weakref.ref):
            todo.append(obj())
        todo.extend(gc.get_referents(obj))
    return arrays


def _base_chain(array: np.ndarray) -> list[np.ndarray]:
    chain = [array]
    while isinstance(chain[-1].base, np.ndarray):
        chain.append(chain[-1].base)
    return chain


def _exposed(name: str, value) -> list[np.ndarray]:
    """The arrays a `Known` attribute exposes, by its type: a frame's columns (`.to_numpy()`,
    a Categorical's codes and categories) with their `.base` chains, and its index. A type
    this does not know fails: a new attribute must be checked too."""
    if isinstance(value, (int, np.integer, pd.Timestamp)):
        return []
    if isinstance(value, np.ndarray):
        return _base_chain(value)
    if isinstance(value, pd.Categorical):
        return [*_base_chain(value.codes), *_exposed(name, value.categories)]
    if isinstance(value, pd.Index):
        return _base_chain(value.to_numpy())
    if isinstance(value, pd.Series):
        arr = value.array
        inner = _exposed(name, arr) if isinstance(arr, pd.Categorical) else []
        return [*_base_chain(value.to_numpy()), *inner, *_exposed(name, value.index)]
    if isinstance(value, pd.DataFrame):
        cols = [a for c in value.columns for a in _exposed(f"{name}.{c}", value[c])]
        return [*cols, *_exposed(name, value.index)]
    pytest.fail(f"Known.{name} is a {type(value).__name__}: teach this test to check it")


def _known_everything(panel, origin, build: bool = False) -> Known:
    """A Known with its cached properties computed; `build`: as `build_features` makes it."""
    frames = (F.contract.frame_columns(panel.calendar), F.contract.frame_columns(panel.series))
    known = Known(panel, origin, frames if build else None)
    for name, attr in vars(Known).items():  # cached properties land in vars(known)
        if isinstance(attr, F.contract.cached_property):
            getattr(known, name)
    return known


@pytest.mark.parametrize("build", [False, True], ids=["alone", "as-built"])
def test_every_attribute_of_known_owns_its_memory(panel, build):
    origin = panel.last_train - 40
    known = _known_everything(panel, origin, build)
    held = _reachable_arrays(panel)  # every array the panel holds, its frames' blocks included
    assert len(held) >= 8 + len(panel.calendar.columns)
    exposed = {name: _exposed(name, value) for name, value in vars(known).items()}
    assert {"y", "promo", "transactions", "calendar", "local_holiday", "series", "sold"} <= set(
        exposed
    )
    everything = _reachable_arrays(known)  # and what pandas keeps inside the frames
    assert len(everything) >= len(exposed["calendar"])
    for name, arrays in [*exposed.items(), ("(reachable)", everything)]:
        for a in arrays:
            for p in held:
                assert not np.shares_memory(a, p), f"Known.{name} shares memory with the panel"
    for name, value in vars(known).items():
        if isinstance(value, np.ndarray):
            assert not value.flags.writeable, name
    # the frames' columns are read-only too: one feature cannot change what the next sees
    with pytest.raises(ValueError, match="read-only"):
        known.calendar.loc[0, "oil"] = 1.0
    with pytest.raises(ValueError, match="read-only"):
        known.series["family"].array.codes[0] = 0
    assert isinstance(known.series["family"].dtype, pd.CategoricalDtype)
    assert known.series["family"].dtype == panel.series["family"].dtype


MARK = -777.0  # a float no panel holds; an integer column's mark is its dtype's minimum


def _mark(values: np.ndarray) -> np.ndarray:
    kind = values.dtype.kind
    return np.asarray(MARK if kind == "f" else np.iinfo(values.dtype).min, values.dtype)


def test_nothing_past_the_origin_is_reachable_from_known(panel):
    """Everything a forecast may not know is marked in a copy of the panel: no array reachable
    from `known` holds a mark (a view or a copy of the whole calendar would)."""
    origin = panel.last_train - 40
    cut, late = origin + 1, origin + 1 + HORIZON
    y, promo, trans = panel.y.copy(), panel.promo.copy(), panel.log_trans.copy()
    y[:, cut:], trans[:, cut:], promo[:, late:] = MARK, MARK, MARK
    calendar = panel.calendar.copy()
    for col in calendar.columns:
        calendar.iloc[late:, calendar.columns.get_loc(col)] = _mark(calendar[col].to_numpy())
    local = np.zeros_like(panel.local_holiday)
    local[:, late:] = True
    marked = dataclasses.replace(
        panel, y=y, promo=promo, log_trans=trans, calendar=calendar, local_holiday=local
    )
    known = _known_everything(marked, origin)
    assert not known.local_holiday.any()
    for a in _reachable_arrays(known):
        if a.dtype.kind in "if":
            assert not (a == _mark(a)).any(), (a.shape, a.dtype)
    # the marks are there to be found: one day later they are in `known`
    later = _known_everything(marked, origin + 1)
    assert (later.y[:, -1] == MARK).all() and (later.calendar.iloc[-1] < 0).all()


def test_a_feature_that_reads_past_the_origin_cannot(panel):
    peek = F.Feature("peek", lambda k: k.y[:, k.origin + 1], "notebook", "", False)
    with pytest.raises(F.FeatureError, match=r"^feature 'peek' failed .*IndexError") as err:
        build_features(panel, [panel.last_train - 40], features=[peek])
    assert isinstance(err.value.__cause__, IndexError)
    # and the last column it can read is the origin itself
    last = F.Feature("at_origin", lambda k: k.y[:, -1], "notebook", "", False)
    rows = build_features(panel, [panel.last_train - 40], features=[last])
    expected = np.repeat(panel.y[:, panel.last_train - 40], HORIZON)
    np.testing.assert_array_equal(rows["at_origin"].to_numpy(), expected)


def test_a_notebook_feature_is_computed_per_origin_and_series(panel, notebook_feature):
    origins = [panel.last_train - 30, panel.last_train]
    rows = build_features(panel, origins, features=select("mean_7_again"))
    assert list(rows.columns) == [*F.META, "mean_7_again"]
    got = rows["mean_7_again"].to_numpy().reshape(len(origins), -1, HORIZON)
    for k, origin in enumerate(origins):
        want = np.nanmean(panel.y[:, origin - 6 : origin + 1], axis=1)
        np.testing.assert_allclose(got[k, :, 0], want, rtol=1e-6)
        assert (got[k] == got[k, :, :1]).all()  # one value per series, the same for every h
    assert notebook_feature.group == "notebook" and not notebook_feature.builtin


def test_feature_shapes_per_series_per_day_and_refused(panel):
    origin = panel.last_train
    n = panel.y.shape[0]
    per_day = F.Feature("d", lambda k: k.h[None, :] * 1.0, "x", "", False)
    per_target = F.Feature("t", lambda k: np.ones((k.n_series, HORIZON)), "x", "", False)
    rows = build_features(panel, [origin], features=[per_day, per_target])
    assert rows["d"].dtype == np.float32  # float64 results are kept lean
    np.testing.assert_array_equal(rows["d"].to_numpy(), np.tile(np.arange(1, 17), n))
    bad = F.Feature("bad", lambda k: np.ones(3), "x", "", False)
    with pytest.raises(F.FeatureError, match=r"'bad' returned shape \(3,\).*per series"):
        build_features(panel, [origin], features=[bad])


def test_selection_adds_and_drops_groups_and_names(notebook_feature):
    names = F.feature_names(select("default,-year_ago,+mean_7_again"))
    assert "mean_7_again" in names and "year_ago" not in names and "year_ago_mean_7" in names
    assert names[-1] == "mean_7_again"  # registry order: the built-ins first
    assert F.feature_names(select("default")) == [f.name for f in REGISTRY.values() if f.builtin]
    yearly = F.feature_names(select("default,-yearly"))
    assert not {"year_ago", "year_ago_mean_7"} & set(yearly)
    assert F.feature_names(select("ids,last")) == [*F.CATEGORICAL, "last"]
    assert "mean_7_again" not in F.feature_names(select("default"))
    assert "mean_7_again" in F.feature_names(select("all"))


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("default,+mean_7_agian", "unknown feature or group 'mean_7_agian'"),
        ("default,-yearly_", "did you mean yearly"),
        ("", "selects nothing"),
        ("default,-default", "selects no feature"),
    ],
)
def test_a_bad_selection_is_one_line_naming_it(spec, message):
    with pytest.raises(ConfigError, match=message) as err:
        select(spec)
    assert "\n" not in str(err.value)


def test_a_notebook_cannot_take_a_builtin_or_group_name_but_may_rerun_its_cell():
    with pytest.raises(F.FeatureError, match="'mean_7' is built in"):
        _in_notebook("@feature('mean_7')\ndef f(known):\n    return known.y[:, -1]\n")
    with pytest.raises(F.FeatureError, match="names a feature group"):
        _in_notebook("@feature('yearly')\ndef f(known):\n    return known.y[:, -1]\n")
    cell = "@feature('again')\ndef again(known):\n    return known.y[:, -1] + {}\n"
    try:
        _in_notebook(cell.format(1))
        _in_notebook(cell.format(2))  # re-running an edited cell replaces its feature
        assert REGISTRY["again"].fn.__code__.co_consts.count(2) == 1
    finally:
        REGISTRY.pop("again", None)
    assert REGISTRY["mean_7"].builtin


def test_builtin_groups_and_names_do_not_collide():
    groups = F.groups()
    assert not set(groups) & set(REGISTRY)
    assert len([f for f in REGISTRY.values() if f.builtin]) == 42
    assert all(f.doc for f in REGISTRY.values() if f.builtin)


def test_the_runner_scans_a_notebooks_features_without_running_it(tmp_path):
    from store_sales.features.scan import declared

    found = declared(
        [
            "%matplotlib inline",  # a magic: skipped, not an error
            "import store_sales.features as sf\n@sf.feature('a', group='mine')\ndef a(k):\n"
            "    '''first line\n    more'''\n    return 1\n",
            "@feature()\ndef b(k):\n    return 1\n",
        ]
    )
    assert found == {"a": ("mine", "first line"), "b": ("notebook", "")}


@pytest.mark.parametrize(
    "decorator",
    ['@feature("mean_7")', '@feature(name="mean_7", group="mine")', "@feature()"],
)
def test_a_notebook_feature_named_like_a_builtin_is_refused_before_the_kernel(
    tmp_path, decorator, capsys
):
    import nbformat

    from store_sales import cli, runner

    path = tmp_path / "exp001.ipynb"
    nb = nbformat.read(runner.resolve_notebook("exp001"), as_version=4)
    at = next(i for i, c in enumerate(nb.cells) if "features" in c.metadata.get("tags", []))
    cell = f"{decorator}\ndef mean_7(known):\n    return known.y[:, -1]\n"
    nb.cells.insert(at + 1, nbformat.v4.new_code_cell(cell))
    nbformat.write(nb, path)
    with pytest.raises(ConfigError) as err:
        runner.check_config(path, {})
    message = str(err.value)
    assert message == (
        "exp001: @feature('mean_7') is the name of a built-in feature; give yours another name"
    )
    assert cli.main(["run", str(path), "-p", "output_dir", str(tmp_path / "run")]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "run").exists()  # no run folder, no kernel


def test_a_notebook_feature_named_like_a_group_is_refused_before_the_kernel(tmp_path):
    import nbformat

    from store_sales import runner

    path = tmp_path / "exp001.ipynb"
    nb = nbformat.read(runner.resolve_notebook("exp001"), as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell("@feature('yearly')\ndef f(k):\n    return 1\n"))
    nbformat.write(nb, path)
    with pytest.raises(ConfigError, match="'yearly'\\) is the name of a feature group"):
        runner.check_config(path, {})


def test_an_exception_in_a_feature_names_the_feature(panel):
    def boom(known):
        return known.y[:, -1] / 0 if known.origin < 0 else {}["missing"]

    broken = F.Feature("boom", boom, "notebook", "", False)
    origin = panel.last_train - 3
    with pytest.raises(F.FeatureError) as err:
        build_features(panel, [origin], features=[*select("last"), broken])
    day = panel.day(origin).date()
    assert (
        str(err.value) == f"feature 'boom' failed at origin {origin} ({day}): KeyError: 'missing'"
    )
    assert isinstance(err.value.__cause__, KeyError)


def test_categorical_features_stay_categories(panel):
    rows = build_features(panel, [panel.last_train], features=select("ids"))
    for name in F.CATEGORICAL:
        assert isinstance(rows[name].dtype, pd.CategoricalDtype), name
    assert rows["store_nbr"].astype(int).nunique() == panel.series["store_nbr"].nunique()
