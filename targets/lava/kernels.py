"""Float64 kernels for the synaptic layers of the toolchain's Lava processes: convolution,
pooling, dense.

Everything is laid out ``(B, C, H, W)`` (NIR's and PyTorch's layout, a batch axis first) and
follows PyTorch's definitions: cross-correlation, zero padding, floor output size.

Convolution is what Lava's own ``Conv`` process would compute for the same layer, to the
bit: the kernel flipped into Lava's convolution, H as Lava's X axis, W as its Y, summed
in Lava's order by ``lava_order.LavaOrderConv``, which visits only the non-zero inputs.
Lava's stock CPU model loops over (output, input) channel pairs in Python instead.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import as_strided

from sbn.graph.numerics import pair
from sbn.targets.lava.lava_order import LavaOrderConv, is_binary

Pads = tuple[tuple[int, int], tuple[int, int]]


def resolve_padding(padding, kernel: tuple[int, int], dilation: tuple[int, int]) -> Pads:
    """(before, after) padding per spatial axis from an int, a pair, 'same' or 'valid'."""
    if isinstance(padding, np.ndarray) and padding.dtype.kind in "SUO":  # string from HDF5
        padding = padding.ravel()[0]
    if isinstance(padding, bytes):
        padding = padding.decode()
    if isinstance(padding, str):
        if padding == "valid":
            return ((0, 0), (0, 0))
        if padding == "same":  # PyTorch puts the odd extra pixel after
            total = [d * (k - 1) for k, d in zip(kernel, dilation)]
            return tuple((t // 2, t - t // 2) for t in total)  # type: ignore[return-value]
        raise ValueError(f"padding must be an int, a pair, 'same' or 'valid', not {padding!r}")
    p = pair(padding)
    return ((p[0], p[0]), (p[1], p[1]))


def output_size(size: int, kernel: int, stride: int, pads: tuple[int, int], dilation: int) -> int:
    return (size + pads[0] + pads[1] - dilation * (kernel - 1) - 1) // stride + 1


def windows(x: np.ndarray, kernel, stride, pads: Pads, dilation) -> np.ndarray:
    """A strided view (B, C, H', W', kh, kw) of every receptive field of ``x`` (B, C, H, W)."""
    if any(p for pp in pads for p in pp):
        x = np.pad(x, ((0, 0), (0, 0), pads[0], pads[1]))
    b, c, h, w = x.shape
    ho = (h - dilation[0] * (kernel[0] - 1) - 1) // stride[0] + 1
    wo = (w - dilation[1] * (kernel[1] - 1) - 1) // stride[1] + 1
    if ho < 1 or wo < 1:
        raise ValueError(f"input {h}x{w} (padded) is smaller than the kernel {kernel}")
    s = x.strides
    return as_strided(
        x,
        shape=(b, c, ho, wo, kernel[0], kernel[1]),
        strides=(s[0], s[1], s[2] * stride[0], s[3] * stride[1], s[2] * dilation[0], s[3] * dilation[1]),
        writeable=False,
    )


class Conv2d:
    """NIR's ``Conv2d``: (B, C, H, W) -> (B, O, H', W'), weight (O, C/groups, kh, kw)
    cross-correlated, optional bias; built once per layer (the weight is static)."""

    def __init__(
        self,
        weight: np.ndarray,
        bias: np.ndarray | None = None,
        stride=1,
        padding=0,
        dilation=1,
        groups: int = 1,
    ):
        weight = np.asarray(weight, dtype=np.float64)
        dilation = pair(dilation)
        pads = resolve_padding(padding, weight.shape[2:], dilation)
        # cross-correlation with w is convolution with w flipped; (O, C, kh, kw) -> (O, kh, kw, C)
        lava_weight = weight[:, :, ::-1, ::-1].transpose(0, 2, 3, 1)
        self._conv = LavaOrderConv(lava_weight, pair(stride), pads, dilation, int(groups))
        self._bias = None if bias is None else np.asarray(bias, dtype=np.float64).reshape(1, -1, 1, 1)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        binary = is_binary(x)
        if len(x):
            y = np.stack([self._conv(sample.transpose(1, 2, 0), binary) for sample in x])
        else:
            y = np.zeros((0, *self._conv.output_shape(x.shape[2:])))
        y = y.transpose(0, 3, 1, 2)  # (B, H', W', O) -> (B, O, H', W')
        return y if self._bias is None else y + self._bias


def conv2d(
    x: np.ndarray,
    weight: np.ndarray,
    bias: np.ndarray | None = None,
    stride=1,
    padding=0,
    dilation=1,
    groups: int = 1,
) -> np.ndarray:
    """``Conv2d(weight, bias, ...)(x)``, for one call."""
    return Conv2d(weight, bias, stride, padding, dilation, groups)(x)


def sum_pool2d(x: np.ndarray, kernel_size, stride, padding) -> np.ndarray:
    """(B, C, H, W) -> (B, C, H', W'): the sum over each window (zeros outside the map)."""
    kernel, stride = pair(kernel_size), pair(stride)
    pads = resolve_padding(padding, kernel, (1, 1))
    return windows(x, kernel, stride, pads, (1, 1)).sum(axis=(4, 5))


def avg_pool2d(x: np.ndarray, kernel_size, stride, padding) -> np.ndarray:
    """Window sum divided by the window area (zero padding counted, PyTorch's default)."""
    kernel = pair(kernel_size)
    return sum_pool2d(x, kernel_size, stride, padding) / float(kernel[0] * kernel[1])


def dense(x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None = None) -> np.ndarray:
    """y = x W^T (+ b) over the last axis: one GEMM for the whole batch."""
    y = np.matmul(x, weight.T) if weight.ndim == 2 else np.matmul(weight, x[..., None])[..., 0]
    return y if bias is None else y + bias
