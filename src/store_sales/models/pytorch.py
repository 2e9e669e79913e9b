"""PyTorch behind the adapter seam: the adapter, its training loop and the model it returns.

A tabular MLP with entity embeddings; its parts live by job in sibling modules, the only ones
of the package that import torch with this one: `torch_inputs` (frame -> arrays: embedding
sizes, standardization, missing indicators; no torch), `torch_net` (the network and batched
prediction) and `torch_settings` (device, threads, seed, deterministic algorithms).

- the target log1p(sales), less the `target_base` feature when one is set (the network learns
  the difference from the series' level; `torch_inputs`), is standardized with the training
  mean/std; loss MSE; AdamW with a per-batch schedule (linear warmup then cosine decay,
  one-cycle or constant) laid out over `max_epochs`; gradients clipped at `grad_clip`;
- early stopping on the validation rows with `patience` epochs, the best epoch's weights
  restored; a refit trains exactly N epochs on the same schedule (same `max_epochs` layout, so
  its epoch k has the learning rate of the fit's epoch k) and restores nothing.

Rows are tensors built once per fit (float32; no per-row Python); batches are slices of a
seeded permutation (no DataLoader, no workers), so a fit is reproducible on CPU.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import nn

from ..threads import Governor
from .base import (
    FitResult,
    Integration,
    ModelAdapter,
    StepEvent,
    StepHook,
    StopTraining,
    call_hooks,
)
from .torch_inputs import Preprocessing, embedding_dim, inputs
from .torch_net import NetConfig, TabularMLP, predict_standardized
from .torch_params import MLPFields, parse_hidden_sizes
from .torch_settings import TorchSettings, resolve_device

__all__ = ["TabularMLP", "TorchMLPAdapter", "TorchModel", "embedding_dim"]

FORMAT = 1  # of the saved file


@dataclass
class TorchModel:
    """What fit/refit/load return: the network and everything that turns rows into inputs."""

    net: TabularMLP
    prep: Preprocessing
    features: list[str]  # the feature columns it was trained on (`h` may be an input too)
    epochs: int = 0  # epochs of the weights it holds
    device: str = "cpu"
    info: dict = field(default_factory=dict)


@dataclass
class _Run:
    """One training run's state: the network, its inputs as tensors, optimizer and schedule."""

    device: str
    prep: Preprocessing
    net: TabularMLP
    train: tuple[torch.Tensor, torch.Tensor, torch.Tensor]  # numeric, categorical, target
    valid: tuple | None  # (numeric, categorical, target, offset) arrays of the validation rows
    n_batches: int
    optimizer: torch.optim.Optimizer
    scheduler: object
    generator: torch.Generator
    scale: float  # standardized-target MSE -> MSE of log1p(sales)
    batch: int = 0  # batches trained so far

    @property
    def n(self) -> int:
        return len(self.train[2])


