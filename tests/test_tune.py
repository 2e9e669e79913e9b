"""`store-sales tune`: the sweep YAML as Optuna distributions (quick), the pruning hook on a real
sqlite study (quick), and real exp001 studies on small synthetic data (e2e): pruned and complete
trials with two workers, best.yaml rerun, two processes sharing one sqlite study."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import optuna
import pytest
import yaml
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution
from test_bundle import _run_like_kaggle, kaggle_python  # noqa: F401 (a fixture)

from store_sales import runner
from store_sales.cli import main
from store_sales.models.base import StepEvent, StopTraining
from store_sales.paths import REPO_ROOT
from store_sales.pipeline import trial_hook  # sweep's or tune's, dispatched on tune.json
from store_sales.sweep.hook import TrialHook
from store_sales.tune import PruningHook, TuneError, check, distribution, infer
from store_sales.tune import study as st

BIN = Path(sys.executable).parent
FAST = {"n_origins": 6, "num_threads": 1, "num_boost_round": 120, "early_stopping_rounds": 20}
METRIC = {"name": "val/rmsle", "goal": "minimize"}


def space_of(**parameters) -> dict:
    return {"method": "bayes", "metric": METRIC, "parameters": parameters}


# ---------------------------------------------------------------------------------------------
# the mapping


@pytest.mark.parametrize(
    ("spec", "declared_int", "expected"),
    [
        ({"min": 0.01, "max": 0.2}, False, FloatDistribution(0.01, 0.2)),
        ({"min": 15, "max": 255}, True, IntDistribution(15, 255)),
        (
            {"distribution": "log_uniform_values", "min": 0.02, "max": 0.2},
            False,
            FloatDistribution(0.02, 0.2, log=True),
        ),
        (
            {"distribution": "q_log_uniform_values", "min": 15, "max": 255, "q": 1},
            True,
            IntDistribution(15, 255, log=True),
        ),
        (
            {"distribution": "q_uniform", "min": 20, "max": 100, "q": 20},
            True,
            IntDistribution(20, 100, step=20),
        ),
        (
            {"distribution": "q_uniform", "min": 0.5, "max": 1.0, "q": 0.1},
            False,
            FloatDistribution(0.5, 1.0, step=0.1),
        ),
        ({"values": [0.1, 0.003]}, False, CategoricalDistribution([0.1, 0.003])),
        ({"value": 7}, True, None),
    ],
)
def test_wandb_distributions_map_to_optuna(spec, declared_int, expected):
    assert distribution("p", infer(spec), declared_int) == expected


def test_log_uniform_bounds_are_natural_logs():
    dist = distribution("p", infer({"distribution": "log_uniform", "min": -3, "max": 0}), False)
    assert dist.log and dist.low == pytest.approx(0.049787, rel=1e-5) and dist.high == 1.0


def test_inference_agrees_with_wandb_engine():
    fill = pytest.importorskip("sweeps.config").fill_parameter
    for spec in ({"min": 1, "max": 5}, {"min": 0.1, "max": 1.0}, {"values": [1, 2]}, {"value": 3}):
        assert infer(spec)["distribution"] == fill("p", spec)[1]["distribution"]


@pytest.mark.parametrize("name", ["normal", "inv_log_uniform_values", "beta", "q_log_uniform"])
def test_a_distribution_optuna_lacks_is_refused_in_one_line(name):
    spec = {"distribution": name, "min": 0.1, "max": 1.0, "mu": 0.5, "sigma": 0.1, "a": 1, "b": 1}
    with pytest.raises(TuneError) as err:
        distribution("learning_rate", infer(spec), False)
    assert "\n" not in str(err.value) and "Optuna has no" in str(err.value)


def test_every_problem_is_listed_together_before_any_training():
    bad = space_of(
        learning_rate={"distribution": "normal", "mu": 0.1, "sigma": 0.01},
        num_leaves={"min": 0.5, "max": 30.5},  # floats for an integer parameter
        no_such={"values": [1, 2]},
        sweep_dir={"value": "x"},
    )
    with pytest.raises(TuneError) as err:
        check(bad, "exp001")
    text = str(err.value)
    for part in ("Optuna has no normal", "num_leaves is an integer", "no_such", "sweep_dir"):
        assert part in text, part


def test_fixing_a_parameter_tune_sets_says_what_it_sets_instead():
    with pytest.raises(TuneError) as err:
        check(space_of(learning_rate={"values": [0.1, 0.2]}), "exp001", {"wandb_mode": "online"})
    assert "'wandb_mode' cannot be fixed: the tune sets it (every trial logs to W&B offline" in str(
        err.value
    )


@pytest.mark.parametrize(
    ("change", "said"),
    [
        ({"template": "exp002"}, "another template (it tunes exp001)"),
        ({"config": {"parameters": {"num_leaves": {"values": [7]}}}}, "another search space"),
        ({"fixed": {"seed": 1}}, "another fixed parameters"),
    ],
)
def test_a_refused_resume_says_what_differs(tmp_path, change, said):
    identity = {"template": "exp001", "config": {"parameters": {}}, "fixed": {}}
    url = st.sqlite_url(tmp_path / "study.db")
    assert st.adopt(st.open_study("s", url, create=True), identity) == 0
    with pytest.raises(TuneError, match="^" + re.escape(f"study s was made with {said}")):
        st.adopt(st.open_study("s", url, create=True), {**identity, **change})


def test_the_default_study_is_named_by_the_template_tuned(tmp_path, monkeypatch):
    from store_sales.search import template as search_template
    from store_sales.tune import optimize

    monkeypatch.setattr(optimize, "run_trials", lambda *a, **k: "")  # no trials: just the study
    monkeypatch.setattr(optimize, "summarize", lambda folder: folder)
    monkeypatch.setattr(optimize, "record_study", lambda *a: None)
    monkeypatch.setattr(search_template, "outputs_root", lambda: tmp_path)
    spec = tmp_path / "s.yaml"  # named for exp001, as configs/sweep.yaml is
    spec.write_text(
        "name: exp001-lgbm\nmethod: random\nmetric: {name: val/rmsle, goal: minimize}\n"
        "parameters:\n  learning_rate: {values: [0.1]}\n"
    )
    optimize.tune("exp002", trials=1, config=str(spec))
    (folder,) = (tmp_path / "tune").iterdir()
    assert folder.name.startswith("exp002-")


def test_a_value_out_of_the_template_range_is_refused():
    with pytest.raises(TuneError, match=r"feature_fraction=1\.5"):
        check(space_of(feature_fraction={"min": 0.5, "max": 1.5}), "exp001")


@pytest.mark.parametrize("template", ["exp001", "exp002", "exp003", "exp004", "exp005"])
def test_the_shipped_sweep_files_map_fully(template):
    from store_sales.tune import default_config

    path = default_config(template)
    space = check(yaml.safe_load(path.read_text()), template)
    assert space.metric == "val/rmsle" and space.distributions
    assert all(d is not None for d in space.distributions.values())


def test_grid_enumerates_discrete_parameters_and_refuses_continuous_ones():
    space = check(
        space_of(num_leaves={"min": 15, "max": 17}, learning_rate={"values": [0.1, 0.05]}),
        "exp001",
        grid=True,
    )
    assert space.grid() == {"num_leaves": [15, 16, 17], "learning_rate": [0.1, 0.05]}
    with pytest.raises(TuneError, match="learning_rate is continuous"):
        check(space_of(learning_rate={"min": 0.01, "max": 0.2}), "exp001", grid=True)


def test_trials_are_required(capsys):
    assert main(["tune", "exp001"]) == 2
    assert "trials is required" in capsys.readouterr().err


# ---------------------------------------------------------------------------------------------
# the pruning hook, on a real sqlite study (no kernel)


def _tune_trial(tmp_path, pruner: dict):
    url = st.sqlite_url(tmp_path / "study.db")
    study = st.open_study("s", url, pruner=st.make_pruner(pruner), create=True)
    good = study.ask({"learning_rate": FloatDistribution(0.001, 0.3)})
    for step in range(10, 41, 10):
        good.report(0.5, step)
    study.tell(good, 0.5)
    trial = study.ask({"learning_rate": FloatDistribution(0.001, 0.3)})
    folder = tmp_path / "trial"
    folder.mkdir()
    state = {
        "storage": url,
        "study": "s",
        "trial_number": trial.number,
    }
    state |= {"metric": "val/rmsle", "pruner": pruner, "report_every": 10}
    st.write_trial_state(folder, state)
    return study, trial, folder


def test_the_hook_reports_to_optuna_and_a_poor_trial_is_pruned(tmp_path, capsys):
    pruner = {"name": "median", "n_startup_trials": 1, "n_warmup_steps": 20}
    study, trial, folder = _tune_trial(tmp_path, pruner)
    hook = trial_hook(folder, folder)  # the pipeline's call, dispatched on tune.json
    assert isinstance(hook, PruningHook)
    with pytest.raises(StopTraining) as stop:
        for step in range(1, 41):
            hook(StepEvent(fold=2, step=step, values={"val_rmse": 0.1}))  # never judged
            hook(
                StepEvent(
                    fold=1, step=step, values={"val_rmse": 9.0, "val_rmsle": 2.0 - step / 100}
                )
            )
    # judged from step 20 on (warm-up): worse than the good trial's 0.5 there
    assert stop.value.info["stopped_at_round"] == 20 and stop.value.info["best_round"] == 19
    assert stop.value.info["pruned_by"] == "optuna median"
    reported = study.trials[trial.number].intermediate_values
    assert reported == {10: pytest.approx(1.9), 20: pytest.approx(1.8)}  # val_rmsle, every 10
    assert "pruned at step 20" in capsys.readouterr().out


def test_pruner_none_only_reports(tmp_path):
    study, trial, folder = _tune_trial(tmp_path, {"name": "none"})
    hook = PruningHook(folder)
    for step in range(1, 41):
        hook(StepEvent(fold=1, step=step, values={"val_rmse": 9.0}))
    assert sorted(study.trials[trial.number].intermediate_values) == [10, 20, 30, 40]


def test_a_sweep_folder_still_gets_the_sweep_hook(tmp_path):
    (tmp_path / "sweep.json").write_text(json.dumps({"config": {"metric": METRIC}}))
    assert isinstance(trial_hook(tmp_path, tmp_path / "trials" / "t"), TrialHook)


# ---------------------------------------------------------------------------------------------
# real exp001 studies on small synthetic data


def _tune_cmd(space: Path, data_dir: Path, *args: str) -> list[str]:
    cmd = [str(BIN / "store-sales"), "tune", "exp001", "--config", str(space), *args]
    for name, value in {"data_dir": data_dir, **FAST}.items():
        cmd += ["-p", name, str(value)]
    return cmd


@pytest.fixture(scope="module")
def study_run(small_data_dir, tmp_path_factory):
    """`tune exp001 --trials 6 --workers 2` on a study whose first trials are enqueued: two good
    learning rates (both workers start on one), then a poor one, which the median pruner (one
    complete trial suffices) judges against the finished good trial: pruning is certain."""
    tmp = tmp_path_factory.mktemp("tune")
    space = tmp / "space.yaml"
    space.write_text(yaml.safe_dump(space_of(learning_rate={"values": [0.1, 0.003]})))
    url = st.sqlite_url(tmp / "study.db")
    study = optuna.create_study(study_name="e2e", storage=url, direction="minimize")
    for lr in (0.1, 0.1, 0.003):
        study.enqueue_trial({"learning_rate": lr})
    env = {**os.environ, "STORE_SALES_OUTPUTS": str(tmp / "outputs")}
    cmd = _tune_cmd(space, small_data_dir, "--trials", "6", "--workers", "2", "--study", "e2e")
    cmd += ["--storage", url, "--startup-trials", "1", "--warmup-steps", "10", "--seed", "0"]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return tmp / "outputs" / "tune" / "e2e", url, done.stdout


@pytest.mark.e2e
def test_two_workers_finish_with_pruned_and_complete_trials(study_run):
    folder, url, out = study_run
    study = optuna.load_study(study_name="e2e", storage=url)
    states = [t.state.name for t in study.trials]
    assert len(states) == 6 and "PRUNED" in states and "COMPLETE" in states, states
    assert states[:3] == ["COMPLETE", "COMPLETE", "PRUNED"]  # the enqueued ones
    for t in study.trials:
        metrics = runner.read_metrics(t.user_attrs["dir"])
        assert metrics["status"] == "finished" and metrics["refit"] == "skipped-sweep-trial"
        pruned = t.state.name == "PRUNED"
        assert ("stopped" in metrics) == pruned  # the run folder says it was pruned
        if pruned:
            assert metrics["stopped"]["pruned_by"] == "optuna median"
            assert max(t.intermediate_values) == metrics["stopped"]["stopped_at_round"]
        assert t.user_attrs["params"]["num_threads"] == 1
    assert out.count("] trial ") == 6 and "ETA" in out
    table = (folder / "results.csv").read_text().splitlines()
    assert table[0].startswith("trial,state,val/rmsle,") and len(table) == 7
    assert table[1].split(",")[1] == "complete"
    for stem in ("optimization_history", "intermediate_values"):
        assert (folder / f"{stem}.png").stat().st_size > 10_000
    # importances need two distinct values among complete trials: drawn, or said why not
    assert (folder / "param_importances.png").is_file() or "no param_importances" in out


@pytest.mark.e2e
def test_the_leaderboard_sees_every_trial(study_run):
    from store_sales import leaderboard

    folder, _, _ = study_run
    assert len(leaderboard.scan(folder)) == 6


@pytest.mark.e2e
def test_best_yaml_reruns_to_the_same_score(study_run, tmp_path):
    folder, url, _ = study_run
    best = folder / "best.yaml"
    params = yaml.safe_load(best.read_text())
    assert not {"output_dir", "sweep_dir", "wandb_group", "wandb_mode"} & set(params)
    assert params["learning_rate"] == 0.1
    out = tmp_path / "rerun"
    cmd = [str(BIN / "store-sales"), "run", "exp001", "-q", "-f", str(best), "-p", "output_dir"]
    subprocess.run([*cmd, str(out)], check=True, capture_output=True)
    top = optuna.load_study(study_name="e2e", storage=url).best_trial
    rerun = runner.read_metrics(out)
    assert rerun["val_rmsle"] == top.value
    assert rerun["refit"] != "skipped-sweep-trial"  # a full run: refit and submission
    assert (out / "submission.csv").is_file()


@pytest.mark.e2e
def test_two_processes_share_one_sqlite_study(small_data_dir, tmp_path):
    """Optuna's distributed mode: two `tune` processes (two 'machines', each with its own
    outputs folder) on one storage, started together."""
    space = tmp_path / "space.yaml"
    space.write_text(
        yaml.safe_dump(space_of(learning_rate={"min": 0.05, "max": 0.2}, lambda_l2={"value": 1.0}))
    )
    url = st.sqlite_url(tmp_path / "shared.db")
    procs = []
    for machine in ("a", "b"):
        env = {**os.environ, "STORE_SALES_OUTPUTS": str(tmp_path / machine)}
        cmd = _tune_cmd(space, small_data_dir, "--trials", "2", "--study", "shared")
        cmd += ["--storage", url, "--pruner", "none"]
        procs.append(
            subprocess.Popen(
                cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
            )
        )
    outputs = [p.communicate(timeout=600)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [o[-2000:] for o in outputs]
    study = optuna.load_study(study_name="shared", storage=url)
    numbers = sorted(t.number for t in study.trials)
    assert numbers == [0, 1, 2, 3]  # 2 + 2, distinct
    assert all(t.state.name == "COMPLETE" for t in study.trials)
    folders = {
        m: sorted(p.name for p in (tmp_path / m / "tune" / "shared" / "trials").iterdir())
        for m in "ab"
    }
    assert len(folders["a"]) == len(folders["b"]) == 2
    assert sorted(folders["a"] + folders["b"]) == [f"trial-{n:04d}" for n in numbers]
    assert all(t.user_attrs["params"]["lambda_l2"] == 1.0 for t in study.trials)  # a constant
    # each machine's summary covers the whole study
    for m in "ab":
        rows = (tmp_path / m / "tune" / "shared" / "results.csv").read_text().splitlines()
        assert len(rows) == 5


@pytest.mark.e2e
def test_tune_bundle_runs_like_on_kaggle(kaggle_python, small_data_dir, tmp_path):  # noqa: F811
    """The tune notebook bundled for Kaggle: no store_sales installed (the bundle carries it),
    Optuna and sqlite as Kaggle's image has them, trials as exp001 kernels from the bundle."""
    notebook = REPO_ROOT / "notebooks" / "tune.ipynb"
    code = [c for c in nbformat.read(notebook, as_version=4).cells if c.cell_type == "code"]
    assert len(code) <= 6 and all(not c.outputs and c.execution_count is None for c in code)
    params = {
        "data_dir": str(small_data_dir),
        "trials": 2,
        "study": "kaggle",
        "pruner": "none",
        "config": str(REPO_ROOT / "configs" / "sweep.yaml"),
        "fixed": {k: v for k, v in FAST.items() if k != "num_threads"},
    }
    params["study_dir"] = str(tmp_path / "working" / "tune")
    folder = _run_like_kaggle(notebook, params, kaggle_python, tmp_path) / "tune"
    rows = (folder / "results.csv").read_text().splitlines()
    assert len(rows) == 3 and all(",complete," in r for r in rows[1:])
    assert (folder / "best.yaml").is_file() and (folder / "study.db").is_file()
