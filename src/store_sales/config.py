"""Config dataclasses: the fields every template shares, composed into each template's config.

A template's config is flat (its fields are the notebook's papermill parameters and the tracked
config), built from small bases so that run and validation fields are declared once:

    @dataclass
    class Exp002Config(BoostingFields, TemplateConfig, template="exp002"):
        learning_rate: float = 0.05  # XGBoost's eta
        ...
"""

from __future__ import annotations

import ast
import inspect
import io
import re
import tokenize
from collections.abc import Sequence
from dataclasses import MISSING, asdict, dataclass, field, fields, make_dataclass
from typing import Any, ClassVar

from . import tracker_registry
from .errors import ConfigError, UserError

WANDB_MODES = ("auto", "online", "offline", "disabled")
# fields that say where a run went and who recorded it, not what it tried: never in its notes
PLUMBING = frozenset(
    {
        "output_dir",
        "sweep_dir",
        "tracker",
        "wandb_mode",
        "wandb_project",
        "wandb_entity",
        "wandb_group",
        "mlflow_uri",
        "mlflow_register",
    }
)


def __getattr__(name: str) -> Any:
    # TRACKERS, the valid `tracker` values, is read from the registry each time: a tracker
    # registered at run time (a plugin, a test double) is valid at once
    if name == "TRACKERS":
        return tracker_registry.names()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@dataclass
class TrackingFields:
    """Identity, output folder and tracking: what every notebook that makes a run has."""

    # run: its name, folder and trackers
    exp_name: str = "exp001"
    output_dir: str = ""  # "" -> outputs/<exp_name>/<run name>; must not hold another run
    tracker: str = "wandb"  # wandb | mlflow | both | none (the run folder records every run)
    wandb_mode: str = "auto"  # auto | online | offline | disabled
    wandb_project: str = "store-sales"
    wandb_entity: str = ""
    wandb_group: str = ""  # "" -> exp_name; a sweep puts its trials in one group
    mlflow_uri: str = ""  # "" -> $MLFLOW_TRACKING_URI, else sqlite:///outputs/mlflow.db
    mlflow_register: str = ""  # a name: MLflow registers the run's model as a new version of it

    def problems(self) -> list[str]:
        out = []
        try:
            tracker_registry.members(self.tracker)
        except UserError as err:
            out.append(str(err))
        if self.wandb_mode not in WANDB_MODES:
            out.append(f"wandb_mode={self.wandb_mode!r} is not one of {WANDB_MODES}")
        if not re.fullmatch(r"[A-Za-z0-9_.-]+", self.exp_name or ""):
            out.append(f"exp_name={self.exp_name!r}: use letters, digits, '_', '-', '.'")
        return out


@dataclass
class RunFields(TrackingFields):
    """A model template's run: tracking, plus its data, sweep hook and seed."""

    # data, sweep trials, seed
    data_dir: str = ""  # "" -> Kaggle input, else data/raw/<competition>, else synthetic data
    sweep_dir: str = ""  # set by the local sweep runner: lets hyperband stop this trial early
    seed: int = 42


_RENAMED: dict[tuple, type] = {}
_LITERALS = (bool, int, float, str)
PAPERMILL_CELL = "# Parameters"  # the first line of the cell papermill injects


@dataclass(frozen=True)
class Param:
    """One variable of a notebook's parameters cell: `name = default  # help`. The cell is the
    schema: a variable added there is a parameter (its type from the default), checked before
    the kernel, recorded in config.json and the trackers, listed, tuned and copied by `new`."""

    name: str
    default: Any
    help: str = ""

    @property
    def kind(self) -> type:
        value = self.default
        return type(value) if isinstance(value, _LITERALS) else Any


