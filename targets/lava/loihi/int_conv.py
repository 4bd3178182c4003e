"""Lava's ``Conv`` on integers, driven by the non-zero inputs: ``IntConv(weight, ...)(s_in)``.

Integer sums do not depend on the order of addition, so unlike ``lava_order`` (float64, Lava's
own order) this kernel may add in any order: each non-zero input ``v`` at padded position
(X, Y), channel c adds ``v * w`` to every output its taps reach, one contiguous run of
output channels at a time (compiled with numba; the inner loop vectorises). Geometry as
``lava.proc.conv.utils.conv_scipy``: Lava convolves (kernel flipped), with symmetric
padding, stride and dilation in (x, y), and groups. The caller wraps the sums
to the chip's accumulator width. Sums are int32, as Lava's model casts its sums to the
weight's int32 type (the quantiser keeps every output's reach below the 24-bit accumulator).
"""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True, nogil=True, boundscheck=False)
def _scatter(x, wt, out, kx, ky, sx, sy, px0, py0, dx, dy, cin_g, og):  # pragma: no cover - compiled
    # x: (X, Y, C) input; wt: (C/g, kx, ky, O); out: (X', Y', O); zeros are skipped
    x2n, y2n, o_all = out.shape
    Y, C = x.shape[1], x.shape[2]
    flat = out.reshape(-1)
    wflat = wt.reshape(-1)
    xin = x.reshape(-1)
    for n in range(xin.shape[0]):
        v = xin[n]
        if v == 0:
            continue
        c = n % C
        py = (n // C) % Y + py0
        px = n // (C * Y) + px0
        g = c // cin_g
        o0 = g * og
        wc = (c - g * cin_g) * kx * ky * o_all + o0
        for i in range(kx):
            num = px - i * dx
            if num < 0 or num % sx != 0:
                continue
            x2 = num // sx
            if x2 >= x2n:
                continue
            for j in range(ky):
                mun = py - j * dy
                if mun < 0 or mun % sy != 0:
                    continue
                y2 = mun // sy
                if y2 >= y2n:
                    continue
                dst = (x2 * y2n + y2) * o_all + o0
                src = wc + (i * ky + j) * o_all
                d = flat[dst:dst + og]  # slices: numba proves the indices and vectorises
                w = wflat[src:src + og]
                if v == 1:
                    for o in range(og):
                        d[o] += w[o]
                else:
                    for o in range(og):
                        d[o] += v * w[o]


def _pair(value) -> tuple[int, int]:
    arr = np.atleast_1d(np.asarray(value)).astype(np.int64)
    return int(arr[0]), int(arr[-1])


class IntConv:
    """One ``Conv`` layer: ``(X, Y, C) -> (X', Y', O)`` int64, Lava's ``(O, kx, ky, C/groups)``
    integer kernel; the weight is laid out once here. Output int32."""

    def __init__(self, weight: np.ndarray, stride=1, padding=0, dilation=1, groups: int = 1):
        weight = np.asarray(weight)
        if weight.ndim != 4 or weight.dtype.kind not in "iu":
            raise ValueError(f"Conv weight must be an integer (C_out, kx, ky, C_in/groups) array, "
                             f"got {weight.dtype} {weight.shape}")
        self.out_channels, self.kx, self.ky, self.cin_g = weight.shape
        self.groups = int(groups)
        if self.groups < 1 or self.out_channels % self.groups:
            raise ValueError(f"C_out = {self.out_channels} is not divisible by groups = {self.groups}")
        self.stride, self.padding, self.dilation = _pair(stride), _pair(padding), _pair(dilation)
        # flipped (Lava convolves) and tap-major: wt[c, i, j, o] = weight[o, kx-1-i, ky-1-j, c]
        self._wt = np.ascontiguousarray(weight[:, ::-1, ::-1, :].transpose(3, 1, 2, 0), dtype=np.int32)

    def output_shape(self, input_shape) -> tuple[int, int, int]:
        size = [(n + 2 * p - d * (k - 1) - 1) // s + 1 for n, p, k, s, d in
                zip(input_shape[:2], self.padding, (self.kx, self.ky), self.stride, self.dilation)]
        return size[0], size[1], self.out_channels

    def __call__(self, s_in: np.ndarray) -> np.ndarray:
        x = np.asarray(s_in)
        if x.ndim != 3 or x.shape[2] != self.cin_g * self.groups:
            raise ValueError(f"Conv input must be (X, Y, {self.cin_g * self.groups}), got {x.shape}")
        out = np.zeros(self.output_shape(x.shape), dtype=np.int32)
        if x.dtype not in (np.bool_, np.int32) or not x.flags.c_contiguous:
            x = np.ascontiguousarray(x, dtype=np.int32)
        _scatter(x, self._wt, out, self.kx, self.ky,
                 *self.stride, *self.padding, *self.dilation, self.cin_g,
                 self.out_channels // self.groups)
        return out


def warm_up() -> None:
    """Compile (or load from numba's cache) before Lava forks its processes."""
    conv = IntConv(np.ones((1, 1, 1, 1), dtype=np.int64))
    conv(np.ones((1, 1, 1), dtype=np.int32))  # graded messages
    conv(np.ones((1, 1, 1), dtype=np.bool_))  # spikes
