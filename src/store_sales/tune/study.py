"""The Optuna study: its storage (sqlite beside the run folders, or any RDB URL), samplers and
pruners from plain settings (a kernel rebuilds the same pruner from a trial's state file), and
the trial folders.

    <study>/study.db        the study (sqlite; absent with --storage URL)
    <study>/study.json      what this folder holds: name, storage, template, sampler, pruner
    <study>/tune.yaml       the search-space file as given
    <study>/trials/trial-NNNN/   a template run folder, plus tune.json (the Optuna trial it is)
"""

from __future__ import annotations

import time
import warnings
from pathlib import Path

from ..jsonio import read_json, to_jsonable, write_json
from ..search.trials import numbered_trial, trials_root
from .quiet import import_optuna
from .space import TuneError

STUDY_FILE = "study.json"
FOLDER_ATTR = "store_sales_tune"  # the study's user attr: what study.json holds, storage aside
TRIAL_STATE = "tune.json"  # in a trial folder (its output_dir): the pruning hook reads it
SQLITE_TIMEOUT_S = 60  # several workers and their kernels write one sqlite file
SAMPLERS = ("tpe", "random", "grid")
PRUNERS = ("median", "hyperband", "none")
SAMPLER_OF_METHOD = {"bayes": "tpe", "random": "random", "grid": "grid"}
HEARTBEAT_S = 20  # a controller's trials' heartbeat interval (--heartbeat)
GRACE_HEARTBEATS = 3  # a trial without a heartbeat for this many intervals is dead
MAX_RETRY = 2  # a dead worker's trial is re-queued at most this many times


def requeue_s(heartbeat: int) -> int:
    """The longest a dead worker's trial waits before a surviving controller fails it and
    re-queues a copy: its grace period, plus one interval until a survivor's next check."""
    return (GRACE_HEARTBEATS + 1) * heartbeat


def _heartbeat_kwargs(heartbeat: int) -> dict:
    """RDBStorage's heartbeat arguments: a stale trial failed after GRACE_HEARTBEATS intervals
    and re-queued (Optuna 4.9 renamed the callback argument; Kaggle's image has 4.8)."""
    import inspect

    optuna = import_optuna()
    storages = optuna.storages
    retry = getattr(storages, "RetryHeartbeatStaleTrialCallback", None)
    retry = retry or storages.RetryFailedTrialCallback
    takes = inspect.signature(storages.RDBStorage).parameters
    callback = (
        "heartbeat_stale_trial_callback"
        if "heartbeat_stale_trial_callback" in takes
        else "failed_trial_callback"
    )
    with warnings.catch_warnings():  # the retry callback is flagged experimental
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        requeue = retry(max_retry=MAX_RETRY)
    return {
        "heartbeat_interval": int(heartbeat),
        "grace_period": GRACE_HEARTBEATS * int(heartbeat),
        callback: requeue,
    }


def storage(url: str, heartbeat: int | None = None):
    """Optuna's RDB storage; sqlite waits for a busy file instead of failing at once. With
    `heartbeat` (seconds), the storage fails and re-queues trials whose heartbeat stopped
    (`fail_stale_trials`)."""
    optuna = import_optuna()

    kwargs = {"connect_args": {"timeout": SQLITE_TIMEOUT_S}} if url.startswith("sqlite") else {}
    beats = _heartbeat_kwargs(heartbeat) if heartbeat else {}
    # two processes creating one new file race on its schema (tables, alembic_version)
    racing = ("locked", "already exists", "UNIQUE constraint failed: alembic_version")
    for attempt in range(5):
        try:
            with warnings.catch_warnings():  # heartbeat_interval is flagged experimental
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                return optuna.storages.RDBStorage(url, engine_kwargs=kwargs, **beats)
        except Exception as err:  # sqlalchemy's OperationalError/IntegrityError
            if not any(m in str(err) for m in racing) or attempt == 4:
                raise
            time.sleep(0.5 * (attempt + 1))
    raise AssertionError("unreachable")


def make_pruner(settings: dict):
    optuna = import_optuna()

    name = settings["name"]
    if name == "median":
        return optuna.pruners.MedianPruner(
            n_startup_trials=settings["n_startup_trials"],
            n_warmup_steps=settings["n_warmup_steps"],
        )
    if name == "hyperband":
        return optuna.pruners.HyperbandPruner(
            min_resource=settings["min_resource"], reduction_factor=settings["reduction_factor"]
        )
    return optuna.pruners.NopPruner()


