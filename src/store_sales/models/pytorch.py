"""PyTorch behind the adapter seam: the only module of the package that imports torch.

A tabular MLP with entity embeddings, the network a Kaggle competitor reaches for next to a
GBDT on this problem:

- every categorical input (the feature frame's `category` columns: store_nbr, family, city,
  state, type, cluster; the target day's weekday `dow`; and the horizon day `h`, a meta column
  the adapter adds as an input: how far ahead a row looks decides how much its recent level
  and its same-weekday history are worth) gets an embedding of `ceil(1.6 * n ** 0.56)`
  dimensions, at most `emb_max_dim`, over the values seen in training; index 0 is "unseen",
  a zero vector that is never trained (a store opened after training predicts as "no store");
- numeric features are standardized with means and standard deviations of the training rows
  only, clipped at ±`clip_z`, and missing values become 0 (the mean) plus a 0/1 indicator for
  every column that has missing values in training;
- [Linear → LayerNorm → SiLU (→ Dropout)] per hidden layer, then one output, plus a linear
  "wide" path from the numeric inputs straight to the output (most of a series' next level is a
  linear mix of its trailing means; the deep part learns the rest);
- the target log1p(sales) is standardized with the training mean/std; loss MSE; AdamW with a
  per-batch schedule (linear warmup then cosine decay, one-cycle or constant) laid out over
  `max_epochs`; gradients clipped at `grad_clip`;
- early stopping on the validation rows with `patience` epochs, the best epoch's weights
  restored; a refit trains exactly N epochs on the same schedule (same `max_epochs` layout, so
  its epoch k has the learning rate of the fit's epoch k) and restores nothing.

Rows are tensors built once per fit (float32; no per-row Python); batches are slices of a
seeded permutation (no DataLoader, no workers), so a fit is reproducible on CPU.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import nn

from ..threads import Governor
from .base import FitResult, ModelAdapter, StepEvent, StepHook, StopTraining, call_hooks

FORMAT = 1  # of the saved file
PREDICT_BATCH = 65536
SCHEDULES = ("cosine", "onecycle", "constant")
DEVICES = ("auto", "cpu", "cuda")


def embedding_dim(n_values: int, max_dim: int) -> int:
    """fastai's rule of thumb, capped: 7 weekdays -> 5, 33 families -> 12, 54 stores -> 15."""
    return int(max(1, min(max_dim, math.ceil(1.6 * n_values**0.56))))


# ---------------------------------------------------------------------------------------------
# preprocessing: frame -> tensors, its state learned from training rows only


