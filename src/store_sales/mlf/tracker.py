"""MLflow as a tracker, through MLflow's own client (`MlflowClient`).

One MLflow run per template run: experiment = the template's `exp_name`, run name = the run
folder's name. Params are the template config; metrics the headline scores (`val_rmsle`,
`cv_rmsle_mean/std/fold_<k>`), `rmsle_by_horizon` (step = horizon day) and every fit's per-step
curves (`step/val_rmse`, ...: step = round or epoch; `fold_<k>/...` with time-series CV); tags
say template, model, data, validation scheme, status and the parameters that differ from the
defaults (also the run's description in the UI). Artifacts: model + features.txt (also as an
MLflow model in its library's flavor: `mlf.flavors`), submission, predictions, plots, tables.
A failing or interrupted run ends FAILED.
"""

from __future__ import annotations

import math
import re
import time
import warnings
from pathlib import Path
from typing import Any

import pandas as pd

from ..errors import UserError
from ..extras import require
from ..models.base import StepEvent
from ..trackers import RunInfo, Tracker, headline
from . import flavors
from .record import MlflowRecord
from .store import artifact_root, check_reachable, sqlite_path, tracking_uri

require("mlflow", "tracker=mlflow")  # a missing extra says which, before mlflow is imported

with warnings.catch_warnings():
    # mlflow imports tqdm.auto, which warns in every Jupyter kernel without ipywidgets
    warnings.filterwarnings("ignore", message="IProgress not found")
    from mlflow.entities import Metric, Param, RunTag
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient


# MLflow refuses other characters in metric and tag names (families such as "LIQUOR,WINE,BEER")
_NAME_BAD = re.compile(r"[^\w\-. :/]")
_BATCH = 1000  # MLflow's limit of metrics per log_batch call


def _name(key: str) -> str:
    return _NAME_BAD.sub("_", key)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


