"""Boot counter and sequence high-water mark, kept in flash (docs/protocol.md section 5).

Sequence numbers never repeat: at boot the device resumes from the stored mark, and it stores a
new mark R numbers ahead before it reaches the old one, so flash is written once every R ticks.
"""

import struct

from .slots import Slots

_FMT = ">IQ"


def _later(a, b):
    return struct.unpack(_FMT, a)[1] > struct.unpack(_FMT, b)[1]


class State:
    """Starts a boot: `boot` and `seq` are this boot's counter and first sequence number."""

    def __init__(self, prefix="state", reserve=64):
        self._slots = Slots(prefix, 12)
        self._reserve = reserve
        last = self._slots.load(_later)
        if last is None:
            self.boot, self.seq = 0, 0
        else:
            boot, hw = struct.unpack(_FMT, last)
            self.boot, self.seq = boot + 1, hw
        self._store(self.seq + reserve)

    def _store(self, mark):
        self._slots.store(struct.pack(_FMT, self.boot, mark))
        self._mark = mark

    def advance(self):
        """Move to the next sequence number; True when a new mark was stored in flash (the
        moment to save anything else that must survive a reboot)."""
        self.seq += 1
        if self.seq >= self._mark:
            self._store(self.seq + self._reserve)
            return True
        return False
