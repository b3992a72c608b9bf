"""Scene seams inside a tile: exact circular *and* replicate/symmetric borders under tiling.

The toolbox mixes border conventions: ``interp23tap`` filters with circular
borders (a pixel near the top of the scene sees the bottom rows), while the
MTF filters (``imfilter(..., 'replicate')``), ``imresize`` (symmetric), the
Starck-Murtagh wavelet (symmetric) and the 9-tap decimator (replicate) do not.
A tile read with a plain halo cannot reproduce both at the scene border.

:mod:`pixfuse.tiling` therefore reads the halo of a border tile *periodically*
(the rows beyond the top of the scene are the bottom rows of the scene, and so
on), which is exactly what circular filters see in whole-image processing,
and marks the positions inside the tile where the scene wraps around as
*seams*.  Every non-circular filter of the toolbox is decorated with
:func:`segmentwise`: inside a tile with seams it is applied separately to each
block between seams, so it pads at the seams exactly as it pads at the scene
border on a whole image.  Circular filters run on the whole tile and see
continuous (periodic) data across the seams.  Away from the tile border (the
halo absorbs it), every pixel then gets the same value as in whole-image
processing, including the pixels next to the scene border.

Outside :func:`pixfuse.tiling` processing (no active :class:`SeamContext`)
the decorated functions are called unchanged.
"""
from __future__ import annotations

import contextvars
import dataclasses
import functools
from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np

__all__ = ["SeamContext", "segmentwise", "active", "using"]

F = TypeVar("F", bound=Callable[..., Any])


@dataclasses.dataclass
class SeamContext:
    """Seams of one tile: positions (PAN pixels, inside the tile) where the scene wraps around.

    Parameters
    ----------
    ext_shape
        (rows, cols) of the tile with its halo (PAN scale).
    ratio
        PAN/MS ratio: arrays of the tile's shape / ratio (MS scale) get the seams / ratio.
    row_seams, col_seams
        Sorted seam positions, multiples of ``ratio``, strictly inside the tile.
    """

    ext_shape: tuple[int, int]
    ratio: int
    row_seams: tuple[int, ...] = ()
    col_seams: tuple[int, ...] = ()
    busy: bool = False

    def cuts_for(self, shape: tuple[int, ...]) -> tuple[list[int], list[int]] | None:
        """Segment boundaries for an array of ``shape`` (None: not a tile-scale array)."""
        h, w = int(shape[0]), int(shape[1])
        if (h, w) == self.ext_shape:
            s = 1
        elif self.ratio > 1 and (h * self.ratio, w * self.ratio) == self.ext_shape:
            s = self.ratio
        else:
            return None
        return ([0] + [v // s for v in self.row_seams] + [h], [0] + [v // s for v in self.col_seams] + [w])

    @property
    def has_seams(self) -> bool:
        return bool(self.row_seams or self.col_seams)


_current: contextvars.ContextVar[SeamContext | None] = contextvars.ContextVar("pixfuse_seams", default=None)


def active() -> SeamContext | None:
    """The seam context of the tile being processed (None outside tiled processing)."""
    return _current.get()


class using:
    """Context manager installing a :class:`SeamContext`."""

    def __init__(self, ctx: SeamContext | None) -> None:
        self.ctx = ctx
        self._tok: contextvars.Token[SeamContext | None] | None = None

    def __enter__(self) -> SeamContext | None:
        self._tok = _current.set(self.ctx)
        return self.ctx

    def __exit__(self, *exc: Any) -> None:
        assert self._tok is not None
        _current.reset(self._tok)


def segmentwise(fn: F) -> F:
    """Decorate a local filter with non-circular borders (first argument: the HxW[xB] image).

    Inside a tile with seams, the filter runs on every block between seams and
    the results are put back together (the filter's output may have another
    scale, e.g. a decimator: each block's output then has that scale).  Nested
    decorated calls inside a block run unchanged.
    """
    @functools.wraps(fn)
    def wrapper(img: Any, *args: Any, **kwargs: Any) -> Any:
        ctx = _current.get()
        if ctx is None or ctx.busy or not ctx.has_seams:
            return fn(img, *args, **kwargs)
        a = np.asarray(img)
        cuts = ctx.cuts_for(a.shape) if a.ndim >= 2 else None
        if cuts is None:
            return fn(img, *args, **kwargs)
        rows, cols = cuts
        ctx.busy = True
        try:
            out_rows = []
            for r0, r1 in zip(rows[:-1], rows[1:]):
                parts = [fn(a[r0:r1, c0:c1], *args, **kwargs) for c0, c1 in zip(cols[:-1], cols[1:])]
                out_rows.append(parts[0] if len(parts) == 1 else np.concatenate(parts, axis=1))
            return out_rows[0] if len(out_rows) == 1 else np.concatenate(out_rows, axis=0)
        finally:
            ctx.busy = False

    return wrapper  # type: ignore[return-value]
