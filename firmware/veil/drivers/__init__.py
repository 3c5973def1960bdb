"""Sensor drivers: one small interface for real sensors, the replay driver and tests.

A driver is built as `Driver(channels, options)` and offers:
- `read(values)`: writes one integer n per channel into the list `values` (value x 10**dec,
  see docs/protocol.md) and returns a mask of the channels that failed to read (bit i for
  channel i; OK = 0 when all read), or END when recorded data is exhausted (real sensors never
  end). A failed channel's entry in `values` is left as it was.
- `day`, `sec`: the time of the last `read()`, as whole days since 1970-01-01 UTC and the
  second of that day (veil.clock: Unix time itself is too big an integer for an ESP32's tick).
Drivers allocate their buffers in the constructor so that `read()` creates no garbage.
"""

from micropython import const

OK = const(0)
END = const(-1)
