"""Boot counter and sequence high-water mark, kept in flash (docs/protocol.md section 5).

Two slot files are written alternately, each with a check value, so a power cut in the middle
of a write always leaves the previous slot readable: sequence numbers never repeat.
"""

import hashlib
import struct

_FMT = ">IQ"


def _check(payload):
    return hashlib.sha256(payload).digest()[:4]


def _read(path):
    try:
        with open(path, "rb") as f:
            raw = f.read(16)
    except OSError:
        return None
    if len(raw) != 16 or _check(raw[:12]) != raw[12:]:
        return None
    return struct.unpack(_FMT, raw[:12])


class State:
    """Starts a boot: `boot` and `seq` are this boot's counter and first sequence number."""

    def __init__(self, prefix="state", reserve=64):
        self._paths = (prefix + ".0", prefix + ".1")
        self._reserve = reserve
        slots = [_read(p) for p in self._paths]
        best = -1
        for i in range(2):
            if slots[i] and (best < 0 or slots[i][1] > slots[best][1]):
                best = i
        if best < 0:
            self.boot, self.seq = 0, 0
            self._next = 0
        else:
            self.boot = slots[best][0] + 1
            self.seq = slots[best][1]
            self._next = 1 - best
        self._mark = 0
        self._store(self.seq + reserve)

    def _store(self, mark):
        payload = struct.pack(_FMT, self.boot, mark)
        with open(self._paths[self._next], "wb") as f:
            f.write(payload + _check(payload))
        self._next = 1 - self._next
        self._mark = mark

    def advance(self):
        """Move to the next sequence number, reserving another block in flash when needed."""
        self.seq += 1
        if self.seq >= self._mark:
            self._store(self.seq + self._reserve)
