"""`pixfuse align` on real sequences with known synthetic motion (subprocess)."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / ".." / "shared" / "data"


def _run(*args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    return subprocess.run([sys.executable, "-m", "pixfuse", "align", *map(str, args)], capture_output=True,
                          text=True, env=env, timeout=300)


def _shift(img: np.ndarray, dx: float, dy: float, flags: int = cv2.INTER_NEAREST) -> np.ndarray:
    return cv2.warpAffine(img, np.float32([[1, 0, dx], [0, 1, dy]]), img.shape[1::-1], flags=flags,
                          borderMode=cv2.BORDER_REFLECT)


def _warps(stdout: str) -> dict[str, tuple[float, float]]:
    return {m.group(1): (float(m.group(2)), float(m.group(3)))
            for m in re.finditer(r"^(\S+?)(?: \(reference\))?: dx=(\S+) dy=(\S+)", stdout, re.M)}


def test_align_mtb_16bit_exposure_stack(tmp_path: Path) -> None:
    seq = sorted((DATA / "multi_exposure" / "kede_ma_mef" / "source").glob("Tower*"))[0]
    src = [cv2.imread(str(p)) for p in sorted(seq.glob("*.png"))]
    shifts = {0: (6, -4), 2: (-3, 5)}
    paths = []
    for i, im in enumerate(src):
        moved = _shift(im, *shifts[i]) if i in shifts else im
        p = tmp_path / f"tower_{i}.png"
        cv2.imwrite(str(p), moved.astype(np.uint16) * 257)          # 16-bit frames
        paths.append(p)
    out = tmp_path / "aligned"
    r = _run(*paths, "-o", out, "--method", "mtb", "--json", tmp_path / "t.json")
    assert r.returncode == 0, r.stderr
    w = _warps(r.stdout)
    assert w == {"tower_0.png": (6.0, -4.0), "tower_1.png": (0.0, 0.0), "tower_2.png": (-3.0, 5.0)}
    assert json.loads((tmp_path / "t.json").read_text())["reference"] == 1
    for i, im in enumerate(src):
        a = cv2.imread(str(out / f"tower_{i}.png"), cv2.IMREAD_UNCHANGED)
        assert a.dtype == np.uint16                                  # bit depth kept
        inner = (slice(12, -12), slice(12, -12))
        assert np.array_equal(a[inner], (im.astype(np.uint16) * 257)[inner]), i
    # existing outputs are not replaced silently
    r = _run(*paths, "-o", out, "--method", "mtb")
    assert r.returncode == 2 and "exists" in r.stderr and "--overwrite" in r.stderr


def test_align_ecc_and_similarity_subpixel_focus_stack(tmp_path: Path) -> None:
    trip = sorted((DATA / "multi_focus" / "lytro_triple").glob("lytro-01-*.jpg"))[:2]
    a, b = cv2.imread(str(trip[0])), cv2.imread(str(trip[1]))
    pa, pb, pc = tmp_path / "a.png", tmp_path / "b.png", tmp_path / "c.png"
    cv2.imwrite(str(pa), a)
    cv2.imwrite(str(pb), b)
    cv2.imwrite(str(pc), _shift(b, 2.4, -1.7, cv2.INTER_CUBIC))
    # frames a and b differ in focus (and by the camera's own small offset): the known shift is
    # measured as the difference between the estimates for c (= b moved) and b
    r = _run(pa, pb, pc, "-o", tmp_path / "e", "--method", "ecc", "--motion", "translation", "--reference", "0")
    assert r.returncode == 0, r.stderr
    w = _warps(r.stdout)
    dx, dy = w["c.png"][0] - w["b.png"][0], w["c.png"][1] - w["b.png"][1]
    assert abs(dx - 2.4) < 0.05 and abs(dy + 1.7) < 0.05, r.stdout
    al_b = cv2.imread(str(tmp_path / "e" / "b.png")).astype(np.float32)
    al_c = cv2.imread(str(tmp_path / "e" / "c.png")).astype(np.float32)
    inner = (slice(20, -20), slice(20, -20))
    assert np.abs(al_c - al_b)[inner].mean() < 1.5      # grey levels of 255
    # focus breathing: 2% scale about the centre
    s = 1.02
    c = np.array(b.shape[1::-1]) / 2
    M = np.float32([[s, 0, (1 - s) * c[0]], [0, s, (1 - s) * c[1]]])
    cv2.imwrite(str(pc), cv2.warpAffine(b, M, b.shape[1::-1], flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT))
    r = _run(pb, pc, "-o", tmp_path / "s", "--method", "similarity", "--reference", "0")
    assert r.returncode == 0, r.stderr
    W = np.array(json.loads(r.stdout.splitlines()[1].split("warp=")[1]))
    assert abs(W[0, 0] - s) < 3e-3 and abs(W[1, 1] - s) < 3e-3, W


def test_align_errors(tmp_path: Path) -> None:
    lyt = DATA / "multi_focus" / "lytro"
    a = tmp_path / "a.png"
    cv2.imwrite(str(a), cv2.imread(str(lyt / "lytro_01_A.jpg"))[:100, :120])
    b = tmp_path / "b.png"
    cv2.imwrite(str(b), cv2.imread(str(lyt / "lytro_01_B.jpg"))[:90, :120])
    r = _run(a, b, "-o", tmp_path / "o")
    assert r.returncode == 2 and "sizes differ" in r.stderr and "Traceback" not in r.stderr
    r = _run(a, "-o", tmp_path / "o")
    assert r.returncode == 2 and "at least two" in r.stderr
    r = _run(a, a, "-o", tmp_path / "o", "--method", "sift")
    assert r.returncode == 2 and "--method" in r.stderr


def test_cli_deferred_scipy_imports_are_thread_safe() -> None:
    """The CLI's placeholder modules load once, correctly, when several threads touch them first together."""
    code = (
        "import sys, threading, numpy as np\n"
        "import pixfuse.cli._app\n"
        "assert type(sys.modules['scipy.linalg']).__name__ == '_DeferredModule'\n"
        "from scipy import linalg, ndimage\n"
        "bar = threading.Barrier(6); errs = []\n"
        "def go():\n"
        "    bar.wait()\n"
        "    try:\n"
        "        assert linalg.svd(np.eye(3))[1].sum() == 3\n"
        "        assert ndimage.distance_transform_edt(np.ones((3, 3))).max() > 0\n"
        "    except Exception as e:\n"
        "        errs.append(repr(e))\n"
        "ts = [threading.Thread(target=go) for _ in range(6)]\n"
        "[t.start() for t in ts]; [t.join() for t in ts]\n"
        "assert not errs, errs\n"
        "import scipy.linalg as real\n"
        "assert hasattr(real, 'svd') and type(real).__name__ == 'module'\n"
        "print('ok')\n"
    )
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 0 and r.stdout.strip() == "ok", r.stderr
