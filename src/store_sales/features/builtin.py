"""The built-in features: named groups of feature functions (`store-sales run exp001
--list-features`). Registered in the order of the rows' columns.

Each reads one origin's `Known` and returns (S,) per series, (S, 16) per series and horizon day,
or (1, 16) per horizon day. Window statistics are one vectorized reduction over the last days of
the (S, days) arrays; nothing here loops over series.
"""

from __future__ import annotations

import numpy as np

from ..paths import HORIZON
from .contract import Known, feature, window_mean

WINDOWS = (3, 7, 14, 28, 56, 112)  # trailing windows (days) ending at the origin
EWM_HALFLIVES = (3, 14)  # exponentially weighted means: track a level that drifts
EWM_SPAN = 40  # halflives of history an EWM reads: older weights are below 0.5**40 ~ 1e-12
DOW_WEEKS = (4, 8)  # same-weekday means over the last k weeks known at the origin
CATEGORICAL = ("store_nbr", "family", "city", "state", "type", "cluster")
CALENDAR = ("dow", "dom", "month", "doy", "payday", "days_since_payday")
NATIONAL = ("nat_holiday", "nat_event", "workday")
OIL = ("oil", "oil_ma28")


def _register(name: str, group: str, fn, doc: str) -> None:
    fn.__doc__ = doc
    fn.__module__ = __name__
    feature(name, group)(fn)


def _register_each(pattern: str, group: str, values, fn, doc: str) -> None:
    """One feature per value: `fn(known, value)`, named and described by the patterns."""
    for value in values:
        _register(pattern.format(value), group, lambda k, v=value: fn(k, v), doc.format(value))


# ---- ids: the series' store and family, as categories ------------------------------------------
_register_each(
    "{}", "ids", CATEGORICAL, lambda k, c: k.series[c].array, "the series' {} (category)"
)


# ---- level: where the series stands at the origin -------------------------------------------


@feature("last", "level")
def last(known: Known):
    """log1p(sales) on the origin day"""
    return known.y[:, -1]


_register_each("mean_{}", "level", WINDOWS, Known.mean, "mean log1p(sales), last {} days")


def _ewm(known: Known, halflife: float) -> np.ndarray:
    """Causal exponentially weighted mean at the origin, skipping unknown days."""
    alpha = 1 - 0.5 ** (1 / halflife)
    window = known.y[:, -int(EWM_SPAN * halflife) :]
    weights = (alpha * (1 - alpha) ** np.arange(window.shape[1])[::-1]).astype(np.float32)
    ok = ~np.isnan(window)
    # einsum, not `@`: a BLAS call would start its own threads, which collapse on a busy machine
    num = np.einsum("sd,d->s", np.where(ok, window, np.float32(0)), weights)
    den = np.einsum("sd,d->s", ok.astype(np.float32), weights)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 1e-9, num / den, np.nan).astype(np.float32)


_register_each(
    "ewm_{}",
    "level",
    EWM_HALFLIVES,
    _ewm,
    "exponentially weighted mean log1p(sales), halflife {} days",
)


# ---- spread: how the series moves, how often it sells -----------------------------------------


@feature("std_28", "spread")
def std_28(known: Known):
    """standard deviation of log1p(sales), last 28 days"""
    last28 = known.y[:, -28:]
    var = window_mean(np.square(last28)) - np.square(window_mean(last28))
    return np.sqrt(np.clip(var, 0, None))


@feature("zero_frac_28", "spread")
def zero_frac_28(known: Known):
    """share of the last 28 days without a sale (unknown days count as none)"""
    return 1 - known.sold[:, -28:].mean(axis=1, dtype=np.float64)


@feature("days_since_sale", "spread")
def days_since_sale(known: Known):
    """days since the last sale (9999: never)"""
    sold = known.sold
    ago = np.argmax(sold[:, ::-1], axis=1)
    return np.where(sold.any(axis=1), ago, 9999).astype(np.float32)


@feature("age", "spread")
def age(known: Known):
    """days since the first sale, capped at 1000 (-1: not yet sold)"""
    sold = known.sold
    first = np.argmax(sold, axis=1)
    days = np.minimum(known.origin - first, 1000)
    return np.where(sold.any(axis=1), days, -1).astype(np.float32)


