"""Torch versions of the fusion networks described in :mod:`.arch` (training only)."""
from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from .arch import ARCHS, RESIDUAL_SCALE, SLOPE


class FusionNet(nn.Module):
    """Chain of 3x3 reflect-padded (dilated) convolutions -> blend weight + bounded residual.

    ``forward(x)`` takes (N, 2, H, W) sources (first = infrared / anatomical) and
    returns the fused (N, 1, H, W) image ``s*x0 + (1-s)*x1 + rho*tanh(r)``.
    """

    def __init__(self, arch: str = "pixnet") -> None:
        super().__init__()
        if arch not in ARCHS:
            raise ValueError(f"unknown architecture {arch!r}; known: {', '.join(ARCHS)}")
        self.arch = arch
        spec = ARCHS[arch]
        ch, dil = spec["channels"], spec["dilations"]
        self.dilations = list(dil)
        self.convs = nn.ModuleList(
            nn.Conv2d(ch[i], ch[i + 1], 3, padding=dil[i], dilation=dil[i], padding_mode="reflect")
            for i in range(len(ch) - 1)
        )
        self.act = nn.LeakyReLU(SLOPE)
        self.residual_scale = RESIDUAL_SCALE

    def raw(self, x: torch.Tensor) -> torch.Tensor:
        h = x
        for i, c in enumerate(self.convs):
            h = c(h)
            if i < len(self.convs) - 1:
                h = self.act(h)
        return h

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        o = self.raw(x)
        s = torch.sigmoid(o[:, :1])
        r = self.residual_scale * torch.tanh(o[:, 1:2])
        return x[:, 1:2] + s * (x[:, :1] - x[:, 1:2]) + r

    def export(self) -> tuple[list[np.ndarray], list[np.ndarray], dict[str, Any]]:
        """(weights, biases, meta) in the numpy inference format of :mod:`.infer`."""
        ws = [c.weight.detach().cpu().numpy().astype(np.float32) for c in self.convs]
        bs = [c.bias.detach().cpu().numpy().astype(np.float32) for c in self.convs]
        meta = {
            "arch": self.arch,
            "dilations": self.dilations,
            "slope": SLOPE,
            "residual_scale": self.residual_scale,
            "n_params": int(sum(p.numel() for p in self.parameters())),
        }
        return ws, bs, meta

    def load_arrays(self, ws: list[np.ndarray], bs: list[np.ndarray]) -> None:
        with torch.no_grad():
            for c, w, b in zip(self.convs, ws, bs):
                c.weight.copy_(torch.from_numpy(np.asarray(w, np.float32)))
                c.bias.copy_(torch.from_numpy(np.asarray(b, np.float32)))
