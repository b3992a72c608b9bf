"""The shared-computation machinery of ``pixfuse.evaluate`` changes no value.

* a whole-suite call (shared SSIM statistics/maps, gradients, joint pdfs, entries
  dropped once no later metric uses them) equals each metric computed alone, bit for bit;
* ``release_unused`` drops exactly the entries whose users are all done;
* the fast building blocks equal their literal definitions (``down2``, the box sums of Q_0,
  the in-place SSIM formula).
"""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

import pixfuse
from pixfuse.metrics import _common as C
from pixfuse.metrics import structural as ST

from conftest import data_path

SUITE = ["en", "ce", "mi", "nmi", "q_ncie", "q_te", "ssim", "ssim_mean", "ms_ssim", "qabf", "qabf_tang", "nabf",
         "labf", "nabf_petrovic", "nabf_published_call", "qy", "qc", "qw", "qe", "q0", "mi_tang", "cc", "scd",
         "ssim_tang", "mi_bits", "psnr"]


@pytest.fixture(scope="module")
def pair() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    ir = np.array(Image.open(data_path("ivif", "msrs", "ir", "00537D.png")))[100:300, 200:420]
    vi = np.array(Image.open(data_path("ivif", "msrs", "vi", "00537D.png")))[100:300, 200:420]
    g = C.rgb2gray(vi.astype(float), uint8=True)
    f = np.rint((ir.astype(float) + g) / 2).astype(np.uint8)
    return ir, vi, f


@pytest.mark.parametrize("fused_kind", ["grey", "rgb"])
def test_suite_equals_single_metrics(pair, fused_kind):
    ir, vi, f = pair
    if fused_kind == "rgb":  # per-channel scoring: the sources' intermediates serve three channels
        f = np.clip(np.rint(vi * 0.6 + (ir * 0.4)[..., None]), 0, 255).astype(np.uint8)
    together = pixfuse.evaluate(f, [ir, vi], SUITE)
    for name in SUITE:
        alone = pixfuse.evaluate(f, [ir, vi], [name])[name]
        assert together[name] == alone or (np.isnan(alone) and np.isnan(together[name])), name
    # reversed order: other entries are dropped at other times
    rev = pixfuse.evaluate(f, [ir, vi], SUITE[::-1])
    assert rev == together


def test_release_unused_drops_only_finished_users():
    x, y = np.zeros(3), np.ones(3)
    with C.cache_scope():
        C.memo(("a",), lambda: 1, x, users=frozenset({"m1"}))
        C.memo(("b",), lambda: 2, x, users=frozenset({"m1", "m2"}))
        C.memo(("c",), lambda: 3, y)  # no users: kept for the whole scope
        C.release_unused(["m2", "m3"])
        calls = []
        assert C.memo(("a",), lambda: calls.append("a") or 10, x) == 10  # dropped: recomputed
        assert C.memo(("b",), lambda: calls.append("b") or 20, x, users=frozenset({"m2"})) == 2
        C.release_unused([])
        assert C.memo(("b",), lambda: 30, x) == 30
        assert C.memo(("c",), lambda: 40, y) == 3
        assert calls == ["a"]
    C.release_unused([])  # no scope: no-op


@pytest.mark.parametrize("shape", [(7, 9), (8, 8), (33, 20), (1, 5)])
def test_down2_literal(shape):
    x = np.random.default_rng(1).random(shape) * 255
    p = np.pad(x, ((0, 1), (0, 1)), mode="symmetric")
    lit = ((p[:-1, :-1] + p[1:, :-1] + p[:-1, 1:] + p[1:, 1:]) / 4.0)[::2, ::2]
    assert np.array_equal(C.down2(x), lit)


def test_window_sums_box_equals_integral():
    rng = np.random.default_rng(2)
    x = rng.integers(0, 256, (40, 57)).astype(float)
    for v in (x, x * x, x * x[::-1]):
        c = np.cumsum(np.cumsum(np.pad(v, ((1, 0), (1, 0))), 0), 1)
        lit = c[8:, 8:] - c[:-8, 8:] - c[8:, :-8] + c[:-8, :-8]
        assert np.array_equal(ST._window_sums(v, 8), lit)
    y = x + 0.25  # non-integer input: the integral-image path
    c = np.cumsum(np.cumsum(np.pad(y, ((1, 0), (1, 0))), 0), 1)
    assert np.allclose(ST._window_sums(y, 8), c[8:, 8:] - c[:-8, 8:] - c[8:, :-8] + c[:-8, :-8])


def test_ssim_formula_is_the_expression():
    rng = np.random.default_rng(3)
    ma, mb = rng.random((2, 30, 30)) * 255
    sa, sb = rng.random((2, 30, 30)) * 900
    sab = (rng.random((30, 30)) - 0.5) * 900
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    lit = ((2 * ma * mb + c1) * (2 * sab + c2)) / ((ma * ma + mb * mb + c1) * (sa + sb + c2))
    assert np.array_equal(ST._ssim_formula(ma, mb, sa, sb, sab, c1, c2), lit)
    # symmetric bit for bit (the maps are shared per unordered pair)
    assert np.array_equal(ST._ssim_formula(mb, ma, sb, sa, sab, c1, c2), lit)


def test_evaluation_order_groups_sharing_metrics():
    names = ["en", "ssim", "qabf", "nabf", "qy", "qc", "qw", "labf", "qe", "q0"]
    order = [names[i] for i in C.evaluation_order(names)]
    # each group follows its first member; everything else keeps its place (stable)
    assert order == ["en", "ssim", "qw", "qe", "qabf", "nabf", "labf", "qy", "qc", "q0"]
    assert sorted(C.evaluation_order(names)) == list(range(len(names)))
    assert C.evaluation_order(["sd", "en"]) == [0, 1]


def test_evaluate_keeps_the_requested_order(pair):
    ir, vi, f = pair
    names = ["qc", "en", "ssim", "qy", "qw", "nabf"]
    res = pixfuse.evaluate(f, [ir, vi], names)
    assert list(res) == names


def test_prime_allocator_is_once_per_process(monkeypatch):
    # one untouched block of just under 32 MiB, on the first call only (values: test_metrics_speed's
    # subprocess test compares an unprimed, a primed and a retaining process state)
    sizes = []
    real_empty = np.empty

    def empty(shape, *args, **kwargs):
        sizes.append(shape)
        return real_empty(shape, *args, **kwargs)

    monkeypatch.setattr(C, "_PRIMED", False)
    monkeypatch.setattr(C.np, "empty", empty)
    C.prime_allocator()
    C.prime_allocator()
    assert sizes == [(32 << 20) - (64 << 10)] and C._PRIMED
