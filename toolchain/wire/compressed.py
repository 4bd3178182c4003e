"""Entropy coders from the standard library over the dense bitmap: zlib (DEFLATE: LZ77 +
Huffman, the coding JALAD uses for its features) and LZMA (LZ77 + range coding).

zlib frames carry zlib's 2-byte header and Adler-32 check, so almost every corrupted frame
is detected and lost rather than delivered wrong. LZMA frames are raw LZMA2 (no header, no
check: both ends know the filter), the smallest LZMA framing; a corrupted one is lost when
the decoder rejects it or it inflates to the wrong size, and is delivered wrong otherwise.
Decompression stops one byte past the bitmap's size, so a corrupted frame cannot inflate
into a large allocation.
"""

from __future__ import annotations

import lzma
import zlib
from abc import abstractmethod

import numpy as np

from sbn.errors import FrameLost
from sbn.wire.base import Codec
from sbn.wire.bitmap import Bitmap, packed_bytes

_BITMAP = Bitmap()
_LZMA_FILTERS = [{"id": lzma.FILTER_LZMA2, "preset": 9}]


class _OverBitmap(Codec):
    """A byte compressor applied to the bitmap's bytes."""

    def encode(self, spikes: np.ndarray) -> bytes:
        return self.compress(_BITMAP.encode(spikes))

    def decode(self, data: bytes, shape: tuple[int, ...]) -> np.ndarray:
        size = packed_bytes(shape)
        try:
            bitmap, complete = self.decompress(data, size + 1)
        except (zlib.error, lzma.LZMAError) as exc:
            raise FrameLost(f"{self.name} rejects the frame ({exc})") from None
        if len(bitmap) != size or not complete:
            raise FrameLost(f"{self.name} frame inflates to {len(bitmap)} bytes, not {size}")
        return _BITMAP.decode(bitmap, shape)

    @abstractmethod
    def compress(self, data: bytes) -> bytes: ...

    @abstractmethod
    def decompress(self, data: bytes, limit: int) -> tuple[bytes, bool]:
        """(at most ``limit`` bytes out, whether the stream ended exactly there)"""


class Zlib(_OverBitmap):
    name = "zlib"
    summary = "zlib (DEFLATE, level 9, Adler-32 checked) over the bitmap"

    def compress(self, data: bytes) -> bytes:
        return zlib.compress(data, 9)

    def decompress(self, data: bytes, limit: int) -> tuple[bytes, bool]:
        inflater = zlib.decompressobj()
        out = inflater.decompress(data, limit)
        return out, inflater.eof and not inflater.unused_data


class Lzma(_OverBitmap):
    name = "lzma"
    summary = "raw LZMA2 (preset 9, no header or check) over the bitmap"

    def compress(self, data: bytes) -> bytes:
        return lzma.compress(data, format=lzma.FORMAT_RAW, filters=_LZMA_FILTERS)

    def decompress(self, data: bytes, limit: int) -> tuple[bytes, bool]:
        inflater = lzma.LZMADecompressor(format=lzma.FORMAT_RAW, filters=_LZMA_FILTERS)
        out = inflater.decompress(data, limit)
        return out, inflater.eof and not inflater.unused_data
