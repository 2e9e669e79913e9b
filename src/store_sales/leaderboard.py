"""Every local run in one view, read from the run folders (`metrics.json`, `config.json`).

Works whatever tracked a run (W&B offline or online, MLflow, none): the folder is the record.
`scan` finds runs under a folder, `select`/`ranked` filter and sort them, `render` prints a
table, CSV or JSON; `compare` and `show` describe one or two runs.
"""

from __future__ import annotations

import io
import json
import math
import operator
import os
import re
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

import pandas as pd

from . import codeinfo, rundir
from .cliutil import typed_value
from .config import PLUMBING
from .errors import UserError
from .tracker_registry import recorded

# folders that hold a tracker's files, never a run of ours: not walked into
_SKIP_DIRS = frozenset({"wandb", "mlartifacts", "mlruns", ".ipynb_checkpoints", "__pycache__"})
_NOT_SETTINGS = PLUMBING | {"run_name", "template"}  # config.json's extras are not settings
DEFAULT_METRIC = "cv_rmsle_mean"
COMPARED = (
    "val_rmsle",
    "val_rmsle_alive",
    "cv_rmsle_mean",
    "cv_rmsle_std",
    "public_lb",
    "best_step",
    "refit_steps",
    "n_features",
    "duration_s",
    "peak_rss_mb",
)


@dataclass
class RunRecord:
    dir: Path
    metrics: dict[str, Any]
    config: dict[str, Any]
    changed: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.metrics.get("run_name") or self.config.get("run_name") or self.dir.name

    @property
    def template(self) -> str:
        return self.metrics.get("template") or self.config.get("template") or ""

    @property
    def status(self) -> str:
        return rundir.state(self.metrics)

    @property
    def started(self) -> str:
        """ISO time the run started (the folder's time for runs that did not record it)."""
        if self.metrics.get("started"):
            return str(self.metrics["started"])
        stamp = datetime.fromtimestamp(self.dir.stat().st_mtime).astimezone()
        return stamp.isoformat(timespec="seconds")

    def value(self, key: str) -> Any:
        """A metric by metrics.json name; also `duration_s`, `started`, and config fields."""
        if key == "duration_s":
            return (self.metrics.get("timings") or {}).get("total")
        if key == "started":
            return self.started
        if key in self.metrics:
            return self.metrics[key]
        return self.config.get(key)

    def row(self) -> dict[str, Any]:
        """The leaderboard's columns (CSV/JSON keep every value unrounded); each tracker that
        recorded the run adds its own after these."""
        trackers = recorded(self.metrics)
        row = {
            "run": self.name,
            "template": self.template,
            "status": self.status,
            "val_rmsle": self.metrics.get("val_rmsle"),
            "cv_rmsle_mean": self.metrics.get("cv_rmsle_mean"),
            "cv_rmsle_std": self.metrics.get("cv_rmsle_std"),
            "n_folds": self.metrics.get("n_folds"),
            "public_lb": self.metrics.get("public_lb"),
            "changed": describe(self.changed),
            "duration_s": self.value("duration_s"),
            "started": self.started,
            "tracker": self.metrics.get("tracker") or "+".join(r.name for r, _ in trackers),
            "dir": str(self.dir),
        }
        for record, entry in trackers:
            row.update(record.columns(entry))
        return row


@cache
def _defaults(template: str) -> dict[str, Any]:
    from dataclasses import asdict

    from .templates import NOTEBOOKS

    return asdict(NOTEBOOKS[template].config()) if template in NOTEBOOKS else {}


def changed_settings(template: str, config: dict[str, Any]) -> dict[str, Any]:
    """The parameters that differ from the template's defaults (the run's "what was tried")."""
    defaults = _defaults(template)
    return {
        k: v
        for k, v in config.items()
        if k not in _NOT_SETTINGS and k in defaults and defaults[k] != v
    }


def describe(changed: dict[str, Any]) -> str:
    """`k=v, ...`; a folder shows by its name (data_dir=small-data, not the whole path)."""
    return ", ".join(
        f"{k}={Path(v).name if k.endswith('_dir') and v else v}" for k, v in changed.items()
    )


def load(run_dir: Path) -> RunRecord:
    run_dir = Path(run_dir)
    metrics = rundir.read_metrics(run_dir)
    config = rundir.read_config(run_dir)
    record = RunRecord(run_dir, metrics, config)
    record.changed = changed_settings(record.template, config)
    return record


