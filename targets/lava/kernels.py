"""Float64 kernels for the synaptic layers: convolution as im2col + one GEMM, pooling, dense.

Everything is laid out ``(B, C, H, W)`` (NIR's and PyTorch's layout, a batch axis first) and
follows PyTorch's definitions: cross-correlation, symmetric zero padding, floor output size.
The Lava-layout wrappers for Lava's own ``Conv`` process live in ``fast_models``.

Why im2col: Lava's stock CPU ``Conv`` model calls ``scipy.signal.convolve2d`` once per
(output channel, input channel) pair, a Python loop of C_out * C_in calls per time step;
gathering every receptive field into one matrix turns the whole layer into one BLAS GEMM.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import as_strided

from sbn.graph.numerics import pair

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
        x, shape=(b, c, ho, wo, kernel[0], kernel[1]),
        strides=(s[0], s[1], s[2] * stride[0], s[3] * stride[1], s[2] * dilation[0], s[3] * dilation[1]),
        writeable=False,
    )


def im2col(x: np.ndarray, kernel, stride, pads: Pads, dilation) -> np.ndarray:
    """(B, C, H, W) -> (B, C, kh, kw, H', W'): one strided slice copy per kernel offset, so
    that reshaping to (B, C*kh*kw, H'*W') needs no transpose and matches the weight's
    (O, C, kh, kw) order."""
    if any(p for pp in pads for p in pp):
        x = np.pad(x, ((0, 0), (0, 0), pads[0], pads[1]))
    b, c, h, w = x.shape
    ho = (h - dilation[0] * (kernel[0] - 1) - 1) // stride[0] + 1
    wo = (w - dilation[1] * (kernel[1] - 1) - 1) // stride[1] + 1
    if ho < 1 or wo < 1:
        raise ValueError(f"input {h}x{w} (padded) is smaller than the kernel {kernel}")
    cols = np.empty((b, c, kernel[0], kernel[1], ho, wo), dtype=np.result_type(x, np.float64))
    for i in range(kernel[0]):
        r = i * dilation[0]
        for j in range(kernel[1]):
            q = j * dilation[1]
            cols[:, :, i, j] = x[:, :, r:r + stride[0] * (ho - 1) + 1:stride[0],
                                 q:q + stride[1] * (wo - 1) + 1:stride[1]]
    return cols


def conv2d(x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None = None, stride=1,
           padding=0, dilation=1, groups: int = 1) -> np.ndarray:
    """(B, C, H, W) -> (B, O, H', W'), weight (O, C/groups, kh, kw): im2col + GEMM."""
    kernel = weight.shape[2:]
    stride, dilation = pair(stride), pair(dilation)
    pads = resolve_padding(padding, kernel, dilation)
    b, c = x.shape[:2]
    out_c, cin_g = weight.shape[:2]
    if kernel == (1, 1) and not any(p for pp in pads for p in pp):
        # 1x1 convolution: a matrix product over channels, no window gathering at all
        xs = x[:, :, ::stride[0], ::stride[1]]
        ho, wo = xs.shape[2:]
        cols = xs.reshape(b, c, ho * wo)
        if groups == 1:
            y = np.matmul(weight.reshape(out_c, c), cols)
        else:
            og = out_c // groups
            y = np.concatenate([
                np.matmul(weight[g * og:(g + 1) * og].reshape(og, cin_g), cols[:, g * cin_g:(g + 1) * cin_g])
                for g in range(groups)
            ], axis=1)
        y = y.reshape(b, out_c, ho, wo)
    else:
        cols = im2col(x, kernel, stride, pads, dilation)  # (B, C, kh, kw, H', W')
        ho, wo = cols.shape[4:]
        k = kernel[0] * kernel[1]
        cols = cols.reshape(b, c * k, ho * wo)
        if groups == 1:
            y = np.matmul(weight.reshape(out_c, c * k), cols)
        else:
            og = out_c // groups
            y = np.concatenate([
                np.matmul(weight[g * og:(g + 1) * og].reshape(og, cin_g * k),
                          cols[:, g * cin_g * k:(g + 1) * cin_g * k])
                for g in range(groups)
            ], axis=1)
        y = y.reshape(b, out_c, ho, wo)
    if bias is not None:
        y = y + bias.reshape(1, -1, 1, 1)
    return y


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
