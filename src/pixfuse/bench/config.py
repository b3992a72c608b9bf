"""Run configuration: which datasets, method variants (parameter grids) and metrics.

A run is declared in a TOML file (read with :mod:`tomllib`) or on the command
line; both produce a :class:`RunConfig`.  :func:`resolve` then checks every
name against the registries and every parameter value against its range
*before any work*, so a typo fails in a second with a message naming it.

TOML example::

    [run]
    store = "results/bench.sqlite"   # relative paths are relative to this file
    repeats = 3                      # timed fusion calls (median reported)
    warmup = 1                       # untimed calls before them
    threads = 1                      # BLAS/OpenMP/OpenCV threads per worker
    workers = 2

    [[datasets]]
    path = "../shared/data/ivif/tno"
    items = ["17", "36"]             # optional: these items only
    # name, task, layout, split, folders, limit, crop are optional

    [[methods]]
    name = "lp"
    params = { levels = [3, 4, 5] }  # a list is a grid of alternatives

    [[methods]]
    name = "average"

    metrics = ["en", "sd", "qabf"]   # or "all": every metric of the dataset's task

``methods`` may also be a plain list of names (``methods = ["lp", "average"]``)
or ``"all"`` (every method serving the dataset's task).  A list-valued
parameter is written as a string (``weights = "0.3,0.7"``) or nested
(``weights = [[0.3, 0.7]]``).
"""
from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
import os
import tomllib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..errors import ParameterError, PixfuseError


class ConfigError(PixfuseError, ValueError):
    """An invalid benchmark configuration (unknown keys, unknown names, bad values)."""


DEFAULT_STORE = "pixfuse-bench/results.sqlite"


@dataclasses.dataclass(frozen=True)
class DatasetRef:
    """Where a dataset lives and how to read it."""

    path: str
    name: str | None = None
    task: str | None = None
    layout: str | None = None
    split: str | None = None
    folders: tuple[str, ...] | None = None
    items: tuple[str, ...] | None = None
    limit: int | None = None
    crop: int | None = None


@dataclasses.dataclass(frozen=True)
class MethodRef:
    """A method with a parameter grid: ``{param: [alternatives]}``."""

    name: str
    grid: dict[str, tuple[Any, ...]] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass
class RunConfig:
    datasets: list[DatasetRef]
    methods: list[MethodRef] | str
    metrics: list[str] | str = "all"
    store: str = DEFAULT_STORE
    cache: str | None = None
    repeats: int = 3
    warmup: int = 1
    threads: int = 1
    workers: int | None = None
    scheduler: str | None = None
    executor: str = "auto"
    retry_failed: bool = False
    plugins: list[str] = dataclasses.field(default_factory=list)
    source: str | None = None  # the config file, for the record

    def as_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        if isinstance(self.methods, list):
            d["methods"] = [{"name": m.name, "grid": {k: list(v) for k, v in m.grid.items()}} for m in self.methods]
        return d


@dataclasses.dataclass(frozen=True)
class Variant:
    """One method with fully specified (validated, defaults filled) parameters."""

    method: str
    params: dict[str, Any]
    params_hash: str
    label: str


def canonical_json(obj: Any) -> str:
    def conv(o: Any) -> Any:
        if isinstance(o, dict):
            return {str(k): conv(v) for k, v in sorted(o.items())}
        if isinstance(o, (list, tuple)):
            return [conv(v) for v in o]
        if hasattr(o, "item") and callable(o.item):  # numpy scalar
            return o.item()
        if isinstance(o, float) and o.is_integer():
            return o  # keep 3.0 distinct from 3 only via type; json writes 3.0
        return o

    return json.dumps(conv(obj), sort_keys=True, separators=(",", ":"), default=str)


def params_hash(params: dict[str, Any]) -> str:
    """First 12 hex digits of the SHA-256 of the canonical JSON of the full parameter set."""
    return hashlib.sha256(canonical_json(params).encode()).hexdigest()[:12]


