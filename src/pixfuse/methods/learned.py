"""Learned fusion: pixfuse's own compact CNNs and their look-up-table distillation.

The networks were trained by pixfuse on the CPU (``pixfuse train``; the exact
commands, seeds and times are in ``docs/learned.md``); their weights ship
inside the package (``pixfuse/data/*.npz``) with a sha256 recorded in
``pixfuse/data/weights.json`` that is checked at load time.  Inference here is
numpy/OpenCV only — torch is needed for training, never for fusing.
"""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..errors import ParameterError
from ..registry import Param, register_method

_TASKS = ("ivif", "medical")
_WEIGHTS_DOC = ("shipped model: 'ivif' (trained on RoadScene) or 'medical' (trained on Harvard AANLIB), "
                "or the path of a .npz written by `pixfuse train` / `pixfuse distill`")

_LOSSES = ("unsupervised losses: intensity and Sobel-gradient towards the element-wise maxima (H. Tang, "
           "J. Yuan, J. Ma, 'Image fusion in the loop of high-level vision tasks: A semantic-aware real-time "
           "infrared and visible image fusion network', Inf. Fusion 82:28-42, 2022), SSIM (Z. Wang et al., "
           "IEEE TIP 13(4):600-612, 2004) and an angle-aware gradient-direction term after AngularFuse "
           "(X. Liu et al., arXiv:2510.12260, 2025)")


def _resolve(weights: str, prefix: str) -> tuple[Path | None, str | None]:
    """(path of a user file, None) or (None, shipped file name)."""
    w = str(weights)
    if w in _TASKS:
        return None, f"{prefix}_{w}.npz"
    p = Path(w).expanduser()
    if p.suffix.lower() == ".npz":
        if not p.is_file():
            raise ParameterError(f"weights file {p} does not exist")
        return p, None
    raise ParameterError(f"parameter 'weights' must be 'ivif', 'medical' or a .npz path, got {weights!r}")


#: Shipped models already loaded (and hash-verified) in this process, by full path.
_LOADED: dict[str, object] = {}


def _load(weights: str, prefix: str, loader):
    """Model for ``weights``: a user file (loaded by ``loader``, cached per path/mtime/size) or a shipped file,
    whose sha256 is verified against the manifest the first time this process loads it."""
    from ..learned import infer

    path, shipped = _resolve(weights, prefix)
    if path is not None:
        return loader(path)
    key = str(infer.data_dir() / shipped)
    obj = _LOADED.get(key)
    if obj is None:
        obj = loader(infer.shipped_path(shipped))
        _LOADED[key] = obj
    return obj


def _net(weights: str, prefix: str):
    from ..learned import infer

    return _load(weights, prefix, infer.load_net)


def _run_net(images: Sequence[np.ndarray], weights: str, prefix: str) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    net = _net(weights, prefix)
    f, maps = net.fuse(images[0], images[1], return_maps=True)
    return f, {"weight": maps["weight"]}


