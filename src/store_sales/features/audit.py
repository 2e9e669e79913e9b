"""The leak audit: a notebook's features, checked against the data after the origin, before
training.

`Known` holds only what is known at one origin, but a feature is a Python function: it can
read a notebook global (`panel`, `data`) instead. So each selected feature that is not built in
is computed at one origin (fold 1's validation origin), then again after everything the run
holds past that origin has been altered in place: in the `Panel`, sales and transactions after
the origin, promotions, the calendar and local holidays after its 16 target days; in the
`CompetitionData`, train.csv's sales after the origin, transactions after the origin, and
promotions, oil and holidays after the 16 target days (test.csv's promotions included). A
feature whose values move reads past the origin: the run stops with one line naming it. The
data is restored exactly afterwards, also when a feature raises.

What it cannot see: a feature that opens files itself, one that reads a copy of the data made
before the audit (a column taken out of a frame), or one that keeps state between calls and
reads the future only on some; nor a leak at other origins only.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..data import CompetitionData
from ..panel import Panel
from ..paths import HORIZON
from .contract import Feature, FeatureError, Known, one_line

SALES = "sales after the origin"
TRANSACTIONS = "transactions after the origin"
PROMOTIONS = "promotions after the 16 target days"
CALENDAR = "the calendar, oil or holidays after the 16 target days"
GROUPS = (SALES, TRANSACTIONS, PROMOTIONS, CALENDAR)


@dataclass
class _Change:
    """One in-place alteration of a data object, and how to undo it exactly."""

    apply: Callable[[], None]
    undo: Callable[[], None]


def _other(values: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Values of the same dtype and shape, each unlike the one it replaces, in another order:
    a random permutation plus a random step of 1..3 (a monotone map would keep the ranks)."""
    flat = values.ravel()
    n = len(flat)
    if flat.dtype == bool:
        new = ~flat
    elif flat.dtype.kind == "M":  # dates: later by 1..3 days, so they stay past the cut
        new = flat + rng.integers(1, 4, n).astype("timedelta64[D]")
    elif flat.dtype.kind in "iuf":
        base = np.nan_to_num(flat.astype(np.float64), nan=0.0)
        new = (base[rng.permutation(n)] + rng.integers(1, 4, n)).astype(flat.dtype)
        new = np.where(new == flat, new + 1, new).astype(flat.dtype)
    else:  # strings
        new = flat[rng.permutation(n)]
        new = np.where(new == flat, flat + "~", new)
    return new.reshape(values.shape)


def _array_tail(array: np.ndarray, start: int, rng) -> list[_Change]:
    """`array[..., start:]` (days on the last axis) altered in place."""
    if start >= array.shape[-1]:
        return []
    old = array[..., start:].copy()
    new = _other(old, rng)

    def put(values):
        def do():
            array[..., start:] = values

        return do

    return [_Change(put(new), put(old))]


def _frame_rows(frame: pd.DataFrame, rows: np.ndarray, columns: Iterable[str], rng):
    """The cells of `rows` (positions) in `columns` altered in place: the same DataFrame
    object, so a notebook global that refers to it sees the change."""
    if not len(rows):
        return []
    changes = []
    for name in columns:
        j = frame.columns.get_loc(name)
        old = frame.iloc[rows, j].to_numpy(copy=True)
        new = _other(old, rng)

        def put(values, j=j):
            def do():
                frame.iloc[rows, j] = values

            return do

        changes.append(_Change(put(new), put(old)))
    return changes


def _after(frame: pd.DataFrame, day: pd.Timestamp) -> np.ndarray:
    return np.flatnonzero(frame["date"].to_numpy() > day.to_datetime64())


def _panel_changes(panel, origin_day: pd.Timestamp, rng) -> dict[str, list[_Change]]:
    cut = int((origin_day - panel.start) / pd.Timedelta(days=1)) + 1  # first day after it
    late = cut + HORIZON  # first day after the 16 target days
    calendar = panel.calendar
    calendar = _frame_rows(calendar, np.arange(late, len(calendar)), calendar.columns, rng)
    return {
        SALES: _array_tail(panel.y, cut, rng),
        TRANSACTIONS: _array_tail(panel.log_trans, cut, rng),
        PROMOTIONS: _array_tail(panel.promo, late, rng),
        CALENDAR: [*calendar, *_array_tail(panel.local_holiday, late, rng)],
    }


