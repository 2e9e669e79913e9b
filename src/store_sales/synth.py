"""Deterministic synthetic stand-in for the Kaggle "Store Sales" (Favorita) data.

Why: the pipeline must run and be scored offline without the real data, so this writes the
seven competition CSVs (exact schema, row order and, at full scale, row counts) plus the
hidden test labels and the best achievable forecast ("noise floor") in ``hidden/``.

Process, for series s (store x family) on day t, on the log1p scale:
    z = mu[s,t] + a[s,t] + eps[s,t],  sales = expm1(max(z, 0)) rounded
mu only uses what the files show (store/family identity, weekday, day of year, holiday rows
matched to the store's city/state, onpromotion, paydays, a 28-day oil average, the 2016
earthquake rows, a linear trend), so a feature-based model can learn it. a is a small AR(1)
latent per series (phi 0.97-0.99, sd 0.07) so recent history carries some signal beyond mu;
eps is iid normal, sd 0.25-0.6 by family. Weighed goods keep 3 decimals, others are integers;
closed stores and dead series sell exactly 0.
The floor is expm1(E[log1p(Y)]) given everything known on 2017-08-15, including the true
latent: the RMSLE-optimal forecast, so "model RMSLE / floor RMSLE" measures what is left.
Random draws are made per store from 2013-01-01 on, so a smaller config (fewer stores, later
start) is an exact sub-block of the full data.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from scipy.signal import lfilter
from scipy.special import ndtri

from .errors import UserError

VERSION = 1

FIRST_DAY = np.datetime64("2013-01-01")
LAST_TRAIN = np.datetime64("2017-08-15")
TEST_END = np.datetime64("2017-08-31")
PROMO_START = np.datetime64("2014-04-01")
BOOKS_START = np.datetime64("2016-10-01")
QUAKE_DAY = np.datetime64("2016-04-16")
N_TEST_DAYS = 16
N_TRANSACTIONS_FULL = 83_488  # real transactions.csv row count
N_DEAD_FULL = 96  # store x family series that never sell in the real data
SD_LATENT = 0.07  # stationary sd of the AR(1) latent
FLOOR_NODES = 160  # normal quantiles used to integrate E[log1p(Y)]

# name: (mean daily sales of an average open store, weighed goods?)
FAMILIES: dict[str, tuple[float, bool]] = {
    "AUTOMOTIVE": (6, False),
    "BABY CARE": (0.15, False),
    "BEAUTY": (3.5, False),
    "BEVERAGES": (2400, False),
    "BOOKS": (1.0, False),
    "BREAD/BAKERY": (470, False),
    "CELEBRATION": (9, False),
    "CLEANING": (1100, False),
    "DAIRY": (700, False),
    "DELI": (270, True),
    "EGGS": (170, False),
    "FROZEN FOODS": (150, False),
    "GROCERY I": (3800, False),
    "GROCERY II": (22, False),
    "HARDWARE": (1.2, False),
    "HOME AND KITCHEN I": (22, False),
    "HOME AND KITCHEN II": (18, False),
    "HOME APPLIANCES": (0.5, False),
    "HOME CARE": (180, False),
    "LADIESWEAR": (7, False),
    "LAWN AND GARDEN": (6, False),
    "LINGERIE": (7, False),
    "LIQUOR,WINE,BEER": (85, False),
    "MAGAZINES": (3, False),
    "MEATS": (340, True),
    "PERSONAL CARE": (270, False),
    "PET SUPPLIES": (4, False),
    "PLAYERS AND ELECTRONICS": (6, False),
    "POULTRY": (350, True),
    "PREPARED FOODS": (100, False),
    "PRODUCE": (1400, True),
    "SCHOOL AND OFFICE SUPPLIES": (3, False),
    "SEAFOOD": (22, True),
}
FAMILY_NAMES = sorted(FAMILIES)
FOOD = {
    "BEVERAGES", "BREAD/BAKERY", "DAIRY", "DELI", "EGGS", "FROZEN FOODS", "GROCERY I",
    "GROCERY II", "LIQUOR,WINE,BEER", "MEATS", "POULTRY", "PREPARED FOODS", "PRODUCE",
    "SEAFOOD",
}  # fmt: skip
# mean promotion count per store-day at the end of the data (0.3 for the rest)
PROMO_SCALE = {
    "GROCERY I": 45, "BEVERAGES": 25, "PRODUCE": 20, "CLEANING": 15, "DAIRY": 12,
    "PERSONAL CARE": 8, "BREAD/BAKERY": 6, "HOME CARE": 6, "DELI": 5, "MEATS": 4,
    "FROZEN FOODS": 3, "POULTRY": 2, "EGGS": 2, "PREPARED FOODS": 1, "LIQUOR,WINE,BEER": 1.5,
    "BOOKS": 0.0, "BABY CARE": 0.05,
}  # fmt: skip
# how many dead (never selling) series each family has at full scale; sums to N_DEAD_FULL
DEAD_PER_FAMILY = {
    "BABY CARE": 22, "BOOKS": 20, "LAWN AND GARDEN": 8, "LADIESWEAR": 8, "CELEBRATION": 6,
    "HOME APPLIANCES": 6, "PET SUPPLIES": 5, "MAGAZINES": 5, "SCHOOL AND OFFICE SUPPLIES": 4,
    "HOME AND KITCHEN II": 4, "AUTOMOTIVE": 2, "HARDWARE": 2, "PLAYERS AND ELECTRONICS": 2,
    "BEAUTY": 2,
}  # fmt: skip
# forced so that small configs (stores 1..3) contain dead series too
DEAD_FORCED = {(1, "BABY CARE"), (3, "BOOKS")}

# the real stores.csv a column at a time, stores 1..54 in order
STORE_CITIES = (
    "Quito", "Quito", "Quito", "Quito", "Santo Domingo", "Quito", "Quito", "Quito", "Quito",
    "Quito", "Cayambe", "Latacunga", "Latacunga", "Riobamba", "Ibarra", "Santo Domingo", "Quito",
    "Quito", "Guaranda", "Quito", "Santo Domingo", "Puyo", "Ambato", "Guayaquil", "Salinas",
    "Guayaquil", "Daule", "Guayaquil", "Guayaquil", "Guayaquil", "Babahoyo", "Guayaquil",
    "Quevedo", "Guayaquil", "Playas", "Libertad", "Cuenca", "Loja", "Cuenca", "Machala", "Machala",
    "Cuenca", "Esmeraldas", "Quito", "Quito", "Quito", "Quito", "Quito", "Quito", "Ambato",
    "Guayaquil", "Manta", "Manta", "El Carmen",
)  # fmt: skip
STORE_TYPES = "DDDDDDDDBCBCCCCCCBCBBCDDDDDEECBCCBCEDDBCDDEAAAAAAAAADC"
STORE_CLUSTERS = (
    13, 13, 8, 9, 4, 13, 8, 8, 6, 15, 6, 15, 15, 7, 15, 3, 12, 16, 15, 6, 6, 7, 9, 1, 1, 10, 1, 10,
    10, 3, 10, 3, 3, 6, 3, 10, 2, 4, 6, 3, 4, 2, 10, 5, 11, 14, 14, 14, 11, 14, 17, 11, 13, 3,
)  # fmt: skip
CITY_STATE = {
    "Quito": "Pichincha", "Santo Domingo": "Santo Domingo de los Tsachilas",
    "Cayambe": "Pichincha", "Latacunga": "Cotopaxi", "Riobamba": "Chimborazo",
    "Ibarra": "Imbabura", "Guaranda": "Bolivar", "Puyo": "Pastaza", "Ambato": "Tungurahua",
    "Guayaquil": "Guayas", "Salinas": "Santa Elena", "Daule": "Guayas", "Babahoyo": "Los Rios",
    "Quevedo": "Los Rios", "Playas": "Guayas", "Libertad": "Guayas", "Cuenca": "Azuay",
    "Loja": "Loja", "Machala": "El Oro", "Esmeraldas": "Esmeraldas", "Manta": "Manabi",
    "El Carmen": "Manabi",
}  # fmt: skip
# store_nbr: (city, state, type, cluster)
STORES: dict[int, tuple[str, str, str, int]] = {
    nbr: (city, CITY_STATE[city], kind, cluster)
    for nbr, (city, kind, cluster) in enumerate(
        zip(STORE_CITIES, STORE_TYPES, STORE_CLUSTERS, strict=True), start=1
    )
}
TYPE_EFFECT = {"A": 0.45, "B": 0.1, "C": -0.2, "D": 0.15, "E": -0.3}
# stores that open late: zero sales (and no transactions) before this day
OPENING = {
    36: "2013-05-09", 53: "2014-05-29", 20: "2015-02-13", 29: "2015-03-20",
    21: "2015-07-24", 42: "2015-08-21", 22: "2015-10-09", 52: "2017-04-20",
}  # fmt: skip
JAN1_OPEN = (25, 36)  # the only stores trading on New Year's Day, with low sales
NO_TRANSACTION_DAYS = ("2016-01-01", "2016-01-03")  # whole days missing in the real file
# Sierra (highlands) school year starts in September, Costa in April: school-supply peaks
SIERRA = {
    "Pichincha", "Cotopaxi", "Chimborazo", "Imbabura", "Tungurahua", "Azuay", "Loja",
    "Bolivar", "Pastaza",
}  # fmt: skip

# (anchor date, WTI price) for the oil path; noise is added around the interpolation
OIL_ANCHORS = (
    ("2013-01-01", 93), ("2013-04-15", 88), ("2013-09-01", 107), ("2013-12-31", 98),
    ("2014-06-20", 107), ("2014-09-30", 91), ("2014-12-31", 53), ("2015-01-28", 44),
    ("2015-05-15", 60), ("2015-08-24", 39), ("2015-12-31", 37), ("2016-02-11", 27),
    ("2016-06-08", 50), ("2016-11-14", 43), ("2017-01-06", 54), ("2017-06-21", 43),
    ("2017-08-31", 47),
)  # fmt: skip
N_OIL_NAN = 43


# --------------------------------------------------------------------------- holidays
_EASTER = {2012: "04-08", 2013: "03-31", 2014: "04-20", 2015: "04-05", 2016: "03-27",
           2017: "04-16"}  # fmt: skip
# (month-day, type, locale, locale_name, description) repeated every year
_LOCAL_YEARLY = (
    ("03-02", "Holiday", "Local", "Manta", "Fundacion de Manta"),
    ("04-01", "Holiday", "Regional", "Cotopaxi", "Provincializacion de Cotopaxi"),
    ("04-12", "Holiday", "Local", "Cuenca", "Fundacion de Cuenca"),
    ("04-14", "Holiday", "Local", "Libertad", "Cantonizacion de Libertad"),
    ("04-21", "Holiday", "Local", "Riobamba", "Cantonizacion de Riobamba"),
    ("05-12", "Holiday", "Local", "Puyo", "Cantonizacion del Puyo"),
    ("06-23", "Holiday", "Local", "Guaranda", "Cantonizacion de Guaranda"),
    ("06-25", "Holiday", "Regional", "Imbabura", "Provincializacion de Imbabura"),
    ("06-25", "Holiday", "Local", "Latacunga", "Cantonizacion de Latacunga"),
    ("06-25", "Holiday", "Local", "Machala", "Fundacion de Machala"),
    ("07-03", "Holiday", "Local", "Santo Domingo", "Fundacion de Santo Domingo"),
    ("07-03", "Holiday", "Local", "El Carmen", "Cantonizacion de El Carmen"),
    ("07-23", "Holiday", "Local", "Cayambe", "Cantonizacion de Cayambe"),
    ("07-24", "Additional", "Local", "Guayaquil", "Fundacion de Guayaquil-1"),
    ("07-25", "Holiday", "Local", "Guayaquil", "Fundacion de Guayaquil"),
    ("08-05", "Holiday", "Local", "Esmeraldas", "Fundacion de Esmeraldas"),
    ("08-15", "Holiday", "Local", "Riobamba", "Fundacion de Riobamba"),
    ("08-24", "Holiday", "Local", "Ambato", "Fundacion de Ambato"),
    ("09-28", "Holiday", "Local", "Ibarra", "Fundacion de Ibarra"),
    ("10-09", "Holiday", "Local", "Quevedo", "Cantonizacion de Quevedo"),
    (
        "11-06",
        "Holiday",
        "Regional",
        "Santo Domingo de los Tsachilas",
        "Provincializacion de Santo Domingo",
    ),
    ("11-07", "Holiday", "Regional", "Santa Elena", "Provincializacion Santa Elena"),
    ("11-10", "Holiday", "Local", "Guaranda", "Independencia de Guaranda"),
    ("11-11", "Holiday", "Local", "Latacunga", "Independencia de Latacunga"),
    ("11-12", "Holiday", "Local", "Ambato", "Independencia de Ambato"),
    ("12-05", "Additional", "Local", "Quito", "Fundacion de Quito-1"),
    ("12-06", "Holiday", "Local", "Quito", "Fundacion de Quito"),
    ("12-08", "Holiday", "Local", "Loja", "Fundacion de Loja"),
    ("12-22", "Holiday", "Local", "Salinas", "Cantonizacion de Salinas"),
)
# month-day: name; a name ending in -k or +k is an Additional day around the holiday
_NATIONAL_YEARLY = {
    "01-01": "Primer dia del ano", "05-01": "Dia del Trabajo", "05-24": "Batalla de Pichincha",
    "08-10": "Primer Grito de Independencia", "10-09": "Independencia de Guayaquil",
    "11-02": "Dia de Difuntos", "11-03": "Independencia de Cuenca", "12-21": "Navidad-4",
    "12-22": "Navidad-3", "12-23": "Navidad-2", "12-24": "Navidad-1", "12-25": "Navidad",
    "12-26": "Navidad+1", "12-31": "Primer dia del ano-1",
}  # fmt: skip
# original date -> observed date (12 rows, like the real file; one moves a holiday earlier)
_TRANSFERS = {
    "2012-10-09": "2012-10-12", "2013-10-09": "2013-10-11", "2014-10-09": "2014-10-10",
    "2016-05-24": "2016-05-27", "2016-07-25": "2016-07-24", "2016-08-10": "2016-08-12",
    "2017-01-01": "2017-01-02", "2017-04-12": "2017-04-13", "2017-05-24": "2017-05-26",
    "2017-08-10": "2017-08-11", "2017-09-28": "2017-09-29", "2017-12-06": "2017-12-08",
}  # fmt: skip
# Bridge days (taken off) and the Saturdays worked to pay them back
_BRIDGES = (
    ("2012-12-24", "Puente Navidad"), ("2012-12-31", "Puente Primer dia del ano"),
    ("2014-12-26", "Puente Navidad"), ("2015-01-02", "Puente Primer dia del ano"),
    ("2016-11-04", "Puente Dia de Difuntos"),
)  # fmt: skip
_WORK_DAYS = (
    ("2013-01-05", "Recupero puente Navidad"),
    ("2013-01-12", "Recupero puente primer dia del ano"),
    ("2014-12-20", "Recupero Puente Navidad"),
    ("2015-01-10", "Recupero Puente Primer dia del ano"),
    ("2016-11-12", "Recupero Puente Dia de Difuntos"),
)
_MUNDIAL = (
    ("2014-06-12", "Inauguracion Mundial de futbol Brasil"),
    ("2014-06-15", "Mundial de futbol Brasil: Ecuador-Suiza"),
    ("2014-06-20", "Mundial de futbol Brasil: Ecuador-Honduras"),
    ("2014-06-25", "Mundial de futbol Brasil: Ecuador-Francia"),
    ("2014-06-28", "Mundial de futbol Brasil: Octavos de Final"),
    ("2014-06-29", "Mundial de futbol Brasil: Octavos de Final"),
    ("2014-07-04", "Mundial de futbol Brasil: Cuartos de Final"),
    ("2014-07-05", "Mundial de futbol Brasil: Cuartos de Final"),
    ("2014-07-08", "Mundial de futbol Brasil: Semifinales"),
    ("2014-07-09", "Mundial de futbol Brasil: Semifinales"),
    ("2014-07-12", "Mundial de futbol Brasil: Tercer Puesto"),
    ("2014-07-13", "Mundial de futbol Brasil: Final"),
)
# 2012 local rows left out so the table has exactly 350 rows, like the real one
_DROP_2012 = {
    "Fundacion de Loja", "Fundacion de Esmeraldas", "Cantonizacion de Guaranda",
    "Cantonizacion de Cayambe", "Fundacion de Ibarra",
}  # fmt: skip
HOLIDAY_FIRST, HOLIDAY_LAST = "2012-03-02", "2017-12-26"
N_HOLIDAYS = 350


def _second_sunday_of_may(year: int) -> np.datetime64:
    may1 = np.datetime64(f"{year}-05-01")
    dow = (may1.astype(int) + 3) % 7  # Monday = 0
    return may1 + int((6 - dow) % 7) + 7


def _black_friday(year: int) -> np.datetime64:
    nov1 = np.datetime64(f"{year}-11-01")
    dow = (nov1.astype(int) + 3) % 7
    return nov1 + int((3 - dow) % 7) + 21 + 1  # 4th Thursday + 1


def make_holidays() -> pd.DataFrame:
    """The holidays_events table: fixed (seed-independent), 350 rows like the real file."""
    rows: list[tuple[str, str, str, str, str, bool]] = []
    for year in range(2012, 2018):
        for md, desc in _NATIONAL_YEARLY.items():
            typ = "Additional" if desc[-2] in "+-" else "Holiday"
            rows.append((f"{year}-{md}", typ, "National", "Ecuador", desc, False))
        easter = np.datetime64(f"{year}-{_EASTER[year]}")
        for off, desc in ((-48, "Carnaval"), (-47, "Carnaval"), (-2, "Viernes Santo")):
            rows.append((str(easter + off), "Holiday", "National", "Ecuador", desc, False))
        madre = _second_sunday_of_may(year)
        rows.append((str(madre - 1), "Event", "National", "Ecuador", "Dia de la Madre-1", False))
        rows.append((str(madre), "Event", "National", "Ecuador", "Dia de la Madre", False))
        if 2014 <= year <= 2016:
            bf = _black_friday(year)
            rows.append((str(bf), "Event", "National", "Ecuador", "Black Friday", False))
            rows.append((str(bf + 3), "Event", "National", "Ecuador", "Cyber Monday", False))
        for md, typ, loc, name, desc in _LOCAL_YEARLY:
            if year == 2012 and desc in _DROP_2012:
                continue
            rows.append((f"{year}-{md}", typ, loc, name, desc, False))
    for day, desc in _MUNDIAL:
        rows.append((day, "Event", "National", "Ecuador", desc, False))
    for k in range(31):
        desc = "Terremoto Manabi" + (f"+{k}" if k else "")
        rows.append((str(QUAKE_DAY + k), "Event", "National", "Ecuador", desc, False))
    for day, desc in _BRIDGES:
        rows.append((day, "Bridge", "National", "Ecuador", desc, False))
    for day, desc in _WORK_DAYS:
        rows.append((day, "Work Day", "National", "Ecuador", desc, False))
    by_date = {r[0]: i for i, r in enumerate(rows) if r[1] == "Holiday"}
    for orig, moved in _TRANSFERS.items():
        i = by_date[orig]
        _, _, loc, name, desc, _ = rows[i]
        rows[i] = (*rows[i][:5], True)
        rows.append((moved, "Transfer", loc, name, f"Traslado {desc}", False))
    df = pd.DataFrame(
        rows, columns=["date", "type", "locale", "locale_name", "description", "transferred"]
    )
    df = df[(df["date"] >= HOLIDAY_FIRST) & (df["date"] <= HOLIDAY_LAST)]
    df = df.sort_values(["date", "description"], kind="stable").reset_index(drop=True)
    assert len(df) == N_HOLIDAYS, len(df)
    return df


# --------------------------------------------------------------------------- helpers
def _days(start: np.datetime64, end: np.datetime64) -> np.ndarray:
    return np.arange(start, end + 1, dtype="datetime64[D]")


def _rng(seed: int, *stream: int) -> np.random.Generator:
    """Independent stream per purpose, so changing one part never shifts the others."""
    return np.random.default_rng(np.random.SeedSequence([seed, *stream]))


def _family_params(seed: int) -> dict[str, np.ndarray]:
    rng = _rng(seed, 1)
    nf = len(FAMILY_NAMES)
    level = np.array([FAMILIES[f][0] for f in FAMILY_NAMES])
    food = np.array([f in FOOD for f in FAMILY_NAMES])
    mu = np.log1p(level)
    p = {
        "mu": mu,
        "food": food,
        "weighed": np.array([FAMILIES[f][1] for f in FAMILY_NAMES]),
        # low-volume families are noisier on the log scale
        "sigma": 0.22 + 0.26 * np.clip((7.5 - mu) / 6.0, 0, 1) * rng.uniform(0.9, 1.1, nf),
        "phi": rng.uniform(0.97, 0.99, nf),
        "slope": rng.normal(0.02, 0.04, nf),
        "seas": rng.uniform(0.6, 1.4, nf),
        "week": np.where(food, 1.0, 0.5) * rng.uniform(0.8, 1.2, nf),
        "hol": np.where(food, 0.12, -0.05) + rng.normal(0, 0.05, nf),
        "xmas": np.where(food, 0.35, 0.2) + rng.uniform(0, 0.3, nf),
        "post": -0.15 + rng.normal(0, 0.05, nf),
        "nye": np.where(food, 0.1, -0.15) + rng.normal(0, 0.05, nf),
        "madre": 0.03 + rng.uniform(0, 0.05, nf),
        "bf": 0.02 + rng.uniform(0, 0.06, nf),
        "futbol": np.zeros(nf),
        "local": np.where(food, 0.12, 0.05) + rng.normal(0, 0.03, nf),
        "pay": np.where(food, 0.05, 0.025),
        "oil": rng.uniform(0.02, 0.06, nf),
        "quake": np.full(nf, 0.25),
        "promo_beta": np.where(mu > 4, 0.08, 0.25) * rng.uniform(0.8, 1.2, nf),
        "promo_scale": np.array([PROMO_SCALE.get(f, 0.3) for f in FAMILY_NAMES], dtype=float),
    }
    idx = {f: i for i, f in enumerate(FAMILY_NAMES)}
    for f in ("CELEBRATION", "BEAUTY", "LADIESWEAR", "LINGERIE", "PERSONAL CARE"):
        p["madre"][idx[f]] += 0.15
    for f in ("HOME APPLIANCES", "PLAYERS AND ELECTRONICS", "HOME AND KITCHEN I", "LADIESWEAR"):
        p["bf"][idx[f]] += 0.12
    for f in ("CELEBRATION", "LIQUOR,WINE,BEER"):
        p["xmas"][idx[f]] += 0.4
        p["nye"][idx[f]] += 0.3
    p["futbol"][idx["BEVERAGES"]] = 0.08
    p["futbol"][idx["LIQUOR,WINE,BEER"]] = 0.15
    for f, q in (("BEVERAGES", 0.8), ("GROCERY I", 0.7), ("CLEANING", 0.5), ("DAIRY", 0.4)):
        p["quake"][idx[f]] = q
    p["hol"][idx["SCHOOL AND OFFICE SUPPLIES"]] = -0.25
    p["hol"][idx["LIQUOR,WINE,BEER"]] += 0.15
    return p


def _store_params(seed: int) -> dict[str, np.ndarray]:
    """Per-store parameters for all 54 stores (index store_nbr - 1)."""
    rng = _rng(seed, 2)
    nbr = np.arange(1, 55)
    typ = np.array([STORES[s][2] for s in nbr])
    cluster = np.array([STORES[s][3] for s in nbr])
    state = np.array([STORES[s][1] for s in nbr])
    cluster_eff = rng.normal(0, 0.12, 18)
    level = np.array([TYPE_EFFECT[t] for t in typ]) + cluster_eff[cluster] + rng.normal(0, 0.15, 54)
    return {
        "level": level,
        "slope": rng.normal(0.03, 0.05, 54),
        "week": rng.uniform(0.7, 1.3, 54),
        "inter": rng.normal(0, 1, (54, len(FAMILY_NAMES))),
        "promo": np.exp(0.8 * level + rng.normal(0, 0.25, 54)),
        "trans": rng.normal(0, 0.15, 54),
        "quake": np.where(state == "Manabi", 1.6, 1.0),
        "sierra": np.isin(state, list(SIERRA)),
    }


def _dead_mask(seed: int) -> np.ndarray:
    """(54, 33) bool: series that never sell; fixed at full scale, then subset."""
    rng = _rng(seed, 3)
    dead = np.zeros((54, len(FAMILY_NAMES)), dtype=bool)
    for store, fam in DEAD_FORCED:
        dead[store - 1, FAMILY_NAMES.index(fam)] = True
    for fam, n in DEAD_PER_FAMILY.items():
        j = FAMILY_NAMES.index(fam)
        need = n - int(dead[:, j].sum())
        free = np.flatnonzero(~dead[:, j])
        dead[rng.choice(free, size=need, replace=False), j] = True
    return dead


def _oil(seed: int, days: np.ndarray) -> np.ndarray:
    """Daily WTI price on every calendar day (the CSV keeps weekdays, some NaN)."""
    rng = _rng(seed, 4)
    t = (days - FIRST_DAY).astype(int)
    at = np.array([(np.datetime64(d) - FIRST_DAY).astype(int) for d, _ in OIL_ANCHORS])
    base = np.interp(t, at, np.log([p for _, p in OIL_ANCHORS]))
    wobble = lfilter([0.2], [1, -0.96], rng.normal(0, 0.05, len(t)))  # OU, sd ~ 3.6 %
    return np.round(np.exp(base + wobble), 2)


def _calendar(days: np.ndarray) -> dict[str, np.ndarray]:
    month_start = days.astype("datetime64[M]")
    year_start = days.astype("datetime64[Y]")
    dom = (days - month_start).astype(int) + 1
    nxt_month = (days + 1).astype("datetime64[M]")
    return {
        "dow": (days.astype(int) + 3) % 7,  # Monday = 0 (1970-01-01 was a Thursday)
        "dom": dom,
        "month": month_start.astype(int) % 12 + 1,
        "doy": (days - year_start).astype(int) + 1,
        "month_end": nxt_month != month_start,
    }


def _holiday_effects(hol: pd.DataFrame, days: np.ndarray, fam: dict) -> dict:
    """Turn holiday rows into per-day (x family) and per-day x store effects.

    A transferred holiday counts on its Transfer date, not its original one; Bridge days act
    like holidays; Work Day rows make a Saturday behave like an ordinary weekday.
    """
    nt, nf = len(days), len(FAMILY_NAMES)
    nat = np.zeros((nt, nf))
    local = np.zeros((nt, 54))
    work = np.zeros(nt, dtype=bool)
    quake = np.zeros(nt)
    city = np.array([STORES[s][0] for s in range(1, 55)])
    state = np.array([STORES[s][1] for s in range(1, 55)])
    t_all = (hol["date"].to_numpy().astype("datetime64[D]") - days[0]).astype(int)
    for t, typ, loc, name, desc, moved in zip(
        t_all,
        hol["type"],
        hol["locale"],
        hol["locale_name"],
        hol["description"],
        hol["transferred"],
        strict=True,
    ):
        if t < 0 or t >= nt or moved:
            continue
        if typ == "Work Day":
            work[t] = True
        elif loc != "National":
            hit = city == name if loc == "Local" else state == name
            local[t, hit] += 0.5 if typ == "Additional" else 1.0
        elif desc.startswith("Navidad-"):
            nat[t] += fam["xmas"] * (1.0 - 0.15 * int(desc[-1]))
        elif desc == "Navidad+1":
            nat[t] += fam["post"]
        elif desc == "Primer dia del ano-1":
            nat[t] += fam["nye"]
        elif desc == "Primer dia del ano":
            pass  # closures are handled by the open mask
        elif desc.startswith("Dia de la Madre"):
            nat[t] += fam["madre"]
        elif desc in ("Black Friday", "Cyber Monday"):
            nat[t] += fam["bf"]
        elif "Mundial" in desc:
            nat[t] += fam["futbol"]
        elif desc.startswith("Terremoto"):
            k = int(desc.split("+")[1]) if "+" in desc else 0
            quake[t] = 0.35 if k == 0 else np.exp(-max(k - 2, 0) / 4.0)
        else:  # national Holiday, Transfer or Bridge
            nat[t] += fam["hol"]
    return {"nat": nat, "local": local, "work": work, "quake": quake}


def _str_col(values: np.ndarray) -> pa.Array:
    return pc.cast(pa.array(values), pa.string())


def _sales_str(y: np.ndarray) -> pa.Array:
    """Floats as in the real file: shortest repr, integers as '12.0'."""
    s = _str_col(y)
    whole = pa.array(y == np.floor(y))
    return pc.if_else(whole, pc.binary_join_element_wise(s, pa.scalar(".0"), pa.scalar("")), s)


def _write_lines(fh, cols: list[pa.Array]) -> None:
    """Write rows of already-formatted string columns; arrow joins them without Python loops."""
    line = pc.binary_join_element_wise(*cols, pa.scalar(","))
    line = pc.binary_join_element_wise(line, pa.scalar(""), pa.scalar("\n"))
    offsets = np.frombuffer(line.buffers()[1], dtype=np.int32, count=len(line) + 1)
    data = line.buffers()[2]
    fh.write(memoryview(data)[offsets[line.offset] : offsets[line.offset + len(line)]])


def describe(info: dict) -> str:
    """What `store-sales synth` prints: where the files went, their rows, how to use them."""
    out = Path(info["out_dir"]).resolve()
    lines = [f"synthetic data written to {out} in {info['seconds']:.1f} s"]
    lines += [f"  {name + '.csv':<24}{n:>10,} rows" for name, n in info["rows"].items()]
    if "solution" in info["paths"]:
        lines.append(
            "  hidden/                 the true test sales, for scoring (Kaggle keeps them)"
        )
    lines.append(f"run a template on it: store-sales run exp001 -p data_dir {out}")
    return "\n".join(lines)


# --------------------------------------------------------------------------- main
@dataclass(frozen=True)
class _Layout:
    """Which stores and days a config covers: stores in the real files' row order (store_nbr
    sorted as text), every calendar day from 2013-01-01 (the latent and oil always start there)
    and the slice from ``start`` that is written."""

    n_stores: int
    start_day: np.datetime64
    store_order: np.ndarray  # store_nbr in row order
    si: np.ndarray  # their indices into the 54-store parameters
    all_days: np.ndarray
    cal_all: dict
    i0: int  # position of start_day in all_days
    n_train_cal: int  # calendar days start_day..LAST_TRAIN

    @property
    def days(self) -> np.ndarray:
        return self.all_days[self.i0 :]

    @property
    def cal(self) -> dict:
        return {k: v[self.i0 :] for k, v in self.cal_all.items()}


def _layout(n_stores: int, start: str) -> _Layout:
    """The config's stores and days; a bad store count or start is a UserError."""
    if not 1 <= n_stores <= 54:
        raise UserError(f"n_stores must be in 1..54, got {n_stores}")
    start_day = np.datetime64(pd.Timestamp(start).date(), "D")
    if not FIRST_DAY <= start_day <= LAST_TRAIN - 60:
        raise UserError(f"start must be between 2013-01-01 and 2017-06-16, got {start}")
    store_order = np.array(sorted(range(1, n_stores + 1), key=str))
    all_days = _days(FIRST_DAY, TEST_END)
    return _Layout(
        n_stores=n_stores,
        start_day=start_day,
        store_order=store_order,
        si=store_order - 1,
        all_days=all_days,
        cal_all=_calendar(all_days),
        i0=int((start_day - FIRST_DAY).astype(int)),
        n_train_cal=int((LAST_TRAIN - start_day).astype(int)) + 1,
    )


