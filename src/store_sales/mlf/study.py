"""A tune study as one MLflow parent run: its trials' MLflow runs become its children (the tag
`mlflow.parentRunId`, as MLflow's own nested runs), so the UI folds a study into one row. One
parent per study and store: found again by its tags, so every process sharing a study links its
trials to the same one."""

from __future__ import annotations

import time
from typing import Any

from mlflow.entities import Metric, Param, RunTag
from mlflow.tracking import MlflowClient

from .store import artifact_root, tracking_uri

PARENT_TAG = "mlflow.parentRunId"
STUDY_TAG = "store_sales.tune_study"


def _experiment_id(client, name: str, uri: str) -> str:
    found = client.get_experiment_by_name(name)
    if found is not None:
        return found.experiment_id
    return client.create_experiment(name, artifact_location=artifact_root(uri))


def log_study(
    *,
    uri: str,
    experiment: str,
    study: str,
    params: dict[str, Any],
    metrics: dict[str, float],
    children: list[str],
) -> dict[str, Any]:
    """The study's parent run in `experiment` at `uri` (made, or found by its tag), its
    parameters and best metrics, and each run id in `children` tagged as its child."""
    uri = tracking_uri(uri)
    client = MlflowClient(tracking_uri=uri)
    experiment_id = _experiment_id(client, experiment, uri)
    found = client.search_runs(
        [experiment_id], filter_string=f"tags.`{STUDY_TAG}` = '{study}'", max_results=1
    )
    if found:
        run_id = found[0].info.run_id
    else:
        tags = {STUDY_TAG: study, "mlflow.runName": f"tune-{study}", "job_type": "tune"}
        run_id = client.create_run(experiment_id, run_name=f"tune-{study}", tags=tags).info.run_id
        client.log_batch(run_id, params=[Param(k, str(v)[:6000]) for k, v in params.items()])
    now = int(time.time() * 1000)
    client.log_batch(
        run_id,
        metrics=[Metric(k, float(v), now, 0) for k, v in metrics.items() if v is not None],
        tags=[RunTag("n_trials", str(len(children)))],
    )
    for child in children:
        if child != run_id:
            client.set_tag(child, PARENT_TAG, run_id)
    client.set_terminated(run_id, "FINISHED")
    return {"uri": uri, "experiment": experiment, "run_id": run_id, "children": len(children)}
