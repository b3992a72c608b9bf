"""Learned methods without torch: shipped weights (hash verified), numpy inference, LUT, errors."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys

import numpy as np
import pytest

import pixfuse
from pixfuse.errors import ParameterError
from pixfuse.learned import infer, lut
from pixfuse.learned.data import load_luminance

from conftest import ROOT, data_path

SHIPPED = ["pixnet_ivif.npz", "pixnet_medical.npz", "pixnet-tiny_ivif.npz", "pixnet-tiny_medical.npz",
           "pixlut_ivif.npz", "pixlut_medical.npz"]


PINNED = {
    "pixnet": (0.596792, 0.260731, 0.951659, 0.281099),
    "pixnet-tiny": (0.612706, 0.271250, 0.975543, 0.241399),
    "pixlut": (0.599919, 0.247092, 0.968529, 0.239052),
}


def _tno_crop(h: int = 96, w: int = 128) -> tuple[np.ndarray, np.ndarray]:
    ir = load_luminance(data_path("ivif", "tno", "ir", "17.png"))
    vi = load_luminance(data_path("ivif", "tno", "vi", "17.png"))
    return ir[200:200 + h, 250:250 + w].copy(), vi[200:200 + h, 250:250 + w].copy()


def test_manifest_lists_every_shipped_file_with_valid_hash_and_small_size():
    files = infer.manifest()["files"]
    assert sorted(files) == sorted(SHIPPED)
    for name, entry in files.items():
        p = infer.data_dir() / name
        assert p.stat().st_size < 500_000
        assert infer.sha256_file(p) == entry["sha256"]
        assert infer.shipped_path(name) == p


def test_parameter_counts_of_shipped_networks():
    assert infer.load_shipped_net("pixnet_ivif.npz").n_params == 12194
    assert infer.load_shipped_net("pixnet-tiny_medical.npz").n_params == 882


@pytest.mark.parametrize("method", ["pixnet", "pixnet-tiny", "pixlut"])
def test_runs_on_real_pair_deterministic_and_in_range(method):
    ir, vi = _tno_crop()
    f1 = pixfuse.fuse([ir, vi], method)
    f2 = pixfuse.fuse([ir, vi], method)
    assert f1.dtype == np.float32 and f1.shape == ir.shape
    assert f1.tobytes() == f2.tobytes()
    # fused image keeps the brighter structures: correlated with both sources, closer to the max than the min
    mx, mn = np.maximum(ir, vi), np.minimum(ir, vi)
    assert np.abs(f1 - mx).mean() < np.abs(f1 - mn).mean()
    # regression pins (TNO 17 crop; computed once with the shipped weights)
    mean, std, corr_ir, corr_vi = PINNED[method]
    assert f1.mean() == pytest.approx(mean, abs=1e-4)
    assert f1.std() == pytest.approx(std, abs=1e-4)
    assert np.corrcoef(f1.ravel(), ir.ravel())[0, 1] == pytest.approx(corr_ir, abs=1e-4)
    assert np.corrcoef(f1.ravel(), vi.ravel())[0, 1] == pytest.approx(corr_vi, abs=1e-4)


@pytest.mark.parametrize("method", ["pixnet", "pixnet-tiny", "pixlut"])
@pytest.mark.parametrize("shape", [(9, 9), (37, 53), (64, 17)])
def test_odd_sizes(method, shape):
    rng = np.random.default_rng(1)
    a = rng.random(shape, dtype=np.float32)
    b = rng.random(shape, dtype=np.float32)
    f = pixfuse.fuse([a, b], method)
    assert f.shape == shape and np.isfinite(f).all()


def test_colour_visible_goes_through_luminance_policy():
    ir = load_luminance(data_path("ivif", "tno", "ir", "17.png"))[:64, :80]
    from pixfuse.io import read_image

    vi, _ = read_image(data_path("ivif", "msrs", "vi", "00537D.png"))
    vi = vi[:64, :80]
    f = pixfuse.fuse([ir, vi], "pixnet")
    assert f.shape == (64, 80, 3)


def test_medical_weights_and_user_file(tmp_path):
    ir, vi = _tno_crop(48, 48)
    fm = pixfuse.fuse([ir, vi], "pixnet", weights="medical")
    fi = pixfuse.fuse([ir, vi], "pixnet")
    assert not np.array_equal(fm, fi)
    user = tmp_path / "mine.npz"
    shutil.copy(infer.data_dir() / "pixnet_medical.npz", user)
    assert np.array_equal(pixfuse.fuse([ir, vi], "pixnet", weights=str(user)), fm)
    with pytest.raises(ParameterError, match="weights"):
        pixfuse.fuse([ir, vi], "pixnet", weights="nonsense")
    with pytest.raises(ParameterError, match="does not exist"):
        pixfuse.fuse([ir, vi], "pixnet", weights=str(tmp_path / "missing.npz"))


def test_corrupted_weights_error_names_file_and_expected_hash(tmp_path, monkeypatch):
    files = infer.manifest()["files"]
    for name in SHIPPED:
        shutil.copy(infer.data_dir() / name, tmp_path / name)
    (tmp_path / infer.MANIFEST).write_text(json.dumps({"files": files}))
    raw = bytearray((tmp_path / "pixnet_ivif.npz").read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    (tmp_path / "pixnet_ivif.npz").write_bytes(bytes(raw))
    monkeypatch.setattr(infer, "data_dir", lambda: tmp_path)
    ir, vi = _tno_crop(32, 32)
    with pytest.raises(infer.WeightsError) as exc:
        pixfuse.fuse([ir, vi], "pixnet")
    msg = str(exc.value)
    assert str(tmp_path / "pixnet_ivif.npz") in msg and files["pixnet_ivif.npz"]["sha256"] in msg
    # the CLI turns it into one line, exit code 2 (error is a PixfuseError)
    assert isinstance(exc.value, pixfuse.errors.PixfuseError)


def test_numpy_conv_equals_direct_correlation():
    from scipy.ndimage import correlate

    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 11, 14)).astype(np.float32)
    w = rng.standard_normal((2, 3, 3, 3)).astype(np.float32)
    b = rng.standard_normal(2).astype(np.float32)
    for d in (1, 2):
        out = infer.conv3x3(x, w, b, d)
        xp = np.pad(x.astype(np.float64), ((0, 0), (d, d), (d, d)), mode="reflect")
        ref = np.zeros((2, 11, 14))
        for o in range(2):
            for c in range(3):
                k = np.zeros((2 * d + 1, 2 * d + 1))
                k[::d, ::d] = w[o, c]
                ref[o] += correlate(xp[c], k, mode="constant")[d:-d, d:-d]
            ref[o] += b[o]
        np.testing.assert_allclose(out, ref, atol=1e-4)


def test_lut_interpolation_equals_trilinear_definition():
    rng = np.random.default_rng(2)
    table = rng.random((9, 9, 9)).astype(np.float32)
    a, b, c = (rng.random((40, 30)).astype(np.float32) for _ in range(3))
    a[0, :4] = [0.0, 1.0, 0.5, 0.125]
    n = table.shape[0]
    atlas = np.ascontiguousarray(table.transpose(1, 0, 2).reshape(n, n * n))
    np.testing.assert_allclose(lut.interpolate(atlas, n, a, b, c), lut.trilinear_reference(table, a, b, c),
                               atol=2e-5)


def test_lut_fit_recovers_a_representable_table():
    rng = np.random.default_rng(3)
    n = 5
    true = rng.random((n, n, n)).astype(np.float32)
    a, b, c = (rng.random(20000) for _ in range(3))
    t = lut.trilinear_reference(true, a, b, c)
    fitted = lut.fit_lut(a, b, c, t, nodes=n, smooth=1e-9)
    np.testing.assert_allclose(fitted, true, atol=1e-3)


def test_shipped_lut_reproduces_its_network_on_a_held_out_pair():
    # the LUT sees only (I1, I2, contrast share); its error against the network it was distilled from is
    # bounded by that information loss plus the 1/16 quantisation of each axis
    ir, vi = _tno_crop(160, 200)
    fn = infer.load_shipped_net("pixnet_ivif.npz").fuse(ir, vi)
    fl = lut.load_lut(infer.shipped_path("pixlut_ivif.npz")).fuse(ir, vi)
    err = np.abs(np.clip(fn, 0, 1) - np.clip(fl, 0, 1))
    assert err.mean() < 0.03
    assert np.corrcoef(fn.ravel(), fl.ravel())[0, 1] > 0.95


_BLOCK_TORCH = (
    "import sys\n"
    "class _NoTorch:\n"
    "    def find_spec(self, name, path=None, target=None):\n"
    "        if name == 'torch' or name.startswith('torch.'):\n"
    "            raise ImportError('torch blocked for this test')\n"
    "sys.meta_path.insert(0, _NoTorch())\n"
)


def test_methods_import_and_run_without_torch():
    code = _BLOCK_TORCH + (
        "import numpy as np, pixfuse\n"
        "a = np.random.default_rng(0).random((20, 24), dtype=np.float32)\n"
        "for m in ('pixnet', 'pixnet-tiny', 'pixlut'):\n"
        "    assert pixfuse.fuse([a, a[::-1]], m).shape == (20, 24)\n"
        "assert 'torch' not in sys.modules\n"
        "print('ok')\n"
    )
    env_path = str(ROOT / "src")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       env={"PYTHONPATH": env_path, "PATH": "/usr/bin:/bin"})
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "ok"


def test_train_command_without_torch_says_how_to_install(tmp_path):
    code = _BLOCK_TORCH + (
        "from pixfuse.cli import main\n"
        f"main(['train', '--task', 'ivif', '--data', {str(tmp_path)!r}, '--out', {str(tmp_path / 'm.npz')!r}])\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       env={"PYTHONPATH": str(ROOT / "src"), "PATH": "/usr/bin:/bin"})
    assert r.returncode == 2
    assert "install the learn extra: pip install torch==2.13.0" in r.stderr


def test_lut_reproduces_a_smooth_teacher_within_its_quantisation_error():
    # teacher g = sigmoid(4 (c - 0.5) + 2 (a - b)); a 17-node trilinear table interpolates it with error at most
    # h^2/8 * sum of |second derivatives| <= (1/16)^2 / 8 * (0.0962 * (16 + 4 + 4)) = 0.0011
    rng = np.random.default_rng(4)
    a, b, c = (rng.random(200_000) for _ in range(3))

    def g(a, b, c):
        return 1 / (1 + np.exp(-(4 * (c - 0.5) + 2 * (a - b))))

    table = lut.fit_lut(a, b, c, g(a, b, c), nodes=17, smooth=1e-7)
    ta, tb, tc = (rng.random(50_000) for _ in range(3))
    err = np.abs(lut.trilinear_reference(table, ta, tb, tc) - g(ta, tb, tc))
    assert err.max() < 0.0015


def test_context_bin_table_analytic_values():
    t = lut.bin_table(16, 0.5).reshape(256, 256)  # [D_2, D_1]
    assert t[0, 0] == 8 and t[40, 40] == 8  # equal contrast: the middle (7.5 rounds to even 8)
    assert t[0, 255] == 15 and t[255, 0] == 0  # all contrast in the first / second source
    assert t[10, 30] == round(15 * 30.25 / 40.5)


def test_context_bins_match_their_definition():
    # half resolution (2x2 means, rounded), 7x7 box of |x - box7(x)| (reflect-101 border), bin table, upsampling
    rng = np.random.default_rng(5)
    qa = rng.integers(0, 256, (24, 30), dtype=np.uint8)
    qb = (qa // 2 + rng.integers(0, 20, (24, 30))).astype(np.uint8)
    c = lut.context_bins(qa, qb)
    import cv2

    def dev(q):
        x = np.rint(q.reshape(12, 2, 15, 2).mean(axis=(1, 3)) - 1e-9).astype(np.float64)
        xp = np.pad(x, 3, mode="reflect")
        m = np.rint(np.lib.stride_tricks.sliding_window_view(xp, (7, 7)).mean(axis=(2, 3)))
        dp = np.pad(np.abs(x - m), 3, mode="reflect")
        return np.rint(np.lib.stride_tricks.sliding_window_view(dp, (7, 7)).mean(axis=(2, 3)))

    da, db = dev(qa.astype(float)), dev(qb.astype(float))
    small = np.rint(15 * (da + 0.25) / (da + db + 0.5)).astype(np.uint8)
    ref = cv2.resize(small, (30, 24), interpolation=cv2.INTER_LINEAR)
    assert np.abs(c.astype(int) - ref.astype(int)).max() <= 1
    assert (c == ref).mean() > 0.9


def test_lut_dense_read_equals_trilinear_interpolation_at_8_bit_inputs():
    rng = np.random.default_rng(6)
    table = (rng.random((17, 17, 17, 2)) * [1, 0.2] - [0, 0.1]).astype(np.float32)
    t = lut.FusionLUT(table, 3, 0.5, 16, {})
    ir, vi = _tno_crop(40, 52)
    fa, fb, fc = t.features(ir, vi)
    sr = lut.trilinear_reference(table, fa, fb, fc)
    ref = np.clip(fb + sr[..., 0] * (fa - fb) + sr[..., 1], 0, 1)
    np.testing.assert_allclose(t.fuse_exact(ir, vi), ref, atol=1e-6)
    # the fast path returns the 8-bit rounding of that
    f = t.fuse(ir, vi)
    assert np.abs(f - ref).max() <= 0.5 / 255 + 1e-6
    np.testing.assert_array_equal(f * 255, np.rint(f * 255))
    s, r = t.maps(ir, vi)
    np.testing.assert_allclose(s, sr[..., 0], atol=2e-5)
    # the table coordinates are the inputs' 8-bit grey levels and the context bin centres
    # (inputs between grey levels are rounded to the nearest one)
    off = rng.uniform(-0.45, 0.45, ir.shape).astype(np.float32) / 255
    pa, pb = np.clip(ir + off, 0, 1), np.clip(vi - off, 0, 1)
    qa, qb, _ = t.features(pa, pb)
    np.testing.assert_allclose(qa, np.rint(pa * 255) / 255, rtol=0, atol=1e-7)
    np.testing.assert_allclose(qb, np.rint(pb * 255) / 255, rtol=0, atol=1e-7)
    assert np.abs(qa - pa).max() > 1e-3
    np.testing.assert_allclose(fc * 15, np.rint(fc * 15), rtol=0, atol=1e-5)
    assert 0 <= fc.min() and fc.max() <= 1 and np.unique(np.rint(fc * 15)).size > 1


def test_old_table_format_is_refused_with_instructions(tmp_path):
    p = tmp_path / "old.npz"
    infer._atomic_savez(p, {"format": "pixfuse-lut", "radius": 3, "eps": 0.002},
                        {"table": np.zeros((3, 3, 3, 2), np.float32)})
    with pytest.raises(infer.WeightsError, match="re-run `pixfuse distill`"):
        lut.load_lut(p)
