"""SHT3x temperature and humidity over I2C: single-shot, high repeatability, no clock
stretching (command 0x2400, at most 15.5 ms), then 2 words with CRC."""

import time

from . import hw
from .sensirion import centi_celsius, centi_percent, word

CHANNELS = ("temp", "hum")  # 0.01 °C, 0.01 %RH
_MEASURE = b"\x24\x00"


class Driver:
    def __init__(self, channels, options):
        self._bus = hw.bus(options)
        self._addr = options.get("addr", 0x44)
        self._buf = bytearray(6)

    def read(self, values):
        """Bus errors raise OSError (the composite driver masks the channels); a bad CRC sets
        the channel's bit."""
        self._bus.writeto(self._addr, _MEASURE)
        time.sleep_ms(16)
        self._bus.readfrom_into(self._addr, self._buf)
        mask = 0
        t = word(self._buf, 0)
        h = word(self._buf, 1)
        if t < 0:
            mask |= 1
        else:
            values[0] = centi_celsius(t, 65535)
        if h < 0:
            mask |= 2
        else:
            values[1] = centi_percent(h, 65535)
        return mask
