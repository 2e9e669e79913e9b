"""Every feature at every horizon against a slow, plain reference.

The reference reads the competition frames directly (no panel, no prefix sums), walks the days
of each window in a Python loop, and knows each feature only by its definition. It runs for a
few series (an ordinary one, a sparse one, a dead one) at four origins: one with little history,
one on Dec 25 (a day with no sales row), the validation origin and the test origin.
"""

from __future__ import annotations

import bisect
import calendar
import math
from datetime import date

import numpy as np
import pandas as pd
import pytest

from store_sales.features import build_features, feature_names
from store_sales.paths import HORIZON

ZERO_WINDOW = 56
DAY_OFF = ("Holiday", "Transfer", "Additional", "Bridge")
LOOSE = {"std_28": 2e-4}  # sqrt of a difference of float32 squares; 1e-5 elsewhere


def _ord(ts) -> int:
    return pd.Timestamp(ts).date().toordinal()


class Reference:
    """Each feature of one (store, family) series from the raw frames, one day at a time."""

    def __init__(self, data, store: int, family: str):
        train = data.train.assign(family=data.train["family"].astype(str))
        self.first_day, self.last_day = _ord(train["date"].min()), _ord(train["date"].max())
        mine = train[(train["store_nbr"] == store) & (train["family"] == family)]
        self.y = {
            _ord(d): math.log1p(max(float(v), 0.0))
            for d, v in zip(mine["date"], mine["sales"], strict=True)
        }
        test = data.test.assign(family=data.test["family"].astype(str))
        test = test[(test["store_nbr"] == store) & (test["family"] == family)]
        self.promo = {
            _ord(d): float(p)
            for frame in (mine, test)
            for d, p in zip(frame["date"], frame["onpromotion"], strict=True)
        }
        sales = train["sales"].clip(lower=0).astype("float64")
        self.store_total = {
            _ord(d): math.log1p(v)
            for d, v in sales[train["store_nbr"] == store].groupby(train["date"]).sum().items()
        }
        self.family_total = {
            _ord(d): math.log1p(v)
            for d, v in sales[train["family"] == family].groupby(train["date"]).sum().items()
        }
        trans = data.transactions[data.transactions["store_nbr"] == store]
        self.trans = {
            _ord(d): math.log1p(t)
            for d, t in zip(trans["date"], trans["transactions"], strict=True)
            if _ord(d) <= self.last_day
        }
        oil = data.oil.drop_duplicates("date").dropna()
        self.oil_known = sorted(
            (_ord(d), float(v)) for d, v in zip(oil["date"], oil["dcoilwtico"], strict=True)
        )
        self.oil_days = [t for t, _ in self.oil_known]
        meta = data.stores.set_index("store_nbr").loc[store]
        self.meta = {
            "store_nbr": str(store),
            "family": family,
            **{k: str(meta[k]) for k in ("city", "state", "type", "cluster")},
        }
        hol = data.holidays_events[~data.holidays_events["transferred"]]
        self.holidays = [
            (_ord(d), kind, locale, name)
            for d, kind, locale, name in zip(
                hol["date"], hol["type"], hol["locale"], hol["locale_name"], strict=True
            )
        ]

    # -- helpers

    def sales(self, d: int, origin: int):
        """log1p(sales) of day d as known at `origin` (None: unknown)."""
        return self.y.get(d) if d <= origin else None

    def window(self, values: dict, end: int, length: int) -> list[float]:
        return [values[d] for d in range(end - length + 1, end + 1) if d in values]

    def days(self, end: int, length: int) -> range:
        return range(max(end - length + 1, self.first_day), end + 1)

    @staticmethod
    def mean(values) -> float:
        return float(np.mean(values)) if len(values) else math.nan

    def oil(self, d: int) -> float:
        days = self.oil_days
        i = bisect.bisect_left(days, d)  # the first known day on or after d
        if i < len(days) and days[i] == d:
            return self.oil_known[i][1]
        if i == 0:
            return self.oil_known[0][1]
        if i == len(days):
            return self.oil_known[-1][1]
        (t0, v0), (t1, v1) = self.oil_known[i - 1], self.oil_known[i]
        return v0 + (v1 - v0) * (d - t0) / (t1 - t0)

    def sold(self, d: int, origin: int) -> bool:
        value = self.sales(d, origin)
        return value is not None and value > 0

    # -- the features

    def per_origin(self, o: int) -> dict:
        known = {d: v for d, v in self.y.items() if d <= o}
        out = {"last": known.get(o, math.nan)}
        for w in (3, 7, 14, 28, 56, 112):
            out[f"mean_{w}"] = self.mean(self.window(known, o, w))
        for hl in (3, 14):
            alpha, num, den = 1 - 0.5 ** (1 / hl), 0.0, 0.0
            for d in range(self.first_day, o + 1):
                num = (1 - alpha) * num + alpha * known.get(d, 0.0)
                den = (1 - alpha) * den + alpha * (d in known)
            out[f"ewm_{hl}"] = num / den if den > 1e-9 else math.nan
        last28 = self.window(known, o, 28)
        out["std_28"] = float(np.std(last28)) if last28 else math.nan
        days28 = self.days(o, 28)
        out["zero_frac_28"] = 1 - sum(self.sold(d, o) for d in days28) / len(days28)
        out["alive"] = any(self.sold(d, o) for d in range(o - ZERO_WINDOW + 1, o + 1))
        sale_days = [d for d in range(self.first_day, o + 1) if self.sold(d, o)]
        out["days_since_sale"] = o - sale_days[-1] if sale_days else 9999
        out["age"] = min(o - sale_days[0], 1000) if sale_days else -1
        out["store_mean_28"] = self.mean(self.window(self.store_total, o, 28))
        out["family_mean_28"] = self.mean(self.window(self.family_total, o, 28))
        out["trans_mean_7"] = self.mean(self.window(self.trans, o, 7))
        out["trans_mean_28"] = self.mean(self.window(self.trans, o, 28))
        out["promo_mean_28"] = self.mean([self.promo.get(d, 0.0) for d in days28])
        horizon = sum(self.promo.get(d, 0.0) for d in range(o + 1, o + HORIZON + 1))
        out["promo_horizon"] = math.log1p(horizon)
        return out

    def per_target(self, o: int, h: int) -> dict:
        t = o + h
        known = {d: v for d, v in self.y.items() if d <= o}
        out = {"target": self.y.get(t, math.nan) if t <= self.last_day else math.nan}
        out["promo"] = math.log1p(self.promo.get(t, 0.0))
        latest = t - 7 * math.ceil(h / 7)  # the target's weekday, at or before the origin
        for k in (4, 8):
            same = [known[d] for d in range(latest, latest - 7 * k, -7) if d in known]
            out[f"dow_mean_{k}w"] = self.mean(same)
        out["year_ago"] = known.get(t - 364, math.nan)
        out["year_ago_mean_7"] = self.mean(self.window(known, t - 364 + 3, 7))
        day = date.fromordinal(t)
        last_dom = calendar.monthrange(day.year, day.month)[1]
        out.update(
            dow=day.weekday(),
            dom=day.day,
            month=day.month,
            doy=day.timetuple().tm_yday,
            payday=int(day.day in (15, last_dom)),
            days_since_payday=day.day - 15 if day.day >= 15 else day.day,
        )
        on_day = [(kind, loc, name) for d, kind, loc, name in self.holidays if d == t]
        out["nat_holiday"] = int(any(k in DAY_OFF and loc == "National" for k, loc, _ in on_day))
        out["nat_event"] = int(any(k == "Event" and loc == "National" for k, loc, _ in on_day))
        out["workday"] = int(any(k == "Work Day" and loc == "National" for k, loc, _ in on_day))
        places = {("Regional", self.meta["state"]), ("Local", self.meta["city"])}
        out["local_holiday"] = int(any(k in DAY_OFF and (loc, n) in places for k, loc, n in on_day))
        out["oil"] = self.oil(t)
        out["oil_ma28"] = self.mean([self.oil(d) for d in self.days(t, 28)])
        return out


