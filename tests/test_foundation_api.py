"""Registry, fuse() validation, colour policy, first methods on real data."""
from __future__ import annotations

import numpy as np
import pytest

import pixfuse
from pixfuse.errors import InputError, ParameterError, ShapeMismatchError, UnknownMethodError
from pixfuse.io import read_image
from pixfuse.ops.color import rgb_to_ycbcr, ycbcr_to_rgb
from pixfuse.ops.pyramid import laplacian_pyramid, reconstruct_laplacian
from pixfuse.registry import method_specs

from conftest import data_path

FIRST_METHODS = ["average", "weighted-average", "max", "min", "pca", "lp"]


def _pair(subset="tno", name="36.png"):
    ir, _ = read_image(data_path("ivif", subset, "ir", name))
    vi, _ = read_image(data_path("ivif", subset, "vi", name))
    return ir, vi


def test_first_methods_registered_with_citations():
    names = {m["name"]: m for m in pixfuse.list_methods()}
    for n in FIRST_METHODS:
        assert n in names
        assert len(names[n]["citation"]) > 20
    assert "Burt" in names["lp"]["citation"] and "Naidu" in names["pca"]["citation"]
    ivif = {m["name"] for m in pixfuse.list_methods(task="ivif")}
    assert {"lp", "pca"} <= ivif
    with pytest.raises(ParameterError, match="unknown task"):
        pixfuse.list_methods(task="nope")


def test_ycbcr_roundtrip_exact():
    rgb = np.random.default_rng(0).random((30, 40, 3)).astype(np.float32)
    back = ycbcr_to_rgb(rgb_to_ycbcr(rgb))
    assert np.abs(back - rgb).max() < 2e-6
    ycc = rgb_to_ycbcr(np.array([[[1, 1, 1], [0, 0, 0], [1, 0, 0]]], np.float32))
    assert np.allclose(ycc[0, 0], [1, 0.5, 0.5], atol=1e-6)
    assert np.allclose(ycc[0, 1], [0, 0.5, 0.5], atol=1e-6)
    assert np.allclose(ycc[0, 2], [0.299, 0.5 - 0.168736, 1.0], atol=1e-5)


def test_laplacian_pyramid_reconstructs_any_size():
    img = np.random.default_rng(1).random((37, 61)).astype(np.float32)
    lp = laplacian_pyramid(img, 4)
    assert [b.shape for b in lp] == [(37, 61), (19, 31), (10, 16), (5, 8)]
    assert np.abs(reconstruct_laplacian(lp) - img).max() < 1e-5


@pytest.mark.parametrize("method", FIRST_METHODS)
def test_identical_inputs_return_the_image(method):
    ir, vi = _pair()
    for img in (ir, vi):
        out = pixfuse.fuse([img, img, img], method)
        assert out.shape == img.shape
        assert np.abs(out - img).max() < 1e-5


def test_pixel_rules_values():
    a = np.array([[0.1, 0.9]] * 8 * 4, np.float32).reshape(8, 8)
    b = 1 - a
    assert np.allclose(pixfuse.fuse([a, b], "average"), 0.5)
    assert np.allclose(pixfuse.fuse([a, b], "max"), 0.9)
    assert np.allclose(pixfuse.fuse([a, b], "min"), 0.1)
    w = pixfuse.fuse([a, b], "weighted-average", weights="3,1")
    assert np.allclose(w, 0.75 * a + 0.25 * b, atol=1e-6)
    with pytest.raises(ParameterError, match="needs 2 values"):
        pixfuse.fuse([a, b], "weighted-average", weights="1,2,3")


def test_pca_weights_follow_variance():
    rng = np.random.default_rng(3)
    hi = rng.random((64, 64)).astype(np.float32)
    lo = (0.5 + 0.01 * (rng.random((64, 64)) - 0.5)).astype(np.float32)
    from pixfuse.methods.pixel import pca_weights

    w = pca_weights([hi, lo])
    assert w[0] > 0.95 and abs(w.sum() - 1) < 1e-12


def test_lp_keeps_strongest_detail():
    # a step edge in one source and a flat image in the other: LP keeps the full edge contrast
    a = np.zeros((64, 64), np.float32)
    a[:, 32:] = 1.0
    b = np.full((64, 64), 0.5, np.float32)
    f = pixfuse.fuse([a, b], "lp")
    # the averaged image has a step of 0.5; LP keeps (almost) the full unit step at the edge
    step = np.abs(np.diff(f, axis=1)).max(axis=1)
    assert step.min() > 0.95
    assert np.allclose(f[:, 31], f[0, 31]) and f[0, 31] < 0.05 and f[0, 32] > 0.95


def test_colour_policy_keeps_visible_chroma():
    ir, vi = _pair("msrs", "00537D.png")
    out = pixfuse.fuse([ir, vi], "lp")
    assert out.shape == vi.shape
    y_out = rgb_to_ycbcr(out)
    y_vi = rgb_to_ycbcr(vi)
    inside = (out > 1e-4).all(2) & (out < 1 - 1e-4).all(2)  # unclipped pixels
    assert inside.mean() > 0.85
    assert np.abs(y_out[inside][:, 1:] - y_vi[inside][:, 1:]).max() < 2e-5


def test_real_pairs_every_first_method_deterministic():
    for subset, name in [("tno", "36.png"), ("roadscene", "FLIR_05164.jpg"), ("msrs", "00858N.png")]:
        ir, vi = _pair(subset, name)
        for m in FIRST_METHODS:
            a = pixfuse.fuse([ir, vi], m)
            b = pixfuse.fuse([ir, vi], m)
            assert a.shape == vi.shape and a.dtype == np.float32
            assert 0 <= a.min() and a.max() <= 1
            assert a.tobytes() == b.tobytes()


