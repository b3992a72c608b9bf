"""The ``pixfuse`` command line.

Sub-commands live in the ``cmd_*.py`` modules of this package and are found
automatically (each does ``from ._app import app`` and decorates its
functions).  User errors (:class:`pixfuse.errors.PixfuseError`) print one line
``error: ...`` and exit with code 2, never a traceback.
"""
from __future__ import annotations

import importlib
import pkgutil
import sys

import typer

from ..errors import PixfuseError
from ._app import app, fail, parse_params

for _m in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
    if _m.name.startswith("cmd_"):
        importlib.import_module(f"{__name__}.{_m.name}")


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``pixfuse`` console script."""
    try:
        app(args=argv, prog_name="pixfuse", standalone_mode=True)
    except PixfuseError as exc:
        typer.echo(f"error: {exc}", err=True)
        sys.exit(2)
    except KeyboardInterrupt:
        typer.echo("error: interrupted", err=True)
        sys.exit(130)


__all__ = ["app", "fail", "parse_params", "main"]
