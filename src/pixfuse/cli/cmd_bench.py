"""``pixfuse bench run | add-results | report``: the benchmark workbench."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from ._app import app, fail

bench_app = typer.Typer(
    name="bench",
    help="Benchmark methods x datasets x metrics (resumable, parallel), score external results, write reports.",
    no_args_is_help=True,
)
app.add_typer(bench_app, name="bench")


@bench_app.command("run")
def run_cmd(
    config: Optional[Path] = typer.Argument(None, help="TOML run configuration (see docs/bench.md)."),
    dataset: Optional[list[str]] = typer.Option(None, "-d", "--dataset",
                                                help="Dataset folder (repeatable); PATH::task forces the task."),
    method: Optional[list[str]] = typer.Option(None, "-m", "--method",
                                               help="Method, optionally with a grid: 'lp:levels=3|4;sigma=1'. "
                                                    "Repeatable; default: every method of the task."),
    metric: Optional[list[str]] = typer.Option(None, "-k", "--metric",
                                               help="Metric (repeatable); default: every metric of the task."),
    store: Optional[Path] = typer.Option(None, "--store", help="SQLite result store (default pixfuse-bench/results.sqlite)."),
    cache: Optional[Path] = typer.Option(None, "--cache", help="Folder of cached fused images (default next to the store)."),
    workers: Optional[int] = typer.Option(None, "--workers", "-w", help="Worker processes (0: run in this process)."),
    scheduler: Optional[str] = typer.Option(None, "--scheduler", help="Address of an existing Dask scheduler."),
    executor: Optional[str] = typer.Option(None, "--executor", help="auto (Dask if installed), dask, processes, serial."),
    repeats: Optional[int] = typer.Option(None, "--repeats", help="Timed fusion calls per image (median reported)."),
    warmup: Optional[int] = typer.Option(None, "--warmup", help="Untimed fusion calls before timing."),
    threads: Optional[int] = typer.Option(None, "--threads", help="Threads per worker (default 1: fair timing)."),
    limit: Optional[int] = typer.Option(None, "--limit", help="Only the first N items of each dataset."),
    crop: Optional[int] = typer.Option(None, "--crop", help="Centre-crop every image to at most NxN (quick runs)."),
    plugin: Optional[list[str]] = typer.Option(None, "--plugin",
                                               help="Module or .py file registering extra methods/metrics."),
    retry_failed: bool = typer.Option(False, "--retry-failed", help="Retry fusions/metrics that failed before."),
    no_progress: bool = typer.Option(False, "--no-progress", help="No progress bar."),
) -> None:
    """Run (or resume) a benchmark: computes only the results missing from the store."""
    import dataclasses

    from ..bench.config import cli_config, load_config
    from ..bench.runner import run_benchmark

    if config is None and not dataset:
        raise fail("give a CONFIG file or at least one --dataset")
    if config is not None:
        cfg = load_config(config)
        if dataset:
            raise fail("give either a CONFIG file or --dataset options, not both")
        if method:
            from ..bench.config import parse_method_spec

            cfg.methods = [parse_method_spec(m) for m in method]
        if metric:
            cfg.metrics = list(metric)
    else:
        cfg = cli_config(list(dataset or []), method, metric)
    over = {"store": str(store) if store else None, "cache": str(cache) if cache else None, "workers": workers,
            "scheduler": scheduler, "executor": executor, "repeats": repeats, "warmup": warmup, "threads": threads}
    for k, v in over.items():
        if v is not None:
            setattr(cfg, k, v)
    if retry_failed:
        cfg.retry_failed = True
    if plugin:
        cfg.plugins = list(cfg.plugins) + list(plugin)
    if limit is not None or crop is not None:
        cfg.datasets = [dataclasses.replace(d, limit=limit if limit is not None else d.limit,
                                            crop=crop if crop is not None else d.crop) for d in cfg.datasets]
    from ..bench.config import check_numbers

    check_numbers(cfg)
    stats = run_benchmark(cfg, progress=not no_progress, log=lambda s: typer.echo(s, err=True))
    typer.echo(f"{stats.results_written} new results, {stats.results_cached} already stored, "
               f"{len(stats.failures)} failures; wall {stats.wall_seconds:.1f} s; store {cfg.store}")


@bench_app.command("add-results")
def add_results_cmd(
    dataset: Path = typer.Argument(..., help="Dataset folder the images were fused from."),
    method_name: str = typer.Argument(..., help="Name to record the method under."),
    folder: Path = typer.Argument(..., help="Folder of fused images, named like the dataset items."),
    store: Path = typer.Option(Path("pixfuse-bench/results.sqlite"), "--store", help="SQLite result store."),
    metric: Optional[list[str]] = typer.Option(None, "-k", "--metric", help="Metric (repeatable); default: all of the task."),
    task: Optional[str] = typer.Option(None, "--task", help="Force the dataset's task."),
    name: Optional[str] = typer.Option(None, "--dataset-name", help="Dataset name in the store (default: folder name)."),
    crop: Optional[int] = typer.Option(None, "--crop", help="The sources were centre-cropped to NxN (as in bench run --crop)."),
    plugin: Optional[list[str]] = typer.Option(None, "--plugin", help="Module or .py file registering extra metrics."),
    replace: bool = typer.Option(False, "--replace", help="Delete this method's earlier results on the dataset first."),
) -> None:
    """Score a folder of externally fused images with the same metrics and conventions."""
    from ..bench.runner import add_results

    rep = add_results(str(dataset), method_name, folder, store=store, metrics=list(metric) if metric else "all",
                      task=task, dataset_name=name, crop=crop, replace=replace, plugins=list(plugin or []),
                      log=lambda s: typer.echo(s, err=True))
    typer.echo(f"scored {len(rep.scored)} images ({rep.results_written} new values); missing {len(rep.missing)}, "
               f"unreadable {len(rep.unreadable)}, failed {len(rep.failures)}")
    if rep.missing or rep.unreadable or rep.failures:
        raise typer.Exit(1)


@bench_app.command("report")
def report_cmd(
    store: Path = typer.Option(Path("pixfuse-bench/results.sqlite"), "--store", help="SQLite result store."),
    out: Path = typer.Option(Path("pixfuse-bench/report"), "-o", "--out", help="Output folder."),
    formats: str = typer.Option("csv,md,tex,html", "--formats", help="Comma-separated: csv, md, tex, html."),
    dataset: Optional[list[str]] = typer.Option(None, "-d", "--dataset", help="Only these datasets (repeatable)."),
    method: Optional[list[str]] = typer.Option(None, "-m", "--method", help="Only these methods (repeatable)."),
    metric: Optional[list[str]] = typer.Option(None, "-k", "--metric", help="Only these metrics (repeatable)."),
    item: Optional[list[str]] = typer.Option(None, "--item", help="Items shown in the HTML image grids (repeatable)."),
    n_grid: int = typer.Option(2, "--grid", help="Items in the image grid when --item is not given."),
    version: Optional[str] = typer.Option(None, "--version", help="pixfuse version of the results (default: this one)."),
    plugin: Optional[list[str]] = typer.Option(None, "--plugin", help="Module or .py file registering extra metrics."),
) -> None:
    """Write CSV, Markdown, LaTeX tables and a self-contained HTML report."""
    from ..bench.report import make_report
    from ..bench.worker import load_plugins

    load_plugins(list(plugin or []))
    if not store.exists():
        raise fail(f"{store}: no result store (run `pixfuse bench run` first)")
    files = make_report(store, out, formats=[f.strip() for f in formats.split(",") if f.strip()], datasets=dataset,
                        methods=method, metrics=metric, grid_items=item, n_grid=n_grid, version=version)
    for f in files:
        typer.echo(str(f))