def test_regression_values_tno36():
    ir, vi = _pair("tno", "36.png")
    got = {m: float(pixfuse.fuse([ir, vi], m).mean()) for m in FIRST_METHODS}
    want = {"average": 0.52304, "weighted-average": 0.52304, "max": 0.65383, "min": 0.39225,
            "pca": 0.59604, "lp": 0.52322}
    for m in FIRST_METHODS:
        assert got[m] == pytest.approx(want[m], abs=2e-4), (m, got[m])


def _task_sources(task: str) -> list[np.ndarray]:
    """A small real crop per task (methods are many; crops keep the suite fast)."""
    if task == "multi_focus":
        names = ["lytro-01-A.jpg", "lytro-01-B.jpg", "lytro-01-C.jpg"]
        imgs = [read_image(data_path("multi_focus", "lytro_triple", n))[0] for n in names]
        return [im[120:248, 150:310] for im in imgs]
    if task == "multi_exposure":
        folder = data_path("multi_exposure", "kede_ma_mef", "source", "House_Tom Mertens09")
        imgs = [read_image(folder / n)[0] for n in ("A.png", "B.png", "C.png", "D.png")]
        return [im[100:228, 100:260] for im in imgs]
    ir, vi = _pair("msrs", "00633D.png")
    return [ir[100:228, 200:360], vi[100:228, 200:360]]


def test_every_registered_method_on_real_images():
    """Every registered image method (later issues add many) on real crops of its task's data."""
    order = ["ivif", "medical", "multi_focus", "multi_exposure", "general"]
    checked = 0
    for spec in method_specs():
        tasks = [t for t in order if t in spec.tasks]
        if spec.color == "native" or not tasks:
            continue
        task = "ivif" if tasks[0] in ("medical", "general") else tasks[0]
        srcs = _task_sources(task)
        lo, hi = spec.n_inputs
        if len(srcs) < lo:
            srcs = (srcs * lo)[:lo]
        if hi is not None and len(srcs) > hi:
            srcs = srcs[:hi]
        out = pixfuse.fuse(srcs, spec.name)
        want = srcs[0].shape[:2]
        assert out.shape[:2] == want, spec.name
        assert np.isfinite(out).all() and 0 <= out.min() and out.max() <= 1, spec.name
        assert pixfuse.fuse(srcs, spec.name).tobytes() == out.tobytes(), spec.name
        checked += 1
    assert checked >= 6


def test_first_methods_on_llvip_and_stacks():
    ir, vi = _pair("llvip", "190001.jpg")
    assert ir.ndim == 2  # LLVIP stores IR as RGB with identical channels
    for m in FIRST_METHODS:
        out = pixfuse.fuse([ir[::4, ::4], vi[::4, ::4]], m)
        assert out.shape == vi[::4, ::4].shape
    for task in ("multi_focus", "multi_exposure"):
        srcs = _task_sources(task)
        for m in ("average", "lp"):
            out = pixfuse.fuse(srcs, m)
            assert out.shape == srcs[0].shape and 0 <= out.min() and out.max() <= 1


# ---------------------------------------------------------------- bad input

def test_mismatched_sizes_names_both_shapes():
    a = np.zeros((20, 30), np.float32)
    b = np.zeros((21, 30), np.float32)
    with pytest.raises(ShapeMismatchError, match=r"20x30.*21x30"):
        pixfuse.fuse([a, b], "lp")


def test_five_d_array_rejected():
    with pytest.raises(InputError, match="5-D|4-D|got"):
        pixfuse.fuse([np.zeros((2, 2, 8, 8, 3), np.float32), np.zeros((8, 8), np.float32)], "average")


def test_one_by_one_rejected():
    with pytest.raises(InputError, match="too small"):
        pixfuse.fuse([np.zeros((1, 1), np.float32)] * 2, "average")


def test_nan_and_range_rejected():
    a = np.zeros((16, 16), np.float32)
    b = a.copy()
    b[3, 3] = np.nan
    with pytest.raises(InputError, match="NaN"):
        pixfuse.fuse([a, b], "lp")
    with pytest.raises(InputError, match=r"\[0, 1\]"):
        pixfuse.fuse([a, a + 200], "lp")


def test_unknown_method_and_parameter():
    a = np.zeros((16, 16), np.float32)
    with pytest.raises(UnknownMethodError, match="unknown method 'lpp'.*lp"):
        pixfuse.fuse([a, a], "lpp")
    with pytest.raises(ParameterError, match="unknown parameter.*levelz.*valid: a, levels"):
        pixfuse.fuse([a, a], "lp", levelz=3)
    with pytest.raises(ParameterError, match="above its maximum"):
        pixfuse.fuse([a, a], "lp", levels=99)
    with pytest.raises(ParameterError, match="integer"):
        pixfuse.fuse([a, a], "lp", levels="three")


def test_input_count_checked():
    a = np.zeros((16, 16), np.float32)
    with pytest.raises(InputError, match="at least 2"):
        pixfuse.fuse([a], "lp")


def test_dtypes():
    a8 = np.full((16, 16), 255, np.uint8)
    a16 = np.full((16, 16), 65535, np.uint16)
    assert np.allclose(pixfuse.fuse([a8, a16], "average"), 1.0)
    with pytest.raises(InputError, match="ambiguous"):
        pixfuse.fuse([a8.astype(np.int32), a8], "average")
