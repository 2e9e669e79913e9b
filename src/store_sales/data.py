"""Load and check the seven competition files, in lean dtypes.

All files go through one pyarrow-based reader: it parses the 3M-row train.csv several times
faster than pandas' C engine and lets every problem (missing file, missing column, bad date)
surface as one `DataError` that names the file and the fix.
"""

from __future__ import annotations

import codecs
import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

from . import datacache
from .envinfo import fingerprint
from .errors import UserError
from .paths import COMPETITION, HORIZON, on_kaggle, real_data_dir, synthetic_data_dir

DATE = pa.date32()
FAMILY = pa.dictionary(pa.int32(), pa.string())
# Required columns per file and their arrow types (None: let arrow infer; strings stay strings).
SCHEMAS: dict[str, dict[str, pa.DataType | None]] = {
    "train": {
        "id": pa.int32(),
        "date": DATE,
        "store_nbr": pa.int16(),
        "family": FAMILY,
        "sales": pa.float32(),
        "onpromotion": pa.int16(),
    },
    "test": {
        "id": pa.int32(),
        "date": DATE,
        "store_nbr": pa.int16(),
        "family": FAMILY,
        "onpromotion": pa.int16(),
    },
    "stores": {
        "store_nbr": pa.int16(),
        "city": pa.string(),
        "state": pa.string(),
        "type": pa.string(),
        "cluster": pa.int16(),
    },
    "oil": {"date": DATE, "dcoilwtico": pa.float32()},
    "holidays_events": {
        "date": DATE,
        "type": pa.string(),
        "locale": pa.string(),
        "locale_name": pa.string(),
        "description": pa.string(),
        "transferred": pa.bool_(),
    },
    "transactions": {"date": DATE, "store_nbr": pa.int16(), "transactions": pa.int32()},
    "sample_submission": {"id": pa.int32(), "sales": pa.float32()},
}
NULLABLE = {("oil", "dcoilwtico")}
GET_DATA = (
    f"Get the real data with `kaggle competitions download -c {COMPETITION}` (then unzip it "
    "there), or write synthetic data there with `store-sales synth <folder>`."
)


class DataError(UserError):
    """Input data is missing or malformed; the message names the file and the fix."""


@dataclass
class CompetitionData:
    train: pd.DataFrame
    test: pd.DataFrame
    stores: pd.DataFrame
    oil: pd.DataFrame
    holidays_events: pd.DataFrame
    transactions: pd.DataFrame
    sample_submission: pd.DataFrame
    source: Path

    @property
    def synthetic(self) -> bool:
        return (self.source / "hidden" / "synth.json").is_file()

    @property
    def last_train_day(self) -> pd.Timestamp:
        return self.train["date"].iloc[-1] if len(self.train) else pd.NaT

    def summary(self) -> dict:
        return {
            "source": str(self.source),
            "synthetic": self.synthetic,
            **{f"rows_{name}": len(getattr(self, name)) for name in SCHEMAS},
            "train_start": str(self.train["date"].iloc[0].date()),
            "train_end": str(self.last_train_day.date()),
        }


def _to_datetime_ns(col: pa.ChunkedArray) -> np.ndarray:
    # date32 is days since the epoch; going through numpy pins nanosecond resolution on both
    # pandas 2.2 and 3.x (pandas 3 would otherwise infer a coarser unit).
    days = col.cast(pa.int32()).to_numpy(zero_copy_only=False)
    return days.astype("datetime64[D]").astype("datetime64[ns]")


