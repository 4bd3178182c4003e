"""Polyphase layout: how a stride-s transposed convolution becomes plain NIR Conv2d nodes.

NIR has no transposed convolution and no node that enlarges a feature map (no upsampling,
no reshape back from Flatten). A map X of shape (C, P*H, P*W) can instead be held as its P*P
phases, each (C, H, W), stacked along channels (phase-major)::

    Xp[(a*P + b)*C + c, i, j] = X[c, P*i + a, P*j + b]          a, b in 0..P-1

Every layer the network applies to X has an exact counterpart on Xp that is an ordinary
stride-1 Conv2d (its kernel is the original one scattered over phases and offsets):

- a stride-s transposed convolution from a plain map yields its output in P = s phases;
- a stride-sigma convolution of a P-phase map yields a Q = P / sigma phase map;
- neurons act element-wise, so they run on the phases unchanged;
- the head's mean over space is the mean over all phases' positions.

So the decoder and everything after it up to the next stride-2 stage stay in phase layout,
the same number of weights per phase as the original layers (x Q*P for kernels that mix
phases), and no approximation. Nodes in phase layout carry ``metadata["sbn.phases"] = P``.
"""

from __future__ import annotations

import numpy as np


def to_phases(x: np.ndarray, p: int) -> np.ndarray:
    """(..., C, P*H, P*W) -> (..., P*P*C, H, W)."""
    if p == 1:
        return x
    *lead, c, h, w = x.shape
    y = x.reshape(*lead, c, h // p, p, w // p, p)  # (..., c, i, a, j, b)
    n = len(lead)
    y = y.transpose(*range(n), n + 2, n + 4, n, n + 1, n + 3)  # (..., a, b, c, i, j)
    return y.reshape(*lead, p * p * c, h // p, w // p)


def from_phases(x: np.ndarray, p: int) -> np.ndarray:
    """(..., P*P*C, H, W) -> (..., C, P*H, P*W); the inverse of ``to_phases``."""
    if p == 1:
        return x
    *lead, pc, h, w = x.shape
    c = pc // (p * p)
    y = x.reshape(*lead, p, p, c, h, w)  # (..., a, b, c, i, j)
    n = len(lead)
    y = y.transpose(*range(n), n + 2, n + 3, n, n + 4, n + 1)  # (..., c, i, a, j, b)
    return y.reshape(*lead, c, h * p, w * p)


def _selection(taps: int, q: int, p: int, offset) -> tuple[np.ndarray, int]:
    """S[e, a, j, m] = 1 where output phase e reads input phase a at offset j - D through
    kernel tap m, given m = offset(e, a, d) for offset d; and D."""
    entries = []
    for e in range(q):
        for a in range(p):
            for d in range(-taps - 1, taps + 2):
                m = offset(e, a, d)
                if 0 <= m < taps:
                    entries.append((e, a, d, m))
    reach = max((abs(d) for _, _, d, _ in entries), default=0)
    s = np.zeros((q, p, 2 * reach + 1, taps))
    for e, a, d, m in entries:
        s[e, a, d + reach, m] = 1.0
    return s, reach


def conv_on_phases(weight: np.ndarray, stride: int, padding: int, p: int) -> tuple[np.ndarray, int, int]:
    """A conv (O, C, k, k), stride sigma, symmetric padding, applied to a P-phase map, as a
    stride-1 conv on the phases: (kernel (Q*Q*O, P*P*C, K, K), padding, Q = P / sigma).

    Output phase e at phase-row u is logical row sigma*(Q*u + e) - pad + m
    = P*(u + d) + a: input phase a at offset d.
    """
    q = p // stride
    k = weight.shape[-1]

    def tap(e, a, d):
        return p * d + a - stride * e + padding

    s, reach = _selection(k, q, p, tap)
    kernel = np.einsum("eajm,fbin,ocmn->efoabcji", s, s, weight, optimize=True)
    o, c = weight.shape[:2]
    return kernel.reshape(q * q * o, p * p * c, 2 * reach + 1, 2 * reach + 1), reach, q


def phase_kernel_params(shape: tuple[int, ...], stride: int, padding: int, p: int) -> int:
    """How many weights ``conv_on_phases`` would produce, without building them."""
    q, k = p // stride, shape[-1]
    _, reach = _selection(k, q, p, lambda e, a, d: p * d + a - stride * e + padding)
    return q * q * shape[0] * p * p * shape[1] * (2 * reach + 1) ** 2


def conv_transpose_to_phases(weight: np.ndarray, stride: int, padding: int) -> tuple[np.ndarray, int]:
    """A transposed conv (C, O, k, k), stride s, symmetric padding, on a plain map, as a
    stride-1 conv whose output is the s-phase layout: (kernel (s*s*O, C, K, K), padding).

    Output row s*u + e receives input row j through tap m = s*(u - j) + e + pad; with
    j = u + d that is m = e + pad - s*d. For s = 1 this is the familiar flipped kernel with
    padding k - 1 - pad.
    """
    k = weight.shape[-1]

    def tap(e, a, d):
        return e + padding - stride * d

    s, reach = _selection(k, stride, 1, tap)
    s = s[:, 0]  # one input phase
    kernel = np.einsum("ejm,fin,comn->efocji", s, s, weight, optimize=True)
    c, o = weight.shape[:2]
    return kernel.reshape(stride * stride * o, c, 2 * reach + 1, 2 * reach + 1), reach