def generate(
    out_dir,
    *,
    seed: int = 0,
    n_stores: int = 54,
    start: str = "2013-01-01",
    hidden: bool = True,
) -> dict:
    """Write a synthetic copy of the competition files into ``out_dir``.

    Full scale (54 stores from 2013-01-01) matches the real row counts. Fewer stores keep
    stores 1..n_stores; a later ``start`` shortens train. The last train day is always
    2017-08-15 and the test covers 2017-08-16..31. With ``hidden`` the true test sales and
    the noise-floor forecast go to ``hidden/solution.csv`` (never read by the pipeline).
    """
    t0 = time.perf_counter()
    lay = _layout(n_stores, start)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)

    fam = _family_params(seed)
    stp = _store_params(seed)
    oil_all = _oil(seed, lay.all_days)  # always from 2013-01-01, like the real file
    hol = make_holidays()
    mu = _expected_level(lay, fam, stp, hol, oil_all)
    eps, promo, innov = _store_draws(seed, lay, fam, stp)
    latent = _latent(lay, fam, innov)
    del innov
    y, sells, is_open = _sales(seed, lay, fam, mu, latent, eps, promo)
    del eps

    # train drops Christmas Day
    cal = lay.cal
    train_t = np.flatnonzero(
        (np.arange(len(lay.days)) < lay.n_train_cal) & ~((cal["month"] == 12) & (cal["dom"] == 25))
    )
    test_t = np.arange(lay.n_train_cal, len(lay.days))
    test_ids = _write_sales(out, lay, y, promo, train_t, test_t)
    n_oil = _write_stores_oil_holidays(out, seed, lay, oil_all, hol)
    n_trans = _write_transactions(out, seed, lay, stp, y, is_open, train_t)

    n_test = len(test_ids)
    counts = {
        "train": len(train_t) * len(lay.si) * len(FAMILY_NAMES),
        "test": n_test,
        "sample_submission": n_test,
        "stores": n_stores,
        "oil": n_oil,
        "holidays_events": len(hol),
        "transactions": n_trans,
    }
    paths = {k: str(out / f"{k}.csv") for k in counts}
    if hidden:
        floor = _noise_floor(
            mu[test_t], latent[lay.n_train_cal - 1], fam, SD_LATENT, sells[test_t], y.dtype
        )
        paths.update(_write_hidden(out, seed, lay, counts, test_ids, y[test_t], floor))
    return {
        "out_dir": str(out),
        "paths": paths,
        "rows": counts,
        "seconds": round(time.perf_counter() - t0, 3),
    }


