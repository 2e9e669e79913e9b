"""Everything a run records: its folder, timings, metrics, plots, and the W&B run.

Notebooks talk to W&B only through `Run`, so the login chain, offline fallback and what gets
logged are the same for every template.

W&B login order: Kaggle Secrets (label `wandb_api_key`), then `WANDB_API_KEY`, then an
existing `wandb login` (netrc). The key is handed to W&B through this process's environment
only: it is never printed, written to a file, or put in the config.
"""

from __future__ import annotations

import netrc
import os
import shutil
import socket
import sys
import time
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from urllib.parse import urlsplit

import wandb

from . import plots
from .config import KAGGLE_WORKING, new_run_dir, on_kaggle, to_jsonable, write_json

SECRET_LABEL = "wandb_api_key"
DEFAULT_BASE_URL = "https://api.wandb.ai"
CONNECT_TIMEOUT = 3.0  # seconds to decide that the W&B server is unreachable


def load_api_key() -> str:
    """Find W&B credentials; returns where they came from ("" if nowhere)."""
    try:
        from kaggle_secrets import UserSecretsClient  # only exists on Kaggle

        key = UserSecretsClient().get_secret(SECRET_LABEL)
    except Exception:  # not on Kaggle, secret not attached, or no internet
        key = None
    if key:
        os.environ["WANDB_API_KEY"] = key
        return "Kaggle Secrets"
    if os.environ.get("WANDB_API_KEY"):
        return "WANDB_API_KEY"
    host = urlsplit(base_url()).netloc
    try:
        path = os.environ.get("NETRC") or Path.home() / ".netrc"
        if netrc.netrc(path).authenticators(host):
            return "netrc (wandb login)"
    except (OSError, netrc.NetrcParseError):
        pass
    return ""


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
    """Pick online/offline/disabled and say why in one line; never blocks for long."""
    if requested in ("offline", "disabled"):
        return requested, f"W&B {requested} (wandb_mode={requested})"
    if requested == "auto" and os.environ.get("WANDB_MODE") in ("offline", "disabled", "dryrun"):
        mode = "disabled" if os.environ["WANDB_MODE"] == "disabled" else "offline"
        return mode, f"W&B {mode} (WANDB_MODE={os.environ['WANDB_MODE']})"
    source = load_api_key()
    if not source:
        problem = (
            "no W&B API key (add the Kaggle secret 'wandb_api_key', set WANDB_API_KEY, "
            "or run `wandb login`)"
        )
    elif not reachable(base_url()):
        problem = f"W&B server {base_url()} unreachable (internet off?)"
    else:
        return "online", f"W&B online (key from {source})"
    if requested == "online":
        raise RuntimeError(
            f"wandb_mode='online' but {problem}. Use wandb_mode='auto' to fall "
            "back to offline logging."
        )
    return "offline", f"W&B offline: {problem}"


