"""Control of the BLAS/LAPACK thread pool around many small dense linear-algebra calls.

OpenBLAS parallelises every call; for the thousands of small SVDs / eigen-
decompositions of latent LRR and MDLatLRR (matrices of a few hundred rows or
16x16 patches) the thread start-up and spin-waiting cost far more than the
arithmetic, dramatically so on a loaded machine (a 128x128 SVD: 0.02 s on one
thread, 0.9 s with the default pool on a busy 2-core host).  Such loops run
inside :func:`blas_threads`.
"""
from __future__ import annotations

import contextlib
from collections.abc import Iterator


@contextlib.contextmanager
def blas_threads(n: int = 1) -> Iterator[None]:
    """Limit BLAS/LAPACK (OpenBLAS, MKL, BLIS) to ``n`` threads inside the block.

    Uses ``threadpoolctl``; without it the block runs unchanged.
    """
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - optional speed-up
        yield
        return
    with threadpool_limits(limits=n, user_api="blas"):
        yield
