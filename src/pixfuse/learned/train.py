"""Training of the fusion networks on the CPU (needs torch: the ``learn`` extra).

Deterministic by construction: the weights are initialised from
``torch.manual_seed(seed)``; the crops of iteration ``t`` come from
``numpy.random.default_rng([seed, t])``, so a run resumed from a checkpoint
draws exactly the crops the uninterrupted run would have drawn; torch runs
with ``use_deterministic_algorithms(True)`` and a fixed thread count.

Checkpoints (``<out>.ckpt``, written atomically every ``checkpoint_every``
iterations and on Ctrl-C) hold the model, the Adam state, the iteration and
the configuration; ``resume=True`` continues from one if its configuration
matches.
"""
from __future__ import annotations

import dataclasses
import json
import math
import platform
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import PixfuseError
from ..io.atomic import atomic_output
from . import require_torch
from .arch import ARCHS
from .data import find_pairs, load_pair, sample_crops, split_pairs


@dataclasses.dataclass
class TrainConfig:
    task: str = "ivif"
    data: str = ""
    arch: str = "pixnet"
    iters: int = 1500
    seed: int = 0
    batch: int = 8
    crop: int = 64
    lr: float = 2e-3
    holdout_every: int = 10
    threads: int = 1
    w_int: float = 2.0
    w_grad: float = 5.0
    w_ssim: float = 0.5
    w_angle: float = 2.0
    target: str = "max"
    w_qabf: float = 0.0
    w_vif: float = 0.0
    max_pairs: int = 0  # 0 = all training pairs (small values for tests)
    photometric: float = 0.0  # fraction of crops re-exposed by data.photometric_shift
    swap: float = 0.0  # fraction of crops with the two sources exchanged
    grad_gain: float = 1.0  # gradient target = grad_gain * max of the sources' Sobel magnitudes

    def key(self) -> dict[str, Any]:
        """The fields that must match for a checkpoint to be resumed (``data`` path excluded)."""
        d = dataclasses.asdict(self)
        d.pop("data")
        d.pop("threads")
        for k, v in (("photometric", 0.0), ("swap", 0.0), ("grad_gain", 1.0)):  # options newer than old checkpoints
            if d[k] == v:
                d.pop(k)
        return d


@dataclasses.dataclass
class TrainResult:
    out: Path
    iters: int
    seconds: float
    first_loss: float
    last_loss: float
    n_params: int
    resumed_from: int
    cpu_seconds: float = 0.0


def _lr(cfg: TrainConfig, it: int) -> float:
    """Linear warm-up over 50 iterations, then cosine decay to 5% of ``lr``."""
    if it < 50:
        return cfg.lr * (it + 1) / 50
    t = (it - 50) / max(1, cfg.iters - 50)
    return cfg.lr * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * t)))


def _save_ckpt(torch: Any, path: Path, state: dict[str, Any]) -> None:
    with atomic_output(path) as tmp:
        torch.save(state, tmp)


