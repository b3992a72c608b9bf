"""``pixfuse pansharpen-eval``: Wald-protocol reduced-resolution and full-resolution assessment of a scene."""
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Optional

import typer

from ._app import app, fail

REDUCED = ("q2n", "q", "sam", "ergas", "scc")
FULL = ("d_lambda", "d_s", "qnr", "d_lambda_k", "hqnr")


def evaluate_scene(pan, ms, methods: list[str], sensor: str, ratio: int, *, full: bool = True,
                   reduced: bool = True, cut: int = 21, progress=None) -> list[dict]:
    """Run ``methods`` on a PAN+MS scene and score them (toolbox protocol). Returns one row per method.

    Reduced resolution: :func:`pixfuse.ops.wald.reduce_resolution`, fuse, indices against the
    original MS with the border cut.  Full resolution: fuse the original pair, QNR-family indices.
    The row ``EXP`` is the interp23tap-upsampled MS (the toolbox's reference baseline).
    """
    import numpy as np

    from ..api import evaluate, fuse
    from ..methods.pansharpening import upsample_ms
    from ..metrics.spectral import qnr_values
    from ..ops.wald import reduce_resolution
    from ..registry import get_method

    specs = [get_method(m) for m in methods]
    red = reduce_resolution(pan, ms, sensor, ratio) if reduced else None
    rows = []
    for name, spec in [("EXP", None)] + [(s.name, s) for s in specs]:
        row: dict = {"method": name}
        kw = {"sensor": sensor} if spec is not None and "sensor" in spec.params else {}
        if red is not None:
            t0 = time.perf_counter()
            f = upsample_ms(red.ms, red.ratio) if spec is None else fuse([red.pan, red.ms], spec.name, **kw)
            row["time_rr_s"] = time.perf_counter() - t0
            row.update(evaluate(f, [], metrics=list(REDUCED), reference=red.reference,
                                options={"ratio": red.ratio, "cut": cut}))
        if full:
            t0 = time.perf_counter()
            f = upsample_ms(np.asarray(ms, dtype=float), ratio) if spec is None else fuse([pan, ms], spec.name, **kw)
            row["time_fr_s"] = time.perf_counter() - t0
            row.update(qnr_values(f, [pan, ms], sensor=sensor))
        rows.append(row)
        if progress is not None:
            progress(name)
    return rows


def format_table(rows: list[dict], columns: list[str]) -> str:
    """Plain-text table (Markdown pipe syntax) of ``rows``."""
    head = "| " + " | ".join(columns) + " |"
    sep = "|" + "|".join("---" for _ in columns) + "|"
    lines = [head, sep]
    for r in rows:
        cells = []
        for c in columns:
            v = r.get(c, "")
            cells.append(f"{v:.4f}" if isinstance(v, float) else str(v))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


@app.command("pansharpen-eval")
def pansharpen_eval_cmd(
    scene: Path = typer.Argument(..., help="A .mat scene with I_PAN and I_MS (or I_MS_LR) in native units."),
    methods: Optional[list[str]] = typer.Option(None, "-m", "--methods",
                                                help="Methods to run (repeatable or comma-separated); default: all."),
    sensor: Optional[str] = typer.Option(None, "--sensor", help="Sensor for the MTF filters (default: the file's)."),
    ratio: Optional[int] = typer.Option(None, "--ratio", help="Resolution ratio (default: from the sizes)."),
    reduced_only: bool = typer.Option(False, "--reduced-only", help="Skip the full-resolution indices."),
    full_only: bool = typer.Option(False, "--full-only", help="Skip the reduced-resolution (Wald) indices."),
    cut: int = typer.Option(21, "--cut", help="Border cut of the reduced-resolution indices (toolbox: 21)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON rows instead of a table."),
) -> None:
    """Score pansharpening methods on a scene: Wald protocol (Q2n, Q, SAM, ERGAS, SCC) and full resolution
    (D_lambda, D_S, QNR, D_lambda^K, HQNR), with the conventions of Vivone et al.'s toolbox."""
    from ..io.mat import load_pansharpening_mat
    from ..ops.mtf import canonical_sensor
    from ..registry import method_specs

    if reduced_only and full_only:
        raise fail("--reduced-only and --full-only exclude each other")
    sc = load_pansharpening_mat(scene)
    if ratio is not None and ratio != sc.ratio:
        raise fail(f"--ratio {ratio} disagrees with the scene's PAN/MS sizes (ratio {sc.ratio})")
    sens = sensor or sc.sensor or "generic"
    canonical_sensor(sens)
    names: list[str] = []
    for m in methods or []:
        names += [x.strip() for x in m.split(",") if x.strip()]
    if not names:
        names = sorted(s.name for s in method_specs("pansharpening"))
    typer.echo(f"{scene.name}: PAN {sc.pan.shape[0]}x{sc.pan.shape[1]}, MS {sc.ms.shape[0]}x{sc.ms.shape[1]}x"
               f"{sc.ms.shape[2]}, ratio {sc.ratio}, sensor {sens}", err=True)
    rows = evaluate_scene(sc.pan, sc.ms, names, sens, sc.ratio, full=not reduced_only, reduced=not full_only,
                          cut=cut, progress=lambda n: typer.echo(f"  done {n}", err=True))
    if as_json:
        typer.echo(json.dumps(rows, indent=1))
        return
    cols = ["method"]
    if not full_only:
        cols += ["q2n", "q", "sam", "ergas", "scc"]
    if not reduced_only:
        cols += ["d_lambda", "d_s", "qnr", "d_lambda_k", "hqnr"]
    typer.echo(format_table(rows, cols))
