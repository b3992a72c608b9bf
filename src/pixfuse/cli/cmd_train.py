"""``pixfuse train`` (needs torch, the ``learn`` extra) and ``pixfuse distill`` (numpy only)."""
from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import Optional

import typer

from ..errors import PixfuseError
from ._app import app, fail, stderr_console


@app.command("train")
def train_cmd(
    task: str = typer.Option(..., "--task", help="ivif or medical."),
    data: Path = typer.Option(..., "--data", help="Training folder (ivif: ir/ + vi/; medical: */MRI + */CT|PET|SPECT)."),
    out: Path = typer.Option(..., "--out", help="Output model file (.npz)."),
    model: str = typer.Option("pixnet", "--model", help="pixnet (12k parameters) or pixnet-tiny (882)."),
    iters: int = typer.Option(1500, "--iters", help="Optimiser iterations."),
    seed: int = typer.Option(0, "--seed", help="Random seed (initialisation and crops)."),
    resume: bool = typer.Option(False, "--resume", help="Continue from <out>.ckpt after an interruption."),
    batch: int = typer.Option(8, "--batch", help="Crops per iteration."),
    crop: int = typer.Option(64, "--crop", help="Crop side in pixels."),
    lr: float = typer.Option(2e-3, "--lr", help="Peak Adam learning rate (cosine decay)."),
    holdout_every: int = typer.Option(10, "--holdout-every", help="Hold out every N-th pair (sorted by name); 0 = none."),
    threads: int = typer.Option(1, "--threads", help="torch CPU threads."),
    w_int: float = typer.Option(2.0, "--w-int", help="Weight of the intensity loss."),
    w_grad: float = typer.Option(5.0, "--w-grad", help="Weight of the gradient-magnitude loss."),
    w_ssim: float = typer.Option(0.5, "--w-ssim", help="Weight of the SSIM loss."),
    w_angle: float = typer.Option(2.0, "--w-angle", help="Weight of the angle-aware gradient-direction loss."),
    target: str = typer.Option("max", "--target", help="Intensity target: max or saliency."),
    w_qabf: float = typer.Option(0.0, "--w-qabf", help="Weight of the Q_AB/F edge-preservation loss."),
    w_vif: float = typer.Option(0.0, "--w-vif", help="Weight of the VIF (information fidelity) loss."),
    max_pairs: int = typer.Option(0, "--max-pairs", help="Use only the first N training pairs (0 = all)."),
    photometric: float = typer.Option(0.0, "--photometric", help="Fraction of crops whose sources are re-exposed "
                                      "independently (random gamma, gain, noise, blur); 0 = none."),
    swap: float = typer.Option(0.0, "--swap", help="Fraction of crops with the two sources exchanged; 0 = none."),
    grad_gain: float = typer.Option(1.0, "--grad-gain", help="Gradient target = this gain x the sources' "
                                    "maximal Sobel magnitude."),
    checkpoint_every: int = typer.Option(200, "--checkpoint-every", help="Checkpoint interval (iterations)."),
    quiet: bool = typer.Option(False, "--quiet", help="No progress bar."),
) -> None:
    """Train a fusion network on the CPU: `pixfuse train --task ivif --data DIR --out model.npz`."""
    from ..learned import require_torch

    if task not in ("ivif", "medical"):
        raise fail(f"--task must be ivif or medical, not {task!r}")
    if target not in ("max", "saliency"):
        raise fail(f"--target must be max or saliency, not {target!r}")
    if not (0 <= photometric <= 1 and 0 <= swap <= 1):
        raise fail("--photometric and --swap are fractions between 0 and 1")
    if not 0 < grad_gain <= 4:
        raise fail("--grad-gain must be in (0, 4]")
    if out.suffix.lower() != ".npz":
        raise fail("--out must end in .npz")
    require_torch()
    from ..learned.train import TrainConfig, train

    cfg = TrainConfig(task=task, data=str(data), arch=model, iters=iters, seed=seed, batch=batch, crop=crop, lr=lr,
                      holdout_every=holdout_every, threads=threads, w_int=w_int, w_grad=w_grad, w_ssim=w_ssim,
                      w_angle=w_angle, target=target, w_qabf=w_qabf, w_vif=w_vif,
                      max_pairs=max_pairs, photometric=photometric, swap=swap,
                      grad_gain=grad_gain)
    command = "pixfuse " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    if quiet:
        res = train(cfg, out, resume=resume, checkpoint_every=checkpoint_every, command=command)
    else:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                      TextColumn("{task.fields[loss]}"), console=stderr_console()) as prog:
            t = prog.add_task(f"training {model} ({task})", total=iters, loss="")

            def cb(it: int, total: int, parts: dict[str, float]) -> None:
                if it % 10 == 0 or it == total:
                    prog.update(t, completed=it, loss=f"loss {parts['loss']:.4f}")

            res = train(cfg, out, resume=resume, checkpoint_every=checkpoint_every, progress=cb, command=command)
    extra = f", resumed at iteration {res.resumed_from}" if res.resumed_from else ""
    typer.echo(f"wrote {res.out}: {res.n_params} parameters, {res.iters} iterations in {res.seconds:.0f} s wall / {res.cpu_seconds:.0f} s CPU{extra}; "
                  f"loss {res.first_loss:.4f} -> {res.last_loss:.4f}", err=True)


