"""Atomic file output: write to a temporary file beside the target, rename over it only on success.

A reader never sees a half-written file, an interrupted run leaves the previous target untouched, and the
temporary file is removed whatever the failure (including Ctrl-C).
"""
from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

__all__ = ["atomic_output"]


@contextlib.contextmanager
def atomic_output(dest: str | os.PathLike[str], suffix: str = ".part") -> Iterator[Path]:
    """Yield a temporary path in ``dest``'s folder; on normal exit rename it to ``dest``.

    Parameters
    ----------
    dest : path-like
        The final file. Its parent folders are created.
    suffix : str
        Suffix of the temporary name (writers that pick the format from the suffix need the real one,
        e.g. ``".part.tif"``).

    Yields
    ------
    pathlib.Path
        An empty file to write (or overwrite) in place of ``dest``.
    """
    p = Path(dest)
    p.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=suffix, dir=p.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        os.replace(tmp, p)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
