"""Everything a run records: its folder, timings, metrics, plots, and the W&B run.

Notebooks talk to W&B only through `Run`, so the login chain, offline fallback and what gets
logged are the same for every template.

W&B login order: Kaggle Secrets (label `wandb_api_key`), then `WANDB_API_KEY`, then an
existing `wandb login` (netrc). A key from Kaggle Secrets reaches W&B through this process's
environment, and only when the run goes online: it is never printed, written to a file, or put
in the config.
"""

from __future__ import annotations

import hashlib
import netrc
import os
import platform
import shutil
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from dataclasses import asdict
from importlib import metadata
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np
import pandas as pd
import wandb

from . import plots
from .config import (
    KAGGLE_WORKING,
    REPO_ROOT,
    new_run_dir,
    on_kaggle,
    to_jsonable,
    write_json,
)
from .data import SCHEMAS

SECRET_LABEL = "wandb_api_key"
DEFAULT_BASE_URL = "https://api.wandb.ai"
CONNECT_TIMEOUT = 3.0  # seconds to decide that the W&B server is unreachable
PACKAGES = ("pandas", "numpy", "lightgbm", "wandb", "papermill", "pyarrow", "scipy")


def _kaggle_secret() -> str | None:
    try:
        from kaggle_secrets import UserSecretsClient  # only exists on Kaggle
    except ImportError:
        return None
    try:
        return UserSecretsClient().get_secret(SECRET_LABEL)
    except Exception:  # the secret is not attached to the notebook, or no internet
        return None


def load_api_key() -> tuple[str, str | None]:
    """Where W&B credentials are (\"\" if nowhere) and the key if it must be handed over."""
    key = _kaggle_secret()
    if key:
        return "Kaggle Secrets", key
    if os.environ.get("WANDB_API_KEY"):
        return "WANDB_API_KEY", None
    host = urlsplit(base_url()).netloc
    try:
        path = os.environ.get("NETRC") or Path.home() / ".netrc"
        if netrc.netrc(path).authenticators(host):
            return "netrc (wandb login)", None
    except (OSError, netrc.NetrcParseError):
        pass
    return "", None


def base_url() -> str:
    return os.environ.get("WANDB_BASE_URL", DEFAULT_BASE_URL)


def reachable(url: str, timeout: float = CONNECT_TIMEOUT) -> bool:
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        with socket.create_connection((parts.hostname, port), timeout=timeout):
            return True
    except OSError:
        return False


def resolve_mode(requested: str) -> tuple[str, str]:
    """Pick online/offline/disabled and say why in one line; never blocks for long.

    The TCP probe replaces W&B's 90 s init timeout as the way to find out the network is off.
    """
    if requested in ("offline", "disabled"):
        return requested, f"W&B {requested} (wandb_mode={requested})"
    env_mode = os.environ.get("WANDB_MODE")
    if requested == "auto" and env_mode in ("offline", "disabled", "dryrun"):
        mode = "disabled" if env_mode == "disabled" else "offline"
        return mode, f"W&B {mode} (WANDB_MODE={env_mode})"
    source, key = load_api_key()
    if not source:
        problem = (
            "no W&B API key (add the Kaggle secret 'wandb_api_key', set WANDB_API_KEY, "
            "or run `wandb login`)"
        )
    elif not reachable(base_url()):
        problem = f"W&B server {base_url()} unreachable (internet off?)"
    else:
        if key:
            os.environ["WANDB_API_KEY"] = key
        return "online", f"W&B online (key from {source})"
    if requested == "online":
        raise RuntimeError(
            f"wandb_mode='online' but {problem}. Use wandb_mode='auto' to fall back to "
            "offline logging."
        )
    return "offline", f"W&B offline: {problem}"


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


def environment() -> dict:
    """What W&B does not record by itself: library versions, commit, GPU, Kaggle or local."""
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
        "gpu": _command(["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"]) or None,
        "git_commit": None,
    }
    if (REPO_ROOT / ".git").exists():
        env["git_commit"] = _command(["git", "-C", str(REPO_ROOT), "rev-parse", "HEAD"]) or None
        env["git_dirty"] = bool(_command(["git", "-C", str(REPO_ROOT), "status", "--porcelain"]))
    return env


def _command(cmd: list[str]) -> str:
    if not shutil.which(cmd[0]):
        return ""
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=5, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return done.stdout.strip() if done.returncode == 0 else ""


