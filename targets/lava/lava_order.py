"""Lava's stock ``Conv`` arithmetic, bit for bit, at the speed of a compiled spike-driven loop.

Lava's floating-point ``Conv`` model (``lava.proc.conv.utils.conv_scipy``) computes, for
every output channel ``o`` and input channel ``c`` in ascending order,
``out[..., o] += convolve2d(x[..., c], w[o, ..., c], "valid")``, and scipy's ``convolve2d``
sums each window over the (dilated) kernel rows, then columns, in ascending order from 0.
Floating-point addition is not associative, so a GEMM, which adds the same products in
another order, differs from it in the last bits. This kernel adds the same products in
the same order, ``out = ((0 + s_c0) + s_c1) + ...`` with
``s_c = ((0 + w_t0 x_t0) + w_t1 x_t1) + ...``, and skips the zero inputs: adding a zero
product (+0 or -0) to a sum that started at +0 never changes it, so the skip is exact.
Spikes are mostly zeros, so the work follows the spike count, not the layer's size.

The loop is compiled with numba (no fast-math: no reassociation, no fused multiply-add),
single-threaded, because Lava forks its process models and threads do not survive a fork.
"""

from __future__ import annotations

import numba
import numpy as np

from sbn.errors import GraphError
from sbn.graph.numerics import pair

#: output pixels handled together, so that one input channel's kernel rows are reused
#: from L1 cache across them (each pixel still sums its channels in ascending order)
TILE = 16


@numba.njit(inline="always")
def _acc1(d, wt, a, va, n):
    A = wt[a : a + n]  # slices, not offsets: numba then proves the indices non-negative and vectorises
    for i in range(n):
        d[i] += A[i] * va


@numba.njit(inline="always")
def _acc2(d, wt, a, va, b, vb, n):
    A = wt[a : a + n]
    B = wt[b : b + n]
    for i in range(n):
        d[i] += A[i] * va + B[i] * vb


@numba.njit(inline="always")
def _acc3(d, wt, a, va, b, vb, c, vc, n):
    A = wt[a : a + n]
    B = wt[b : b + n]
    C = wt[c : c + n]
    for i in range(n):
        d[i] += A[i] * va + B[i] * vb + C[i] * vc


@numba.njit(inline="always")
def _acc4(d, wt, a, va, b, vb, c, vc, e, ve, n):
    A = wt[a : a + n]
    B = wt[b : b + n]
    C = wt[c : c + n]
    E = wt[e : e + n]
    for i in range(n):
        d[i] += A[i] * va + B[i] * vb + C[i] * vc + E[i] * ve


@numba.njit(inline="always")
def _seq4(d, wt, a, va, b, vb, c, vc, e, ve, n):
    """Four channels added to ``d`` one after the other (unlike ``_acc4``, which adds their
    sum), with ``d`` read and written once."""
    rows = (wt[a : a + n], wt[b : b + n], wt[c : c + n], wt[e : e + n])
    for i in range(n):
        acc = d[i]
        acc += rows[0][i] * va
        acc += rows[1][i] * vb
        acc += rows[2][i] * vc
        acc += rows[3][i] * ve
        d[i] = acc


@numba.njit(nogil=True, boundscheck=False, cache=True)
def _conv1x1_kernel(x1, Y, C, wt, out, X2, Y2, sx, sy, groups):
    """A 1x1 kernel: each window has one tap per channel, so ``s_c = w_c x_c`` exactly and
    the output is ``((acc + w_c0 x_c0) + w_c1 x_c1) + ...``; four channels per pass over the
    output row instead of one (same order, a quarter of the loads and stores of ``acc``)."""
    O = out.size // (X2 * Y2)
    cg = C // groups
    og = O // groups
    nz = np.zeros(cg, np.int64)
    for xo in range(X2):
        for yo in range(Y2):
            q0 = (xo * sx * Y + yo * sy) * C
            for g in range(groups):
                xs = x1[q0 + g * cg : q0 + (g + 1) * cg]
                n = 0
                for c in range(cg):  # branch-free compaction of the non-zero channels
                    nz[n] = c
                    n += xs[c] != 0.0
                p0 = (xo * Y2 + yo) * O + g * og
                d = out[p0 : p0 + og]
                e = 0
                while e + 4 <= n:
                    c0, c1, c2, c3 = nz[e], nz[e + 1], nz[e + 2], nz[e + 3]
                    _seq4(
                        d,
                        wt,
                        c0 * O + g * og,
                        xs[c0],
                        c1 * O + g * og,
                        xs[c1],
                        c2 * O + g * og,
                        xs[c2],
                        c3 * O + g * og,
                        xs[c3],
                        og,
                    )
                    e += 4
                while e < n:
                    _acc1(d, wt, nz[e] * O + g * og, xs[nz[e]], og)
                    e += 1
    return out