@dataclass
class Preprocessing:
    numeric: list[str]  # in input order
    mean: list[float]
    std: list[float]
    indicators: list[str]  # numeric columns with a missing indicator (NaN in training)
    categorical: list[str]  # in input order (`h` included when it is an input)
    vocab: dict[str, list]  # values seen in training; input index = position + 1, 0 = unseen
    clip_z: float
    target_mean: float
    target_std: float

    @classmethod
    def learn(
        cls,
        train: pd.DataFrame,
        features: Sequence[str],
        categorical_extra: Sequence[str],
        clip_z: float,
    ) -> Preprocessing:
        features = list(features)
        categorical = [c for c in features if isinstance(train[c].dtype, pd.CategoricalDtype)]
        categorical += [c for c in categorical_extra if c not in categorical]
        numeric = [c for c in features if c not in categorical]
        mean, std, indicators = [], [], []
        for col in numeric:
            values = train[col].to_numpy(dtype=np.float64, na_value=np.nan)
            finite = np.isfinite(values)
            if not finite.all():
                indicators.append(col)
            mu = float(values[finite].mean()) if finite.any() else 0.0
            sd = float(values[finite].std()) if finite.any() else 1.0
            mean.append(mu)
            std.append(sd if sd > 1e-12 else 1.0)
        vocab = {col: _seen_values(train[col]) for col in categorical}
        target = train["target"].to_numpy(dtype=np.float64)
        sd = float(target.std())
        return cls(
            numeric=numeric,
            mean=mean,
            std=std,
            indicators=indicators,
            categorical=categorical,
            vocab=vocab,
            clip_z=float(clip_z),
            target_mean=float(target.mean()),
            target_std=sd if sd > 1e-12 else 1.0,
        )

    @property
    def n_numeric_inputs(self) -> int:
        return len(self.numeric) + len(self.indicators)

    @property
    def cardinalities(self) -> list[int]:
        return [len(self.vocab[c]) + 1 for c in self.categorical]  # + the unseen index 0

    def numeric_inputs(self, rows: pd.DataFrame) -> np.ndarray:
        """(n, numeric + indicators) float32: standardized, clipped, NaN -> 0, indicators."""
        n = len(rows)
        out = np.empty((n, self.n_numeric_inputs), dtype=np.float32)
        position = {c: j for j, c in enumerate(self.numeric)}
        for j, col in enumerate(self.numeric):
            column = out[:, j]
            column[:] = rows[col].to_numpy(dtype=np.float32, na_value=np.nan)
            column -= np.float32(self.mean[j])
            column /= np.float32(self.std[j])
        missing = ~np.isfinite(out[:, : len(self.numeric)])
        for k, col in enumerate(self.indicators):
            out[:, len(self.numeric) + k] = missing[:, position[col]]
        block = out[:, : len(self.numeric)]
        block[missing] = 0.0
        if self.clip_z > 0:
            np.clip(block, -self.clip_z, self.clip_z, out=block)
        return out

    def categorical_inputs(self, rows: pd.DataFrame) -> np.ndarray:
        """(n, categorical) int64 indices into each embedding; 0 for a value not seen in
        training (a new store, a new family), so an unseen category never fails."""
        out = np.zeros((len(rows), len(self.categorical)), dtype=np.int64)
        for j, col in enumerate(self.categorical):
            if col not in rows:
                raise KeyError(f"column {col!r} (an input of this model) is missing from the rows")
            known = pd.Index(self.vocab[col])
            column = rows[col]
            if isinstance(column.dtype, pd.CategoricalDtype):
                # map the few categories, then gather by code: no hashing of every row
                lookup = known.get_indexer(column.cat.categories) + 1
                codes = column.cat.codes.to_numpy()
                out[:, j] = np.where(codes >= 0, lookup[np.maximum(codes, 0)], 0)
            else:
                out[:, j] = known.get_indexer(column.to_numpy()) + 1
        return out

    def target(self, rows: pd.DataFrame) -> np.ndarray:
        y = rows["target"].to_numpy(dtype=np.float32)
        return ((y - self.target_mean) / self.target_std).astype(np.float32)


def _seen_values(column: pd.Series) -> list:
    if isinstance(column.dtype, pd.CategoricalDtype):
        codes = np.unique(column.cat.codes.to_numpy())
        values = column.cat.categories[codes[codes >= 0]]
    else:
        values = pd.unique(column.dropna().to_numpy())
    return sorted(_plain(v) for v in values)