def _expected_level(lay: _Layout, fam: dict, stp: dict, hol: pd.DataFrame, oil_all) -> np.ndarray:
    """(day, store, family) float32 mu from what the files show: identity, trend, weekday,
    season, December, paydays, 28-day oil average, school start, holidays, the quake."""
    i0, si, cal = lay.i0, lay.si, lay.cal
    days = lay.days
    nt, ns, nf = len(days), len(si), len(FAMILY_NAMES)
    csum = np.concatenate([[0.0], np.cumsum(oil_all)])
    w = np.minimum(np.arange(1, len(oil_all) + 1), 28)
    oil_ma = (csum[1:] - csum[np.arange(len(oil_all)) + 1 - w]) / w
    oil_eff = ((oil_ma - 70.0) / 30.0)[i0:]

    # ---- deterministic day x family / day x store terms
    he = _holiday_effects(hol, lay.all_days, fam)
    years = ((days - np.datetime64("2015-01-01")).astype(int) / 365.25)[:, None, None]
    dow = np.where(he["work"][i0:], 7, cal["dow"])  # 7 = an average weekday
    week_shape = np.array([-0.05, -0.08, -0.05, -0.1, 0.0, 0.15, 0.2, -0.056])
    doy = cal["doy"]
    dec = np.where(cal["month"] == 12, np.where(cal["dom"] <= 24, cal["dom"] / 24.0, 0.3), 0.0)
    seas = 0.05 * np.cos(2 * np.pi * (doy - 350) / 365.25)
    payday = (
        (cal["dom"] == 15) | cal["month_end"] | (cal["dom"] == 16) | (cal["dom"] == 1)
    ).astype(float)
    payday[(cal["dom"] == 16) | (cal["dom"] == 1)] = 0.5  # spill-over day
    day_fam = (
        seas[:, None] * fam["seas"]
        + 0.3 * dec[:, None] * fam["xmas"]
        + he["nat"][i0:]
        + payday[:, None] * fam["pay"]
        + oil_eff[:, None] * fam["oil"]
    )
    school_j = FAMILY_NAMES.index("SCHOOL AND OFFICE SUPPLIES")
    peak = np.where(stp["sierra"][si], 245, 110)  # early September vs mid April
    school = 1.1 * np.exp(-0.5 * ((doy[:, None] - peak[None, :]) / 14.0) ** 2)

    inter_sd = np.where(fam["mu"] > 4, 0.2, 0.35)
    base = (
        fam["mu"][None, :]
        + stp["level"][si, None] * np.where(fam["food"], 1.0, 0.7)[None, :]
        + stp["inter"][si] * inter_sd[None, :]
    )
    mu = np.empty((nt, ns, nf), dtype=np.float32)
    mu[:] = base[None]
    mu += (years * (stp["slope"][si, None] + fam["slope"][None, :])[None]).astype(np.float32)
    mu += (week_shape[dow][:, None, None] * stp["week"][si, None] * fam["week"]).astype(np.float32)
    mu += day_fam[:, None, :].astype(np.float32)
    mu[:, :, school_j] += school.astype(np.float32)
    mu += (he["local"][i0:, si][:, :, None] * fam["local"]).astype(np.float32)
    mu += (he["quake"][i0:, None, None] * stp["quake"][si, None] * fam["quake"]).astype(np.float32)
    return mu