def peak_rss_mb() -> float:
    try:
        import resource
    except ImportError:  # Windows
        return float("nan")
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class Run:
    """One experiment run: its output folder, timings, metrics and W&B run."""

    def __init__(self, cfg):
        self.cfg = cfg
        self.dir, self.name = new_run_dir(cfg.exp_name, cfg.output_dir)
        self.mode, self.mode_note = resolve_mode(cfg.wandb_mode)
        self.timings: dict[str, float] = {}
        self.metrics: dict = {}
        self.wb = None
        self._t0 = time.perf_counter()
        print(f"run {self.name}: outputs in {self.dir}")
        print(self.mode_note)

    @contextmanager
    def phase(self, name: str):
        """Time a stage of the run (reported in metrics.json and W&B)."""
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self.timings[name] = round(time.perf_counter() - t0, 3)

    def init_wandb(self, data=None) -> wandb.sdk.wandb_run.Run:
        if wandb.run is not None:  # a re-run notebook cell: close the previous run first
            wandb.finish()
        tags = ["lightgbm", "origin-16d-holdout"]
        if data is not None:
            tags.append("synthetic" if data.synthetic else "real-data")
        changed = self.cfg.changed()
        self.wb = wandb.init(
            project=self.cfg.wandb_project,
            entity=self.cfg.wandb_entity or None,
            name=self.name,
            group=self.cfg.wandb_group or self.cfg.exp_name,
            job_type="train",
            tags=tags,
            notes=", ".join(f"{k}={v}" for k, v in changed.items()) or "defaults",
            config=asdict(self.cfg),
            dir=str(self.dir),
            mode=self.mode,
            settings=wandb.Settings(init_timeout=60),
        )
        if data is not None:
            self.wb.config.update({"data": data.summary()})
        return self.wb

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
        from wandb.integration.lightgbm import log_summary

        submission = self.dir / "submission.csv"
        if on_kaggle() and submission.is_file() and self.dir != KAGGLE_WORKING:
            # Kaggle's "Submit" offers the kernel's output files; the root copy is the usual one
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

        self.metrics.update(
            val_rmsle=round(validation.rmsle, 6),
            val_rmsle_alive=round(validation.rmsle_alive, 6),
            best_iteration=validation.fit.best_iteration,
            n_features=len(features),
            n_train_rows=validation.n_train_rows,
            refit=self.cfg.refit,
        )
        write_json(self.dir / "config.json", {"run_name": self.name, **asdict(self.cfg)})
        if self.wb is not None:
            self.wb.summary.update(
                {"val/rmsle": validation.rmsle, "val/rmsle_alive": validation.rmsle_alive}
            )
            log_summary(
                validation.fit.booster, feature_importance=True, save_model_checkpoint=False
            )
            # from the PNGs: wandb.Image(Figure) needs pyplot, which these figures avoid
            self.wb.log({f"plots/{k}": wandb.Image(str(p)) for k, p in images.items()})
            self.wb.config.update({"features": list(features)})
            model = wandb.Artifact(
                f"{self.cfg.exp_name}-model",
                type="model",
                metadata={
                    "val_rmsle": validation.rmsle,
                    "best_iteration": validation.fit.best_iteration,
                    "n_features": len(features),
                    "config": to_jsonable(self.cfg),
                },
            )
            model.add_file(str(model_path))
            self.wb.log_artifact(model, aliases=["latest", "best"])
            if (self.dir / "submission.csv").is_file():
                sub = wandb.Artifact(
                    f"{self.cfg.exp_name}-submission",
                    type="submission",
                    metadata={"run_id": self.wb.id, "val_rmsle": validation.rmsle},
                )
                sub.add_file(str(self.dir / "submission.csv"))
                self.wb.log_artifact(sub)
        _show(figures)
        return self.metrics

    def finish(self, exit_code: int = 0) -> dict:
        """Write metrics.json and close the W&B run; prints where everything went."""
        self.timings["total"] = round(time.perf_counter() - self._t0, 3)
        self.metrics["timings"] = self.timings
        self.metrics["peak_rss_mb"] = round(peak_rss_mb(), 1)
        self.metrics["wandb"] = {
            "mode": self.mode,
            "run_id": getattr(self.wb, "id", None),
            "dir": str(self.wandb_dir) if self.wandb_dir else None,
        }
        write_json(self.dir / "metrics.json", self.metrics)
        if self.wb is not None:
            self.wb.summary.update({f"system/time_{k}_s": v for k, v in self.timings.items()})
            self.wb.summary["system/peak_rss_mb"] = self.metrics["peak_rss_mb"]
            self.wb.finish(exit_code=exit_code)
        if "val_rmsle" in self.metrics:
            print(f"val RMSLE {self.metrics['val_rmsle']:.5f}")
        print(f"outputs: {self.dir}")
        if self.mode == "offline" and self.wandb_dir:
            print(f"W&B run saved offline. Upload it:  wandb sync {self.wandb_dir}")
            print(f"Browse it locally:                wandb leet {self.wandb_dir}")
        elif self.mode == "online" and self.wb is not None:
            print(f"W&B run: {self.wb.url}")
        return self.metrics


def _show(figures: dict) -> None:
    """Display figures inline when running in a notebook."""
    if "IPython" not in sys.modules:
        return
    from IPython import get_ipython
    from IPython.display import display

    if get_ipython() is not None:
        for fig in figures.values():
            display(fig)


def start(cfg) -> Run:
    """Create the run folder and decide the W&B mode (login chain) for a template config."""
    return Run(cfg)
