"""Time on the board in small integers: a moment is (day, sec), the whole days since
1970-01-01 UTC and the second of that day.

Unix time passed 2**30 in 2004, and on an ESP32 every integer from 2**30 up is an object on
the heap: a tick that did arithmetic on Unix time would leave garbage every time. So drivers
give a reading's time as (day, sec), the encoder writes the record's `ts` from the two, and
local days (a household's day starts at 04:00 local time, protocol v2 re-deals the real track
then) come from `local_day()` and `local_sec()`, which allocate nothing.
"""

import time

from micropython import const

DAY = const(86400)
# Seconds from 1970 to the port's epoch (2000 on ports whose time.gmtime(0) says so).
_EPOCH = const(946684800) if time.gmtime(0)[0] == 2000 else 0


def local_day(day, sec, offset_s):
    """The day number of the moment (day, sec) seen `offset_s` seconds ahead of UTC: the time
    zone's offset, less 4 * 3600 for days that start at 04:00 (|offset_s| < 2**29)."""
    return day + (sec + offset_s) // DAY


def local_sec(sec, offset_s):
    """The second of that local day (0 .. 86399)."""
    return (sec + offset_s) % DAY


class Wall:
    """The board's clock as `day` and `sec`: the RTC is read once (a big integer, at start),
    then carried on with ticks_ms, so reading the time allocates nothing. Call `now()` at
    least every few days (ticks_ms wraps)."""

    def __init__(self):
        t = int(time.time()) + _EPOCH
        self.day = t // DAY
        self.sec = t % DAY
        self._ms = 0
        self._last = time.ticks_ms()

    def now(self):
        t = time.ticks_ms()
        self._ms += time.ticks_diff(t, self._last)
        self._last = t
        if self._ms >= 1000:
            self.sec += self._ms // 1000
            self._ms %= 1000
            if self.sec >= DAY:
                self.day += self.sec // DAY
                self.sec %= DAY
