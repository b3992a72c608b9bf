"""Image-size limits of the metrics: ``metrics="all"`` keeps the metrics that apply.

A metric that cannot be computed at the input size (too small for its windows or
scales) raises :class:`pixfuse.errors.ImageSizeError` naming its minimum side when
asked for by name; ``evaluate(metrics="all")`` leaves it out with a
:class:`pixfuse.errors.MetricSkippedWarning`; the CLI prints a note for it.
"""
from __future__ import annotations

import json
import math
import warnings

import numpy as np
import pytest
from PIL import Image

import pixfuse
from pixfuse.errors import ImageSizeError, InputError, MetricSkippedWarning, PixfuseError

from conftest import run_cli


def _pair(h: int, w: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 256, (h, w), dtype=np.uint8)
    b = rng.integers(0, 256, (h, w), dtype=np.uint8)
    return ((a.astype(int) + b) // 2).astype(np.uint8), [a, b]


def _all(f, srcs):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        got = pixfuse.evaluate(f, srcs)
    skipped = {}
    for w in caught:
        if isinstance(w.message, MetricSkippedWarning):
            skipped.update(w.message.skipped)
    return got, skipped, caught


# (side, metrics that do not apply below it)
LIMITS = {"ms_ssim": 176, "ms_ssim_tang": 44, "mef_ms_ssim": 44, "vif": 41, "viff": 41, "ssim": 11,
          "ssim_mean": 11, "mef_ssim": 11}


@pytest.mark.parametrize("h, w", [(10, 12), (32, 33), (40, 60), (100, 120)])
def test_all_skips_exactly_the_metrics_below_their_minimum_size(h, w):
    f, srcs = _pair(h, w)
    got, skipped, caught = _all(f, srcs)
    want = {m for m, side in LIMITS.items() if min(h, w) < side}
    assert set(skipped) == want
    assert not want & set(got)
    for m, why in skipped.items():  # each reason names the metric and its minimum size
        assert why.startswith(m + " needs images of at least") and f"{LIMITS[m]}" in why and f"{h}x{w}" in why
    msg = [str(c.message) for c in caught if isinstance(c.message, MetricSkippedWarning)]
    assert len(msg) == 1 and all(m in msg[0] for m in want)
    # everything else is computed, with finite values on these textured images
    assert all(math.isfinite(v) for v in got.values()), {k: v for k, v in got.items() if not math.isfinite(v)}
    assert len(got) + len(skipped) == len(_all(*_pair(180, 180))[0])


def test_all_at_full_size_skips_nothing():
    f, srcs = _pair(176, 180)
    _, skipped, caught = _all(f, srcs)
    assert skipped == {} and not [c for c in caught if isinstance(c.message, MetricSkippedWarning)]


@pytest.mark.parametrize("name, side", sorted(LIMITS.items()))
def test_asking_by_name_for_a_metric_that_does_not_apply_raises(name, side):
    f, srcs = _pair(side - 1, side + 3)
    with pytest.raises(ImageSizeError, match=f"at least {side}x{side}") as exc:
        pixfuse.evaluate(f, srcs, [name])
    assert isinstance(exc.value, InputError) and isinstance(exc.value, PixfuseError)
    # one pixel more and it is computed
    g, srcs2 = _pair(side, side + 3)
    assert math.isfinite(pixfuse.evaluate(g, srcs2, [name])[name])


def test_explicit_list_is_not_filtered():
    f, srcs = _pair(100, 100)
    with pytest.raises(ImageSizeError, match="ms_ssim needs images of at least 176x176"):
        pixfuse.evaluate(f, srcs, ["en", "ms_ssim"])


def test_evaluate_detailed_skips_the_same_way():
    f, srcs = _pair(60, 64)
    with pytest.warns(MetricSkippedWarning, match="ms_ssim"):
        d = pixfuse.evaluate_detailed(f, srcs)
    assert "ms_ssim" not in d and "en" in d


def test_cli_notes_skipped_metrics_and_errors_on_explicit_ones(tmp_path):
    f, (a, b) = _pair(60, 70)
    for name, x in (("f", f), ("a", a), ("b", b)):
        Image.fromarray(x).save(tmp_path / f"{name}.png")
    args = ("metrics", tmp_path / "f.png", "--sources", tmp_path / "a.png", tmp_path / "b.png")
    r = run_cli(*args, "--json")
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    assert "ms_ssim" not in d and "qabf" in d
    assert "note: skipped ms_ssim" in r.stderr and "176" in r.stderr
    r = run_cli(*args, "--metrics", "en,ms_ssim")
    assert r.returncode == 2
    assert "error: ms_ssim needs images of at least 176x176" in " ".join(r.stderr.split())