@register_method(
    "pixnet",
    tasks=_TASKS,
    n_inputs=(2, 2),
    color="luminance",
    params={"weights": Param("ivif", _WEIGHTS_DOC, str)},
    citation="pixfuse compact fusion CNN (12,194 parameters), trained by pixfuse with " + _LOSSES + ".",
)
def pixnet(images: Sequence[np.ndarray], *, weights: str = "ivif") -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Compact CNN fusion (12,194 parameters, 25x25 receptive field), run with numpy.

    Seven 3x3 convolutions (16 channels, dilations 1,1,2,4,2,1,1, reflect
    padding, leaky ReLU 0.2) map the two sources to a blend logit ``o_w`` and
    a residual ``o_r``; the fused image is
    ``s*I_1 + (1-s)*I_2 + 0.25*tanh(o_r)`` with ``s = sigmoid(o_w)``.
    Trained without ground truth on random crops (intensity and gradient
    towards the sources' maxima, SSIM to both sources, angle-aware gradient
    direction; see :mod:`pixfuse.learned.losses`).

    Parameters
    ----------
    images : two HxW float32 arrays in [0, 1], infrared (or anatomical MRI) first
    weights : str
        ``"ivif"`` (trained on RoadScene), ``"medical"`` (trained on the
        Harvard AANLIB pairs) or the path of a ``.npz`` from ``pixfuse train``.

    Returns
    -------
    (fused, {"weight": s}) — HxW float32 image (clipped by :func:`pixfuse.fuse`)
    and the per-pixel blend weight of the first source.

    References
    ----------
    H. Tang, J. Yuan, J. Ma, "Image fusion in the loop of high-level vision
    tasks", Information Fusion 82:28-42, 2022 (intensity/texture losses).
    Z. Wang, A. C. Bovik, H. R. Sheikh, E. P. Simoncelli, "Image quality
    assessment: from error visibility to structural similarity", IEEE TIP
    13(4):600-612, 2004.  X. Liu, Y. Lin, S. Zhang, X. Wang, Y. Shi, L. Lin,
    "AngularFuse: A Closer Look at Angle-based Perception for
    Spatial-Sensitive Multi-Modality Image Fusion", arXiv:2510.12260, 2025.
    """
    return _run_net(images, weights, "pixnet")


@register_method(
    "pixnet-tiny",
    tasks=_TASKS,
    n_inputs=(2, 2),
    color="luminance",
    params={"weights": Param("ivif", _WEIGHTS_DOC, str)},
    citation=("pixfuse tiny fusion CNN (882 parameters; in the spirit of MMDRFuse's 113-parameter network, "
              "Y. Deng et al., ACM MM 2024), trained by pixfuse with " + _LOSSES + "."),
)
def pixnet_tiny(images: Sequence[np.ndarray], *, weights: str = "ivif") -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Tiny CNN fusion (882 parameters, 9x9 receptive field), run with numpy.

    Three 3x3 convolutions (8 channels, dilations 1,2,1) with the same blend +
    residual head and the same training losses as :func:`pixnet`.

    Parameters
    ----------
    images : two HxW float32 arrays in [0, 1], infrared (or anatomical MRI) first
    weights : str
        ``"ivif"``, ``"medical"`` or the path of a ``.npz`` from ``pixfuse train --model pixnet-tiny``.

    Returns
    -------
    (fused, {"weight": s}) as :func:`pixnet`.

    References
    ----------
    Y. Deng, T. Xu, C. Cheng, X.-J. Wu, J. Kittler, "MMDRFuse: Distilled
    Mini-Model with Dynamic Refresh for Multi-Modality Image Fusion", ACM
    Multimedia 2024 (tiny fusion networks); losses as :func:`pixnet`.
    """
    return _run_net(images, weights, "pixnet-tiny")


@register_method(
    "pixlut",
    tasks=_TASKS,
    n_inputs=(2, 2),
    color="luminance",
    params={"weights": Param("ivif", _WEIGHTS_DOC, str)},
    citation=("X. Yi, Y. Zhang, X. Xiang, Q. Yan, H. Xu, J. Ma, 'LUT-Fuse: Towards Extremely Fast Infrared and "
              "Visible Image Fusion via Distillation to Learnable Look-Up Tables', ICCV 2025 (idea); pixfuse's "
              "3-D table distilled from pixnet by least squares."),
)
def pixlut(images: Sequence[np.ndarray], *, weights: str = "ivif") -> np.ndarray:
    """Look-up-table fusion distilled from :func:`pixnet` (one table read per pixel, numpy/OpenCV only).

    The sources are taken at 8-bit precision (``q_i = round(255 I_i)``) and a
    quantised context ``k`` — the bin (16 bins) of the local-contrast share of
    the first source, ``(D_1 + 0.25) / (D_1 + D_2 + 0.5)`` with ``D_i`` the
    7x7 box mean of ``|I_i - box7(I_i)|`` at half resolution in grey levels —
    is computed with a few uint8 OpenCV calls.  The fused value is then one
    ``np.take`` from a dense 16 x 256 x 256 table at index
    ``k * 65536 + q_1 * 256 + q_2``; the dense table is expanded once, at load
    time, from the shipped 17x17x17 table of pixnet's (blend weight, residual)
    ``(S, R)`` by trilinear interpolation, ``F = I_2 + S (I_1 - I_2) + R``.
    The coarse table was fitted to pixnet's maps on training images by
    regularised least squares (:func:`pixfuse.learned.lut.distill`).  The
    dense table is read in 8-bit form (1 MB) and mapped to float32 by one
    ``cv2.LUT``, so the result is the 8-bit rounding of the trilinear read of
    the coarse table at the 8-bit sources (finer input precision is rounded
    to 8 bits).

    Parameters
    ----------
    images : two HxW float32 arrays in [0, 1], infrared (or anatomical MRI) first
    weights : str
        ``"ivif"``, ``"medical"`` or the path of a table ``.npz`` written by ``pixfuse distill``.

    Returns
    -------
    HxW float32 fused image.

    References
    ----------
    X. Yi, Y. Zhang, X. Xiang, Q. Yan, H. Xu, J. Ma, "LUT-Fuse: Towards
    Extremely Fast Infrared and Visible Image Fusion via Distillation to
    Learnable Look-Up Tables", ICCV 2025.
    """
    from ..learned import lut

    return _load(weights, "pixlut", lut.load_lut).fuse(images[0], images[1])
