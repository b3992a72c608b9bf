"""The benchmark workbench: datasets x method variants x metrics, resumable, on Dask.

>>> from pixfuse.bench import load_config, run_benchmark, make_report   # doctest: +SKIP
>>> stats = run_benchmark(load_config("bench.toml"))                     # doctest: +SKIP
>>> make_report("pixfuse-bench/results.sqlite", "report/")               # doctest: +SKIP

See ``docs/bench.md`` for the configuration format, the store schema and the
timing protocol.
"""
from __future__ import annotations

from .config import ConfigError, RunConfig, cli_config, load_config, make_variant, resolve
from .runner import RunStats, add_results, run_benchmark
from .store import ResultStore


def make_report(*args, **kwargs):  # noqa: ANN002, ANN003 - thin lazy wrapper
    """See :func:`pixfuse.bench.report.make_report`."""
    from .report import make_report as _mr

    return _mr(*args, **kwargs)


__all__ = ["ConfigError", "RunConfig", "cli_config", "load_config", "make_variant", "resolve", "RunStats",
           "add_results", "run_benchmark", "ResultStore", "make_report"]