def validation_tables(panel, val_rows: pd.DataFrame, worst: int = 20):
    """Per-series and per-family validation errors, worst first.

    Validation rows come ordered (series, h), 16 per series, so per-series figures are row
    reductions of a (series, 16) reshape.
    """
    actual = np.expm1(val_rows["target"].to_numpy()).reshape(-1, 16)
    pred = val_rows["pred"].to_numpy().reshape(-1, 16)
    s = val_rows["s"].to_numpy()[::16]
    sq = np.square(np.log1p(pred) - np.log1p(actual))
    meta = panel.series.iloc[s]
    series = pd.DataFrame(
        {
            "store_nbr": meta["store_nbr"].astype(int).to_numpy(),
            "family": meta["family"].astype(str).to_numpy(),
            "rmsle": np.sqrt(sq.mean(axis=1)),
            "sq": sq.mean(axis=1),
            "actual_total": actual.sum(axis=1),
            "forecast_total": pred.sum(axis=1),
        }
    )
    families = series.groupby("family")
    per_family = pd.DataFrame(
        {
            "rmsle": np.sqrt(families["sq"].mean()),
            "n_series": families.size(),
            "actual_mean": families["actual_total"].mean() / 16,
            "forecast_mean": families["forecast_total"].mean() / 16,
        }
    ).sort_values("rmsle", ascending=False)
    top = np.argsort(-series["rmsle"].to_numpy(), kind="stable")[:worst]
    worst_series = series.iloc[top].drop(columns="sq").reset_index(drop=True)
    worst_series["actual_16d"] = [" ".join(f"{x:.0f}" for x in row) for row in actual[top]]
    worst_series["forecast_16d"] = [" ".join(f"{x:.0f}" for x in row) for row in pred[top]]
    return worst_series, per_family.reset_index()


