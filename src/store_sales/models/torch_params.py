"""The MLP's settings (exp003's model fields): declared, documented and checked once, here.

The adapter (`models.pytorch.TorchMLPAdapter`) takes any object with these fields, so a
template composes them into its config (`class Exp003Config(MLPFields, TemplateConfig)`) and the
library never imports a template. No torch here: listing templates must not import it.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..config import at_least_one

SCHEDULES = ("cosine", "onecycle", "constant")  # lr_schedule values (models/pytorch.py)
DEVICES = ("auto", "cpu", "cuda")


def parse_hidden_sizes(value) -> list[int]:
    """Layer widths: "512,256" -> [512, 256]; an int (`-p hidden_sizes 256`) is one layer."""
    if isinstance(value, bool):
        raise ValueError("not a list of layer widths")
    if isinstance(value, int):
        return [value]
    if isinstance(value, list | tuple):
        return [int(v) for v in value]
    return [int(p) for p in str(value).split(",") if p.strip()]


@dataclass
class MLPFields:
    """The network and its training loop. A mixin listed before TemplateConfig (whose `seed`
    the adapter draws weights and batches from)."""

    # network
    hidden_sizes: str = "256,128"  # widths of the hidden layers, comma-separated
    emb_max_dim: int = 16  # embedding size ceil(1.6 * n_values ** 0.56), capped here
    dropout: float = 0.0  # measured: any dropout lowered the validation score
    wide: bool = False  # a linear path from the numeric inputs to the output (measured: off)
    horizon_input: bool = True  # the horizon day h (1..16) as an embedded input
    clip_z: float = 5.0  # standardized numeric inputs are clipped at ±clip_z (0: no clip)
    target_base: str = "ewm_14"  # learn target - this feature (the series' level); "": target
    # training
    learning_rate: float = 0.003  # peak, after warmup
    weight_decay: float = 0.0001  # AdamW's decoupled weight decay
    batch_size: int = 2048
    max_epochs: int = 10  # the schedule's length; early stopping may end sooner
    patience: int = 3  # epochs without a better validation RMSE before stopping (0: never)
    lr_schedule: str = "cosine"  # cosine (warmup, then cosine decay) | onecycle | constant
    warmup_epochs: float = 1.0
    grad_clip: float = 1.0  # max gradient norm (0: no clipping)
    log_every: int = 50  # batches between two batch-level logs (loss, lr, grad norm); 0: off
    device: str = "auto"  # auto (cuda if available) | cpu | cuda
    num_threads: int = 0  # CPU threads for torch; 0: the cores free (threads.py)
    wandb_watch: bool = False  # W&B's wandb.watch: gradient histograms every log_every batches

    def problems(self) -> list[str]:
        out = [
            *super().problems(),
            *at_least_one(self, "emb_max_dim", "batch_size", "max_epochs"),
        ]
        try:
            sizes = parse_hidden_sizes(self.hidden_sizes)
        except (ValueError, TypeError):
            sizes = []
        if not sizes or min(sizes) < 1:
            out.append(
                f"hidden_sizes={self.hidden_sizes!r}: give layer widths such as '512,256,128'"
            )
        if not 0 <= self.dropout < 1:
            out.append(f"dropout={self.dropout!r} must be in [0, 1)")
        if not self.learning_rate > 0:
            out.append(f"learning_rate={self.learning_rate!r} must be > 0")
        for name in ("weight_decay", "clip_z", "grad_clip", "patience", "log_every"):
            if getattr(self, name) < 0:
                out.append(f"{name}={getattr(self, name)!r} must be >= 0")
        if not 0 <= self.warmup_epochs < max(self.max_epochs, 1):
            out.append(f"warmup_epochs={self.warmup_epochs!r} must be in [0, max_epochs)")
        if self.lr_schedule not in SCHEDULES:
            out.append(f"lr_schedule={self.lr_schedule!r} is not one of {SCHEDULES}")
        if self.device not in DEVICES:
            out.append(f"device={self.device!r} is not one of {DEVICES}")
        if self.num_threads < 0:
            out.append(f"num_threads={self.num_threads!r} must be >= 0 (0 = the free cores)")
        return out
