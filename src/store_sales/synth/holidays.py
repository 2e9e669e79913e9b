"""The holidays_events table: fixed (seed-independent), 350 rows like the real file."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .tables import QUAKE_DAY

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
