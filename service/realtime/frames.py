"""WebSocket text frames built once per message and written as they are.

aiohttp's ``send_str`` encodes the text and builds the frame again for every socket; a
fan-out sends one text to thousands of them. A server's frames are not masked (RFC 6455
§5.1), so the same bytes are right for every client.
"""

from __future__ import annotations

import struct

# Above this many bytes queued in the transport (not yet taken by the kernel), a socket
# is written through aiohttp's writer, which waits for it to drain.
BUFFER_LIMIT = 64 * 1024


def text_frame(text: str) -> bytes:
    """One final (unfragmented) text frame carrying `text`."""
    payload = text.encode()
    size = len(payload)
    if size < 126:
        head = struct.pack("!BB", 0x81, size)
    elif size < 1 << 16:
        head = struct.pack("!BBH", 0x81, 126, size)
    else:
        head = struct.pack("!BBQ", 0x81, 127, size)
    return head + payload


class FrameCache:
    """Frames of recent texts, by identity: the text is kept with its frame, so its id
    cannot be reused meanwhile. A fan-out hands every socket the same text object."""

    __slots__ = ("_frames",)
    MAX = 256

    def __init__(self) -> None:
        self._frames: dict[int, tuple[str, bytes]] = {}

    def __len__(self) -> int:
        return len(self._frames)

    def frame(self, text: str) -> bytes:
        cached = self._frames.get(id(text))
        if cached is not None and cached[0] is text:
            return cached[1]
        frame = text_frame(text)
        if len(self._frames) >= self.MAX:
            self._frames.clear()
        self._frames[id(text)] = (text, frame)
        return frame


FRAMES = FrameCache()  # the process's: one per event loop would share nothing more