def scan(root: Path) -> list[RunRecord]:
    """Every run folder under `root` (a folder with metrics.json or config.json); tracker
    folders and a run's own subfolders are not walked."""
    root = Path(root)
    if not root.is_dir():
        raise UserError(f"{root} is not a folder of runs (default: outputs/)")
    found = []
    for here, dirs, files in os.walk(root):
        if rundir.METRICS_FILE in files or rundir.CONFIG_FILE in files:
            found.append(load(Path(here)))
            dirs[:] = []
            continue
        dirs[:] = [d for d in dirs if d not in _SKIP_DIRS and not d.startswith(".")]
    return found


def resolve(ref: str, root: Path) -> RunRecord:
    """A run by folder path, or by name (whole, or a part that names exactly one run)."""
    path = Path(ref).expanduser()
    if rundir.is_run_folder(path):
        return load(path)
    runs = scan(root)
    exact = [r for r in runs if r.name == ref or r.dir.name == ref]
    matches = exact or [r for r in runs if ref in r.name]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise UserError(f"no run named {ref!r} under {root} (`store-sales runs` lists them)")
    names = ", ".join(sorted(r.name for r in matches)[:5])
    raise UserError(f"{ref!r} names {len(matches)} runs ({names}, ...): give more of the name")


_OPS = {
    "<=": operator.le,
    ">=": operator.ge,
    "!=": operator.ne,
    "=": operator.eq,
    "<": operator.lt,
    ">": operator.gt,
}
_CONDITION = re.compile(r"^\s*([\w.]+)\s*(<=|>=|!=|=|<|>)\s*(.*?)\s*$")


def _condition(text: str):
    match = _CONDITION.match(text)
    if not match:
        raise UserError(f"--where {text!r}: write NAME=VALUE (or !=, <, <=, >, >=)")
    key, op, raw = match.groups()
    wanted = typed_value(raw)

    def test(record: RunRecord) -> bool:
        value = record.value(key)
        if value is None:
            return False
        try:
            return bool(_OPS[op](value, wanted))
        except TypeError:  # compare as text: a string parameter against a number-like value
            return bool(_OPS[op](str(value), raw))

    return test


def select(
    records: list[RunRecord],
    template: str | None = None,
    status: str | None = None,
    where: list[str] | None = None,
) -> list[RunRecord]:
    tests = [_condition(w) for w in where or []]
    return [
        r
        for r in records
        if (template is None or r.template == template)
        and (status is None or r.status == status)
        and all(t(r) for t in tests)
    ]


def ranked(records: list[RunRecord], metric: str = DEFAULT_METRIC, descending: bool = False):
    """Sorted by `metric` (lower first unless `descending`); runs without it go last."""

    def number(r: RunRecord):
        v = r.value(metric)
        return v if isinstance(v, (int, float, str)) and v == v else None

    have = [r for r in records if number(r) is not None]
    missing = [r for r in records if number(r) is None]
    try:
        have.sort(key=number, reverse=descending)
    except TypeError:
        raise UserError(f"--sort {metric}: its values are not comparable across runs") from None
    return have + missing


def best(records: list[RunRecord], metric: str = DEFAULT_METRIC) -> RunRecord:
    finished = [r for r in records if r.status == "finished" and r.value(metric) is not None]
    if not finished:
        raise UserError(f"no finished run with {metric} here (`store-sales runs` lists runs)")
    return ranked(finished, metric)[0]


# -- output


def _fmt(value: Any, digits: int = 5) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}" if abs(value) < 10 else f"{value:.1f}"
    return str(value)


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    minutes, sec = divmod(round(seconds), 60)
    return f"{minutes}m{sec:02d}s" if minutes else f"{sec}s"