def cell_parameters(source: str) -> list[Param] | None:
    """The parameters a cell of plain `name = literal` lines declares, in order, each with its
    trailing comment as help; None when the cell is anything else (code, an import)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return None
    out = []
    for node in tree.body:
        if not (isinstance(node, ast.Assign) and len(node.targets) == 1):
            return None
        target = node.targets[0]
        if not isinstance(target, ast.Name):
            return None
        try:
            value = ast.literal_eval(node.value)
        except ValueError:
            return None
        out.append(Param(target.id, value, ""))
    comments = _line_comments(source)
    return [
        Param(p.name, p.default, comments.get(node.end_lineno, ""))
        for p, node in zip(out, tree.body, strict=True)
    ]


def _line_comments(source: str) -> dict[int, str]:
    """line number -> the text of a comment that ends that line."""
    out = {}
    try:
        for tok in tokenize.generate_tokens(io.StringIO(source).readline):
            if tok.type == tokenize.COMMENT:
                out[tok.start[0]] = tok.string.lstrip("#").strip()
    except (tokenize.TokenError, SyntaxError):
        pass
    return out


def notebook_parameters(namespace: dict[str, Any]) -> list[Param]:
    """In a kernel whose globals are `namespace`: the parameters of the parameters cell it ran
    last (a re-run edited cell wins), plus any name only papermill's injected cell sets; []
    outside a kernel. Only cells run before the current one count."""
    try:
        from IPython import get_ipython
    except ImportError:
        return []
    shell = get_ipython()
    if shell is None or shell.user_ns is not namespace:
        return []
    declared: dict[str, Param] = {}
    injected: dict[str, Param] = {}
    for source in (namespace.get("In") or [])[1:-1]:
        found = cell_parameters(source) if source.strip() else None
        if not found:
            continue
        if source.lstrip().splitlines()[0].strip() == PAPERMILL_CELL:
            injected.update({p.name: p for p in found})
        else:
            declared = {p.name: p for p in found}  # the latest parameters cell is the schema
    return [*declared.values(), *(p for n, p in injected.items() if n not in declared)]


def _field(default: Any, metadata) -> Any:
    if isinstance(default, (list, dict, set)):
        return field(default_factory=lambda: type(default)(default), metadata=metadata)
    return field(default=default, metadata=metadata)


class Checked:
    """For config dataclasses: every bad value at once (`problems()`), refused at creation;
    built from a notebook's globals; the parameters that differ from the defaults."""

    def __post_init__(self) -> None:
        # types first: a range check on a wrong type would raise TypeError instead of saying so
        found = type_problems(self) or self.problems()
        if found:
            raise ConfigError("Invalid config: " + "; ".join(found))

    def problems(self) -> list[str]:
        return []

    @classmethod
    def from_params(cls, namespace: dict[str, Any], template: str = ""):
        """Build from a notebook's globals: this config's fields, and every other variable of
        the notebook's parameters cell (its schema, see `Param`). `template`: the notebook's
        name, when it shares this config class with another template.

        In a kernel (`namespace` is IPython's), the parameters cell is read from the cells it
        has run (papermill's injected cell only overrides values); a plain dict gives values
        for the class's fields alone."""
        cell = notebook_parameters(namespace)
        if template or cell:
            cls = cls.for_template(template or getattr(cls, "TEMPLATE", ""), cell)
        values = {f.name: namespace[f.name] for f in fields(cls) if f.name in namespace}
        return cls(**values)

    @classmethod
    def for_template(cls, name: str, params: Sequence[Param] = ()) -> type:
        """This config class for a template notebook: TEMPLATE and the `exp_name` default
        become `name` (`store-sales new exp006 --from exp001` shares exp001's class), and every
        parameter of its parameters cell is a field, with the cell's default (`params`)."""
        own = {f.name: f for f in fields(cls)}
        # a copied cell's `exp_name = "exp001"` names its source: the copy's default is its own
        params = tuple(
            p
            for p in params
            if not (p.name == "exp_name" and p.default == getattr(cls, "TEMPLATE", None))
        )
        if getattr(cls, "TEMPLATE", name) == name and all(
            p.name in own and own[p.name].default == p.default for p in params
        ):
            return cls
        key = (cls, name, tuple((p.name, repr(p.default), p.help) for p in params))
        if key not in _RENAMED:
            extra: dict[str, tuple] = {}
            if name and name != getattr(cls, "TEMPLATE", name):
                extra["exp_name"] = (str, field(default=name))
            for p in params:
                if p.name in own:  # the cell's default; the class's type and checks
                    known = own[p.name]
                    extra[p.name] = (known.type, _field(p.default, known.metadata))
                else:
                    extra[p.name] = (p.kind, _field(p.default, {"help": p.help}))
            _RENAMED[key] = make_dataclass(
                f"{cls.__name__}_{name or 'notebook'}",
                [(n, t, f) for n, (t, f) in extra.items()],
                bases=(cls,),
                namespace={
                    "TEMPLATE": name or getattr(cls, "TEMPLATE", ""),
                    "__module__": cls.__module__,
                    "RENAMED_FROM": getattr(cls, "RENAMED_FROM", cls.__name__),
                },
            )
        return _RENAMED[key]

    def changed(self) -> dict[str, Any]:
        """Settings that differ from the defaults (the run's notes); where the run went and
        which tracker recorded it are left out (PLUMBING)."""
        default = type(self)()
        return {
            k: v for k, v in asdict(self).items() if k not in PLUMBING and getattr(default, k) != v
        }


