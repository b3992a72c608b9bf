"""``pixfuse pansharpen``: pansharpen a PAN/MS GeoTIFF pair tile by tile, optionally with Dask."""
from __future__ import annotations

import time
from pathlib import Path
from typing import Optional

import typer

from ._app import app, fail, parse_params, stderr_console


@app.command("pansharpen")
def pansharpen_cmd(
    pan: Path = typer.Argument(..., help="Panchromatic GeoTIFF (1 band)."),
    ms: Path = typer.Argument(..., help="Multispectral GeoTIFF (B bands, 1/ratio of the PAN size)."),
    output: Path = typer.Option(..., "-o", "--output", help="Output GeoTIFF (PAN grid, MS bands and dtype)."),
    method: str = typer.Option("mtf-glp-hpm", "-m", "--method", help="Pansharpening method (`pixfuse methods --task pansharpening`)."),
    sensor: Optional[str] = typer.Option(None, "--sensor", help="Sensor for the MTF gains (e.g. WV2, GeoEye1, IKONOS, none)."),
    param: Optional[list[str]] = typer.Option(None, "-p", "--param", help="Method parameter key=value (repeatable)."),
    tile: int = typer.Option(2048, "--tile", help="Tile side in PAN pixels (0: whole scene at once)."),
    halo: Optional[int] = typer.Option(None, "--halo", help="Tile overlap in PAN pixels (default: method's safe halo)."),
    workers: Optional[int] = typer.Option(None, "--workers", help="Local Dask worker processes (default: 1, in-process)."),
    scheduler: Optional[str] = typer.Option(None, "--scheduler", help="Address of an existing Dask scheduler (tcp://host:8786)."),
    bits: Optional[int] = typer.Option(None, "--bits", help="Significant bits of the data (default: NBITS tag or inferred)."),
    per_tile_stats: bool = typer.Option(False, "--per-tile-stats", help="Per-tile global statistics: one pass, not tile-exact."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing output."),
    quiet: bool = typer.Option(False, "-q", "--quiet", help="No progress bar."),
) -> None:
    """Pansharpen a scene of any size: `pixfuse pansharpen PAN.tif MS.tif -o OUT.tif --method mtf-glp-hpm --sensor WV2`."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    from ..api import resolve_method
    from ..tiling import pansharpen_geotiff

    if workers is not None and scheduler is not None:
        raise fail("give either --workers or --scheduler, not both")
    if workers is not None and workers < 1:
        raise fail(f"--workers must be at least 1, not {workers}")
    if tile < 0:
        raise fail(f"--tile must be >= 0, not {tile}")
    spec = resolve_method(method, "pansharpening")
    params: dict[str, object] = dict(parse_params(param))
    if sensor is not None:
        if "sensor" not in spec.params:
            raise fail(f"method {spec.name!r} takes no sensor")
        params["sensor"] = sensor
    params.pop("ratio", None)  # the ratio comes from the files
    spec.validate_params({k: v for k, v in params.items()})  # fail before reading anything
    t0 = time.perf_counter()
    if quiet:
        info = pansharpen_geotiff(pan, ms, output, spec.name, tile=tile, halo=halo, exact=not per_tile_stats,
                                  bits=bits, workers=workers, scheduler=scheduler, overwrite=overwrite, **params)
    else:
        with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                      TimeRemainingColumn(), console=stderr_console()) as prog:
            task = prog.add_task(f"{spec.name}: tiles", total=None)

            def progress(done: int, total: int, phase: str) -> None:
                prog.update(task, completed=done, total=total, description=f"{spec.name}: {phase}")

            info = pansharpen_geotiff(pan, ms, output, spec.name, tile=tile, halo=halo, exact=not per_tile_stats,
                                      bits=bits, workers=workers, scheduler=scheduler, overwrite=overwrite,
                                      progress=progress, **params)
    dt = time.perf_counter() - t0
    if not quiet:
        stderr_console().print(f"{info.tiles} tiles, {info.passes} pass{'es' if info.passes > 1 else ''}, "
                      f"{info.statistics} global statistics, {dt:.1f} s")
    typer.echo(str(info.output))
