"""``pixfuse metrics`` (score fused images) and ``pixfuse list-metrics``."""
from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path
from typing import Any, Optional

import typer

from ..errors import PixfuseError
from ._app import app, fail, stderr_console


def _names(metrics: Optional[list[str]]) -> list[str] | str:
    if not metrics:
        return "all"
    out: list[str] = []
    for m in metrics:
        out.extend(x.strip() for x in m.split(",") if x.strip())
    return out


def _fmt(v: float) -> str:
    if isinstance(v, float) and (math.isnan(v) or math.isinf(v)):
        return str(v)
    return f"{v:.6g}"


def _score(fused: Path, sources: list[Path], reference: Optional[Path], names: list[str] | str,
           task: Optional[str]) -> tuple[dict[str, dict[str, Any]], dict[str, str]]:
    """Scores and the metrics that 'all' skipped for the image size (name -> reason)."""
    import warnings

    from ..api import evaluate_detailed
    from ..errors import MetricSkippedWarning
    from ..io import read_image

    f, _ = read_image(fused)
    srcs = [read_image(p)[0] for p in sources]
    ref = read_image(reference)[0] if reference is not None else None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", MetricSkippedWarning)
        res = evaluate_detailed(f, srcs, names, ref, task=task)
    skipped: dict[str, str] = {}
    for w in caught:
        if isinstance(w.message, MetricSkippedWarning):
            skipped.update(w.message.skipped)
        else:  # not ours to swallow
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    return res, skipped


def _note_skipped(skipped: dict[str, str], where: str = "") -> None:
    for name, why in skipped.items():
        stderr_console().print(f"note: skipped {name}{where}: {why}", markup=False, highlight=False)


@app.command("metrics")
def metrics_cmd(
    paths: Optional[list[Path]] = typer.Argument(None, help="FUSED image first; further paths are taken as more sources "
                                                            "(so `--sources A B` works)."),
    sources: Optional[list[Path]] = typer.Option(None, "--sources", "-s",
                                                 help="Source images (IR then VIS, ...), or source folders with --fused DIR. Repeat or list after one flag."),
    reference: Optional[Path] = typer.Option(None, "--reference", "-r", help="Reference (ground-truth) image or folder."),
    metrics: Optional[list[str]] = typer.Option(None, "--metrics", "-m", help="Metric names (repeatable or comma-separated); default: all applicable."),
    task: Optional[str] = typer.Option(None, "--task", help="Limit 'all' to the metrics of this task."),
    fused_dir: Optional[Path] = typer.Option(None, "--fused", help="Folder mode: folder of fused images."),
    output: Optional[Path] = typer.Option(None, "-o", "--output", help="Folder mode: CSV file to write."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON (single-image mode)."),
    as_csv: bool = typer.Option(False, "--csv", help="Print CSV (single-image mode)."),
) -> None:
    """Score fused images: `pixfuse metrics F.png --sources IR.png VIS.png [--metrics qabf,ssim]`.

    Folder mode: `pixfuse metrics --fused DIR --sources DIR_IR DIR_VIS -o scores.csv`
    writes one row per image (files paired by name stem) plus the mean.
    """
    names = _names(metrics)
    if as_json and as_csv:
        raise fail("give at most one of --json and --csv")
    # `--sources A B`: click gives the option one value; the rest arrive as positionals
    pos = list(paths or [])
    srcs = list(sources or [])
    if fused_dir is not None:
        fused = None
        srcs += pos
    else:
        fused = pos[0] if pos else None
        srcs += pos[1:]
    if fused_dir is not None:
        if output is None:
            raise fail("folder mode needs -o/--output for the CSV file")
        _folder(fused_dir, srcs, reference, names, task, output)
        return
    if fused is None:
        raise fail("give a fused image, or --fused DIR for folder mode")
    for p in [fused, *srcs] + ([reference] if reference else []):
        if not p.exists():
            raise fail(f"{p} does not exist")
        if p.is_dir():
            raise fail(f"{p} is a folder; use --fused DIR for folder mode")
    res, skipped = _score(fused, srcs, reference, names, task)
    _note_skipped(skipped)
    if as_json:
        typer.echo(json.dumps({k: {**v, "value": (v["value"] if math.isfinite(v["value"]) else str(v["value"]))}
                               for k, v in res.items()}, indent=1))
        return
    if as_csv:
        buf = io.StringIO()
        w = csv.writer(buf)
        w.writerow(["metric", "value", "convention"])
        for k, v in res.items():
            w.writerow([k, repr(v["value"]), v["convention"]])
        typer.echo(buf.getvalue().rstrip("\n"))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=str(fused))
    for col in ("metric", "value", "better", "convention"):
        table.add_column(col)
    for k, v in res.items():
        table.add_row(f"{k} ({v['display']})", _fmt(v["value"]),
                      "higher" if v["higher_is_better"] else "lower", v["convention"])
    Console().print(table)


