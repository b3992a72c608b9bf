"""The ``pixfuse`` command line.

Sub-commands live in the ``cmd_*.py`` modules of this package and are found
automatically (each does ``from ._app import app`` and decorates its
functions).  User errors (:class:`pixfuse.errors.PixfuseError`) print one line
``error: ...`` and exit with code 2, never a traceback.

Start-up: :func:`main` imports only the module that defines the command named
on the command line (``_COMMAND_MODULES``; Typer then builds one command's
parameters instead of all of them); help, unknown names and
``from pixfuse.cli import app`` load every command.
"""
from __future__ import annotations

import importlib
import pkgutil
import sys

from ..errors import PixfuseError
from . import _app
from ._app import fail, parse_params

#: Command (or command group) name -> the ``cmd_*`` module that registers it.  A command missing here still
#: works (every module is then loaded); ``tests/test_foundation_cli.py`` checks that the entries are right.
_COMMAND_MODULES = {
    "align": "cmd_align",
    "bench": "cmd_bench",
    "datasets": "cmd_datasets",
    "demo": "cmd_demo",
    "fuse": "cmd_fuse",
    "methods": "cmd_fuse",
    "info": "cmd_fuse",
    "metrics": "cmd_metrics",
    "list-metrics": "cmd_metrics",
    "pansharpen": "cmd_pansharpen",
    "pansharpen-eval": "cmd_pansharpen_eval",
    "train": "cmd_train",
    "distill": "cmd_train",
}
_ALL_LOADED = False


def _load_commands(name: str | None = None) -> None:
    """Import the module of command ``name``, or (None / unknown name) every ``cmd_*`` module."""
    global _ALL_LOADED
    mod = _COMMAND_MODULES.get(name) if name else None
    if mod is not None:
        importlib.import_module(f"{__name__}.{mod}")
        return
    if not _ALL_LOADED:
        for m in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
            if m.name.startswith("cmd_"):
                importlib.import_module(f"{__name__}.{m.name}")
        _ALL_LOADED = True


def _command_name(argv: list[str]) -> str | None:
    """The sub-command named in ``argv`` (after the global options), or None (help, nothing, an option first)."""
    it = iter(argv)
    for tok in it:
        if tok == "--max-pixels":
            next(it, None)
        elif tok.startswith("--max-pixels="):
            continue
        elif tok.startswith("-"):
            return None
        else:
            return tok
    return None


def __getattr__(name: str):  # ``from pixfuse.cli import app``: the application with every command
    if name == "app":
        _load_commands()
        return _app.app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``pixfuse`` console script."""
    args = list(sys.argv[1:] if argv is None else argv)
    _load_commands(_command_name(args))
    try:
        _app.app(args=args, prog_name="pixfuse", standalone_mode=True)
    except PixfuseError as exc:
        _app.typer.echo(f"error: {exc}", err=True)
        sys.exit(2)
    except KeyboardInterrupt:
        _app.typer.echo("error: interrupted", err=True)
        sys.exit(130)


__all__ = ["app", "fail", "parse_params", "main"]
