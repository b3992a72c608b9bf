"""Procedurally generated test scenes (no files, no network).

Used by ``pixfuse demo`` and by tests for the analytic cases: an
infrared/visible pair, a multi-focus stack with known in-focus regions, and an
exposure bracket rendered from a known radiance map.  Deterministic for a
given seed.
"""
from __future__ import annotations

import cv2
import numpy as np


def _texture(h: int, w: int, rng: np.random.Generator, scale: float) -> np.ndarray:
    n = rng.standard_normal((h, w)).astype(np.float32)
    n = cv2.GaussianBlur(n, (0, 0), scale)
    n -= n.min()
    return n / max(float(n.max()), 1e-6)


def radiance_scene(h: int = 240, w: int = 320, seed: int = 0) -> np.ndarray:
    """A colour scene (HxWx3, float32, values in [0, 1]) with sky, buildings, windows and ground."""
    rng = np.random.default_rng(seed)
    y = np.linspace(0, 1, h, dtype=np.float32)[:, None]
    img = np.zeros((h, w, 3), np.float32)
    horizon = int(0.55 * h)
    sky = np.dstack([0.45 + 0.3 * y, 0.6 + 0.25 * y, 0.95 - 0.1 * y]) * np.ones((1, w, 1), np.float32)
    img[:horizon] = sky[:horizon]
    ground = 0.25 + 0.35 * _texture(h - horizon, w, rng, 1.2)[:, :, None] * np.array([0.6, 0.5, 0.3], np.float32)
    img[horizon:] = ground + np.array([0.15, 0.18, 0.05], np.float32)
    for i in range(5):
        x0 = int(rng.integers(0, w - w // 6))
        bw = int(rng.integers(w // 12, w // 6))
        top = int(rng.integers(h // 6, horizon - h // 10))
        shade = 0.3 + 0.4 * rng.random()
        img[top:horizon, x0:x0 + bw] = np.array([shade, shade * 0.9, shade * 0.8], np.float32)
        for wy in range(top + 4, horizon - 4, 8):
            for wx in range(x0 + 3, x0 + bw - 3, 7):
                if rng.random() < 0.5:
                    img[wy:wy + 4, wx:wx + 3] = np.array([0.95, 0.9, 0.6], np.float32)
    return np.clip(img, 0, 1)


def ivif_pair(h: int = 240, w: int = 320, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Infrared-like (HxW) and visible (HxWx3) images of one synthetic scene.

    The visible image holds texture and colour but hides two "people" in a
    dark, low-contrast area; the infrared image shows them hot against a
    smooth, cool background.
    """
    rng = np.random.default_rng(seed + 1)
    vis = radiance_scene(h, w, seed)
    ir = 0.25 + 0.2 * cv2.GaussianBlur(vis.mean(axis=2), (0, 0), 3)
    ir += 0.05 * _texture(h, w, rng, 6)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    for cx, cy in ((0.3 * w, 0.75 * h), (0.7 * w, 0.8 * h)):
        body = ((xx - cx) / (0.025 * w)) ** 2 + ((yy - cy) / (0.09 * h)) ** 2 < 1
        head = ((xx - cx) ** 2 + (yy - (cy - 0.12 * h)) ** 2) < (0.025 * w) ** 2
        m = body | head
        ir[m] = 0.9
        vis[m] = vis[m] * 0.25  # dark, hardly visible in the visible band
    ir = cv2.GaussianBlur(ir, (0, 0), 0.8)
    return np.clip(ir, 0, 1).astype(np.float32), np.clip(vis, 0, 1).astype(np.float32)


def focus_stack(
    h: int = 240, w: int = 320, n: int = 2, sigma: float = 3.0, seed: int = 0
) -> tuple[list[np.ndarray], np.ndarray, np.ndarray]:
    """A sharp colour scene and ``n`` frames, each sharp in one vertical band and blurred elsewhere.

    Returns ``(frames, sharp, truth)`` where ``truth[y, x]`` is the index of the
    frame that is in focus at that pixel.
    """
    sharp = radiance_scene(h, w, seed)
    rng = np.random.default_rng(seed + 2)
    sharp = np.clip(sharp + 0.15 * (_texture(h, w, rng, 0.7)[:, :, None] - 0.5), 0, 1).astype(np.float32)
    blurred = cv2.GaussianBlur(sharp, (0, 0), sigma)
    edges = np.linspace(0, w, n + 1).round().astype(int)
    truth = np.zeros((h, w), np.int32)
    frames = []
    for i in range(n):
        f = blurred.copy()
        f[:, edges[i]:edges[i + 1]] = sharp[:, edges[i]:edges[i + 1]]
        truth[:, edges[i]:edges[i + 1]] = i
        frames.append(f)
    return frames, sharp, truth


def exposure_bracket(
    h: int = 240, w: int = 320, stops: tuple[float, ...] = (-2.0, 0.0, 2.0), seed: int = 0
) -> list[np.ndarray]:
    """An exposure bracket (HxWx3 frames, gamma 2.2, clipped) of a high-dynamic-range scene."""
    base = radiance_scene(h, w, seed).astype(np.float32)
    radiance = base ** 2.2
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    sun = np.exp(-(((xx - 0.8 * w) ** 2 + (yy - 0.2 * h) ** 2) / (2 * (0.06 * w) ** 2)))
    radiance = radiance * 0.25 + 8.0 * sun[:, :, None]
    radiance[int(0.55 * h):] *= 0.15  # deep shadow in the foreground
    out = []
    for s in stops:
        v = np.clip(radiance * (2.0 ** s) * 0.5, 0, 1) ** (1 / 2.2)
        out.append(v.astype(np.float32))
    return out
