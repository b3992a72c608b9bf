"""The Typer application object that every ``cmd_*`` module adds commands to."""
from __future__ import annotations

import typer

app = typer.Typer(
    name="pixfuse",
    help="Pixel-level image fusion: methods, metrics, benchmarks.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def fail(message: str, code: int = 2) -> typer.Exit:
    """Print ``error: message`` to stderr and return the Exit to raise."""
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


def parse_params(items: list[str] | None) -> dict[str, str]:
    """Parse ``-p key=value`` options into a dict (values stay strings; the registry converts)."""
    from ..errors import ParameterError

    out: dict[str, str] = {}
    for it in items or []:
        if "=" not in it:
            raise ParameterError(f"parameter {it!r} must be written key=value")
        k, v = it.split("=", 1)
        out[k.strip()] = v.strip()
    return out
