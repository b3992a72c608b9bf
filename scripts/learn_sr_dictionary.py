"""Learn the 8x8 patch dictionary of the MST-SR methods (LP-SR, RP-SR, DWT-SR, NSST-SR).

K-SVD (Aharon, Elad & Bruckstein 2006) on mean-removed 8x8 patches drawn at
random from the infrared and visible (luminance) images of
``../shared/data/ivif/train_roadscene``; 256 atoms, as the dictionary of Liu,
Liu & Wang (Information Fusion 2015).  Writes ``src/pixfuse/data/sr_dictionary.npz``
(array ``D``, 64 x 256 float32) and prints its sha256, which must be copied
into ``pixfuse.ops.sparse.SR_DICTIONARY_SHA256``.

Usage::

    python scripts/learn_sr_dictionary.py [--patches 30000] [--iterations 10] [--sparsity 5] [--seed 0]
"""
from __future__ import annotations

import argparse
import hashlib
import io
import sys
import time
import zipfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from pixfuse.io import read_image  # noqa: E402
from pixfuse.ops.color import rgb_to_ycbcr  # noqa: E402
from pixfuse.ops.sparse import ksvd  # noqa: E402


def sample_patches(folder: Path, n: int, size: int, seed: int, min_std: float) -> np.ndarray:
    files = sorted((folder / "ir").iterdir()) + sorted((folder / "vi").iterdir())
    if not files:
        raise SystemExit(f"no training images in {folder}")
    rng = np.random.default_rng(seed)
    per = int(np.ceil(n / len(files)))
    out = []
    for f in files:
        img, _ = read_image(f)
        if img.ndim == 3:
            img = rgb_to_ycbcr(img)[:, :, 0]
        h, w = img.shape
        ys = rng.integers(0, h - size + 1, 4 * per)
        xs = rng.integers(0, w - size + 1, 4 * per)
        idx = ys[:, None, None] + np.arange(size)[None, :, None], xs[:, None, None] + np.arange(size)[None, None, :]
        p = img[idx[0], idx[1]]  # (k, size, size)
        p = p.transpose(0, 2, 1).reshape(len(ys), -1)  # column-major pixel order
        p = p - p.mean(axis=1, keepdims=True)
        keep = p.std(axis=1) > min_std  # flat patches carry no structure to learn
        out.append(p[keep][:per])
    x = np.concatenate(out)[:n]
    return np.ascontiguousarray(x.T.astype(np.float32))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=ROOT / ".." / "shared" / "data" / "ivif" / "train_roadscene")
    ap.add_argument("--patches", type=int, default=30000)
    ap.add_argument("--atoms", type=int, default=256)
    ap.add_argument("--size", type=int, default=8)
    ap.add_argument("--sparsity", type=int, default=5)
    ap.add_argument("--iterations", type=int, default=10)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=ROOT / "src" / "pixfuse" / "data" / "sr_dictionary.npz")
    a = ap.parse_args()
    t0 = time.time()
    x = sample_patches(a.data.resolve(), a.patches, a.size, a.seed, min_std=2.0 / 255.0)
    print(f"{x.shape[1]} patches of {a.size}x{a.size} from {a.data.resolve()}", flush=True)
    d = ksvd(x, a.atoms, a.sparsity, a.iterations, seed=a.seed, verbose=True)
    buf = io.BytesIO()
    # fixed zip metadata so that the same dictionary gives the same bytes
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as z:
        info = zipfile.ZipInfo("D.npy", date_time=(1980, 1, 1, 0, 0, 0))
        info.compress_type = zipfile.ZIP_DEFLATED
        arr = io.BytesIO()
        np.save(arr, d.astype(np.float32))
        z.writestr(info, arr.getvalue())
    a.out.write_bytes(buf.getvalue())
    sha = hashlib.sha256(buf.getvalue()).hexdigest()
    print(f"wrote {a.out} ({a.out.stat().st_size} bytes) in {time.time() - t0:.1f} s")
    print(f"sha256 {sha}")


if __name__ == "__main__":
    main()
