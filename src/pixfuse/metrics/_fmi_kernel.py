"""Compiled (numba) kernel of Haghighat's FMI window map -- optional, ``pip install pixfuse[fast]``.

Opt-in (``PIXFUSE_NUMBA=1``): imported lazily by :mod:`pixfuse.metrics.information`, never at
package import (importing numba costs ~0.5 s, compiling this module on a cold cache ~30 s; the
compiled code is cached next to this file or in ``NUMBA_CACHE_DIR``).  On one core it measured
no faster than the numpy path (docs/metrics.md, Speed), which stays the default.

Per 3x3 window this evaluates what the numpy path (``information._fmi_map`` / ``_fmi_core``)
evaluates: min-max normalisation (a flat window becomes all ones), the pdf with the reference's
summation order, the correlation of the centred pdfs (its sign picks the upper or the lower
Frechet bound; the lower bound of (F, A) is the upper bound of (F, reversed A)), the bound's
covariance and mass from the merge of the two sorted CDFs (at most 17 staircase cells), the
closed form of the product part of the joint entropy plus a correction on the staircase cells,
and the reference's rules for windows equal to the fused one.

Windows are processed in blocks of ``_NB``: a scalar pass per window computes the pdfs, a
vectorised pass takes the logarithms of the whole block (:func:`_vlog`, a branch-free
``ln`` that LLVM turns into SIMD code, within a few ulp of libm), a second scalar pass builds
the staircase cells, a second vectorised pass their logarithms, and a last pass sums.  The
scalar libm ``log`` (~60 calls per window) would otherwise cost as much as the rest.
Differences to the numpy path are rounding only (the logarithm; ``q ln|q|`` of a product cell
written ``q (ln|1-w| + ln f + ln a)``; the order of a few sums; corrections skipped on
zero-length segments, where they are exactly 0); tests hold the window maps to 1e-12.
One core: ``nogil``, no ``parallel``; ``error_model="numpy"`` (a division by zero gives inf/nan
as in numpy instead of raising).
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit

_LN2 = float(np.log(2.0))
_INV_LN2 = 1.0 / _LN2
_NEG_INV_LN2 = -1.0 / _LN2
_SQRT2 = math.sqrt(2.0)
_TINY = 1e-300  # ln(|x| + 1e-300) = ln|x| for every non-zero value a pdf here holds; finite at 0
_NB = 256  # windows per block (the block buffers, ~0.5 MB, stay in the L2 cache)
_NJ = dict(cache=True, nogil=True, error_model="numpy")



@njit(**_NJ)
def _vlog(X, L, E, n):
    """``L[:n] = ln(|X[:n]| + 1e-300)``, branch-free (vectorised); ``E`` is scratch of size n.

    Argument reduction on the bit pattern (``y = 2^e m``, ``m`` in [sqrt(1/2), sqrt(2))) and
    ``ln m = 2 atanh(f)``, ``f = (m - 1)/(m + 1)``, by its series to ``f^21`` (|f| < 0.172:
    truncation < 3e-17); measured within 4e-16 relative of libm.  Non-finite inputs are
    recomputed with libm afterwards.
    """
    Li = L.view(np.uint64)
    for k in range(n):
        L[k] = abs(X[k]) + _TINY
    for k in range(n):
        b = Li[k]
        E[k] = np.float64(np.int64(b >> np.uint64(52)) - 1023)
        Li[k] = (b & np.uint64(0x000FFFFFFFFFFFFF)) | np.uint64(0x3FF0000000000000)
    for k in range(n):
        m = L[k]
        e = E[k]
        big = m > _SQRT2
        m = m * 0.5 if big else m
        e = e + 1.0 if big else e
        f = (m - 1.0) / (m + 1.0)
        s = f * f
        p = 1.0 / 21
        p = p * s + 1.0 / 19
        p = p * s + 1.0 / 17
        p = p * s + 1.0 / 15
        p = p * s + 1.0 / 13
        p = p * s + 1.0 / 11
        p = p * s + 1.0 / 9
        p = p * s + 1.0 / 7
        p = p * s + 1.0 / 5
        p = p * s + 1.0 / 3
        L[k] = e * _LN2 + (2.0 * f + 2.0 * f * s * p)
    for k in range(n):
        if not np.isfinite(X[k]):
            L[k] = math.log(abs(X[k]) + _TINY)


@njit(**_NJ)
def _norm(X, XN, CST, nb):
    """Per window (column) min-max normalisation of X (9, nb) into XN; a constant window becomes all ones."""
    MN, MX = CST[0], CST[1]
    for w in range(nb):
        MN[w] = X[0, w]
        MX[w] = X[0, w]
    for k in range(1, 9):
        for w in range(nb):
            v = X[k, w]
            MN[w] = min(MN[w], v)
            MX[w] = max(MX[w], v)
    for w in range(nb):
        MX[w] -= MN[w]
    for k in range(9):
        for w in range(nb):
            rng = MX[w]
            XN[k, w] = 1.0 if rng == 0 else (X[k, w] - MN[w]) / rng


@njit(**_NJ)
def _pdf(XN, P, T, ST, nb):
    """pdf P, centred pdf T of the normalised windows XN (9, nb); ST rows: 0 tt, 1 sum k p,
    2 sum k^2 p, 3 sum (10-k) p (= sum of the CDF), 4 sum p, 5 sd, (6 entropy, later), 7 scratch.

    Sums in the reference's order (the centring decides whether a flat window's correlation is 0).
    """
    tot = ST[7]
    for w in range(nb):
        t = ((XN[0, w] + XN[1, w]) + XN[2, w]) + ((XN[3, w] + XN[4, w]) + XN[5, w])
        tot[w] = t + ((XN[6, w] + XN[7, w]) + XN[8, w])
    for k in range(9):
        for w in range(nb):
            P[k, w] = XN[k, w] / tot[w]
    m = ST[6]
    for w in range(nb):
        m[w] = P[0, w]
    for k in range(1, 9):
        for w in range(nb):
            m[w] += P[k, w]
    for w in range(nb):
        m[w] /= 9
        ST[0, w] = 0.0
        ST[1, w] = 0.0
        ST[2, w] = 0.0
        ST[3, w] = 0.0
        ST[4, w] = 0.0
    for k in range(9):
        kk = k + 1.0
        k2 = kk * kk
        kr = 10.0 - kk
        for w in range(nb):
            pk = P[k, w]
            tk = pk - m[w]
            T[k, w] = tk
            ST[0, w] += tk * tk
            ST[1, w] += kk * pk
            ST[2, w] += k2 * pk
            ST[3, w] += kr * pk
            ST[4, w] += pk
    for w in range(nb):
        ST[5, w] = math.sqrt(max(ST[2, w] - ST[1, w] * ST[1, w], 0.0))


@njit(**_NJ)
def _entropy(P, PL, ST, nb):
    for w in range(nb):
        ST[6, w] = 0.0
    for k in range(9):
        for w in range(nb):
            ST[6, w] += P[k, w] * PL[k, w]
    for w in range(nb):
        ST[6, w] *= _NEG_INV_LN2


@njit(**_NJ)
def _pair_cells(FP, FPL, FT, FC, FST, AP, APL, AT, AST, XS, QS, QLS, V, A2, A2L, AC, KA, FA, GA, GF, QA, QAL, QF,
                QFL, nb):
    """Staircase cells of FMI(A, F) for nb windows (all arrays (rows, nb)); FC: F's CDF with a 0 row first.

    XS (19, nb) receives the 18 cells' ``x = q + w seg`` (1 where the correction is 0) and ``1 - w``
    (row 18), QS ``q``, QLS ``ln f + ln a``; V rows: 0 ``1 - w``, 1 ``sa hf + sf ha``, 2 ``sf sa``,
    3 ``ha + hf``, 4 c, 5 neg, 6 w.
    """
    c_, neg_, wt_ = V[4], V[5], V[6]
    for w in range(nb):
        c_[w] = 0.0
    for k in range(9):
        for w in range(nb):
            c_[w] += AT[k, w] * FT[k, w]
    for w in range(nb):
        s = c_[w]
        c = 0.0 if s == 0 else s / math.sqrt(AST[0, w] * FST[0, w])
        c_[w] = c
        neg_[w] = 0.0 if c >= 0 else 1.0  # lower Frechet bound (NaN c as the reference's else branch)
    # the partner pdf: as is (upper bound) or reversed (lower bound), its CDF with a 0 row first
    for w in range(nb):
        AC[0, w] = 0.0
    for k in range(9):
        for w in range(nb):
            ng = neg_[w] != 0
            A2[k, w] = AP[8 - k, w] if ng else AP[k, w]
            A2L[k, w] = APL[8 - k, w] if ng else APL[k, w]
            AC[k + 1, w] = AC[k, w] + A2[k, w]
    # merge: KA[i] = #{j: A_j < F_i}, FA[j] = #{i: A_j < F_i}; GA[i] = the last A_j < F_i (or 0),
    # GF[j] = the last F_i <= A_j (or 0)
    for k in range(9):
        for w in range(nb):
            KA[k, w] = 0
            FA[k, w] = 0
            GA[k, w] = 0.0
            GF[k, w] = 0.0
    for i in range(9):
        for j in range(9):
            for w in range(nb):
                a = AC[j + 1, w]
                f = FC[i + 1, w]
                lt = a < f
                KA[i, w] += np.int64(lt)
                FA[j, w] += np.int64(lt)
                GA[i, w] = max(GA[i, w], a if lt else 0.0)
                GF[j, w] = max(GF[j, w], 0.0 if lt else f)
    # gathers of the staircase cells' pdf values: a2[KA[i]], f[9 - FA[j]] (0 outside the grid)
    for i in range(9):
        for w in range(nb):
            QA[i, w] = 0.0
            QAL[i, w] = 0.0
            QF[i, w] = 0.0
            QFL[i, w] = 0.0
    for i in range(9):
        for j in range(9):
            for w in range(nb):
                hit = KA[i, w] == j
                QA[i, w] = A2[j, w] if hit else QA[i, w]
                QAL[i, w] = A2L[j, w] if hit else QAL[i, w]
                hit2 = FA[i, w] == 9 - j
                QF[i, w] = FP[j, w] if hit2 else QF[i, w]
                QFL[i, w] = FPL[j, w] if hit2 else QFL[i, w]
    # sum_ij min(F_i, A_j); for the lower bound sum_ij max(F_i + A_j - 1, 0), the covariance, w
    b1, b2, sm = V[0], V[1], V[2]
    for w in range(nb):
        b1[w] = 0.0
        b2[w] = 0.0
        sm[w] = 0.0
    for i in range(9):
        for w in range(nb):
            b1[w] += FC[i + 1, w] * (9 - KA[i, w])
    for j in range(9):
        for w in range(nb):
            b2[w] += AC[j + 1, w] * FA[j, w]
    for i in range(9):
        for w in range(nb):
            sm[w] += min(FC[i + 1, w], AC[9, w])
    for w in range(nb):
        bsum = b1[w] + b2[w]
        fsum = FST[3, w]
        if neg_[w] != 0:
            bsum = (9 * fsum + sm[w]) - bsum
        sdp = FST[5, w] * AST[5, w]
        cov = (bsum - fsum * AST[3, w]) / sdp
        c = c_[w]
        wt = 0.0 if (sdp == 0 or c == 0) else c / cov
        wt_[w] = wt
        u = 1.0 - wt
        sa = AST[4, w]
        sf = FST[4, w]
        ha = AST[6, w]
        hf = FST[6, w]
        V[0, w] = u
        V[1, w] = sa * hf + sf * ha
        V[2, w] = sf * sa
        V[3, w] = ha + hf
        XS[18, w] = u
    # staircase: the segment ending at F_i lies in cell (i, KA[i]), the one ending at A_j in
    # cell (9 - FA[j], j); row/column 9 is outside the grid (a rounding sliver, length 0).
    # Correction g(q + w seg) - g(q), g(x) = x ln|x|, ln|q| = ln|1 - w| + ln f + ln a.
    for i in range(9):
        for w in range(nb):
            wt = wt_[w]
            seg = max(FC[i + 1, w] - max(GA[i, w], FC[i, w]), 0.0)
            wseg = 0.0 if KA[i, w] == 9 else seg * wt
            q = QA[i, w] * (FP[i, w] * V[0, w])
            on = wseg != 0
            XS[i, w] = wseg + q if on else 1.0
            QS[i, w] = q if on else 0.0
            QLS[i, w] = FPL[i, w] + QAL[i, w] if on else 0.0
    for j in range(9):
        for w in range(nb):
            wt = wt_[w]
            seg = max(AC[j + 1, w] - max(GF[j, w], AC[j, w]), 0.0)
            wseg = 0.0 if FA[j, w] == 0 else seg * wt
            q = (QF[j, w] * V[0, w]) * A2[j, w]
            on = wseg != 0
            XS[9 + j, w] = wseg + q if on else 1.0
            QS[9 + j, w] = q if on else 0.0
            QLS[9 + j, w] = QFL[j, w] + A2L[j, w] if on else 0.0


@njit(**_NJ)
def _pair_value(XS, LX, QS, QLS, V, OUT, nb):
    """FMI(A, F) per window from the staircase cells and their logarithms into OUT (see :func:`_pair_cells`)."""
    for w in range(nb):
        OUT[w] = 0.0
    for k in range(18):
        for w in range(nb):
            OUT[w] += QS[k, w] * (LX[18, w] + QLS[k, w]) - XS[k, w] * LX[k, w]
    for w in range(nb):
        corr = OUT[w] * _INV_LN2
        u = V[0, w]
        l1w = 0.0 if u == 0 else LX[18, w] * _INV_LN2
        joint = u * (V[1, w] - l1w * V[2, w]) + corr
        ent = V[3, w]
        mi = ent - joint
        OUT[w] = 0.0 if mi == 0 else 2 * mi / ent


@njit(**_NJ)
def _block(R, nb, out, o0, B):
    """(FMI(A, F) + FMI(B, F)) / 2 of nb windows R (27, nb): rows 0-8 A, 9-17 B, 18-26 F (column-major 3x3)."""
    (XN, P, PL, T, ST, EQ, XS, LX, QS, QLS, V, E, A2, A2L, AC, KA, FA, GA, GF, QA, QAL, QF, QFL, FC, VA) = B
    RA, RB, RF = R[0:9], R[9:18], R[18:27]
    FN, FP, AP, BP = XN[0:9], P[0:9], P[9:18], P[18:27]
    for w in range(nb):
        EQ[0, w] = 1.0
        EQ[1, w] = 1.0
    for k in range(9):
        for w in range(nb):
            EQ[0, w] = EQ[0, w] if RA[k, w] == RF[k, w] else 0.0
    _norm(RF, FN, ST[0], nb)
    # the reference compares B with the fused window normalised by the A test (unless A == F)
    for k in range(9):
        for w in range(nb):
            ref = RF[k, w] if EQ[0, w] != 0 else FN[k, w]
            EQ[1, w] = EQ[1, w] if RB[k, w] == ref else 0.0
    _norm(RA, XN[9:18], ST[1], nb)
    _norm(RB, XN[18:27], ST[2], nb)
    _pdf(FN, FP, T[0:9], ST[0], nb)
    _pdf(XN[9:18], AP, T[9:18], ST[1], nb)
    _pdf(XN[18:27], BP, T[18:27], ST[2], nb)
    _vlog(P.reshape(P.size), PL.reshape(PL.size), E, P.size)
    for si in range(3):
        _entropy(P[9 * si:9 * si + 9], PL[9 * si:9 * si + 9], ST[si], nb)
    for w in range(nb):
        FC[0, w] = 0.0
    for k in range(9):
        for w in range(nb):
            FC[k + 1, w] = FC[k, w] + FP[k, w]
    for si in range(1, 3):
        pi = si - 1
        _pair_cells(FP, PL[0:9], T[0:9], FC, ST[0], P[9 * si:9 * si + 9], PL[9 * si:9 * si + 9],
                    T[9 * si:9 * si + 9], ST[si], XS[pi], QS[pi], QLS[pi], V[pi], A2, A2L, AC, KA, FA, GA, GF,
                    QA, QAL, QF, QFL, nb)
    _vlog(XS.reshape(XS.size), LX.reshape(LX.size), E, XS.size)
    for pi in range(2):
        _pair_value(XS[pi], LX[pi], QS[pi], QLS[pi], V[pi], VA[pi], nb)
    for w in range(nb):
        va = 1.0 if EQ[0, w] != 0 else VA[0, w]
        vb = 1.0 if EQ[1, w] != 0 else VA[1, w]
        out[o0 + w] = (va + vb) / 2


@njit(**_NJ)
def _buffers():
    n = _NB
    return (np.ones((27, n)), np.ones((27, n)), np.zeros((27, n)), np.zeros((27, n)), np.zeros((3, 8, n)),
            np.zeros((2, n)), np.ones((2, 19, n)), np.zeros((2, 19, n)), np.zeros((2, 19, n)),
            np.zeros((2, 19, n)), np.zeros((2, 7, n)), np.zeros(2 * 19 * n), np.zeros((9, n)), np.zeros((9, n)),
            np.zeros((10, n)), np.zeros((9, n), dtype=np.int64), np.zeros((9, n), dtype=np.int64),
            np.zeros((9, n)), np.zeros((9, n)), np.zeros((9, n)), np.zeros((9, n)), np.zeros((9, n)),
            np.zeros((9, n)), np.zeros((10, n)), np.zeros((2, n)))


@njit(**_NJ)
def fmi_map_image(fa, fb, ff):
    """(h-2, w-2) FMI map over all 3x3 windows of three (h, w) float64 feature maps."""
    h, wd = ff.shape
    nr, nc = max(h - 2, 0), max(wd - 2, 0)
    out = np.empty(nr * nc)
    B = _buffers()
    R = np.zeros((27, _NB))
    for r in range(nr):
        for c0 in range(0, nc, _NB):
            nb = min(_NB, nc - c0)
            for dc in range(3):
                for dr in range(3):
                    k = 3 * dc + dr
                    for w in range(nb):
                        R[k, w] = fa[r + dr, c0 + w + dc]
                        R[9 + k, w] = fb[r + dr, c0 + w + dc]
                        R[18 + k, w] = ff[r + dr, c0 + w + dc]
            _block(R, nb, out, r * nc + c0, B)
    return out.reshape((nr, nc))


@njit(**_NJ)
def fmi_map_cols(A, B_, F):
    """FMI of every column of three (9, n) float64 window sets (column-major 3x3 windows)."""
    n = F.shape[1]
    out = np.empty(n)
    B = _buffers()
    R = np.zeros((27, _NB))
    for o0 in range(0, n, _NB):
        nb = min(_NB, n - o0)
        for k in range(9):
            for w in range(nb):
                R[k, w] = A[k, o0 + w]
                R[9 + k, w] = B_[k, o0 + w]
                R[18 + k, w] = F[k, o0 + w]
        _block(R, nb, out, o0, B)
    return out
