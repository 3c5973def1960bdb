"""SCD4x CO2, temperature and humidity over I2C in periodic mode (a new measurement every 5 s).

Started on first use (stop, 500 ms, start: also right after a soft reset that left it
running). A tick between two measurements republishes the last one; before the first, the
channels are masked as failed.
"""

import time

from . import hw
from .sensirion import centi_celsius, centi_percent, word

CHANNELS = ("co2", "temp", "hum")  # ppm, 0.01 °C, 0.01 %RH
_STOP = b"\x3f\x86"
_START = b"\x21\xb1"
_READY = b"\xe4\xb8"
_READ = b"\xec\x05"


class Driver:
    def __init__(self, channels, options):
        self._bus = hw.bus(options)
        self._addr = options.get("addr", 0x62)
        self._buf = bytearray(9)
        self._ready = memoryview(self._buf)[:3]
        self._last = [0, 0, 0]
        self._have = 0  # mask of channels with no reading yet
        self._started = False

    def _start(self):
        self._bus.writeto(self._addr, _STOP)
        time.sleep_ms(500)
        self._bus.writeto(self._addr, _START)
        self._started = True
        self._have = 7

    def read(self, values):
        if not self._started:
            self._start()
        bus, addr, last = self._bus, self._addr, self._last
        bus.writeto(addr, _READY)
        time.sleep_ms(1)
        bus.readfrom_into(addr, self._ready)
        ready = word(self._buf, 0)
        if ready > 0 and ready & 0x07FF:
            bus.writeto(addr, _READ)
            time.sleep_ms(1)
            bus.readfrom_into(addr, self._buf)
            for i in range(3):
                w = word(self._buf, i)
                if w < 0:
                    self._have |= 1 << i
                    continue
                self._have &= ~(1 << i)
                if i == 0:
                    last[0] = w
                elif i == 1:
                    last[1] = centi_celsius(w, 65536)
                else:
                    last[2] = centi_percent(w, 65536)
        for i in range(3):
            if not self._have & (1 << i):
                values[i] = last[i]
        return self._have