@app.command("distill")
def distill_cmd(
    model: Path = typer.Option(..., "--model", help="Network .npz (from `pixfuse train`)."),
    task: str = typer.Option(..., "--task", help="ivif or medical (selects the folder layout)."),
    data: Path = typer.Option(..., "--data", help="Folder of the training pairs."),
    out: Path = typer.Option(..., "--out", help="Output table (.npz)."),
    nodes: int = typer.Option(17, "--nodes", help="Table nodes per axis."),
    samples: int = typer.Option(1_500_000, "--samples", help="Pixels sampled for the least-squares fit."),
    seed: int = typer.Option(0, "--seed", help="Sampling seed."),
    holdout_every: int = typer.Option(10, "--holdout-every", help="Hold out every N-th pair (as in training)."),
    smooth: float = typer.Option(1e-4, "--smooth", help="Smoothness weight of the fit."),
    pairs: int = typer.Option(60, "--pairs", help="Use at most N training pairs, evenly spaced in name order."),
    photometric: bool = typer.Option(False, "--photometric", help="Also fit on one re-exposed copy of every "
                                     "pair (the training augmentation; seeded by --seed and the pair's position)."),
) -> None:
    """Distil a network into a look-up table (pixlut): `pixfuse distill --model m.npz --task ivif --data DIR --out t.npz`."""
    from ..learned.data import find_pairs, load_pair, split_pairs
    from ..learned.infer import load_net
    from ..learned.lut import distill, save_lut

    if nodes < 3 or nodes > 65:
        raise fail("--nodes must lie in [3, 65]")
    net = load_net(model)
    train_pairs, _ = split_pairs(find_pairs(data, task), holdout_every)
    if pairs and len(train_pairs) > pairs:
        step = len(train_pairs) / pairs
        train_pairs = [train_pairs[int(i * step)] for i in range(pairs)]
    stacks = [load_pair(p) for p in train_pairs]
    if photometric:
        import numpy as np

        from ..learned.data import photometric_shift

        stacks += [photometric_shift(st, np.random.default_rng([seed, i])) for i, st in enumerate(stacks)]
    lut = distill(net, stacks, nodes=nodes, samples=samples, seed=seed, smooth=smooth)
    command = "pixfuse " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    save_lut(out, lut, {"task": task, "teacher": model.name, "command": command, "pairs": len(train_pairs)})
    typer.echo(f"wrote {out}: {nodes}^3 table from {lut.meta['samples']} pixels of {len(train_pairs)} pairs", err=True)
