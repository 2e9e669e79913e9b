"""The data folder's cache (datacache): checked tables and fingerprint kept between processes
while the files are unchanged, and never served for changed files."""

from __future__ import annotations

import os

import pandas as pd
import pytest

from store_sales import data, datacache
from store_sales.data import SCHEMAS, DataError, _read_checked, data_fingerprint
from store_sales.envinfo import fingerprint


@pytest.fixture
def reads(monkeypatch) -> list[str]:
    """The files read from CSV, in order; every test starts as a new process would."""
    seen: list[str] = []
    read_table = data.read_table
    monkeypatch.setattr(data, "read_table", lambda p, n: seen.append(n) or read_table(p, n))
    monkeypatch.setattr(datacache, "_PASSED", {})
    return seen


def _frames(loaded) -> dict[str, pd.DataFrame]:
    return {name: getattr(loaded, name) for name in SCHEMAS}


def test_the_next_process_loads_the_checked_tables_exactly(data_copy, reads):
    first = _read_checked(data_copy)
    assert len(reads) == len(SCHEMAS)
    second = _read_checked(data_copy)  # from the cache: no CSV read, no check
    assert len(reads) == len(SCHEMAS)
    for name, frame in _frames(first).items():
        pd.testing.assert_frame_equal(getattr(second, name), frame, check_exact=True)
    assert second.source == data_copy


def test_a_changed_file_is_read_and_checked_again(data_copy, reads):
    _read_checked(data_copy)
    stores = data_copy / "stores.csv"
    lines = stores.read_text().splitlines(keepends=True)
    stores.write_text("".join([*lines[:2], lines[1], *lines[2:]]))  # a duplicate store
    with pytest.raises(DataError, match="repeats line 2"):
        _read_checked(data_copy)
    assert reads.count("stores") == 2


def test_the_same_size_rewritten_later_is_read_again(data_copy, reads):
    _read_checked(data_copy)
    oil = data_copy / "oil.csv"
    st = oil.stat()
    os.utime(oil, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    _read_checked(data_copy)
    assert reads.count("oil") == 2


def test_the_checks_notes_are_said_again_from_the_cache(data_copy, reads):
    test = pd.read_csv(data_copy / "test.csv")
    last = test["date"].max()
    test[test["date"] != last].to_csv(data_copy / "test.csv", index=False)
    sample = pd.read_csv(data_copy / "sample_submission.csv")
    sample[sample["id"].isin(test.loc[test["date"] != last, "id"])].to_csv(
        data_copy / "sample_submission.csv", index=False
    )
    said: list[str] = []
    _read_checked(data_copy, say=said.append)
    _read_checked(data_copy, say=said.append)
    assert len(reads) == len(SCHEMAS)
    assert said == ["note: test covers 15 days (Kaggle's covers 16)."] * 2


def test_off_keeps_nothing_across_processes(data_copy, reads, monkeypatch, tmp_path):
    monkeypatch.setenv(datacache.CACHE_ENV, "off")
    _read_checked(data_copy)
    _read_checked(data_copy)
    assert len(reads) == 2 * len(SCHEMAS)


def test_only_the_newest_folders_tables_are_kept(small_data_dir, tmp_path, reads, monkeypatch):
    monkeypatch.setattr(datacache, "MAX_TABLES", 2)
    import shutil

    folders = []
    for k in range(3):
        folders.append(tmp_path / f"d{k}")
        shutil.copytree(small_data_dir, folders[-1])
        _read_checked(folders[-1])
        os.utime(datacache._entry(folders[-1]) / "stamp.json", (k + 1.0, k + 1.0))
    _read_checked(tmp_path / "d2")
    entries = sorted(p.name for p in (datacache.cache_dir() / "tables").iterdir())
    assert len(entries) == 2
    assert datacache._entry(folders[0]).name not in entries
    before = len(reads)
    assert not datacache.passed(folders[0], data.stamp(folders[0]))  # forgotten with them
    data.check_data(folders[0])  # dropped: `store-sales run`'s check reads and keeps them again
    assert len(reads) == before + len(SCHEMAS)
    _read_checked(folders[0])  # so the kernel loads them
    assert len(reads) == before + len(SCHEMAS)


def test_the_fingerprint_is_remembered_only_for_unchanged_files(data_copy, monkeypatch):
    _read_checked(data_copy)
    hashed = []
    real = data.fingerprint
    monkeypatch.setattr(data, "fingerprint", lambda *a: hashed.append(1) or real(*a))
    first = data_fingerprint(data_copy)
    assert first == fingerprint(data_copy, SCHEMAS) and len(hashed) == 1
    assert data_fingerprint(data_copy) == first and len(hashed) == 1
    oil = data_copy / "oil.csv"
    oil.write_text(oil.read_text().replace(",", ", ", 1))  # another header spelling
    assert data_fingerprint(data_copy)["oil.csv"]["md5"] != first["oil.csv"]["md5"]
    assert len(hashed) == 2


def test_a_broken_cache_entry_is_ignored(data_copy, reads):
    _read_checked(data_copy)
    (datacache._entry(data_copy) / "train.arrow").write_bytes(b"not arrow")
    again = _read_checked(data_copy)
    assert len(reads) == 2 * len(SCHEMAS)
    assert len(again.train) > 0


def test_kept_tables_count_as_passed_when_the_memo_forgot(data_copy, reads):
    _read_checked(data_copy)
    (datacache.cache_dir() / "data_checks.json").write_text("{}")  # another version wrote it
    datacache._PASSED.clear()
    assert datacache.passed(data_copy, data.stamp(data_copy))
    assert data.check_data(data_copy) == data_copy
    assert len(reads) == len(SCHEMAS)
