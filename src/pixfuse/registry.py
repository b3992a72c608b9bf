"""Registries of fusion methods and quality metrics.

A method is one function plus a :func:`register_method` decorator that records
its metadata (tasks, input count, colour handling, parameters, citation).  The
CLI, the README table, the benchmark and the web page are all generated from
these entries.
"""
from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable, Sequence
from typing import Any

from .errors import ParameterError, UnknownMethodError, UnknownMetricError

TASKS = (
    "ivif",
    "medical",
    "multi_focus",
    "multi_exposure",
    "pansharpening",
    "hsi_msi",
    "general",
)

#: How a method treats colour.
#:  - ``"luminance"``: operates on single-channel images; ``pixfuse.fuse`` feeds it
#:    grey sources or the Y channel of YCbCr and re-attaches chroma.
#:  - ``"channels"``: computes its weights once and applies them to every channel
#:    itself (exposure / focus stacks); receives HxW or HxWxC arrays as given.
#:  - ``"native"``: handles its inputs itself (pansharpening PAN+MS, HSI+MSI).
COLOR_MODES = ("luminance", "channels", "native")


@dataclasses.dataclass(frozen=True)
class Param:
    """One parameter of a method: default, type, allowed range, one-line doc."""

    default: Any
    doc: str = ""
    type: type | None = None
    low: float | None = None
    high: float | None = None
    choices: Sequence[Any] | None = None

    def validate(self, name: str, value: Any) -> Any:
        typ = self.type or (type(self.default) if self.default is not None else None)
        if typ is not None and value is not None:
            if typ is bool:
                if isinstance(value, str):
                    low = value.strip().lower()
                    if low in ("1", "true", "yes", "on"):
                        value = True
                    elif low in ("0", "false", "no", "off"):
                        value = False
                if not isinstance(value, (bool,)) and not (
                    isinstance(value, (int,)) and value in (0, 1)
                ):
                    raise ParameterError(f"parameter {name!r} must be a boolean, got {value!r}")
                value = bool(value)
            elif typ is int:
                if isinstance(value, str):
                    try:
                        value = int(value)
                    except ValueError:
                        raise ParameterError(f"parameter {name!r} must be an integer, got {value!r}") from None
                if isinstance(value, float) and value.is_integer():
                    value = int(value)
                if isinstance(value, bool) or not isinstance(value, (int,)) and not hasattr(value, "__index__"):
                    raise ParameterError(f"parameter {name!r} must be an integer, got {value!r}")
                value = int(value)
            elif typ is float:
                try:
                    value = float(value)
                except (TypeError, ValueError):
                    raise ParameterError(f"parameter {name!r} must be a number, got {value!r}") from None
                if value != value:
                    raise ParameterError(f"parameter {name!r} must not be NaN")
            elif typ is str:
                value = str(value)
        if self.choices is not None and value not in self.choices:
            raise ParameterError(
                f"parameter {name!r} must be one of {list(self.choices)}, got {value!r}"
            )
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            if self.low is not None and value < self.low:
                raise ParameterError(f"parameter {name!r}={value!r} is below its minimum {self.low}")
            if self.high is not None and value > self.high:
                raise ParameterError(f"parameter {name!r}={value!r} is above its maximum {self.high}")
        return value

    def describe(self) -> str:
        rng = ""
        if self.choices is not None:
            rng = "{" + ", ".join(map(str, self.choices)) + "}"
        elif self.low is not None or self.high is not None:
            lo = "-inf" if self.low is None else f"{self.low:g}"
            hi = "inf" if self.high is None else f"{self.high:g}"
            rng = f"[{lo}, {hi}]"
        return rng