def _store_draws(seed: int, lay: _Layout, fam: dict, stp: dict):
    """The random parts, drawn per store over the whole calendar (so a smaller config is a
    sub-block): noise eps and promotions from ``start``, latent innovations from 2013."""
    all_days, i0 = lay.all_days, lay.i0
    nt, ns, nf = len(all_days) - i0, len(lay.si), len(FAMILY_NAMES)
    promo_ramp = np.where(
        all_days >= PROMO_START,
        0.25 + 0.75 * (all_days - PROMO_START).astype(int) / (TEST_END - PROMO_START).astype(int),
        0.0,
    )
    camp_rng = _rng(seed, 5)
    camp = lfilter([0.6], [1, -0.8], camp_rng.normal(0, 1, (len(all_days), nf)), axis=0)
    camp = np.exp(0.6 * camp - 0.18) * np.where(camp_rng.random((len(all_days), nf)) < 0.04, 2, 1)
    fam_lam = camp * promo_ramp[:, None] * fam["promo_scale"]
    eps = np.empty((nt, ns, nf), dtype=np.float32)
    promo = np.empty((nt, ns, nf), dtype=np.int32)
    innov = np.empty((len(all_days), ns, nf), dtype=np.float32)
    for k, s in enumerate(lay.si):  # 54 stores at most; each block is vectorized
        r = _rng(seed, 6, int(s) + 1)
        eps[:, k] = r.standard_normal((len(all_days), nf), dtype=np.float32)[i0:]
        innov[:, k] = r.standard_normal((len(all_days), nf), dtype=np.float32)
        lam = fam_lam * stp["promo"][s] * np.exp(0.4 * r.standard_normal((len(all_days), nf)))
        promo[:, k] = r.poisson(lam)[i0:]
    return eps, promo, innov


