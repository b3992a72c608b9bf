"""Training / evaluation pairs on disk for the learned methods (numpy only).

Layouts understood by :func:`find_pairs`:

* IVIF: ``DIR/ir/<name>`` and ``DIR/vi/<name>`` (also ``vis``/``visible``),
  paired by file stem; source order is (infrared, visible).
* Medical (Harvard / AANLIB layout): ``DIR/<SUBSET>/MRI/<name>`` and
  ``DIR/<SUBSET>/{CT,PET,SPECT}/<name>``, for every ``SUBSET`` folder (or
  ``DIR`` itself); source order is (MRI, other modality), i.e. anatomical first
  as the medical task prescribes.

Hold-out split: :func:`split_pairs` sorts the pairs by their id
(``"<subset>/<stem>"``) and holds out every ``every``-th one (positions
``every-1, 2*every-1, ...``), so the split is a pure function of the file
names and is the same for training and benchmarking.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from ..errors import InputError

IR_DIRS = ("ir", "infrared", "IR")
VI_DIRS = ("vi", "vis", "visible", "VIS", "VI")
MED_ANAT = ("MRI", "MR", "mri")
MED_FUNC = ("CT", "PET", "SPECT", "ct", "pet", "spect")


@dataclasses.dataclass(frozen=True)
class Pair:
    """One registered pair of source files; ``paths`` in task order."""

    id: str
    paths: tuple[Path, Path]


def _stems(folder: Path) -> dict[str, Path]:
    from ..io import list_images

    out: dict[str, Path] = {}
    for p in list_images(folder):
        out.setdefault(p.stem, p)
    return out


def _pair_folders(a: Path, b: Path, prefix: str) -> list[Pair]:
    sa, sb = _stems(a), _stems(b)
    common = sorted(set(sa) & set(sb))
    return [Pair(f"{prefix}{s}", (sa[s], sb[s])) for s in common]


def _first(folder: Path, names: tuple[str, ...]) -> Path | None:
    for n in names:
        if (folder / n).is_dir():
            return folder / n
    return None


def find_pairs(data_dir: str | Path, task: str) -> list[Pair]:
    """List the source pairs under ``data_dir`` for ``task`` ("ivif" or "medical"), sorted by id."""
    root = Path(data_dir)
    if not root.is_dir():
        raise InputError(f"training data folder {root} does not exist")
    pairs: list[Pair] = []
    if task == "ivif":
        ir, vi = _first(root, IR_DIRS), _first(root, VI_DIRS)
        if ir is None or vi is None:
            raise InputError(f"{root}: expected sub-folders 'ir' and 'vi' with images paired by file name")
        pairs = _pair_folders(ir, vi, "")
    elif task == "medical":
        subsets = [root] + sorted(p for p in root.iterdir() if p.is_dir())
        for sub in subsets:
            anat = _first(sub, MED_ANAT)
            if anat is None:
                continue
            for fn in MED_FUNC:
                if (sub / fn).is_dir():
                    prefix = "" if sub == root else f"{sub.name}/"
                    pairs += _pair_folders(anat, sub / fn, prefix)
                    break
        if not pairs:
            raise InputError(
                f"{root}: expected MRI/ plus CT/, PET/ or SPECT/ folders (optionally inside subset folders)"
            )
    else:
        raise InputError(f"learned fusion supports tasks 'ivif' and 'medical', not {task!r}")
    if not pairs:
        raise InputError(f"{root}: no image pairs found (file names must match between the folders)")
    return sorted(pairs, key=lambda p: p.id)


def split_pairs(pairs: list[Pair], every: int) -> tuple[list[Pair], list[Pair]]:
    """(train, test): sorted by id, every ``every``-th pair held out (``every=0``: no hold-out)."""
    ps = sorted(pairs, key=lambda p: p.id)
    if every <= 0:
        return ps, []
    test = [p for i, p in enumerate(ps) if i % every == every - 1]
    train = [p for i, p in enumerate(ps) if i % every != every - 1]
    return train, test


def load_luminance(path: Path) -> np.ndarray:
    """Read an image as float32 [0, 1] luminance (BT.601 Y of colour images, as the colour policy does)."""
    from ..io import read_image
    from ..ops.color import rgb_to_ycbcr

    img, _ = read_image(path)
    if img.ndim == 3:
        img = rgb_to_ycbcr(img)[:, :, 0]
    return np.ascontiguousarray(img, dtype=np.float32)


def load_pair(pair: Pair) -> np.ndarray:
    """Both sources of a pair as a (2, H, W) float32 luminance stack."""
    a, b = (load_luminance(p) for p in pair.paths)
    if a.shape != b.shape:
        raise InputError(f"pair {pair.id}: source sizes differ {a.shape} vs {b.shape}")
    return np.stack([a, b])


def photometric_shift(c: np.ndarray, rng: np.random.Generator, gamma: float = 2.5, gain: float = 0.3,
                      noise: float = 3.0, blur: float = 2.0) -> np.ndarray:
    """Re-expose each source of a (2, h, w) crop independently: ``g * G_b(x)**p + n``, clipped to [0, 1].

    ``p`` log-uniform in ``[1/gamma, gamma]``, ``g`` uniform in ``[gain, 1]``, ``n`` Gaussian with a standard
    deviation uniform in ``[0, noise]`` grey levels (of 255); with probability 1/3 the source is first blurred
    by a Gaussian of standard deviation uniform in ``[0.5, blur]`` pixels (``blur=0``: never).  Imitates the
    darker, noisier, softer or differently exposed sources of other cameras (night visible images,
    low-contrast thermal frames), and makes either source the one with the stronger local detail.
    """
    import cv2

    out = np.empty_like(c)
    for j in range(c.shape[0]):
        p = float(np.exp(rng.uniform(-np.log(gamma), np.log(gamma))))
        g = float(rng.uniform(gain, 1.0))
        sd = float(rng.uniform(0.0, noise)) / 255.0
        x = np.clip(c[j], 0, 1).astype(np.float32)
        if blur > 0 and rng.random() < 1 / 3:
            x = cv2.GaussianBlur(x, (0, 0), float(rng.uniform(0.5, blur)), borderType=cv2.BORDER_REFLECT_101)
        x = g * np.power(x, p)
        if sd > 0:
            x = x + rng.normal(0.0, sd, x.shape)
        out[j] = np.clip(x, 0, 1)
    return out


def sample_crops(images: list[np.ndarray], n: int, size: int, rng: np.random.Generator,
                 augment: bool = True, photometric: float = 0.0, swap: float = 0.0) -> np.ndarray:
    """``n`` random ``size`` x ``size`` crops (2 channels each) with flips / 90-degree rotations.

    With ``photometric`` > 0, that fraction of the crops (on average) also gets an independent
    :func:`photometric_shift` of each source; those draws come after all the crop draws, so
    ``photometric=0`` reproduces the crops of earlier versions exactly.  With ``swap`` > 0, that fraction of
    the crops has its two sources exchanged (the unsupervised losses are symmetric in the sources, so a
    swapped crop is as valid a training sample; it teaches the network to select by content, not by channel).
    Images smaller than ``size`` are reflect-padded.  Returns (n, 2, size, size) float32.
    """
    out = np.empty((n, 2, size, size), dtype=np.float32)
    idx = rng.integers(0, len(images), size=n)
    for k, i in enumerate(idx):
        im = images[int(i)]
        h, w = im.shape[1:]
        if h < size or w < size:
            ph, pw = max(0, size - h), max(0, size - w)
            im = np.pad(im, ((0, 0), (0, ph), (0, pw)), mode="reflect")
            h, w = im.shape[1:]
        y = int(rng.integers(0, h - size + 1))
        x = int(rng.integers(0, w - size + 1))
        c = im[:, y:y + size, x:x + size]
        if augment:
            r = int(rng.integers(0, 8))
            if r & 1:
                c = c[:, :, ::-1]
            c = np.rot90(c, k=r >> 1, axes=(1, 2))
        out[k] = c
    if photometric > 0:
        for k in range(n):
            if rng.random() < photometric:
                out[k] = photometric_shift(out[k], rng)
    if swap > 0:
        for k in range(n):
            if rng.random() < swap:
                out[k] = out[k, ::-1].copy()
    return out
