"""Learn the MDLatLRR projection matrix L shipped as src/pixfuse/data/latlrr_projection.npz.

Procedure (Li, Wu & Kittler, IEEE TIP 2020, and the authors' training code):
every training image (IR and visible of ../shared/data/ivif/train_roadscene,
converted to grey with MATLAB's rgb2gray weights, values in [0, 1]) is cut into
distinct 16x16 patches; a patch is "detail" when the Euclidean norm of its
mean-removed vector exceeds 0.5, else "smooth"; 1000 detail and 1000 smooth
patches are drawn at random (fixed seed), and latent LRR (lambda = 0.4) is
solved on the 256 x 2000 matrix.  The salient-feature projection L (256 x 256)
is stored as float32 together with the settings.

Run:  PYTHONPATH=src python scripts/learn_latlrr_projection.py [--out PATH]
(a few minutes on 2 CPU cores; the Z-block is solved in the row space of X, see pixfuse.ops.lowrank).  The sha256 of the written file must then
be copied into pixfuse.methods.optimization.LATLRR_PROJECTION_SHA256.
"""
from __future__ import annotations

import argparse
import hashlib
import io
import time
from pathlib import Path

import numpy as np

from pixfuse.io import list_images, read_image
from pixfuse.ops.color import MATLAB_RGB2GRAY, rgb_to_gray
from pixfuse.ops.lowrank import latent_lrr

ROOT = Path(__file__).resolve().parents[1]


def patches(img: np.ndarray, unit: int) -> np.ndarray:
    h, w = (img.shape[0] // unit) * unit, (img.shape[1] // unit) * unit
    a = img[:h, :w].reshape(h // unit, unit, w // unit, unit)
    # column-major flattening inside a patch, as MATLAB's im2col / temp(:)
    return a.transpose(0, 2, 3, 1).reshape(-1, unit * unit).T


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=str(ROOT / ".." / "shared" / "data" / "ivif" / "train_roadscene"))
    ap.add_argument("--out", default=str(ROOT / "src" / "pixfuse" / "data" / "latlrr_projection.npz"))
    ap.add_argument("--unit", type=int, default=16)
    ap.add_argument("--n-detail", type=int, default=1000)
    ap.add_argument("--n-smooth", type=int, default=1000)
    ap.add_argument("--lam", type=float, default=0.4)
    ap.add_argument("--seed", type=int, default=20200101)
    args = ap.parse_args()

    data = Path(args.data)
    files = sorted(list_images(data / "ir")) + sorted(list_images(data / "vi"))
    cols = []
    for f in files:
        img, _ = read_image(f)
        cols.append(patches(rgb_to_gray(img, MATLAB_RGB2GRAY), args.unit))
    b = np.concatenate(cols, axis=1).astype(np.float64)
    sd = np.sqrt(((b - b.mean(axis=0, keepdims=True)) ** 2).sum(axis=0))
    detail, smooth = b[:, sd > 0.5], b[:, sd <= 0.5]
    smooth = smooth[:, np.any(smooth != 0, axis=0)]
    rng = np.random.default_rng(args.seed)
    pick = np.concatenate(
        [
            detail[:, rng.choice(detail.shape[1], args.n_detail, replace=False)],
            smooth[:, rng.choice(smooth.shape[1], args.n_smooth, replace=False)],
        ],
        axis=1,
    )
    pick = pick[:, rng.permutation(pick.shape[1])]
    print(f"{len(files)} images, {b.shape[1]} patches ({detail.shape[1]} detail); solving LatLRR on {pick.shape}")
    t = time.time()
    _, lmat, _ = latent_lrr(pick, args.lam)
    print(f"latent LRR: {time.time() - t:.0f} s")
    buf = io.BytesIO()
    np.savez(
        buf,
        L=lmat.astype(np.float32),
        unit=np.int32(args.unit),
        lam=np.float64(args.lam),
        n_detail=np.int32(args.n_detail),
        n_smooth=np.int32(args.n_smooth),
        seed=np.int64(args.seed),
    )
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(buf.getvalue())
    print(f"wrote {out} sha256={hashlib.sha256(buf.getvalue()).hexdigest()}")


if __name__ == "__main__":
    main()