@numba.njit(nogil=True, boundscheck=False, cache=True)
def _conv_kernel(x1, Y, C, wt, out, X2, Y2, kx, ky, sx, sy, dx, dy, groups, binary):
    """x1: the padded input (X, Y, C) flattened; wt: the weight as (C/groups, kx*ky, O)
    flattened (Lava's kernel, output channel last); out: (X2*Y2, O) flattened, zeros.

    The window sum of one input channel ``s_c`` stays in registers: up to four active taps
    are summed in one pass over the output channels (the common case for spikes); more
    go through a scratch row.
    """
    O = out.size // (X2 * Y2)
    K = kx * ky
    cg = C // groups
    og = O // groups
    KX = dx * (kx - 1) + 1  # the dilated kernel's extent
    KY = dy * (ky - 1) + 1
    scratch = np.zeros(og)
    masks = np.zeros((TILE, C), np.int64)  # bit t: tap t of this window is non-zero
    qoff = np.zeros(K, np.int64)  # input offset of tap t from the window's origin
    toff = np.zeros(K, np.int64)  # weight offsets of the active taps, in scipy's order
    tv = np.ones(K)  # their input values (1 for spikes)
    for j in range(kx):
        for k in range(ky):
            # scipy convolves: kernel element (j, k) meets input (KX-1-j*dx, KY-1-k*dy)
            qoff[j * ky + k] = ((KX - 1 - j * dx) * Y + KY - 1 - k * dy) * C
    for xo in range(X2):
        for y0 in range(0, Y2, TILE):
            nt = min(TILE, Y2 - y0)
            for pi in range(nt):
                q0 = (xo * sx * Y + (y0 + pi) * sy) * C
                mk = masks[pi]
                mk[:] = 0
                for t in range(K):
                    xs = x1[q0 + qoff[t] : q0 + qoff[t] + C]
                    bit = np.int64(1) << t
                    for c in range(C):
                        mk[c] |= bit if xs[c] != 0.0 else 0
            for c in range(C):
                g = c // cg
                o0 = g * og
                wrow = (c - g * cg) * K
                for pi in range(nt):
                    m = masks[pi, c]
                    if m == 0:
                        continue
                    q0 = (xo * sx * Y + (y0 + pi) * sy) * C
                    n = 0
                    for t in range(K):  # branch-free: always write, advance on a non-zero input
                        toff[n] = (wrow + t) * O + o0
                        if not binary:
                            tv[n] = x1[q0 + qoff[t] + c]
                        n += (m >> t) & 1
                    p0 = (xo * Y2 + y0 + pi) * O + o0
                    d = out[p0 : p0 + og]
                    if n == 1:
                        _acc1(d, wt, toff[0], tv[0], og)
                    elif n == 2:
                        _acc2(d, wt, toff[0], tv[0], toff[1], tv[1], og)
                    elif n == 3:
                        _acc3(d, wt, toff[0], tv[0], toff[1], tv[1], toff[2], tv[2], og)
                    elif n == 4:
                        _acc4(d, wt, toff[0], tv[0], toff[1], tv[1], toff[2], tv[2], toff[3], tv[3], og)
                    else:
                        scratch[:] = 0.0
                        for a in range(n):
                            _acc1(scratch, wt, toff[a], tv[a], og)
                        _acc1(d, scratch, 0, 1.0, og)
    return out


#: taps per window the mask bits can hold (a 7x7 kernel has 49)
MAX_TAPS = 63


Pads = tuple[tuple[int, int], tuple[int, int]]


def _pads(padding) -> Pads:
    """An int, an (x, y) pair (Lava's symmetric padding) or ((before, after), (before, after))."""
    arr = np.asarray(padding, dtype=np.int64)
    if arr.shape == (2, 2):
        return ((int(arr[0, 0]), int(arr[0, 1])), (int(arr[1, 0]), int(arr[1, 1])))
    px, py = pair(padding)
    return ((px, px), (py, py))


