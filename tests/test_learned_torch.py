"""Learned fusion with torch installed: training, resume, numpy == torch, losses (skipped without torch)."""
from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from pixfuse.errors import PixfuseError  # noqa: E402
from pixfuse.learned import infer  # noqa: E402
from pixfuse.learned.data import load_luminance  # noqa: E402
from pixfuse.learned.losses import LossWeights, fusion_loss, ssim_pair  # noqa: E402
from pixfuse.learned.models_torch import FusionNet  # noqa: E402
from pixfuse.learned.train import TrainConfig, train  # noqa: E402

from conftest import data_path  # noqa: E402


def _cfg(**kw):
    base = dict(task="ivif", data=str(data_path("ivif", "train_roadscene")), arch="pixnet-tiny", iters=60,
                batch=4, crop=32, lr=1e-2, max_pairs=4, seed=3)
    base.update(kw)
    return TrainConfig(**base)


def _real_crop(h=45, w=61):
    ir = load_luminance(data_path("ivif", "tno", "ir", "21.png"))[100:100 + h, 300:300 + w]
    vi = load_luminance(data_path("ivif", "tno", "vi", "21.png"))[100:100 + h, 300:300 + w]
    return np.ascontiguousarray(ir), np.ascontiguousarray(vi)


def test_tiny_training_lowers_loss_and_writes_loadable_model(tmp_path):
    losses = []
    res = train(_cfg(), tmp_path / "m.npz", progress=lambda i, n, p: losses.append(p["loss"]))
    assert len(losses) == 60
    assert np.mean(losses[-15:]) < 0.9 * np.mean(losses[:15])
    net = infer.load_net(tmp_path / "m.npz")
    assert net.n_params == 882 and net.meta["task"] == "ivif" and net.meta["training"]["config"]["seed"] == 3
    ir, vi = _real_crop()
    assert np.isfinite(net.fuse(ir, vi)).all()
    assert not (tmp_path / "m.npz.ckpt").exists()
    assert res.iters == 60


def test_interrupted_run_resumes_to_the_same_weights(tmp_path):
    cfg = _cfg(iters=24)
    train(cfg, tmp_path / "full.npz")

    def stop(i, n, p):
        if i == 13:
            raise KeyboardInterrupt

    with pytest.raises(PixfuseError, match="--resume"):
        train(cfg, tmp_path / "cut.npz", progress=stop, checkpoint_every=5)
    assert (tmp_path / "cut.npz.ckpt").exists()
    res = train(cfg, tmp_path / "cut.npz", resume=True)
    assert res.resumed_from == 13
    a = infer.load_net(tmp_path / "full.npz")
    b = infer.load_net(tmp_path / "cut.npz")
    for wa, wb in zip(a.weights + a.biases, b.weights + b.biases):
        np.testing.assert_array_equal(wa, wb)


def test_resume_with_other_settings_is_refused(tmp_path):
    cfg = _cfg(iters=10)

    def stop(i, n, p):
        if i == 4:
            raise KeyboardInterrupt

    with pytest.raises(PixfuseError):
        train(cfg, tmp_path / "m.npz", progress=stop)
    with pytest.raises(PixfuseError, match="different settings"):
        train(_cfg(iters=10, lr=5e-3), tmp_path / "m.npz", resume=True)


@pytest.mark.parametrize("arch", ["pixnet", "pixnet-tiny"])
def test_numpy_inference_equals_torch(arch):
    torch.manual_seed(0)
    m = FusionNet(arch).eval()
    ir, vi = _real_crop()
    x = torch.from_numpy(np.stack([ir, vi])[None])
    with torch.no_grad():
        ft = m(x)[0, 0].numpy()
    ws, bs, meta = m.export()
    fn = infer.net_from_arrays(dict(meta, n_layers=len(ws)), {**{f"w{i}": w for i, w in enumerate(ws)},
                                                                  **{f"b{i}": b for i, b in enumerate(bs)}}).fuse(ir, vi)
    assert np.abs(ft - fn).max() < 1e-5


def test_shipped_weights_numpy_equals_torch():
    net = infer.load_shipped_net("pixnet_ivif.npz")
    m = FusionNet("pixnet").eval()
    m.load_arrays(net.weights, net.biases)
    ir, vi = _real_crop(64, 80)
    with torch.no_grad():
        ft = m(torch.from_numpy(np.stack([ir, vi])[None]))[0, 0].numpy()
    assert np.abs(ft - net.fuse(ir, vi)).max() < 1e-5


