"""Architectures of the pixfuse fusion networks, as plain data (no torch).

Every network is a chain of 3x3 convolutions (reflect padding, given
dilations) with leaky-ReLU activations between them.  The last layer has two
output channels ``(o_w, o_r)`` and the fused image is

    F = s * I_1 + (1 - s) * I_2 + rho * tanh(o_r),   s = sigmoid(o_w)

with ``I_1`` the first source (infrared / anatomical) and ``I_2`` the second:
a per-pixel convex blend plus a bounded residual for contrast/detail the
blend cannot express.  The same description drives the torch model
(:mod:`.models_torch`) and the numpy inference (:mod:`.infer`).
"""
from __future__ import annotations

ARCHS: dict[str, dict] = {
    # 12,194 parameters, receptive field 25x25.
    "pixnet": {"channels": [2, 16, 16, 16, 16, 16, 16, 2], "dilations": [1, 1, 2, 4, 2, 1, 1]},
    # 882 parameters, receptive field 9x9.
    "pixnet-tiny": {"channels": [2, 8, 8, 2], "dilations": [1, 2, 1]},
}

#: Leaky-ReLU negative slope.
SLOPE = 0.2
#: Bound of the residual term (``rho`` above).
RESIDUAL_SCALE = 0.25


def n_params(arch: str) -> int:
    """Number of trainable parameters of an architecture."""
    ch = ARCHS[arch]["channels"]
    return sum(ch[i] * ch[i + 1] * 9 + ch[i + 1] for i in range(len(ch) - 1))


def receptive_field(arch: str) -> int:
    return 1 + 2 * sum(ARCHS[arch]["dilations"])