def read_table(path: Path, name: str) -> pd.DataFrame:
    """Read one competition file with its schema, or raise a DataError naming the problem."""
    schema = SCHEMAS[name]
    if not path.is_file():
        raise DataError(f"{path.name} not found in {path.parent}. {GET_DATA}")
    try:
        with path.open(newline="", encoding="utf-8") as fh:
            header = next(csv.reader(fh), [])
    except UnicodeDecodeError:
        _check_utf8(path)
        raise
    if not any(header):
        raise DataError(
            f"{path}: is empty ({path.stat().st_size} bytes, no header line). "
            f"Re-download {path.name} (or write it again with `store-sales synth`)."
        )
    missing = [c for c in schema if c not in header]
    if missing:
        raise DataError(
            f"{path}: missing column(s) {missing}; found {header}. "
            f"Kaggle's {path.name} has {list(schema)}: re-download it or fix the header."
        )
    _check_cut_mid_line(path, len(header))
    try:
        table = pacsv.read_csv(
            path,
            convert_options=pacsv.ConvertOptions(
                column_types={c: t for c, t in schema.items() if t is not None},
                include_columns=list(schema),
                strings_can_be_null=False,
            ),
        )
    except pa.ArrowInvalid as err:
        _check_utf8(path)  # a byte in another encoding: say so, not what arrow tripped on
        detail = str(err).splitlines()[0]
        hint = (
            "dates must be YYYY-MM-DD"
            if "date32" in detail
            else "the values must match Kaggle's file (numbers where Kaggle has numbers)"
        )
        raise DataError(f"{path}: cannot parse it ({detail}). Fix: {hint}.") from None
    for column in schema:
        nulls = table.column(column).null_count
        if nulls and (name, column) not in NULLABLE:
            raise DataError(
                f"{path}: column {column!r} has {nulls} empty value(s); Kaggle's file has none. "
                "Re-download the file or fill them."
            )
    columns = {}
    for column in schema:
        col = table.column(column)
        if pa.types.is_date32(col.type):
            columns[column] = _to_datetime_ns(col)
        else:
            columns[column] = col.to_pandas()
    return pd.DataFrame(columns)


def _check_utf8(path: Path) -> None:
    """Raise a DataError naming the line and byte offset of the first byte that is not UTF-8
    (a file saved in Latin-1 or cp1252 by a spreadsheet); called only once a parse failed."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    offset, lines = 0, 0
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as err:
                # err.start counts from the bytes the decoder held back from the last chunk
                bad = offset - len(decoder.getstate()[0]) + err.start
                break
            offset += len(chunk)
            lines += chunk.count(b"\n")
        else:
            try:
                decoder.decode(b"", final=True)
                return
            except UnicodeDecodeError:  # the file ends inside a multi-byte character
                bad = offset - len(decoder.getstate()[0])
    with path.open("rb") as fh:
        head = fh.read(bad + 1)
    line = head.count(b"\n") + 1
    raise DataError(
        f"{path}: line {line} (byte offset {bad}) has byte 0x{head[bad]:02x}, which is not "
        f"UTF-8; Kaggle's files are UTF-8. Fix: re-download {path.name}, or convert it "
        f"(e.g. `iconv -f latin1 -t utf-8`) or save it from your editor as UTF-8."
    ) from None


def _check_cut_mid_line(path: Path, n_columns: int) -> None:
    """A file cut mid-line (an interrupted download or copy) ends without a newline in a line
    with fewer fields than the header; found from the file's tail, before the parse."""
    with path.open("rb") as fh:
        fh.seek(0, 2)
        size = fh.tell()
        fh.seek(max(0, size - 65536))
        tail = fh.read()
    if not tail or tail.endswith(b"\n"):
        return
    last = tail.rsplit(b"\n", 1)[-1].decode(errors="replace")
    if len(next(csv.reader([last]), [])) >= n_columns:
        return  # complete, just no final newline (an editor's save)
    with path.open("rb") as fh:
        line = sum(chunk.count(b"\n") for chunk in iter(lambda: fh.read(1 << 20), b"")) + 1
    raise DataError(
        f"{path}: truncated: its last line (line {line}: {last[:60]!r}) is cut off mid-line. "
        f"Re-download {path.name} (or write it again with `store-sales synth`)."
    )


def _first_duplicate(frame: pd.DataFrame, key: list[str]) -> tuple[int, int] | None:
    """File line numbers (header = line 1) of the first row repeating an earlier row's key,
    and of that earlier row."""
    repeats = frame.duplicated(key).to_numpy()
    if not repeats.any():
        return None
    i = int(repeats.argmax())
    earlier = int((frame[key].iloc[:i] == frame[key].iloc[i]).all(axis=1).to_numpy().argmax())
    return earlier + 2, i + 2


def _check_unique(frame: pd.DataFrame, key: list[str], path: Path) -> None:
    found = _first_duplicate(frame, key)
    if found:
        earlier, line = found
        row = frame.iloc[line - 2]
        values = ", ".join(
            f"{k}={row[k].date() if isinstance(row[k], pd.Timestamp) else row[k]}" for k in key
        )
        raise DataError(
            f"{path}: line {line} repeats line {earlier} ({values}); each "
            f"({', '.join(key)}) must appear once. Remove the duplicate or re-download the file."
        )


