"""Unsupervised fusion losses (torch).

``L = w_int * L_int + w_grad * L_grad + w_ssim * L_ssim + w_ang * L_ang`` with

* ``L_int`` — L1 distance to an intensity target: the element-wise maximum of
  the sources (SeAFusion, Tang et al., Inf. Fusion 82:28-42, 2022) or a
  saliency-weighted average (weights from each source's deviation from its own
  mean, as in the saliency-weighted targets of e.g. STDFusionNet / PIAFusion).
* ``L_grad`` — L1 distance between the Sobel gradient magnitude of the fused
  image and the element-wise maximum of the sources' magnitudes (SeAFusion's
  texture loss), optionally times a gain > 1 (``grad_gain``) that asks for
  edges a little stronger than either source's.
* ``L_ssim`` — ``1 - (SSIM(F, I_1) + SSIM(F, I_2)) / 2`` with the 11x11
  Gaussian window (sigma 1.5) and K = (0.01, 0.03) of Wang et al. 2004.
* ``L_ang`` — angle-aware gradient-direction term after AngularFuse (Liu et
  al., arXiv:2510.12260, 2025): the target gradient *vector* at each pixel is
  the Sobel gradient of the source with the larger magnitude; the loss is the
  magnitude-weighted mean of ``1 - cos(theta)`` between the fused and target
  gradient vectors, so edges keep their orientation and polarity, not only
  their strength (pixfuse's own formulation of the idea; the paper couples it
  with a reference image we do not synthesise).
"""
from __future__ import annotations

import dataclasses

import torch
import torch.nn.functional as F

_SOBEL_X = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]])


@dataclasses.dataclass
class LossWeights:
    intensity: float = 2.0
    gradient: float = 5.0
    ssim: float = 0.5
    angle: float = 2.0
    target: str = "max"  # or "saliency"
    qabf: float = 0.0
    vif: float = 0.0
    grad_gain: float = 1.0  # the gradient target is grad_gain * max(|grad I_1|, |grad I_2|)