class TorchMLPAdapter(ModelAdapter):
    name = "pytorch"
    step_unit = "epoch"
    model_file = "model.pt"

    def __init__(self, params: MLPFields | None = None, verbose: bool = True):
        """`params`: the MLP's settings (`MLPFields`, declared, documented and checked once in
        models/torch_params.py; exp003's notebook passes its config, which has them and the
        run's `seed`); None: their defaults."""
        self.params = params if params is not None else MLPFields()
        self.seed = int(getattr(self.params, "seed", 42))
        self.hidden_sizes = parse_hidden_sizes(self.params.hidden_sizes)
        self.max_steps = self.params.max_epochs
        self._governor: Governor | None = None  # the running fit's, re-checked per batch
        self.verbose = verbose

    # -- seam

    def fit(self, train, valid, features, *, fold=1, hooks=(), callbacks=()) -> FitResult:
        with TorchSettings(self._threads(f"fit_{fold}"), self.seed, self._device()):
            return self._train(
                train, valid, features, fold, hooks, callbacks, self.params.max_epochs
            )

    def refit(self, train, features, steps):
        if not 1 <= steps <= self.params.max_epochs:
            raise ValueError(f"refit for {steps} epochs: must lie in 1..{self.params.max_epochs}")
        with TorchSettings(self._threads("refit"), self.seed, self._device()):
            return self._train(train, None, features, 0, (), (), int(steps)).model

    def predict(self, model: TorchModel, rows, features) -> np.ndarray:
        if sorted(features) != sorted(model.features):
            raise ValueError("predict: the features differ from those the model was trained on")
        if len(rows) == 0:
            return np.zeros(0, dtype=np.float64)
        x_num, x_cat = inputs(model.prep, rows)
        threads = self._governor.threads if self._governor else self.params.num_threads
        with TorchSettings(threads, None, model.device):
            out = predict_standardized(model.net, x_num, x_cat, model.device)
        return model.prep.log1p_sales(out, rows)

    def steps(self, model: TorchModel) -> int:
        return model.epochs

    def settings(self, model: TorchModel) -> dict:
        """The network as built (hidden layers, dropout, the wide path): a refit's must be the
        fit's. Input sizes are left out: the rows set them (missing indicators, categories)."""
        net = asdict(model.net.cfg)
        return {k: v for k, v in net.items() if k not in ("n_numeric", "cardinalities", "emb_dims")}

    def integration(self, tracker: str) -> Integration | None:
        """W&B's PyTorch integration when `wandb_watch` is on: `wandb.watch` on the network
        (gradient histograms every `log_every` batches), called by the fit once it is built."""
        if tracker != "wandb" or not self.params.wandb_watch:
            return None
        return Integration([_wandb_watch])

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
            return self.params.num_threads
        self._governor = Governor(self.params.num_threads)
        self.threads_used[stage] = self._governor.used
        return self._governor.threads

    def _device(self) -> str:
        return resolve_device(self.params.device)

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
        run = self._setup(train, valid, list(features), callbacks)
        curves: dict[str, list[float]] = {"train_rmse": [], "val_rmse": [], "lr": []}
        best = (math.inf, 0, None)  # val_rmse, epoch, weights
        stopped: dict | None = None
        for epoch in range(1, epochs + 1):
            try:
                values = self._epoch(run, fold, epoch, hooks)
            except StopTraining as stop:  # a batch hook stops: the epoch is not finished
                stopped = stop.info
                break
            if run.valid is None:
                curves["train_rmse"].append(values["train_rmse"])
                curves["lr"].append(values["train/lr"])
                self._say(fold, epoch, values, None)
                continue
            best, stopped, done = self._validate(run, fold, epoch, values, hooks, curves, best)
            if done:
                break

        epochs_held = len(curves["train_rmse"])
        if run.valid is not None:
            _, epochs_held, weights = best
            run.net.load_state_dict(weights)
        run.net.eval()
        model = TorchModel(
            net=run.net,
            prep=run.prep,
            features=list(features),
            epochs=epochs_held,
            device=run.device,
            info={
                "max_epochs": self.params.max_epochs,
                "n_train_rows": run.n,
                "batches": run.batch,
            },
        )
        return FitResult(model=model, best_step=epochs_held, curves=curves, stopped=stopped)

    def _setup(self, train, valid, features: list[str], callbacks: Sequence) -> _Run:
        """Preprocessing learned from `train`, the network, tensors, optimizer and schedule."""
        device = self._device()
        if len(train) == 0:
            raise ValueError("no training rows")
        extra = ["dow"] if "dow" in features else []
        if self.params.horizon_input:
            extra.append("h")
        prep = Preprocessing.learn(
            train, features, extra, self.params.clip_z, self.params.target_base
        )
        cardinalities = prep.cardinalities
        net_cfg = NetConfig(
            n_numeric=prep.n_numeric_inputs,
            cardinalities=cardinalities,
            emb_dims=[embedding_dim(n - 1, self.params.emb_max_dim) for n in cardinalities],
            hidden=self.hidden_sizes,
            dropout=self.params.dropout,
            wide=self.params.wide,
        )
        net = TabularMLP(net_cfg).to(device)

        arrays = (*inputs(prep, train), prep.target(train))
        tensors = tuple(torch.from_numpy(a).to(device) for a in arrays)
        if valid is not None:
            valid = (
                *inputs(prep, valid),
                valid["target"].to_numpy(dtype=np.float64),
                prep.offset(valid),
            )
        n_batches = max(1, math.ceil(len(train) / self.params.batch_size))
        optimizer = torch.optim.AdamW(
            net.parameters(), lr=self.params.learning_rate, weight_decay=self.params.weight_decay
        )
        run = _Run(
            device=device,
            prep=prep,
            net=net,
            optimizer=optimizer,
            scheduler=self._scheduler(optimizer, n_batches),
            generator=torch.Generator().manual_seed(self.seed),
            train=tensors,
            valid=valid,
            n_batches=n_batches,
            scale=prep.target_std**2,
        )
        for cb in callbacks:  # the tracker's integration (`integration`): wandb.watch
            cb(net, max(1, self.params.log_every))
        return run

    def _epoch(self, run: _Run, fold: int, epoch: int, hooks: Sequence[StepHook]) -> dict:
        """Train one epoch over a seeded permutation; its values (no val_rmse yet). A batch
        hook's StopTraining goes through."""
        net, optimizer = run.net, run.optimizer
        net.train()
        t0 = time.perf_counter()
        total = torch.zeros((), dtype=torch.float64, device=run.device)
        order = torch.randperm(run.n, generator=run.generator).to(run.device)
        x_num, x_cat, y = run.train
        for idx in torch.tensor_split(order, run.n_batches):
            pred = net(x_num[idx], x_cat[idx])
            loss = torch.mean(torch.square(pred - y[idx]))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            grad_norm = nn.utils.clip_grad_norm_(
                net.parameters(), self.params.grad_clip if self.params.grad_clip > 0 else math.inf
            )
            lr_now = optimizer.param_groups[0]["lr"]
            optimizer.step()
            run.scheduler.step()
            total += loss.detach().double() * len(idx)
            run.batch += 1
            if run.device == "cpu" and self._governor and (k := self._governor.check()):
                torch.set_num_threads(k)  # a neighbour took (or freed) cores
            if self.params.log_every > 0 and run.batch % self.params.log_every == 0 and hooks:
                values = {
                    "train/loss": float(loss.detach()) * run.scale,
                    "train/lr": lr_now,
                    "train/grad_norm": float(grad_norm),
                }
                call_hooks(hooks, StepEvent(fold, run.batch, values, scope="batch"))
        seconds = time.perf_counter() - t0
        train_mse = float(total) / run.n * run.scale
        return {
            "train_rmse": math.sqrt(train_mse),
            "epoch": epoch,
            "train/epoch_loss": train_mse,
            # the last batch's: at its train/batch the epoch's point lies on the batch curve
            "train/lr": lr_now,
            "system/samples_per_s": run.n / max(seconds, 1e-9),
            "system/epoch_s": seconds,
        }

    def _validate(self, run: _Run, fold, epoch, values, hooks, curves, best):
        """Score the epoch on the validation rows, tell the hooks, keep the best epoch; returns
        (best, the stop's info or None, whether training ends here)."""
        v_num, v_cat, v_target, v_offset = run.valid
        prep = run.prep
        pred = predict_standardized(run.net, v_num, v_cat, run.device)
        pred = pred * prep.target_std + prep.target_mean + v_offset
        values["val_rmse"] = float(np.sqrt(np.mean(np.square(pred - v_target))))
        try:
            call_hooks(hooks, StepEvent(fold, epoch, values))
        except StopTraining as stop:
            # as LightGBM's adapter and the sweep hook: keep the best epoch before this
            # one (this one only when it is the first)
            if best[1] == 0:
                best = self._record(curves, values, run.net, best)
            return best, stop.info, True
        best = self._record(curves, values, run.net, best)
        self._say(fold, epoch, values, best[1])
        if epoch - best[1] >= self.params.patience > 0:
            if self.verbose:
                print(f"fold {fold}: early stop at epoch {epoch}, best epoch {best[1]}")
            return best, None, True
        return best, None, False

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
        total = self.params.max_epochs * n_batches
        warmup = min(total - 1, round(self.params.warmup_epochs * n_batches))
        if self.params.lr_schedule == "onecycle":
            return torch.optim.lr_scheduler.OneCycleLR(
                optimizer,
                max_lr=self.params.learning_rate,
                total_steps=total + 1,
                pct_start=max(warmup, 1) / total,
            )

        def factor(step: int) -> float:
            if step < warmup:
                return (step + 1) / (warmup + 1)
            if self.params.lr_schedule == "constant":
                return 1.0
            progress = min(1.0, (step - warmup) / max(1, total - warmup))
            return 0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * progress))

        return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def _wandb_watch(net: nn.Module, log_freq: int) -> None:
    import wandb

    wandb.watch(net, log="gradients", log_freq=log_freq)
