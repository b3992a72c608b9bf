"""``pixfuse align``: register the frames of an exposure or focus stack to a reference frame."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

from ..errors import InputError, OutputError
from ._app import app, fail

#: methods offered by the command (:func:`pixfuse.ops.align.estimate_warp`)
ALIGN_METHODS = ("mtb", "ecc", "similarity", "homography")


@app.command("align")
def align_cmd(
    frames: list[Path] = typer.Argument(..., help="Frames of one stack (same size)."),
    outdir: Path = typer.Option(..., "-o", "--outdir", help="Folder for the aligned frames (original file names)."),
    method: str = typer.Option("mtb", "--method", help="mtb (translation, exposure stacks), ecc, similarity "
                               "(focus breathing) or homography (hand-held)."),
    motion: str = typer.Option("homography", "--motion", help="ECC motion model for --method ecc: translation, "
                               "euclidean, affine or homography."),
    reference: Optional[int] = typer.Option(None, "--reference", help="Index of the reference frame (default: middle)."),
    transforms: Optional[Path] = typer.Option(None, "--json", help="Also write the transforms to this JSON file."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace existing files in OUTDIR."),
) -> None:
    """Align FRAMES to a reference frame and write them to OUTDIR with their names and bit depth.

    Prints one line per frame with the estimated 3x3 warp (reference -> frame
    pixel coordinates; translation = last column).
    """
    import numpy as np
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from ..io import read_image, write_image
    from ..ops.align import MOTIONS, estimate_warp, warp_to_reference

    if method not in ALIGN_METHODS:
        raise fail(f"--method must be one of {', '.join(ALIGN_METHODS)}, not {method!r}")
    if motion not in MOTIONS:
        raise fail(f"--motion must be one of {', '.join(MOTIONS)}, not {motion!r}")
    if len(frames) < 2:
        raise fail("alignment needs at least two frames")
    names = [f.name for f in frames]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise fail(f"frames share a file name ({', '.join(dup)}); outputs keep the original names")
    ref = len(frames) // 2 if reference is None else reference
    if not 0 <= ref < len(frames):
        raise fail(f"--reference {ref} is out of range for {len(frames)} frames")
    if outdir.exists() and not outdir.is_dir():
        raise OutputError(f"{outdir} exists and is not a folder")
    targets = [outdir / n for n in names]
    if not overwrite:
        existing = [str(t) for t in targets if t.exists()]
        if existing:
            raise OutputError(f"{existing[0]} exists (pass --overwrite to replace it)")
    imgs, metas = [], []
    for f in frames:
        im, meta = read_image(f)
        imgs.append(im)
        metas.append(meta)
    for i, im in enumerate(imgs):
        if im.shape[:2] != imgs[ref].shape[:2]:
            raise InputError(f"frame sizes differ: {frames[ref].name} is {imgs[ref].shape[1]}x{imgs[ref].shape[0]}, "
                             f"{frames[i].name} is {im.shape[1]}x{im.shape[0]} (align needs frames of one size)")
    outdir.mkdir(parents=True, exist_ok=True)
    console = Console(stderr=True)
    report = []
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                  console=console, transient=True) as prog:
        task = prog.add_task(f"aligning ({method})", total=len(frames))
        for i, (f, im, meta) in enumerate(zip(frames, imgs, metas)):
            if i == ref:
                W = np.eye(3)
                out = im
            else:
                W32 = estimate_warp(imgs[ref], im, method, motion)
                out = warp_to_reference(im, W32, imgs[ref].shape)
                W = W32.astype(np.float64) if W32.shape[0] == 3 else np.vstack([W32, [0, 0, 1]])
            write_image(targets[i], np.clip(out, 0, 1), meta, protect=frames)
            report.append({"file": str(f), "output": str(targets[i]), "reference": i == ref,
                           "warp": [[round(float(v), 6) for v in row] for row in W]})
            prog.advance(task)
    for r in report:
        W = np.asarray(r["warp"])
        tag = " (reference)" if r["reference"] else ""
        typer.echo(f"{Path(r['file']).name}{tag}: dx={W[0, 2]:+.3f} dy={W[1, 2]:+.3f} "
                   f"warp={json.dumps(r['warp'])}")
    if transforms is not None:
        from ..io.atomic import atomic_output

        with atomic_output(transforms, suffix=".json") as tmp, open(tmp, "w") as fh:
            json.dump({"method": method, "reference": ref, "frames": report}, fh, indent=1)
