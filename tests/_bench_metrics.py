"""Tiny metrics for the workbench tests, loaded as a bench plugin (driver and workers).

Their values are trivially recomputable, so the tests can check the numbers in
the store and in the reports.
"""
import numpy as np

from pixfuse.registry import register_metric

_TASKS = ("ivif", "medical", "multi_focus", "multi_exposure", "general")


def _grey(a):
    a = np.asarray(a, dtype=np.float64)
    return a.mean(axis=2) if a.ndim == 3 else a


@register_metric("tb_mean", higher_is_better=True, needs="fused", tasks=_TASKS, convention="test-mean",
                 citation="test metric: mean grey level")
def tb_mean(fused, sources, reference=None):
    """Mean grey level of the fused image."""
    return float(_grey(fused).mean())


@register_metric("tb_dist", higher_is_better=False, needs="sources", tasks=_TASKS, convention="test-dist",
                 citation="test metric: mean absolute difference to the first source")
def tb_dist(fused, sources, reference=None):
    """Mean absolute difference between the fused image and source 0."""
    return float(np.abs(_grey(fused) - _grey(sources[0])).mean())


@register_metric("tb_std", higher_is_better=True, needs="fused", tasks=_TASKS, convention="test-std",
                 citation="test metric: standard deviation")
def tb_std(fused, sources, reference=None):
    """Standard deviation of the fused grey levels."""
    return float(_grey(fused).std())


@register_metric("tb_slow", higher_is_better=True, needs="fused", tasks=_TASKS, convention="test-slow",
                 citation="test metric: sleeps, so a run can be killed part-way")
def tb_slow(fused, sources, reference=None):
    """Maximum grey level, after a 0.15 s pause."""
    import time

    time.sleep(0.15)
    return float(_grey(fused).max())