def _pair(dirs: list[Path]) -> tuple[list[str], list[dict[str, Path]], list[str]]:
    from ..io import pair_by_stem

    for d in dirs:
        if not d.is_dir():
            raise fail(f"{d} is not a folder")
    return pair_by_stem(dirs)


def _folder(fused_dir: Path, src_dirs: list[Path], ref_dir: Optional[Path], names: list[str] | str,
            task: Optional[str], output: Path) -> None:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    dirs = [fused_dir, *src_dirs] + ([ref_dir] if ref_dir else [])
    common, maps, missing = _pair(dirs)
    if not common:
        raise fail("no file names are shared by the fused folder and the source/reference folders")
    if len(common) > 1:  # a process scoring many images: keep freed memory (no re-faulting per image)
        from ..metrics._common import retain_freed_memory

        retain_freed_memory()
    rows: list[dict[str, Any]] = []
    cols: list[str] = []
    failures: list[tuple[str, str]] = []
    skipped: dict[str, tuple[int, str]] = {}  # metric -> (images skipped, first reason)
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                  console=stderr_console()) as prog:
        t = prog.add_task("scoring", total=len(common))
        for stem in common:
            try:
                srcs = [maps[i + 1][stem] for i in range(len(src_dirs))]
                ref = maps[-1][stem] if ref_dir else None
                res, skip = _score(maps[0][stem], srcs, ref, names, task)
                for k, why in skip.items():
                    skipped[k] = (skipped.get(k, (0, why))[0] + 1, skipped.get(k, (0, why))[1])
                rows.append({"image": stem, **{k: v["value"] for k, v in res.items()}})
                for k in res:
                    if k not in cols:
                        cols.append(k)
            except PixfuseError as exc:
                failures.append((stem, str(exc)))
            prog.advance(t)
    if not rows:
        for stem, msg in failures:
            stderr_console().print(f"[red]failed[/]: {stem}: {msg}")
        raise fail("no image could be scored")
    mean = {"image": "mean"}
    for c in cols:
        vals = [r[c] for r in rows if c in r and math.isfinite(r[c])]
        mean[c] = sum(vals) / len(vals) if vals else float("nan")
    output.parent.mkdir(parents=True, exist_ok=True)
    tmp = output.with_name(output.name + ".tmp")
    with open(tmp, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=["image", *cols])
        w.writeheader()
        for r in [*rows, mean]:
            w.writerow({k: (repr(v) if isinstance(v, float) else v) for k, v in r.items()})
    tmp.replace(output)
    stderr_console().print(f"scored {len(rows)} image(s), failed {len(failures)}; wrote {output}")
    for k, (count, why) in skipped.items():
        _note_skipped({k: why}, f" on {count} image(s)")
    for stem in missing:
        stderr_console().print(f"[yellow]unpaired[/]: {stem} (not present in every folder)")
    for stem, msg in failures:
        stderr_console().print(f"[red]failed[/]: {stem}: {msg}")
    if failures:
        raise typer.Exit(1)


@app.command("list-metrics")
def list_metrics_cmd(
    task: Optional[str] = typer.Option(None, "--task", help="Only metrics for this task."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """List the registered metrics with their convention, direction and citation."""
    from ..registry import list_metrics

    rows = list_metrics(task)
    if as_json:
        typer.echo(json.dumps(rows, indent=1))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"pixfuse metrics{f' for {task}' if task else ''}")
    for col in ("name", "display", "family", "better", "needs", "convention", "aliases"):
        table.add_column(col, overflow="fold")
    for r in rows:
        table.add_row(r["name"], r["display"], r["family"], "higher" if r["higher_is_better"] else "lower",
                      r["needs"], r["convention"], ", ".join(r["aliases"]))
    Console(width=200).print(table)