def _latent(lay: _Layout, fam: dict, innov: np.ndarray) -> np.ndarray:
    """AR(1) latent, stationary sd SD_LATENT, simulated from 2013-01-01 for every config."""
    ns, nf, i0 = len(lay.si), len(FAMILY_NAMES), lay.i0
    phi = np.broadcast_to(fam["phi"].astype(np.float32), (ns, nf))
    q = (SD_LATENT * np.sqrt(1 - phi**2)).astype(np.float32)
    latent = np.empty((len(lay.all_days) - i0, ns, nf), dtype=np.float32)
    a = innov[0] * np.float32(SD_LATENT)
    if i0 == 0:
        latent[0] = a
    for t in range(1, len(lay.all_days)):
        a = phi * a + q * innov[t]
        if t >= i0:
            latent[t - i0] = a
    return latent


def _sales(seed: int, lay: _Layout, fam: dict, mu, latent, eps, promo):
    """Who sells when, and the sales: returns (y, sells, is_open). Adds New Year's Day and the
    promotions' lift to ``mu`` in place and zeroes ``promo`` where nothing sells, as the noise
    floor and the files need them."""
    days, cal, store_order = lay.days, lay.cal, lay.store_order
    dead = _dead_mask(seed)[lay.si]
    open_from = np.array([np.datetime64(OPENING.get(int(s), "2013-01-01")) for s in store_order])
    is_open = days[:, None] >= open_from[None, :]
    jan1 = (cal["month"] == 1) & (cal["dom"] == 1)
    jan1_open = np.isin(store_order, JAN1_OPEN)
    is_open &= ~(jan1[:, None] & ~jan1_open[None, :])
    mu[jan1] -= 1.2  # the few stores open on New Year's Day sell little
    sells = is_open[:, :, None] & ~dead[None, :, :]
    books_j = FAMILY_NAMES.index("BOOKS")
    sells[:, :, books_j] &= (days >= BOOKS_START)[:, None]
    promo[~sells] = 0
    promo[days < PROMO_START] = 0
    beta = fam["promo_beta"].astype(np.float32)
    mu += beta * np.log1p(promo.astype(np.float32))
    sigma = fam["sigma"].astype(np.float32)

    z = mu + latent + eps * sigma
    np.maximum(z, 0, out=z)
    y = np.expm1(z, out=z).astype(np.float64)
    y[:, :, fam["weighed"]] = np.round(y[:, :, fam["weighed"]], 3)
    y[:, :, ~fam["weighed"]] = np.rint(y[:, :, ~fam["weighed"]])
    y[~sells] = 0.0
    return y, sells, is_open


