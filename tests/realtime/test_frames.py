"""WebSocket text frames built once per text (RFC 6455 §5.2): header and payload."""

from __future__ import annotations

import struct

import pytest

from service.realtime.frames import FrameCache, text_frame


def _read(frame: bytes) -> tuple[int, str]:
    """(bytes the length field took, the text) of one final, unmasked text frame."""
    assert frame[0] == 0x81  # FIN, text
    assert frame[1] & 0x80 == 0  # a server's frames are not masked
    size, start = frame[1] & 0x7F, 2
    if size == 126:
        size, start = struct.unpack("!H", frame[2:4])[0], 4
    elif size == 127:
        size, start = struct.unpack("!Q", frame[2:10])[0], 10
    assert len(frame) == start + size
    return start - 1, frame[start:].decode()


@pytest.mark.parametrize(
    ("size", "length_field"),
    [(0, 1), (125, 1), (126, 3), (65535, 3), (65536, 9)],  # the shortest encoding each
)
def test_a_frame_carries_its_text(size: int, length_field: int) -> None:
    text = "é" * (size // 2) + "x" * (size % 2)  # two UTF-8 bytes per é
    assert _read(text_frame(text)) == (length_field, text)


def test_the_cache_gives_one_frame_per_text_object() -> None:
    cache = FrameCache()
    text = "x" * 300
    first = cache.frame(text)
    assert cache.frame(text) is first
    other = "".join(["x"] * 300)  # equal, but another object: its own frame, same bytes
    assert other is not text
    assert cache.frame(other) == first
