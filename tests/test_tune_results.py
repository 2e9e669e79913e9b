"""A study's results as the user reads them, without a kernel: results.csv best first,
best.yaml holding the best trial's parameters (hand-made trials on a sqlite study), and
`store-sales tune --study NAME` resuming that study with the default (median) pruner pruning a
poor trial (the kernel replaced by the pipeline's trial hook fed fold 1's steps in-process)."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import optuna
import pandas as pd
import pytest
import yaml
from helpers import isolate_outputs
from optuna.distributions import FloatDistribution, IntDistribution
from optuna.trial import TrialState, create_trial

from store_sales import cli
from store_sales.jsonio import write_json
from store_sales.models.base import StepEvent, StopTraining
from store_sales.pipeline import trial_hook
from store_sales.search import trials as search_trials
from store_sales.tune import results as tune_results
from store_sales.tune import study as st
from store_sales.tune import summarize

DISTRIBUTIONS = {
    "learning_rate": FloatDistribution(0.01, 0.3),
    "num_leaves": IntDistribution(7, 255),
}
# trial number -> (state, val/rmsle, learning_rate, num_leaves); the best is neither trial 0
# nor the last, the worst is not last either
TRIALS = [
    (TrialState.COMPLETE, 0.50, 0.10, 31),
    (TrialState.COMPLETE, 0.70, 0.20, 15),
    (TrialState.COMPLETE, 0.40, 0.03, 63),
    (TrialState.PRUNED, None, 0.25, 200),
    (TrialState.FAIL, None, 0.15, 100),
    (TrialState.COMPLETE, 0.60, 0.12, 45),
]


@pytest.fixture(scope="module")
def study_folder(tmp_path_factory) -> tuple[Path, str]:
    """A study folder as `tune` leaves it, its trials made by hand, summarized (no plots):
    the folder and what was printed."""
    tmp_path = tmp_path_factory.mktemp("study")
    url = st.sqlite_url(tmp_path / "study.db")
    study = st.open_study("hand", url, create=True)
    for state, value, lr, leaves in TRIALS:
        params = {"learning_rate": lr, "num_leaves": leaves}
        study.add_trial(
            create_trial(
                state=state,
                value=value,
                params=params,
                distributions=DISTRIBUTIONS,
                intermediate_values={10: 1.0} if state == TrialState.PRUNED else None,
                user_attrs={"params": {**params, "wandb_mode": "offline"}},
            )
        )
    state = {"study": "hand", "storage": url, "template": "exp001", "metric": "val/rmsle"}
    st.write_folder(tmp_path, {**state, "sampler": "tpe", "pruner": {"name": "none"}}, "")
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        summarize(tmp_path, plot=False)
    return tmp_path, out.getvalue()


def test_results_csv_lists_the_best_trial_first(study_folder):
    folder, _ = study_folder
    table = pd.read_csv(folder / "results.csv")
    assert table["trial"].tolist() == [2, 0, 5, 1, 3, 4]  # complete by score, pruned, failed
    assert table["state"].tolist() == ["complete"] * 4 + ["pruned", "fail"]
    assert table["val/rmsle"].tolist()[:4] == [0.40, 0.50, 0.60, 0.70]


def test_best_yaml_holds_the_best_trials_parameters(study_folder):
    folder, printed = study_folder
    text = (folder / "best.yaml").read_text()
    assert text.splitlines()[0] == (
        "# Best trial of study hand (tpe): trial 2, val/rmsle = 0.400000"
    )
    # what `store-sales run exp001 -f best.yaml` reads: trial 2's parameters, nothing the run sets
    assert yaml.safe_load(text) == {"learning_rate": 0.03, "num_leaves": 63}
    assert "best    trial 2: val/rmsle 0.40000" in printed


# ---- `store-sales tune --study NAME`, twice, with the kernel replaced -------------------------
STEPS = 200  # each trial's fold 1 runs this many steps unless pruned
GOOD, POOR = 0.5, 2.0


def _kernel(scores: list[float]):
    """run_trial's stand-in: what a template kernel does with a tune trial, in this process. The
    pipeline's trial hook (from the trial's sweep_dir) sees fold 1's steps with a constant
    score; a StopTraining ends the fit (metrics.json `stopped`), as in the pipeline."""
    queue = iter(scores)

    def run_trial(template, params):
        score, folder = next(queue), Path(params["output_dir"])
        hook = trial_hook(params["sweep_dir"], folder)
        metrics = {"status": "finished", "val_rmsle": score, "fold_steps_run": [STEPS]}
        try:
            for step in range(1, STEPS + 1):
                hook(StepEvent(fold=1, step=step, values={"val_rmse": score, "val_rmsle": score}))
        except StopTraining as stop:
            metrics.update(stopped=stop.info, fold_steps_run=[stop.info["stopped_at_round"]])
        write_json(folder / "metrics.json", metrics)
        return {"dir": str(folder), "error": ""}

    return run_trial


@pytest.fixture(scope="module")
def resumed(tmp_path_factory):
    """`tune exp001 --study again` with the default sweep file and pruner: 5 good trials, then
    the same command once more with 1 poor trial. (printed outputs, the study folder)"""
    outputs = tmp_path_factory.mktemp("tune-outputs")
    printed = []
    with pytest.MonkeyPatch.context() as mp:
        isolate_outputs(mp, outputs)
        mp.setattr(tune_results, "PLOTS", {})  # Optuna's plots: seconds, and not guarded here
        mp.setattr(search_trials, "run_trial", _kernel([GOOD] * 5 + [POOR]))
        for trials in (5, 1):
            out = io.StringIO()
            args = ["tune", "exp001", "--study", "again", "--trials", str(trials), "--seed", "1"]
            args += ["--sampler", "random"]  # what is sampled does not matter here
            with contextlib.redirect_stdout(out):
                # reports every 100 steps: judged at 200, the default warm-up (min_iter)
                assert cli.main([*args, "--check-every", "100"]) == 0
            printed.append(out.getvalue())
    return printed, outputs / "tune" / "again"


def test_a_named_study_is_resumed_not_started_anew(resumed):
    (first, second), folder = resumed
    assert "continuing study" not in first
    assert "continuing study again: 5 earlier trial(s)" in second
    assert [p.name for p in (folder.parent).iterdir()] == ["again"]  # no second study folder
    table = pd.read_csv(folder / "results.csv")
    assert sorted(table["trial"]) == [0, 1, 2, 3, 4, 5]  # both invocations' trials, one study
    url = st.read_folder(folder)["storage"]
    assert len(optuna.load_study(study_name="again", storage=url).trials) == 6


def test_the_default_pruner_prunes_a_poor_trial(resumed):
    (first, second), folder = resumed
    table = pd.read_csv(folder / "results.csv").set_index("trial")
    assert table.loc[5, "state"] == "pruned"
    assert (table.loc[[0, 1, 2, 3, 4], "state"] == "complete").all()
    assert "tune: trial 5 pruned at step 200" in second and "[1/1] trial 5 pruned" in second
    assert "median pruner" in first
