"""The generative model: which stores and days a config covers (`Layout`), the per-family
and per-store parameters, the expected level mu, the per-store random draws, the AR(1)
latent, the sales, the noise floor and the transactions file's missing store-days.

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

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.signal import lfilter
from scipy.special import ndtri

from ..errors import UserError
from .tables import (
    BOOKS_START,
    DEAD_FORCED,
    DEAD_PER_FAMILY,
    FAMILIES,
    FAMILY_NAMES,
    FIRST_DAY,
    FOOD,
    JAN1_OPEN,
    LAST_TRAIN,
    N_TRANSACTIONS_FULL,
    NO_TRANSACTION_DAYS,
    OIL_ANCHORS,
    OPENING,
    PROMO_SCALE,
    PROMO_START,
    SIERRA,
    STORES,
    TEST_END,
    TYPE_EFFECT,
)

SD_LATENT = 0.07  # stationary sd of the AR(1) latent
FLOOR_NODES = 160  # normal quantiles used to integrate E[log1p(Y)]


def _days(start: np.datetime64, end: np.datetime64) -> np.ndarray:
    return np.arange(start, end + 1, dtype="datetime64[D]")


def rng_stream(seed: int, *stream: int) -> np.random.Generator:
    """Independent stream per purpose, so changing one part never shifts the others."""
    return np.random.default_rng(np.random.SeedSequence([seed, *stream]))


def family_params(seed: int) -> dict[str, np.ndarray]:
    rng = rng_stream(seed, 1)
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


def store_params(seed: int) -> dict[str, np.ndarray]:
    """Per-store parameters for all 54 stores (index store_nbr - 1)."""
    rng = rng_stream(seed, 2)
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
    rng = rng_stream(seed, 3)
    dead = np.zeros((54, len(FAMILY_NAMES)), dtype=bool)
    for store, fam in DEAD_FORCED:
        dead[store - 1, FAMILY_NAMES.index(fam)] = True
    for fam, n in DEAD_PER_FAMILY.items():
        j = FAMILY_NAMES.index(fam)
        need = n - int(dead[:, j].sum())
        free = np.flatnonzero(~dead[:, j])
        dead[rng.choice(free, size=need, replace=False), j] = True
    return dead


def oil(seed: int, days: np.ndarray) -> np.ndarray:
    """Daily WTI price on every calendar day (the CSV keeps weekdays, some NaN)."""
    rng = rng_stream(seed, 4)
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


@dataclass(frozen=True)
class Layout:
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


def layout(n_stores: int, start: str) -> Layout:
    """The config's stores and days; a bad store count or start is a UserError."""
    if not 1 <= n_stores <= 54:
        raise UserError(f"n_stores must be in 1..54, got {n_stores}")
    start_day = np.datetime64(pd.Timestamp(start).date(), "D")
    if not FIRST_DAY <= start_day <= LAST_TRAIN - 60:
        raise UserError(f"start must be between 2013-01-01 and 2017-06-16, got {start}")
    store_order = np.array(sorted(range(1, n_stores + 1), key=str))
    all_days = _days(FIRST_DAY, TEST_END)
    return Layout(
        n_stores=n_stores,
        start_day=start_day,
        store_order=store_order,
        si=store_order - 1,
        all_days=all_days,
        cal_all=_calendar(all_days),
        i0=int((start_day - FIRST_DAY).astype(int)),
        n_train_cal=int((LAST_TRAIN - start_day).astype(int)) + 1,
    )


def expected_level(lay: Layout, fam: dict, stp: dict, hol: pd.DataFrame, oil_all) -> np.ndarray:
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


def store_draws(seed: int, lay: Layout, fam: dict, stp: dict):
    """The random parts, drawn per store over the whole calendar (so a smaller config is a
    sub-block): noise eps and promotions from ``start``, latent innovations from 2013."""
    all_days, i0 = lay.all_days, lay.i0
    nt, ns, nf = len(all_days) - i0, len(lay.si), len(FAMILY_NAMES)
    promo_ramp = np.where(
        all_days >= PROMO_START,
        0.25 + 0.75 * (all_days - PROMO_START).astype(int) / (TEST_END - PROMO_START).astype(int),
        0.0,
    )
    camp_rng = rng_stream(seed, 5)
    camp = lfilter([0.6], [1, -0.8], camp_rng.normal(0, 1, (len(all_days), nf)), axis=0)
    camp = np.exp(0.6 * camp - 0.18) * np.where(camp_rng.random((len(all_days), nf)) < 0.04, 2, 1)
    fam_lam = camp * promo_ramp[:, None] * fam["promo_scale"]
    eps = np.empty((nt, ns, nf), dtype=np.float32)
    promo = np.empty((nt, ns, nf), dtype=np.int32)
    innov = np.empty((len(all_days), ns, nf), dtype=np.float32)
    for k, s in enumerate(lay.si):  # 54 stores at most; each block is vectorized
        r = rng_stream(seed, 6, int(s) + 1)
        eps[:, k] = r.standard_normal((len(all_days), nf), dtype=np.float32)[i0:]
        innov[:, k] = r.standard_normal((len(all_days), nf), dtype=np.float32)
        lam = fam_lam * stp["promo"][s] * np.exp(0.4 * r.standard_normal((len(all_days), nf)))
        promo[:, k] = r.poisson(lam)[i0:]
    return eps, promo, innov


def latent(lay: Layout, fam: dict, innov: np.ndarray) -> np.ndarray:
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


def sales(seed: int, lay: Layout, fam: dict, mu, latent, eps, promo):
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


def transaction_drop(seed: int) -> np.ndarray:
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
    u = rng_stream(seed, 8).random(ok.shape)
    u[~ok] = 2.0  # never picked
    drop = np.zeros(ok.shape, dtype=bool)
    drop.reshape(-1)[np.argsort(u, axis=None, kind="stable")[:n_drop]] = True
    return drop


def noise_floor(mu_test, a_last, fam, sd_a, sells, dtype) -> np.ndarray:
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
