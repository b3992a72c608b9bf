"""The Typer application object that every ``cmd_*`` module adds commands to."""
from __future__ import annotations

import importlib
import importlib.machinery
import importlib.util
import os
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


def _exists(name: str) -> bool:
    """Whether module ``name`` can be imported, without importing its parent package when that is not loaded.

    ``importlib.util.find_spec("scipy.ndimage")`` imports ``scipy`` itself
    (~13 ms); locating ``scipy`` and looking for the submodule's file does not.
    """
    parent, _, child = name.rpartition(".")
    try:
        if not parent or parent in sys.modules:
            return importlib.util.find_spec(name) is not None
        spec = importlib.util.find_spec(parent)
    except (ImportError, ValueError):
        return False
    if spec is None or not spec.submodule_search_locations:
        return False
    suffixes = (".py", *importlib.machinery.EXTENSION_SUFFIXES)
    for loc in spec.submodule_search_locations:
        base = os.path.join(loc, child)
        if os.path.isfile(os.path.join(base, "__init__.py")) or any(os.path.isfile(base + s) for s in suffixes):
            return True
    return False


def _defer_heavy_imports(names: tuple[str, ...] = _DEFERRED) -> None:
    for name in names:
        if name in sys.modules or not _exists(name):
            continue
        placeholder = _DeferredModule(name)
        sys.modules[name] = placeholder
        parent, _, child = name.rpartition(".")
        if parent and parent in sys.modules:   # else the parent finds the placeholder in sys.modules when imported
            setattr(sys.modules[parent], child, placeholder)


_defer_heavy_imports()

import typer  # noqa: E402


def _install_fast_coercion() -> None:
    """Coerce plain ``str``/``int``/``float``/``Path`` parameters without pydantic.

    typer (0.2x) converts every parameter value through a pydantic
    ``TypeAdapter``: importing pydantic and building the adapters cost about a
    quarter of a ``pixfuse fuse`` command's start-up (~80-130 ms, measured with
    ``python -X importtime -m pixfuse fuse ...``; whole-command times:
    ``benchmarks/startup_commands.py``, docs/stacks.md).  Parameters annotated
    with those plain types, or ``list``/``Optional`` of them, without ranges,
    choices, custom parsers or file opening, are converted here directly
    (paths go through typer's own existence/permission checks); everything
    else keeps typer's pydantic path.  If typer's internals differ (another
    version), nothing is patched.
    """
    import typing
    from pathlib import Path

    try:
        from typer import _coercion, core
        from typer._click.exceptions import BadParameter
        from typer._param_types import coerce_cli_path
    except ImportError:
        return
    original = getattr(core, "build_runtime_param", None)
    base = getattr(_coercion, "RuntimeParam", None)
    if original is None or base is None or not hasattr(base, "_coerce_value"):
        return
    names = {int: "integer", float: "float"}
    _TRUE = {"1", "true", "t", "yes", "y", "on"}
    _FALSE = {"", "0", "false", "f", "no", "n", "off"}

    def leaf(ann, info):
        if ann is str:
            return lambda v, param, ctx: v.decode() if isinstance(v, bytes) else str(v)
        if ann in (int, float):
            def num(v, param, ctx, _t=ann):
                if isinstance(v, _t) and not isinstance(v, bool):
                    return v
                try:
                    return _t(v.strip() if isinstance(v, str) else v)
                except (TypeError, ValueError):
                    raise BadParameter(f"{v!r} is not a valid {names[_t]}.", ctx=ctx, param=param) from None
            return num
        if ann is bool:
            def flag(v, param, ctx):
                if isinstance(v, bool):
                    return v
                t = str(v).strip().lower()
                if t in _TRUE or t in _FALSE:
                    return t in _TRUE
                raise BadParameter(f"{v!r} is not a valid boolean.", ctx=ctx, param=param)
            return flag
        if ann is Path and info.path_type is None:
            return lambda v, param, ctx: coerce_cli_path(v if isinstance(v, Path) else Path(v), info,
                                                         path_type=Path, param=param, ctx=ctx)
        return None

    def simple(desc):
        info = desc.parameter_info
        if (getattr(desc, "file_annotation", None) is not None or getattr(info, "parser", None) is not None
                or getattr(info, "min", None) is not None or getattr(info, "max", None) is not None
                or getattr(info, "click_type", None) is not None):
            return None
        ann = desc.annotation
        if typing.get_origin(ann) is typing.Union:
            args = [a for a in typing.get_args(ann) if a is not type(None)]
            if len(args) != 1:
                return None
            ann = args[0]
        if typing.get_origin(ann) is list:
            (item,) = typing.get_args(ann) or (None,)
            f = leaf(item, info)
            return None if f is None else (lambda v, param, ctx: [f(x, param, ctx) for x in v])
        return leaf(ann, info)

    class _PlainRuntimeParam(base):  # type: ignore[misc, valid-type]
        def _coerce_value(self, value, param, ctx):  # noqa: ANN001, ANN202
            return self._fn(value, param, ctx)

    def build(descriptor):  # noqa: ANN001, ANN202
        try:
            fn = simple(descriptor)
        except Exception:  # noqa: BLE001 - unexpected descriptor shape: typer's own path
            fn = None
        if fn is None:
            return original(descriptor)
        rp = _PlainRuntimeParam(parameter_info=descriptor.parameter_info, annotation=descriptor.annotation)
        object.__setattr__(rp, "_fn", fn)
        return rp

    core.build_runtime_param = build


_install_fast_coercion()

app = typer.Typer(
    name="pixfuse",
    help="Pixel-level image fusion: methods, metrics, benchmarks.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


_STDERR_CONSOLE = None


def stderr_console():  # noqa: ANN201 - rich.console.Console, imported on first use (~20 ms)
    """The commands' shared rich ``Console`` on stderr, created on first use."""
    global _STDERR_CONSOLE
    if _STDERR_CONSOLE is None:
        from rich.console import Console

        _STDERR_CONSOLE = Console(stderr=True)
    return _STDERR_CONSOLE


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
