"""Exception types of pixfuse.

Every error a user can cause derives from :class:`PixfuseError`; the CLI turns
it into a one-line ``error: ...`` message and exit code 2.
"""
from __future__ import annotations


class PixfuseError(Exception):
    """Base class of all user-facing pixfuse errors."""


class InputError(PixfuseError, ValueError):
    """Invalid input data: wrong shape, dtype, channel count, NaN/inf, ..."""


class ShapeMismatchError(InputError):
    """Sources whose sizes do not match."""


class ImageReadError(PixfuseError, OSError):
    """A file that cannot be decoded as an image (empty, truncated, not an image)."""


class ImageTooLargeError(ImageReadError):
    """An image whose pixel count exceeds the configured limit (decompression bomb guard)."""


class OutputError(PixfuseError, OSError):
    """An output that cannot or must not be written (e.g. it would overwrite an input)."""


class UnknownMethodError(PixfuseError, KeyError):
    """A method name that is not registered."""

    def __str__(self) -> str:  # KeyError quotes its message; we want plain text
        return str(self.args[0]) if self.args else ""


class UnknownMetricError(PixfuseError, KeyError):
    """A metric name that is not registered."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class ParameterError(PixfuseError, ValueError):
    """An unknown parameter or a value outside its documented range."""


class ImageSizeError(InputError):
    """An image whose size a metric (or method) cannot handle: too small for its windows or scales.

    ``evaluate(metrics="all")`` skips the metrics that raise it (with a
    :class:`MetricSkippedWarning`); asking for such a metric by name raises it.
    """


class MetricSkippedWarning(UserWarning):
    """``evaluate(metrics="all")`` left out metrics that do not apply to the input size.

    ``skipped`` maps each metric name to the reason (its :class:`ImageSizeError` message).
    """

    def __init__(self, message: str, skipped: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.skipped = dict(skipped or {})
