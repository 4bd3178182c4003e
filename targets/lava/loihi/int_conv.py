"""Lava's ``Conv`` on integers, driven by the non-zero inputs: ``IntConv(weight, ...)(s_in)``.

Integer sums do not depend on the order of addition, so unlike ``lava_order`` (float64, Lava's
own order) this kernel may add in any order: each non-zero input ``v`` at padded position
(X, Y), channel c adds ``v * w`` to every output its taps reach, one contiguous run of
output channels at a time (compiled with numba; the inner loop vectorises). For the common
layer (stride 1, no dilation, one group) a second kernel adds the taps of one kernel row as a
single contiguous run (``_scatter_rows``: about 1.5x faster on a 3x3 layer). Geometry as
``lava.proc.conv.utils.conv_scipy``: Lava convolves (kernel flipped), with symmetric
padding, stride and dilation in (x, y), and groups. The caller wraps the sums
to the chip's accumulator width. Sums are int32, as Lava's model casts its sums to the
weight's int32 type (the quantiser notes any group whose inputs can reach the accumulator).
"""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True, nogil=True, boundscheck=False, inline="always")
def _add_run(d, w, v):  # pragma: no cover - compiled
    # d += v * w over one run (slices: numba proves the indices and vectorises); spikes skip the product
    if v == 1:
        for o in range(d.shape[0]):
            d[o] += w[o]
    else:
        for o in range(d.shape[0]):
            d[o] += v * w[o]


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
                _add_run(flat[dst : dst + og], wflat[src : src + og], v)


@numba.njit(cache=True, nogil=True, boundscheck=False)
def _scatter_rows(x, wr, out, kx, ky, px0, py0):  # pragma: no cover - compiled
    # stride 1, dilation 1, one group; wr[c, i, jj, o] holds tap (i, ky-1-jj): for one spike and
    # one kernel row i, the outputs (x2, py-j_hi .. py-j_lo) and the weights of jj = ky-1-j_hi ..
    # ky-1-j_lo are each one contiguous run of (j_hi-j_lo+1) * O integers
    x2n, y2n, o_all = out.shape
    X, Y, C = x.shape
    flat = out.reshape(-1)
    wflat = wr.reshape(-1)
    for xx in range(X):
        px = xx + px0
        i_lo, i_hi = max(0, px - x2n + 1), min(kx - 1, px)
        for yy in range(Y):
            py = yy + py0
            j_lo, j_hi = max(0, py - y2n + 1), min(ky - 1, py)
            run = (j_hi - j_lo + 1) * o_all
            for c in range(C):
                v = x[xx, yy, c]
                if v == 0:
                    continue
                wc = (c * kx * ky + ky - 1 - j_hi) * o_all
                for i in range(i_lo, i_hi + 1):
                    dst = ((px - i) * y2n + py - j_hi) * o_all
                    src = wc + i * ky * o_all
                    _add_run(flat[dst : dst + run], wflat[src : src + run], v)


def _pair(value) -> tuple[int, int]:
    arr = np.atleast_1d(np.asarray(value)).astype(np.int64)
    return int(arr[0]), int(arr[-1])


class IntConv:
    """One ``Conv`` layer: ``(X, Y, C) -> (X', Y', O)`` int64, Lava's ``(O, kx, ky, C/groups)``
    integer kernel; the weight is laid out once here. Output int32."""

    def __init__(self, weight: np.ndarray, stride=1, padding=0, dilation=1, groups: int = 1):
        weight = np.asarray(weight)
        if weight.ndim != 4 or weight.dtype.kind not in "iu":
            raise ValueError(
                f"Conv weight must be an integer (C_out, kx, ky, C_in/groups) array, "
                f"got {weight.dtype} {weight.shape}"
            )
        self.out_channels, self.kx, self.ky, self.cin_g = weight.shape
        self.groups = int(groups)
        if self.groups < 1 or self.out_channels % self.groups:
            raise ValueError(f"C_out = {self.out_channels} is not divisible by groups = {self.groups}")
        self.stride, self.padding, self.dilation = _pair(stride), _pair(padding), _pair(dilation)
        # flipped (Lava convolves) and tap-major: wt[c, i, j, o] = weight[o, kx-1-i, ky-1-j, c]
        self._wt = np.ascontiguousarray(weight[:, ::-1, ::-1, :].transpose(3, 1, 2, 0), dtype=np.int32)
        #: which kernel runs: "rows" (stride 1, no dilation, one group) or "general"
        self.kernel = (
            "rows" if self.stride == (1, 1) and self.dilation == (1, 1) and self.groups == 1 else "general"
        )
        if self.kernel == "rows":  # flipped along x only: see _scatter_rows
            self._wt = np.ascontiguousarray(self._wt[:, :, ::-1, :])

    def output_shape(self, input_shape) -> tuple[int, int, int]:
        size = [
            (n + 2 * p - d * (k - 1) - 1) // s + 1
            for n, p, k, s, d in zip(
                input_shape[:2], self.padding, (self.kx, self.ky), self.stride, self.dilation
            )
        ]
        return size[0], size[1], self.out_channels

    def __call__(self, s_in: np.ndarray) -> np.ndarray:
        x = np.asarray(s_in)
        if x.ndim != 3 or x.shape[2] != self.cin_g * self.groups:
            raise ValueError(f"Conv input must be (X, Y, {self.cin_g * self.groups}), got {x.shape}")
        out = np.zeros(self.output_shape(x.shape), dtype=np.int32)
        if x.dtype not in (np.bool_, np.int32) or not x.flags.c_contiguous:
            x = np.ascontiguousarray(x, dtype=np.int32)
        if self.kernel == "rows":
            _scatter_rows(x, self._wt, out, self.kx, self.ky, *self.padding)
        else:
            _scatter(
                x,
                self._wt,
                out,
                self.kx,
                self.ky,
                *self.stride,
                *self.padding,
                *self.dilation,
                self.cin_g,
                self.out_channels // self.groups,
            )
        return out


def warm_up() -> None:
    """Compile (or load from numba's cache) before Lava forks its processes."""
    for conv in (
        IntConv(np.ones((1, 1, 1, 1), dtype=np.int64)),
        IntConv(np.ones((1, 1, 1, 1), dtype=np.int64), stride=2),
    ):
        conv(np.ones((1, 1, 1), dtype=np.int32))  # graded messages
        conv(np.ones((1, 1, 1), dtype=np.bool_))  # spikes
