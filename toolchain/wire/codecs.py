"""The codecs by name: the one table the CLI's choices and the reports are derived from."""

from __future__ import annotations

from sbn.errors import ConfigError
from sbn.wire.aer import AddressEvents
from sbn.wire.base import Codec
from sbn.wire.bitmap import Bitmap
from sbn.wire.compressed import Lzma, Zlib
from sbn.wire.rle import RunLength

#: name -> codec; the first is the default (the method's dense bitmap)
CODECS: dict[str, Codec] = {c.name: c for c in (Bitmap(), AddressEvents(), RunLength(), Zlib(), Lzma())}
DEFAULT_CODEC = "bitmap"


def get_codec(name: str) -> Codec:
    try:
        return CODECS[name]
    except KeyError:
        raise ConfigError(f"unknown codec {name!r}: known are {', '.join(CODECS)}") from None