def _check_last_day_complete(frame: pd.DataFrame, path: Path) -> None:
    """A file cut at a line boundary parses, but its last day lacks series the others have."""
    last = frame["date"].iloc[-1]
    per_day = frame["date"].value_counts(sort=False)
    if per_day[last] < per_day.max():
        raise DataError(
            f"{path}: truncated: its last day {last.date()} has {per_day[last]:,} rows, other "
            f"days up to {per_day.max():,} (the file ends at line {len(frame) + 1}). "
            f"Re-download {path.name} (or write it again with `store-sales synth`)."
        )


def resolve_data_dir(data_dir: str | Path = "", generate: bool = True) -> tuple[Path, str]:
    """The folder to read and a one-line note on where it came from.

    An explicit folder is used as given (and fails loudly if incomplete). With none, real data
    is used when present; otherwise full-scale synthetic data is generated once and reused
    (`generate=False`: its folder is returned as it is, perhaps not written yet).
    """
    if data_dir:
        return Path(data_dir).expanduser().resolve(), f"data: {data_dir}"
    real = real_data_dir()
    if (real / "train.csv").is_file():
        return real, f"data: real competition data at {real}"
    if on_kaggle():
        raise DataError(
            f"Kaggle input {real} is missing: add the competition data to the notebook "
            f"(Add Input -> Competitions -> {COMPETITION})."
        )
    synth = synthetic_data_dir()
    if generate and not (synth / "hidden" / "synth.json").is_file():
        from .synth import generate as write_synthetic

        print(f"No real data at {real}; generating full-scale synthetic data in {synth} ...")
        write_synthetic(synth, seed=0)
    note = (
        f"data: SYNTHETIC data at {synth} (no real data at {real}; to use real data: "
        f"kaggle competitions download -c {COMPETITION} -p {real} and unzip it)"
    )
    return synth, note


def load_data(data_dir: str | Path = "") -> CompetitionData:
    """Read and check all seven files; see `resolve_data_dir` for the default folder."""
    folder, note = resolve_data_dir(data_dir)
    print(note)
    return _read_checked(folder)


def _read_checked(folder: Path, say=print) -> CompetitionData:
    """Read and check the seven files; the same files' checked tables come from the cache
    (datacache) instead, with the notes their checks said."""
    if not folder.is_dir():
        raise DataError(f"data_dir {folder} does not exist. {GET_DATA}")
    files = stamp(folder)
    cached = datacache.tables(folder, files, SCHEMAS) if files is not None else None
    if cached is not None:
        frames, notes = cached
        for note in notes:
            say(note)
        return CompetitionData(**frames, source=folder)
    frames = {name: read_table(folder / f"{name}.csv", name) for name in SCHEMAS}
    data = CompetitionData(**frames, source=folder)
    notes: list[str] = []
    check_consistency(data, lambda note: notes.append(note) or say(note))
    if files is not None:
        datacache.remember_passed(folder, files)
        datacache.keep_tables(folder, files, {n: getattr(data, n) for n in SCHEMAS}, notes)
    return data


def check_data(data_dir: str | Path = "") -> Path | None:
    """`load_data`'s checks, every file's and across files, with nothing printed: what
    `store-sales run/batch/tune/sweep` (`runner.check_data`) run before a run folder, a tracker
    run or a kernel exists, so bad data is one DataError line there. Returns the folder; None
    when there is nothing to check yet (the default synthetic data, which the kernel writes
    first). A folder that passed is not read again while its files keep their size and
    modification time, and its checked tables are kept for the kernel to load (datacache: a
    batch, a sweep's trials, the next `store-sales run` on the same folder)."""
    folder, _ = resolve_data_dir(data_dir, generate=False)
    if not data_dir and folder == synthetic_data_dir():
        if not (folder / "hidden" / "synth.json").is_file():
            return None  # the kernel generates it (resolve_data_dir), known-good
    files = stamp(folder)
    if files is not None and datacache.passed(folder, files):
        return folder
    _read_checked(folder, say=lambda *_: None)
    pa.default_memory_pool().release_unused()  # a CLI waits on the kernel: give 3M rows back
    return folder


def stamp(folder: Path) -> tuple | None:
    """The folder's files as the cache knows them (datacache.stamp), with this module's checks."""
    return datacache.stamp(folder, SCHEMAS, Path(__file__))


