"""Numpy float64 kernels for the stateless NIR nodes: convolution, pooling, flattening.

Every function takes one time step of a batch, ``x`` of shape (B, *node input shape), and
follows PyTorch's definitions (cross-correlation, symmetric zero padding, floor output size),
which is what NIR's Conv and pooling nodes copy.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view


def pair(value, n: int = 2) -> tuple[int, ...]:
    """An int, or an n-sequence (list, tuple, array) of ints, as an n-tuple of Python ints."""
    arr = np.atleast_1d(np.asarray(value)).astype(np.int64).ravel()
    if arr.size == 1:
        return (int(arr[0]),) * n
    if arr.size != n:
        raise ValueError(f"expected {n} values, got {arr.tolist()}")
    return tuple(int(v) for v in arr)


def resolve_padding(
    padding, kernel: tuple[int, ...], dilation: tuple[int, ...], stride: tuple[int, ...]
) -> tuple[tuple[int, int], ...]:
    """(before, after) zero padding per spatial dim for an int/tuple or 'same'/'valid'."""
    if isinstance(padding, np.ndarray) and padding.dtype.kind in "SUO":
        padding = padding.ravel()[0]
    if isinstance(padding, bytes):
        padding = padding.decode()
    if isinstance(padding, str):
        if padding == "valid":
            return tuple((0, 0) for _ in kernel)
        if padding == "same":
            if any(s != 1 for s in stride):
                raise ValueError("padding 'same' needs stride 1")
            total = [d * (k - 1) for k, d in zip(kernel, dilation)]
            return tuple((t // 2, t - t // 2) for t in total)  # PyTorch puts the extra after
        raise ValueError(f"padding must be an int, a tuple, 'same' or 'valid', not {padding!r}")
    return tuple((p, p) for p in pair(padding, len(kernel)))


def conv2d(
    x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None, stride, padding, dilation, groups: int
) -> np.ndarray:
    """(B, C, H, W) -> (B, O, H', W') with weight (O, C/groups, kh, kw)."""
    kernel = weight.shape[2:]
    stride, dilation = pair(stride), pair(dilation)
    pads = resolve_padding(padding, kernel, dilation, stride)
    x = np.pad(x, ((0, 0), (0, 0), *pads))
    span = tuple(d * (k - 1) + 1 for k, d in zip(kernel, dilation))
    # (B, C, H', W', kh, kw): the receptive field of every output position
    win = sliding_window_view(x, span, axis=(2, 3))
    win = win[:, :, :: stride[0], :: stride[1], :: dilation[0], :: dilation[1]]
    groups = int(groups)
    cin, cout = weight.shape[1], weight.shape[0] // groups
    parts = [
        np.tensordot(
            win[:, g * cin : (g + 1) * cin], weight[g * cout : (g + 1) * cout], axes=([1, 4, 5], [1, 2, 3])
        )
        for g in range(groups)
    ]
    y = np.concatenate(parts, axis=-1).transpose(0, 3, 1, 2)  # (B, H', W', O) -> (B, O, H', W')
    if bias is not None:
        y = y + np.asarray(bias, dtype=np.float64).reshape(1, -1, 1, 1)
    return y


def conv1d(
    x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None, stride, padding, dilation, groups: int
) -> np.ndarray:
    """(B, C, N) -> (B, O, N'): a 2-d convolution over a height of one."""
    if not isinstance(padding, (str, bytes, np.ndarray)):
        padding = (0, pair(padding, 1)[0])
    elif isinstance(padding, np.ndarray) and padding.dtype.kind not in "SUO":
        padding = (0, pair(padding, 1)[0])
    y = conv2d(
        x[:, :, None, :],
        weight[:, :, None, :],
        bias,
        (1, pair(stride, 1)[0]),
        padding,
        (1, pair(dilation, 1)[0]),
        groups,
    )
    return y[:, :, 0, :]


def sum_pool2d(x: np.ndarray, kernel_size, stride, padding) -> np.ndarray:
    """(B, C, H, W) -> (B, C, H', W'): the sum over each window, zeros outside the map."""
    kernel, stride = pair(kernel_size), pair(stride)
    pads = tuple((p, p) for p in pair(padding))
    x = np.pad(x, ((0, 0), (0, 0), *pads))
    win = sliding_window_view(x, kernel, axis=(2, 3))[:, :, :: stride[0], :: stride[1]]
    return win.sum(axis=(4, 5))


def avg_pool2d(x: np.ndarray, kernel_size, stride, padding) -> np.ndarray:
    """Sum pooling divided by the window area (zero padding counted, as PyTorch does)."""
    kernel = pair(kernel_size)
    return sum_pool2d(x, kernel_size, stride, padding) / float(kernel[0] * kernel[1])


def flatten(x: np.ndarray, start_dim: int, end_dim: int) -> np.ndarray:
    """Flatten per-sample dims start_dim..end_dim (NIR counts dims without the batch)."""
    shape = x.shape[1:]
    n = len(shape)
    start = int(start_dim) % n if n else 0
    end = int(end_dim) % n if n else 0
    merged = int(np.prod(shape[start : end + 1]))
    return x.reshape(x.shape[0], *shape[:start], merged, *shape[end + 1 :])


def affine(x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None) -> np.ndarray:
    """y = W x (+ b) over the last axis; leading weight dims (if any) act batch-wise."""
    y = np.matmul(weight, x[..., None])[..., 0]
    return y if bias is None else y + bias
