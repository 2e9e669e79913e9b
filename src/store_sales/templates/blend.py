"""blend: weights fit on finished runs' validation predictions, one submission from them.

Its default members are the best finished run of exp001 (LightGBM) and of exp003 (the PyTorch
MLP): on full-scale synthetic data (seed 0, 2 folds) that pair gained 0.0006 CV and 0.0006
hidden-test RMSLE over exp001 alone, two GBDTs (exp001 + exp002) 0.0002; see notebooks/blend.ipynb.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import ClassVar

from ..config import Checked, TrackingFields

METHODS = ("fit", "equal")


@dataclass
class BlendConfig(Checked, TrackingFields):
    TEMPLATE: ClassVar[str] = "blend"
    MODEL: ClassVar[str] = "blend"

    exp_name: str = "blend"
    members: str = "best-of:exp001,exp003"  # best run per template; best:K; run folders/names
    runs_dir: str = ""  # where runs named by name or best:K are looked for; "" -> outputs/
    metric: str = "cv_rmsle_mean"  # what best:K ranks by (lower is better)
    method: str = "fit"  # fit: non-negative weights summing to 1 that minimise CV RMSLE | equal

    def problems(self) -> list[str]:
        out = TrackingFields.problems(self)
        if self.method not in METHODS:
            out.append(f"method={self.method!r} is not one of {METHODS}")
        spec = self.members.strip()
        if not spec:
            out.append("members is empty: name runs (folders or names, comma-separated) or best:K")
        elif spec.startswith("best-of:"):
            names = [t.strip() for t in spec.removeprefix("best-of:").split(",") if t.strip()]
            if len(set(names)) < 2:
                out.append(f"members={spec!r}: best-of: needs two templates or more")
        elif spec.startswith("best:") and not re.fullmatch(r"best:([2-9]|[1-9]\d+)", spec):
            out.append(f"members={spec!r}: best:K needs a whole K >= 2")
        return out
