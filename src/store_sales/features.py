"""Horizon-honest features: one row per (origin, series, horizon day).

A forecast made at origin `o` (the last day whose sales are known) for day `o + h`,
h = 1..16, may only use sales, promotions and transactions up to `o`, plus what the
competition publishes for the future (onpromotion, oil, holidays, the calendar). Validation,
training and test rows all come from `build_features`, so a feature that would be missing on
the test (like the seed notebook's lag_7 for h > 7) cannot exist here.

Sales live in a dense float32 (series x day) matrix of log1p(sales) with NaN for unknown days
(Dec 25, the test period). Window statistics are differences of prefix sums, so each feature
is one vectorized gather per origin instead of a rolling window per series.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .data import CompetitionData
from .paths import HORIZON

WINDOWS = (3, 7, 14, 28, 56, 112)  # trailing windows (days) ending at the origin
EWM_HALFLIVES = (3, 14)  # exponentially weighted means: track a level that drifts
DOW_WEEKS = (4, 8)  # same-weekday means over the last k weeks known at the origin
CATEGORICAL = ("store_nbr", "family", "city", "state", "type", "cluster")
META = ("s", "origin", "h", "day", "target", "alive")
NAT_HOLIDAY_TYPES = ("Holiday", "Transfer", "Additional", "Bridge")


@dataclass
class Panel:
    """The competition data as dense arrays on a continuous daily calendar."""

    start: pd.Timestamp  # calendar day 0
    last_train: int  # index of the last day with known sales
    series: pd.DataFrame  # one row per series s: store_nbr, family, store metadata
    store_of: np.ndarray  # (S,) row of the series' store in `stores`
    y: np.ndarray  # (S, D) float32 log1p(sales); NaN where unknown
    promo: np.ndarray  # (S, D) float32 onpromotion (test days included)
    calendar: pd.DataFrame  # (D,) per-day features of the target day
    local_holiday: np.ndarray  # (n_stores, D) regional or local holiday at the store
    log_trans: np.ndarray  # (n_stores, D) float32 log1p(transactions); NaN where unknown
    test_id: np.ndarray  # (S, D) int64 competition id of test rows, -1 elsewhere

    @property
    def n_days(self) -> int:
        return self.y.shape[1]

    def day(self, i: int) -> pd.Timestamp:
        return self.start + pd.Timedelta(days=int(i))


def _used_categories(column: pd.Series) -> np.ndarray:
    cat = column.astype("category").array
    return np.asarray(cat.categories, dtype=str)[np.unique(cat.codes)]


def _day_index(dates: pd.Series, start: pd.Timestamp) -> np.ndarray:
    return ((dates.to_numpy() - start.to_datetime64()) // np.timedelta64(1, "D")).astype(np.int64)


def _categorical(values, categories) -> pd.Categorical:
    return pd.Categorical(values, categories=categories)


def build_panel(data: CompetitionData) -> Panel:
    train, test = data.train, data.test
    start = train["date"].iloc[0]
    last_train = int(_day_index(train["date"].iloc[-1:], start)[0])
    n_days = int(_day_index(test["date"], start).max()) + 1

    stores = data.stores.sort_values("store_nbr", ignore_index=True)
    store_nbrs = stores["store_nbr"].to_numpy()
    families = np.sort(_used_categories(train["family"]))
    n_fam = len(families)

    def series_index(frame: pd.DataFrame) -> np.ndarray:
        # Series are laid out store-major (s = store * n_fam + family), which lets store and
        # family totals be taken with a reshape.
        store_pos = np.searchsorted(store_nbrs, frame["store_nbr"].to_numpy())
        fam = frame["family"].astype("category").array
        fam_pos = np.searchsorted(families, np.asarray(fam.categories, dtype=str))[fam.codes]
        return store_pos * n_fam + fam_pos

    n_series = len(store_nbrs) * n_fam
    store_of = np.repeat(np.arange(len(store_nbrs)), n_fam)
    series = pd.DataFrame(
        {
            "store_nbr": _categorical(store_nbrs[store_of], store_nbrs),
            "family": _categorical(np.tile(families, len(store_nbrs)), families),
        }
    )
    for col in ("city", "state", "type", "cluster"):
        values = stores[col].to_numpy()
        series[col] = _categorical(values[store_of], np.unique(values))

    y = np.full((n_series, n_days), np.nan, dtype=np.float32)
    promo = np.zeros((n_series, n_days), dtype=np.float32)
    s_tr, d_tr = series_index(train), _day_index(train["date"], start)
    y[s_tr, d_tr] = np.log1p(np.clip(train["sales"].to_numpy(), 0, None))
    promo[s_tr, d_tr] = train["onpromotion"].to_numpy()
    s_te, d_te = series_index(test), _day_index(test["date"], start)
    promo[s_te, d_te] = test["onpromotion"].to_numpy()
    test_id = np.full((n_series, n_days), -1, dtype=np.int64)
    test_id[s_te, d_te] = test["id"].to_numpy()

    log_trans = np.full((len(store_nbrs), n_days), np.nan, dtype=np.float32)
    tr = data.transactions
    d = _day_index(tr["date"], start)
    keep = (d >= 0) & (d <= last_train) & np.isin(tr["store_nbr"].to_numpy(), store_nbrs)
    log_trans[np.searchsorted(store_nbrs, tr["store_nbr"].to_numpy()[keep]), d[keep]] = np.log1p(
        tr["transactions"].to_numpy()[keep]
    )

    calendar, local_holiday = _calendar(data, start, n_days, stores)
    return Panel(
        start=start,
        last_train=last_train,
        series=series,
        store_of=store_of,
        y=y,
        promo=promo,
        calendar=calendar,
        local_holiday=local_holiday,
        log_trans=log_trans,
        test_id=test_id,
    )


def _calendar(
    data: CompetitionData, start: pd.Timestamp, n_days: int, stores: pd.DataFrame
) -> tuple[pd.DataFrame, np.ndarray]:
    """Per-day features (all published in advance) and the store x day local-holiday mask."""
    days = pd.date_range(start, periods=n_days, freq="D")
    dom = days.day.to_numpy()
    month_end = days.is_month_end
    cal = pd.DataFrame(
        {
            "dow": days.day_of_week.to_numpy(np.int8),
            "dom": dom.astype(np.int8),
            "month": days.month.to_numpy(np.int8),
            "doy": days.day_of_year.to_numpy(np.int16),
            # public-sector wages arrive on the 15th and the last day of the month
            "payday": ((dom == 15) | month_end).astype(np.int8),
            "days_since_payday": np.where(dom >= 15, dom - 15, dom).astype(np.int8),
        }
    )

    hol = data.holidays_events
    # A transferred holiday is not observed on its own date: its Transfer row marks the real day.
    hol = hol[~hol["transferred"].to_numpy()]
    hd = _day_index(hol["date"], start)
    inside = (hd >= 0) & (hd < n_days)
    hol, hd = hol[inside], hd[inside]
    kind, locale = hol["type"].to_numpy(), hol["locale"].to_numpy()
    national = locale == "National"
    is_holiday = np.isin(kind, NAT_HOLIDAY_TYPES)
    for name, mask in (
        ("nat_holiday", national & is_holiday),
        ("nat_event", national & (kind == "Event")),
        ("workday", national & (kind == "Work Day")),
    ):
        flag = np.zeros(n_days, dtype=np.int8)
        flag[hd[mask]] = 1
        cal[name] = flag

    local = np.zeros((len(stores), n_days), dtype=bool)
    for level, column in (("Regional", "state"), ("Local", "city")):
        rows = (locale == level) & is_holiday
        # (store, holiday row) pairs where the holiday's place is the store's state/city
        match = stores[column].to_numpy()[:, None] == hol["locale_name"].to_numpy()[rows][None, :]
        st, k = np.nonzero(match)
        local[st, hd[rows][k]] = True

    oil = data.oil.set_index("date")["dcoilwtico"].astype("float64")
    oil = oil[~oil.index.duplicated()].reindex(days.union(oil.index)).interpolate("time")
    oil = oil.reindex(days).ffill().bfill()
    cal["oil"] = oil.to_numpy(np.float32)
    cal["oil_ma28"] = oil.rolling(28, min_periods=1).mean().to_numpy(np.float32)
    return cal, local


class _Prefix:
    """Prefix sums along days: window sums/counts for any (series, end day) in O(1)."""

    def __init__(self, values: np.ndarray):
        known = ~np.isnan(values)
        n = values.shape[0]
        self.sum = np.concatenate(
            [np.zeros((n, 1)), np.cumsum(np.where(known, values, 0.0), axis=1, dtype=np.float64)],
            axis=1,
        )
        self.count = np.concatenate(
            [np.zeros((n, 1), np.int32), np.cumsum(known, axis=1, dtype=np.int32)], axis=1
        )

    def mean(self, end: np.ndarray, window: int) -> np.ndarray:
        """Mean of the known values on days end-window+1..end; `end` indexes columns."""
        hi = end + 1
        lo = np.maximum(hi - window, 0)
        total = self.sum[:, hi] - self.sum[:, lo]
        count = self.count[:, hi] - self.count[:, lo]
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(count > 0, total / np.maximum(count, 1), np.nan).astype(np.float32)


def _weekly_prefix(values: np.ndarray) -> _Prefix:
    """Prefix sums over every 7th day: sum of the last k same-weekday values in O(1)."""
    n, d = values.shape
    pad = (-d) % 7
    padded = np.concatenate([values, np.full((n, pad), np.nan, np.float32)], axis=1)
    weeks = padded.reshape(n, -1, 7)
    known = ~np.isnan(weeks)
    out = _Prefix.__new__(_Prefix)
    # cumulate over weeks, then lay back out by day: entry t+1 = sum of days t, t-7, t-14, ...
    csum = np.cumsum(np.where(known, weeks, 0.0), axis=1, dtype=np.float64).reshape(n, -1)
    ccount = np.cumsum(known, axis=1, dtype=np.int32).reshape(n, -1)
    out.sum = np.concatenate([np.zeros((n, 1)), csum[:, :d]], axis=1)
    out.count = np.concatenate([np.zeros((n, 1), np.int32), ccount[:, :d]], axis=1)
    return out


def _same_weekday_mean(prefix: _Prefix, end: np.ndarray, weeks: int) -> np.ndarray:
    hi = np.maximum(end + 1, 0)
    lo = hi - 7 * weeks
    lo_ok = lo >= 0
    lo_safe = np.where(lo_ok, lo, 0)
    # before day 0 the weekly prefix is empty: the sum then runs from the first such weekday
    total = prefix.sum[:, hi] - np.where(lo_ok, prefix.sum[:, lo_safe], 0.0)
    count = prefix.count[:, hi] - np.where(lo_ok, prefix.count[:, lo_safe], 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / np.maximum(count, 1), np.nan).astype(np.float32)


def feature_names() -> list[str]:
    return [c for c in _TEMPLATE_COLUMNS if c not in META]


def build_features(panel: Panel, origins, zero_window: int = 56) -> pd.DataFrame:
    """Rows for every (origin, series, h in 1..16), ordered by origin, series, h.

    `target` is log1p(sales) of the target day (NaN on the test); `alive` says whether the
    series sold anything in the `zero_window` days up to the origin.
    """
    origins = np.asarray(origins, dtype=np.int64)
    if origins.min() < 0 or origins.max() > panel.last_train:
        raise ValueError(f"origins must lie in 0..{panel.last_train} (days with known sales)")
    y, promo = panel.y, panel.promo
    n_series = y.shape[0]
    hs = np.arange(1, HORIZON + 1)
    target_day = origins[:, None] + hs[None, :]  # (K, H)
    if target_day.max() >= panel.n_days:
        raise ValueError("an origin is too late: its 16 target days run past the data")
    shape = (len(origins), n_series, HORIZON)  # rows are ordered (origin, series, h)

    def per_origin(a: np.ndarray) -> np.ndarray:  # (S, K) -> rows
        return np.broadcast_to(a.T[:, :, None], shape).ravel()

    def per_target(a: np.ndarray) -> np.ndarray:  # (S, K, H) -> rows
        return np.ascontiguousarray(a.transpose(1, 0, 2)).ravel()

    def per_day(a: np.ndarray) -> np.ndarray:  # (K, H) -> rows
        return np.broadcast_to(a[:, None, :], shape).ravel()

    # Everything below reads y only through prefixes ending at the origin (or earlier days).
    y_known = np.where(np.arange(panel.n_days) <= panel.last_train, y, np.nan).astype(np.float32)
    cols: dict[str, np.ndarray] = {
        "s": per_origin(np.broadcast_to(np.arange(n_series)[:, None], (n_series, len(origins)))),
        "origin": per_day(np.broadcast_to(origins[:, None], target_day.shape)),
        "h": per_day(np.broadcast_to(hs[None, :], target_day.shape)).astype(np.int8),
        "day": per_day(target_day),
        "target": per_target(y_known[:, target_day]),
    }
    sold = _Prefix((y_known > 0).astype(np.float32))
    cols["alive"] = per_origin(sold.mean(origins, zero_window) > 0)

    for name in CATEGORICAL:
        cat = panel.series[name].array
        codes = np.broadcast_to(cat.codes[None, :, None], shape).ravel()
        cols[name] = pd.Categorical.from_codes(codes, dtype=cat.dtype)

    prefix = _Prefix(y_known)
    cols["last"] = per_origin(y_known[:, origins])
    means = {w: prefix.mean(origins, w) for w in WINDOWS}
    for w, mean in means.items():
        cols[f"mean_{w}"] = per_origin(mean)
    for hl in EWM_HALFLIVES:
        cols[f"ewm_{hl}"] = per_origin(_ewm(y_known, hl)[:, origins])
    sq = _Prefix(np.square(y_known))
    var28 = sq.mean(origins, 28) - np.square(means[28])
    cols["std_28"] = per_origin(np.sqrt(np.clip(var28, 0, None)))
    cols["zero_frac_28"] = per_origin(1 - sold.mean(origins, 28))
    day_idx = np.arange(panel.n_days)
    last_sale = np.maximum.accumulate(np.where(y_known > 0, day_idx, -1), axis=1)[:, origins]
    cols["days_since_sale"] = per_origin(
        np.where(last_sale >= 0, origins[None, :] - last_sale, 9999).astype(np.float32)
    )
    first_sale = np.where((y_known > 0).any(axis=1), np.argmax(y_known > 0, axis=1), 10**6)
    age = origins[None, :] - first_sale[:, None]
    cols["age"] = per_origin(np.where(age >= 0, np.minimum(age, 1000), -1).astype(np.float32))

    # Context: the series' store and its family across stores (both log1p of total sales).
    fam_of = panel.series["family"].array.codes.astype(np.int64)
    n_stores = panel.local_holiday.shape[0]
    store_y, fam_y = _store_family_log_totals(y_known, n_stores)
    cols["store_mean_28"] = per_origin(_Prefix(store_y).mean(origins, 28)[panel.store_of])
    cols["family_mean_28"] = per_origin(_Prefix(fam_y).mean(origins, 28)[fam_of])
    trans = _Prefix(panel.log_trans)
    for w in (7, 28):
        cols[f"trans_mean_{w}"] = per_origin(trans.mean(origins, w)[panel.store_of])

    promo_prefix = _Prefix(promo)
    cols["promo_mean_28"] = per_origin(promo_prefix.mean(origins, 28))
    # onpromotion is published for the future, so the horizon's promotions are fair game
    horizon_promo = promo_prefix.mean(origins + HORIZON, HORIZON) * HORIZON
    cols["promo_horizon"] = per_origin(np.log1p(horizon_promo))
    cols["promo"] = per_target(np.log1p(promo[:, target_day]))

    # Same weekday as the target, latest known occurrence: d - 7 * ceil(h / 7) <= origin.
    weekly = _weekly_prefix(y_known)
    last_same_dow = target_day - 7 * ((hs[None, :] + 6) // 7)
    for k in DOW_WEEKS:
        cols[f"dow_mean_{k}w"] = per_target(_same_weekday_mean(weekly, last_same_dow, k))
    year_ago = target_day - 364  # same weekday one year earlier
    cols["year_ago"] = per_target(_gather(y_known, year_ago))
    cols["year_ago_mean_7"] = per_target(_window_at(prefix, year_ago + 3, 7))

    cal = panel.calendar
    for name in cal.columns:
        cols[name] = per_day(cal[name].to_numpy()[target_day])
    local = panel.local_holiday[:, target_day]  # (n_stores, K, H)
    cols["local_holiday"] = per_target(local[panel.store_of]).astype(np.int8)

    frame = pd.DataFrame(cols, copy=False)
    return frame[list(_TEMPLATE_COLUMNS)]


def _ewm(values: np.ndarray, halflife: float) -> np.ndarray:
    """Causal exponentially weighted mean along days, skipping unknown days (NaN)."""
    from scipy.signal import lfilter

    alpha = 1 - 0.5 ** (1 / halflife)
    known = ~np.isnan(values)
    b, a = [alpha], [1, alpha - 1]
    num = lfilter(b, a, np.where(known, values, 0.0), axis=1)
    den = lfilter(b, a, known.astype(np.float64), axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 1e-9, num / den, np.nan).astype(np.float32)


def _gather(values: np.ndarray, days: np.ndarray) -> np.ndarray:
    out = values[:, np.clip(days, 0, None)]
    return np.where((days >= 0)[None], out, np.nan).astype(np.float32)


def _window_at(prefix: _Prefix, end: np.ndarray, window: int) -> np.ndarray:
    """Window means ending at each entry of a (K, H) array of days."""
    flat = prefix.mean(np.clip(end, -1, None).ravel(), window)
    return flat.reshape(flat.shape[0], *end.shape)


def _store_family_log_totals(y: np.ndarray, n_stores: int) -> tuple[np.ndarray, np.ndarray]:
    """log1p of total sales per (store, day) and (family, day); NaN where nothing is known."""
    cube = y.reshape(n_stores, -1, y.shape[1])  # store-major series layout
    sales = np.expm1(np.nan_to_num(cube, nan=0.0), dtype=np.float64)
    known = ~np.isnan(cube)
    out = []
    for axis in (1, 0):
        total = np.log1p(sales.sum(axis=axis))
        out.append(np.where(known.any(axis=axis), total, np.nan).astype(np.float32))
    return out[0], out[1]


_TEMPLATE_COLUMNS = (
    *META,
    *CATEGORICAL,
    "last",
    *(f"mean_{w}" for w in WINDOWS),
    *(f"ewm_{hl}" for hl in EWM_HALFLIVES),
    "std_28",
    "zero_frac_28",
    "days_since_sale",
    "age",
    "store_mean_28",
    "family_mean_28",
    "trans_mean_7",
    "trans_mean_28",
    "promo_mean_28",
    "promo_horizon",
    "promo",
    *(f"dow_mean_{k}w" for k in DOW_WEEKS),
    "year_ago",
    "year_ago_mean_7",
    "dow",
    "dom",
    "month",
    "doy",
    "payday",
    "days_since_payday",
    "nat_holiday",
    "nat_event",
    "workday",
    "oil",
    "oil_ma28",
    "local_holiday",
)