def _write_sales(out: Path, lay: _Layout, y, promo, train_t, test_t) -> np.ndarray:
    """train.csv, test.csv and sample_submission.csv, written in chunks; returns the test ids."""
    S = len(lay.si) * len(FAMILY_NAMES)
    n_train, n_test = len(train_t) * S, len(test_t) * S
    date_str = np.datetime_as_string(lay.days)
    fam_csv = [f'"{f}"' if "," in f else f for f in FAMILY_NAMES]
    series_key = pa.array([f"{s},{f}" for s in lay.store_order for f in fam_csv])
    series_idx = np.arange(S)

    chunk_days = max(1, 300_000 // S)
    with open(out / "train.csv", "wb") as fh:
        fh.write(b"id,date,store_nbr,family,sales,onpromotion\n")
        for c0 in range(0, len(train_t), chunk_days):
            tt = train_t[c0 : c0 + chunk_days]
            ids = np.arange(c0 * S, (c0 + len(tt)) * S)
            _write_lines(
                fh,
                [
                    _str_col(ids),
                    pa.array(np.repeat(date_str[tt], S)),
                    pc.take(series_key, pa.array(np.tile(series_idx, len(tt)))),
                    _sales_str(y[tt].reshape(-1)),
                    _str_col(promo[tt].reshape(-1)),
                ],
            )
    test_ids = np.arange(n_train, n_train + n_test)
    test_dates = np.repeat(date_str[test_t], S)
    test_keys = pc.take(series_key, pa.array(np.tile(series_idx, len(test_t))))
    with open(out / "test.csv", "wb") as fh:
        fh.write(b"id,date,store_nbr,family,onpromotion\n")
        _write_lines(
            fh,
            [
                _str_col(test_ids),
                pa.array(test_dates),
                test_keys,
                _str_col(promo[test_t].reshape(-1)),
            ],
        )
    with open(out / "sample_submission.csv", "wb") as fh:
        fh.write(b"id,sales\n")
        _write_lines(fh, [_str_col(test_ids), pa.array(np.full(n_test, "0.0"))])
    return test_ids


def _write_stores_oil_holidays(out: Path, seed: int, lay: _Layout, oil_all, hol) -> int:
    """stores.csv, oil.csv (weekdays, some NaN) and holidays_events.csv; returns oil's rows."""
    stores_df = pd.DataFrame(
        [(s, *STORES[s]) for s in range(1, lay.n_stores + 1)],
        columns=["store_nbr", "city", "state", "type", "cluster"],
    )
    stores_df.to_csv(out / "stores.csv", index=False, lineterminator="\n")
    wk = lay.cal_all["dow"] < 5
    oil_days, oil_vals = lay.all_days[wk], oil_all[wk]
    nan_rng = _rng(seed, 7)
    n_oil_train = int((oil_days <= LAST_TRAIN).sum())
    nan_at = np.concatenate(
        [[0], 1 + nan_rng.choice(n_oil_train - 1, size=N_OIL_NAN - 1, replace=False)]
    )
    oil_vals = oil_vals.copy()
    oil_vals[nan_at] = np.nan
    pd.DataFrame({"date": np.datetime_as_string(oil_days), "dcoilwtico": oil_vals}).to_csv(
        out / "oil.csv", index=False, lineterminator="\n"
    )
    hol.to_csv(out / "holidays_events.csv", index=False, lineterminator="\n")
    return len(oil_days)


def _write_transactions(out: Path, seed: int, lay: _Layout, stp, y, is_open, train_t) -> int:
    """transactions.csv: open store-days, minus whole missing days and a random few; returns
    its rows."""
    si, i0 = lay.si, lay.i0
    tr_days = lay.days[train_t]
    total = y[train_t].sum(axis=2)  # (days, stores)
    has = is_open[train_t] & (total > 0)
    has &= ~np.isin(tr_days, np.array(NO_TRANSACTION_DAYS, dtype="datetime64[D]"))[:, None]
    drop = _transaction_drop(seed)[(tr_days - FIRST_DAY).astype(int)][:, si]
    has &= ~drop
    tr_rng = _rng(seed, 9)
    tr_noise = tr_rng.normal(0, 0.06, (len(lay.all_days), 54))[i0:][train_t][:, si]
    log_tr = (
        np.log(1600.0) + 0.75 * (np.log1p(total) - np.log(12000.0)) + stp["trans"][si] + tr_noise
    )
    tt, ss = np.nonzero(has)
    trans = pd.DataFrame(
        {
            "date": np.datetime_as_string(lay.days)[train_t][tt],
            "store_nbr": lay.store_order[ss],
            "transactions": np.rint(np.exp(log_tr[tt, ss])).astype(np.int64),
        }
    ).sort_values(["date", "store_nbr"], kind="stable")
    trans.to_csv(out / "transactions.csv", index=False, lineterminator="\n")
    return len(trans)


def _write_hidden(out: Path, seed: int, lay: _Layout, counts, test_ids, y_test, floor) -> dict:
    """hidden/solution.csv (true test sales and the noise floor) and hidden/synth.json."""
    hid = out / "hidden"
    hid.mkdir(exist_ok=True)
    pd.DataFrame(
        {
            "id": test_ids,
            "sales": y_test.reshape(-1),
            "floor": np.round(floor.reshape(-1), 4),
        }
    ).to_csv(hid / "solution.csv", index=False, lineterminator="\n")
    meta = {"version": VERSION, "seed": seed, "n_stores": lay.n_stores, "start": str(lay.start_day)}
    meta["rows"] = counts
    (hid / "synth.json").write_text(json.dumps(meta, indent=2) + "\n")
    return {"solution": str(hid / "solution.csv"), "synth": str(hid / "synth.json")}


def _transaction_drop(seed: int) -> np.ndarray:
    """(calendar day from 2013-01-01, 54) bool: random store-days without a transactions row.

    The count is set so the full-scale file has exactly the real 83,488 rows; smaller
    configs use the same mask, so they drop a similar fraction.
    """
    days = _days(FIRST_DAY, LAST_TRAIN)
    cal = _calendar(days)
    open_from = np.array([np.datetime64(OPENING.get(s, "2013-01-01")) for s in range(1, 55)])
    ok = days[:, None] >= open_from[None, :]
    jan1 = (cal["month"] == 1) & (cal["dom"] == 1)
    ok &= ~(jan1[:, None] & ~np.isin(np.arange(1, 55), JAN1_OPEN)[None, :])
    ok &= ~((cal["month"] == 12) & (cal["dom"] == 25))[:, None]
    ok &= ~np.isin(days, np.array(NO_TRANSACTION_DAYS, dtype="datetime64[D]"))[:, None]
    n_drop = int(ok.sum()) - N_TRANSACTIONS_FULL
    assert n_drop >= 0
    u = _rng(seed, 8).random(ok.shape)
    u[~ok] = 2.0  # never picked
    drop = np.zeros(ok.shape, dtype=bool)
    drop.reshape(-1)[np.argsort(u, axis=None, kind="stable")[:n_drop]] = True
    return drop


def _noise_floor(mu_test, a_last, fam, sd_a, sells, dtype) -> np.ndarray:
    """RMSLE-optimal forecast expm1(E[log1p(Y)]) given all information up to 2017-08-15.

    z ~ N(mu + phi^h a_T, sigma^2 + sd_a^2 (1 - phi^2h)); the expectation is taken over a
    fixed grid of normal quantiles with the same clipping and rounding as the sales.
    """
    nh = mu_test.shape[0]
    h = np.arange(1, nh + 1)[:, None, None]
    phi = fam["phi"][None, None, :]
    mean = mu_test + phi**h * a_last[None]
    var = fam["sigma"][None, None, :] ** 2 + sd_a**2 * (1 - phi ** (2 * h))
    nodes = ndtri((np.arange(FLOOR_NODES) + 0.5) / FLOOR_NODES)
    out = np.zeros(mean.shape, dtype=np.float64)
    sd = np.sqrt(var)
    for k in range(FLOOR_NODES):
        z = np.maximum(mean + sd * nodes[k], 0.0)
        y = np.expm1(z)
        y[..., fam["weighed"]] = np.round(y[..., fam["weighed"]], 3)
        y[..., ~fam["weighed"]] = np.rint(y[..., ~fam["weighed"]])
        out += np.log1p(y)
    out /= FLOOR_NODES
    out[~sells] = 0.0
    return np.expm1(out).astype(dtype)


def load_solution(data_dir) -> pd.DataFrame:
    """Hidden test labels and floor forecast (id, sales, floor) of a synthetic data set."""
    path = Path(data_dir) / "hidden" / "solution.csv"
    if not path.exists():
        raise FileNotFoundError(
            f"{path} not found: hidden test labels exist only for synthetic data made by "
            "store_sales.synth.generate(..., hidden=True), never for the real Kaggle files."
        )
    return pd.read_csv(path)