def _plain(value):
    """A value torch.load(weights_only=True) can read back: int, float or str."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, bool | int | float | str):
        return value
    return str(value)


# ---------------------------------------------------------------------------------------------
# the network


@dataclass
class NetConfig:
    n_numeric: int
    cardinalities: list[int]
    emb_dims: list[int]
    hidden: list[int]
    dropout: float
    wide: bool = True


class TabularMLP(nn.Module):
    def __init__(self, cfg: NetConfig):
        super().__init__()
        self.cfg = cfg
        self.embeddings = nn.ModuleList(
            nn.Embedding(n, d, padding_idx=0)
            for n, d in zip(cfg.cardinalities, cfg.emb_dims, strict=True)
        )
        width = cfg.n_numeric + sum(cfg.emb_dims)
        layers: list[nn.Module] = []
        for size in cfg.hidden:
            layers += [nn.Linear(width, size), nn.LayerNorm(size), nn.SiLU()]
            if cfg.dropout > 0:
                layers.append(nn.Dropout(cfg.dropout))
            width = size
        self.body = nn.Sequential(*layers)
        self.head = nn.Linear(width, 1)
        self.wide = nn.Linear(cfg.n_numeric, 1, bias=False) if cfg.wide else None

    def forward(self, x_num: torch.Tensor, x_cat: torch.Tensor) -> torch.Tensor:
        parts = [x_num] + [emb(x_cat[:, j]) for j, emb in enumerate(self.embeddings)]
        out = self.head(self.body(torch.cat(parts, dim=1)))
        if self.wide is not None:
            out = out + self.wide(x_num)
        return out.squeeze(-1)


@dataclass
class TorchModel:
    """What fit/refit/load return: the network and everything that turns rows into inputs."""

    net: TabularMLP
    prep: Preprocessing
    features: list[str]  # the feature columns it was trained on (`h` may be an input too)
    epochs: int = 0  # epochs of the weights it holds
    device: str = "cpu"
    info: dict = field(default_factory=dict)


# ---------------------------------------------------------------------------------------------
# the adapter


class TorchMLPAdapter(ModelAdapter):
    name = "pytorch"
    step_unit = "epoch"
    model_file = "model.pt"

    def __init__(
        self,
        hidden_sizes: Sequence[int] = (256, 128),
        emb_max_dim: int = 16,
        dropout: float = 0.0,
        wide: bool = True,
        horizon_input: bool = True,
        lr: float = 3e-3,
        weight_decay: float = 1e-4,
        batch_size: int = 2048,
        max_epochs: int = 10,
        patience: int = 3,
        lr_schedule: str = "cosine",
        warmup_epochs: float = 1.0,
        grad_clip: float = 1.0,
        clip_z: float = 5.0,
        log_every: int = 50,
        seed: int = 42,
        device: str = "auto",
        num_threads: int = 0,
        wandb_watch: bool = False,
        verbose: bool = True,
    ):
        if lr_schedule not in SCHEDULES:
            raise ValueError(f"lr_schedule {lr_schedule!r}: one of {SCHEDULES}")
        if device not in DEVICES:
            raise ValueError(f"device {device!r}: one of {DEVICES}")
        self.hidden_sizes = [int(h) for h in hidden_sizes]
        self.emb_max_dim = int(emb_max_dim)
        self.dropout = float(dropout)
        self.wide = bool(wide)
        self.horizon_input = bool(horizon_input)
        self.lr = float(lr)
        self.weight_decay = float(weight_decay)
        self.batch_size = int(batch_size)
        self.max_epochs = int(max_epochs)
        self.patience = int(patience)
        self.lr_schedule = lr_schedule
        self.warmup_epochs = float(warmup_epochs)
        self.grad_clip = float(grad_clip)
        self.clip_z = float(clip_z)
        self.log_every = int(log_every)
        self.seed = int(seed)
        self.device = device
        self.num_threads = int(num_threads)
        self._governor: Governor | None = None  # the running fit's, re-checked per batch
        self.wandb_watch = bool(wandb_watch)
        self.verbose = verbose

    # -- seam

    def fit(self, train, valid, features, *, fold=1, hooks=(), callbacks=()) -> FitResult:
        with _TorchSettings(self._threads(f"fit_{fold}"), self.seed, self._device()):
            return self._train(train, valid, features, fold, hooks, callbacks, self.max_epochs)

    def refit(self, train, features, steps):
        if not 1 <= steps <= self.max_epochs:
            raise ValueError(f"refit for {steps} epochs: must lie in 1..{self.max_epochs}")
        with _TorchSettings(self._threads("refit"), self.seed, self._device()):
            return self._train(train, None, features, 0, (), (), int(steps)).model

    def predict(self, model: TorchModel, rows, features) -> np.ndarray:
        if sorted(features) != sorted(model.features):
            raise ValueError("predict: the features differ from those the model was trained on")
        if len(rows) == 0:
            return np.zeros(0, dtype=np.float64)
        x_num, x_cat = _inputs(model.prep, rows)
        threads = self._governor.threads if self._governor else self.num_threads
        with _TorchSettings(threads, None, model.device):
            out = _predict(model.net, x_num, x_cat, model.device)
        return out.astype(np.float64) * model.prep.target_std + model.prep.target_mean

    def steps(self, model: TorchModel) -> int:
        return model.epochs

    def save(self, model: TorchModel, path: Path) -> Path:
        state = {
            "format": FORMAT,
            "net": asdict(model.net.cfg),
            "state_dict": {k: v.detach().cpu() for k, v in model.net.state_dict().items()},
            "prep": asdict(model.prep),
            "features": list(model.features),
            "epochs": model.epochs,
            "info": dict(model.info),
        }
        torch.save(state, str(path))
        return Path(path)

    def load(self, path: Path) -> TorchModel:
        state = torch.load(str(path), map_location="cpu", weights_only=True)
        if state.get("format") != FORMAT:
            raise ValueError(f"{path}: not a model file of this adapter (format {FORMAT})")
        net = TabularMLP(NetConfig(**state["net"]))
        net.load_state_dict(state["state_dict"])
        device = self._device()
        net.to(device).eval()
        return TorchModel(
            net=net,
            prep=Preprocessing(**state["prep"]),
            features=list(state["features"]),
            epochs=int(state["epochs"]),
            device=device,
            info=dict(state.get("info", {})),
        )

    # -- training

    def _threads(self, stage: str) -> int:
        """CPU threads for this stage: the free cores when num_threads is 0 (see threads)."""
        if self._device() != "cpu":
            return self.num_threads
        self._governor = Governor(self.num_threads)
        self.threads_used[stage] = self._governor.used
        return self._governor.threads

    def _device(self) -> str:
        if self.device == "auto":
            return "cuda" if torch.cuda.is_available() else "cpu"
        if self.device == "cuda" and not torch.cuda.is_available():
            raise RuntimeError("device='cuda' but torch sees no CUDA GPU; use device='auto'")
        return self.device

    def _train(
        self,
        train: pd.DataFrame,
        valid: pd.DataFrame | None,
        features: Sequence[str],
        fold: int,
        hooks: Sequence[StepHook],
        callbacks: Sequence,
        epochs: int,
    ) -> FitResult:
        device = self._device()
        features = list(features)
        if len(train) == 0:
            raise ValueError("no training rows")
        extra = ["dow"] if "dow" in features else []
        if self.horizon_input:
            extra.append("h")
        prep = Preprocessing.learn(train, features, extra, self.clip_z)
        cardinalities = prep.cardinalities
        net_cfg = NetConfig(
            n_numeric=prep.n_numeric_inputs,
            cardinalities=cardinalities,
            emb_dims=[embedding_dim(n - 1, self.emb_max_dim) for n in cardinalities],
            hidden=self.hidden_sizes,
            dropout=self.dropout,
            wide=self.wide,
        )
        net = TabularMLP(net_cfg).to(device)

        x_num, x_cat = (torch.from_numpy(a).to(device) for a in _inputs(prep, train))
        y = torch.from_numpy(prep.target(train)).to(device)
        if valid is not None:
            v_num, v_cat = _inputs(prep, valid)
            v_target = valid["target"].to_numpy(dtype=np.float64)
        n = len(y)
        n_batches = max(1, math.ceil(n / self.batch_size))
        optimizer = torch.optim.AdamW(net.parameters(), lr=self.lr, weight_decay=self.weight_decay)
        scheduler = self._scheduler(optimizer, n_batches)
        generator = torch.Generator().manual_seed(self.seed)
        scale = prep.target_std**2  # standardized-target MSE -> MSE of log1p(sales)
        if self.wandb_watch:
            for cb in callbacks:
                cb(net, max(1, self.log_every))

        curves: dict[str, list[float]] = {"train_rmse": [], "val_rmse": [], "lr": []}
        best = (math.inf, 0, None)  # val_rmse, epoch, weights
        stopped: dict | None = None
        batch = 0
        for epoch in range(1, epochs + 1):
            net.train()
            t0 = time.perf_counter()
            total = torch.zeros((), dtype=torch.float64, device=device)
            order = torch.randperm(n, generator=generator).to(device)
            try:
                for idx in torch.tensor_split(order, n_batches):
                    pred = net(x_num[idx], x_cat[idx])
                    loss = torch.mean(torch.square(pred - y[idx]))
                    optimizer.zero_grad(set_to_none=True)
                    loss.backward()
                    grad_norm = nn.utils.clip_grad_norm_(
                        net.parameters(), self.grad_clip if self.grad_clip > 0 else math.inf
                    )
                    lr_now = optimizer.param_groups[0]["lr"]
                    optimizer.step()
                    scheduler.step()
                    total += loss.detach().double() * len(idx)
                    batch += 1
                    if device == "cpu" and self._governor and (k := self._governor.check()):
                        torch.set_num_threads(k)  # a neighbour took (or freed) cores
                    if self.log_every > 0 and batch % self.log_every == 0 and hooks:
                        values = {
                            "train/loss": float(loss.detach()) * scale,
                            "train/lr": lr_now,
                            "train/grad_norm": float(grad_norm),
                        }
                        call_hooks(hooks, StepEvent(fold, batch, values, scope="batch"))
            except StopTraining as stop:  # a batch hook stops: the epoch is not finished
                stopped = stop.info
                break
            seconds = time.perf_counter() - t0
            train_mse = float(total) / n * scale
            values = {
                "train_rmse": math.sqrt(train_mse),
                "epoch": epoch,
                "train/epoch_loss": train_mse,
                # the last batch's: at its train/batch the epoch's point lies on the batch curve
                "train/lr": lr_now,
                "system/samples_per_s": n / max(seconds, 1e-9),
                "system/epoch_s": seconds,
            }
            if valid is None:
                curves["train_rmse"].append(values["train_rmse"])
                curves["lr"].append(lr_now)
                self._say(fold, epoch, values, None)
                continue
            pred = _predict(net, v_num, v_cat, device) * prep.target_std + prep.target_mean
            values["val_rmse"] = float(np.sqrt(np.mean(np.square(pred - v_target))))
            try:
                call_hooks(hooks, StepEvent(fold, epoch, values))
            except StopTraining as stop:
                # as LightGBM's adapter and the sweep hook: keep the best epoch before this
                # one (this one only when it is the first)
                stopped = stop.info
                if best[1] == 0:
                    best = self._record(curves, values, net, best)
                break
            best = self._record(curves, values, net, best)
            self._say(fold, epoch, values, best[1])
            if epoch - best[1] >= self.patience > 0:
                if self.verbose:
                    print(f"fold {fold}: early stop at epoch {epoch}, best epoch {best[1]}")
                break

        epochs_held = len(curves["train_rmse"])
        if valid is not None:
            _, epochs_held, weights = best
            net.load_state_dict(weights)
        net.eval()
        model = TorchModel(
            net=net,
            prep=prep,
            features=features,
            epochs=epochs_held,
            device=device,
            info={"max_epochs": self.max_epochs, "n_train_rows": n, "batches": batch},
        )
        return FitResult(model=model, best_step=epochs_held, curves=curves, stopped=stopped)

    @staticmethod
    def _record(curves, values, net, best: tuple) -> tuple[float, int, dict | None]:
        """Add the epoch to the curves; returns the best (val_rmse, epoch, weights) so far."""
        curves["train_rmse"].append(values["train_rmse"])
        curves["val_rmse"].append(values["val_rmse"])
        curves["lr"].append(values["train/lr"])
        score = values["val_rmse"] if math.isfinite(values["val_rmse"]) else math.inf
        if score < best[0] or best[1] == 0:
            weights = {k: v.detach().clone() for k, v in net.state_dict().items()}
            return score, values["epoch"], weights
        return best

    def _say(self, fold: int, epoch: int, values: dict, best: int | None) -> None:
        if not self.verbose:
            return
        val = f", val_rmse {values['val_rmse']:.5f} (best epoch {best})" if best else ""
        what = f"fold {fold}" if fold else "refit"
        print(
            f"{what} epoch {epoch}: train_rmse {values['train_rmse']:.5f}{val}, "
            f"lr {values['train/lr']:.2e}, {values['system/epoch_s']:.1f} s "
            f"({values['system/samples_per_s']:,.0f} rows/s)",
            flush=True,
        )

    def _scheduler(self, optimizer, n_batches: int):
        """Per batch, laid out over `max_epochs` whatever the number of epochs trained."""
        total = self.max_epochs * n_batches
        warmup = min(total - 1, round(self.warmup_epochs * n_batches))
        if self.lr_schedule == "onecycle":
            return torch.optim.lr_scheduler.OneCycleLR(
                optimizer,
                max_lr=self.lr,
                total_steps=total + 1,
                pct_start=max(warmup, 1) / total,
            )

        def factor(step: int) -> float:
            if step < warmup:
                return (step + 1) / (warmup + 1)
            if self.lr_schedule == "constant":
                return 1.0
            progress = min(1.0, (step - warmup) / max(1, total - warmup))
            return 0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * progress))

        return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def _inputs(prep: Preprocessing, rows: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    return prep.numeric_inputs(rows), prep.categorical_inputs(rows)


def _predict(net: nn.Module, x_num, x_cat, device: str) -> np.ndarray:
    """Standardized predictions, in eval mode, in batches; the net's mode is restored."""
    was_training = net.training
    net.eval()
    out = []
    try:
        with torch.inference_mode():
            for start in range(0, len(x_num), PREDICT_BATCH):
                num = torch.as_tensor(x_num[start : start + PREDICT_BATCH], device=device)
                cat = torch.as_tensor(x_cat[start : start + PREDICT_BATCH], device=device)
                out.append(net(num, cat).float().cpu().numpy())
    finally:
        net.train(was_training)
    return np.concatenate(out) if out else np.zeros(0, dtype=np.float32)


