"""The k virtual households of a home: one latent occupancy story each, the same on every
device of the home, from the home key and the clock alone (devices never talk to each other).

Each household is a Markov chain over AWAY, AWAKE, ASLEEP stepping every `slot_s` seconds of
local time, with transition probabilities by day type (weekday, weekend) and hour from the
decoy profile; some days are empty (away throughout, as on holiday), decided by a chain over
the days of the week. The chain restarts each day at 04:00 local time from a keyed draw, so a
device that boots mid-day (or after a gap) replays today's slots from the anchor and lands on
exactly the state its siblings have: state(h, t) depends only on the key, h and t.

Randomness for household h, day d, slot s is one block of the household's keystream.
"""

import array
import struct

from .keystream import Keystream
from .proto import Hmac

AWAY = 0
AWAKE = 1
ASLEEP = 2
_ANCHOR = 4 * 3600  # days start at 04:00 local time


class Households:
    def __init__(self, k_decoy, epoch, k, occ):
        """`occ` is the profile's "occupancy" object: slot_s, days (2 x 2 u16), start (2 x 2
        cumulative u16), trans (2 x 24 x 3 x 2 cumulative u16). See host/veil/privacy/profile.py."""
        mac = Hmac(k_decoy)
        self._ks = [
            Keystream(mac.digest(b"house" + struct.pack(">IB", epoch, h))) for h in range(k)
        ]
        self._slot_s = occ["slot_s"]
        self._start = array.array("H", occ["start"])
        self._trans = array.array("H", occ["trans"])
        self._days = array.array("H", occ["days"])
        self.empty = bytearray(k)
        self.state = bytearray(k)
        self._day = -1
        self._slot = -1

    def _draw(self, h, day, slot):
        ks = self._ks[h]
        ks.block(day, slot)
        return ks.u16(0)

    @staticmethod
    def _pick(table, at, r):
        if r < table[at]:
            return 0
        if r < table[at + 1]:
            return 1
        return 2

    def _weekend(self, day):
        return 1 if (day + 3) % 7 >= 5 else 0  # day 0 (1970-01-01, 04:00) was a Thursday

    def _step(self, day, slot):
        wk = self._weekend(day)
        hour = ((slot * self._slot_s + _ANCHOR) // 3600) % 24
        base = (wk * 24 + hour) * 6
        st = self.state
        for h in range(len(st)):
            if self.empty[h]:
                st[h] = AWAY
            else:
                st[h] = self._pick(self._trans, base + 2 * st[h], self._draw(h, day, slot))

    def _is_empty(self, h, day):
        """Whether household h is away all of `day`: a chain over the days since Monday."""
        d = day - (day + 3) % 7
        empty = 0
        while True:
            r = self._draw(h, d, 0xFFFFFFFE)
            empty = 1 if r < self._days[self._weekend(d) * 2 + empty] else 0
            if d == day:
                return empty
            d += 1

    def at(self, day, sod):
        """Bring every household to the slot holding second `sod` of household day `day`
        (days start at 04:00 local time); returns `state`."""
        slot = sod // self._slot_s
        if day != self._day or slot < self._slot:
            self._day = day
            wk = self._weekend(day)
            st = self.state
            for h in range(len(st)):
                self.empty[h] = self._is_empty(h, day)
                st[h] = self._pick(self._start, 2 * wk, self._draw(h, day, 0xFFFFFFFF))
            self._slot = 0
            self._step(day, 0)
        while self._slot < slot:
            self._slot += 1
            self._step(day, self._slot)
        return self.state
