"""Which track carries the real reading (docs/protocol.md section 3).

Protocol v1 keeps one real track for the whole epoch. In v2 the real household is re-dealt
every household day (days start at 04:00 local time), the same household on every device of
the home with no traffic between them: each device works it out from the key and the reading's
time. The day's HMAC is computed once, when a reading falls outside the cached day; a tick in
the same day compares its time with the day's bounds and allocates nothing.
"""

from micropython import const

from . import proto

_DAY = const(86400)
_DAY_START = const(14400)  # 04:00 local time, as the decoy households' days (households.py)


def day_of(ts, tz):
    """The household day of Unix time `ts` for a home at UTC + `tz` seconds: the one place a
    reading's time becomes a day (called once a day)."""
    return (ts + tz - _DAY_START) // _DAY


class Roles:
    def __init__(self, k_track, ep, placement, version, tz):
        """`placement[t]` is the household shown on track t (proto.placement)."""
        self._key = k_track
        self._ep = ep
        self._place = placement
        self._tz = tz
        self.redeals = version >= 2
        self.real = -1  # the real track of the cached day (v2), of the epoch (v1)
        self._start = 0  # the cached day's first second, and the next day's
        self._end = 0
        if not self.redeals:
            self.real = placement.index(proto.real_household(k_track, ep, len(placement)))

    def track(self, ts):
        """The real track for a reading taken at Unix time `ts`."""
        if not self.redeals or self._start <= ts < self._end:
            return self.real
        day = day_of(ts, self._tz)
        self._start = day * _DAY + _DAY_START - self._tz
        self._end = self._start + _DAY
        k = len(self._place)
        self.real = self._place.index(proto.real_household(self._key, self._ep, k, day))
        return self.real

    def until_redeal(self, ts):
        """Seconds from `ts` to the next re-deal, for the day `track(ts)` last cached; -1 when
        the roles are never re-dealt (v1)."""
        return self._end - ts if self.redeals else -1