class MlflowTracker(Tracker):
    name = "mlflow"
    record = MlflowRecord

    def __init__(self, uri: str, experiment: str, register: str = ""):
        self.uri = tracking_uri(uri)
        self.experiment = experiment
        self.register = register  # a registered model's name: each run's model a new version
        self.registered: str | None = None  # models:/<name>/<version>
        self._example: tuple | None = None  # (feature rows, predictions): the signature's
        self.run_id: str | None = None
        self.experiment_id: str | None = None
        self.n_folds = 1
        self.model = ""  # the run's model library: which MLflow flavor its model gets
        self.model_uri: str | None = None
        self._pending: list[Metric] = []
        check_reachable(self.uri)
        db = sqlite_path(self.uri)
        if db is not None:
            db.parent.mkdir(parents=True, exist_ok=True)
        self.client = MlflowClient(tracking_uri=self.uri)
        print(f"MLflow: experiment {experiment!r} in {self.uri}")

    # -- run

    def start(self, info: RunInfo) -> None:
        self.n_folds = int(info.config.get("n_folds", 1))
        self.model = info.model
        self.experiment_id = self._experiment_id()
        tags = {
            "template": info.template,
            "model": info.model,
            "data": info.data_kind,
            "validation": info.scheme,
            "group": info.group,
            "status": "running",
            "note": info.notes,
            "mlflow.note.content": info.notes,  # the run's description in MLflow's UI
            "run_dir": str(info.dir),
            **{t: "true" for t in info.tags},
        }
        for key, value in (info.config.get("code") or {}).items():  # what code the run ran
            tags[f"code.{key}"] = str(value)
        commit = (info.config.get("env") or {}).get("git_commit")
        if commit:
            tags["mlflow.source.git.commit"] = commit
        run = self.client.create_run(self.experiment_id, run_name=info.name, tags=tags)
        self.run_id = run.info.run_id
        flat = {k: v for k, v in info.config.items() if not isinstance(v, dict)}
        self.client.log_batch(
            self.run_id, params=[Param(k, str(v)) for k, v in sorted(flat.items())]
        )
        for key in ("data", "env"):
            if isinstance(info.config.get(key), dict):
                self.client.log_dict(self.run_id, info.config[key], f"run_info/{key}.json")
        if info.data_files:
            self._log_dataset(info)

    def _log_dataset(self, info: RunInfo) -> None:
        """The input data as the run's dataset input (MLflow's `log_input`, through the
        client): its fingerprint as a tiny frame (one row per file: name, bytes, MD5), named
        by the data kind, with the fingerprint's digest, so runs on the same files show the
        same dataset in the UI."""
        from mlflow.data import from_pandas
        from mlflow.entities import DatasetInput, InputTag

        frame = pd.DataFrame(
            [{"file": n, "bytes": f["bytes"], "md5": f["md5"]} for n, f in info.data_files.items()]
        )
        context = InputTag(key="mlflow.data.context", value="training")
        with warnings.catch_warnings():
            # MLflow's own noise: a local path matches its two local sources ("" and file://),
            # and the tiny frame's byte counts are integers (its schema is made lazily)
            warnings.filterwarnings("ignore", message="The specified dataset source can be")
            warnings.filterwarnings("ignore", message=flavors.INTEGER_HINT)
            dataset = from_pandas(
                frame,
                source=str(info.data_source or ""),
                name=f"store-sales-{info.data_kind}-data",
                digest=info.data_digest,
            )
            # MlflowClient.log_inputs takes the entity; mlflow.log_input (active runs only, which
            # the tracker does not use) converts with this same method: MLflow 3 has no public one
            entity = dataset._to_mlflow_entity()
        self.client.log_inputs(self.run_id, datasets=[DatasetInput(entity, tags=[context])])

    def _experiment_id(self) -> str:
        found = self.client.get_experiment_by_name(self.experiment)
        if found is None:
            try:
                return self.client.create_experiment(
                    self.experiment, artifact_location=artifact_root(self.uri)
                )
            except MlflowException:  # another run created it meanwhile
                found = self.client.get_experiment_by_name(self.experiment)
                if found is None:
                    raise
        if found.lifecycle_stage == "deleted":
            raise UserError(
                f"MLflow experiment {self.experiment!r} is deleted in {self.uri}: restore it "
                "(`mlflow experiments restore`) or pass another exp_name"
            )
        return found.experiment_id

    # -- training

    def on_step(self, event: StepEvent) -> None:
        if self.run_id is None:
            return
        if event.scope == "batch":  # already named for their scope (train/loss, train/lr)
            if event.fold == 1:
                self._queue({**event.values, **event.extra}, event.step)
            return
        if event.fold == 1:
            # `step/val_rmsle`, not `val_rmsle`: MLflow shows a metric's value at its highest
            # step, which would hide the headline score behind the last round's
            self._queue({f"step/{k}": v for k, v in event.values.items()}, event.step)
            self._queue(event.extra, event.step)
        if self.n_folds > 1:
            self._queue({f"fold_{event.fold}/{k}": v for k, v in event.values.items()}, event.step)

    def _queue(self, values: dict[str, Any], step: int) -> None:
        now = int(time.time() * 1000)
        for key, value in values.items():
            number = _number(value)
            if number is not None:
                self._pending.append(Metric(_name(key), number, now, int(step)))
        if len(self._pending) >= _BATCH:
            self._flush()

    def _flush(self) -> None:
        while self._pending and self.run_id is not None:
            chunk, self._pending = self._pending[:_BATCH], self._pending[_BATCH:]
            self.client.log_batch(self.run_id, metrics=chunk)

    def inputs(self, runs: list[dict[str, Any]]) -> None:
        """A blend's members: tags `member_<i>` (run name) and `member_<i>_run_id` (their MLflow
        run, when they have one), and the whole list as `blend/members.json`."""
        if self.run_id is None:
            return
        tags = []
        for i, member in enumerate(runs, start=1):
            tags.append(RunTag(f"member_{i}", member["run_name"]))
            run_id = (member.get("mlflow") or {}).get("run_id")
            if run_id:
                tags.append(RunTag(f"member_{i}_run_id", run_id))
        self.client.log_batch(self.run_id, tags=tags)
        self.client.log_dict(self.run_id, runs, "blend/members.json")

    # -- results

    def log(self, metrics: dict[str, float]) -> None:
        self._queue(metrics, 0)
        self._flush()

    def summary(self, values: dict[str, Any]) -> None:
        if self.run_id is None:
            return
        self._queue({k: v for k, v in values.items() if _number(v) is not None}, 0)
        self._flush()
        tags = [RunTag(_name(k), str(v)) for k, v in values.items() if _number(v) is None]
        if tags:
            self.client.log_batch(self.run_id, tags=tags)

    def results(self, metrics: dict[str, Any]) -> None:
        if self.run_id is None:
            return
        self._queue(headline(metrics), 0)
        for h, value in (metrics.get("rmsle_by_horizon") or {}).items():
            self._queue({"rmsle_by_horizon": value}, int(h))
        self._flush()

    def table(self, key: str, frame, line: tuple[str, str] | None = None) -> None:
        if self.run_id is not None:
            self.client.log_text(self.run_id, frame.to_csv(index=False), f"tables/{_name(key)}.csv")

    def images(self, images: dict[str, Path]) -> None:
        for path in images.values() if self.run_id else ():
            self.client.log_artifact(self.run_id, str(path), "plots")

    def model_example(self, inputs, outputs) -> None:
        self._example = (inputs, outputs)

    def artifact(self, name, kind, files, metadata=None, aliases=("latest",)) -> None:
        if self.run_id is None:
            return
        if kind == "model" and files:  # first: the adapter's own file wins a name they share
            self.model_uri = flavors.log_model(
                self.client, self.run_id, self.model, files[0], self._example
            )
            if self.model_uri and self.register:
                self._register()
        for path in files:
            self.client.log_artifact(self.run_id, str(path), kind)
        if metadata:
            self.client.log_dict(self.run_id, metadata, f"{kind}/metadata.json")

    def _register(self) -> None:
        """The run's model as a new version of the registered model `self.register` (made on
        first use), in the run's store: `models:/<name>/<version>` loads it."""
        try:
            self.client.create_registered_model(self.register)
        except MlflowException as err:
            if err.error_code != "RESOURCE_ALREADY_EXISTS":
                raise
        source = f"{self.client.get_run(self.run_id).info.artifact_uri}/{flavors.ARTIFACT_PATH}"
        version = self.client.create_model_version(self.register, source, run_id=self.run_id)
        self.registered = f"models:/{self.register}/{version.version}"
        print(f"MLflow: registered the model as {self.registered}")

    def add_tags(self, tags: list[str]) -> None:
        if self.run_id is not None:
            self.client.log_batch(self.run_id, tags=[RunTag(_name(t), "true") for t in tags])

    def finish(self, exit_code: int) -> dict[str, Any]:
        info = {"uri": self.uri, "experiment": self.experiment, "run_id": self.run_id}
        if self.model_uri:
            info["model"] = self.model_uri  # mlflow.pyfunc.load_model(...) loads it
        if self.registered:
            info["registered"] = self.registered
        if self.run_id is not None:
            self._flush()
            status = "FINISHED" if exit_code == 0 else "FAILED"
            self.client.set_tag(self.run_id, "status", status.lower())
            self.client.set_terminated(self.run_id, status)
        return info