@dataclass
class ValidationFields:
    """The horizon-honest layout: folds, training origins, the zero rule, the test refit.

    Fold k validates the 16 days after origin `last_train_day - 16*k`; fold 1 is the one
    nearest the test (its score is `val_rmsle`).
    """

    # validation layout
    n_folds: int = 1  # time-series CV folds, each 16 days earlier than the last
    n_origins: int = 26  # training origins per fit (26 x 14 days: a year of seasons)
    origin_stride: int = 14  # days between training origins (multiples of 7 keep the weekday)
    zero_window: int = 56  # series with no sales in these many days before the origin -> 0
    refit: bool = True  # refit on origins moved 16 days later with the validated step count

    def problems(self) -> list[str]:
        return at_least_one(self, "n_folds", "n_origins", "origin_stride", "zero_window")


@dataclass
class FeatureFields:
    """Which features the rows carry: groups and names of `store_sales.features`, built-in or
    registered in the notebook (`store-sales run exp001 --list-features`)."""

    # features (store-sales run TEMPLATE --list-features)
    features: str = "default"  # e.g. "default,-yearly,+my_feature" (- drops, + adds)

    def problems(self) -> list[str]:
        return [] if self.features.strip() else ["features is empty: start from 'default'"]


@dataclass
class TemplateConfig(Checked, FeatureFields, ValidationFields, RunFields):
    """Base of every model template's config (fields: run, validation, features); subclasses add
    model fields and their checks. Field names are the notebook's papermill parameters; `asdict`
    of a config is the tracked config.

    `class Exp006Config(TemplateConfig, template="exp006")` names the template once: TEMPLATE
    and the `exp_name` default. The model's name is not the config's: it is the adapter's, read
    from the notebook's model cell (templates.labels), so a copy is named by what it trains."""

    TEMPLATE: ClassVar[str] = ""  # the notebook's stem, key of the template registry

    def __init_subclass__(cls, template: str = "", **kwargs):
        super().__init_subclass__(**kwargs)
        if template:
            cls.TEMPLATE = template
            own = inspect.get_annotations(cls)
            if "exp_name" not in own:
                # @dataclass runs after this hook: a field redeclared here keeps its place
                cls.__annotations__ = {**own, "exp_name": "str"}
                cls.exp_name = template

    def problems(self) -> list[str]:
        """Every bad value at once; a subclass extends `super().problems()`."""
        return (
            RunFields.problems(self)
            + ValidationFields.problems(self)
            + FeatureFields.problems(self)
        )


@dataclass
class BoostingFields:
    """A GBDT's fit: patience, printout and threads (exp001, exp002, exp004). A mixin listed
    before TemplateConfig: `class ExpConfig(BoostingFields, TemplateConfig)`."""

    # boosting: early stopping, printout, threads
    early_stopping_rounds: int = 100  # rounds without a better validation score before stopping
    log_period: int = 100  # rounds between two printed scores (0: none)
    num_threads: int = 0  # 0: the cores free when training starts (threads.py)

    def problems(self) -> list[str]:
        out = [*super().problems(), *at_least_one(self, "early_stopping_rounds")]
        out += [
            f"{n}={getattr(self, n)!r} must be >= 0"
            for n in ("log_period", "num_threads")
            if getattr(self, n) < 0
        ]
        return out