def make_variant(method: str, params: dict[str, Any] | None = None) -> Variant:
    """Validate ``params`` against the registry and fill the defaults."""
    from ..registry import get_method

    spec = get_method(method)
    try:
        full = spec.validate_params(dict(params or {}))
    except ParameterError as exc:
        raise ConfigError(f"method {spec.name!r}: {exc}") from None
    changed = {k: v for k, v in full.items() if v != spec.params[k].default}
    label = spec.name + ("(" + ", ".join(f"{k}={_short(v)}" for k, v in sorted(changed.items())) + ")" if changed else "")
    return Variant(spec.name, full, params_hash(full), label)


def _short(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:g}"
    return str(v)


def expand_grid(m: MethodRef) -> list[Variant]:
    keys = sorted(m.grid)
    combos = itertools.product(*(m.grid[k] for k in keys)) if keys else [()]
    out: list[Variant] = []
    seen: set[str] = set()
    for combo in combos:
        v = make_variant(m.name, dict(zip(keys, combo)))
        if v.params_hash not in seen:
            seen.add(v.params_hash)
            out.append(v)
    return out


# ------------------------------------------------------------------- parsing

_RUN_KEYS = {f.name for f in dataclasses.fields(RunConfig)} - {"datasets", "methods", "metrics", "source"}
_DS_KEYS = {f.name for f in dataclasses.fields(DatasetRef)}


def _as_tuple(v: Any, what: str) -> tuple[Any, ...]:
    if isinstance(v, (list, tuple)):
        return tuple(v)
    return (v,)


def parse_dataset(d: Any, base: Path | None = None) -> DatasetRef:
    if isinstance(d, str):
        d = {"path": d}
    if not isinstance(d, dict) or "path" not in d:
        raise ConfigError(f"a dataset needs a path: {d!r}")
    unknown = set(d) - _DS_KEYS
    if unknown:
        hint = ("; in TOML, top-level keys such as metrics = [...] must come before the first [[...]] table"
                if unknown & {"metrics", "methods", "run"} else "")
        raise ConfigError(f"unknown dataset key(s) {', '.join(sorted(unknown))}; valid: {', '.join(sorted(_DS_KEYS))}"
                          + hint)
    path = str(d["path"])
    if base is not None and not os.path.isabs(os.path.expanduser(path)):
        path = str((base / path).resolve())
    kw = dict(d)
    kw["path"] = path
    for k in ("items", "folders"):
        if kw.get(k) is not None:
            kw[k] = tuple(str(x) for x in _as_tuple(kw[k], k))
    for k in ("limit", "crop"):
        if kw.get(k) is not None:
            try:
                kw[k] = int(kw[k])
            except (TypeError, ValueError):
                raise ConfigError(f"dataset {k} must be an integer, got {kw[k]!r}") from None
            if kw[k] <= 0:
                raise ConfigError(f"dataset {k} must be positive, got {kw[k]}")
    return DatasetRef(**kw)


def parse_method(m: Any) -> MethodRef:
    if isinstance(m, str):
        return parse_method_spec(m)
    if not isinstance(m, dict) or "name" not in m:
        raise ConfigError(f"a method entry needs a name: {m!r}")
    unknown = set(m) - {"name", "params", "grid"}
    if unknown:
        hint = ("; in TOML, top-level keys such as metrics = [...] must come before the first [[...]] table"
                if unknown & {"metrics", "datasets", "methods", "run"} else "")
        raise ConfigError(f"unknown method key(s) {', '.join(sorted(unknown))} in {m['name']!r}; valid: name, params"
                          + hint)
    grid_in = dict(m.get("params") or {})
    grid_in.update(m.get("grid") or {})
    grid = {str(k): _as_tuple(v, k) for k, v in grid_in.items()}
    for k, v in grid.items():
        if not v:
            raise ConfigError(f"method {m['name']!r}: parameter {k!r} has an empty list of values")
    return MethodRef(str(m["name"]), grid)


def parse_method_spec(s: str) -> MethodRef:
    """Command-line form ``NAME`` or ``NAME:key=v1|v2;key2=v``."""
    name, _, rest = s.partition(":")
    grid: dict[str, tuple[Any, ...]] = {}
    for part in filter(None, (p.strip() for p in rest.split(";"))):
        if "=" not in part:
            raise ConfigError(f"method parameter {part!r} in {s!r} must be written key=value (alternatives v1|v2)")
        k, v = part.split("=", 1)
        grid[k.strip()] = tuple(x.strip() for x in v.split("|"))
    return MethodRef(name.strip(), grid)