def test_losses_analytic_cases():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(2, 2, 40, 40, generator=g)
    a = x[:, :1]
    sa, sb = ssim_pair(a, a, a)
    assert abs(float(sa) - 1) < 1e-5 and abs(float(sb) - 1) < 1e-5
    _, parts = fusion_loss(torch.maximum(x[:, :1], x[:, 1:]), x, LossWeights())
    assert parts["int"] == 0.0
    # identical sources: the source itself has zero intensity, gradient and angle loss
    same = torch.cat([a, a], dim=1)
    _, parts = fusion_loss(a, same, LossWeights())
    assert parts["int"] == 0 and parts["grad"] < 1e-5 and parts["ang"] < 1e-4 and parts["ssim"] < 1e-5
    # a sign-flipped gradient field is maximally wrong in direction
    _, parts = fusion_loss(1 - a, same, LossWeights())
    assert parts["ang"] > 1.99
    # gradient gain: the target is gain x the sources' magnitude, so the source itself misses it by
    # (gain - 1) x its mean magnitude, and the source scaled by the gain (about its mean) meets it
    from pixfuse.learned.losses import sobel

    gx, gy = sobel(a)
    mag = float(torch.sqrt(gx**2 + gy**2 + 1e-12).mean())
    _, parts = fusion_loss(a, same, LossWeights(grad_gain=1.5))
    assert parts["grad"] == pytest.approx(0.5 * mag, rel=1e-4)
    _, parts = fusion_loss(1.5 * (a - 0.5) + 0.5, same, LossWeights(grad_gain=1.5))
    assert parts["grad"] < 1e-5 and parts["ang"] < 1e-4


def test_cli_train_then_fuse_with_user_weights(cli, tmp_path):
    out = tmp_path / "m.npz"
    r = cli("train", "--task", "ivif", "--data", data_path("ivif", "train_roadscene"), "--out", out,
            "--model", "pixnet-tiny", "--iters", "6", "--batch", "2", "--crop", "32", "--max-pairs", "2", "--quiet")
    assert r.returncode == 0, r.stderr
    assert "882 parameters" in r.stderr
    f = tmp_path / "f.png"
    r = cli("fuse", data_path("ivif", "tno", "ir", "36.png"), data_path("ivif", "tno", "vi", "36.png"),
            "-m", "pixnet-tiny", "-p", f"weights={out}", "-o", f)
    assert r.returncode == 0, r.stderr
    assert f.exists()
    r = cli("train", "--task", "ivif", "--data", tmp_path, "--out", tmp_path / "x.npz", "--quiet")
    assert r.returncode == 2 and "expected sub-folders 'ir' and 'vi'" in r.stderr


def test_vif_loss_equals_the_vif_metric():
    import pixfuse
    from pixfuse.learned.losses import vifp_torch

    ir, vi = _real_crop(96, 112)
    f = (np.rint(np.clip(0.6 * ir + 0.5 * vi, 0, 1) * 255) / 255).astype(np.float32)  # the metric reads 8-bit
    t = [torch.from_numpy(np.ascontiguousarray(v))[None, None] for v in (ir, vi, f)]
    got = float(vifp_torch(t[0], t[2]) + vifp_torch(t[1], t[2]))
    assert got == pytest.approx(pixfuse.evaluate(f, [ir, vi], metrics=["vif"])["vif"], abs=2e-4)


def test_qabf_loss_analytic_value_and_terms_in_total():
    from pixfuse.learned.losses import qabf_loss, sobel

    ir, _ = _real_crop(64, 64)
    x = torch.from_numpy(ir)[None, None]
    gx, gy = sobel(x)
    # F equal to both sources: strength ratio 1 and equal orientation everywhere -> the metric's ceiling
    ceiling = 0.9994 / (1 + np.exp(-15 * 0.5)) * 0.9879 / (1 + np.exp(-22 * 0.2))
    assert float(qabf_loss(gx, gy, [(gx, gy), (gx, gy)])) == pytest.approx(1 - ceiling, abs=1e-5)
    # a flat fused image keeps no edge: loss close to 1
    z = torch.zeros_like(gx)
    assert float(qabf_loss(z, z, [(gx, gy)])) > 0.99
    both = torch.cat([x, x.flip(-1)], dim=1)
    total, parts = fusion_loss(x, both, LossWeights(qabf=1.0, vif=1.0))
    base, _ = fusion_loss(x, both, LossWeights())
    assert float(total) == pytest.approx(float(base) + parts["qabf"] + parts["vif"], rel=1e-5)
