"""The tabular MLP with entity embeddings, the network a Kaggle competitor reaches for next to
a GBDT on this problem: [Linear → LayerNorm → SiLU (→ Dropout)] per hidden layer, then one
output, and optionally (`wide`) a linear path from the numeric inputs straight to the output:
useful when the network predicts the whole level (mostly a linear mix of trailing means), not
when it predicts the difference from one (`target_base`, exp003's default), where it is off.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

PREDICT_BATCH = 65536


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


def predict_standardized(net: nn.Module, x_num, x_cat, device: str) -> np.ndarray:
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