def load_config(path: str | os.PathLike[str]) -> RunConfig:
    """Read a TOML run configuration (relative paths are relative to the file)."""
    p = Path(path)
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{p}: no such config file") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{p}: invalid TOML ({exc})") from None
    return config_from_dict(data, base=p.resolve().parent, source=str(p))


def config_from_dict(data: dict[str, Any], base: Path | None = None, source: str | None = None) -> RunConfig:
    unknown = set(data) - {"run", "datasets", "methods", "metrics"}
    if unknown:
        raise ConfigError(f"unknown top-level key(s) {', '.join(sorted(unknown))}; valid: run, datasets, methods, metrics")
    run = dict(data.get("run") or {})
    bad = set(run) - _RUN_KEYS
    if bad:
        raise ConfigError(f"unknown [run] key(s) {', '.join(sorted(bad))}; valid: {', '.join(sorted(_RUN_KEYS))}")
    if "datasets" not in data or not data["datasets"]:
        raise ConfigError("the configuration names no datasets")
    datasets = [parse_dataset(d, base) for d in _as_tuple(data["datasets"], "datasets")]
    methods_in = data.get("methods", "all")
    methods: list[MethodRef] | str
    if methods_in == "all":
        methods = "all"
    else:
        methods = [parse_method(m) for m in _as_tuple(methods_in, "methods")]
        if not methods:
            raise ConfigError("the configuration names no methods")
    metrics_in = data.get("metrics", "all")
    metrics: list[str] | str = "all" if metrics_in == "all" else [str(x) for x in _as_tuple(metrics_in, "metrics")]
    if run.get("plugins") is not None:
        run["plugins"] = [str((base / p).resolve()) if base is not None and str(p).endswith(".py")
                          and not os.path.isabs(str(p)) else str(p) for p in _as_tuple(run["plugins"], "plugins")]
    for k in ("store", "cache"):
        if run.get(k) and base is not None and not os.path.isabs(os.path.expanduser(str(run[k]))):
            run[k] = str((base / str(run[k])).resolve())
    cfg = RunConfig(datasets=datasets, methods=methods, metrics=metrics, source=source, **run)
    check_numbers(cfg)
    return cfg


def check_numbers(cfg: RunConfig) -> None:
    for k, lo in (("repeats", 1), ("warmup", 0), ("threads", 1)):
        v = getattr(cfg, k)
        if not isinstance(v, int) or isinstance(v, bool) or v < lo:
            raise ConfigError(f"{k} must be an integer >= {lo}, got {v!r}")
    if cfg.workers is not None and (not isinstance(cfg.workers, int) or cfg.workers < 0):
        raise ConfigError(f"workers must be a non-negative integer, got {cfg.workers!r}")
    if cfg.executor not in ("auto", "dask", "processes", "serial"):
        raise ConfigError(f"executor must be auto, dask, processes or serial, not {cfg.executor!r}")


# ---------------------------------------------------------------- resolution


@dataclasses.dataclass
class ResolvedDataset:
    key: str
    ref: DatasetRef
    dataset: Any  # pixfuse.io.datasets.Dataset
    variants: list[Variant]
    metrics: list[Any]  # MetricSpec
    skipped: list[str]


def dataset_key(ref: DatasetRef, ds_name: str) -> str:
    return ds_name + (f"@crop{ref.crop}" if ref.crop else "")


