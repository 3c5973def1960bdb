"""app.main() in a provisioned board folder whose sensor fails with an unforeseen error at its
sixth read: `crash_reset.py [bare]`. Without `bare`, machine.reset is a stand-in (as on a
board) that prints how long after the error it was called and exits 0xB0; with `bare`,
machine is the Unix port's, which has no reset."""

import sys
import time

from veil import app
from veil.drivers import replay

CRASH_AT = 6
app.RESET_AFTER_MS = 300


class SensorBusFault(Exception):
    pass


reads = 0
raised_at = 0
_read = replay.Driver.read


def failing_read(self, values):
    global reads, raised_at
    reads += 1
    if reads == CRASH_AT:
        raised_at = time.ticks_ms()
        raise SensorBusFault("bus fell over")
    return _read(self, values)


class Machine:
    def reset(self):
        print("reset called after", time.ticks_diff(time.ticks_ms(), raised_at), "ms")
        raise SystemExit(0xB0)


replay.Driver.read = failing_read
if "bare" not in sys.argv:
    sys.modules["machine"] = Machine()
app.main()
