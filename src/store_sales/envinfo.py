"""What a tracker does not record by itself: library versions, commit, GPU, input fingerprints."""

from __future__ import annotations

import hashlib
import os
import platform
import shutil
import subprocess
from importlib import metadata
from pathlib import Path

from .paths import REPO_ROOT, on_kaggle

PACKAGES = (
    "pandas",
    "numpy",
    "lightgbm",
    "xgboost",
    "torch",
    "wandb",
    "mlflow",
    "papermill",
    "pyarrow",
    "scipy",
)


def peak_rss_mb() -> float:
    try:
        import resource
    except ImportError:  # Windows
        return float("nan")
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def fingerprint(folder: Path, names) -> dict[str, dict]:
    """Size and MD5 of each input file: two runs on different data are never confused."""
    out = {}
    for name in names:
        path = Path(folder) / f"{name}.csv"
        digest = hashlib.md5(usedforsecurity=False)
        with path.open("rb") as fh:
            while chunk := fh.read(1 << 22):
                digest.update(chunk)
        out[path.name] = {"bytes": path.stat().st_size, "md5": digest.hexdigest()}
    return out


def data_digest(files: dict[str, dict]) -> str:
    """One MD5 over a `fingerprint` (file names, sizes and MD5s, in name order): "" for none.
    32 hex characters, which MLflow's dataset digest (36 at most) and W&B metadata take."""
    if not files:
        return ""
    lines = "".join(f"{n}\t{f['bytes']}\t{f['md5']}\n" for n, f in sorted(files.items()))
    return hashlib.md5(lines.encode(), usedforsecurity=False).hexdigest()


def environment() -> dict:
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    env = {
        "python": platform.python_version(),
        "packages": versions,
        "platform": "kaggle" if on_kaggle() else "local",
        "cpu_count": os.cpu_count(),
        "gpu": command_output(["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"]) or None,
        "git_commit": None,
    }
    if (REPO_ROOT / ".git").exists():
        env["git_commit"] = git_commit()
        env["git_dirty"] = bool(
            command_output(["git", "-C", str(REPO_ROOT), "status", "--porcelain"])
        )
    return env


def git_commit() -> str | None:
    """The checkout's HEAD commit; None outside a git checkout (a Kaggle kernel, a wheel)."""
    if not (REPO_ROOT / ".git").exists():
        return None
    return command_output(["git", "-C", str(REPO_ROOT), "rev-parse", "HEAD"]) or None


def command_output(cmd: list[str]) -> str:
    """The command's stdout, stripped; "" when it is missing, fails or takes over 5 s."""
    if not shutil.which(cmd[0]):
        return ""
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=5, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return done.stdout.strip() if done.returncode == 0 else ""
