"""The tracker registry: trackers by name, imported lazily, each owning its entry of a finished
run. A test double tracker -- one module written here plus one registry line -- receives the
calls of a real in-process exp001 run and shows up in the closing lines (live and `run -q`),
the leaderboard, `runs show`, the public score of `submit`, and a blend member's lineage,
without any other module knowing its name."""

from __future__ import annotations

import json
import sys
import textwrap

import pytest
from helpers import QUICK, run_notebook_calls

from store_sales import blend, cli, config, submit, tracker_registry
from store_sales import leaderboard as lb
from store_sales.errors import ConfigError, UserError
from store_sales.templates.exp001 import Exp001Config
from store_sales.trackers import Trackers, make_tracker

# The whole of a new tracker: its live part (what a run calls) and its record (a finished
# run's entry in metrics.json). A real one would import its library in the live part only.
FAKE_MODULE = """
from store_sales.tracker_registry import TrackerRecord
from store_sales.trackers import Tracker

CALLS = []  # (method, first argument) of every call the live tracker got
LATE = []  # what log_later wrote to a finished run


class FakeRecord(TrackerRecord):
    name = "fake"
    title = "Fake"
    live = "fake_tracker:FakeTracker"

    @classmethod
    def open(cls, cfg):
        return cls.live_class()(cfg.exp_name)

    @classmethod
    def closing_lines(cls, entry):
        return [f"Fake run {entry['run_id']} in project {entry['project']}"]

    @classmethod
    def columns(cls, entry):
        return {"fake_run": entry["run_id"]}

    @classmethod
    def describe(cls, entry):
        return f"run {entry['run_id']}"

    @classmethod
    def log_later(cls, entry, config, values):
        LATE.append((entry["run_id"], values))
        return f"Fake: run {entry['run_id']} got {sorted(values)}"

    @classmethod
    def lineage(cls, entry):
        return {"run_id": entry["run_id"]}


class FakeTracker(Tracker):
    name = "fake"
    record = FakeRecord

    def __init__(self, project):
        self.project = project

    def start(self, info):
        CALLS.append(("start", info.name))

    def on_step(self, event):
        CALLS.append(("on_step", event.step))

    def log(self, metrics):
        CALLS.append(("log", sorted(metrics)))

    def results(self, metrics):
        CALLS.append(("results", metrics["val_rmsle"]))

    def artifact(self, name, kind, files, metadata=None, aliases=("latest",)):
        CALLS.append(("artifact", kind))

    def finish(self, exit_code):
        CALLS.append(("finish", exit_code))
        return {"run_id": "fake-0001", "project": self.project}
"""


@pytest.fixture
def fake(tmp_path, monkeypatch):
    """The fake tracker module on sys.path and its one registry line; the module itself."""
    (tmp_path / "fake_tracker.py").write_text(textwrap.dedent(FAKE_MODULE))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "fake_tracker", raising=False)
    monkeypatch.setitem(tracker_registry.REGISTRY, "fake", "fake_tracker:FakeRecord")
    assert "fake_tracker" not in sys.modules  # registering imports nothing
    yield
    sys.modules.pop("fake_tracker", None)


@pytest.fixture
def fake_run(fake, small_data_dir, tmp_path, capsys):
    """A real exp001 run in this process, recorded by the fake tracker only."""
    cfg = Exp001Config(
        data_dir=str(small_data_dir),
        output_dir=str(tmp_path / "run"),
        tracker="fake",
        exp_name="exp001",
        # a real LightGBM run, as short as the calls it checks allow (four tests run it)
        **{**QUICK["exp001"], "num_boost_round": 20, "n_origins": 4},
    )
    run, metrics = run_notebook_calls(cfg)
    return run.dir, metrics, capsys.readouterr().out, sys.modules["fake_tracker"]


def test_a_registered_tracker_gets_the_runs_calls_and_its_entry(fake_run):
    folder, metrics, _, module = fake_run
    kinds = [c[0] for c in module.CALLS]
    assert kinds[0] == "start" and kinds[-1] == "finish" and module.CALLS[-1] == ("finish", 0)
    assert kinds.count("on_step") >= 2  # the boosting rounds' curves
    assert ("results", metrics["val_rmsle"]) in module.CALLS
    assert {"model", "submission"} <= {c[1] for c in module.CALLS if c[0] == "artifact"}
    on_disk = json.loads((folder / "metrics.json").read_text())
    assert on_disk["fake"] == {"run_id": "fake-0001", "project": "exp001"}
    assert on_disk["tracker"] == "fake"