def _data_changes(data, origin_day: pd.Timestamp, rng) -> dict[str, list[_Change]]:
    late = origin_day + pd.Timedelta(days=HORIZON)
    hol = data.holidays_events
    return {
        SALES: _frame_rows(data.train, _after(data.train, origin_day), ["sales"], rng),
        TRANSACTIONS: _frame_rows(
            data.transactions, _after(data.transactions, origin_day), ["transactions"], rng
        ),
        PROMOTIONS: [
            *_frame_rows(data.train, _after(data.train, late), ["onpromotion"], rng),
            *_frame_rows(data.test, _after(data.test, late), ["onpromotion"], rng),
        ],
        CALENDAR: [
            *_frame_rows(data.oil, _after(data.oil, late), ["dcoilwtico"], rng),
            *_frame_rows(hol, _after(hol, late), hol.columns, rng),
        ],
    }


def _changes(holders: Sequence, origin_day: pd.Timestamp, seed: int) -> dict[str, list[_Change]]:
    """Every alteration, by what it alters, of the panels and CompetitionData in `holders`."""
    rng = np.random.default_rng(seed)
    out: dict[str, list[_Change]] = {group: [] for group in GROUPS}
    for holder in holders:
        if isinstance(holder, Panel):
            kind = _panel_changes
        elif isinstance(holder, CompetitionData):
            kind = _data_changes
        else:
            raise TypeError(f"the leak audit alters a Panel or CompetitionData, not {holder!r}")
        for group, changes in kind(holder, origin_day, rng).items():
            out[group] += changes
    return out


@contextmanager
def altered(changes: Sequence[_Change]):
    """The data altered inside the block; restored exactly on leaving it, however it is left."""
    done: list[_Change] = []
    try:
        for change in changes:
            change.apply()
            done.append(change)
        yield
    finally:
        for change in reversed(done):
            change.undo()


def _copy(value):
    return value.copy() if isinstance(value, pd.Categorical) else np.array(value)


def _same(a, b) -> bool:
    if isinstance(a, pd.Categorical) or isinstance(b, pd.Categorical):
        return (
            isinstance(a, pd.Categorical)
            and isinstance(b, pd.Categorical)
            and a.dtype == b.dtype
            and np.array_equal(a.codes, b.codes)
        )
    a, b = np.asarray(a), np.asarray(b)
    nan_aware = a.dtype.kind in "fc" and b.dtype.kind in "fc"
    return a.shape == b.shape and np.array_equal(a, b, equal_nan=nan_aware)


def _moved(features, clean: dict, panel, origin: int, changes) -> list[tuple[Feature, str]]:
    """The features whose values differ from `clean` with `changes` applied, and how."""
    out = []
    with altered(changes):
        known = Known(panel, origin)
        for f in features:
            try:
                value = f.compute(known)
            except FeatureError as err:
                out.append((f, f"failed ({one_line(err.__cause__ or err)})"))
                continue
            if not _same(value, clean[f.name]):
                out.append((f, "changed"))
    return out


def audit(features: Iterable[Feature], origin: int, panel, *holders, seed: int = 0) -> list[str]:
    """Check the features that are not built in at `origin` (a day of `panel`) against the
    data after it, in `panel` and the other Panels / CompetitionData in `holders` (None:
    skipped). Returns the names checked; raises FeatureError for the first that reads past
    the origin."""
    chosen = [f for f in features if not f.builtin]
    if not chosen:
        return []
    unique = {id(h): h for h in (panel, *holders) if h is not None}
    groups = _changes(list(unique.values()), panel.day(origin), seed)
    known = Known(panel, origin)
    # copies: a leaking feature's value may be a view of the very data altered next
    clean = {f.name: _copy(f.compute(known)) for f in chosen}
    moved = _moved(chosen, clean, panel, origin, [c for cs in groups.values() for c in cs])
    names = [f.name for f in chosen]
    if not moved:
        print(
            f"leak audit: {', '.join(names)} unchanged when the data after "
            f"{panel.day(origin).date()} changed"
        )
        return names
    again = Known(panel, origin)
    for f, _ in moved:
        if not _same(f.compute(again), clean[f.name]):
            print(
                f"warning: feature {f.name!r} gives other values on the same data (random "
                "without a fixed seed?); the leak audit cannot check it"
            )
            continue
        for group in GROUPS:
            for _, how in _moved([f], clean, panel, origin, groups[group]):
                raise FeatureError(
                    f"feature {f.name!r} {how} when {group} changed: it reads past the origin; "
                    "read `known` only"
                )
        raise FeatureError(
            f"feature {f.name!r} changed when the data after the origin changed: it reads past "
            "the origin; read `known` only"
        )
    return names