def train(
    cfg: TrainConfig,
    out: str | Path,
    *,
    resume: bool = False,
    checkpoint_every: int = 200,
    progress: Callable[[int, int, dict[str, float]], None] | None = None,
    command: str | None = None,
) -> TrainResult:
    """Train a network and write it to ``out`` (numpy ``.npz`` for :mod:`.infer`)."""
    torch = require_torch()
    from .infer import save_net
    from .losses import LossWeights, fusion_loss
    from .models_torch import FusionNet

    if cfg.arch not in ARCHS:
        raise PixfuseError(f"unknown model {cfg.arch!r}; choose one of {', '.join(ARCHS)}")
    if cfg.iters < 1 or cfg.batch < 1 or cfg.crop < 16:
        raise PixfuseError("iters and batch must be >= 1 and crop >= 16")
    out = Path(out)
    ckpt = out.with_name(out.name + ".ckpt")
    torch.set_num_threads(max(1, cfg.threads))
    torch.use_deterministic_algorithms(True)

    pairs = find_pairs(cfg.data, cfg.task)
    train_pairs, _ = split_pairs(pairs, cfg.holdout_every)
    if cfg.max_pairs:
        train_pairs = train_pairs[: cfg.max_pairs]
    if not train_pairs:
        raise PixfuseError("no training pairs left after the hold-out split")
    images = [load_pair(p) for p in train_pairs]

    torch.manual_seed(cfg.seed)
    model = FusionNet(cfg.arch)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    lw = LossWeights(cfg.w_int, cfg.w_grad, cfg.w_ssim, cfg.w_angle, cfg.target, cfg.w_qabf, cfg.w_vif,
                    cfg.grad_gain)
    start, history, elapsed0, cpu0 = 0, [], 0.0, 0.0
    if resume and ckpt.exists():
        state = torch.load(ckpt, weights_only=False)
        if state["config"] != cfg.key():
            diff = sorted(k for k in cfg.key() if state["config"].get(k) != cfg.key()[k])
            raise PixfuseError(f"checkpoint {ckpt} was made with different settings ({', '.join(diff)}); "
                               "use the same options or delete it")
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["opt"])
        start, history, elapsed0 = state["iter"], state["history"], state.get("seconds", 0.0)
        cpu0 = state.get("cpu_seconds", 0.0)
    elif ckpt.exists() and not resume:
        ckpt.unlink()

    t0 = time.perf_counter()
    c0 = time.process_time()

    def snapshot(it: int) -> None:
        _save_ckpt(torch, ckpt, {"config": cfg.key(), "model": model.state_dict(), "opt": opt.state_dict(),
                                 "iter": it, "history": history,
                                 "seconds": elapsed0 + time.perf_counter() - t0,
                                 "cpu_seconds": cpu0 + time.process_time() - c0})

    it = start
    try:
        model.train()
        while it < cfg.iters:
            rng = np.random.default_rng([cfg.seed, it])
            x = torch.from_numpy(sample_crops(images, cfg.batch, cfg.crop, rng, photometric=cfg.photometric,
                                                      swap=cfg.swap))
            for g in opt.param_groups:
                g["lr"] = _lr(cfg, it)
            fused = model(x)
            loss, parts = fusion_loss(fused, x, lw)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            history.append(float(loss.detach()))
            it += 1
            if progress is not None:
                progress(it, cfg.iters, dict(parts, loss=history[-1]))
            if checkpoint_every and it % checkpoint_every == 0 and it < cfg.iters:
                snapshot(it)
    except KeyboardInterrupt:
        snapshot(it)
        raise PixfuseError(f"interrupted at iteration {it}/{cfg.iters}; checkpoint {ckpt} written — "
                           "re-run the same command with --resume to continue") from None

    seconds = elapsed0 + time.perf_counter() - t0
    cpu_seconds = cpu0 + time.process_time() - c0
    ws, bs, meta = model.export()
    meta.update({
        "task": cfg.task,
        "training": {
            "config": dataclasses.asdict(cfg) | {"data": Path(cfg.data).name},
            "command": command,
            "pairs": len(train_pairs),
            "final_loss_mean_last_100": float(np.mean(history[-100:])),
            "seconds": round(seconds, 1),
            "cpu_seconds": round(cpu_seconds, 1),
            "torch": torch.__version__,
            "machine": platform.machine(),
        },
    })
    save_net(out, ws, bs, meta)
    if ckpt.exists():
        ckpt.unlink()
    k = max(1, min(20, len(history) // 5))
    return TrainResult(out, cfg.iters, seconds, float(np.mean(history[:k])), float(np.mean(history[-k:])),
                       meta["n_params"], start, cpu_seconds)


def config_json(cfg: TrainConfig) -> str:
    return json.dumps(dataclasses.asdict(cfg), sort_keys=True)
