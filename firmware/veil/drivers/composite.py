"""Several sensors behind one driver: each sensor's quantities go to the device channels its
`map` names (-1: read but not published), and a failing sensor masks only its own channels.

Options: {"i2c": {"id", "sda", "scl", "freq"}, "sensors": [{"type", "map", ...}, ...]}, as
`veil provision` writes them from the board file. A sensor that raises OSError (not wired,
unplugged, bus stuck) reads as failed on that tick and is tried again on the next.
"""

from ..clock import Wall
from . import hw


def _load(name):
    pkg = __import__("veil.drivers." + name)
    return getattr(pkg.drivers, name)


class Driver:
    def __init__(self, channels, options):
        bus = options.get("bus")
        if bus is None and "i2c" in options:
            bus = hw.i2c(options["i2c"])
        self._parts = []
        for s in options["sensors"]:
            opts = dict(s)
            opts["bus"] = bus
            m = s["map"]
            sub = [channels[i] if i >= 0 else None for i in m]
            bits = 0
            for i in m:
                if i >= 0:
                    bits |= 1 << i
            drv = _load(s["type"]).Driver(sub, opts)
            self._parts.append((drv, m, [0] * len(m), bits))
        self._wall = Wall()
        self.day = self.sec = 0

    def read(self, values):
        mask = 0
        for drv, m, scratch, bits in self._parts:
            try:
                failed = drv.read(scratch)
            except OSError:
                mask |= bits
                continue
            for j in range(len(m)):
                i = m[j]
                if i < 0:
                    continue
                if failed & (1 << j):
                    mask |= 1 << i
                else:
                    values[i] = scratch[j]
        w = self._wall
        w.now()
        self.day = w.day
        self.sec = w.sec
        return mask
