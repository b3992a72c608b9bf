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


@app.callback()
def _global_options(
    max_pixels: int = typer.Option(
        None, "--max-pixels", help="Largest image (width x height) to decode; default 2^28 or $PIXFUSE_MAX_PIXELS."
    ),
) -> None:
    """Pixel-level image fusion: methods, metrics, benchmarks."""
    if max_pixels is not None:
        from ..io import set_max_pixels

        if max_pixels <= 0:
            raise fail("--max-pixels must be positive")
        set_max_pixels(max_pixels)