def pruner_settings(name: str, config: dict, startup_trials: int, warmup_steps: int | None) -> dict:
    """The pruner as plain settings. The YAML's `early_terminate` (hyperband min_iter, eta)
    gives hyperband its resources and the median pruner its warm-up: the same caution about
    judging slow starters early."""
    early = config.get("early_terminate") or {}
    if name == "median":
        warm = warmup_steps if warmup_steps is not None else int(early.get("min_iter", 0))
        return {"name": name, "n_startup_trials": startup_trials, "n_warmup_steps": warm}
    if name == "hyperband":
        return {
            "name": name,
            "min_resource": warmup_steps or int(early.get("min_iter", 1)),
            "reduction_factor": int(early.get("eta", 3)),
        }
    return {"name": "none"}


def make_sampler(name: str, seed: int | None, grid: dict | None = None):
    optuna = import_optuna()

    if name == "tpe":
        # constant_liar: parallel workers do not all get the same suggestion. Optuna 5 has it on
        # by default; 4.x (Kaggle's 4.8) has it off and flags the argument experimental.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return optuna.samplers.TPESampler(seed=seed, constant_liar=True)
    if name == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    return optuna.samplers.GridSampler(grid, seed=seed)


def open_study(
    name: str, url: str, sampler=None, pruner=None, create: bool = False, heartbeat=None
):
    optuna = import_optuna()

    store = storage(url, heartbeat)
    if create:
        return optuna.create_study(
            study_name=name,
            storage=store,
            direction="minimize",
            sampler=sampler,
            pruner=pruner,
            load_if_exists=True,
        )
    return optuna.load_study(study_name=name, storage=store, sampler=sampler, pruner=pruner)


def adopt(study, identity: dict) -> int:
    """Tie the study to one template, search space and fixed parameters (in the study itself,
    so every machine sharing it agrees); refuse a resume that changed them. Returns the number
    of earlier trials (enqueued ones not counted)."""
    identity = to_jsonable(identity)
    attrs = study.user_attrs
    if "store_sales" in attrs and attrs["store_sales"] != identity:
        made = attrs["store_sales"]
        words = {"template": "template", "config": "search space", "fixed": "fixed parameters"}
        differ = [w for k, w in words.items() if made.get(k) != identity.get(k)]
        was = f" (it tunes {made.get('template')})" if "template" in differ[:1] else ""
        raise TuneError(
            f"study {study.study_name} was made with another {' and '.join(differ)}{was}; "
            "resume it with the same ones, or pick a new --study"
        )
    if "store_sales" not in attrs:
        study.set_user_attr("store_sales", identity)
    TrialState = import_optuna().trial.TrialState

    return sum(t.state != TrialState.WAITING for t in study.trials)


def trial_id(store, name: str, number: int) -> int:
    """The storage's id of study `name`'s trial `number` (the storage's public API; Optuna's
    Trial and FrozenTrial keep theirs private)."""
    return store.get_trial_id_from_study_id_trial_number(store.get_study_id_from_name(name), number)


def trial_of(name: str, url: str, number: int, pruner=None):
    """The live `optuna.trial.Trial` number `number` of study `name`, rebuilt in another
    process (the kernel reports to the trial its controller asked for)."""
    optuna = import_optuna()

    store = storage(url)
    study = optuna.load_study(
        study_name=name,
        storage=store,
        # the sampler is never asked here; a random one keeps the kernel from fitting TPE
        sampler=optuna.samplers.RandomSampler(),
        pruner=pruner,
    )
    return optuna.trial.Trial(study, trial_id(store, name, number))


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{Path(path).resolve()}"


def write_folder(folder: Path, state: dict, source: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    trials_root(folder).mkdir(exist_ok=True)
    if source and not (folder / "tune.yaml").is_file():
        (folder / "tune.yaml").write_text(source)
    write_json(folder / STUDY_FILE, to_jsonable(state))


def read_folder(folder: Path) -> dict:
    return read_json(Path(folder) / STUDY_FILE)


def folder_from_study(folder: Path, name: str, url: str) -> dict:
    """study.json for `folder` rebuilt from the study alone (its FOLDER_ATTR): `tune --results`
    on a machine that never ran a trial of it."""
    try:
        study = open_study(name, url)
    except KeyError as err:  # optuna: no such study in the storage
        raise TuneError(f"no study {name!r} in {url}") from err
    described = study.user_attrs.get(FOLDER_ATTR)
    if not described:
        raise TuneError(f"study {name!r} in {url} was not made by store-sales tune")
    state = {**described, "storage": url}
    write_folder(folder, state, "")
    return state


def trial_dir(folder: Path, number: int) -> Path:
    """The Optuna trial's folder, `trials/trial-NNNN` (the search layer's convention)."""
    return numbered_trial(folder, number, digits=4)


def write_trial_state(path: Path, state: dict) -> None:
    write_json(path / TRIAL_STATE, {"optuna": to_jsonable(state)})


def read_trial_state(path: Path) -> dict:
    return read_json(Path(path) / TRIAL_STATE).get("optuna", {})
