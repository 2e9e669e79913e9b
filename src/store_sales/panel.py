"""The competition data as dense arrays on a continuous daily calendar (the `Panel`).

Sales live in a dense float32 (series x day) matrix of log1p(sales) with NaN for unknown days
(Dec 25, the test period); promotions, transactions, the calendar, oil and holidays are laid
out on the same days. Features never read the panel itself: they get a `features.Known` view
of it, cut at one forecast origin.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .data import CompetitionData

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