@dataclasses.dataclass(frozen=True)
class MethodSpec:
    """Metadata of a registered fusion method."""

    name: str
    func: Callable[..., Any]
    tasks: tuple[str, ...]
    n_inputs: tuple[int, int | None]
    color: str
    params: dict[str, Param]
    citation: str
    summary: str
    family: str
    aliases: tuple[str, ...] = ()
    #: The method never writes into its input arrays and returns a new array it keeps no reference
    #: to: :func:`pixfuse.fuse` then passes float32 sources without a defensive copy and clips the
    #: result in place (saves two full passes over the data for fast methods).
    copy_free: bool = False

    def validate_params(self, params: dict[str, Any]) -> dict[str, Any]:
        unknown = sorted(set(params) - set(self.params))
        if unknown:
            valid = ", ".join(sorted(self.params)) or "(none)"
            raise ParameterError(
                f"unknown parameter(s) {', '.join(unknown)} for method {self.name!r}; valid: {valid}"
            )
        out = {k: p.default for k, p in self.params.items()}
        for k, v in params.items():
            out[k] = self.params[k].validate(k, v)
        return out

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "aliases": list(self.aliases),
            "family": self.family,
            "tasks": list(self.tasks),
            "n_inputs": list(self.n_inputs),
            "color": self.color,
            "summary": self.summary,
            "citation": self.citation,
            "params": {
                k: {"default": p.default, "doc": p.doc, "range": p.describe()}
                for k, p in self.params.items()
            },
        }


_METHODS: dict[str, MethodSpec] = {}
_METHOD_ALIASES: dict[str, str] = {}


def _first_line(doc: str | None) -> str:
    if not doc:
        return ""
    for line in inspect.cleandoc(doc).splitlines():
        if line.strip():
            return line.strip()
    return ""


