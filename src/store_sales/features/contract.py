"""The feature contract: a feature is a function of what is known at one forecast origin.

    from store_sales.features import feature

    @feature("mean_7_again")
    def mean_7_again(known):        # known: the data as of one origin (`Known`)
        return np.nanmean(known.y[:, -7:], axis=1)   # (S,) per series, or (S, 16) per day

A forecast made at origin `o` (the last day whose sales are known) for day `o + h`, h = 1..16,
may use sales and transactions up to `o`, plus what the competition publishes for the future:
promotions, the calendar, oil and holidays of the 16 target days. `Known` holds exactly that:
every array, and every column of its frames, is a read-only copy cut at the origin that owns its
memory, never a view of the panel (a view's `.base` would reach past the origin). So nothing
reachable from `known` lies past the origin. A feature is still a Python function, though: it
can read a notebook global (`panel`, `data`) or a file instead. The leak audit (`audit`) catches
the first before training, by altering the data past one origin in place; nothing catches a
feature that opens files itself. Validation, training and test rows all come from the same
functions, so a feature that would be missing on the test (like a `lag_7` for h > 7) cannot
exist here.

Features live in one registry, in the order registered (the built-ins first, then a notebook's
own); a config's `features` string selects from it ("default,-year_ago,+mean_7_again").
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd

from ..errors import ConfigError, UserError
from ..paths import HORIZON

DEFAULT = "default"  # every built-in feature
ALL = "all"  # every registered feature, a notebook's own included
NOTEBOOK_GROUP = "notebook"  # the group of a feature registered without one outside the package
BUILTIN_MODULE = "store_sales.features.builtin"


class FeatureError(UserError):
    """A feature that cannot be registered or whose values do not fit the rows."""


def _frozen(a: np.ndarray, copy: bool = True) -> np.ndarray:
    out = np.array(a) if copy else a  # a copy owns its memory: `.base` is None
    out.flags.writeable = False
    return out


def frame_columns(frame: pd.DataFrame) -> dict[str, object]:
    """A frame's columns as arrays to cut per origin (`owned_frame`): numpy arrays, and
    Categoricals with their own copy of the categories (immutable: one copy serves a build).
    Views of the panel's frame: never handed to a feature. Taken once for all the origins of a
    build: taking a column out of a DataFrame costs more than cutting and copying it."""
    out: dict[str, object] = {}
    for name, col in frame.items():
        if isinstance(col.dtype, pd.CategoricalDtype):
            own = pd.CategoricalDtype(col.dtype.categories.copy(deep=True), col.dtype.ordered)
            out[name] = pd.Categorical.from_codes(col.array.codes, dtype=own, validate=False)
        else:
            out[name] = col.to_numpy() if isinstance(col.dtype, np.dtype) else col.array
    return out


def owned_frame(columns: dict[str, object], rows: slice = slice(None)) -> pd.DataFrame:
    """The `rows` of `frame_columns`' columns as a frame whose every column is a frozen copy
    (a Categorical: frozen codes): an `iloc` slice or `.copy()` of the panel's frame would keep
    its blocks (or CoW references to them), reachable through a column's `.to_numpy().base`.
    Read-only: a feature cannot change what the next one sees."""
    cut: dict[str, object] = {}
    for name, values in columns.items():
        if isinstance(values, pd.Categorical):
            codes = _frozen(values.codes[rows])
            cut[name] = pd.Categorical.from_codes(codes, dtype=values.dtype, validate=False)
        elif isinstance(values, np.ndarray):
            cut[name] = _frozen(values[rows])
        else:  # another extension array (a column a notebook added): a copy
            cut[name] = values[rows].copy()
    return pd.DataFrame(cut, copy=False)  # copy=False: keeps the frozen arrays as they are


class Known:
    """The data as of one forecast origin: what a feature may read.

    `y` (S, origin + 1): log1p(sales) of series x days 0..origin, NaN where unknown (Dec 25).
    `promo` (S, origin + 17): onpromotion up to the last target day (published in advance).
    `transactions` (n_stores, origin + 1): log1p(transactions), NaN where unknown.
    `calendar` (16 rows): the target days' calendar, oil and national holiday flags.
    `local_holiday` (n_stores, 16): a regional or local holiday at the store on each target day.
    `series` (S rows): store_nbr, family, city, state, type, cluster; `store_of` (S,) is the row
    of each series' store in the store arrays. `h` is 1..16, `target_days` their day indices.

    `frames`: `frame_columns` of the panel's calendar and series, taken once for many origins.
    """

    def __init__(self, panel, origin: int, frames: tuple[dict, dict] | None = None):
        origin = int(origin)
        if not 0 <= origin <= panel.last_train:
            raise ValueError(f"origin {origin} is not in 0..{panel.last_train}")
        end = origin + 1
        self.origin = origin
        self.start = panel.start
        self.y = _frozen(panel.y[:, :end])
        self.promo = _frozen(panel.promo[:, : end + HORIZON])
        self.transactions = _frozen(panel.log_trans[:, :end])
        calendar, series = frames or (frame_columns(panel.calendar), frame_columns(panel.series))
        self.calendar = owned_frame(calendar, slice(end, end + HORIZON))
        self.local_holiday = _frozen(panel.local_holiday[:, end : end + HORIZON])
        self.series = owned_frame(series)
        self.store_of = _frozen(panel.store_of)
        self.h = _frozen(np.arange(1, HORIZON + 1), copy=False)
        self.target_days = _frozen(origin + self.h, copy=False)

    @property
    def n_series(self) -> int:
        return self.y.shape[0]

    def date(self, day: int) -> pd.Timestamp:
        return self.start + pd.Timedelta(days=int(day))

    @cached_property
    def sold(self) -> np.ndarray:
        """(S, origin + 1) True where the series sold something (unknown days: False)."""
        return _frozen(self.y > 0, copy=False)

    def mean(self, days: int, values: np.ndarray | None = None) -> np.ndarray:
        """(rows,) mean of the known values of the last `days` days up to the origin (of `y`, or
        of `values`), NaN where none is known; sums in float64."""
        return window_mean((self.y if values is None else values)[:, -days:])


def window_mean(window: np.ndarray) -> np.ndarray:
    """Row means of the non-NaN entries (float32), NaN for a row with none."""
    known = ~np.isnan(window)
    total = np.add.reduce(np.where(known, window, 0.0), axis=1, dtype=np.float64)
    count = known.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / np.maximum(count, 1), np.nan).astype(np.float32)


def one_line(err: BaseException) -> str:
    """`Type: first line of the message`, for a one-line error that names another."""
    lines = str(err).strip().splitlines()
    return f"{type(err).__name__}: {lines[0]}" if lines else type(err).__name__


@dataclass(frozen=True)
class Feature:
    name: str
    fn: Callable[[Known], object]
    group: str
    doc: str  # the function docstring's first line (`--list-features`)
    builtin: bool

    def compute(self, known: Known) -> np.ndarray | pd.Categorical:
        """The feature at one origin as (S, 16) values (or a per-series Categorical); an
        exception in the function becomes a FeatureError naming the feature."""
        try:
            value = self.fn(known)
        except Exception as err:
            day = known.date(known.origin).date()
            raise FeatureError(
                f"feature {self.name!r} failed at origin {known.origin} ({day}): {one_line(err)}"
            ) from err
        n = known.n_series
        if isinstance(value, pd.Series):
            value = (
                value.array if isinstance(value.dtype, pd.CategoricalDtype) else value.to_numpy()
            )
        if isinstance(value, pd.Categorical):
            if len(value) != n:
                raise self._shape_error(f"a Categorical of length {len(value)}", n)
            return value
        value = np.asarray(value)
        if value.dtype == np.float64:
            value = value.astype(np.float32)  # lean rows; the built-ins are float32 too
        elif value.dtype == bool:
            value = value.astype(np.int8)
        if value.shape == (n,):
            value = value[:, None]
        elif value.shape not in ((n, HORIZON), (1, HORIZON)):
            raise self._shape_error(f"shape {value.shape}", n)
        return np.broadcast_to(value, (n, HORIZON))

    def _shape_error(self, got: str, n: int) -> FeatureError:
        return FeatureError(
            f"feature {self.name!r} returned {got}; return one value per series ({n},), per "
            f"series and horizon day ({n}, {HORIZON}), or per horizon day (1, {HORIZON})"
        )


REGISTRY: dict[str, Feature] = {}


def feature(name: str | None = None, group: str | None = None):
    """Register a feature function (a decorator): `@feature("name")` or `@feature()`.

    Re-running a notebook cell replaces its own feature of the same name; a name of a built-in
    feature, or of a group, is refused."""

    def register(fn: Callable[[Known], object]) -> Callable[[Known], object]:
        key = name or fn.__name__
        builtin = fn.__module__ == BUILTIN_MODULE
        kind = group or (NOTEBOOK_GROUP if not builtin else "")
        if not builtin:
            old = REGISTRY.get(key)
            if old is not None and old.builtin:
                raise FeatureError(f"feature {key!r} is built in; give yours another name")
            if key in groups() or key in (DEFAULT, ALL):
                raise FeatureError(f"{key!r} names a feature group; give the feature another name")
        doc = (fn.__doc__ or "").strip().splitlines()
        REGISTRY[key] = Feature(key, fn, kind, doc[0] if doc else "", builtin)
        return fn

    return register


def groups(features: Iterable[Feature] | None = None) -> dict[str, list[str]]:
    """Group -> its feature names, in registry order."""
    out: dict[str, list[str]] = {}
    for f in REGISTRY.values() if features is None else features:
        out.setdefault(f.group, []).append(f.name)
    return out


def resolve(spec: str, known: Mapping[str, str], builtin: Iterable[str]) -> set[str]:
    """Names a `features` string selects from `known` (name -> group).

    Comma-separated terms, applied in order: a group, a feature, `default` (the built-ins) or
    `all`; `-term` removes it, `+term` (or a bare term) adds it."""
    by_group: dict[str, set[str]] = {}
    for name, grp in known.items():
        by_group.setdefault(grp, set()).add(name)
    by_group[DEFAULT] = set(builtin)
    by_group[ALL] = set(known)
    terms = [t.strip() for t in str(spec).split(",") if t.strip()]
    if not terms:
        raise ConfigError("features='' selects nothing; start from 'default'")
    chosen: set[str] = set()
    for term in terms:
        sign, word = (term[0], term[1:].strip()) if term[0] in "+-" else ("+", term)
        if word in by_group:
            names = by_group[word]
        elif word in known:
            names = {word}
        else:
            close = difflib.get_close_matches(word, [*known, *by_group], n=3)
            hint = f" (did you mean {', '.join(close)}?)" if close else ""
            raise ConfigError(
                f"features: unknown feature or group {word!r}{hint}; "
                "`store-sales run TEMPLATE --list-features` lists them"
            )
        chosen = chosen - names if sign == "-" else chosen | names
    if not chosen:
        raise ConfigError(f"features={spec!r} selects no feature")
    return chosen


def select(spec: str = DEFAULT) -> list[Feature]:
    """The registered features a `features` string selects, in registry order."""
    known = {f.name: f.group for f in REGISTRY.values()}
    chosen = resolve(spec, known, [f.name for f in REGISTRY.values() if f.builtin])
    return [f for f in REGISTRY.values() if f.name in chosen]


def feature_names(spec: str | Iterable[Feature] = DEFAULT) -> list[str]:
    chosen = select(spec) if isinstance(spec, str) else spec
    return [f.name for f in chosen]
