"""Learned fusion: compact CNNs trained on the CPU and their look-up-table distillation.

Only the training modules (:mod:`.train`, :mod:`.losses`, :mod:`.models_torch`)
import torch (the ``learn`` extra: ``pip install torch==2.13.0``).  Inference of
shipped models (:mod:`.infer`, :mod:`.lut`) needs numpy/OpenCV only; the
registered methods live in :mod:`pixfuse.methods.learned`.
"""
from __future__ import annotations

TORCH_HINT = "install the learn extra: pip install torch==2.13.0"


def require_torch():
    """Import and return torch, or raise :class:`pixfuse.errors.PixfuseError` with the install hint."""
    from ..errors import PixfuseError

    try:
        import torch
    except ImportError:  # pragma: no cover - exercised where torch is absent
        raise PixfuseError(f"training needs PyTorch, which is not installed; {TORCH_HINT}") from None
    return torch
