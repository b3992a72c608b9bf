"""``pixfuse demo``."""
from __future__ import annotations

from pathlib import Path

import typer

from ._app import app


@app.command("demo")
def demo_cmd(
    out: Path = typer.Option(Path("pixfuse-demo"), "-o", "--out", help="Folder for the demo's images and index.html."),
) -> None:
    """Fuse generated IR/visible, multi-focus and multi-exposure scenes offline; write an HTML page."""
    from ..demo import run_demo

    index = run_demo(out, log=lambda s: typer.echo(s, err=True))
    typer.echo(f"demo written: {index.resolve()}")