def test_its_closing_lines_live_and_from_metrics_json_are_the_same(fake_run):
    folder, metrics, printed, _ = fake_run
    line = "Fake run fake-0001 in project exp001"
    assert line in printed.splitlines()  # what run.finish() printed at the end
    assert line in cli._summary(folder, metrics).splitlines()  # `store-sales run -q`


def test_it_shows_up_in_the_leaderboard_and_runs_show(fake_run, capsys):
    folder, *_ = fake_run
    assert cli.main(["runs", str(folder.parent), "--format", "json"]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert row["tracker"] == "fake" and row["fake_run"] == "fake-0001"
    assert "Fake             run fake-0001" in lb.show(lb.load(folder)).splitlines()


def test_it_gets_the_public_score_and_is_a_blend_members_lineage(fake_run, capsys):
    folder, _, _, module = fake_run
    submit.record_score(lb.load(folder), 0.41234)
    assert module.LATE == [("fake-0001", {"public_lb": 0.41234})]
    assert "Fake: run fake-0001 got ['public_lb']" in capsys.readouterr().out
    member = blend.Member(lb.load(folder), None, None, None)
    assert member.lineage()["fake"] == {"run_id": "fake-0001"}
    assert "wandb" not in member.lineage()  # only trackers that recorded the run


def test_registered_names_are_the_valid_tracker_values(fake):
    assert "fake" in config.TRACKERS and {"wandb", "mlflow", "both", "none"} <= set(config.TRACKERS)
    assert Exp001Config(tracker="fake").problems() == []
    assert Exp001Config(tracker="wandb+fake").problems() == []
    with pytest.raises(ConfigError, match=r"tracker='fak' is not one of \("):
        Exp001Config(tracker="fak")
    assert tracker_registry.members("both") == ("wandb", "mlflow")
    assert tracker_registry.members("none") == ()


def test_names_joined_by_plus_fan_out_to_each(fake):
    cfg = Exp001Config(tracker="fake+fake")
    tracker = make_tracker(cfg)
    assert isinstance(tracker, Trackers) and [t.name for t in tracker.members] == ["fake"] * 2


def test_a_tracker_whose_library_is_missing_is_one_line():
    record = type(
        "R",
        (tracker_registry.TrackerRecord,),
        {"name": "gone", "live": "no_such_tracking_lib_here:Tracker", "library": "gonelib"},
    )
    with pytest.raises(UserError, match=r"tracker=gone needs gonelib .*`pip install gonelib`"):
        record.live_class()


@pytest.mark.parametrize("name", sorted(tracker_registry.REGISTRY))
def test_every_registry_line_names_a_record_and_its_live_tracker(name):
    record = tracker_registry.record(name)
    assert record.name == name
    pytest.importorskip(record.library or name)
    live = record.live_class()
    assert live.name == name and live.record is record


def test_wandb_and_mlflow_record_the_headline_under_metrics_json_names(exp001_run):
    """W&B's summary has metrics.json's names (`val_rmsle`, `cv_rmsle_mean`), as MLflow's
    metrics do (test_mlflow), beside the history's `val/rmsle`; docs/trackers.md's table."""
    from helpers import by_type, leet_records

    summary = {}
    for s in by_type(leet_records(exp001_run), "summary"):
        summary.update(s["update"])
    metrics = json.loads((exp001_run / "metrics.json").read_text())
    for key in ("val_rmsle", "val_rmsle_alive", "cv_rmsle_mean", "cv_rmsle_std", "best_step"):
        assert summary[key] == pytest.approx(metrics[key]), key
    assert summary["cv_rmsle_fold_3"] == pytest.approx(metrics["cv_rmsle_fold_3"])


def test_reading_finished_runs_imports_no_tracking_library():
    """`store-sales runs` and `run -q` read every tracker's entry without wandb or mlflow (a
    fresh interpreter: this one has imported both already)."""
    import subprocess

    code = (
        "import sys\n"
        "from store_sales import cli\n"
        "from store_sales.tracker_registry import recorded\n"
        "m = {'wandb': {'mode': 'offline', 'run_id': 'a', 'dir': '/w'},\n"
        "     'mlflow': {'run_id': 'b', 'uri': 'sqlite:///m.db', 'model': 'runs:/b/model'}}\n"
        "lines = [x for r, e in recorded(m) for x in r.closing_lines(e) + [r.describe(e)]]\n"
        "print(len(lines), 'wandb' in sys.modules, 'mlflow' in sys.modules)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    ).stdout
    assert out.split() == ["7", "False", "False"]
