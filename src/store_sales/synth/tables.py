"""The competition's reference tables, as the real files have them, and the fixed dates and
counts of the data: the 33 families (level, weighed goods, promotions, dead series), the 54
stores (city, state, type, cluster, openings), the regions and the oil price anchors."""

from __future__ import annotations

import numpy as np

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
