"""Two alternating files holding one small record each, so that a power cut in the middle of
a write always leaves the previous record readable (docs/protocol.md section 5)."""

import hashlib


def _check(payload):
    return hashlib.sha256(payload).digest()[:4]


class Slots:
    def __init__(self, prefix, size):
        self._paths = (prefix + ".0", prefix + ".1")
        self._size = size
        self._next = 0

    def _read(self, i):
        try:
            with open(self._paths[i], "rb") as f:
                raw = f.read(self._size + 4)
        except OSError:
            return None
        if len(raw) != self._size + 4 or _check(raw[: self._size]) != raw[self._size :]:
            return None
        return raw[: self._size]

    def load(self, newer):
        """The valid record that `newer(a, b)` prefers, or None; the next write goes to the
        other slot."""
        a, b = self._read(0), self._read(1)
        if a is None and b is None:
            return None
        best = 0 if b is None or (a is not None and newer(a, b)) else 1
        self._next = 1 - best
        return a if best == 0 else b

    def store(self, payload):
        with open(self._paths[self._next], "wb") as f:
            f.write(payload)
            f.write(_check(payload))
        self._next = 1 - self._next