def render(records: list[RunRecord], fmt: str = "table", metric: str = DEFAULT_METRIC) -> str:
    rows = [r.row() for r in records]
    if fmt == "json":
        return json.dumps(rows, indent=2)
    if fmt == "csv":
        buffer = io.StringIO()
        pd.DataFrame(rows).to_csv(buffer, index=False)
        return buffer.getvalue()
    if not rows:
        return "no runs"
    show_lb = any(r["public_lb"] is not None for r in rows)
    extra = metric not in ("val_rmsle", "cv_rmsle_mean", "public_lb")
    header = ["#", "run", "template", "status", "val", "cv (mean ± std)"]
    header += ["public_lb"] * show_lb + [metric] * extra + ["time", "started", "changed"]
    table = [header]
    for i, (record, row) in enumerate(zip(records, rows, strict=True), start=1):
        cv = _fmt(row["cv_rmsle_mean"])
        if (row["n_folds"] or 1) > 1:
            cv += f" ± {_fmt(row['cv_rmsle_std'])}"
        line = [str(i), row["run"], row["template"], row["status"], _fmt(row["val_rmsle"]), cv]
        line += [_fmt(row["public_lb"])] * show_lb + [_fmt(record.value(metric))] * extra
        changed = row["changed"]
        line += [
            _duration(row["duration_s"]),
            row["started"][:16].replace("T", " "),
            changed if len(changed) <= 60 else changed[:57] + "...",
        ]
        table.append(line)
    widths = [max(len(r[c]) for r in table) for c in range(len(header))]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip() for r in table
    )


def _pairs(title: str, rows: list[tuple[str, str, str]], heads: tuple[str, str]) -> list[str]:
    if not rows:
        return [f"{title}: none differ"]
    width = max(len(k) for k, _, _ in rows)
    left = max(len(heads[0]), *(len(a) for _, a, _ in rows))
    out = [f"{title}:", f"  {'':{width}}  {heads[0]:{left}}  {heads[1]}"]
    out += [f"  {k:{width}}  {a:{left}}  {b}" for k, a, b in rows]
    return out


CODE_KEYS = ("notebook_sha256", "notebook_cells", "package_sha256")  # metrics.json's "code"


def _short(value) -> str:
    return value[:16] if isinstance(value, str) else _fmt(value)


def compare(a: RunRecord, b: RunRecord) -> str:
    """Config and metric differences of two runs, side by side."""
    heads = ("A", "B")
    lines = [f"A  {a.name}  ({a.dir})", f"B  {b.name}  ({b.dir})", ""]
    keys = [k for k in {**a.config, **b.config} if k not in _NOT_SETTINGS]
    config = [
        (k, _fmt(a.config.get(k)), _fmt(b.config.get(k)))
        for k in keys
        if a.config.get(k) != b.config.get(k)
    ]
    lines += _pairs("config", config, heads)
    metrics = []
    for k in COMPARED:
        va, vb = a.value(k), b.value(k)
        if va is None and vb is None:
            continue
        diff = ""
        if isinstance(va, (int, float)) and isinstance(vb, (int, float)):
            diff = f"   (B - A = {vb - va:+.5g})"
        metrics.append((k, _fmt(va), _fmt(vb) + diff))
    lines += ["", *_pairs("metrics", metrics, heads)]
    ca, cb = a.metrics.get("code") or {}, b.metrics.get("code") or {}
    code = [(k, _short(ca.get(k)), _short(cb.get(k))) for k in CODE_KEYS if ca.get(k) != cb.get(k)]
    lines += ["", *_pairs("code", code, heads)]
    if ca.get("notebook_sha256") != cb.get("notebook_sha256"):
        lines += codeinfo.diff(a.dir, b.dir)
    return "\n".join(lines)


def show(r: RunRecord) -> str:
    """One run: identity, status, scores, what was changed, where its files and tracker runs are."""
    m = r.metrics
    rows = [
        ("run", r.name),
        ("folder", str(r.dir)),
        ("template", f"{r.template} ({m.get('model', '?')}), data {m.get('data', '?')}"),
        ("status", r.status + (f": {m['error']}" if m.get("error") else "")),
        ("started", f"{r.started}, took {_duration(r.value('duration_s'))}"),
        ("changed", describe(r.changed) or "template defaults"),
    ]
    rows += [(k, _fmt(r.value(k))) for k in COMPARED[:-2] if r.value(k) is not None]
    rows.append(("peak_rss_mb", _fmt(m.get("peak_rss_mb"))))
    code = m.get("code") or {}
    for key in CODE_KEYS:
        if code.get(key) is not None:
            rows.append((key, str(code[key])))
    folds = sorted(k for k in m if k.startswith("cv_rmsle_fold_"))
    if len(folds) > 1:
        rows.append(("folds", "  ".join(f"{k[8:]} {_fmt(m[k])}" for k in folds)))
    submission = r.dir / "submission.csv"
    if submission.is_file():
        rows.append(("submission", str(submission)))
    rows += [(rec.title or rec.name, rec.describe(entry)) for rec, entry in recorded(m)]
    lines = [f"{k:<16} {v}" for k, v in rows]
    return "\n".join(line.rstrip() for line in lines)
