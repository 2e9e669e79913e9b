"""What is remembered about a data folder between processes, while its files keep their names,
sizes and modification times (its `stamp`): that it passed the checks, its checked tables, and
its files' MD5 fingerprint. A later `store-sales run`, batch run or sweep trial on the same
files then neither parses 3M rows of CSV again nor checks or hashes them (about 1.5 s of a
full-scale run; the tables load from Arrow files in ~0.05 s).

Kept in $STORE_SALES_CACHE_DIR, else $XDG_CACHE_HOME/store-sales, else ~/.cache/store-sales;
`STORE_SALES_CACHE_DIR=off` keeps nothing across processes. The tables of the newest
`MAX_TABLES` folders are kept (65 MB each at full scale); anything unreadable counts as absent.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Callable, Iterable
from pathlib import Path

import pandas as pd

CACHE_ENV = "STORE_SALES_CACHE_DIR"  # where it is kept ("off": nowhere)
MAX_TABLES = 3  # data folders whose tables are kept
_PASSED_FILE = "data_checks.json"
_META = "stamp.json"
_PASSED: dict[Path, tuple] = {}  # this process's memo of passed folders


def cache_dir() -> Path | None:
    chosen = os.environ.get(CACHE_ENV)
    if chosen is not None:
        return None if chosen in ("", "off") else Path(chosen)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "store-sales"


def stamp(folder: Path, names: Iterable[str], code: Path) -> tuple | None:
    """The files' names, sizes and modification times, and those of the module that checks
    them (new checks: a new stamp); None when a file is missing (the reader says which)."""
    try:
        files = tuple(
            (name, (st := (folder / f"{name}.csv").stat()).st_size, st.st_mtime_ns)
            for name in names
        )
        return (*files, (code.name, code.stat().st_mtime_ns))
    except OSError:
        return None


def _same(stamp_a, stamp_b) -> bool:
    return json.loads(json.dumps(stamp_a)) == json.loads(json.dumps(stamp_b))


def passed(folder: Path, stamp_: tuple) -> bool:
    """Did `folder` pass the checks with these very files (in this process or an earlier one;
    kept tables of them passed too)?"""
    if _PASSED.get(folder) == stamp_:
        return True
    root = cache_dir()
    try:
        seen = json.loads((root / _PASSED_FILE).read_text()) if root is not None else {}
    except (OSError, ValueError):
        seen = {}
    if _same(seen.get(str(folder)), stamp_):
        return True
    meta = _meta(_entry(folder), stamp_)
    return meta is not None and bool(meta.get("tables"))


def remember_passed(folder: Path, stamp_: tuple) -> None:
    _PASSED[folder] = stamp_
    root = cache_dir()
    if root is None:
        return
    path = root / _PASSED_FILE
    try:
        seen = json.loads(path.read_text()) if path.is_file() else {}
        seen[str(folder)] = stamp_
        _write_text(path, json.dumps(seen))
    except (OSError, ValueError):
        pass  # a read-only home: the memo of this process only


def _entry(folder: Path) -> Path | None:
    root = cache_dir()
    if root is None:
        return None
    key = hashlib.md5(str(folder).encode(), usedforsecurity=False).hexdigest()[:16]
    return root / "tables" / key


def _meta(entry: Path | None, stamp_: tuple) -> dict | None:
    """The entry's record when it was made from these very files."""
    if entry is None:
        return None
    try:
        meta = json.loads((entry / _META).read_text())
    except (OSError, ValueError):
        return None
    return meta if _same(meta.get("stamp"), stamp_) else None


def tables(folder: Path, stamp_: tuple, names: Iterable[str]) -> tuple[dict, list[str]] | None:
    """(checked tables by name, the notes the checks printed) of these very files, or None."""
    entry = _entry(folder)
    meta = _meta(entry, stamp_)
    if meta is None or not meta.get("tables"):
        return None
    try:
        frames = {name: pd.read_feather(entry / f"{name}.arrow") for name in names}
        os.utime(entry / _META)  # recently used: the last to be dropped
    except (OSError, ValueError, KeyError):
        return None
    return frames, list(meta.get("notes", []))


def keep_tables(folder: Path, stamp_: tuple, frames: dict[str, pd.DataFrame], notes) -> None:
    """Keep a folder's checked tables for the next process (written aside, then swapped in,
    so a reader never sees half an entry); drops the least recently used beyond MAX_TABLES."""
    entry = _entry(folder)
    if entry is None:
        return
    tmp = entry.with_name(f"{entry.name}.{os.getpid()}.tmp")
    try:
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        for name, frame in frames.items():
            frame.to_feather(tmp / f"{name}.arrow", compression="uncompressed")
        meta = {"folder": str(folder), "stamp": stamp_, "notes": list(notes), "tables": True}
        (tmp / _META).write_text(json.dumps(meta))
        old = entry.with_name(f"{entry.name}.{os.getpid()}.old")
        if entry.exists():
            entry.rename(old)
        tmp.rename(entry)
        shutil.rmtree(old, ignore_errors=True)
    except (OSError, ValueError, ImportError):  # a full or read-only disk: nothing kept
        shutil.rmtree(tmp, ignore_errors=True)
        return
    _drop_oldest(entry.parent)


def _drop_oldest(parent: Path) -> None:
    def used(entry: Path) -> float:
        try:
            return (entry / _META).stat().st_mtime
        except OSError:
            return 0.0

    entries = sorted((p for p in parent.iterdir() if "." not in p.name), key=used, reverse=True)
    dropped = []
    for stale in entries[MAX_TABLES:]:
        try:
            dropped.append(json.loads((stale / _META).read_text())["folder"])
        except (OSError, ValueError, KeyError):
            pass
        shutil.rmtree(stale, ignore_errors=True)
    _forget_passed(dropped)


def _forget_passed(folders: list[str]) -> None:
    """A folder whose tables were dropped passes the checks again before its next run, so
    that `store-sales run`'s check (beside the kernel's start) keeps its tables once more,
    instead of the kernel parsing the CSVs itself."""
    if not folders:
        return
    for folder in folders:
        _PASSED.pop(Path(folder), None)
    path = cache_dir() / _PASSED_FILE
    try:
        seen = json.loads(path.read_text())
        kept = {folder: files for folder, files in seen.items() if folder not in folders}
        if len(kept) < len(seen):
            _write_text(path, json.dumps(kept))
    except (OSError, ValueError):
        pass


def fingerprint(folder: Path, stamp_: tuple | None, compute: Callable[[], dict]) -> dict:
    """`compute()` (the files' sizes and MD5s), remembered with the folder's tables: hashing
    120 MB again for files whose size and modification time did not change finds nothing new."""
    entry = _entry(folder)
    meta = _meta(entry, stamp_)  # None for no stamp: no entry was made from these files
    if meta is not None and meta.get("fingerprint"):
        return meta["fingerprint"]
    files = compute()
    if meta is not None:
        try:
            _write_text(entry / _META, json.dumps({**meta, "fingerprint": files}))
        except OSError:
            pass
    return files


def _write_text(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    tmp.replace(path)