def sobel(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Sobel derivatives (gx, gy) of (N, 1, H, W) images, replicate padding."""
    k = torch.stack([_SOBEL_X, _SOBEL_X.t()])[:, None].to(x)
    g = F.conv2d(F.pad(x, (1, 1, 1, 1), mode="replicate"), k)
    return g[:, :1], g[:, 1:]


def _gauss1d(size: int = 11, sigma: float = 1.5) -> torch.Tensor:
    t = torch.arange(size, dtype=torch.float32) - (size - 1) / 2
    g = torch.exp(-(t**2) / (2 * sigma**2))
    return g / g.sum()


def gaussian_blur(x: torch.Tensor, size: int = 11, sigma: float = 1.5) -> torch.Tensor:
    """Separable Gaussian filtering of every channel of (N, C, H, W), 'valid' region."""
    c = x.shape[1]
    g = _gauss1d(size, sigma).to(x)
    x = F.conv2d(x, g.view(1, 1, 1, size).expand(c, 1, 1, size), groups=c)
    return F.conv2d(x, g.view(1, 1, size, 1).expand(c, 1, size, 1), groups=c)


def ssim_pair(f: torch.Tensor, a: torch.Tensor, b: torch.Tensor,
              c1: float = 0.01**2, c2: float = 0.03**2) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean SSIM (Wang et al. 2004; 11x11 Gaussian window, sigma 1.5, valid region) of f vs a and f vs b.

    All images (N, 1, H, W) in [0, 1]; the eight local moments are filtered in one grouped convolution.
    """
    m = gaussian_blur(torch.cat([f, a, b, f * f, a * a, b * b, f * a, f * b], dim=1))
    mf, ma, mb, ff, aa, bb, fa, fb = m.unbind(1)
    vf, va, vb = ff - mf**2, aa - ma**2, bb - mb**2
    out = []
    for mx, vx, cov in ((ma, va, fa - mf * ma), (mb, vb, fb - mf * mb)):
        num = (2 * mf * mx + c1) * (2 * cov + c2)
        den = (mf**2 + mx**2 + c1) * (vf + vx + c2)
        out.append((num / den).mean())
    return out[0], out[1]


def saliency_target(a: torch.Tensor, b: torch.Tensor, eps: float = 1e-3) -> torch.Tensor:
    """Saliency-weighted target: weights ~ |I - mean(I)| blurred with a 11x11 Gaussian."""
    d = torch.cat([a - a.mean(dim=(2, 3), keepdim=True), b - b.mean(dim=(2, 3), keepdim=True)], dim=1).abs()
    s = gaussian_blur(F.pad(d, (5, 5, 5, 5), mode="reflect"))
    wa = (s[:, :1] + eps) / (s[:, :1] + s[:, 1:] + 2 * eps)
    return wa * a + (1 - wa) * b


_QG = (0.9994, 15.0, 0.5)  # Xydeas & Petrovic strength sigmoid (Tg, -kg, Dg)
_QA = (0.9879, 22.0, 0.8)  # orientation sigmoid (Ta, -ka, Da)


def qabf_loss(fx, fy, sources: list[tuple[torch.Tensor, torch.Tensor]]) -> torch.Tensor:
    """``1 - Q^{AB/F}`` (Xydeas & Petrovic 2000) from Sobel derivatives, differentiable.

    Per source: strength ratio ``G = min(g_S, g_F) / max(g_S, g_F)``, orientation ``a = atan(gy / gx)``
    agreement ``A = 1 - |a_S - a_F| / (pi / 2)``, ``Q = Tg sigmoid(15 (G - 0.5)) Ta sigmoid(22 (A - 0.8))``,
    weighted by the source strengths — the metric's constants (VIFB ``metricsQabf``), so the loss is the
    metric itself on the training crops.
    """
    def strength_angle(gx, gy):
        g = torch.sqrt(gx**2 + gy**2 + 1e-10)
        sx = torch.where(gx.abs() < 1e-6, torch.full_like(gx, 1e-6), gx)
        return g, torch.atan(gy / sx)

    gf, af = strength_angle(fx, fy)
    num = den = 0.0
    for sx, sy in sources:
        gs, as_ = strength_angle(sx, sy)
        ratio = torch.minimum(gs, gf) / (torch.maximum(gs, gf) + 1e-10)
        agree = 1 - (as_ - af).abs() / (torch.pi / 2)
        q = _QG[0] * torch.sigmoid(_QG[1] * (ratio - _QG[2])) * _QA[0] * torch.sigmoid(_QA[1] * (agree - _QA[2]))
        num = num + (q * gs).sum()
        den = den + gs.sum()
    return 1 - num / (den + 1e-10)


def _gauss_valid(x: torch.Tensor, n: int) -> torch.Tensor:
    return gaussian_blur(x, n, n / 5.0)


def vifp_torch(ref: torch.Tensor, dist: torch.Tensor, sigma_nsq: float = 2.0, scales: int = 4) -> torch.Tensor:
    """Pixel-domain multi-scale VIF (Sheikh & Bovik 2006, LIVE ``vifp_mscale``) of (N,1,H,W) images in [0,1],
    evaluated on the 0-255 scale like the metric; differentiable (the metric's masks become clamps)."""
    r, d = ref * 255.0, dist * 255.0
    num = den = 0.0
    for scale in range(1, scales + 1):
        n = 2 ** (4 - scale + 1) + 1
        if scale > 1:
            r = _gauss_valid(r, n)[:, :, ::2, ::2]
            d = _gauss_valid(d, n)[:, :, ::2, ::2]
        m = _gauss_valid(torch.cat([r, d, r * r, d * d, r * d], dim=1), n)
        mu1, mu2 = m[:, :1], m[:, 1:2]
        s1 = (m[:, 2:3] - mu1 * mu1).clamp_min(0)
        s2 = (m[:, 3:4] - mu2 * mu2).clamp_min(0)
        s12 = m[:, 4:5] - mu1 * mu2
        g = (s12 / (s1 + 1e-10)).clamp_min(0)
        sv = (s2 - g * s12).clamp_min(1e-10)
        num = num + torch.log10(1 + g * g * s1 / (sv + sigma_nsq)).sum()
        den = den + torch.log10(1 + s1 / sigma_nsq).sum()
    return num / (den + 1e-10)


def fusion_loss(fused: torch.Tensor, x: torch.Tensor, lw: LossWeights) -> tuple[torch.Tensor, dict[str, float]]:
    """Total loss and its parts for fused (N,1,H,W) and sources x (N,2,H,W)."""
    a, b = x[:, :1], x[:, 1:2]
    target = torch.maximum(a, b) if lw.target == "max" else saliency_target(a, b)
    l_int = (fused - target).abs().mean()
    gx, gy = sobel(torch.cat([fused, a, b], dim=1).transpose(0, 1).reshape(-1, 1, *fused.shape[2:]))
    n = fused.shape[0]
    fx, ax, bx = gx[:n], gx[n:2 * n], gx[2 * n:]
    fy, ay, by = gy[:n], gy[n:2 * n], gy[2 * n:]
    ma = torch.sqrt(ax**2 + ay**2 + 1e-12)
    mb = torch.sqrt(bx**2 + by**2 + 1e-12)
    mf = torch.sqrt(fx**2 + fy**2 + 1e-12)
    l_grad = (mf - lw.grad_gain * torch.maximum(ma, mb)).abs().mean()
    pick_a = ma >= mb
    tx = torch.where(pick_a, ax, bx)
    ty = torch.where(pick_a, ay, by)
    mt = torch.maximum(ma, mb)
    cos = (fx * tx + fy * ty) / (mf * mt + 1e-6)
    l_ang = (mt * (1 - cos)).sum() / (mt.sum() + 1e-6)
    sa, sb = ssim_pair(fused, a, b)
    l_ssim = 1 - 0.5 * (sa + sb)
    total = lw.intensity * l_int + lw.gradient * l_grad + lw.ssim * l_ssim + lw.angle * l_ang
    named = [("int", l_int), ("grad", l_grad), ("ssim", l_ssim), ("ang", l_ang)]
    if lw.qabf:
        l_q = qabf_loss(fx, fy, [(ax, ay), (bx, by)])
        total = total + lw.qabf * l_q
        named.append(("qabf", l_q))
    if lw.vif:
        l_v = 1 - 0.5 * (vifp_torch(a, fused) + vifp_torch(b, fused))
        total = total + lw.vif * l_v
        named.append(("vif", l_v))
    parts = {k: float(v.detach()) for k, v in named}
    return total, parts