def _pick_series(data) -> list[tuple[int, str]]:
    train = data.train.assign(family=data.train["family"].astype(str))
    zero_share = (train["sales"] == 0).groupby([train["store_nbr"], train["family"]]).mean()
    dead = zero_share[zero_share == 1].index[0]
    sparse = zero_share[zero_share < 1].idxmax()
    return [(1, "GROCERY I"), (3, "BREAD/BAKERY"), sparse, dead]


def test_every_feature_at_every_horizon_matches_the_reference(data, panel):
    origins = [
        10,  # ten days of history: windows run off the start, no year-ago day
        (pd.Timestamp("2016-12-25") - panel.start).days,  # no sales row on the origin
        panel.last_train - HORIZON,  # validation
        panel.last_train,  # test
    ]
    rows = build_features(panel, origins, ZERO_WINDOW)
    series = panel.series[["store_nbr", "family"]].astype(str)
    checked = set()
    for store, family in _pick_series(data):
        ref = Reference(data, int(store), str(family))
        (s,) = np.flatnonzero((series["store_nbr"] == str(store)) & (series["family"] == family))
        mine = rows[rows["s"] == s]
        for origin in origins:
            o = ref.first_day + origin
            at_origin = ref.per_origin(o)
            got_rows = mine[mine["origin"] == origin].set_index("h")
            assert list(got_rows.index) == list(range(1, HORIZON + 1))
            for h in range(1, HORIZON + 1):
                expected = {**ref.meta, **at_origin, **ref.per_target(o, h)}
                got = got_rows.loc[h]
                for name, value in expected.items():
                    where = f"{name} of {store}/{family}, origin {origin}, h={h}"
                    if isinstance(value, str):
                        assert str(got[name]) == value, where
                    elif math.isnan(value):
                        assert np.isnan(got[name]), where
                    else:
                        tol = LOOSE.get(name, 1e-5)
                        assert float(got[name]) == pytest.approx(float(value), rel=tol, abs=tol), (
                            where
                        )
                    checked.add(name)
    assert checked >= {*feature_names(), "alive", "target"}  # the reference misses no feature
