"""Which track carries the real reading (docs/protocol.md section 3).

Protocol v1 keeps one real track for the whole epoch. In v2 the real household is re-dealt
every household day (days start at 04:00 local time), the same household on every device of
the home with no traffic between them: each device works it out from the key and the reading's
time. The day's HMAC is computed once, when a reading falls outside the cached day; a tick in
the same day compares its time with the day's bounds and allocates nothing.
"""

from micropython import const

from . import clock, proto

_DAY = const(86400)
_DAY_START = const(14400)  # 04:00 local time, as the decoy households' days (households.py)


def day_of(ts, tz):
    """The household day of Unix time `ts` for a home at UTC + `tz` seconds (for the host and
    tests: on the board a moment is (day, sec), see `Roles.track`)."""
    return (ts + tz - _DAY_START) // _DAY


class Roles:
    def __init__(self, k_track, ep, placement, version, tz):
        """`placement[t]` is the household shown on track t (proto.placement)."""
        self._key = k_track
        self._ep = ep
        self._place = placement
        self._offset = tz - _DAY_START  # household days start at 04:00 local time
        self.redeals = version >= 2
        self.real = -1  # the real track of the cached day (v2), of the epoch (v1)
        self._day = -1  # the cached household day
        if not self.redeals:
            self.real = placement.index(proto.real_household(k_track, ep, len(placement)))

    def track(self, day, sec):
        """The real track for a reading taken at (day, sec) (veil.clock: UTC days and the
        second of the day)."""
        if not self.redeals:
            return self.real
        d = clock.local_day(day, sec, self._offset)
        if d != self._day:
            self._day = d
            k = len(self._place)
            self.real = self._place.index(proto.real_household(self._key, self._ep, k, d))
        return self.real

    def until_redeal(self, day, sec):
        """Seconds from (day, sec) to the next re-deal; -1 when the roles are never re-dealt
        (v1)."""
        return _DAY - clock.local_sec(sec, self._offset) if self.redeals else -1