class LavaOrderConv:
    """One ``Conv`` layer in Lava's layout and summation order: ``(X, Y, C) -> (X', Y', O)``.

    ``weight`` is Lava's ``(O, kx, ky, C/groups)`` kernel (convolved, not cross-correlated);
    stride and dilation are ints or (x, y) pairs, as Lava's ``Conv`` takes them; padding
    also, or ``((before, after), (before, after))`` for the asymmetric 'same' padding that
    Lava's ``Conv`` cannot express (the loop is the same over the zero-padded input).
    The weight is re-laid out once here, not per call.
    """

    def __init__(self, weight: np.ndarray, stride=1, padding=0, dilation=1, groups: int = 1):
        # the weight comes from a graph file: what it cannot be is the file's fault, a
        # GraphError (one line from the CLI); the call-time checks below are contracts
        weight = np.asarray(weight, dtype=np.float64)
        if weight.ndim != 4:
            raise GraphError(f"Conv weight must be (C_out, kx, ky, C_in/groups), got shape {weight.shape}")
        if not np.isfinite(weight).all():
            # Lava's loop multiplies zeros by every weight, so inf/nan leak into its sums
            # where this kernel skips them: refuse rather than differ
            raise GraphError(
                "Conv weight has inf or nan entries; Lava-order convolution needs finite weights"
            )
        self.out_channels, kx, ky, cin_g = weight.shape
        self.kernel = (kx, ky)
        if kx * ky > MAX_TAPS:
            raise GraphError(f"Conv kernel {kx}x{ky} has more than {MAX_TAPS} taps")
        self.stride, self.dilation = pair(stride), pair(dilation)
        self.pads = _pads(padding)
        self.groups = int(groups)
        if self.groups < 1 or self.out_channels % self.groups:
            raise GraphError(f"C_out = {self.out_channels} is not divisible by groups = {self.groups}")
        self.in_channels = cin_g * self.groups
        og = self.out_channels // self.groups
        # (O, kx, ky, C/g) -> (C/g, kx*ky, O): one input channel's taps are contiguous rows
        self._wt = np.ascontiguousarray(
            weight.reshape(self.groups, og, kx * ky, cin_g).transpose(3, 2, 0, 1)
        ).ravel()
        self._padded: np.ndarray | None = None

    def output_shape(self, input_shape) -> tuple[int, int, int]:
        """As ``lava.proc.conv.utils.output_shape``, with (before, after) padding."""
        x, y = input_shape[:2]
        size = [
            (n + before + after - d * (k - 1) - 1) // s + 1
            for n, (before, after), k, s, d in zip((x, y), self.pads, self.kernel, self.stride, self.dilation)
        ]
        if min(size) < 1:
            raise ValueError(f"Conv input {x}x{y} (padded) is smaller than the kernel {self.kernel}")
        return size[0], size[1], self.out_channels

    def __call__(self, s_in: np.ndarray, binary: bool | None = None) -> np.ndarray:
        """``binary``: the input holds only 0 and 1 (spikes); checked when not given."""
        x = np.asarray(s_in)
        if x.ndim != 3 or x.shape[2] != self.in_channels:
            raise ValueError(f"Conv input must be (X, Y, {self.in_channels}), got shape {x.shape}")
        if binary is None:
            binary = is_binary(x)
        ((top, bottom), (left, right)), (X, Y, C) = self.pads, x.shape
        shape = (X + top + bottom, Y + left + right, C)
        if self._padded is None or self._padded.shape != shape:
            self._padded = np.zeros(shape)  # the border stays zero: written once
        self._padded[top : top + X, left : left + Y] = x
        x2, y2, o = self.output_shape(x.shape)
        out = np.zeros(x2 * y2 * o)
        if self.kernel == (1, 1):
            _conv1x1_kernel(
                self._padded.ravel(), shape[1], C, self._wt, out, x2, y2, *self.stride, self.groups
            )
        else:
            _conv_kernel(
                self._padded.ravel(),
                shape[1],
                C,
                self._wt,
                out,
                x2,
                y2,
                *self.kernel,
                *self.stride,
                *self.dilation,
                self.groups,
                bool(binary),
            )
        return out.reshape(x2, y2, o)


def is_binary(x: np.ndarray) -> bool:
    """Only zeros and ones (spikes): the kernel then skips the multiplications."""
    return x.dtype == np.bool_ or bool(((x == 0) | (x == 1)).all())


def lava_order_conv(
    s_in: np.ndarray, weight: np.ndarray, stride=1, padding=0, dilation=1, groups: int = 1
) -> np.ndarray:
    """``lava.proc.conv.utils.conv_scipy`` with the same result bit for bit (finite weights)."""
    return LavaOrderConv(weight, stride, padding, dilation, groups)(s_in)


def warm_up() -> None:
    """Compile (or load from numba's cache) in this process, so that the processes Lava
    forks inherit the machine code instead of each compiling it again."""
    LavaOrderConv(np.ones((1, 1, 1, 1)))(np.ones((1, 1, 1)))
    LavaOrderConv(np.ones((1, 2, 1, 1)))(np.ones((2, 1, 1)))