# ---- context: the series' store, and its family across stores -------------------------------


def _log_totals(known: Known, days: int, axis: int) -> np.ndarray:
    """log1p of total sales per (store, day) (axis 1) or (family, day) (axis 0) over the last
    `days` days; NaN where nothing is known (series are laid out store-major)."""
    n_stores = known.local_holiday.shape[0]
    cube = known.y[:, -days:].reshape(n_stores, -1, min(days, known.y.shape[1]))
    sales = np.expm1(np.nan_to_num(cube, nan=0.0), dtype=np.float64)
    total = np.log1p(sales.sum(axis=axis))
    return np.where((~np.isnan(cube)).any(axis=axis), total, np.nan).astype(np.float32)


@feature("store_mean_28", "context")
def store_mean_28(known: Known):
    """mean log1p(total sales of the store), last 28 days"""
    return window_mean(_log_totals(known, 28, axis=1))[known.store_of]


@feature("family_mean_28", "context")
def family_mean_28(known: Known):
    """mean log1p(total sales of the family over all stores), last 28 days"""
    fam_of = known.series["family"].array.codes
    return window_mean(_log_totals(known, 28, axis=0))[fam_of]


# ---- transactions of the store --------------------------------------------------------------
_register_each(
    "trans_mean_{}",
    "transactions",
    (7, 28),
    lambda k, w: k.mean(w, k.transactions)[k.store_of],
    "mean log1p(transactions of the store), last {} days",
)


# ---- promotions (published for the 16 target days) -------------------------------------------


@feature("promo_mean_28", "promotions")
def promo_mean_28(known: Known):
    """mean items on promotion, last 28 days up to the origin"""
    return known.mean(28, known.promo[:, : known.origin + 1])


@feature("promo_horizon", "promotions")
def promo_horizon(known: Known):
    """log1p(items on promotion summed over the 16 target days)"""
    return np.log1p(known.promo[:, -HORIZON:].sum(axis=1, dtype=np.float64))


@feature("promo", "promotions")
def promo(known: Known):
    """log1p(items on promotion on the target day)"""
    return np.log1p(known.promo[:, -HORIZON:])


# ---- weekday: the target's weekday in the last weeks known ------------------------------------


def _mean_at(known: Known, days: np.ndarray) -> np.ndarray:
    """(S, 16) mean of the known y on each row of `days` (16, n); days < 0 count as unknown."""
    values = known.y[:, np.clip(days, 0, None)]  # (S, 16, n)
    values = np.where(days >= 0, values, np.nan)
    return window_mean(values.reshape(-1, days.shape[1])).reshape(known.n_series, HORIZON)


def _dow_mean(known: Known, weeks: int) -> np.ndarray:
    # the latest day <= origin with the target's weekday: d - 7 * ceil(h / 7)
    latest = known.target_days - 7 * ((known.h + 6) // 7)
    return _mean_at(known, latest[:, None] - 7 * np.arange(weeks)[None, :])


_register_each(
    "dow_mean_{}w",
    "weekday",
    DOW_WEEKS,
    _dow_mean,
    "mean log1p(sales) on the target's weekday, last {} weeks known",
)


# ---- yearly: the same weekday one year (364 days) earlier --------------------------------------


@feature("year_ago", "yearly")
def year_ago(known: Known):
    """log1p(sales) 364 days before the target day"""
    return _mean_at(known, (known.target_days - 364)[:, None])


@feature("year_ago_mean_7", "yearly")
def year_ago_mean_7(known: Known):
    """mean log1p(sales) of the 7 days around the target day one year earlier"""
    end = known.target_days - 361
    return _mean_at(known, end[:, None] - np.arange(7)[None, :])


# ---- calendar, national holidays, oil of the target day ---------------------------------------
for _group, _names in (("calendar", CALENDAR), ("holidays", NATIONAL), ("oil_price", OIL)):
    _register_each(
        "{}", _group, _names, lambda k, c: k.calendar[c].to_numpy()[None, :], "{} of the target day"
    )


@feature("local_holiday", "holidays")
def local_holiday(known: Known):
    """a regional or local holiday at the series' store on the target day"""
    return known.local_holiday[known.store_of].astype(np.int8)