class Run:
    """One experiment run: its output folder, timings, metrics and W&B run.

    In a notebook, an exception in any later cell finishes the W&B run with exit code 1 and
    writes metrics.json with `status: failed`; the traceback is shown as usual, so papermill
    still fails.
    """

    def __init__(self, cfg):
        self.cfg = cfg
        self.dir, self.name = new_run_dir(
            cfg.exp_name, cfg.output_dir, getattr(type(cfg), "MODEL", "")
        )
        self.timings: dict[str, float] = {}
        self.metrics: dict = {"status": "running"}
        self.wb = None
        self.finished = False
        self._t0 = time.perf_counter()
        print(f"run {self.name}: outputs in {self.dir}")
        with self.phase("login"):
            self.mode, self.mode_note = resolve_mode(cfg.wandb_mode)
        print(self.mode_note)
        self._hook_notebook_errors()

    @contextmanager
    def phase(self, name: str):
        """Time a stage of the run (reported in metrics.json and W&B)."""
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self.timings[name] = round(time.perf_counter() - t0, 3)

    def _hook_notebook_errors(self) -> None:
        try:
            from IPython import get_ipython
        except ImportError:
            return
        shell = get_ipython()
        if shell is None:
            return

        def on_error(shell, etype, value, tb, tb_offset=None):
            if not self.finished:
                self.metrics["error"] = f"{etype.__name__}: {value}"
                code = 130 if issubclass(etype, KeyboardInterrupt) else 1
                self.finish(exit_code=code)
            shell.showtraceback((etype, value, tb), tb_offset=tb_offset)

        shell.set_custom_exc((BaseException,), on_error)

    def init_wandb(self, data=None):
        """Start the W&B run: identity, config, environment, input fingerprint."""
        if wandb.run is not None:  # a re-run notebook cell: close the previous run first
            wandb.finish()
        tags = [type(self.cfg).MODEL, "origin-16d-holdout"]
        config = asdict(self.cfg)
        if data is not None:
            tags.append("synthetic" if data.synthetic else "real-data")
            with self.phase("fingerprint"):
                files = fingerprint(data.source, SCHEMAS)
            config["data"] = {**data.summary(), "files": files}
        config["env"] = environment()
        changed = self.cfg.changed()
        self.wb = wandb.init(
            project=self.cfg.wandb_project,
            entity=self.cfg.wandb_entity or None,
            name=self.name,
            group=self.cfg.wandb_group or self.cfg.exp_name,
            job_type="train",
            tags=tags,
            notes=", ".join(f"{k}={v}" for k, v in changed.items()) or "template defaults",
            config=config,
            dir=str(self.dir),
            mode=self.mode,
            settings=wandb.Settings(init_timeout=60),
        )
        for key in ("val/rmsle", "val/rmsle_alive", "val/rmse_log"):
            self.wb.define_metric(key, summary="min")
        if data is not None and self.mode != "disabled":
            self._log_dataset(data, config["data"]["files"])
        return self.wb

    def _log_dataset(self, data, files: dict) -> None:
        """The input data by reference: its fingerprint, not 120 MB of CSV."""
        kind = "synthetic" if data.synthetic else "real"
        art = wandb.Artifact(
            f"store-sales-{kind}-data",
            type="dataset",
            metadata={"source": str(data.source), "files": files},
        )
        for name in files:
            art.add_reference(
                f"file://{Path(data.source).resolve() / name}", name=name, checksum=False
            )
        self.wb.log_artifact(art)

    def lgb_callbacks(self) -> list:
        """W&B's own LightGBM callback (per-iteration train/val RMSE curves), and in a local
        sweep the callback that lets the sweep engine stop this trial early."""
        from wandb.integration.lightgbm import wandb_callback

        callbacks = [wandb_callback()] if self.wb is not None else []
        if self.cfg.sweep_dir:
            from .sweep import trial_callback

            callbacks.append(trial_callback(self.cfg.sweep_dir, self.dir))
        return callbacks

    @property
    def wandb_dir(self) -> Path | None:
        if self.wb is None or self.mode == "disabled":
            return None
        return Path(self.wb.dir).parent

    def report(self, panel, validation, forecast, features: list[str]) -> dict:
        """Write metrics, config, model and plots to the run folder and to W&B."""
        submission = self.dir / "submission.csv"
        if on_kaggle() and not self.cfg.output_dir and submission.is_file():
            # Kaggle's "Submit" offers the kernel's output files; the root copy is the usual
            # one. An explicit output_dir is the user's choice of place: no copy then.
            shutil.copy(submission, KAGGLE_WORKING / "submission.csv")
        model_path = self.dir / "model.txt"
        forecast.booster.save_model(str(model_path))
        validation.fit.booster.save_model(str(self.dir / "model_validation.txt"))
        figures = {
            "learning_curve": plots.learning_curve(
                validation.fit.evals, validation.fit.best_iteration
            ),
            "feature_importance": plots.feature_importance(validation.fit.booster),
            "actual_vs_forecast": plots.actual_vs_forecast(panel, validation.rows),
        }
        images = {}
        for name, fig in figures.items():
            images[name] = self.dir / f"{name}.png"
            fig.savefig(images[name], dpi=110)
        worst, per_family = validation_tables(panel, validation.rows)
        worst.to_csv(self.dir / "val_worst_series.csv", index=False)
        per_family.to_csv(self.dir / "val_by_family.csv", index=False)

        best = validation.fit.best_iteration
        evals = validation.fit.evals
        self.metrics.update(
            val_rmsle=round(validation.rmsle, 6),
            val_rmsle_alive=round(validation.rmsle_alive, 6),
            best_iteration=best,
            n_features=len(features),
            n_train_rows=validation.n_train_rows,
            refit=self.cfg.refit,
        )
        write_json(self.dir / "config.json", {"run_name": self.name, **asdict(self.cfg)})
        if self.wb is not None:
            self._log_results(validation, evals, best, features, images, worst, per_family)
        _show(figures)
        return self.metrics

    def _log_results(self, validation, evals, best, features, images, worst, per_family):
        from wandb.integration.lightgbm import log_summary

        val = validation.rows
        residuals = np.log1p(val["pred"].to_numpy()) - val["target"].to_numpy()
        self.wb.config.update({"features": list(features)})
        self.wb.log(
            {
                "val/rmsle": validation.rmsle,
                "val/rmsle_alive": validation.rmsle_alive,
                "val/rmse_log": evals["val"]["rmse"][best - 1],
                "train/rmse_log": evals["train"]["rmse"][best - 1],
                "train/rows": validation.n_train_rows,
                "train/best_iteration": best,
                **{f"val/family/{r.family}": r.rmsle for r in per_family.itertuples()},
                "val/worst_series": wandb.Table(dataframe=worst),
                "val/by_family": wandb.Table(dataframe=per_family),
                "val/log_residuals": wandb.Histogram(residuals),
                # from the PNGs: wandb.Image(Figure) needs pyplot, which these figures avoid
                **{f"plots/{k}": wandb.Image(str(p)) for k, p in images.items()},
            }
        )
        # W&B's own summary: best_iteration, best_score and its feature-importance chart. Its
        # model checkpoint is not used: it fails in disabled mode and carries no metadata.
        log_summary(validation.fit.booster, feature_importance=True, save_model_checkpoint=False)
        if self.mode == "disabled":
            return
        model = wandb.Artifact(
            f"{self.cfg.exp_name}-model",
            type="model",
            metadata={
                "val_rmsle": validation.rmsle,
                "best_iteration": best,
                "n_features": len(features),
                "config": to_jsonable(self.cfg),
            },
        )
        model.add_file(str(self.dir / "model.txt"))
        self.wb.log_artifact(model, aliases=["latest", "best"])
        if (self.dir / "submission.csv").is_file():
            sub = wandb.Artifact(
                f"{self.cfg.exp_name}-submission",
                type="submission",
                metadata={"run_id": self.wb.id, "val_rmsle": validation.rmsle},
            )
            sub.add_file(str(self.dir / "submission.csv"))
            self.wb.log_artifact(sub, aliases=["latest"])

    def finish(self, exit_code: int = 0) -> dict:
        """Write metrics.json and close the W&B run; prints where everything went."""
        self.finished = True
        self.timings["total"] = round(time.perf_counter() - self._t0, 3)
        self.metrics["status"] = "finished" if exit_code == 0 else "failed"
        self.metrics["timings"] = self.timings
        self.metrics["peak_rss_mb"] = round(peak_rss_mb(), 1)
        self.metrics["wandb"] = {
            "mode": self.mode,
            "run_id": getattr(self.wb, "id", None),
            "dir": str(self.wandb_dir) if self.wandb_dir else None,
        }
        write_json(self.dir / "metrics.json", self.metrics)
        if self.wb is not None:
            rows = self.metrics.get("n_train_rows")
            system = {f"system/time_{k}_s": v for k, v in self.timings.items()}
            if rows and self.timings.get("train"):
                system["system/train_rows_per_s"] = rows / self.timings["train"]
            system["system/peak_rss_mb"] = self.metrics["peak_rss_mb"]
            self.wb.summary.update(system)
            self.wb.finish(exit_code=exit_code)
        if "val_rmsle" in self.metrics:
            print(f"val RMSLE {self.metrics['val_rmsle']:.5f}")
        print(f"outputs: {self.dir}")
        if self.mode == "offline" and self.wandb_dir:
            print(f"W&B run saved offline. Upload it:  wandb sync {self.wandb_dir}")
            print(f"Browse it locally:                wandb leet {self.wandb_dir}")
        elif self.mode == "online" and self.wb is not None:
            print(f"W&B run: {self.wb.url}")
        _unhook_notebook_errors()
        return self.metrics


def _unhook_notebook_errors() -> None:
    try:
        from IPython import get_ipython
    except ImportError:
        return
    shell = get_ipython()
    if shell is not None:
        shell.set_custom_exc((), None)


def _show(figures: dict) -> None:
    """Display figures inline when running in a notebook."""
    if "IPython" not in sys.modules:
        return
    from IPython import get_ipython
    from IPython.display import display

    if get_ipython() is not None:
        for fig in figures.values():
            display(fig)


def fetch_artifact(project: str, name: str, alias: str = "best", entity: str = "") -> Path:
    """Download a logged artifact (e.g. `exp001-model`, `exp001-submission`); online only.

    W&B cannot resolve artifacts offline (`use_artifact` raises): use the run folder instead.
    """
    if os.environ.get("WANDB_MODE") in ("offline", "disabled"):
        raise RuntimeError(
            "fetching artifacts needs W&B online; offline runs keep their files "
            "in the run folder (model.txt, submission.csv)"
        )
    path = f"{entity + '/' if entity else ''}{project}/{name}:{alias}"
    return Path(wandb.Api().artifact(path).download())


def start(cfg) -> Run:
    """Create the run folder and decide the W&B mode (login chain) for a template config."""
    return Run(cfg)