def resolve(cfg: RunConfig, *, validate: bool = True) -> list[ResolvedDataset]:
    """Open every dataset and check every method, parameter and metric name.

    Raises :class:`ConfigError` / the registry's Unknown*Error naming the
    offending entry; nothing is computed.
    """
    from ..io.datasets import open_dataset, validate_dataset
    from ..registry import get_metric, method_specs, metric_specs

    from .worker import load_plugins

    load_plugins(cfg.plugins)
    # Names first: a typo must fail before any folder is scanned.
    explicit_variants: list[Variant] | None = None
    if isinstance(cfg.methods, list):
        explicit_variants = []
        for m in cfg.methods:
            explicit_variants.extend(expand_grid(m))
    explicit_metrics = None
    if isinstance(cfg.metrics, list):
        explicit_metrics = [get_metric(n) for n in cfg.metrics]
        seen: set[str] = set()
        explicit_metrics = [s for s in explicit_metrics if not (s.name in seen or seen.add(s.name))]

    out: list[ResolvedDataset] = []
    keys: set[str] = set()
    for ref in cfg.datasets:
        ds = open_dataset(ref.path, task=ref.task, layout=ref.layout, name=ref.name, split=ref.split,
                          folders=ref.folders)
        if ref.items or ref.limit:
            ds = ds.select(ref.items, ref.limit)
        if validate:
            validate_dataset(ds)
        key = dataset_key(ref, ds.name)
        if key in keys:
            raise ConfigError(f"two datasets are named {key!r}; give one a different name")
        keys.add(key)
        bad_items = {i.item for i in ds.errors if i.item}
        if any(i.item is None for i in ds.errors):
            raise ConfigError(f"dataset {key!r}: " + "; ".join(str(i) for i in ds.errors if i.item is None))
        skipped = [f"{i.item}: {i.message}" for i in ds.errors]
        ds.items = [it for it in ds.items if it.name not in bad_items]
        if not ds.items:
            raise ConfigError(f"dataset {key!r} ({ref.path}) has no usable items"
                              + (": " + "; ".join(skipped[:3]) if skipped else ""))
        if ref.crop and ds.task == "pansharpening":
            raise ConfigError(f"dataset {key!r}: crop is not supported for pansharpening scenes")
        if explicit_variants is None:
            variants = []
            for spec in sorted(method_specs(ds.task), key=lambda s: s.name):
                variants.append(make_variant(spec.name))
        else:
            variants = explicit_variants
            from ..registry import get_method

            for v in variants:
                spec = get_method(v.method)
                if ds.task not in spec.tasks and "general" not in spec.tasks:
                    raise ConfigError(f"method {v.method!r} does not serve task {ds.task!r} of dataset {key!r} "
                                      f"(it serves {', '.join(spec.tasks)})")
        n_src = {len(it.sources) for it in ds.items} if ds.task != "pansharpening" else {2}
        usable = []
        from ..registry import get_method

        for v in variants:
            lo, hi = get_method(v.method).n_inputs
            if any(n < lo or (hi is not None and n > hi) for n in n_src):
                skipped.append(f"method {v.label}: takes {lo}..{hi or 'N'} inputs, items have {sorted(n_src)}")
                if explicit_variants is not None and all(n < lo or (hi is not None and n > hi) for n in n_src):
                    raise ConfigError(f"method {v.method!r} takes {lo}..{hi or 'N'} source images but every item of "
                                      f"dataset {key!r} has {sorted(n_src)}")
            usable.append(v)
        has_ref = any(it.reference is not None for it in ds.items)
        if explicit_metrics is None:
            metrics = [s for s in sorted(metric_specs(ds.task), key=lambda s: s.name)
                       if has_ref or "reference" not in s.needs]
        else:
            metrics = explicit_metrics
            for s in metrics:
                if "reference" in s.needs and not has_ref:
                    raise ConfigError(f"metric {s.name!r} needs a reference image, but dataset {key!r} has none")
        if not metrics:
            raise ConfigError(f"no metrics selected for dataset {key!r} (task {ds.task}); name some with --metric")
        out.append(ResolvedDataset(key, ref, ds, usable, metrics, skipped))
    return out


def cli_config(
    datasets: Sequence[str],
    methods: Sequence[str] | None,
    metrics: Sequence[str] | None,
    **run: Any,
) -> RunConfig:
    """Build a :class:`RunConfig` from command-line values (``PATH`` or ``PATH::task``)."""
    refs = []
    for d in datasets:
        path, _, task = d.partition("::")
        refs.append(DatasetRef(path=path, task=task or None))
    ms: list[MethodRef] | str = "all" if not methods or list(methods) == ["all"] else [parse_method_spec(m) for m in methods]
    mt: list[str] | str = "all" if not metrics or list(metrics) == ["all"] else list(metrics)
    cfg = RunConfig(datasets=refs, methods=ms, metrics=mt, **{k: v for k, v in run.items() if v is not None})
    check_numbers(cfg)
    return cfg
