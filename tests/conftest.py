"""Shared fixtures: the real data folder and a CLI runner."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DATA = (ROOT / ".." / "shared" / "data").resolve()


def data_path(*parts: str) -> Path:
    p = DATA.joinpath(*parts)
    if not p.exists():
        pytest.skip(f"shared test data missing: {p}")
    return p


def run_cli(*args: str, cwd: Path | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    """Run the real ``pixfuse`` command (as ``python -m pixfuse``) in a subprocess."""
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT / "src") + os.pathsep + env.get("PYTHONPATH", "")
    return subprocess.run(
        [sys.executable, "-m", "pixfuse", *map(str, args)],
        capture_output=True, text=True, cwd=cwd, env=env, timeout=timeout,
    )


@pytest.fixture
def cli():
    return run_cli


def kede_sequence(name: str, scale: float = 1.0) -> list:
    """Frames of a Kede Ma multi-exposure sequence (``name`` prefix), optionally resized by ``scale``."""
    import cv2

    from pixfuse.io import read_image

    folder = next(data_path("multi_exposure", "kede_ma_mef", "source").glob(name + "*"))
    imgs = [read_image(p)[0] for p in sorted(folder.glob("*.png"))]
    if scale != 1.0:
        imgs = [cv2.resize(im, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA) for im in imgs]
    return imgs


def focus_pair(stem: str, sub: str = "lytro", scale: float = 1.0) -> list:
    """The two frames ``{stem}_A.jpg`` / ``{stem}_B.jpg`` of a multi-focus set, optionally resized by ``scale``."""
    import cv2

    from pixfuse.io import read_image

    folder = data_path("multi_focus", sub)
    imgs = [read_image(folder / f"{stem}_{k}.jpg")[0] for k in "AB"]
    if scale != 1.0:
        imgs = [cv2.resize(im, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA) for im in imgs]
    return imgs


@pytest.fixture(scope="module")
def venice_half() -> list:
    """Kede Ma Venice at half size (3 frames)."""
    return kede_sequence("Venice", 0.5)
