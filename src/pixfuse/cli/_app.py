"""The Typer application object that every ``cmd_*`` module adds commands to."""
from __future__ import annotations

import importlib.util
import sys

#: Heavy subpackages that method and metric modules import at module level but
#: a single CLI command rarely uses: in the CLI process they are bound lazily
#: (:class:`importlib.util.LazyLoader`), so the real import happens on first
#: attribute access.  This cut ``pixfuse fuse`` start-up by about 1 s (scipy's
#: subpackages are most of the registry's import time); modules that a command
#: actually uses load exactly as before, just later.
_DEFERRED = ("scipy.ndimage", "scipy.fft", "scipy.linalg", "scipy.sparse", "scipy.signal", "scipy.special",
             "scipy.stats", "scipy.spatial", "scipy.interpolate", "scipy.optimize", "pywt")


def _defer_heavy_imports(names: tuple[str, ...] = _DEFERRED) -> None:
    for name in names:
        if name in sys.modules:
            continue
        try:
            spec = importlib.util.find_spec(name)
        except (ImportError, ValueError):
            continue
        if spec is None or spec.loader is None:
            continue
        loader = importlib.util.LazyLoader(spec.loader)
        spec.loader = loader
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        loader.exec_module(module)
        parent, _, child = name.rpartition(".")
        if parent:
            setattr(sys.modules[parent], child, module)


_defer_heavy_imports()

import typer  # noqa: E402

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