def data_fingerprint(folder: Path) -> dict[str, dict]:
    """Size and MD5 of each input file (envinfo.fingerprint), remembered while the files keep
    their size and modification time (datacache)."""
    return datacache.fingerprint(folder, stamp(folder), lambda: fingerprint(folder, SCHEMAS))


def check_consistency(data: CompetitionData, say=print) -> None:
    """Cross-file checks that would otherwise fail deep inside feature building; `say`: where
    a note goes (a test period of another length)."""
    train, test = data.train, data.test
    folder = data.source
    if train.empty or test.empty:
        raise DataError(f"{folder}: train.csv and test.csv must both have rows.")
    key = ["store_nbr", "family"]
    # keys and truncation first: later checks (and build_panel) would blame another file
    _check_unique(data.stores, ["store_nbr"], folder / "stores.csv")
    _check_unique(train, ["date", *key], folder / "train.csv")
    _check_unique(test, ["date", *key], folder / "test.csv")
    # Kaggle's files are sorted by date; sort only when needed (it copies 3M rows).
    if train["date"].is_monotonic_increasing:
        _check_last_day_complete(train, folder / "train.csv")
    else:
        data.train = train = train.sort_values("date", kind="stable", ignore_index=True)
    if test["date"].is_monotonic_increasing:
        _check_last_day_complete(test, folder / "test.csv")
    last = train["date"].iloc[-1]
    test_days = pd.DatetimeIndex(test["date"].unique()).sort_values()
    if test_days[0] > last + pd.Timedelta(days=1):
        raise DataError(
            f"{folder / 'train.csv'}: ends on {last.date()} (line {len(train) + 1}) but "
            f"test.csv starts on {test_days[0].date()}: train.csv looks truncated, or the files "
            "come from different downloads. Re-download train.csv (or use matching files)."
        )
    expected = pd.date_range(last + pd.Timedelta(days=1), periods=len(test_days), freq="D")
    if not test_days.equals(expected):
        raise DataError(
            f"{folder / 'test.csv'}: the test period must be the consecutive days right after "
            f"the last train day ({last.date()}); it has {test_days.min().date()}.."
            f"{test_days.max().date()} ({len(test_days)} days). Use matching train/test files."
        )
    if len(test_days) != HORIZON:
        say(f"note: test covers {len(test_days)} days (Kaggle's covers {HORIZON}).")
    train_series = set(map(tuple, train[key].drop_duplicates().astype(str).to_numpy()))
    test_series = set(map(tuple, test[key].drop_duplicates().astype(str).to_numpy()))
    unseen = test_series - train_series
    if unseen:
        examples = [(int(n), f) for n, f in sorted(unseen)[:3]]
        raise DataError(
            f"{folder / 'test.csv'}: {len(unseen)} (store_nbr, family) series never appear in "
            f"train.csv, e.g. {examples}. Use matching train/test files."
        )
    no_meta = set(train["store_nbr"].unique()) - set(data.stores["store_nbr"])
    if no_meta:
        missing = sorted(int(n) for n in no_meta)[:5]
        raise DataError(
            f"{folder / 'stores.csv'}: stores {missing} are in train.csv but not in stores.csv."
        )
    sub_ids = data.sample_submission["id"]
    if len(sub_ids) != len(test) or not np.array_equal(np.sort(sub_ids), np.sort(test["id"])):
        raise DataError(
            f"{folder / 'sample_submission.csv'}: ids do not match test.csv ids. "
            "Use the files from one download."
        )


def write_submission(path: Path, sample_ids, ids, sales) -> pd.DataFrame:
    """Write `id,sales` in the order of `sample_ids` (sample_submission.csv's, or a
    CompetitionData for it); refuses missing or negative forecasts."""
    if isinstance(sample_ids, CompetitionData):
        sample_ids = sample_ids.sample_submission["id"]
    pred = pd.Series(np.asarray(sales, dtype="float64"), index=np.asarray(ids))
    sub = pd.DataFrame({"id": np.asarray(sample_ids)})
    sub["sales"] = pred.reindex(sub["id"]).to_numpy()
    if sub["sales"].isna().any() or (sub["sales"] < 0).any():
        raise ValueError("forecast missing or negative for some test ids; nothing written")
    sub.to_csv(path, index=False)
    return sub
