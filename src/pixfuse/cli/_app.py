"""The Typer application object that every ``cmd_*`` module adds commands to."""
from __future__ import annotations

import importlib
import importlib.util
import sys
import threading
import types

#: Heavy subpackages that method and metric modules import at module level but
#: a single CLI command rarely uses: in the CLI process they are bound to a
#: placeholder module that imports the real one on first attribute access, so
#: ``pixfuse fuse`` does not pay for scipy's subpackages (about 1 s of the
#: registry's 1.6 s import) unless the chosen method uses them.
_DEFERRED = ("scipy.ndimage", "scipy.fft", "scipy.linalg", "scipy.sparse", "scipy.signal", "scipy.special",
             "scipy.stats", "scipy.spatial", "scipy.interpolate", "scipy.optimize", "pywt")


class _DeferredModule(types.ModuleType):
    """Stands in for a module until an attribute is needed, then imports it (thread-safe) and forwards.

    ``importlib.util.LazyLoader`` is not safe when two threads touch the module
    first at the same time (Python < 3.12: one of them sees a half-initialised
    module); methods that work on two threads do exactly that.
    """

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.__dict__["_pf_lock"] = threading.RLock()
        self.__dict__["_pf_module"] = None

    def _pf_load(self) -> types.ModuleType:
        mod = self.__dict__["_pf_module"]
        if mod is None:
            with self.__dict__["_pf_lock"]:
                mod = self.__dict__["_pf_module"]
                if mod is None:
                    if sys.modules.get(self.__name__) is self:
                        del sys.modules[self.__name__]
                    mod = importlib.import_module(self.__name__)
                    parent, _, child = self.__name__.rpartition(".")
                    if parent and parent in sys.modules:
                        setattr(sys.modules[parent], child, mod)
                    self.__dict__["_pf_module"] = mod
        return mod

    def __getattr__(self, attr: str):  # only called for names not set on the placeholder
        return getattr(self._pf_load(), attr)

    def __dir__(self) -> list[str]:
        return dir(self._pf_load())


def _defer_heavy_imports(names: tuple[str, ...] = _DEFERRED) -> None:
    for name in names:
        if name in sys.modules:
            continue
        try:
            if importlib.util.find_spec(name) is None:
                continue
        except (ImportError, ValueError):
            continue
        placeholder = _DeferredModule(name)
        sys.modules[name] = placeholder
        parent, _, child = name.rpartition(".")
        if parent:
            setattr(sys.modules[parent], child, placeholder)


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
