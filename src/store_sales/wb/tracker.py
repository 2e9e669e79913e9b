"""Weights & Biases as a tracker, with W&B's own integrations where the model has one.

Per-step curves of fold 1: LightGBM's come from W&B's `wandb_callback` (`train_rmse`,
`val_rmse`; `log_summary` adds its best iteration and importance chart), XGBoost's from W&B's
`WandbCallback` (`train-rmse`, `val-rmse`, importance chart); a model without an integration
(PyTorch) reports its values through `on_step`, logged under the names it gives. Every step of
fold 1 also logs `val/rmsle` (all validation rows). With time-series CV each fold's curves go to
`cv/fold_<k>/...` against the step metric `cv/step`, so the folds overlay in one panel. Progress
inside a step (`scope="batch"`: loss, learning rate, gradient norm every N batches) is logged
as is against `train/batch`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import wandb

from ..models.base import ModelAdapter, StepEvent
from ..trackers import RunInfo, Tracker, headline
from .console import plain_stderr
from .login import resolve_mode
from .record import WandbRecord


def dataset_artifact_name(data_kind: str) -> str:
    """`store-sales-real-data` or `store-sales-synthetic-data`: one artifact per kind of data,
    its versions the different files it was run on."""
    return f"store-sales-{data_kind}-data"


class WandbTracker(Tracker):
    name = "wandb"
    record = WandbRecord

    def __init__(self, requested_mode: str, project: str, entity: str = ""):
        self.mode, self.note = resolve_mode(requested_mode)
        print(self.note)
        self.project = project
        self.entity = entity
        self.run = None
        self.n_folds = 1
        self._native: set[int] = set()  # folds whose curves W&B's own callback logs
        self._restore_stderr = lambda: None

    # -- run

    def start(self, info: RunInfo) -> None:
        if wandb.run is not None:  # a re-run notebook cell: close the previous run first
            wandb.finish()
        self.n_folds = int(info.config.get("n_folds", 1))
        self._restore_stderr = plain_stderr()  # until finish: wandb prints its summary there
        self.run = wandb.init(
            project=self.project,
            entity=self.entity or None,
            name=info.name,
            group=info.group,
            job_type=info.job_type,
            tags=info.tags,
            notes=info.notes,
            config=info.config,
            dir=str(info.dir),
            mode=self.mode,
            settings=wandb.Settings(init_timeout=60),
        )
        for key in ("val/rmsle", "val/rmsle_alive", "val/rmse_log", "cv/rmsle_mean"):
            self.run.define_metric(key, summary="min")
        self.run.define_metric("train/batch")
        self.run.define_metric("train/loss", step_metric="train/batch")
        self.run.define_metric("train/lr", step_metric="train/batch")
        self.run.define_metric("train/grad_norm", step_metric="train/batch")
        if self.n_folds > 1:
            self.run.define_metric("cv/step")
            for k in range(1, self.n_folds + 1):
                self.run.define_metric(f"cv/fold_{k}/*", step_metric="cv/step")
        if info.data_files and self.mode == "online":
            self._use_dataset(info)

    def _use_dataset(self, info: RunInfo) -> None:
        """The input data as an artifact the run *uses* (W&B's lineage: data -> run -> model),
        online only: W&B cannot resolve artifacts offline, and an offline run has the same
        fingerprint in its config (`data.files`). The artifact holds the fingerprint itself
        (fingerprint.json: each file's size and MD5), not 120 MB of CSV nor a file:// path of
        this machine, so its version follows the data: the same files, wherever they are,
        are the same version; other files a new one."""
        art = wandb.Artifact(
            dataset_artifact_name(info.data_kind),
            type="dataset",
            metadata={
                "digest": info.data_digest,
                "source": str(info.data_source),
                "files": info.data_files,
            },
        )
        with art.new_file("fingerprint.json", mode="w", encoding="utf-8") as fh:
            json.dump(info.data_files, fh, indent=1, sort_keys=True)
        self.run.use_artifact(art)

    @property
    def dir(self) -> Path | None:
        if self.run is None or self.mode == "disabled":
            return None
        return Path(self.run.dir).parent

    # -- training

    def library_callbacks(self, adapter: ModelAdapter, fold: int) -> list:
        """W&B's own integration for fold 1's fit, as the adapter offers it
        (`ModelAdapter.integration("wandb")`: LightGBM's `wandb_callback`, XGBoost's
        `WandbCallback`, built after `wandb.init`, which they need). The models' own checkpoints
        are not used: ours carry metadata and work offline."""
        if self.run is None or fold != 1:
            return []
        offered = adapter.integration(self.name)
        if offered is None:
            return []
        if offered.logs_steps:
            self._native.add(fold)
        return list(offered.callbacks)

    def on_step(self, event: StepEvent) -> None:
        if self.run is None:
            return
        if event.scope == "batch":
            if event.fold == 1:
                self.run.log({**event.values, **event.extra, "train/batch": event.step})
            return
        native = event.fold in self._native
        row: dict[str, Any] = dict(event.extra)
        if event.fold == 1:
            if "val_rmsle" in event.values:
                row["val/rmsle"] = event.values["val_rmsle"]
            if not native:
                row.update({k: v for k, v in event.values.items() if k != "val_rmsle"})
        if self.n_folds > 1:
            row.update({f"cv/fold_{event.fold}/{k}": v for k, v in event.values.items()})
            row["cv/step"] = event.step
        if row:
            # W&B's own callback commits fold 1's step after this hook (callback order)
            self.run.log(row, commit=not native)

    def inputs(self, runs: list[dict[str, Any]]) -> None:
        """A blend's members as used artifacts (their predictions), so W&B's lineage graph
        shows what the blend was made from; online only (W&B cannot resolve artifacts
        offline), and only for members that were online runs. The config lists them all."""
        if self.run is None or self.mode != "online":
            return
        api = wandb.Api()
        for member in runs:
            path = (member.get("wandb") or {}).get("path")
            if not path:
                continue
            try:
                for art in api.run(path).logged_artifacts():
                    if art.type == "predictions":
                        self.run.use_artifact(art)
            except (wandb.errors.CommError, ValueError) as err:
                print(f"W&B: member {member['run_name']} not linked ({err})")

    # -- results

    def log(self, metrics: dict[str, float]) -> None:
        if self.run is not None:
            self.run.log(metrics)

    def summary(self, values: dict[str, Any]) -> None:
        if self.run is not None:
            self.run.summary.update(values)

    def results(self, metrics: dict[str, Any]) -> None:
        """metrics.json's names in the summary too (`val_rmsle`, `cv_rmsle_mean`, ...): the
        names MLflow and `store-sales runs` use, beside the history's `val/rmsle`."""
        if self.run is not None:
            self.run.summary.update(headline(metrics))

    def table(self, key: str, frame, line: tuple[str, str] | None = None) -> None:
        if self.run is None:
            return
        table = wandb.Table(dataframe=frame)
        row = {key: table}
        if line is not None:
            x, y = line
            row[f"{key}_chart"] = wandb.plot.line(table, x, y, title=f"{y} by {x}")
        self.run.log(row)

    def images(self, images: dict[str, Path]) -> None:
        if self.run is not None and images:
            # from the PNGs: wandb.Image(Figure) needs pyplot, which our figures avoid
            self.run.log({f"plots/{k}": wandb.Image(str(p)) for k, p in images.items()})

    def histogram(self, key: str, values) -> None:
        if self.run is not None:
            self.run.log({key: wandb.Histogram(values)})

    def model_summary(self, adapter: ModelAdapter, model: Any) -> None:
        if self.run is not None:
            adapter.tracker_summary(self.name, model)

    def artifact(self, name, kind, files, metadata=None, aliases=("latest",)) -> None:
        if self.run is None or self.mode == "disabled":
            return
        art = wandb.Artifact(name, type=kind, metadata=metadata or {})
        for path in files:
            art.add_file(str(path))
        self.run.log_artifact(art, aliases=list(aliases))

    def add_tags(self, tags: list[str]) -> None:
        if self.run is not None:
            self.run.tags = (*(self.run.tags or ()), *tags)

    def config_update(self, values: dict[str, Any]) -> None:
        if self.run is not None:
            self.run.config.update(values)

    def finish(self, exit_code: int) -> dict[str, Any]:
        info = {
            "mode": self.mode,
            "run_id": getattr(self.run, "id", None),
            "dir": str(self.dir) if self.dir else None,
        }
        if self.run is not None and self.mode == "online":
            info["path"] = self.run.path  # entity/project/id, for the public API
            info["url"] = self.run.url
        if self.run is not None:
            self.run.finish(exit_code=exit_code)
        self._restore_stderr()
        return info


def fetch_artifact(project: str, name: str, alias: str = "latest", entity: str = "") -> Path:
    """Download a logged artifact (e.g. `exp001-model`, `exp001-submission`); online only.

    W&B cannot resolve artifacts offline (`use_artifact` raises): use the run folder instead.
    """
    if os.environ.get("WANDB_MODE") in ("offline", "disabled"):
        raise RuntimeError(
            "fetching artifacts needs W&B online; offline runs keep their files "
            "in the run folder (model file, submission.csv, oof.parquet)"
        )
    path = f"{entity + '/' if entity else ''}{project}/{name}:{alias}"
    return Path(wandb.Api().artifact(path).download())
