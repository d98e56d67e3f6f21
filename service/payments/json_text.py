"""What JSON text may hold before it is stored: nesting depth and storable strings.

Pure and shared: the HTTP edge screens raw bodies with it, the Stripe-object parsing
checks the parts it keeps whole. PostgreSQL stores no NUL in text, and UTF-8 has no lone
surrogates; both can only come from JSON text in a few spellings, which one C-speed
regex search over the raw bytes finds, so the slow per-string walk runs only for the
rare body that has one of them (or a look-alike such as an escaped backslash before
``u0000``).
"""

from __future__ import annotations

import re
from typing import Final

# A JSON string (escapes skipped whole) or one bracket; the C regex engine skips strings.
_JSON_TOKEN: Final = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]', re.DOTALL)
_OPENERS: Final = frozenset(b"[{")
# The spellings of NUL and of a lone UTF-16 surrogate in JSON text: escaped (\u0000; a
# high-surrogate escape not followed by a low one, a low one not preceded by a high one,
# either case), raw NUL, raw UTF-8-style surrogate bytes (ED A0..BF, which ``json.loads``
# of bytes decodes with "surrogatepass"), and an escaped backslash before "u" (then the
# text after it is no escape and the lookarounds could pair wrongly: walk to be sure).
_HIGH: Final = rb"\\u[dD][89abAB][0-9a-fA-F]{2}"
_LOW: Final = rb"\\u[dD][c-fC-F][0-9a-fA-F]{2}"
_MAYBE_UNSTORABLE: Final = re.compile(
    rb"\\u0000|\x00|\xed[\xa0-\xbf]|\\\\u"
    + rb"|"
    + _HIGH
    + rb"(?!"
    + _LOW
    + rb")"
    + rb"|(?<!"
    + _HIGH
    + rb")"
    + _LOW
)


def too_deep(raw: bytes, limit: int) -> bool:
    """Whether JSON `raw` nests deeper than `limit`, without parsing it."""
    if raw.count(b"[") + raw.count(b"{") <= limit:
        return False  # too few brackets to get there: skip the scan
    depth = 0
    for match in _JSON_TOKEN.finditer(raw):
        char = match.group()[0]
        if char in _OPENERS:
            depth += 1
            if depth > limit:
                return True
        elif char != 0x22:  # a closer ('"' starts a string)
            depth -= 1
    return False


def surely_storable(raw: bytes) -> bool:
    """True: every string ``json.loads(raw)`` yields is storable (no walk needed).
    False: it may hold a NUL or a lone surrogate; walk the parsed value to know."""
    if b"\\u" not in raw and b"\x00" not in raw and b"\xed" not in raw:
        return True  # three memchr-speed scans: no escape, no NUL, no ED lead byte
    return _MAYBE_UNSTORABLE.search(raw) is None