_KINDS = {  # a field's annotation -> the values it takes, and how to say so
    "bool": ((bool,), "true or false"),
    "int": ((int,), "an integer"),
    "float": ((int, float), "a number"),
    "str": ((str,), "a string"),
}


def parameters_source(cls) -> str:
    """The `parameters` cell of a notebook whose config is `cls`: one `name = default  # comment`
    line per field, in field order, with the section comments of the classes that declare them.

    Every template notebook's cell is this text (tests/test_templates.py), so a parameter is
    declared once, in its dataclass; `store-sales new` writes it for the new template."""
    comments: dict[str, str] = {}
    headers: dict[str, list[str]] = {}
    for klass in reversed(cls.__mro__):
        try:
            lines = inspect.getsource(klass).splitlines()
        except (OSError, TypeError):  # a class made at run time (for_template): its bases say it
            continue
        pending: list[str] = []
        for line in lines:
            text = line.strip()
            if text.startswith("#"):
                pending.append(text)
                continue
            match = _FIELD_LINE.match(line)
            if match and match["name"] in cls.__dataclass_fields__:
                name = match["name"]
                if match["comment"]:
                    comments[name] = match["comment"]
                if pending and name not in headers:
                    headers[name] = pending
            pending = []
    out = [
        "# Parameters: papermill overrides these (`-p name value`); defaults from "
        f"{getattr(cls, 'RENAMED_FROM', cls.__name__)}."
    ]
    for f in fields(cls):
        out += headers.get(f.name, [])
        comment = comments.get(f.name, "")
        if "=" in comment:  # papermill drops a parameter line whose comment holds one
            raise ValueError(f"{cls.__name__}.{f.name}: no '=' in its comment, please")
        value = getattr(cls, f.name) if f.default is MISSING else f.default
        out.append(f"{f.name} = {_literal(value)}" + (f"  # {comment}" if comment else ""))
    return "\n".join(out)


def _literal(value) -> str:
    """A Python literal as ruff formats it (double quotes)."""
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return repr(value)


_FIELD_LINE = re.compile(
    r"^    (?P<name>[a-z_][a-z0-9_]*): [^=#]+= [^#]+?(?:\s+#\s?(?P<comment>.*))?$"
)


def type_problems(cfg) -> list[str]:
    """Values of the wrong kind (`refit=no`, `num_leaves=abc`); a bool is not an int here. A
    number given for a text field becomes its text (`-p hidden_sizes 256` arrives as an int)."""
    out = []
    for f in fields(cfg):
        kind = _KINDS.get(f.type if isinstance(f.type, str) else f.type.__name__)
        value = getattr(cfg, f.name)
        if kind is None:
            continue
        if kind[0] == (str,) and isinstance(value, (int, float)) and not isinstance(value, bool):
            value = str(value)
            setattr(cfg, f.name, value)
        allowed, words = kind
        if not isinstance(value, allowed) or (isinstance(value, bool) and bool not in allowed):
            out.append(f"{f.name}={value!r} must be {words}")
    return out


def unit_interval(cfg, *names: str) -> list[str]:
    """Problems for fields that must lie in (0, 1] (rates and fractions)."""
    return [
        f"{n}={getattr(cfg, n)!r} must be in (0, 1]" for n in names if not 0 < getattr(cfg, n) <= 1
    ]


def at_least_one(cfg, *names: str) -> list[str]:
    return [f"{n}={getattr(cfg, n)!r} must be >= 1" for n in names if getattr(cfg, n) < 1]


@dataclass
class NotebookConfig(BoostingFields, TemplateConfig):
    """A template whose model's own fields live in its notebook's parameters cell alone (exp005):
    the shared fields (run, validation, features, early stopping, threads) and their checks
    here; the cell adds the model's, typed by their defaults (`Checked.for_template`)."""
