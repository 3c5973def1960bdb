"""Replay driver: reads recorded readings from a CSV file instead of a sensor.

File format: a header `ts,<channel>,...` naming the config's channels in order, then one row
per tick with the Unix time and each reading as a decimal number with at most the channel's
decimals. An empty cell means the sensor failed on that tick. Parsing is done byte by byte
from one preallocated block, the time straight into (day, sec) (veil.clock), so replaying
creates no garbage per tick, on an ESP32 too.
"""

from ..clock import DAY
from ..config import ConfigError
from . import END, OK


class ReplayError(ConfigError):
    """The recorded data is missing or malformed: the owner must provision it again."""


class Driver:
    def __init__(self, channels, options):
        self._dec = [c[1] for c in channels]
        name = options.get("file", "replay.csv")
        try:
            self._f = open(name, "rb")
        except OSError:
            raise ReplayError("no %s: provision the board with recorded data" % name)
        self._buf = bytearray(512)
        self._n = 0
        self._i = 0
        self._end = 0
        self.day = self.sec = 0
        self.row = 0
        header = self._f.readline().decode().strip().split(",")
        want = ["ts"] + [c[0] for c in channels]
        if header != want:
            raise ReplayError("replay header %s does not match channels %s" % (header, want))

    def _next(self):
        if self._i >= self._n:
            self._n = self._f.readinto(self._buf)
            self._i = 0
            if not self._n:
                return -1
        b = self._buf[self._i]
        self._i += 1
        return b

    def _number(self, dec):
        """Parse one cell: its value, or None when empty; the byte that ended it goes to _end."""
        b = self._next()
        while b == 32:
            b = self._next()
        neg = b == 45
        if neg:
            b = self._next()
        n = 0
        digits = 0
        frac = -1
        while True:
            if 48 <= b <= 57:
                n = n * 10 + b - 48
                digits += 1
                if frac >= 0:
                    frac += 1
            elif b == 46 and frac < 0:
                frac = 0
            elif b == 13 or b == 32:
                pass
            else:
                break
            b = self._next()
        self._end = b
        if not digits:
            return None
        frac = max(frac, 0)
        if frac > dec:
            raise ReplayError("row %d has more than %d decimals" % (self.row, dec))
        while frac < dec:
            n *= 10
            frac += 1
        return -n if neg else n

    def _time(self):
        """Parse the time cell into day and sec; False when it is empty."""
        b = self._next()
        while b == 32:
            b = self._next()
        day = sec = 0
        digits = 0
        while 48 <= b <= 57:  # n * 10 + d, carried into whole days as it grows
            s = sec * 10 + b - 48
            day = day * 10 + s // DAY
            sec = s % DAY
            digits += 1
            b = self._next()
        while b == 13 or b == 32:
            b = self._next()
        self._end = b
        if digits:
            self.day = day
            self.sec = sec
        return digits > 0

    def read(self, values):
        timed = self._time()
        if self._end == -1 and not timed:
            self._f.close()
            return END
        self.row += 1
        if not timed:
            raise ReplayError("row %d has no timestamp" % self.row)
        status = OK
        for i in range(len(values)):
            if self._end != 44:
                raise ReplayError("row %d has too few cells" % self.row)
            n = self._number(self._dec[i])
            if n is None:
                status |= 1 << i
            else:
                values[i] = n
        if self._end != 10 and self._end != -1:
            raise ReplayError("row %d has too many cells" % self.row)
        return status
