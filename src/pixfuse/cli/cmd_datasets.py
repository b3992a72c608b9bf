"""``pixfuse datasets PATH`` (list + validate), ``datasets catalog``, ``datasets download NAME --to DIR``."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

from ._app import app, fail, stderr_console


@app.command("datasets")
def datasets_cmd(
    args: Optional[list[str]] = typer.Argument(
        None, help="PATH to list and validate; or `download NAME`; or `catalog` (the downloadable datasets)."),
    task: Optional[str] = typer.Option(None, "--task", help="Force the task (ivif, medical, multi_focus, ...)."),
    layout: Optional[str] = typer.Option(None, "--layout", help="Force the layout (pairs, tno-scenes, sequences, "
                                                                "flat-sequences, pansharpening)."),
    split: Optional[str] = typer.Option(None, "--split", help="train/test folder for MSRS/LLVIP trees (default test)."),
    decode: bool = typer.Option(False, "--decode", help="Decode every image (finds truncated files; slower)."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
    to: Optional[Path] = typer.Option(None, "--to", help="download: parent folder of the dataset."),
    mirror: Optional[str] = typer.Option(None, "--mirror", help="download: base URL replacing the original hosts "
                                                                "(e.g. file:///data/mirror)."),
    catalog: Optional[Path] = typer.Option(None, "--catalog", help="Extra JSON catalog of datasets."),
    allow_unpinned: bool = typer.Option(False, "--allow-unpinned",
                                        help="download: accept catalog entries without a pinned SHA-256."),
) -> None:
    """List what a dataset folder holds and validate it (missing partners, size mismatches, unreadable files)."""
    from ..io.datasets import download_dataset, load_catalog, open_dataset, validate_dataset

    a = list(args or [])
    if not a or a[0] == "catalog":
        cat = load_catalog(catalog)
        if as_json:
            typer.echo(json.dumps([{"name": e.name, "task": e.task, "description": e.description,
                                    "licence": e.licence, "files": len(e.files) or None, "pinned": e.pinned}
                                   for e in cat.values()], indent=1))
            return
        from rich.console import Console
        from rich.table import Table

        t = Table(title="datasets for `pixfuse datasets download NAME --to DIR`")
        for c in ("name", "task", "content", "checksums", "licence / terms"):
            t.add_column(c, overflow="fold")
        for e in cat.values():
            t.add_row(e.name, e.task, e.description, "sha256 per file" if e.pinned and e.files else
                      ("sha256" if e.pinned else "not pinned"), e.licence)
        Console().print(t)
        return
    if a[0] == "download":
        if len(a) != 2:
            raise fail("usage: pixfuse datasets download NAME --to DIR [--mirror URL]")
        if to is None:
            raise fail("download needs --to DIR")
        from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn

        with Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn(),
                      console=stderr_console()) as prog:
            tid = prog.add_task(f"download {a[1]}", total=None)
            path = download_dataset(a[1], to, mirror=mirror, catalog=catalog, allow_unpinned=allow_unpinned,
                                    progress=lambda n: prog.advance(tid, n))
        ds = open_dataset(path)
        typer.echo(f"{path}: {len(ds.items)} items ({ds.task}, layout {ds.layout}); checksums verified")
        return
    if len(a) != 1:
        raise fail("give one dataset folder (or `download NAME`, `catalog`)")
    p = Path(a[0])
    ds = open_dataset(p, task=task, layout=layout, split=split)
    validate_dataset(ds, decode=decode)
    if as_json:
        typer.echo(json.dumps({**ds.summary(), "issues": [str(i) for i in ds.issues],
                               "item_names": [i.name for i in ds.items]}, indent=1))
    else:
        s = ds.summary()
        roles = f", sources: {' + '.join(s['roles'])}" if s["roles"] else ""
        typer.echo(f"{p}: {s['items']} items, task {s['task']}, layout {s['layout']}{roles}"
                   + (f", {s['with_reference']} with reference" if s["with_reference"] else ""))
        names = [i.name for i in ds.items]
        if names:
            shown = ", ".join(names[:12]) + (f", ... ({len(names) - 12} more)" if len(names) > 12 else "")
            typer.echo(f"  items: {shown}")
            nsrc = sorted({len(i.sources) for i in ds.items})
            typer.echo(f"  sources per item: {', '.join(map(str, nsrc))}")
        for i in ds.issues:
            typer.echo(f"  {i}", err=True)
        typer.echo(f"{len(ds.errors)} error(s), {len(ds.issues) - len(ds.errors)} warning(s)")
    if ds.errors:
        raise typer.Exit(1)