def register_method(
    name: str,
    *,
    tasks: Sequence[str],
    n_inputs: tuple[int, int | None] = (2, None),
    color: str = "luminance",
    params: dict[str, Param] | None = None,
    citation: str,
    aliases: Sequence[str] = (),
    copy_free: bool = False,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorator registering a fusion function ``f(images, **params) -> fused``.

    ``params`` must name exactly the function's keyword-only parameters, so the
    registry and the signature cannot drift apart.  ``copy_free=True`` promises
    that the function never writes into its input arrays and returns a fresh
    array it keeps no reference to (see :attr:`MethodSpec.copy_free`).
    """
    for t in tasks:
        if t not in TASKS:
            raise ValueError(f"unknown task {t!r}; known: {TASKS}")
    if color not in COLOR_MODES:
        raise ValueError(f"unknown colour mode {color!r}")

    def deco(func: Callable[..., Any]) -> Callable[..., Any]:
        sig = inspect.signature(func)
        kwonly = {
            p.name: p.default
            for p in sig.parameters.values()
            if p.kind is inspect.Parameter.KEYWORD_ONLY
        }
        spec_params = dict(params or {})
        if set(kwonly) != set(spec_params):
            raise ValueError(
                f"method {name}: registry params {sorted(spec_params)} != keyword-only args {sorted(kwonly)}"
            )
        for k, p in spec_params.items():
            if kwonly[k] != p.default and not (kwonly[k] is None and p.default is None):
                raise ValueError(f"method {name}: default of {k} differs between signature and registry")
        key = name.lower()
        if key in _METHODS or key in _METHOD_ALIASES:
            raise ValueError(f"method {name!r} registered twice")
        family = func.__module__.rsplit(".", 1)[-1]
        spec = MethodSpec(
            name=key,
            func=func,
            tasks=tuple(tasks),
            n_inputs=n_inputs,
            color=color,
            params=spec_params,
            citation=citation,
            summary=_first_line(func.__doc__),
            family=family,
            aliases=tuple(a.lower() for a in aliases),
            copy_free=copy_free,
        )
        _METHODS[key] = spec
        for a in spec.aliases:
            _METHOD_ALIASES[a] = key
        func.spec = spec  # type: ignore[attr-defined]
        return func

    return deco


def _load_all() -> None:
    # Importing the packages runs their decorators.
    from . import methods  # noqa: F401
    from . import metrics  # noqa: F401


def _load_methods() -> None:
    """Import only the method modules (a fusion command does not need the metrics' imports)."""
    from . import methods  # noqa: F401


def get_method(name: str) -> MethodSpec:
    _load_methods()
    key = name.lower()
    if key not in _METHODS and key not in _METHOD_ALIASES:
        key = key.replace("_", "-")
    key = _METHOD_ALIASES.get(key, key)
    if key not in _METHODS:
        import difflib

        close = difflib.get_close_matches(key, list(_METHODS) + list(_METHOD_ALIASES), n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise UnknownMethodError(
            f"unknown method {name!r}{hint} (run `pixfuse methods` for the list)"
        )
    return _METHODS[key]


def list_methods(task: str | None = None) -> list[dict[str, Any]]:
    """Metadata of every registered method, optionally only those serving ``task``."""
    _load_methods()
    if task is not None and task not in TASKS:
        raise ParameterError(f"unknown task {task!r}; known: {', '.join(TASKS)}")
    return [
        s.as_dict()
        for s in sorted(_METHODS.values(), key=lambda s: (s.family, s.name))
        if task is None or task in s.tasks
    ]


def method_specs(task: str | None = None) -> list[MethodSpec]:
    _load_methods()
    return [s for s in _METHODS.values() if task is None or task in s.tasks]


# --------------------------------------------------------------------- metrics


@dataclasses.dataclass(frozen=True)
class MetricSpec:
    """Metadata of a registered quality metric.

    ``needs``: ``"sources"`` (no-reference fusion metric), ``"reference"``
    (full-reference), ``"fused"`` (the fused image alone, e.g. EN, SD) or
    ``"sources+reference"``.
    """

    name: str
    func: Callable[..., float]
    higher_is_better: bool
    needs: str
    tasks: tuple[str, ...]
    convention: str
    citation: str
    display: str
    summary: str
    family: str
    aliases: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "display": self.display,
            "aliases": list(self.aliases),
            "family": self.family,
            "higher_is_better": self.higher_is_better,
            "needs": self.needs,
            "tasks": list(self.tasks),
            "convention": self.convention,
            "summary": self.summary,
            "citation": self.citation,
        }


_METRICS: dict[str, MetricSpec] = {}
_METRIC_ALIASES: dict[str, str] = {}


def register_metric(
    name: str,
    *,
    higher_is_better: bool,
    needs: str,
    tasks: Sequence[str],
    convention: str,
    citation: str,
    display: str | None = None,
    aliases: Sequence[str] = (),
) -> Callable[[Callable[..., float]], Callable[..., float]]:
    """Decorator registering a metric ``f(fused, sources, reference=None) -> float``."""
    if needs not in ("sources", "reference", "fused", "sources+reference"):
        raise ValueError(f"metric {name}: bad needs {needs!r}")
    for t in tasks:
        if t not in TASKS:
            raise ValueError(f"unknown task {t!r}")

    def deco(func: Callable[..., float]) -> Callable[..., float]:
        key = name.lower()
        if key in _METRICS or key in _METRIC_ALIASES:
            raise ValueError(f"metric {name!r} registered twice")
        spec = MetricSpec(
            name=key,
            func=func,
            higher_is_better=higher_is_better,
            needs=needs,
            tasks=tuple(tasks),
            convention=convention,
            citation=citation,
            display=display or name,
            summary=_first_line(func.__doc__),
            family=func.__module__.rsplit(".", 1)[-1],
            aliases=tuple(a.lower() for a in aliases),
        )
        _METRICS[key] = spec
        for a in spec.aliases:
            _METRIC_ALIASES[a] = key
        func.spec = spec  # type: ignore[attr-defined]
        return func

    return deco


def get_metric(name: str) -> MetricSpec:
    _load_all()
    key = name.lower()
    key = _METRIC_ALIASES.get(key, key)
    if key not in _METRICS:
        import difflib

        close = difflib.get_close_matches(key, list(_METRICS) + list(_METRIC_ALIASES), n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise UnknownMetricError(f"unknown metric {name!r}{hint} (run `pixfuse list-metrics`)")
    return _METRICS[key]


def list_metrics(task: str | None = None) -> list[dict[str, Any]]:
    """Metadata of every registered metric, optionally only those for ``task``."""
    _load_all()
    if task is not None and task not in TASKS:
        raise ParameterError(f"unknown task {task!r}; known: {', '.join(TASKS)}")
    return [
        s.as_dict()
        for s in sorted(_METRICS.values(), key=lambda s: (s.family, s.name))
        if task is None or task in s.tasks
    ]


def metric_specs(task: str | None = None) -> list[MetricSpec]:
    _load_all()
    return [s for s in _METRICS.values() if task is None or task in s.tasks]
