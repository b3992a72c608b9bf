"""``pixfuse fuse``, ``pixfuse methods``, ``pixfuse info``."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import numpy as np
import typer

from ..errors import PixfuseError
from ._app import app, fail, parse_params, stderr_console


def _fuse_files(paths: list[Path], out: Path, method: Optional[str], task: Optional[str],
                params: dict[str, str], bit_depth: Optional[int], depth_map: Optional[Path],
                overwrite: bool) -> Path:
    from ..api import fuse
    from ..io import read_image, write_image

    imgs, metas = [], []
    for p in paths:
        im, meta = read_image(p)
        imgs.append(im)
        metas.append(meta)
    protect = list(paths)
    from ..api import STACK_TASKS, resolve_method

    spec = resolve_method(method, task)
    if set(spec.tasks) <= STACK_TASKS and len({m.bit_depth for m in metas}) > 1:
        depths = ", ".join(f"{p.name}: {m.bit_depth}-bit" for p, m in zip(paths, metas))
        raise PixfuseError(f"frames have different bit depths ({depths}); a stack must share one bit depth")
    if out.exists() and not overwrite:
        raise PixfuseError(f"{out} exists (pass --overwrite to replace it)")
    img, maps = fuse(imgs, method, task=task, return_maps=True, **params)
    depth = bit_depth or max(m.bit_depth for m in metas)
    written = write_image(out, img, bit_depth=depth if out.suffix.lower() in (".tif", ".tiff") or depth <= 16 else 16,
                          protect=protect)
    if depth_map is not None:
        if "depth" not in maps:
            raise PixfuseError("this method does not produce a depth map")
        d = maps["depth"].astype(np.float32)
        n = max(len(paths) - 1, 1)
        write_image(depth_map, d / n, bit_depth=16 if len(paths) > 256 else 8, protect=protect + [written])
    return written


@app.command("fuse")
def fuse_cmd(
    images: list[Path] = typer.Argument(None, help="Source images (order matters: IR then VIS, PAN then MS, ...)."),
    output: Path = typer.Option(..., "-o", "--output", help="Output file (single fusion) or folder (--dirs)."),
    method: Optional[str] = typer.Option(None, "-m", "--method", help="Method name (see `pixfuse methods`)."),
    task: Optional[str] = typer.Option(None, "--task", help="Task; picks its default method if -m is not given."),
    param: Optional[list[str]] = typer.Option(None, "-p", "--param", help="Method parameter key=value (repeatable)."),
    dirs: Optional[list[Path]] = typer.Option(None, "--dirs", help="Batch mode: folders whose files are paired by name stem."),
    bit_depth: Optional[int] = typer.Option(None, "--bit-depth", help="8, 16 or 32 (float TIFF). Default: the inputs' depth."),
    depth_map: Optional[Path] = typer.Option(None, "--depth-map", help="Also write the per-pixel source index (focus stacks)."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace existing outputs."),
    ext: str = typer.Option(".png", "--ext", help="Output suffix in batch mode."),
) -> None:
    """Fuse images: `pixfuse fuse IR.png VIS.png -m lp -o out.png`, or batch with --dirs."""
    from ..api import resolve_method

    params = parse_params(param)
    spec = resolve_method(method, task)
    spec.validate_params(params)  # fail before any file is read
    if bit_depth is not None and bit_depth not in (8, 16, 32):
        raise fail(f"--bit-depth must be 8, 16 or 32, not {bit_depth}")
    if not dirs:
        if not images:
            raise fail("give source images, or --dirs DIR_A DIR_B ...")
        out = _fuse_files(list(images), output, spec.name, task, params, bit_depth, depth_map, overwrite)
        typer.echo(str(out))
        return
    if images:
        raise fail("give either source images or --dirs, not both")
    _batch(list(dirs), output, spec.name, task, params, bit_depth, overwrite, ext)


def _batch(dirs: list[Path], outdir: Path, method: str, task: Optional[str], params: dict[str, str],
           bit_depth: Optional[int], overwrite: bool, ext: str) -> None:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from ..io import pair_by_stem

    for d in dirs:
        if not d.is_dir():
            raise fail(f"{d} is not a folder")
    common, stems, missing = pair_by_stem(dirs)
    if not common:
        raise fail("no file names are shared by all folders")
    if not ext.startswith("."):
        ext = "." + ext
    failures: list[tuple[str, str]] = []
    done = skipped = 0
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                  console=stderr_console()) as prog:
        t = prog.add_task(f"fusing ({method})", total=len(common))
        for stem in common:
            out = outdir / f"{stem}{ext}"
            if out.exists() and not overwrite:
                skipped += 1
            else:
                try:
                    _fuse_files([m[stem] for m in stems], out, method, task, params, bit_depth, None, True)
                    done += 1
                except PixfuseError as exc:
                    failures.append((stem, str(exc)))
            prog.advance(t)
    stderr_console().print(f"fused {done}, skipped {skipped} existing, failed {len(failures)}; output in {outdir}")
    for stem in missing:
        stderr_console().print(f"[yellow]unpaired[/]: {stem} (not present in every folder)")
    for stem, msg in failures:
        stderr_console().print(f"[red]failed[/]: {stem}: {msg}")
    if failures:
        raise typer.Exit(1)


@app.command("methods")
def methods_cmd(
    task: Optional[str] = typer.Option(None, "--task", help="Only methods serving this task."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """List the registered fusion methods with their tasks and citations."""
    from ..registry import list_methods

    rows = list_methods(task)
    if as_json:
        typer.echo(json.dumps(rows, indent=1, default=str))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"pixfuse methods{f' for {task}' if task else ''}", show_lines=False)
    for col in ("name", "family", "tasks", "inputs", "colour", "parameters", "citation"):
        table.add_column(col, overflow="fold")
    for r in rows:
        lo, hi = r["n_inputs"]
        table.add_row(r["name"], r["family"], ", ".join(r["tasks"]), f"{lo}..{hi if hi else 'N'}", r["color"],
                      ", ".join(f"{k}={v['default']}" for k, v in r["params"].items()), r["citation"])
    Console().print(table)


@app.command("info")
def info_cmd(image: Path = typer.Argument(..., help="Image file.")) -> None:
    """Print size, channels, bit depth and value range of an image."""
    from ..io import read_image

    img, meta = read_image(image)
    h, w = img.shape[:2]
    ch = 1 if img.ndim == 2 else img.shape[2]
    note = " (stored as RGB with identical channels)" if meta.stored_as_rgb_gray else ""
    typer.echo(f"{image}: {w}x{h}, {ch} channel{'s' if ch > 1 else ''}{note}, {meta.bit_depth}-bit "
               f"{meta.format}, range [{img.min():.4f}, {img.max():.4f}], mean {img.mean():.4f}"
               + (f", EXIF orientation {meta.exif_orientation}" if meta.exif_orientation != 1 else ""))