class _TorchSettings:
    """Threads, seed and deterministic algorithms for one fit, put back afterwards: the global
    RNG is forked (a fit does not move the caller's random state) and seeded."""

    def __init__(self, num_threads: int, seed: int | None, device: str):
        self.num_threads = num_threads
        self.seed = seed
        self.device = device

    def __enter__(self):
        self._threads = torch.get_num_threads()
        if self.num_threads > 0:
            torch.set_num_threads(self.num_threads)
        self._deterministic = torch.are_deterministic_algorithms_enabled()
        self._warn_only = torch.is_deterministic_algorithms_warn_only_enabled()
        self._fork = None
        if self.seed is not None:
            cuda = self.device == "cuda"
            if cuda:  # cuBLAS is deterministic with a fixed workspace (read at its first use)
                os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
            # warn_only: CUDA kernels without a deterministic version warn instead of failing
            torch.use_deterministic_algorithms(True, warn_only=True)
            self._fork = torch.random.fork_rng(
                devices=[torch.cuda.current_device()] if cuda else []
            )
            self._fork.__enter__()
            torch.manual_seed(self.seed)
        return self

    def __exit__(self, *exc):
        if self._fork is not None:
            self._fork.__exit__(*exc)
        if self.seed is not None:
            torch.use_deterministic_algorithms(self._deterministic, warn_only=self._warn_only)
        torch.set_num_threads(self._threads)
        return False
