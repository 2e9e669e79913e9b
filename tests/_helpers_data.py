"""Helpers that build altered `CompetitionData` in memory (no CSV round trip): a copy with some
frames replaced, and the data cut at a day (train ends there, the next 16 days become the test).
"""

from __future__ import annotations

import dataclasses

import pandas as pd

from store_sales.data import CompetitionData
from store_sales.paths import HORIZON


def replace_frames(data: CompetitionData, **frames: pd.DataFrame) -> CompetitionData:
    """A copy of `data` with the given frames replaced (the others shared, not copied)."""
    return dataclasses.replace(data, **frames)


def cut_at(data: CompetitionData, last_day: pd.Timestamp) -> CompetitionData:
    """The data as it looked on `last_day`: train (and transactions) end there, and the 16 days
    after it become the test, with their published promotions and fresh ids.

    Oil and holidays are published ahead, so they are kept whole, as Kaggle's files are.
    """
    train = data.train
    known = train["date"] <= last_day
    horizon = (train["date"] > last_day) & (train["date"] <= last_day + pd.Timedelta(days=HORIZON))
    test = train.loc[horizon, ["date", "store_nbr", "family", "onpromotion"]].reset_index(drop=True)
    test.insert(0, "id", (int(train["id"].max()) + 1 + pd.RangeIndex(len(test))).astype("int32"))
    sample = pd.DataFrame({"id": test["id"], "sales": 0.0})
    trans = data.transactions
    return replace_frames(
        data,
        train=train[known].reset_index(drop=True),
        test=test,
        sample_submission=sample,
        transactions=trans[trans["date"] <= last_day].reset_index(drop=True),
    )
