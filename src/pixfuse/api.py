"""The public entry points: :func:`fuse` and :func:`evaluate`.

``fuse`` validates everything before any work (count, shapes, dtypes, values,
parameters) and applies the colour policy, so no method re-implements it.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from .errors import ImageSizeError, InputError, MetricSkippedWarning, ParameterError, ShapeMismatchError
from .ops.color import fuse_chroma, rgb_to_ycbcr, ycbcr_to_rgb
from .registry import MethodSpec, get_method, get_metric, metric_specs

#: Smallest accepted side length of a source image (windowed methods and
#: pyramids need some extent; a 1x1 "image" is almost always a mistake).
MIN_SIDE = 8

#: Method used by ``fuse(task=...)`` / ``pixfuse fuse --task`` when none is named.
DEFAULT_METHODS: dict[str, str] = {
    "ivif": "lp",
    "medical": "lp",
    "multi_focus": "gfdf",
    "multi_exposure": "fmspd-mef",
    "general": "lp",
    "pansharpening": "mtf-glp-hpm",
}


def _scaled(a: np.ndarray, full: int) -> np.ndarray:
    """``a / full`` in float32 (one new array, divided in place)."""
    f = a.astype(np.float32)
    return np.divide(f, np.float32(full), out=f)


def as_float_image(img: Any, index: int = 0, *, check_range: bool = True, copy: bool = True) -> np.ndarray:
    """Validate one source and convert it to float32 in [0, 1].

    uint8 is divided by 255, uint16 by 65535, bool becomes {0, 1}; float data
    must be finite and (with ``check_range``) lie in [0, 1].  ``copy=False``
    returns float32 input itself (validated, not copied).
    """
    a = np.asarray(img)
    name = f"source {index}"
    if a.dtype == object or a.dtype.kind not in "biuf":
        raise InputError(f"{name}: unsupported dtype {a.dtype}")
    if a.ndim == 3 and a.shape[2] == 1:
        a = a[:, :, 0]
    if a.ndim not in (2, 3):
        raise InputError(f"{name}: expected a 2-D (HxW) or 3-D (HxWxC) array, got {a.ndim}-D shape {a.shape}")
    if a.ndim == 3 and a.shape[2] != 3:
        raise InputError(f"{name}: expected 1 or 3 channels, got {a.shape[2]} (shape {a.shape})")
    if min(a.shape[0], a.shape[1]) < MIN_SIDE:
        raise InputError(f"{name}: image of {a.shape[0]}x{a.shape[1]} pixels is too small (minimum {MIN_SIDE}x{MIN_SIDE})")
    if a.dtype == np.uint8:
        return _scaled(a, 255)
    if a.dtype == np.uint16:
        return _scaled(a, 65535)
    if a.dtype == np.bool_:
        return a.astype(np.float32)
    if a.dtype.kind in "iu":
        raise InputError(f"{name}: integer dtype {a.dtype} is ambiguous; pass uint8, uint16 or float in [0, 1]")
    f = a.astype(np.float32, copy=copy)
    lo, hi = float(f.min()), float(f.max())     # NaN propagates into min/max: one check for both
    if not (np.isfinite(lo) and np.isfinite(hi)):
        raise InputError(f"{name}: contains NaN or infinite values")
    if check_range:
        if lo < -1e-6 or hi > 1 + 1e-6:
            raise InputError(
                f"{name}: float values must lie in [0, 1], found [{lo:.4g}, {hi:.4g}] (scale your data first)"
            )
    return f


def _check_count(spec: MethodSpec, n: int) -> None:
    lo, hi = spec.n_inputs
    if n < lo or (hi is not None and n > hi):
        want = f"exactly {lo}" if hi == lo else (f"at least {lo}" if hi is None else f"{lo} to {hi}")
        raise InputError(f"method {spec.name!r} needs {want} source images, got {n}")


def _check_shapes(imgs: Sequence[np.ndarray]) -> None:
    h0, w0 = imgs[0].shape[:2]
    for i, im in enumerate(imgs[1:], 1):
        if im.shape[:2] != (h0, w0):
            raise ShapeMismatchError(
                f"source sizes differ: source 0 is {h0}x{w0} (HxW), source {i} is {im.shape[0]}x{im.shape[1]}"
            )


#: Tasks whose sources are frames of one capture (a bracket or a focus stack).
STACK_TASKS = frozenset({"multi_exposure", "multi_focus"})


def _check_stack_depths(spec: MethodSpec, imgs: Sequence[Any]) -> None:
    """Frames of an exposure / focus stack must share one sample type (8-bit, 16-bit or float)."""
    if not set(spec.tasks) <= STACK_TASKS:
        return
    kinds = [np.asarray(im).dtype for im in imgs]
    for i, k in enumerate(kinds[1:], 1):
        if k != kinds[0]:
            raise InputError(
                f"frames have different bit depths: source 0 is {kinds[0]}, source {i} is {k}; "
                "the frames of a stack must share one bit depth (convert them first)"
            )


def resolve_method(method: str | None, task: str | None) -> MethodSpec:
    if method is None:
        task_key = task or "general"
        if task_key not in DEFAULT_METHODS:
            raise ParameterError(f"no default method for task {task!r}; name one with method=")
        method = DEFAULT_METHODS[task_key]
    spec = get_method(method)
    if task is not None and task not in spec.tasks and "general" not in spec.tasks:
        raise ParameterError(f"method {spec.name!r} does not serve task {task!r} (it serves {', '.join(spec.tasks)})")
    return spec


def _unpack(result: Any) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    if isinstance(result, tuple):
        img, maps = result
        return np.asarray(img), dict(maps)
    return np.asarray(result), {}


def fuse(
    images: Sequence[Any],
    method: str | None = None,
    *,
    task: str | None = None,
    return_maps: bool = False,
    **params: Any,
) -> Any:
    """Fuse source images with a registered method.

    Parameters
    ----------
    images
        Sequence of HxW or HxWx3 arrays (uint8, uint16, bool, or float in [0, 1]).
        Order matters where the task says so (IVIF: infrared then visible;
        medical: anatomical then functional; pansharpening: PAN then MS).
    method
        Registered name or alias (see :func:`pixfuse.list_methods`).
    task
        Optional task; picks its default method when ``method`` is None and
        checks that the method serves it.
    return_maps
        Also return the method's auxiliary maps (e.g. a focus ``depth`` map).
    **params
        Method parameters; unknown names and out-of-range values are errors.

    Returns
    -------
    fused : ndarray float32 in [0, 1] (HxW, or HxWx3 when any source is colour),
    or ``(fused, maps)`` with ``return_maps=True``.

    Notes
    -----
    Colour policy (methods declaring ``color="luminance"``): grey sources are
    fused as they are; when some sources are colour, the Y channels (BT.601
    YCbCr) are fused and the chroma is taken from the colour source (several
    colour sources: their Cb/Cr combined by :func:`pixfuse.ops.color.fuse_chroma`).
    Methods declaring ``color="channels"`` receive the images as given (grey
    sources replicated to RGB when others are colour) and apply shared weights
    to every channel.  ``color="native"`` methods (pansharpening) receive raw
    arrays and validate them themselves.
    """
    spec = resolve_method(method, task)
    if isinstance(images, np.ndarray) and images.ndim >= 4 and spec.color != "native":
        images = list(images)
    if not isinstance(images, (list, tuple)) and not (isinstance(images, np.ndarray) and images.ndim >= 3):
        raise InputError("images must be a sequence of arrays")
    imgs_in = list(images)
    _check_count(spec, len(imgs_in))
    kw = spec.validate_params(params)
    _check_stack_depths(spec, imgs_in)
    if spec.color == "native":
        img, maps = _unpack(spec.func(imgs_in, **kw))
        return (img, maps) if return_maps else img
    imgs = [as_float_image(im, i, copy=not spec.copy_free) for i, im in enumerate(imgs_in)]
    _check_shapes(imgs)
    colour = [im.ndim == 3 for im in imgs]
    maps: dict[str, np.ndarray]
    if spec.color == "channels":
        if any(colour) and not all(colour):
            imgs = [im if im.ndim == 3 else np.repeat(im[:, :, None], 3, axis=2) for im in imgs]
        out, maps = _unpack(spec.func(imgs, **kw))
    elif not any(colour):
        out, maps = _unpack(spec.func(imgs, **kw))
    else:
        ycc = {i: rgb_to_ycbcr(im) for i, im in enumerate(imgs) if im.ndim == 3}
        lum = [ycc[i][:, :, 0] if i in ycc else im for i, im in enumerate(imgs)]
        y, maps = _unpack(spec.func(lum, **kw))
        cb = fuse_chroma([c[:, :, 1] for c in ycc.values()])
        cr = fuse_chroma([c[:, :, 2] for c in ycc.values()])
        out = ycbcr_to_rgb(np.dstack([y.astype(np.float32), cb, cr]))
    if (spec.copy_free and isinstance(out, np.ndarray) and out.dtype == np.float32 and out.flags.writeable
            and not any(np.may_share_memory(out, im) for im in imgs)):
        out = np.clip(out, 0.0, 1.0, out=out)       # a fresh array of the method's: clip in place
    else:
        out = np.clip(np.asarray(out, dtype=np.float32), 0.0, 1.0)
    if out.shape[:2] != imgs[0].shape[:2]:
        raise RuntimeError(f"method {spec.name} returned shape {out.shape}, expected {imgs[0].shape[:2]}")
    return (out, maps) if return_maps else out


#: Tasks whose metrics score spectral products (multi-band, sources of different resolutions).
SPECTRAL_TASKS = frozenset({"pansharpening", "hsi_msi"})


def _bands_and_size(img: Any) -> tuple[int, tuple[int, ...]] | None:
    shape = np.shape(img)
    if len(shape) < 2:
        return None
    return (shape[2] if len(shape) >= 3 else 1), tuple(shape[:2])


def infer_metric_family(fused: Any, sources: Sequence[Any] | None = None, reference: Any = None) -> str:
    """The metric family that ``evaluate(metrics="all")`` uses when no task is given.

    ``"spectral"`` (the pansharpening / HSI-MSI indices: Q2n, SAM, ERGAS, QNR, ...)
    when the fused image, a source or the reference has more than 3 bands, or when
    the sources differ in size (PAN and MS); ``"fusion"`` otherwise (the IVIF /
    medical / multi-focus / multi-exposure metrics).
    """
    imgs = [fused, *(sources or []), *([reference] if reference is not None else [])]
    info = [x for x in (_bands_and_size(im) for im in imgs) if x is not None]
    if any(b > 3 for b, _ in info):
        return "spectral"
    src_sizes = {x[1] for x in (_bands_and_size(s) for s in (sources or [])) if x is not None}
    if len(src_sizes) > 1:
        return "spectral"
    return "fusion"


def evaluate(
    fused: Any,
    sources: Sequence[Any] | None = None,
    metrics: str | Sequence[str] = "all",
    reference: Any = None,
    *,
    task: str | None = None,
    options: dict[str, Any] | None = None,
) -> dict[str, float]:
    """Compute quality metrics of a fused image.

    Parameters
    ----------
    fused
        The fused image (array as accepted by :func:`fuse`, or the metric's own
        documented input for pansharpening arrays).
    sources
        The source images the metric compares against.
    metrics
        ``"all"`` or a list of names/aliases (evaluated as given).  ``"all"``
        means every metric of the task family that applies to the inputs:
        with ``task``, the metrics registered for that task; without it, the
        family is inferred from the inputs (see :func:`infer_metric_family`) --
        *spectral* (pansharpening / HSI-MSI indices) when an image has more
        than 3 bands or the sources differ in size, otherwise *fusion* (every
        metric except those registered only for pansharpening / hsi_msi).
        Metrics that cannot be computed at this image size (e.g. ``ms_ssim``
        below 176x176 pixels: 5 scales) are left out of the result with a
        :class:`~pixfuse.errors.MetricSkippedWarning` naming each one and its
        minimum size; asked for by name, such a metric raises
        :class:`~pixfuse.errors.ImageSizeError`.
    reference
        Ground-truth image for full-reference metrics.
    task
        Limits ``"all"`` to the metrics registered for this task.
    options
        Keyword options for the metrics that accept them (e.g. ``{"ratio": 4,
        "sensor": "WV2", "cut": 21}`` for the pansharpening indices); each metric
        receives only the options its signature names, others are ignored for it.
        An option that no selected metric accepts is an error.

    Returns
    -------
    dict mapping each metric's registered name to its value (float; ``nan``
    only where the metric's docstring documents it).

    Notes
    -----
    Speed: intermediates shared by several metrics (grey conversions, SSIM
    statistics, gradients, joint histograms, phase congruency...) are computed once
    per call; metrics that share them are computed one after the other (the result
    keeps the requested order) and the intermediates are freed as soon as no later
    metric needs them.  The first call in a process raises glibc's dynamic
    allocation thresholds to the maximum glibc itself would reach (see
    :func:`pixfuse.metrics._common.prime_allocator`: a process-wide, permanent and
    bounded change -- up to 64 MiB of freed memory stay mapped), so that freed
    intermediates are reused instead of being returned to the OS and faulted in again.
    """
    auto = metrics == "all"
    if isinstance(metrics, str):
        if metrics != "all":
            names = [metrics]
        else:
            names = []
            specs_all = metric_specs(task)
            if task is None:
                if infer_metric_family(fused, sources, reference) == "spectral":
                    specs_all = [s for s in specs_all if set(s.tasks) & SPECTRAL_TASKS]
                else:
                    specs_all = [s for s in specs_all if not set(s.tasks) <= SPECTRAL_TASKS]
            for s in specs_all:
                if s.needs in ("sources",) and not sources:
                    continue
                if s.needs in ("reference",) and reference is None:
                    continue
                if s.needs == "sources+reference" and (reference is None or not sources):
                    continue
                names.append(s.name)
    else:
        names = list(metrics)
    specs = [get_metric(n) for n in names]
    for s in specs:
        if s.needs in ("sources", "sources+reference") and not sources:
            raise InputError(f"metric {s.name!r} needs the source images")
        if s.needs in ("reference", "sources+reference") and reference is None:
            raise InputError(f"metric {s.name!r} needs a reference image")
    srcs = list(sources) if sources is not None else []
    opts = dict(options or {})
    accepted = {s.name: _metric_kwargs(s.func) for s in specs}
    unused = sorted(set(opts) - set().union(*accepted.values())) if specs else sorted(opts)
    if unused:
        raise ParameterError(f"option(s) {', '.join(unused)} are not accepted by any of the selected metrics")
    out: dict[str, float] = {}
    from .metrics._common import cache_scope, evaluation_order, prime_allocator, release_unused

    prime_allocator()  # once per process, see its docstring (glibc's dynamic thresholds)

    # one cache per call: gradients, SSIM statistics, phase congruency, ... are
    # computed once when several metrics need them; metrics sharing intermediates
    # are computed one after the other and the intermediates dropped once no metric
    # still to come can use them (lower peak memory, fewer page faults).  The
    # result keeps the requested order.
    skipped: dict[str, str] = {}
    vals: dict[str, float] = {}
    order = [specs[i] for i in evaluation_order([s.name for s in specs])]
    with cache_scope():
        for i, s in enumerate(order):
            kw = {k: v for k, v in opts.items() if k in accepted[s.name]}
            try:
                v = s.func(fused, srcs, reference=reference, **kw)
            except ImageSizeError as exc:
                if not auto:  # asked for by name: the size error is the answer
                    raise
                skipped[s.name] = str(exc)
                continue
            finally:
                release_unused(t.name for t in order[i + 1:])
            vals[s.name] = float(v) if not isinstance(v, float) else v
    for s in specs:
        if s.name in vals:
            out[s.name] = vals[s.name]
    skipped = {s.name: skipped[s.name] for s in specs if s.name in skipped}
    if skipped:
        why = "; ".join(v if v.startswith(k + " ") else f"{k}: {v}" for k, v in skipped.items())
        if not out:
            raise ImageSizeError(f"no metric applies to images of this size: {why}")
        import warnings

        warnings.warn(MetricSkippedWarning(
            f"metrics='all': skipped {len(skipped)} metric(s) that do not apply to this image size: {why}",
            skipped), stacklevel=2)
    return out


def evaluate_detailed(
    fused: Any,
    sources: Sequence[Any] | None = None,
    metrics: str | Sequence[str] = "all",
    reference: Any = None,
    *,
    task: str | None = None,
    options: dict[str, Any] | None = None,
) -> dict[str, dict[str, Any]]:
    """Like :func:`evaluate`, but each entry also says how the number was computed.

    Returns ``{name: {"value": float, "convention": str, "display": str,
    "higher_is_better": bool}}`` so a results table can state each metric's
    convention (e.g. ``"VIFB"``, ``"Tang-Evaluation"``).  Metrics that
    ``metrics="all"`` leaves out for the image size are absent, with the same
    :class:`~pixfuse.errors.MetricSkippedWarning` as :func:`evaluate`.
    """
    vals = evaluate(fused, sources, metrics, reference, task=task, options=options)
    out: dict[str, dict[str, Any]] = {}
    for name, v in vals.items():
        spec = get_metric(name)
        out[name] = {
            "value": v,
            "convention": spec.convention,
            "display": spec.display,
            "higher_is_better": spec.higher_is_better,
        }
    return out


def _metric_kwargs(func: Any) -> set[str]:
    """Names of the keyword-only options a metric function accepts."""
    import inspect

    return {p.name for p in inspect.signature(func).parameters.values()
            if p.kind is inspect.Parameter.KEYWORD_ONLY}


def _isnan(x: float) -> bool:
    return isinstance(x, float) and math.isnan(x)
